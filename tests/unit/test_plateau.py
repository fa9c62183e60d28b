"""`chance_plateau`: firing cases beside near misses."""

from __future__ import annotations

import pytest

from gradlog.model import Severity
from tests.helpers import records, run


@pytest.mark.parametrize(("level", "k"), [(0.6931, 2), (2.3026, 10), (10.8249, 50257)])
def test_loss_at_ln_k_is_an_error_naming_k(level: float, k: int) -> None:
    found = run("chance_plateau", records(loss=[level] * 6))
    assert [d.severity for d in found] == [Severity.ERROR]
    assert f"ln({k})" in found[0].message


def test_slow_start_that_then_learns_is_info() -> None:
    found = run("chance_plateau", records(loss=[0.6931] * 6 + [0.65, 0.5, 0.3]))
    assert [d.severity for d in found] == [Severity.INFO]
    assert "slow start" in found[0].message


def test_accuracy_far_from_one_over_k_is_not_chance() -> None:
    moving = [0.9, 0.88, 0.91, 0.87, 0.9, 0.89]  # a model that predicts, not a coin flip
    found = run("chance_plateau", records(loss=[0.6931] * 6, acc=moving))
    assert found == []


def test_short_stay_is_not_a_plateau() -> None:
    assert run("chance_plateau", records(loss=[0.6931] * 4 + [0.5, 0.4])) == []


def test_loss_between_chance_levels_is_clean() -> None:
    assert run("chance_plateau", records(loss=[1.2] * 10)) == []
