"""Learned layouts change nothing: a line whose layout (the line with its digits made 0)
was read before skips cleaning and the other screens and goes straight to its fields.
The long way, every line through every step, is the oracle: on every corpus log, sample
and format fixture, both ways give the same records, in the same order, and the same
counts of what was read and what was not."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradlog.columns import RecordRun
from gradlog.parse.reader import LogReader
from gradlog.sources import read_file
from tests.helpers import every_log


def _logs() -> list[Any]:
    return [pytest.param(path, id=path.name) for path in every_log()]


def _read(path: Path, layouts: bool, block: int = 0) -> tuple[list[Any], dict[str, Any]]:
    """The records and counts of a log read line by line, or ``block`` lines at a time
    by ``feed_lines`` (the compiled shapes)."""
    reader = LogReader()
    reader.layouts = layouts
    records = []
    lines = list(read_file(str(path)))
    if block:
        for start in range(0, len(lines), block):
            records += reader.feed_lines(start + 1, lines[start : start + block])
    else:
        for number, line in enumerate(lines, 1):
            records += reader.feed(number, line)
    records += reader.flush()
    seen = [(r.step, r.line, r.epoch, r.bits, list(r.metrics.items())) for r in records]
    counts = {
        "parsed": reader.parsed,
        "kinds": dict(reader.kinds),
        "unparsed": reader.unparsed,
        "unread": (reader.unread_numeric, reader.unread_examples),
        "dialects": reader.dialects,
        "limits": reader.limits,
        "shapes": [(s.shape, s.count, s.names, s.dialect) for s in reader.shapes],
        "batches": (reader._parser.batches, reader._parser.first_batch),
    }
    return [repr(item) for item in seen], counts


@pytest.mark.parametrize("path", _logs())
def test_learned_layouts_read_as_the_long_way(path: Path) -> None:
    assert _read(path, layouts=True) == _read(path, layouts=False)


@pytest.mark.parametrize("path", _logs())
def test_compiled_shapes_read_as_line_by_line(path: Path) -> None:
    assert _read(path, layouts=True, block=97) == _read(path, layouts=True)


def test_a_learned_layout_is_used() -> None:
    reader = LogReader()
    lines = [f"2024-05-01 10:00:{i:02d} INFO step {i} | loss {2.0 - i / 100:.2f}" for i in range(9)]
    records = [r for number, line in enumerate(lines, 1) for r in reader.feed(number, line)]
    assert len(reader._spans) == 1 and len(records) == 8
    assert records[-1].step == 7 and records[-1].metrics["loss"] == pytest.approx(1.93)


def test_every_kind_of_line_reads_the_same_both_ways(tmp_path: Path) -> None:
    # Prefixes, comments, ranks, escape sequences, redraws, tables and summary blocks,
    # each repeated with other digits so that learned layouts are used.
    kinds = [
        "[rank{r}]: step {i} | loss {v}",
        "2024-05-01 10:00:{s} - root - INFO - step {i} loss {v}",
        "step {i} loss {v}   <- look here",
        "\x1b[32mstep {i}\x1b[0m loss {v}",
        "Epoch {i}: 50%|#####     | {s}/100 [00:01<00:01, 9.{s}it/s, loss={v}]\r",
        "| step | {i} |",
        "***** eval metrics *****",
        "  eval_loss = {v}",
        "epoch  loss",
        "{i}  {v}",
        "step {i} | loss {v} | lr 3.0e-0{r}",
    ]
    log = tmp_path / "kinds.log"
    lines = [
        kind.format(i=i, r=i % 3, s=10 + i, v=f"{2 - i / 50:.3f}")
        for i in range(1, 13)
        for kind in kinds
    ]
    log.write_text("\n".join(lines) + "\n")
    assert _read(log, layouts=True) == _read(log, layouts=False)
    assert _read(log, layouts=True, block=5) == _read(log, layouts=False)
    # Written on Windows: every line ends in "\r\n", which is a line end, not a redraw.
    log.write_bytes(log.read_bytes().replace(b"\n", b"\r\n"))
    assert _read(log, layouts=True, block=5) == _read(log, layouts=False)


@pytest.mark.parametrize(
    "line",
    [
        "step {i} | loss {v} | lr 3e-4\r\n",  # written on Windows
        "\x1b[32m2024-05-01 10:00:{s}\x1b[0m | \x1b[1mINFO\x1b[0m | step {i} | loss {v}\n",
    ],
)
def test_windows_line_ends_and_coloured_prefixes_are_learned(tmp_path: Path, line: str) -> None:
    lines = [line.format(i=i, s=10 + i % 50, v=f"{2.0 - i / 1000:.4f}") for i in range(100, 400)]
    parts = LogReader().read_lines(1, lines)
    assert sum(len(part) for part in parts if isinstance(part, RecordRun)) > 250
    log = tmp_path / "lines.log"
    log.write_text("".join(lines), newline="")
    assert _read(log, layouts=True, block=64) == _read(log, layouts=False)


def test_a_compiled_shape_is_used() -> None:
    reader = LogReader()
    lines = [f"step {i} | loss {2.0 - i / 100:.2f} | lr 3e-4" for i in range(1, 30)]
    records = reader.feed_lines(1, lines)
    shapes = [entry for entry in reader._compiled.values() if entry is not None]
    assert len(shapes) == 2  # one digit, then two digits before the loss
    assert shapes[0][2].stats is not None and shapes[0][2].stats.count > 1
    assert [r.step for r in records] == list(range(1, 29))


def _runs_log(rng: random.Random) -> list[str]:
    """Long runs of whole-record lines, some broken once, in the ways that make line by
    line differ from columns: a repeated step, a repeated dict (one record), NaN both
    times, a changed epoch with the same values, a number only to_float reads, an event
    or an eval line joining the record before, a change of shape."""
    lines: list[str] = []
    step = 0
    for _ in range(60):
        kind = rng.choice(("step", "dict", "epoch", "bar"))
        if kind == "bar":  # Keras 2 piped: a header opens a block its bar lines refresh
            lines.append(f"Epoch {step // 50 + 1}/9")
        length = rng.choice((3, 15, 16, 17, 40, 120))
        broken = rng.randrange(length) if rng.random() < 0.6 else -1
        trouble = rng.choice(("repeat", "nan", "comma", "event", "eval", "epoch"))
        for i in range(length):
            bad = i == broken
            step += 0 if bad and trouble == "repeat" else 1
            loss = f"{rng.random():.4f}"
            if bad and trouble in ("nan", "comma"):
                loss = "nan" if trouble == "nan" else "1,000.5"
            if kind == "step":
                lines.append(f"step {step} | loss {loss} | lr 3.0e-04")
            elif kind == "dict":
                grad = "nan" if bad and trouble == "nan" else f"{rng.random():.3f}"
                if bad and trouble in ("repeat", "nan", "epoch"):
                    lines.append(lines[-1])  # the same values: one record, or not
                    if trouble == "epoch":
                        lines[-1] = lines[-1].replace("'epoch': ", "'epoch': 9")
                    continue
                lines.append(f"{{'loss': {loss}, 'grad_norm': {grad}, 'epoch': {step // 7 / 10}}}")
            elif kind == "bar":
                done = "=" * (i % 30) + ">" + "." * (29 - i % 30)
                lines.append(f"{i:3d}/200 [{done}] - ETA: 3s - loss: {loss} - accuracy: 0.5")
            else:
                lines.append(f"epoch {step // 5} iter {step} loss={loss} acc={rng.random():.2f}")
            if bad and trouble == "event":
                lines.append(
                    "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 1024"
                )
            elif bad and trouble == "eval":
                lines.append("{'eval_loss': 0.7, 'epoch': 1.0}")
    return lines


def assert_read_as_line_by_line(log: Path, lines: list[str], blocks: tuple[int, ...]) -> None:
    """``lines``, written to ``log``, read in blocks of each size as line by line."""
    log.write_text("\n".join(lines) + "\n")
    expected = _read(log, layouts=False)
    for block in blocks:
        assert _read(log, layouts=True, block=block) == expected


@pytest.mark.parametrize("seed", range(6))
def test_runs_in_columns_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "runs.log", _runs_log(random.Random(seed)), (7, 97, 4096)
    )


def test_long_runs_become_columns() -> None:
    reader = LogReader()
    lines = [f"step {i} | loss {2.0 - i / 1000:.4f} | lr 3e-4" for i in range(100, 400)]
    lines += [f"{{'loss': {i / 1000}, 'grad_norm': 0.5, 'epoch': 0.1}}" for i in range(200)]
    parts = reader.read_lines(1, lines)
    runs = [part for part in parts if isinstance(part, RecordRun)]
    assert sum(len(run) for run in runs) > 400
    assert {type(run.steps) for run in runs} == {np.ndarray}
    steps = [record.step for part in parts for record in part]
    assert steps == list(range(100, 599))  # dicts numbered on; the last record still open


# Progress bars redrawn with "\r", one state per batch, as frameworks print them piped:
# Lightning's postfix, timm's and mmengine's ``[epoch][i/N]`` counters, a generic
# ``epoch e [i/N]`` and a plain tqdm bar over steps. Each physical line holds an epoch's
# states (the last with its validation values), with colour codes, backspaces and blank
# states in some, and line ends of both kinds.
_REDRAWN = (
    "Epoch {e}: {p:3d}%|{bar}| {i}/{n} [00:{c:02d}<00:{d:02d}, {r}it/s, loss={v}, v_num=0]",
    "Train: {e} [{i:>4d}/{n} ({p:3d}%)]  Loss: {v} ({w})  Time: 0.{c}s",
    "Epoch(train) [{e1}][{i:>4d}/{n}]  lr: 1.0e-04  loss: {v}  grad_norm: {w}",
    "epoch {e} [{i}/{n}] loss {v}",
    "{p:3d}%|{bar}| {i}/{n} [00:{c:02d}<00:{d:02d}, {r}it/s, loss={v}]",
)


def _redrawn_log(seed: int, style: str) -> str:
    rng = random.Random(seed)
    text = []
    blocks = " ▏▎▍▌▋▊▉█"
    for epoch in range(3):
        total = rng.choice((7, 80, 150))
        states = []
        for i in range(1, total + 1):
            fill = i * 80 // total
            state = style.format(
                e=epoch,
                e1=epoch + 1,
                i=i,
                n=total,
                p=i * 100 // total,
                bar=("█" * (fill // 8) + blocks[fill % 8].strip()).ljust(10),
                c=i % 60,
                d=(total - i) % 60,
                r=f"{rng.uniform(5, 40):.2f}",
                v=rng.choice((f"{rng.uniform(0.1, 3):.3f}", "nan", f"{rng.uniform(0, 9):.1e}")),
                w=f"{rng.uniform(0.1, 3):.4f}",
            )
            if rng.random() < 0.02:
                state = f"\x1b[2K{state}"  # a colour or erase code
            if rng.random() < 0.02:
                state = state + "x\b"  # a backspace undoes a character
            states.append(state)
            if rng.random() < 0.03:
                states.append("   ")  # a blank redraw
        states[-1] += ", val_loss=0.51]" if "]" in style[-1] else " val_loss 0.51"
        text.append("\r" + "\r".join(states) + rng.choice(("\n", "\r\n", "\r\n")))
    return "".join(text)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("style", _REDRAWN, ids=["lightning", "timm", "mmengine", "i-of-n", "tqdm"])
def test_redrawn_states_read_as_the_long_way(tmp_path: Path, style: str, seed: int) -> None:
    log = tmp_path / "redrawn.log"
    log.write_text(_redrawn_log(seed, style), encoding="utf-8", newline="")
    long_way = _read(log, layouts=False)
    assert _read(log, layouts=True) == long_way
    for block in (1, 2, 5):
        assert _read(log, layouts=True, block=block) == long_way


def test_redrawn_states_are_read_by_compiled_shapes() -> None:
    """Lightning's states, each a step counted within its epoch, are learned as one
    layout and read in columns; the steps are global and the batches counted."""
    line = "\r".join(
        f"Epoch {e}: {i // 10:3d}%|{'█' * (i // 100)}| {i}/1000 [00:0{i % 10}<00:10, 37.3it/s, "
        f"loss={2 - i / 1000:.3f}, v_num=0]"
        for e in range(2)
        for i in range(1, 1001)
    )
    reader = LogReader()
    parts = reader.read_lines(1, ["Epoch 0: starting", line])
    assert any(isinstance(part, RecordRun) for part in parts)
    records = [record for part in parts for record in part] + reader.flush()
    assert [r.step for r in records] == [float(i) for i in range(1, 2001)]
    assert {r.line for r in records} == {2}
    assert records[1500].epoch == 1 and records[1500].metrics["loss"] == pytest.approx(1.499)
    assert reader.batches == (1000, 0, 1)
    assert reader.dialects == ("lightning",)


@given(st.text(alphabet="0123456789%|\r █▏a.5٣", max_size=60))
@settings(max_examples=3000, deadline=None)
def test_bars_are_cut_as_the_pattern_says(text: str) -> None:
    """The fast bar cut is the pattern's substitution, on any text."""
    from gradlog.parse.clean import TQDM_BAR, _unbarred, _unbarred_slowly

    assert _unbarred(text) == _unbarred_slowly(text) == TQDM_BAR.sub("| ", text)
