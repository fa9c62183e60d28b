"""A log that starts a run again (runs appended to one file, the trials of a search, a
job restarted from scratch) is read as several runs, each judged on its own: the loss
going back up where a run begins is no spike or climb of the run before. A step that
goes back while the loss stays where it was is not a restart (a counter that starts
again each epoch, a resume from a checkpoint), nor is one in a run that learned nothing
yet."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import pytest

from gradlog.engine import Engine, analyze
from gradlog.report import Report
from tests.helpers import run_gradlog


def _loss(step: int, rng: random.Random, scale: float = 150) -> float:
    return 2.3 * math.exp(-step / scale) + 0.25 + rng.uniform(-0.02, 0.02)


def _step_line(step: int, loss: float) -> str:
    return f"step {step} | loss {loss:.4f} | grad_norm 1.0"


def _epoch_line(step: int, loss: float) -> str:
    return f"Epoch {step}/40 - loss: {loss:.4f} - val_loss: {loss * 1.1:.4f}"


def _runs(line: Callable[[int, float], str], lengths: tuple[int, ...], scale: float) -> list[str]:
    rng = random.Random(3)
    log = []
    for run, length in enumerate(lengths):
        log.append(f"Trial {run} begins")
        log += [line(step, _loss(step, rng, scale)) for step in range(1, length + 1)]
    return log


def _found(report: Report) -> set[str]:
    return {d.id for d in report.diagnoses if d.severity.name in ("WARNING", "ERROR")}


@pytest.mark.parametrize(
    ("line", "lengths", "scale"),
    [
        (_step_line, (300, 300), 60),  # a second run appended to the same file
        (_step_line, (2000, 1500, 900), 300),  # long runs: read in blocks of columns
        (_epoch_line, (20, 20, 20), 4),  # the trials of a search, by epoch
    ],
)
def test_runs_in_one_log_are_judged_each_on_its_own(
    line: Callable[[int, float], str], lengths: tuple[int, ...], scale: float
) -> None:
    log = _runs(line, lengths, scale)
    report = analyze(log, "runs.log")
    assert not _found(report)  # before: a loss spike where each run began
    starts = [i for i, text in enumerate(log, 1) if text.startswith("Trial")][1:]
    assert list(report.input.restarts) == [start + 1 for start in starts]


def test_a_problem_of_a_later_run_is_found_where_it_is() -> None:
    log = _runs(_step_line, (500, 500), 100)
    log[-100:] = [text.replace(text.split()[4], "nan") for text in log[-100:]]
    report = analyze(log, "runs.log")
    (nan,) = [d for d in report.diagnoses if d.id == "nan"]
    assert nan.line == len(log) - 99 and _found(report) == {"nan"}


def test_one_line_at_a_time_finds_the_same_runs() -> None:
    # Live: a record at a time, through the same tracker as a block's columns.
    log = _runs(_step_line, (700, 600), 120)
    whole = analyze(log, "runs.log")
    engine = Engine("runs.log")
    for text in log:
        engine.feed(text)
    fed = engine.finish()
    assert fed.input.restarts == whole.input.restarts and len(fed.input.restarts) == 1
    assert [d.key for d in fed.diagnoses] == [d.key for d in whole.diagnoses]


def test_models_trained_one_after_another_are_runs_each() -> None:
    # Rasa trains its components in turn, each with a bar named for its epochs: the next
    # model's loss begins at its own level (under the first's start, but far above where
    # the first ended). Its jump was a spike, and its counter went on from the first's.
    states = []
    for epochs, start in ((300, 12.0), (100, 4.4), (100, 4.1)):
        bar = [
            f"Epochs: {e * 100 // epochs:3d}%|#   | {e}/{epochs} [00:01<00:10,  2.1it/s, "
            f"t_loss={start * (0.02 + math.exp(-e / epochs * 4)):.3f}, acc={e / epochs:.3f}]"
            for e in range(1, epochs + 1)
        ]
        states += ["Starting to train component", "\r".join(bar)]
    report = analyze(states, "rasa.log")
    assert not _found(report)
    assert list(report.input.restarts) == [4, 6]


@pytest.mark.parametrize(("batches", "epochs", "scale"), [(100, 12, 300), (5, 20, 30)])
def test_a_counter_that_starts_again_each_epoch_is_no_restart(
    batches: int, epochs: int, scale: float
) -> None:
    # ``batch 1..N`` each epoch, no epoch printed: the loss goes on where it was. (Five
    # batches an epoch too: a run of a few records may be followed by another.)
    rng = random.Random(batches)
    log = [
        _step_line(batch, _loss(epoch * batches + batch, rng, scale))
        for epoch in range(epochs)
        for batch in range(1, batches + 1)
    ]
    assert analyze(log, "epochs.log").input.restarts == ()


def test_a_resume_from_a_checkpoint_is_no_restart() -> None:
    rng = random.Random(2)
    log = [_step_line(s, _loss(s, rng, 100)) for s in range(1, 501)]
    log += [_step_line(s, _loss(s, rng, 100)) for s in range(401, 801)]  # from step 400
    assert analyze(log, "resumed.log").input.restarts == ()


def test_a_run_that_learned_nothing_shows_no_restart() -> None:
    rng = random.Random(4)
    log = [_step_line(s, 2.3 + rng.uniform(-0.02, 0.02)) for s in range(1, 201)] * 2
    assert analyze(log, "flat.log").input.restarts == ()


def test_the_report_says_how_many_runs() -> None:
    text = "\n".join(_runs(_step_line, (300, 300, 300), 60)) + "\n"
    terminal = run_gradlog("diagnose", "-", stdin=text)
    assert "3 runs, judged each on its own (the steps start again at lines 303, 604)" in (
        " ".join(terminal.stdout.split())
    )
    document = json.loads(run_gradlog("diagnose", "--format", "json", "-", stdin=text).stdout)
    assert document["reports"][0]["input"]["restarts"] == [303, 604]


def test_a_resume_whose_loss_jumps_is_still_the_same_run() -> None:
    # Resumed at step 400 with its optimizer state lost, the loss jumps back up: a
    # problem of that run, at that step, not a new run (those begin where it began).
    rng = random.Random(5)
    log = [_step_line(s, _loss(s, rng, 100)) for s in range(1, 501)]
    log += [_step_line(s, 2.0 + _loss(s, rng, 100)) for s in range(400, 801)]
    assert analyze(log, "resumed.log").input.restarts == ()


def test_runs_of_a_log_that_prints_no_step_start_again_by_their_epochs() -> None:
    # HF Trainer's dicts print no step, only a fractional epoch: where it goes back to
    # the start with the loss, a run begins (gradlog numbers the steps in order).
    rng = random.Random(6)
    log = []
    for _ in range(2):
        for i in range(1, 1201):
            loss = round(_loss(i, rng, 200), 4)
            log.append(str({"loss": loss, "grad_norm": 1.0, "epoch": round(i / 400, 2)}))
    report = analyze(log, "hf.log")
    assert list(report.input.restarts) == [1201] and not _found(report)


@pytest.mark.parametrize("empty", ["inf", "nan", "NaN"])
@pytest.mark.parametrize("epochs", [40, 1500])  # line by line, and in blocks of columns
def test_a_run_that_opens_with_an_average_over_no_batch_begins_there(
    empty: str, epochs: int
) -> None:
    # Each run of a sweep first prints its averages before any training (`samples
    # trained 0`): the training loss is `inf` or `nan`, an average over nothing. That
    # record goes back to the start as the next run begins: it is the new run's first,
    # not a NaN of the run before, and the jump after it is no spike.
    rng = random.Random(7)
    log = []
    for _ in range(3):
        log.append(f"end of epoch -1, samples trained 0, average training loss {empty}")
        log += [
            f"end of epoch {e}, samples trained {e * 100}, average training loss "
            f"{_loss(e, rng, epochs / 6):.4f}"
            for e in range(epochs)
        ]
    starts = [i for i, text in enumerate(log, 1) if "epoch -1," in text][1:]
    whole = analyze(log, "sweep.log")
    engine = Engine("sweep.log")
    for text in log:
        engine.feed(text)
    for report in (whole, engine.finish()):
        assert list(report.input.restarts) == starts
        assert not _found(report)


@pytest.mark.parametrize("epochs", [12, 40])
def test_a_nan_run_whose_counter_starts_again_each_epoch_goes_on(epochs: int) -> None:
    # After the loss went NaN, the batch counter's next epoch begins with NaN too: the
    # same run going on, not a new run (that begins after a finite loss).
    rng = random.Random(8)
    log = []
    for epoch in range(epochs):
        for batch in range(1, 101):
            loss = _loss(epoch * 100 + batch, rng, 300)
            log.append(_step_line(batch, math.nan if epoch * 100 + batch > 350 else loss))
    whole = analyze(log, "nan.log")
    engine = Engine("nan.log")
    for text in log:
        engine.feed(text)
    for report in (whole, engine.finish()):
        assert report.input.restarts == ()
        assert [(d.id, d.line) for d in report.diagnoses if d.id == "nan"] == [("nan", 351)]


def test_short_fits_one_after_another_are_runs_each() -> None:
    # caret fits nnet once per fold and setting, each for 5-10 printed iterations from
    # its own initial value: a run of a few records is a run too, its levels the
    # medians of its halves. (The jumps back up had been spikes and divergences.)
    rng = random.Random(5)
    log = []
    for fit in range(12):
        log.append(f"+ Fold{fit % 3 + 1}: size={1 + 2 * (fit % 3)}, decay=0e+00")
        start, iters = 200 + 100 * rng.random(), 5 + fit % 6
        log += [
            f"iter {10 * i:3d} value {start * math.exp(-i / 1.5) + 0.1:.6f}"
            for i in range(1, iters + 1)
        ]
        log.append(f"final  value {start * math.exp(-iters / 1.5):.6f}")
    engine = Engine("caret.log")
    for text in log:
        engine.feed(text)
    for report in (analyze(log, "caret.log"), engine.finish()):
        assert len(report.input.restarts) == 11
        assert not _found(report)
