"""`overfitting`: firing cases beside near misses."""

from __future__ import annotations

import math
import random

from gradlog.model import Confidence, Severity
from tests.helpers import records, run

TRAIN = [1.2 * 0.85**i for i in range(12)]  # falls steadily, 1.2 -> 0.2


def test_val_rising_while_train_falls_is_a_warning() -> None:
    val = [1.0, 0.8, 0.7, 0.65, 0.68, 0.73, 0.78, 0.84, 0.9, 0.95, 1.0, 1.05]
    found = run("overfitting", records(loss=TRAIN, val_loss=val))
    assert [(d.first_step, d.severity) for d in found] == [(6, Severity.WARNING)]
    assert "best 0.65 at epoch 4" in found[0].message


def test_val_rising_with_train_is_not_overfitting() -> None:
    val = [1.0, 0.8, 0.7, 0.65, 0.68, 0.73, 0.78, 0.84]
    train = [1.0, 0.8, 0.7, 0.65, 0.7, 0.75, 0.8, 0.85]
    assert run("overfitting", records(loss=train, val_loss=val)) == []


def test_one_high_evaluation_is_noise() -> None:
    val = [1.0, 0.8, 0.7, 0.65, 0.75, 0.66, 0.64, 0.63, 0.63, 0.62, 0.62, 0.61]
    assert run("overfitting", records(loss=TRAIN, val_loss=val)) == []


def test_rise_under_ten_percent_is_clean() -> None:
    val = [1.0, 0.8, 0.7, 0.65, 0.67, 0.69, 0.7, 0.71, 0.71, 0.7, 0.71, 0.71]
    assert run("overfitting", records(loss=TRAIN, val_loss=val)) == []


def test_three_evaluations_are_too_few() -> None:
    found = run("overfitting", records(loss=TRAIN[:3], val_loss=[0.5, 0.6, 0.7]))
    assert found == []


def test_noisy_evaluations_over_a_long_healthy_run_are_clean() -> None:
    # 300 evaluations scattered 3% around a validation loss that flattens out: the best
    # of them is a lucky one, about 9% below the typical value.
    rng = random.Random(11)
    train: list[float | None] = []
    val: list[float | None] = []
    for i in range(3000):
        level = 0.5 + 1.5 * math.exp(-i / 500)
        train.append(level * math.exp(rng.gauss(0, 0.2)))
        val.append(1.1 * level * math.exp(rng.gauss(0, 0.03)) if i % 10 == 9 else None)
    assert run("overfitting", records(loss=train, val_loss=val)) == []


def _single_batch_evaluations(rise_from: int | None) -> tuple[list[float], list[float]]:
    """200 evaluations each of one batch, scattered by a factor of up to 1.8 either way
    around a level that settles (and, from ``rise_from``, climbs 3x), beside a training
    loss that goes on falling."""
    rng = random.Random(5)
    train, val = [], []
    for i in range(200):
        level = 0.04 + 0.5 * math.exp(-i / 40)
        if rise_from is not None and i >= rise_from:
            level *= 1 + 2 * min(1.0, (i - rise_from) / 20)
        train.append((0.03 + 0.4 * math.exp(-i / 40)) * (1 - i / 400))
        val.append(level * math.exp(rng.uniform(-1, 1) * math.log(1.8)))
    return train, val


def test_evaluations_noisier_than_any_window_calms_need_a_wider_margin() -> None:
    # Each evaluation scatters so far that even the median of 5 wanders 10-20%: the
    # best such median is lucky, and a later one 16% above it is noise, not a trend.
    # (The first 10, before the noise is known, are judged by the usual margin: noise
    # that large can make a short-lived alarm there.)
    train, val = _single_batch_evaluations(rise_from=None)
    found = run("overfitting", records(loss=train, val_loss=val))
    assert [d for d in found if d.first_step > 10] == []


def test_a_rise_beyond_that_noise_still_fires() -> None:
    train, val = _single_batch_evaluations(rise_from=140)
    found = [d for d in run("overfitting", records(loss=train, val_loss=val)) if d.first_step > 10]
    assert [d.severity for d in found] == [Severity.WARNING]
    assert 140 <= found[0].first_step <= 170


