"""`oscillation`: firing cases beside near misses."""

from __future__ import annotations

import random

from tests.helpers import records, run

ZIGZAG = [0.61, 0.95, 0.58, 0.84, 0.56, 0.78, 0.54, 0.82, 0.55]


def test_persistent_large_alternation_fires() -> None:
    found = run("oscillation", records(loss=ZIGZAG))
    assert [(d.first_step, d.last_step) for d in found] == [(1, 9)]


def test_short_alternation_does_not_fire() -> None:
    assert run("oscillation", records(loss=ZIGZAG[:6])) == []


def test_small_swings_do_not_fire() -> None:
    losses = [0.600, 0.610, 0.601, 0.611, 0.602, 0.612, 0.603, 0.613, 0.604]
    assert run("oscillation", records(loss=losses)) == []


def test_alternation_while_descending_fast_is_progress() -> None:
    losses = [2.0, 2.1, 1.6, 1.7, 1.2, 1.3, 0.8, 0.9, 0.4]
    assert run("oscillation", records(loss=losses)) == []


def test_ordinary_noise_does_not_fire() -> None:
    rng = random.Random(0)
    losses = [1.0 + rng.gauss(0, 0.1) for _ in range(2000)]
    assert run("oscillation", records(loss=losses)) == []


def test_a_small_exact_cycle_on_a_drift_counts_once_it_persists() -> None:
    # 1% swings around a slowly falling level: the troughs of late cycles are below the
    # peaks of early ones only because of the drift.
    losses = [1.45 - 0.0002 * i + (0.005 if i % 2 else -0.005) for i in range(48)]
    (found,) = run("oscillation", records(loss=losses))
    assert found.id == "oscillation"


def test_a_small_cycle_that_stops_early_does_not() -> None:
    cycle = [1.45 + (0.005 if i % 2 else -0.005) for i in range(10)]
    settled = [1.44 - 0.001 * i for i in range(20)]
    assert run("oscillation", records(loss=cycle + settled)) == []


def test_a_regular_nine_percent_swing_counts() -> None:
    losses = [1.49, 0.63, 0.27] + [0.67787 if i % 2 else 0.744074 for i in range(40)]
    (found,) = run("oscillation", records(loss=losses))
    assert found.first_step is not None and found.first_step <= 4


def test_records_of_other_values_between_the_losses_break_no_alternation() -> None:
    # DALLE-pytorch prints ``0 300 loss - 6.644`` and, at other steps, ``0 309
    # sample_per_sec - 37.37``: records with no loss between the swings
    interleaved: list[float | None] = []
    for loss in ZIGZAG:
        interleaved += [loss, None]
    found = run("oscillation", records(loss=interleaved, sample_per_sec=[38.0] * 18))
    assert [(d.first_step, d.last_step) for d in found] == [(1, 17)]
    # a printed NaN between them still breaks it
    broken = [*ZIGZAG[:5], float("nan"), *ZIGZAG[5:]]
    assert run("oscillation", records(loss=broken)) == []


def test_the_flicker_of_a_rounded_print_is_no_cycle() -> None:
    # kbc's tqdm postfix rounds its loss to a whole number (``loss=9`` then ``loss=8``):
    # the alternation between two neighbouring printed values had been a cycle.
    flicker = [9.0, 8.0, 9.0, 8.0, 9.0, 8.0, 9.0, 8.0, 9.0, 8.0, 9.0, 8.0]
    assert run("oscillation", records(loss=flicker)) == []
    assert run("oscillation", records(loss=[v / 100 + 2.4 for v in flicker])) == []
    # The same swings printed with more digits, or swings of several of the last digit,
    # are still a cycle.
    assert run("oscillation", records(loss=[v + 0.01 * (i % 3) for i, v in enumerate(flicker)]))
    assert run("oscillation", records(loss=[v * 3 for v in flicker]))
