"""`vanishing_gradient`: firing cases beside near misses."""

from __future__ import annotations

import random

from tests.helpers import records, run


def test_tiny_grad_with_flat_loss_fires() -> None:
    found = run(
        "vanishing_gradient",
        records(
            loss=[0.6934, 0.6931, 0.6932, 0.6930],
            grad_norm=[0.0015, 0.0011, 0.0009, 0.0010],
            param_norm=[3.12, 3.11, 3.10, 3.09],
        ),
    )
    assert [(d.first_step, d.last_step) for d in found] == [(1, 4)]


def test_tiny_grad_after_convergence_is_expected() -> None:
    found = run(
        "vanishing_gradient",
        records(
            loss=[2.3, 0.5, 0.01, 0.0101, 0.0100, 0.0100],
            grad_norm=[2.0, 0.5, 0.001, 0.001, 0.001, 0.001],
        ),
    )
    assert found == []


def test_tiny_grad_while_loss_still_moves_is_not_vanishing() -> None:
    found = run(
        "vanishing_gradient",
        records(loss=[0.69, 0.60, 0.52, 0.45], grad_norm=[0.001, 0.001, 0.001, 0.001]),
    )
    assert found == []


def test_two_records_are_not_enough() -> None:
    found = run("vanishing_gradient", records(loss=[0.69, 0.69], grad_norm=[0.001, 0.001]))
    assert found == []


def test_a_reported_episode_goes_on_through_a_short_gap() -> None:
    """A noisy grad norm near 1e-3 steps over the bar now and then: one record, or two
    in a row, do not end the episode (one incident, not one per gap), three do."""
    grads = [0.001] * 40
    grads[10] = grads[20] = grads[21] = 0.003  # gaps of one and two records
    found = run("vanishing_gradient", records(loss=[0.6931] * 40, grad_norm=grads))
    assert [(d.first_step, d.last_step, d.count) for d in found] == [(1, 40, 37)]
    grads[30] = grads[31] = grads[32] = 0.003  # three in a row: it ended
    found = run("vanishing_gradient", records(loss=[0.6931] * 40, grad_norm=grads))
    assert [(d.first_step, d.last_step) for d in found] == [(1, 30), (34, 40)]


def test_a_long_episode_counts_all_its_records() -> None:
    """The run keeps only its first and latest records; its length is counted."""
    found = run("vanishing_gradient", records(loss=[0.6931] * 300, grad_norm=[0.001] * 300))
    assert [d.count for d in found] == [300]
    assert "(300 records)" in found[0].message


def test_batch_noise_on_a_frozen_loss_is_one_episode() -> None:
    """A loss frozen at ln 2 with 10% batch noise and grad norms near 1e-3 breaks the 2%
    band every few records: each flat run between breaks resumes the episode already
    told, so the run gets one diagnosis, from its start to its end. A healthy stretch
    (grad norms far from tiny) ends it, and the next is told again."""
    rng = random.Random(5)
    losses, grads = [], []
    for step in range(1, 6001):
        healthy = 3000 < step <= 3100
        grads.append(0.8 if healthy else 1e-3 * (0.5 + rng.random()))
        losses.append(0.693 * (1 + rng.uniform(-0.1, 0.1)))
    found = run("vanishing_gradient", records(loss=losses, grad_norm=grads))
    assert len(found) == 2, [(d.first_step, d.last_step) for d in found]
    first, second = found
    assert first.first_step < 100 and 2800 < first.last_step <= 3000  # its last flat run
    assert 3100 < second.first_step < 3200 and second.last_step > 5800
    assert 2800 < first.count <= first.last_step - first.first_step + 1


def test_a_grad_norm_printed_now_and_then_is_judged_where_printed() -> None:
    """A loop that prints its loss every batch and its grad norm once an epoch: the
    records without one neither extend a run of tiny ones nor break it."""
    grads: list[float | None] = [0.0002 if i % 5 == 4 else None for i in range(40)]
    found = run("vanishing_gradient", records(loss=[0.6931] * 40, grad_norm=grads))
    assert [(d.first_step, d.last_step, d.count) for d in found] == [(5, 40, 8)]


def test_tiny_grads_beside_a_loss_scale_below_one_are_the_scalers() -> None:
    # VideoMAE in fp16: the scale halves from 1 to 1e-3, small gradients underflow to 0;
    # `loss_scale_collapse` tells it, and no vanishing gradient is told beside it.
    from gradlog.detectors.vanishing import VanishingGradientDetector
    from tests.test_blocks import assert_blocks_exact

    n = 200
    scales = [2.0 ** -(k // 20) for k in range(n)]
    grads = [1.0 if s >= 1 else 0.0 for s in scales]
    recs = records(loss=[0.6032 + 0.0001 * (k % 3) for k in range(n)], grad_norm=grads)
    assert run("vanishing_gradient", recs) != []  # (no scale printed: vanishing)
    scaled = records(
        loss=[0.6032 + 0.0001 * (k % 3) for k in range(n)], grad_norm=grads, loss_scale=scales
    )
    assert run("vanishing_gradient", scaled) == []
    # A scale of 1 and above amplifies: gradients tiny beside it vanish.
    kept = records(
        loss=[0.6032 + 0.0001 * (k % 3) for k in range(n)], grad_norm=grads, loss_scale=[1.0] * n
    )
    assert run("vanishing_gradient", kept) != []
    for recs in (scaled, kept):
        assert_blocks_exact(VanishingGradientDetector, recs, "vanishing_gradient")
