"""`loss_scale_collapse` reads blocks as it reads records, on runs where it fires.

The runs mix every way the scale moves: calibration, storms, slow falls, overflows with
no scale printed, the scaler's minimum, free fall, unreadable scales and recoveries, so
that episodes open, stay open over long quiet stretches and close across block edges.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.loss_scale import LossScaleCollapseDetector
from gradlog.model import Record
from gradlog.parse.events import OVERFLOW, SCALE_AT_MINIMUM
from gradlog.parse.names import LOSS, LOSS_SCALE
from tests.test_blocks import assert_blocks_exact, found_whole

Metrics = dict[str, float]


class _Scaler:
    """A dynamic loss scaler writing records: it halves on overflows, doubles back."""

    def __init__(self, rng: random.Random, printed: float) -> None:
        self.rng = rng
        self.scale = 65536.0
        self.printed = printed  # how often a record prints the scale
        self.records: list[Record] = []

    def add(self, metrics: Metrics | None = None, *, show: bool | None = None) -> None:
        metrics = dict(metrics or {})
        metrics.setdefault(LOSS, 2.0 + self.rng.uniform(-0.1, 0.1))
        if show if show is not None else self.rng.random() < self.printed:
            metrics.setdefault(LOSS_SCALE, self.scale)
        n = len(self.records) + 1
        step: float = n if n % 17 else n + 0.5
        self.records.append(Record(step, n, metrics))

    def calm(self, count: int) -> None:
        for _ in range(count):
            self.add()

    def halve(self, times: int, gap: int, overflow: float = 1.0) -> None:
        for _ in range(times):
            self.scale /= 2
            self.add({OVERFLOW: overflow}, show=True)
            self.calm(gap)

    def grow(self, times: int, gap: int) -> None:
        for _ in range(times):
            self.calm(gap)
            self.scale *= 2
            self.add(show=True)

    def overflows(self, count: int, every: int) -> None:
        """Overflow lines that print no scale (DeepSpeed and apex print only these)."""
        for i in range(count):
            self.add({OVERFLOW: 1.0} if i % every == 0 else None, show=False)


def _storms(rng: random.Random) -> list[Record]:
    """Storms down to 1 and below, recoveries, near misses of 4 halvings."""
    scaler = _Scaler(rng, printed=0.9)
    scaler.halve(4, 0)  # calibration
    for _ in range(6):
        scaler.calm(rng.randint(5, 900))
        scaler.halve(rng.choice((4, 5, 6, 14)), rng.choice((0, 1, 2)))
        scaler.calm(rng.randint(0, 700))
        scaler.grow(rng.randint(1, 16), rng.randint(3, 40))
    scaler.calm(50)
    return scaler.records


def _slow_falls(rng: random.Random) -> list[Record]:
    """Falls of 256x without growing back, spaced too far apart for a storm; a peak
    4096x above; scales that cannot be read."""
    scaler = _Scaler(rng, printed=0.3)
    scaler.calm(120)
    for _ in range(4):
        scaler.halve(rng.choice((7, 8, 9)), rng.randint(2, 30))
        scaler.calm(rng.randint(1, 600))
        for bad in (math.nan, math.inf, 0.0, -4.0):
            scaler.add({LOSS_SCALE: bad})
        scaler.grow(rng.randint(2, 9), rng.randint(3, 9))
        scaler.halve(13, 4)
        scaler.calm(rng.randint(1, 300))
        scaler.grow(14, 3)
    return scaler.records


def _overflow_windows(rng: random.Random) -> list[Record]:
    """After a fall of 16x, overflows in half the window (and nearly half), some as
    several skipped steps in one record or unreadable counts."""
    scaler = _Scaler(rng, printed=0.5)
    scaler.calm(30)
    for _ in range(8):
        scaler.halve(4, rng.randint(2, 4))
        scaler.overflows(rng.randint(20, 80), rng.choice((1, 2, 3)))
        scaler.add({OVERFLOW: rng.choice((0.0, 0.5, math.nan, 3.0))})
        scaler.calm(rng.randint(1, 400))
        scaler.add({OVERFLOW: 1.0, LOSS_SCALE: scaler.scale})  # an unseen growth
        scaler.grow(6, 5)
        scaler.calm(rng.randint(1, 50))
    return scaler.records


def _minimum_and_free_fall(rng: random.Random) -> list[Record]:
    """The scaler at its minimum, the scale in free fall below 2^-10, both lasting and
    ending, with a pre-calibration excerpt that opens mid-storm."""
    scaler = _Scaler(rng, printed=0.7)
    scaler.halve(3, 0)
    for _ in range(3):
        scaler.calm(rng.randint(5, 300))
        for _ in range(rng.randint(1, 5)):
            scaler.add({OVERFLOW: 1.0, SCALE_AT_MINIMUM: 1.0})
        scaler.calm(rng.randint(1, 900))
        scaler.grow(2, 3)
        scaler.halve(28, rng.choice((0, 3)))
        scaler.calm(rng.randint(1, 900))
        scaler.grow(30, 2)
    return scaler.records


CASES: dict[str, Callable[[random.Random], list[Record]]] = {
    "storms": _storms,
    "slow_falls": _slow_falls,
    "overflow_windows": _overflow_windows,
    "minimum_and_free_fall": _minimum_and_free_fall,
}


def cases() -> dict[str, tuple[Record, ...]]:
    """Every run, for two seeds each."""
    return {
        f"{name}_{seed}": tuple(make(random.Random(seed)))
        for name, make in CASES.items()
        for seed in range(2)
    }


@pytest.mark.parametrize("name", sorted(cases()))
def test_the_runs_make_the_rule_fire(name: str) -> None:
    found = found_whole(LossScaleCollapseDetector(Thresholds()), cases()[name])
    assert len({d.key for _, d in found}) >= 2  # it fires, and again after a recovery


@pytest.mark.parametrize("name", sorted(cases()))
def test_blocks_read_as_records(name: str) -> None:
    assert_blocks_exact(LossScaleCollapseDetector, cases()[name], name, seeds=4)
