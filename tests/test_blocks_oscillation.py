"""`oscillation` read in blocks is read as record by record, on runs made to fire it.

The generated runs of test_blocks.py zig-zag only in places; these hold regular cycles
(clean, drifting, settling after larger bounces, small but persistent) that are reported,
closed by a break or a missing loss and reported again, and cycles that only nearly
qualify (too short, irregular, trending), over many block cuts.
"""

from __future__ import annotations

import math
import random

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.oscillation import OscillationDetector
from gradlog.model import Record
from tests.test_blocks import _oracle, assert_whole_and_cut_exact


def _records(losses: list[float]) -> tuple[Record, ...]:
    found = []
    for i, loss in enumerate(losses):
        metrics = {"loss": loss, "grad_norm": 1.0}
        if math.isnan(loss) and i % 2:
            del metrics["loss"]  # a record without the loss, beside one printing NaN
        found.append(Record(i + 1, i + 1, metrics, epoch=i // 100))
    return tuple(found)


def _descent(rng: random.Random, start: float, count: int) -> list[float]:
    return [start * math.exp(-i / 400) + rng.gauss(0, 0.01) for i in range(count)]


def _cycle(
    rng: random.Random, level: float, swing: float, count: int, drift: float = 0.0
) -> list[float]:
    return [
        level + drift * i + swing * (-1) ** i * (1 + rng.uniform(-0.1, 0.1)) for i in range(count)
    ]


def _firing() -> list[tuple[str, tuple[Record, ...]]]:
    """Runs on which the oracle reports something."""
    rng = random.Random(3)
    # A healthy start, a cycle, recovery, then another cycle later on.
    twice = _descent(rng, 2.0, 1500) + _cycle(rng, 0.9, 0.2, 300)
    twice += _descent(rng, 0.8, 800) + _cycle(rng, 0.5, 0.1, 400) + _descent(rng, 0.5, 300)
    drifting = _descent(rng, 3.0, 600) + _cycle(rng, 1.2, 0.3, 500, drift=-2e-4)
    # Big settling bounces before the regular cycle.
    settling = _descent(rng, 2.0, 500) + _cycle(rng, 1.0, 0.6, 6) + _cycle(rng, 1.0, 0.2, 200)
    # A swing of 2% of the level, exact and long: it counts once persistent.
    small = _descent(rng, 2.0, 200) + [1.0 + 0.02 * (-1) ** i for i in range(300)]
    # Cycles closed by missing or non-finite losses and by a repeated value, then resumed.
    gapped = _descent(rng, 2.0, 400)
    for _ in range(6):
        gapped += _cycle(rng, 1.0, 0.25, rng.choice((40, 90, 150)))
        gapped += rng.choice(([math.nan], [math.inf, math.nan], [gapped[-1]]))
        gapped += _descent(rng, 1.0, rng.choice((3, 30, 200)))
    return [
        ("twice", _records(twice)),
        ("drifting", _records(drifting)),
        ("settling", _records(settling)),
        ("small", _records(small)),
        ("gapped", _records(gapped)),
    ]


def _near_misses() -> list[tuple[str, tuple[Record, ...]]]:
    """Runs that zig-zag without (or only barely with) a reportable cycle, and random
    mixtures of noise, cycles and gaps."""
    rng = random.Random(5)
    short = _descent(rng, 2.0, 300)
    for _ in range(40):  # alternations one record too short, again and again
        short += [*_cycle(rng, 1.0, 0.2, 7), 1.5, 1.6]
    irregular = [1.0 + (-1) ** i * rng.choice((0.02, 0.5)) for i in range(2000)]
    trending = [2.0 - 0.05 * i + 0.03 * (-1) ** i for i in range(30)] + _descent(rng, 0.5, 500)
    noise = [1.0 + rng.gauss(0, 0.05) for _ in range(20000)]
    runs = [
        ("short", _records(short)),
        ("irregular", _records(irregular)),
        ("trending", _records(trending)),
        ("noise", _records(noise)),
    ]
    for seed in range(6):
        mix_rng = random.Random(seed)
        losses: list[float] = []
        while len(losses) < 6000:
            kind = mix_rng.random()
            count = mix_rng.choice((2, 5, 9, 20, 40, 100, 400))
            level = mix_rng.choice((0.5, 1.0, 3.0))
            if kind < 0.4:
                swing = mix_rng.choice((0.001, 0.02, 0.1, 0.5)) * level
                drift = mix_rng.choice((0.0, 1e-4, -1e-3))
                losses += _cycle(mix_rng, level, swing, count, drift)
            elif kind < 0.8:
                losses += [level + mix_rng.gauss(0, 0.02) for _ in range(count)]
            elif kind < 0.9:
                losses += [level] * mix_rng.choice((1, 2, 3))
            else:
                losses += [mix_rng.choice((math.nan, math.inf))] * mix_rng.choice((1, 2, 30))
        runs.append((f"mix_{seed}", _records(losses)))
    return runs


def _check(records: tuple[Record, ...], name: str, thresholds: Thresholds | None = None) -> None:
    assert_whole_and_cut_exact(OscillationDetector, records, name, thresholds)


# Thresholds away from the defaults: the screens read them, never assume them.
VARIANTS = [
    {"min_records": 3, "extra_per_doubling": 0.0},
    {"window": 4},
    {"window": 1, "min_records": 1},
    {"min_gap": 0.0, "min_gap_swing": 0.0, "max_swing_spread": 10.0, "max_progress": 10.0},
    {"persistent": 1.0, "extra_per_doubling": 3.0},
]


@pytest.mark.parametrize("change", VARIANTS, ids=str)
def test_other_thresholds_read_in_blocks(change: dict[str, float]) -> None:
    limits = Thresholds().oscillation._replace(**change)
    thresholds = Thresholds()._replace(oscillation=limits)
    for name, records in _firing() + _near_misses()[:3]:
        _check(records, name, thresholds)


@pytest.mark.parametrize(("name", "records"), _firing(), ids=lambda x: str(x)[:20])
def test_firing_runs_read_in_blocks(name: str, records: tuple[Record, ...]) -> None:
    detector = OscillationDetector(Thresholds())
    assert _oracle(detector, records) + list(detector.finish()), name  # it does fire
    _check(records, name)


def test_a_cycle_reported_again_after_recovery() -> None:
    (_, records) = next(run for run in _firing() if run[0] == "twice")
    detector = OscillationDetector(Thresholds())
    found = [d for _, d in _oracle(detector, records)] + list(detector.finish())
    assert len({d.first_step for d in found}) >= 2


@pytest.mark.parametrize(("name", "records"), _near_misses(), ids=lambda x: str(x)[:20])
def test_near_misses_read_in_blocks(name: str, records: tuple[Record, ...]) -> None:
    _check(records, name)