def test_an_evaluation_repeated_by_a_progress_bar_counts_once() -> None:
    # Each evaluation shows in 20 bar refreshes; one bad evaluation after a restart is
    # still one evaluation above the best, not 20.
    vals = [0.024, 0.016, 0.035, 0.010, 0.009, 0.008]
    train = [0.05 * 0.8**i for i in range(6 * 20)]
    val_per_record = [v for v in vals for _ in range(20)]
    assert run("overfitting", records(loss=train, val_loss=val_per_record)) == []


def test_a_rise_held_over_distinct_evaluations_still_fires() -> None:
    vals = [0.30, 0.25, 0.22, 0.26, 0.29, 0.33]
    train = [0.5 * 0.85**i for i in range(6 * 10)]
    val_per_record = [v for v in vals for _ in range(10)]
    (found,) = run("overfitting", records(loss=train, val_loss=val_per_record))
    assert found.id == "overfitting"


def test_a_two_evaluation_excerpt_with_a_stark_effect_fires_with_low_confidence() -> None:
    (found,) = run("overfitting", records(loss=[0.048, 0.001], val_loss=[0.038, 0.092]))
    assert found.confidence == Confidence.LOW


def test_a_two_evaluation_excerpt_with_a_modest_rise_does_not() -> None:
    assert run("overfitting", records(loss=[0.048, 0.001], val_loss=[0.038, 0.060])) == []


def test_a_validation_loss_of_zero_or_below_is_no_evaluation() -> None:
    # pair2vec's table prints ``Dev_Loss -1.000000`` until its first evaluation: a
    # placeholder, not a best to rise from (it had made overfitting at that evaluation).
    for placeholder in (-1.0, 0.0):
        val = [placeholder] * 6 + [0.9, 0.8, 0.75, 0.7, 0.68, 0.66]
        assert run("overfitting", records(loss=TRAIN, val_loss=val)) == []
    # A rise after the placeholders is still found, measured from the first real best.
    val = [-1.0] * 4 + [0.9, 0.7, 0.65, 0.7, 0.8, 0.9, 1.0, 1.1]
    found = run("overfitting", records(loss=TRAIN, val_loss=val))
    assert len(found) == 1 and "best 0.65" in found[0].message


def test_a_loss_below_zero_rises_by_shares_of_its_size() -> None:
    # nnU-Net's Dice plus cross-entropy: both losses below zero, the validation loss's
    # best -0.79 at epoch 15, then up to -0.53 while training falls to -0.94.
    from gradlog.detectors.overfitting import OverfittingDetector
    from tests.test_blocks import assert_blocks_exact

    rng = random.Random(3)
    train = [-0.54 - 0.4 * (1 - math.exp(-e / 12)) + rng.gauss(0, 0.005) for e in range(57)]
    val = [-0.52 - 0.27 * (1 - math.exp(-e / 4)) for e in range(16)]
    val += [-0.79 + 0.26 * (e - 15) / 41 + rng.gauss(0, 0.01) for e in range(16, 57)]
    recs = records(loss=train, val_loss=val)
    (found,) = run("overfitting", recs)
    assert "best -0.8" in found.message and "fell from -0.8" in found.message
    assert_blocks_exact(OverfittingDetector, recs, "overfitting")
    # Below zero and flat within noise: no rise. (A -1 placeholder before losses above
    # zero stays a placeholder, with no fraction: the test above.)
    flat = [-0.79 + rng.gauss(0, 0.01) for _ in range(57)]
    assert run("overfitting", records(loss=train, val_loss=flat)) == []


def test_a_placeholder_validation_loss_read_in_bulk_is_no_evaluation() -> None:
    from gradlog.engine import analyze

    rows = [
        f"{i * 100:6d} {1.2 * 0.97**i:.6f} "
        + ("-1.000000" if i < 40 else f"{0.9 - (i - 40) * 0.005:.6f}")
        for i in range(1, 121)
    ]
    report = analyze(["  Iteration     Loss     Dev_Loss", *rows])
    assert [d.id for d in report.diagnoses] == []
