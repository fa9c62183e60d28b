"""A date, or a date and time, printed inside a line (logfmt's ``ts=...``, a dict's
``'time': ...``) is masked like an id: its parts are no metrics, and lines that differ
only in it share a layout, which is learned and read in columns like any other."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gradlog.columns import RecordRun
from gradlog.parse.line import LineParser
from gradlog.parse.reader import LogReader
from tests.test_layouts import assert_read_as_line_by_line
from tests.test_stretches import _matched

_DATES = (
    "{:%Y-%m-%d}",
    "{:%Y-%m-%dT%H:%M}",
    "{:%Y-%m-%dT%H:%M:%S}",
    "{:%Y-%m-%dT%H:%M:%S.%f}Z",
    "{:%Y-%m-%d %H:%M:%S,%f}",
    "{:%Y-%m-%dT%H:%M:%S}+02:00",
    "{:%Y-%m-%dT%H:%M:%S}-0530",
    "{:%Y-%m-%d_%H-%M-%S}",  # a run's stamp (RLlib's ``date: 2024-05-21_10-03-11``)
    "{:%Y-%m-%d_%H:%M}",
)
_LINES = (
    "ts={d} level=info msg=train step={s} loss={v:.4f} grad_norm={g:.4f}",
    "{{'time': '{d}', 'step': {s}, 'loss': {v:.4f}, 'grad_norm': {g:.4f}}}",
    "step {s} | at {d} | loss {v:.4f} | grad_norm {g:.4f}",
)


@pytest.mark.parametrize("date", _DATES)
@pytest.mark.parametrize("line", _LINES)
def test_a_date_in_a_line_is_no_metric(date: str, line: str) -> None:
    when = datetime(2026, 12, 4, 10, 41, 41, 501000)
    fields = LineParser().parse(line.format(d=date.format(when), s=7, v=0.5, g=1.25))
    assert fields is not None and fields.step == 7
    assert fields.metrics == {"loss": 0.5, "grad_norm": 1.25}


def _dated_log(rng: random.Random) -> list[str]:
    """Lines a second or so apart, across hours and days (a new hour, day, month or
    year changes digits the old patterns read literally), in one spelling of the date
    or another, with a line of chatter now and then."""
    lines = []
    when = datetime(2026, 12, 31, 22, 59, 0) - timedelta(seconds=rng.randrange(10_000))
    date, line = rng.choice(_DATES), rng.choice(_LINES)
    for step in range(1, 6000):
        when += timedelta(seconds=rng.choice((1, 1, 2, 61)), microseconds=rng.randrange(10**6))
        if rng.random() < 0.002:
            date, line = rng.choice(_DATES), rng.choice(_LINES)
        v, g = rng.random() * 3, rng.random()
        lines.append(line.format(d=date.format(when), s=step, v=v, g=g))
        if rng.random() < 0.01:
            lines.append(f"ts={date.format(when)} level=warn msg=slow dataloader")
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_dated_lines_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(tmp_path / "dated.log", _dated_log(random.Random(seed)), (97, 4096))


def test_dated_lines_are_read_in_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once learned, lines that differ in their date (and numbers) are not even matched
    one by one: their numbers are cut out of the block at once (``runs.Stretch``)."""
    when = datetime(2026, 12, 4, 10, 59, 0)
    lines = [
        f"ts={when + timedelta(seconds=s):%Y-%m-%dT%H:%M:%S.%f}Z level=info msg=train "
        f"step={s} loss={1 / s:.4f}"
        for s in range(1, 6000)
    ]
    reader = LogReader()
    reader.read_lines(1, lines[:2000])  # (steps of 4 digits from 1000 on)
    matched = _matched(monkeypatch)
    parts = reader.read_lines(2001, lines[2000:])
    assert sum(len(part) for part in parts if isinstance(part, RecordRun)) > 3900
    assert matched[0] < 100
