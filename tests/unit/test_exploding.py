"""`exploding_gradient`: firing cases beside near misses."""

from __future__ import annotations

from gradlog.model import Severity
from tests.helpers import NAN, records, run


def test_large_grad_with_nan_loss_is_an_error() -> None:
    found = run(
        "exploding_gradient",
        records(
            loss=[0.5, 1.9, NAN, 3.2],
            grad_norm=[None, None, 1783.0, 2450.0],
            param_norm=[None, None, 965.0, 1412.0],
        ),
    )
    assert [(d.first_step, d.severity) for d in found] == [(3, Severity.ERROR)]


def test_tenfold_growth_over_early_level_persisting_is_an_error() -> None:
    grads = [1.0, 1.2, 0.9, 1.1, 1.0, 15.0, 18.0, 16.0, 1.0]
    found = run("exploding_gradient", records(loss=[1.0] * 9, grad_norm=grads))
    assert [(d.first_step, d.last_step, d.severity) for d in found] == [(6, 8, Severity.ERROR)]


def test_two_strong_records_cut_by_the_end_of_the_log_are_an_error() -> None:
    grads = [0.8, 0.79, 0.79, 0.8, 0.79, 11.5, 13.5]
    (found,) = run("exploding_gradient", records(loss=[10.0] * 7, grad_norm=grads))
    assert (found.first_step, found.severity) == (6, Severity.ERROR)


def test_growth_while_the_loss_falls_fast_is_progress_not_explosion() -> None:
    grads = [0.4, 0.4, 0.5, 0.45, 0.5, 6.0, 12.0, 10.0, 0.6, 0.5]
    loss = [0.70, 0.69, 0.67, 0.63, 0.56, 0.48, 0.45, 0.37, 0.30, 0.23]
    assert run("exploding_gradient", records(loss=loss, grad_norm=grads)) == []


def test_one_extreme_value_above_the_weights_is_an_error_alone() -> None:
    found = run(
        "exploding_gradient",
        records(loss=[619.0, 3.1, 2.4], grad_norm=[1053.0, 35.4, 9.9], param_norm=[88.8] * 3),
    )
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.ERROR)]


def test_a_spiky_run_s_relative_jumps_are_its_noise() -> None:
    grads = [0.2, 0.2, 0.2, 0.2, 0.2, 5.0, 0.2, 0.2, 6.0, 0.2, 0.2, 7.0, 8.0, 7.5, 0.2]
    assert run("exploding_gradient", records(loss=[0.1] * 15, grad_norm=grads)) == []


def test_single_large_value_without_corroboration_is_not_reported() -> None:
    grads = [1.0, 1.2, 0.9, 1.1, 1.0, 15.0, 1.0, 1.0]
    assert run("exploding_gradient", records(loss=[1.0] * 8, grad_norm=grads)) == []


def test_grad_above_param_norm_persisting_is_a_warning() -> None:
    found = run(
        "exploding_gradient",
        records(
            loss=[0.6] * 4, grad_norm=[18.0, 60.0, 20.0, 45.0], param_norm=[12.0, 15.0, 13.0, 14.0]
        ),
    )
    assert [d.severity for d in found] == [Severity.WARNING]


def test_healthy_norms_are_clean() -> None:
    found = run(
        "exploding_gradient",
        records(loss=[2.0, 1.5, 1.2], grad_norm=[2.0, 1.5, 3.0], param_norm=[30.0, 30.5, 31.0]),
    )
    assert found == []


def test_a_reported_episode_goes_on_through_a_short_gap() -> None:
    """Norms over `absolute` that dip under it for one or two records are one episode,
    and the healthy level it is told against is the one before it; three healthy norms
    in a row end it."""
    grads = [1.0, 1.1, 0.9, 1.0, 1.2] + [150.0] * 5 + [1.0] + [150.0] * 5 + [1.0, 1.0] + [150.0]
    found = run("exploding_gradient", records(loss=[1.0] * len(grads), grad_norm=grads))
    assert [(d.first_step, d.last_step, d.count) for d in found] == [(6, 19, 11)]
    assert "against a healthy level of 1;" in found[0].message
    grads += [1.0, 1.0, 1.0] + [150.0] * 4
    found = run("exploding_gradient", records(loss=[1.0] * len(grads), grad_norm=grads))
    assert [(d.first_step, d.last_step) for d in found] == [(6, 19), (23, 26)]


