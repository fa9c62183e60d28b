"""The shape of a run, kept for charts: each charted series in at most ``CAPACITY``
buckets of consecutive values, whatever the length of the run.

A bucket keeps the lowest and the highest finite value of its values (so a single-record
spike is never averaged away), how many were NaN or infinite, and the step of its first
value. Buckets start one value wide; when they are all used, neighbours are merged in
pairs and buckets become twice as wide. Work is linear in the values, memory fixed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from gradlog.parse.names import GRAD_NORM, LOSS, LR, VAL_LOSS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from gradlog.detectors.block import Floats

    Lines = npt.NDArray[np.int64]
else:
    from gradlog.lazy import numpy as np

CAPACITY = 1024  # buckets kept per series (a chart is at most a few hundred columns)
CHARTED = (LOSS, VAL_LOSS, GRAD_NORM, LR)  # the series a report charts, in this order


class CurvePoints(NamedTuple):
    """A series as buckets of consecutive values: the step of each bucket's first value,
    its lowest and highest finite value (NaN when it has none) and its count of NaN or
    infinite values."""

    steps: tuple[float, ...]
    lines: tuple[int, ...]  # the line of each bucket's first value
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    nonfinite: tuple[int, ...]
    width: int  # values per bucket (the last may hold fewer)


def _lower(a: float, b: float) -> float:
    """The lower of two values, ignoring NaN (NaN only when both are)."""
    return b if a != a or b < a else a


def _higher(a: float, b: float) -> float:
    return b if a != a or b > a else a


class Curve:
    """One series' buckets, filled as records come."""

    def __init__(self) -> None:
        self.width = 1  # values per bucket
        self.count = 0  # values taken
        self.steps: list[float] = []
        self.lines: list[int] = []
        self.lows: list[float] = []
        self.highs: list[float] = []
        self.bad: list[int] = []

    def add_one(self, step: float, line: int, value: float) -> None:
        """Take in the next value, printed at ``step`` on ``line``."""
        finite = value - value == 0.0
        low = value if finite else math.nan
        if self.count % self.width:  # the last bucket has room
            self.lows[-1] = _lower(self.lows[-1], low)
            self.highs[-1] = _higher(self.highs[-1], low)
            self.bad[-1] += not finite
        else:
            if len(self.steps) == CAPACITY:
                self._halve()
                self.add_one(step, line, value)
                return
            self.steps.append(step)
            self.lines.append(line)
            self.lows.append(low)
            self.highs.append(low)
            self.bad.append(int(not finite))
        self.count += 1

    def add(self, steps: Floats, lines: Lines, values: Floats) -> None:
        """Take in the next values, with their steps and lines (columns of one block)."""
        total = len(values)
        if not total:
            return
        while -(-(self.count + total) // self.width) > CAPACITY:
            self._halve()
        width = self.width
        buckets = (self.count + np.arange(total)) // width
        starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
        finite = np.isfinite(values)
        clean = np.where(finite, values, np.nan)
        with np.errstate(invalid="ignore"):
            lows = np.fmin.reduceat(clean, starts).tolist()
            highs = np.fmax.reduceat(clean, starts).tolist()
        bad = np.add.reduceat((~finite).astype(np.int64), starts).tolist()
        firsts = steps[starts].tolist()
        numbers = lines[starts].tolist()
        if self.count % width:  # the first values fill the last bucket
            self.lows[-1] = _lower(self.lows[-1], lows.pop(0))
            self.highs[-1] = _higher(self.highs[-1], highs.pop(0))
            self.bad[-1] += bad.pop(0)
            firsts.pop(0)
            numbers.pop(0)
        self.steps += firsts
        self.lines += numbers
        self.lows += lows
        self.highs += highs
        self.bad += bad
        self.count += total

    def _halve(self) -> None:
        """Merge neighbouring buckets in pairs: half as many, each twice as wide."""
        pairs = range(0, len(self.steps), 2)
        self.steps = self.steps[::2]
        self.lines = self.lines[::2]
        self.lows = [
            _lower(*self.lows[i : i + 2]) if i + 1 < len(self.lows) else self.lows[i] for i in pairs
        ]
        self.highs = [
            _higher(*self.highs[i : i + 2]) if i + 1 < len(self.highs) else self.highs[i]
            for i in pairs
        ]
        self.bad = [sum(self.bad[i : i + 2]) for i in pairs]
        self.width *= 2

    def freeze(self) -> CurvePoints:
        return CurvePoints(
            tuple(self.steps),
            tuple(self.lines),
            tuple(self.lows),
            tuple(self.highs),
            tuple(self.bad),
            self.width,
        )
