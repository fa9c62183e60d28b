"""`large_update` reads blocks as it reads records, on runs where it fires.

Stretches where lr x grad_norm / param_norm is above the ratio last one, two, three or
many records; records that lack one of the three metrics (or print it unusable) sit
inside and between them without ending them; some ratios are exactly at the bar.
"""

from __future__ import annotations

import math
import random

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.large_update import LargeUpdateDetector
from gradlog.model import Record
from gradlog.parse.names import GRAD_NORM, LOSS, LR, PARAM_NORM
from tests.test_blocks import assert_blocks_exact, found_whole


def _run(rng: random.Random, length: int, every: int) -> tuple[Record, ...]:
    records: list[Record] = []
    while len(records) < length:
        large = rng.random() < 0.4
        count = rng.choice((1, 2, 3, 4, 40)) if large else rng.randint(1, 700)
        for _ in range(count):
            metrics = {LOSS: 2.0, LR: 0.1, GRAD_NORM: 1.0}
            metrics[GRAD_NORM] = rng.uniform(1.5, 30.0) if large else rng.uniform(0.01, 0.9)
            if rng.random() < 0.05:
                metrics[GRAD_NORM] = 1.0  # exactly at the bar: 0.1 x 1 / 1
            if len(records) % every == 0:
                metrics[PARAM_NORM] = 1.0
            odd = rng.random()
            if odd < 0.03:
                metrics[PARAM_NORM] = rng.choice((0.0, -1.0, math.nan, math.inf))
            elif odd < 0.06:
                metrics[LR] = rng.choice((math.nan, -0.1, 1e308))
            elif odd < 0.08:
                del metrics[GRAD_NORM]
            n = len(records) + 1
            records.append(Record(n, n, metrics))
    return tuple(records)


def cases() -> dict[str, tuple[Record, ...]]:
    """Runs with the parameter norm on every record or every few, two seeds each."""
    return {
        f"every_{every}_{seed}": _run(random.Random(seed), 8000, every)
        for every in (1, 3)
        for seed in range(2)
    }


@pytest.mark.parametrize("name", sorted(cases()))
def test_the_runs_make_the_rule_fire(name: str) -> None:
    found = found_whole(LargeUpdateDetector(Thresholds()), cases()[name])
    assert len({d.key for _, d in found}) >= 2  # it fires, and again after a recovery


@pytest.mark.parametrize("name", sorted(cases()))
def test_blocks_read_as_records(name: str) -> None:
    assert_blocks_exact(LargeUpdateDetector, cases()[name], name, seeds=4)
