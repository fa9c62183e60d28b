"""`weight_growth` reads blocks as it reads records, on runs where it fires.

The parameter norm grows slowly past 10x and 100x its early level, rises geometrically
for thousands of records (so the sampled rise is thinned many times inside a block),
or nearly does either; single misprinted values, repeats that end a rise, and records
without a usable norm are mixed in. The rule keeps one episode per run and raises its
severity, so the runs that fire also go on long after they first do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.weight_growth import WeightGrowthDetector
from gradlog.model import Record
from gradlog.parse.names import GRAD_NORM, LOSS, PARAM_NORM
from tests.test_blocks import _oracle, assert_blocks_exact


def _records(rng: random.Random, norms: list[float], misprints: bool) -> tuple[Record, ...]:
    records = []
    for n, norm in enumerate(norms, 1):
        metrics = {LOSS: 2.0, GRAD_NORM: 1.0, PARAM_NORM: norm}
        odd = rng.random()
        if odd < 0.02:
            metrics[PARAM_NORM] = rng.choice((math.nan, math.inf, 0.0, -5.0))
        elif odd < 0.03:
            del metrics[PARAM_NORM]
        elif misprints and n % 211 == 0:
            metrics[PARAM_NORM] = norm * 1000  # a misprint: the level ignores it
        elif misprints and odd < 0.05 and n > 1:
            metrics[PARAM_NORM] = norms[n - 2]  # a repeat ends the rise
        records.append(Record(n, n, metrics))
    return tuple(records)


def _slow(rng: random.Random, top: float) -> list[float]:
    """A noisy drift up to ``top`` times the start, over 20000 records."""
    return [
        10.0 * (1 + (top - 1) * i / 20000) * (1 + rng.uniform(-0.01, 0.01)) for i in range(20000)
    ]


def _steady(rng: random.Random, pace: float) -> list[float]:
    """Healthy noise, then a rise at every record whose growth per record changes by
    ``pace`` over it (1: geometric; below 1: slowing down)."""
    norms = [10.0 * (1 + rng.uniform(-0.01, 0.01)) for _ in range(3000)]
    rate = 0.01
    while len(norms) < 12000:
        norms.append(norms[-1] * math.exp(rate))
        rate *= pace
    return norms


CASES: dict[str, Callable[[random.Random], list[float]]] = {
    "past_100x": lambda rng: _slow(rng, 150.0),
    "past_10x": lambda rng: _slow(rng, 20.0),
    "geometric": lambda rng: _steady(rng, 1.0),
    "near_10x": lambda rng: _slow(rng, 9.5),
    "slowing": lambda rng: _steady(rng, 0.995),
}
FIRING = ("past_100x", "past_10x", "geometric")


def cases() -> dict[str, tuple[Record, ...]]:
    """Every run, for two seeds each."""
    return {
        f"{name}_{seed}": _records(rng, make(rng), name not in ("geometric", "slowing"))
        for name, make in CASES.items()
        for seed in range(2)
        if (rng := random.Random(seed))
    }


@pytest.mark.parametrize("name", sorted(n for n in cases() if n.rsplit("_", 1)[0] in FIRING))
def test_the_runs_make_the_rule_fire(name: str) -> None:
    detector = WeightGrowthDetector(Thresholds())
    assert _oracle(detector, cases()[name])


@pytest.mark.parametrize("name", sorted(cases()))
def test_blocks_read_as_records(name: str) -> None:
    assert_blocks_exact(WeightGrowthDetector, cases()[name], name, seeds=3)
