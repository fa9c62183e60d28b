"""`vanishing_gradient` reads blocks as it reads records, on runs where it fires.

Stretches of tiny gradients (absolutely, or beside the parameter norm) with a flat loss
near the start come and go between healthy ones; some are too short, some have a loss
that moves or has already been learned, some a loss with batch noise around its level
(flat runs between breaks, one episode), and some records lack a metric or print NaN;
in some the grad norm is printed on every fifth record only.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from gradlog.config import Thresholds
from gradlog.detectors.vanishing import VanishingGradientDetector
from gradlog.model import Record
from gradlog.parse.names import GRAD_NORM, LOSS, PARAM_NORM
from tests.test_blocks import assert_blocks_exact, found_whole


def _run(rng: random.Random, relative: bool, length: int) -> tuple[Record, ...]:
    records: list[Record] = []
    loss, param = 2.3, 40.0
    while len(records) < length:
        kind = rng.choice(
            ("healthy", "healthy", "tiny", "short", "moving", "learned", "gaps", "noisy", "sparse")
        )
        count = {"healthy": rng.randint(1, 900), "short": 2}.get(kind, rng.randint(3, 150))
        for i in range(count):
            metrics: dict[str, float] = {}
            grad = 0.5 + rng.random()
            value = loss + rng.uniform(-0.01, 0.01)
            if kind != "healthy":
                grad = 5e-4 * (1 + rng.random()) if not relative else 3e-3 * rng.random()
            if kind == "moving":
                value *= 1 + 0.1 * (i % 3)
            if kind == "noisy":
                value *= 1 + rng.uniform(-0.1, 0.1)
                if rng.random() < 0.15:  # now and then a grad norm that is not tiny
                    grad = 0.5
            if kind == "learned":
                value = loss * 0.3
            if kind == "gaps" and i % 4 == 1:
                grad = rng.choice((math.nan, math.inf, -math.inf, 0.0))
            if not (kind == "gaps" and i % 5 == 2):
                metrics[LOSS] = value
            if not (kind == "gaps" and i % 7 == 3) and not (kind == "sparse" and i % 5):
                metrics[GRAD_NORM] = grad
            if relative or rng.random() < 0.3:
                metrics[PARAM_NORM] = param * (1 + 0.001 * rng.random())
            n = len(records) + 1
            records.append(Record(n, n, metrics))
    return tuple(records)


def cases() -> dict[str, tuple[Record, ...]]:
    """Runs with absolute and relative tiny gradients, for two seeds each."""
    return {
        f"{kind}_{seed}": _run(random.Random(seed), kind == "relative", 6000)
        for kind in ("absolute", "relative")
        for seed in range(2)
    } | {"nan_start": (Record(1, 1, {LOSS: math.nan}), *_run(random.Random(9), False, 3000))}


@pytest.mark.parametrize("name", sorted(cases()))
def test_the_runs_make_the_rule_fire(name: str) -> None:
    found = found_whole(VanishingGradientDetector(Thresholds()), cases()[name])
    assert len({d.key for _, d in found}) >= 2  # it fires, and again after a recovery


@pytest.mark.parametrize("name", sorted(cases()))
def test_blocks_read_as_records(name: str) -> None:
    assert_blocks_exact(VanishingGradientDetector, cases()[name], name, seeds=4, dense=True)


@pytest.mark.parametrize("seed", range(6))
def test_flatness_in_bulk_is_flatness_record_by_record(seed: int) -> None:
    # ``_flat_rows`` decides most rows by a bound (the least value for the median) and
    # takes the rest exactly: every row must be what ``_spread`` says of the run as it
    # stands, around the threshold, with NaN, zero and negative values among them.
    from gradlog.detectors.vanishing import _KEPT, _flat_rows, _spread

    rng = random.Random(seed)
    most = 0.02
    for _ in range(40):
        level = rng.choice((0.6931, 1e-3, -0.5, 0.0))
        spread = rng.choice((0.001, 0.01, 0.019, 0.02, 0.021, 0.05))

        def value(level: float = level, spread: float = spread) -> float:
            roll = rng.random()
            if roll < 0.03:
                return math.nan
            if roll < 0.05:
                return rng.choice((0.0, -level, math.inf))
            return level * (1 + rng.uniform(-spread, spread))

        run = [Record(i + 1, i + 1, {LOSS: value()}) for i in range(rng.randrange(1, _KEPT + 1))]
        new = [value() for _ in range(rng.randrange(1, 200))]
        got = _flat_rows(run, LOSS, np.array(new), most).tolist()
        expected = []
        held = list(run)
        for i, loss in enumerate(new):
            held = [held[0], *[*held[1:], Record(1000 + i, 1000 + i, {LOSS: loss})][-(_KEPT - 1) :]]
            expected.append(_spread(held, LOSS) <= most)
        assert got == expected


def test_a_reported_run_carried_through_short_gaps_reads_as_records() -> None:
    # A reported run of tiny gradients goes on through gaps of up to ``gap_records``
    # grad norms that are not tiny. Read in bulk through them, it still counts a gap
    # under way when a record with a tiny grad norm but no finite loss (not tiny after
    # all, so the gap goes on) follows it: three in a row close the run, as one by one.
    rng = random.Random(4)
    records: list[Record] = []
    for _ in range(60):
        gap, closing = rng.randint(1, 2), rng.choice((math.nan, 2.3, 0.1))
        pattern = [(5e-4, 2.3)] * rng.randint(20, 60) + [(0.5, 2.3)] * gap + [(5e-4, closing)]
        for grad, loss in pattern:
            n = len(records) + 1
            value = loss * (1 + rng.uniform(-0.001, 0.001))
            records.append(Record(n, n, {LOSS: value, GRAD_NORM: grad * (1 + rng.random())}))
    found = found_whole(VanishingGradientDetector(Thresholds()), tuple(records))
    assert len({d.key for _, d in found}) >= 10  # closed at the gaps that ran on
    assert_blocks_exact(VanishingGradientDetector, records, "through_gaps", seeds=4, dense=True)
