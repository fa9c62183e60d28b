"""`loss_spike`: firing cases beside near misses."""

from __future__ import annotations

import pytest

from gradlog.model import Severity
from tests.helpers import NAN, records, run


def test_tenfold_jump_is_a_warning() -> None:
    found = run("loss_spike", records(loss=[2.0, 1.5, 1.2, 1.1, 15.0, 1.1, 1.0]))
    assert [(d.first_step, d.severity) for d in found] == [(5, Severity.WARNING)]


def test_hundredfold_jump_is_an_error() -> None:
    found = run("loss_spike", records(loss=[2.0, 1.5, 1.2, 1.1, 150.0, 1.0]))
    assert [(d.first_step, d.severity) for d in found] == [(5, Severity.ERROR)]


def test_smaller_jump_followed_by_nan_is_an_error() -> None:
    found = run("loss_spike", records(loss=[0.5, 1.9, NAN, 3.2]))
    assert [(d.first_step, d.severity) for d in found] == [(2, Severity.ERROR)]
    assert "then became NaN at epoch 3" in found[0].message


def test_smaller_jump_without_nan_is_not_a_spike() -> None:
    assert run("loss_spike", records(loss=[0.5, 1.9, 1.0, 0.8, 0.7, 0.6])) == []


def test_near_zero_wobble_is_not_a_spike() -> None:
    losses = [2.3, 1.0, 0.1, 0.01, 0.001, 0.001, 0.001, 0.02, 0.001]
    assert run("loss_spike", records(loss=losses)) == []


def test_a_jump_that_dwarfs_a_settled_near_zero_loss_is_a_spike() -> None:
    # A PINN's loss falls from 0.8 to about 1e-3 and sits there; one jump to 20x the
    # highest of the last 8 is no wobble, though far below a tenth of where it started.
    start = [0.8, 0.78, 0.75, 0.7, 0.66, 0.2, 0.05, 0.01, 0.003]
    settled = [*start, *[0.001 * (1 + 0.1 * (i % 4)) for i in range(10)]]
    found = run("loss_spike", records(loss=[*settled, 0.0245, 0.009, 0.002, 0.0011]))
    assert [d.first_step for d in found] == [20]
    # a near-zero loss that wobbles up to 5x is still not judged by such a jump
    wobbly = [*start, *[0.001, 0.004, 0.0012, 0.005, 0.001] * 2]
    assert run("loss_spike", records(loss=[*wobbly, 0.03, 0.002, 0.001])) == []


def test_one_spike_spanning_records_is_one_episode() -> None:
    found = run("loss_spike", records(loss=[2.0, 1.8, 1.6, 1.5, 30.0, 28.0, 1.4]))
    assert [d.first_step for d in found] == [5]


def test_grad_norm_that_jumps_routinely_does_not_confirm_a_small_spike() -> None:
    loss = [0.09, 0.08, 0.09, 0.08, 0.09, 0.08, 0.09, 0.08, 0.09, 0.08, 0.21]
    grad = [0.2, 0.2, 0.2, 5.0, 0.2, 0.2, 6.0, 0.2, 0.2, 0.2, 9.0]  # 25-45x, twice, quietly
    assert run("loss_spike", records(loss=loss, grad_norm=grad)) == []


def test_a_rare_grad_norm_jump_still_confirms_a_small_spike() -> None:
    loss = [0.09, 0.08, 0.09, 0.08, 0.09, 0.08, 0.09, 0.08, 0.09, 0.08, 0.21]
    grad = [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 9.0]
    (found,) = run("loss_spike", records(loss=loss, grad_norm=grad))
    assert found.id == "loss_spike"


LM_START = [10.9, 10.2, 9.1, 7.5, 6.2, 5.1, 4.6, 4.3, 4.1, 4.0, 3.95, 3.93]  # from ln 50257


def test_a_language_model_jump_that_holds_two_records_is_a_spike() -> None:
    (found,) = run("loss_spike", records(loss=[*LM_START, 10.3, 10.1, 4.2, 4.0]))
    assert found.first_step == len(LM_START) + 1


def test_a_language_model_jump_of_one_record_is_not() -> None:
    assert run("loss_spike", records(loss=[*LM_START, 10.3, 4.1, 4.0, 3.9])) == []


def test_a_small_loss_that_doubles_for_two_records_is_not_a_language_model_spike() -> None:
    start = [2.3, 1.8, 1.2, 0.9, 0.7, 0.6, 0.55, 0.5, 0.5, 0.48, 0.47, 0.46]
    assert run("loss_spike", records(loss=[*start, 1.1, 1.05, 0.5, 0.47])) == []


