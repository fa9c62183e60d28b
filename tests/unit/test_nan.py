"""`nan`: firing cases beside near misses."""

from __future__ import annotations

import math

from gradlog.model import Severity
from tests.helpers import NAN, records, run

INF = float("inf")


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


def test_a_scaler_calibrating_at_the_start_is_info() -> None:
    # A loss scaler starting at 2**20 overflows (and halves) 6 times before a step
    # passes: calibration, however many; the same 6 mid-run are an error.
    grads = [INF] * 6 + [1.0] * 6
    start = run("nan", records(loss=[10.8] * 12, grad_norm=grads))
    assert [d.severity for d in start] == [Severity.INFO]
    assert "no step had succeeded yet" in start[0].message
    later = run("nan", records(loss=[10.8] * 13, grad_norm=[1.0, *grads]))
    assert [d.severity for d in later] == [Severity.ERROR]


def test_a_scaler_that_never_finds_a_scale_is_an_error() -> None:
    # 33 overflows from the start: more than any starting scale takes (2**32).
    found = run("nan", records(loss=[10.8] * 40, grad_norm=[INF] * 33 + [1.0] * 7))
    assert [d.severity for d in found] == [Severity.ERROR]


def test_a_run_without_a_loss_name_is_watched_by_all_its_series() -> None:
    """pytorch-CycleGAN prints ``D_A: 0.27 G_A: 0.38 cycle_A: 3.0``, no loss by name: two
    or more of its series turning non-finite at once is the NaN; one stray statistic, or
    series that were never finite (RL returns before the first episode), is not."""
    gan = records(d_a=[0.27, 0.29, NAN, NAN], g_a=[0.38, 0.22, NAN, NAN], time=[0.2] * 4)
    found = run("nan", gan)
    assert [(d.first_step, d.severity, d.count) for d in found] == [(3, Severity.ERROR, 2)]
    assert found[0].message.startswith("d_a, g_a became non-finite at epoch 3")
    stray = records(d_a=[0.27, 0.29, NAN, 0.3], g_a=[0.38, 0.22, 0.3, 0.3])
    assert run("nan", stray) == []
    unborn = records(reward_mean=[NAN, NAN, 1.0], reward_max=[NAN, NAN, 2.0])
    assert run("nan", unborn) == []
    named = records(loss=[0.5, 0.4, 0.4], d_a=[0.27, NAN, NAN], g_a=[0.38, NAN, NAN])
    assert run("nan", named) == []  # a run with a loss is judged by it


def test_a_long_log_without_a_loss_name_finds_its_nan() -> None:
    """The same read from a log long enough to be judged in blocks."""
    from gradlog.engine import analyze

    def line(i: int) -> str:
        value = "nan" if i >= 900 else f"{0.3 + (i % 7) / 100:.3f}"
        return f"(epoch: {1 + i // 100}, iters: {100 * (1 + i % 100)}, time: 0.219) " + " ".join(
            f"{name}: {value}" for name in ("D_A", "G_A", "cycle_A", "idt_A")
        )

    report = analyze([line(i) for i in range(1000)])
    found = [d for d in report.diagnoses if d.id == "nan"]
    assert [(d.severity, d.count, d.line) for d in found] == [(Severity.ERROR, 100, 901)]


def test_an_overflowing_grad_norm_while_the_loss_scale_falls_is_the_scaler_at_work() -> None:
    # BEiT, DreamerV2: ``grad_norm: inf`` for many records, the loss finite, the printed
    # loss scale falling from 2048 towards 0: the scaler skipping each step that
    # overflows (loss_scale_collapse's to judge), not a NaN in the weights.
    grads = [2.0] * 6 + [INF] * 12 + [2.0]
    scales = [2048.0] * 6 + [2048.0 / 2**k for k in range(1, 13)] + [0.5]
    found = run("nan", records(loss=[5.0] * 19, grad_norm=grads, loss_scale=scales))
    assert [(d.first_step, d.count, d.severity) for d in found] == [(7, 12, Severity.INFO)]
    assert "loss scale fell from 2048" in found[0].message
    # a scale held where it was is no scaler at work: the error stands
    held = run("nan", records(loss=[5.0] * 19, grad_norm=grads, loss_scale=[2048.0] * 19))
    assert [d.severity for d in held] == [Severity.ERROR]
    # a NaN loss is never the scaler's
    loss = [5.0] * 6 + [NAN] * 12 + [5.0]
    lost = run("nan", records(loss=loss, grad_norm=grads, loss_scale=scales))
    assert [d.severity for d in lost] == [Severity.ERROR]


def test_an_infinite_validation_loss_before_training_is_no_value() -> None:
    # VDVAE's ``starting at epoch 0 iterate 0 eval loss inf``: the last evaluation's
    # loss, set to infinity before the first evaluation ran.
    losses = [None, *[2.0 - i / 100 for i in range(60)]]
    vals = [math.inf, *[None] * 59, 1.5]
    assert run("nan", records(loss=losses, val_loss=vals)) == []
    # After training began, or as NaN, or beside a training loss, it is a value.
    assert run("nan", records(loss=[2.0, None, 1.9], val_loss=[None, math.inf, None]))
    assert run("nan", records(loss=[None, 2.0], val_loss=[math.nan, None]))
    assert run("nan", records(loss=[2.0, 1.9], val_loss=[math.inf, None]))
