"""`overfitting` reads blocks as it reads records, on runs where it fires.

The validation loss turns up while training keeps falling, comes back down (the episode
ends) and turns up again; evaluations come every few records or every few hundred,
are repeated by a progress bar, print NaN, or are noisy enough for a longer level.
Between them the training losses are dense, sparse (many records without one, so the
last few are far back) or hidden as 0.0 beside a non-finite gradient norm.
"""

from __future__ import annotations

import math
import random

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.overfitting import OverfittingDetector
from gradlog.model import Record
from gradlog.parse.names import GRAD_NORM, LOSS, LR, VAL_ACC, VAL_LOSS
from tests.test_blocks import assert_blocks_exact, found_whole


def _run(
    rng: random.Random, evals: int, gap: int, noise: float, sparse: bool
) -> tuple[Record, ...]:
    records: list[Record] = []
    train = 2.0

    def add(metrics: dict[str, float]) -> None:
        n = len(records) + 1
        records.append(Record(n, n, metrics))

    for e in range(evals):
        for i in range(rng.randint(1, gap)):
            train *= 0.9995
            metrics = {LR: 1e-3, GRAD_NORM: 1.0}
            if not sparse or i % 9 == 0:
                metrics[LOSS] = train * (1 + rng.uniform(-0.02, 0.02))
            if rng.random() < 0.01:
                metrics[LOSS], metrics[GRAD_NORM] = 0.0, rng.choice((math.nan, math.inf, 1.0))
            if rng.random() < 0.005:
                metrics[LOSS] = math.nan
            add(metrics)
        # A valley: validation falls, turns up for a while, comes back, turns up again.
        phase = e % 40
        val = 1.5 - 0.02 * phase if phase < 15 else 1.2 + 0.05 * (phase - 15)
        if phase >= 32:
            val = 1.0
        val *= 1 + rng.uniform(-noise, noise)
        metrics = {VAL_LOSS: val, VAL_ACC: 0.5}
        if rng.random() < 0.05:
            metrics[VAL_LOSS] = math.nan
        add(metrics)
        for _ in range(rng.choice((0, 0, 3))):  # a progress bar repeating it
            add({VAL_LOSS: val, LOSS: train})
    return tuple(records)


def cases() -> dict[str, tuple[Record, ...]]:
    """Dense and sparse training losses, close and far evaluations, clean and noisy."""
    return {
        f"gap{gap}_noise{noise}_{'sparse' if sparse else 'dense'}": _run(
            random.Random(gap), 200, gap, noise, sparse
        )
        for gap, noise, sparse in (
            (5, 0.0, False),
            (300, 0.01, False),
            (200, 0.0, True),
            (30, 0.08, False),
        )
    }


@pytest.mark.parametrize("name", sorted(cases()))
def test_the_runs_make_the_rule_fire(name: str) -> None:
    found = found_whole(OverfittingDetector(Thresholds()), cases()[name])
    assert len({d.key for _, d in found}) >= 2  # it fires, and again after a recovery


@pytest.mark.parametrize("name", sorted(cases()))
def test_blocks_read_as_records(name: str) -> None:
    assert_blocks_exact(OverfittingDetector, cases()[name], name, seeds=4)
