"""`large_update`: firing cases beside near misses."""

from __future__ import annotations

import math
import random

from gradlog.model import Severity
from tests.helpers import records, run


def test_three_large_updates_in_a_row_are_a_warning() -> None:
    # lr 0.5 x grad_norm 4 / param_norm 15 = 0.13
    series = records(
        lr=[0.1, 0.1, 0.5, 0.5, 0.5, 0.5, 0.1],
        grad_norm=[4.0] * 7,
        param_norm=[15.0] * 7,
    )
    found = run("large_update", series)
    assert [(d.first_step, d.last_step, d.severity) for d in found] == [(3, 6, Severity.WARNING)]
    assert "0.13333" in found[0].message


def test_two_large_updates_are_not_a_pattern() -> None:
    series = records(lr=[0.1, 0.5, 0.5, 0.1, 0.5, 0.5], grad_norm=[4.0] * 6, param_norm=[15.0] * 6)
    assert run("large_update", series) == []


def test_ratio_just_below_the_threshold_is_clean() -> None:
    # 0.37 x 4 / 15 = 0.0987
    series = records(lr=[0.37] * 10, grad_norm=[4.0] * 10, param_norm=[15.0] * 10)
    assert run("large_update", series) == []


def test_records_without_all_three_metrics_are_skipped() -> None:
    series = records(
        lr=[0.5] * 6, grad_norm=[4.0] * 6, param_norm=[15.0, None, None, None, None, 15.0]
    )
    assert run("large_update", series) == []


def test_noisy_healthy_sgd_run_is_clean() -> None:
    rng = random.Random(5)
    n = 2000
    lrs = [0.1 * min(1.0, i / 100) * 0.5 * (1 + math.cos(math.pi * i / n)) for i in range(n)]
    grads = [(0.8 + 2.0 * math.exp(-i / 300)) * math.exp(rng.gauss(0, 0.4)) for i in range(n)]
    params = [40.0 + 15.0 * (1 - math.exp(-i / 500)) for i in range(n)]
    assert run("large_update", records(lr=lrs, grad_norm=grads, param_norm=params)) == []
