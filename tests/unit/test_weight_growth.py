"""`weight_growth`: firing cases beside near misses."""

from __future__ import annotations

import math
import random

from gradlog.model import Severity
from tests.helpers import records, run


def test_tenfold_growth_over_the_early_level_is_a_warning() -> None:
    norms = [40.0] * 10 + [40.0 + 40.0 * i for i in range(1, 12)]  # up to 480, uneven pace
    found = run("weight_growth", records(param_norm=norms))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert "passed 10x" in found[0].message


def test_hundredfold_growth_is_an_error_in_the_same_episode() -> None:
    norms = [40.0] * 5 + [400.0, 1000.0, 2000.0, 3000.0]
    found = run("weight_growth", records(param_norm=norms))
    assert [(d.first_step, d.severity) for d in found] == [(7, Severity.WARNING)]
    found = run("weight_growth", records(param_norm=[*norms, 4000.0, 5000.0]))
    assert [(d.first_step, d.severity) for d in found] == [(7, Severity.ERROR)]


def test_one_misprinted_value_is_not_growth() -> None:
    norms = [40.0] * 5 + [4000.0] + [40.0] * 5
    assert run("weight_growth", records(param_norm=norms)) == []


def test_nine_fold_growth_that_slows_down_is_clean() -> None:
    norms = [40.0 * (1 + 8 * (1 - math.exp(-i / 10))) for i in range(60)]
    assert run("weight_growth", records(param_norm=norms)) == []


def test_geometric_growth_is_flagged_from_where_it_began() -> None:
    norms = [40.0] * 10 + [40.0 * 1.15**i for i in range(1, 15)]
    found = run("weight_growth", records(param_norm=norms))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert "without slowing down" in found[0].message
    assert found[0].first_step == 11


def test_fast_growth_that_decelerates_is_healthy() -> None:
    # From a small initialisation the weights grow quickly at first, then ever more slowly.
    norms = [5.0 * (1 + math.sqrt(i)) for i in range(40)]  # 5 -> 36: 7x, decelerating
    assert run("weight_growth", records(param_norm=norms)) == []


def test_slow_drift_of_a_noisy_healthy_run_is_clean() -> None:
    rng = random.Random(2)
    norms = [250.0 * (1 + 0.3 * (1 - math.exp(-i / 800))) + rng.gauss(0, 0.5) for i in range(3000)]
    assert run("weight_growth", records(param_norm=norms)) == []
