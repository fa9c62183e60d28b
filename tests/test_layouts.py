"""Learned layouts change nothing: a line whose layout (the line with its digits made 0)
was read before skips cleaning and the other screens and goes straight to its fields.
The long way, every line through every step, is the oracle: on every corpus log, sample
and format fixture, both ways give the same records, in the same order, and the same
counts of what was read and what was not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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


def test_a_compiled_shape_is_used() -> None:
    reader = LogReader()
    lines = [f"step {i} | loss {2.0 - i / 100:.2f} | lr 3e-4" for i in range(1, 30)]
    records = reader.feed_lines(1, lines)
    shapes = [entry for entry in reader._compiled.values() if entry is not None]
    assert len(shapes) == 2  # one digit, then two digits before the loss
    assert shapes[0][2].stats is not None and shapes[0][2].stats.count > 1
    assert [r.step for r in records] == list(range(1, 29))
