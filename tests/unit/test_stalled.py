"""`stalled`: firing cases beside near misses (the rule is off by default)."""

from __future__ import annotations

import math
import random

from gradlog.detectors.stalled import StalledDetector
from gradlog.model import Severity
from tests.helpers import records, run


def _learns_then_flat(level: float, flat: int, noise: float = 0.005) -> list[float]:
    rng = random.Random(1)
    down = [level + 1.5 * math.exp(-i / 5) for i in range(30)]
    return [v * math.exp(rng.gauss(0, noise)) for v in down + [level] * flat]


def test_rule_is_off_by_default() -> None:
    assert StalledDetector.rule.default_enabled is False


def test_loss_flat_for_the_last_half_of_the_run_is_a_warning() -> None:
    found = run("stalled", records(loss=_learns_then_flat(1.5, 80)))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert 25 <= found[0].first_step <= 45  # type: ignore[operator]
    assert "has not improved by more than 1%" in found[0].message


def test_flat_for_less_than_half_the_run_is_not_yet_a_stall() -> None:
    assert run("stalled", records(loss=_learns_then_flat(1.5, 20))) == []


def test_flat_at_a_chance_level_is_left_to_chance_plateau() -> None:
    assert run("stalled", records(loss=_learns_then_flat(math.log(10), 80))) == []


def test_converged_near_zero_is_not_a_stall() -> None:
    losses = [2.3 * math.exp(-i / 3) + 0.01 for i in range(30)] + [0.01] * 60
    assert run("stalled", records(loss=losses)) == []


def test_slow_steady_progress_is_not_a_stall() -> None:
    rng = random.Random(4)
    losses = [
        (2.0 + 8.0 * (1 + i / 50) ** -0.5) * math.exp(rng.gauss(0, 0.05)) for i in range(2000)
    ]
    assert run("stalled", records(loss=losses)) == []


def test_stall_that_ends_in_progress_is_info() -> None:
    losses = _learns_then_flat(1.5, 80) + [1.5 * 0.97**i for i in range(1, 30)]
    found = run("stalled", records(loss=losses))
    assert [d.severity for d in found] == [Severity.INFO]
    assert "then improved again" in found[0].message


def test_learning_rate_zero_after_warmup_is_a_warning() -> None:
    lrs = [1e-4 * min(1, i / 5) for i in range(1, 21)] + [0.0] * 12
    losses = [2.0 - 0.02 * i for i in range(20)] + [1.6] * 12
    found = run("stalled", records(loss=losses, lr=lrs))
    assert [(d.first_step, d.severity) for d in found] == [(21, Severity.WARNING)]
    assert "learning rate is zero" in found[0].message


def test_zero_learning_rate_before_warmup_is_normal() -> None:
    # Megatron's fp16 start prints lr 0 while the loss scaler calibrates.
    lrs = [0.0] * 40 + [1e-4] * 20
    losses = [2.0 - 0.02 * i for i in range(60)]
    assert run("stalled", records(loss=losses, lr=lrs)) == []


def test_learning_rate_that_never_starts_is_a_warning() -> None:
    found = run("stalled", records(loss=[2.0] * 60, lr=[0.0] * 60))
    zero = [d for d in found if d.metric == "lr"]  # the flat loss is a stall of its own
    assert [(d.first_step, d.severity) for d in zero] == [(1, Severity.WARNING)]
    assert "it has never been positive" in zero[0].message


def test_last_records_of_a_decay_to_zero_are_normal() -> None:
    lrs = [1e-4 * (1 - i / 90) for i in range(90)] + [0.0] * 10
    losses = [2.0 - 0.01 * i for i in range(100)]
    assert run("stalled", records(loss=losses, lr=lrs)) == []
