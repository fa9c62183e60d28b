"""`nan`: firing cases beside near misses."""

from __future__ import annotations

from gradlog.model import Severity
from tests.helpers import NAN, records, run


def test_nan_loss_is_one_error_per_episode() -> None:
    found = run("nan", records(loss=[1.0, 0.9, NAN, NAN, 0.8, NAN]))
    assert [(d.first_step, d.last_step, d.count, d.severity) for d in found] == [
        (3, 4, 2, Severity.ERROR),
        (6, 6, 1, Severity.ERROR),
    ]
    assert "last finite values at epoch 2: loss 0.9" in found[0].message


def test_finite_run_is_clean() -> None:
    assert run("nan", records(loss=[1.0, 0.5, 1e30, 0.0], grad_norm=[1, 2, 3, 4])) == []


def test_hidden_nan_loss_printed_as_zero() -> None:
    found = run("nan", records(loss=[1.0, 0.0, 0.0], grad_norm=[1.0, NAN, NAN]))
    assert [(d.first_step, d.severity) for d in found] == [(2, Severity.ERROR)]
    assert "hidden" in found[0].message


def test_true_zero_loss_with_finite_grad_is_not_nan() -> None:
    assert run("nan", records(loss=[1.0, 0.0], grad_norm=[1.0, 0.0])) == []


def test_skipped_amp_step_is_info_but_persisting_nan_grad_is_error() -> None:
    brief = run("nan", records(loss=[1.0, 0.9, 0.8, 0.7], grad_norm=[1.0, NAN, 1.0, 1.0]))
    assert [d.severity for d in brief] == [Severity.INFO]
    long = run("nan", records(loss=[1.0, 0.9, 0.8, 0.7, 0.6], grad_norm=[1, NAN, NAN, NAN, 1]))
    assert [d.severity for d in long] == [Severity.ERROR]
