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
