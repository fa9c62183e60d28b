"""`loss_spike` reads blocks as it reads records, on runs where it fires.

The generated runs of test_blocks.py rarely make the rule fire, and its block sizes
leave the screen few boundaries near a spike. These runs repeat each kind of spike and
each near miss many times, at offsets that put block boundaries before, inside and
after them, and are also read with the screen forced onto the smallest blocks.
"""

from __future__ import annotations

import math
import random

import pytest

import gradlog.detectors.spike as spike
from gradlog.config import Thresholds
from gradlog.detectors.spike import LossSpikeDetector
from gradlog.model import Diagnosis, Record
from tests.helpers import records, run
from tests.test_blocks import _blocks, _oracle, assert_blocks_exact

# What a stretch of the run does after some calm records; each value scales the loss
# (and the grad norm, as the second item) of the records in a row.
EVENTS: dict[str, list[tuple[float, float]]] = {
    "tenfold": [(12.0, 1.0)],  # a warning
    "hundredfold": [(150.0, 1.0)],  # an error
    "held": [(30.0, 1.0), (28.0, 1.0), (25.0, 1.0)],  # one episode over three records
    "sixfold": [(6.0, 1.0)],  # a warning: in a run this quiet, 5x is no noise
    "fourfold": [(4.0, 1.0)],  # near miss: no NaN, no grad jump follows
    "nan_soon": [(4.0, 1.0), (1.0, 1.0), (1.0, 1.0), (math.nan, 1.0)],  # confirmed
    "nan_late": [(4.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (math.nan, 1.0)],
    "inf_soon": [(3.5, 1.0), (math.inf, math.inf)],
    "hidden": [(4.0, 1.0), (0.0, math.nan)],  # HF's 0.0 beside a NaN grad norm
    "grad_twice": [(2.5, 30.0)],  # confirmed by the grad norm, until jumps are its noise
    "grad_alone": [(1.0, 40.0)],  # a quiet grad-norm jump: counted as the run's noise
    "small_rise": [(1.8, 1.0)],  # near miss: checked but not a spike
    "grad_small_rise": [(1.9, 30.0)],  # a quiet jump still (under 2x), if rising little
    "nan_run": [(math.nan, math.nan)] * 6,
    "gap": [(-1.0, 1.0)] * 5,  # records without a loss (an evaluation, say)
    # For a language model that prints no grad norm: a 2-3x jump counts once it held.
    "lm_held": [(2.4, 1.0), (2.2, 1.0)],
    "lm_once": [(2.4, 1.0)],
}
# A loss that fell by orders of magnitude: the jumps above, and ones that dwarf its level.
SETTLED = {"dwarfing": [(25.0, 1.0)], "sevenfold": [(7.0, 1.0)], "wobble": [(3.0, 1.0)]}


def _run(
    rng: random.Random,
    length: int,
    events: list[str],
    grads: bool = True,
    floor: float = 0.3,
    head: tuple[float, ...] = (),
) -> list[Record]:
    """A noisy loss falling to ``floor`` of where it started (after the losses ``head``,
    if given), with the ``events`` written in after calm stretches of random length, so
    that their offsets (and the blocks' boundaries) vary."""
    found = [Record(i + 1, i + 1, {"loss": loss, "grad_norm": 1.0}) for i, loss in enumerate(head)]
    start = 10.9 if not grads else 2.3
    while len(found) < length:
        stretch = [(1.0, 1.0)] * rng.randrange(3, 40) + {**EVENTS, **SETTLED}[rng.choice(events)]
        for loss, grad in stretch:
            index = len(found)
            level = start * (floor + (1 - floor) * math.exp(-index / 300))
            level *= 1 + rng.uniform(-0.02, 0.02)
            metrics = {"lr": 1e-3 * min(1.0, (index + 1) / 50)}
            if loss >= 0 or not math.isfinite(loss):
                metrics["loss"] = level * loss if loss else 0.0
            else:
                metrics["val_loss"] = level
            if grads:
                metrics["grad_norm"] = (0.8 + 0.4 * rng.random()) * grad
            found.append(Record(index + 1, index + 1, metrics))
    return found


def _check(records: list[Record], thresholds: Thresholds, name: str, seeds: int = 4) -> None:
    assert_blocks_exact(LossSpikeDetector, records, name, thresholds, seeds, dense=True)


def _found(records: list[Record], thresholds: Thresholds) -> list[Diagnosis]:
    return [d for _, d in _oracle(LossSpikeDetector(thresholds), records)]


EVERY = [name for name in EVENTS if not name.startswith("lm_")]
QUIET = ["fourfold", "nan_late", "small_rise", "gap"]


@pytest.mark.parametrize("small", [False, True], ids=["default", "screen_on_small_blocks"])
def test_spikes_read_in_blocks(small: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if small:
        monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    for n in range(4):
        rng = random.Random(n)
        records = _run(rng, 1500, EVERY if n else [e for e in EVERY if e != "grad_alone"])
        found = _found(records, thresholds)
        assert found, n  # the rule does fire here, and more than once
        assert len({d.first_step for d in found}) > 5
        assert any("then became NaN" in d.message for d in found)
        _check(records, thresholds, f"every{n}")


def test_jumps_over_a_settled_near_zero_loss_read_in_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # From 2.3 to 2.3e-4: a tenth of the start is 1,000x the level, and only a jump that
    # dwarfs the window (``_dwarfs``) is judged.
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    for n in range(2):
        records = _run(random.Random(n), 1500, list(SETTLED), floor=1e-4)
        found = _found(records, thresholds)
        assert len({d.first_step for d in found}) > 5
        _check(records, thresholds, f"settled{n}")


def test_near_misses_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    records = _run(random.Random(7), 1500, QUIET)
    assert not _found(records, thresholds)  # checked, and nothing to report
    # ... until one real spike in the middle, found again after it.
    middle = len(records) // 2
    step = records[middle]
    spiked = Record(step.step, step.line, {**step.metrics, "loss": step.metrics["loss"] * 50})
    records[middle] = spiked
    assert [d.first_step for d in _found(records, thresholds)] == [spiked.step]
    _check(records, thresholds, "near")


def test_language_model_spikes_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    records = _run(random.Random(3), 1500, ["lm_held", "lm_once", "gap"], grads=False)
    found = _found(records, thresholds)
    assert found
    assert all("jumped 2." in d.message for d in found)  # the held 2-3x jumps
    _check(records, thresholds, "lm")


def test_other_thresholds_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    base = Thresholds()
    for window, horizon in ((1, 0), (3, 1), (5, 6), (13, 3)):
        limits = base.loss_spike._replace(window=window, nan_horizon=horizon, min_history=1)
        thresholds = base._replace(loss_spike=limits)
        records = _run(random.Random(window), 800, EVERY)
        assert _found(records, thresholds)
        _check(records, thresholds, f"window{window}", seeds=2)


def test_quiet_jumps_beside_small_rises_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    # A 2.5x loss beside a 30x grad norm is a spike; far below its start a 1.9x loss is
    # too small a rise to check, but the grad norm beside it is a quiet jump, and after
    # two of those the same 2.5x with 30x, back at the first level, confirms nothing.
    rng = random.Random(5)
    series = [(2.3, 1.0)] * 5 + [(2.0, 1.0)] * 30 + [(5.0, 30.0)] + [(2.0, 1.0)] * 20
    series += [(2.0 * 0.01 ** (i / 50), 1.0) for i in range(1, 51)] + [(0.02, 1.0)] * 30
    series += [(0.038, 30.0)] + [(0.02, 1.0)] * 20 + [(0.038, 30.0)] + [(0.02, 1.0)] * 20
    series += [(0.02 * 100 ** (i / 100), 1.0) for i in range(1, 101)] + [(2.0, 1.0)] * 20
    series += [(5.0, 30.0)] + [(2.0, 1.0)] * 20 + [(30.0, 1.0)] + [(2.0, 1.0)] * 10
    records = [
        Record(i + 1, i + 1, {"loss": loss * (1 + rng.uniform(-0.01, 0.01)), "grad_norm": grad})
        for i, (loss, grad) in enumerate(series)
    ]
    found = _found(records, thresholds)
    assert [d.first_step for d in found] == [36, len(series) - 10]
    _check(records, thresholds, "quiet", seeds=8)
    # The same with the grad norm printed on every third record (and the jumps) around
    # the quiet jumps: its window then holds just the 3 values they need, or fewer.
    sparse = [
        Record(r.step, r.line, {"loss": r.metrics["loss"]})
        if 100 < r.step < 200 and r.step % 3 and r.metrics["grad_norm"] == 1.0
        else r
        for r in records
    ]
    assert [d.first_step for d in _found(sparse, thresholds)] == [36, len(series) - 10]
    _check(sparse, thresholds, "sparse", seeds=8)


def test_starting_level_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    # The run's scale is the median of its first five finite losses (0.01 here, taken
    # across block boundaries, the last of them a fall): from 0.001 a rise of 0.0005 is
    # noise, one of 0.1 is a spike (not against the median of the first four, 1.155).
    rng = random.Random(9)
    losses = [2.3, 2.3, 0.01, math.nan, 0.01, 0.01]
    while len(losses) < 600:
        losses += [0.001 * (1 + rng.uniform(-0.02, 0.02)) for _ in range(rng.randrange(3, 30))]
        losses.append(rng.choice((0.0015, 0.0015, 0.1)))
    records = [Record(i + 1, i + 1, {"loss": loss}) for i, loss in enumerate(losses)]
    found = _found(records, thresholds)
    assert found
    assert all(losses[d.first_step - 1] == 0.1 for d in found)
    _check(records, thresholds, "start")


def test_a_loss_at_or_below_zero_has_no_spike() -> None:
    # Falling negative losses (an ELBO, a policy loss) and a loss printed as 0.0 from the
    # start: no positive level to measure a jump against, so no spike, by either path.
    falling = [-100 - i * 0.5 + (i % 3) * 0.2 for i in range(300)]
    for losses in (falling, [0.0] * 300):
        recs = records(loss=losses)
        assert run("loss_spike", recs) == []
        detector = LossSpikeDetector(Thresholds())
        assert _blocks(detector, recs, random.Random(1)) == []
    # A positive run that drops to exactly 0.0 and jumps back is still a spike.
    recs = records(loss=[1.0] * 20 + [0.0] * 20 + [5.0] + [0.0] * 10)
    assert [d.id for d in run("loss_spike", recs)] == ["loss_spike"]


def test_a_signed_loss_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spikes before the loss first goes below zero are found; after it, none is (a jump
    # has no ratio to a level around zero), in blocks as record by record.
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    records = _run(random.Random(11), 1200, ["tenfold", "hundredfold", "small_rise"])
    turn = len(records) // 2
    for index in range(turn, len(records)):
        step = records[index]
        loss = step.metrics.get("loss")
        if loss is not None and index % 7 == 0:
            records[index] = Record(step.step, step.line, {**step.metrics, "loss": -0.01})
    found = [d.first_step for d in _found(records, thresholds)]
    first_negative = next(r.step for r in records if r.metrics.get("loss", 0.0) < 0)
    assert found and all(step < first_negative for step in found)
    _check(records, thresholds, "signed")


def test_calm_jumps_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Calm stretches (1% noise) with jumps that hold, jumps that fall straight back (the
    # run's count of those), a warm restart of the learning rate and a noisier stretch:
    # the calm rule's state moves alike record by record and in blocks.
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    rng = random.Random(11)
    losses: list[float] = []
    rates: list[float] = []
    for part in range(24):
        level, rate = 0.15 + part / 100, 1e-4 if part % 7 else 1e-3
        losses += [level * (1 + rng.uniform(-0.01, 0.01)) for _ in range(20)]
        rates += [rate] * 20
        kind = part % 4
        if kind == 0:  # held: a spike
            losses += [level * 1.8, level * 2.7, level * 2.3, level * 1.7]
        elif kind == 1:  # one batch
            losses += [level * 2.6, level]
        elif kind == 2:  # a noisier stretch, then 3.5x that holds
            losses += [level * rng.uniform(0.7, 1.5) for _ in range(10)] + [level * 3.5] * 3
        rates += [rates[-1]] * (len(losses) - len(rates))
    found = [
        Record(i + 1, i + 1, {"loss": loss, "lr": lr})
        for i, (loss, lr) in enumerate(zip(losses, rates, strict=True))
    ]
    assert len(_found(found, Thresholds())) >= 3
    _check(found, Thresholds(), "calm", seeds=8)


@pytest.mark.parametrize("grads", [True, False], ids=["grad_norms", "language_model"])
def test_noisy_runs_read_in_blocks(grads: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # A loss with heavy batch noise (x e^(0.3 g)) rises over its level on a third of its
    # records, nearly all of them too little for ``_check`` to act on: those are left to
    # the bulk update while no spike is open. Here spikes are open across them: a jump
    # that stays up for longer than the window (the level rises under it, and a later
    # record, still over twice the level before the jump, is a small rise against the
    # new one; and one that climbs on in small rises, then jumps again), and 2.6x jumps of
    # a language model that wait a record to hold.
    monkeypatch.setattr(spike, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    rng = random.Random(11)
    losses: list[float] = []
    start = 2.3 if grads else 10.9
    while len(losses) < 1500:
        losses += [start * math.exp(0.3 * rng.gauss(0, 1)) for _ in range(rng.randrange(5, 60))]
        kind = rng.choice(("long", "climbing", "lm", "lm_once"))
        if kind == "long":
            losses += [start * 12 * math.exp(0.3 * rng.gauss(0, 1)) for _ in range(14)]
            losses += [start * 3 * math.exp(0.1 * rng.gauss(0, 1)) for _ in range(4)]
        elif kind == "climbing":
            # Up 12x, then small rises over the raised level, the spike still open (each
            # over twice the level before it), and a jump inside it: told once, not twice.
            losses += [start * x for x in (12, 12, 12, 12, 12, 16, 18, 21, 24, 250)]
        else:
            losses += [start * 2.6] * (2 if kind == "lm" else 1)
    records = [
        Record(i + 1, i + 1, {"loss": loss, **({"grad_norm": 1.0} if grads else {})})
        for i, loss in enumerate(losses)
    ]
    assert len({d.first_step for d in _found(records, thresholds)}) > 5
    _check(records, thresholds, f"noisy{grads}")