def test_a_fivefold_jump_in_a_quiet_run_is_a_spike() -> None:
    """Against eight losses within 50% of each other, a jump of 5x or more is no batch
    noise; in a run whose losses scatter more, it takes 10x."""
    quiet = [1.43, 1.44, 1.46, 1.43, 1.42, 1.45, 1.44, 1.43]
    found = run("loss_spike", records(loss=[*quiet, 7.9, 2.7, 1.6, 1.45]))
    assert [d.first_step for d in found] == [9]
    noisy = [1.0, 2.2, 0.9, 1.8, 1.1, 2.1, 1.2, 1.5]
    assert run("loss_spike", records(loss=[*noisy, 7.9, 2.7, 1.6, 1.45])) == []
    # 4.8x that falls straight back is one batch; held for a record it is a spike (the
    # calm window's rule, below).
    assert run("loss_spike", records(loss=[*quiet, 6.9, 1.5, 1.6, 1.45])) == []
    assert [d.first_step for d in run("loss_spike", records(loss=[*quiet, 6.9, 2.7, 1.6]))] == [9]


@pytest.mark.parametrize(
    ("window", "jump", "found"),
    [
        # a loss averaged over many batches, still to 2%: 2.7x over a two-record climb
        ([0.1492, 0.1467, 0.1465, 0.1479, 0.1471, 0.1496], [0.1603, 0.2777, 0.4075, 0.3455], 9),
        # a batch-of-one loss scattered 2x: 4x that stays is beyond its noise (3x needed)
        ([0.21, 0.18, 0.19, 0.2, 0.124, 0.248, 0.2, 0.21], [0.8, 0.86, 0.83, 0.8], 9),
        # ... and 2.9x is not
        ([0.21, 0.18, 0.19, 0.2, 0.124, 0.248, 0.2, 0.21], [0.58, 0.57, 0.56, 0.5], None),
    ],
)
def test_a_jump_far_beyond_a_calm_window_that_holds_is_a_spike(
    window: list[float], jump: list[float], found: int | None
) -> None:
    losses = [*window, *jump, *[window[-1]] * 4]
    steps = [d.first_step for d in run("loss_spike", records(loss=losses))]
    assert steps == ([] if found is None else [found])


def test_a_calm_jump_is_none_with_a_warm_restart_nor_in_a_heavy_tailed_run() -> None:
    calm = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01]
    jump = [2.6, 2.4, 1.8, 1.2, 1.0]
    # the learning rate rose with it: the schedule restarted
    lrs = [1e-5] * 8 + [1e-3] * 5
    assert run("loss_spike", records(loss=[*calm, *jump], lr=lrs)) == []
    assert len(run("loss_spike", records(loss=[*calm, *jump], lr=[1e-3] * 13))) == 1
    # two jumps that fell straight back: this loss is heavy-tailed
    tails = [*calm, 2.6, 1.0, *calm, 2.7, 1.0, *calm]
    assert run("loss_spike", records(loss=[*tails, *jump])) == []


def test_a_calm_jump_is_none_where_2x_jumps_came_out_of_wide_windows_before() -> None:
    # A loss of one image a batch (pytorch-semseg's ``Epoch [8/100] Loss: 0.7791`` every
    # 20 batches) scatters +-30%: a window that happens to be narrow, then a 2.3x batch
    # and two high ones, is its noise when 2x batches came out of wider windows before.
    window = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.2, 0.85]
    jump = [2.3, 1.6, 1.55, 1.0, 0.9, 1.1]
    assert [d.first_step for d in run("loss_spike", records(loss=[*window, *jump]))] == [9]
    noisy = [1.0, 1.6, 0.6, 1.3, 0.7, 1.0, 1.4, 0.8]
    before = [*noisy, 2.2, 1.0, *noisy, 2.1, 0.9, *noisy]
    assert run("loss_spike", records(loss=[*before, *window, *jump])) == []
    # one such jump is no pattern yet
    once = [*noisy, 2.2, 1.0, *noisy]
    assert len(run("loss_spike", records(loss=[*once, *window, *jump]))) == 1


def test_a_steady_climb_is_no_calm_jump() -> None:
    # OpenSTL's epochs: a loss still to 1% that climbs 20-30% an epoch is 2.4x its
    # window's median within 5 epochs, never 2x in the 3 a jump climbs through.
    calm = [0.0150, 0.0149, 0.0148, 0.0147, 0.0146, 0.0147, 0.0146, 0.0147]
    climb = [0.0176, 0.0222, 0.0266, 0.0305, 0.0385, 0.0464, 0.0557, 0.0678]
    assert run("loss_spike", records(loss=[*calm, *climb])) == []


def test_a_loss_that_went_below_zero_has_no_ratio_to_jump_by() -> None:
    # A policy-gradient surrogate hovers around 0 and changes sign: against a level of
    # -0.002 or 0.0005, 0.014 is no multiple of anything. Before its first negative
    # value a loss is judged as ever.
    calm = [0.002, 0.0015, 0.0021, 0.0018, 0.0019, 0.002, 0.0017]
    assert [d.first_step for d in run("loss_spike", records(loss=[*calm, 0.05]))] == [8]
    signed = [*calm, -0.0012, 0.0006, -0.002, 0.0004, -0.0018, 0.0141, 0.0005, -0.001, 0.03]
    assert run("loss_spike", records(loss=signed)) == []
