"""Rows of a CSV table read a block at a time (``RunReader._rows``) give what ``feed``
gives on each: the same records, in the same order, and the same counts. A CSV metrics
file (Lightning's and Keras's loggers, hand-written ones) prints a header, then a row per
step; some rows leave cells empty (a training row has no validation loss), some print a
value the plain-number screen leaves to ``feed`` (``nan``, ``1_0``, a quoted cell), and
other lines fall between the rows (warnings, a blank line, a new header)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gradlog.columns import RecordRun
from gradlog.parse.reader import LogReader
from tests.test_layouts import assert_read_as_line_by_line
from tests.test_stretches import _fed

# Column names as CSV loggers print them: axes, losses (some the same metric twice, as
# Lightning logs a value per step and per epoch), and other metrics.
_COLUMNS = (
    "step",
    "epoch",
    "global_step",
    "#",
    "loss",
    "train_loss_step",
    "train_loss_epoch",
    "val_loss",
    "valid_loss",
    "loss_cls",
    "box_loss",
    "acc",
    "lr",
    "grad_norm",
    "time_ms",
)
# Cells read by float() as the pattern reads them, and cells left to ``feed``.
_PLAIN = ("{v:.4f}", "{v:.6e}", "{v:.1f}", "{v}", "+{v:.3f}", "{i}", "{i}.", ".5", "-{v:.2f}")
_ODD = ("nan", "NaN", "inf", "-inf", "1_0", " {v:.3f}", '"{v:.3f}"', "{v:.3f} ", "1e999", "-", ".")
_BETWEEN = (
    "",
    "Epoch 3: saving checkpoint",
    "/usr/lib/python3/warnings.py:12: UserWarning: something",
    "step 7 loss 0.5",
    "INFO: {i} rows written",
)


def _cell(rng: random.Random, step: int) -> str:
    v = rng.uniform(-3, 3) if rng.random() < 0.2 else rng.random() * 3
    spelling = rng.choice(_ODD) if rng.random() < 0.01 else rng.choice(_PLAIN)
    return spelling.format(v=v, i=step)


def _csv_log(rng: random.Random) -> list[str]:
    """A header of 2-8 columns (an axis and a loss among them), then a few thousand rows
    in runs: every cell printed, the same cells left empty run after run (training and
    validation rows in turn), or cells left empty at random; steps that repeat now and
    then; and now and then a line that is no row, a row of too few or too many cells, a
    CRLF end, a new header."""
    lines: list[str] = []
    step = rng.randrange(0, 1000)
    for _ in range(rng.randrange(1, 4)):
        width = rng.randrange(2, 9)
        columns = rng.sample(_COLUMNS, width)
        if not any(c in columns for c in ("step", "epoch", "global_step")):
            columns[0] = rng.choice(("step", "epoch", "global_step"))
        if not any("loss" in c for c in columns):
            columns[-1] = "loss"
        if rng.random() < 0.05:
            columns[-1] = columns[0]  # a name printed twice
        if rng.random() < 0.3:
            lines.append(rng.choice(_BETWEEN).format(i=step))
        lines.append(",".join(columns))
        end = "\r" if rng.random() < 0.2 else ""
        for _ in range(rng.randrange(5, 60)):
            kind = rng.choice(("full", "pattern", "random", "axes", "no axis"))
            empty = {i for i in range(width) if rng.random() < 0.4}
            axes = [c in ("step", "global_step", "#", "epoch") for c in columns]
            if kind in ("axes", "no axis"):  # rows of only steps, or of no step
                kind, empty = "pattern", {i for i, a in enumerate(axes) if a != (kind == "axes")}
            for _ in range(rng.choice((1, 3, 15, 16, 17, 40, 120))):
                step += 0 if rng.random() < 0.03 else 1
                cells = []
                for i, name in enumerate(columns):
                    blank = (kind == "pattern" and i in empty) or (
                        kind == "random" and rng.random() < 0.3
                    )
                    if name in ("step", "global_step", "#"):
                        cells.append("" if blank and kind != "random" else str(step))
                    elif name == "epoch":
                        cells.append("" if blank else str(step // 50))
                    else:
                        cells.append("" if blank else _cell(rng, step))
                if rng.random() < 0.01:
                    cells = cells[:-1] if rng.random() < 0.5 else [*cells, "1.0"]
                lines.append(",".join(cells) + end)
                if rng.random() < 0.01:
                    lines.append(rng.choice(_BETWEEN).format(i=step))
    return lines


@pytest.mark.parametrize("seed", range(8))
def test_csv_rows_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "metrics.csv", _csv_log(random.Random(seed)), (7, 97, 4096)
    )


def test_rows_of_plain_numbers_are_read_in_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the header, no row goes through ``feed``; training rows (their validation
    cells empty) become columns, and each validation row joins its step's record."""
    lines = ["epoch,step,train_loss,val_loss"]
    for step in range(1, 2001):
        lines.append(f"{step // 100},{step},{1 / step:.6f},")
        if step % 100 == 0:
            lines.append(f"{step // 100},{step},,{2 / step:.6f}")
    fed = _fed(monkeypatch)
    reader = LogReader()
    parts = reader.read_lines(1, lines)
    parts.append(reader.flush())
    assert fed[0] == 1  # the header
    runs = [part for part in parts if isinstance(part, RecordRun)]
    assert sum(len(run) for run in runs) > 1900
    records = [record for part in parts for record in part]
    assert [record.step for record in records] == list(range(1, 2001))
    assert records[99].metrics == {"loss": 0.01, "val_loss": 0.02}
    assert records[100].metrics == {"loss": round(1 / 101, 6)}