def test_a_norm_that_opens_the_run_high_and_falls_is_the_start_settling() -> None:
    # FFJORD: grad norm 179 at iteration 0, falling to 5 over the first 1000 iterations
    # while the loss falls slowly; later, a norm that climbs far above its settled level
    # is an explosion.
    settling = [179.0, 168.0, 158.0, 150.0, 141.0, 131.0, 120.0, 104.0, 60.0, 20.0, 8.0, 6.0]
    loss = [8.36, 8.29, 8.12, 8.05, 7.98, 7.9, 7.8, 7.7, 7.5, 7.3, 7.1, 7.0]
    assert run("exploding_gradient", records(loss=loss, grad_norm=settling)) == []
    climbing = [*settling, 6.5, 7.0, 356.0, 420.0, 510.0, 600.0]
    found = run(
        "exploding_gradient",
        records(loss=[*loss, 7.0, 7.0, 7.1, 7.2, 7.2, 7.3], grad_norm=climbing),
    )
    assert [(d.first_step, d.severity) for d in found] == [(15, Severity.ERROR)]
    # a run whose norm opens high and keeps climbing is no settling
    rising = [150.0, 180.0, 240.0, 300.0, 390.0]
    found = run("exploding_gradient", records(loss=[5.0] * 5, grad_norm=rising))
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.ERROR)]


def test_an_extreme_first_norm_waits_one_record_to_tell_settling_from_explosion() -> None:
    # LeRobot's ACT: grdn 1741 at step 0 (past 10x the absolute level), 185 after, down
    # to 20s: the start settling, not an explosion, though that first norm is extreme.
    settling = [1741.0, 185.0, 156.0, 120.0, 60.0, 25.0, 20.0, 22.0, 18.0, 21.0]
    loss = [60.6, 4.2, 3.2, 1.7, 1.1, 0.9, 0.8, 0.7, 0.7, 0.6]
    assert run("exploding_gradient", records(loss=loss, grad_norm=settling)) == []
    # The same first norm with the next as high or higher: an explosion from the start.
    found = run("exploding_gradient", records(loss=loss, grad_norm=[1741.0, 1900.0, *settling]))
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.ERROR)]
    # Ten times the weights' own norm needs no second record (a blown-up initialisation).
    found = run(
        "exploding_gradient",
        records(loss=loss, grad_norm=settling, param_norm=[88.8] * len(settling)),
    )
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.ERROR)]
    # A log of that one record alone is judged by it.
    found = run("exploding_gradient", records(loss=[60.6], grad_norm=[1741.0]))
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.ERROR)]


def test_a_grad_norm_that_jumps_with_the_loss_and_settles_at_once_is_the_spikes() -> None:
    # openpi, Unsloth, XTuner: one bad batch lifts the loss 15-100x and the grad norm
    # 30-300x for a record or two, then both are back: loss_spike tells of both; an
    # explosion must outlast the jump as any other episode does.
    base = [0.2, 0.21, 0.19, 0.2, 0.18, 0.2, 0.19, 0.2]
    loss = [0.3, 0.29, 0.28, 0.27, 0.26, 0.25, 0.25, 0.24, 3.0, 0.39, 0.23, 0.24, 0.23]
    grads = [*base, 64.9, 0.25, 0.2, 0.21, 0.2]
    assert run("exploding_gradient", records(loss=loss, grad_norm=grads)) == []
    # Held for three records, it is one.
    held = [*base, 64.9, 55.0, 48.0, 0.2, 0.2]
    found = run("exploding_gradient", records(loss=loss, grad_norm=held))
    assert [(d.first_step, d.severity) for d in found] == [(9, Severity.ERROR)]
    # And a NaN after the jump settles it at once.
    nan_after = [*loss[:9], NAN, NAN]
    found = run("exploding_gradient", records(loss=nan_after, grad_norm=[*base, 64.9, 80.0, NAN]))
    assert [(d.first_step, d.severity) for d in found] == [(9, Severity.ERROR)]
    # ... on a line with no grad norm too; and a jump the log ends on is never seen to
    # settle (fairseq's ``FloatingPointError`` after it).
    nan_line = records(loss=[*nan_after, 0.3], grad_norm=[*base, 64.9, None, None, 0.2])
    found = run("exploding_gradient", nan_line)
    assert [(d.first_step, d.severity) for d in found] == [(9, Severity.ERROR)]
    found = run("exploding_gradient", records(loss=loss[:9], grad_norm=[*base, 64.9]))
    assert [(d.first_step, d.severity) for d in found] == [(9, Severity.ERROR)]
