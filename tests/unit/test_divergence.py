"""`divergence`: firing cases beside near misses."""

from __future__ import annotations

import math
import random

from gradlog.model import Severity
from tests.helpers import records, run


def _falls_then_rises(peak: float) -> list[float]:
    """4.0 down to 1.0 over 20 records, a steady climb to ``peak`` over 20, then level."""
    down = [1.0 + 3.0 * math.exp(-i / 4) for i in range(20)]  # starting level about 2.8
    up = [peak ** ((i + 1) / 20) for i in range(20)]
    return down + up + [peak] * 10


def test_steady_climb_to_three_times_the_best_is_a_warning() -> None:
    found = run("divergence", records(loss=_falls_then_rises(2.2)))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert 18 <= found[0].first_step <= 22  # type: ignore[operator]
    assert "rose from its best" in found[0].message


def test_climb_past_five_times_the_best_is_an_error() -> None:
    found = run("divergence", records(loss=_falls_then_rises(6.0)))
    assert [d.severity for d in found] == [Severity.ERROR]


def test_climb_back_above_the_start_is_an_error() -> None:
    found = run("divergence", records(loss=_falls_then_rises(3.0)))
    assert [d.severity for d in found] == [Severity.ERROR]
    assert "back above the starting level" in found[0].message


def test_rise_short_of_twice_the_best_is_not_a_divergence() -> None:
    assert run("divergence", records(loss=_falls_then_rises(1.8))) == []


def test_single_spike_is_left_to_loss_spike() -> None:
    losses = _falls_then_rises(1.0)
    losses[25] = 30.0
    assert run("divergence", records(loss=losses)) == []


def test_short_bump_is_not_sustained() -> None:
    losses = _falls_then_rises(1.0)
    losses[25:28] = [2.5, 2.6, 2.4]  # three records: the 5-record median never moves 2x
    assert run("divergence", records(loss=losses)) == []


def test_converged_loss_wobbling_near_zero_is_not_a_divergence() -> None:
    losses = [2.3 * math.exp(-i / 3) for i in range(30)] + [0.004] * 20
    assert run("divergence", records(loss=losses)) == []


def test_negative_losses_are_not_judged_by_ratio() -> None:
    losses = [-1.0 - i / 10 for i in range(20)] + [-1.5] * 20
    assert run("divergence", records(loss=losses)) == []


def test_noisy_healthy_run_with_warmup_and_cosine_decay_is_clean() -> None:
    rng = random.Random(7)
    losses = []
    for i in range(3000):
        lr = min(1.0, i / 300) * 0.5 * (1 + math.cos(math.pi * i / 3000))
        level = 0.6 + 2.0 * math.exp(-i / 600) + 0.05 * lr
        losses.append(level * math.exp(rng.gauss(0, 0.25)))
    assert run("divergence", records(loss=losses)) == []


def test_noisy_climb_is_found_with_a_longer_median() -> None:
    rng = random.Random(3)
    down = [1.0 + 1.3 * math.exp(-i / 100) for i in range(600)]
    up = [1.0 * 3.0 ** ((i + 1) / 300) for i in range(300)]
    losses = [v * math.exp(rng.gauss(0, 0.3)) for v in down + up]
    found = run("divergence", records(loss=losses))
    assert [d.id for d in found] == ["divergence"]
    assert 540 <= found[0].first_step <= 640  # type: ignore[operator]
    assert "median of the last 51 records" in found[0].message
