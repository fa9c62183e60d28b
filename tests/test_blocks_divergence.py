"""`divergence` reads blocks exactly as it reads records, where it fires and nearly does.

The generated runs of ``test_blocks`` rarely make this rule fire; these do: smooth and
noisy runs whose loss climbs (and recovers, and climbs again), steps to a higher level
that hold, blow-ups, validation losses alone or confirmed by the training loss, a
window that grows as the noise does, negative losses, and values that are missing, not
finite or zero. Each is read as records (the oracle) and as blocks of random sizes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import pytest

from gradlog.config import Thresholds
from gradlog.detectors import divergence_block
from gradlog.detectors.divergence import DivergenceDetector
from gradlog.model import Record
from tests.test_blocks import _blocks, _oracle

Shape = Callable[[int], float]


def _run(
    rng: random.Random,
    length: int,
    shape: Shape,
    noise: Callable[[int], float],
    val_every: int = 0,
    train: bool = True,
    odd: float = 0.0,
) -> tuple[Record, ...]:
    """Records of a loss ``shape(i)`` times log-normal noise of ``noise(i)``; every
    ``val_every`` records a validation loss that follows it; a share ``odd`` of records
    with a loss that is missing, not finite or zero."""
    records = []
    for i in range(1, length + 1):
        loss = shape(i) * math.exp(noise(i) * rng.gauss(0, 1))
        metrics = {"lr": 1e-3 * (1 + 4 * (i > length // 2))}
        if train:
            metrics["loss"] = loss
            if rng.random() < odd:
                metrics["loss"] = rng.choice((math.nan, math.inf, 0.0, loss))
                if rng.random() < 0.3:
                    del metrics["loss"]
        if val_every and i % val_every == 0:
            metrics["val_loss"] = 1.1 * loss * math.exp(0.01 * rng.gauss(0, 1))
        records.append(Record(i, i, metrics, epoch=i if val_every == 1 else None))
    return tuple(records)


def _decay(start: float, floor: float, scale: float) -> Shape:
    return lambda i: floor + (start - floor) * math.exp(-i / scale)


def _bumps(base: Shape, bumps: list[tuple[int, int, float]]) -> Shape:
    """``base`` times a climb to ``factor`` from ``at`` over ``length`` records, held as
    long again, then back down: (at, length, factor) each."""

    def shape(i: int) -> float:
        value = base(i)
        for at, length, factor in bumps:
            if at <= i < at + 3 * length:
                rise = min(1.0, (i - at + 1) / length, (at + 3 * length - i) / length)
                value *= factor**rise
        return value

    return shape


def _step(base: Shape, at: int, factor: float) -> Shape:
    return lambda i: base(i) * (factor if i >= at else 1.0)


def _blowup(base: Shape, at: int, length: int) -> Shape:
    return lambda i: base(i) * (3e4 if at <= i < at + length else 1.0)


def _flat(level: float) -> Callable[[int], float]:
    return lambda i: level


SCENARIOS: dict[str, tuple[bool, Callable[[random.Random], tuple[Record, ...]]]] = {
    # name: (fires, records)
    "smooth_climbs_twice": (
        True,
        lambda rng: _run(
            rng,
            5000,
            _bumps(_decay(2.3, 0.3, 800), [(1500, 200, 2.5), (3500, 150, 3.0)]),
            _flat(0.01),
        ),
    ),
    "noisy_climbs_twice": (
        True,
        lambda rng: _run(
            rng,
            9000,
            _bumps(_decay(2.3, 0.5, 1500), [(3000, 400, 2.6), (6500, 300, 6.0)]),
            _flat(0.25),
        ),
    ),
    "near_miss_climb": (
        False,
        lambda rng: _run(
            rng,
            5000,
            _bumps(_decay(2.3, 0.3, 800), [(2000, 300, 1.3), (3800, 100, 1.35)]),
            _flat(0.01),
        ),
    ),
    "step_that_holds": (
        True,
        lambda rng: _run(rng, 4000, _step(_decay(2.3, 0.3, 600), 2500, 2.4), _flat(0.02)),
    ),
    "moderate_step_that_holds": (  # abrupt: it counts as climbing over the stretch
        True,
        lambda rng: _run(rng, 4000, _step(_decay(2.3, 0.3, 600), 2500, 1.6), _flat(0.02)),
    ),
    "blowup_and_back": (
        True,
        lambda rng: _run(rng, 3000, _blowup(_decay(2.3, 0.3, 500), 1700, 3), _flat(0.03)),
    ),
    "noise_grows_window_grows": (
        True,
        lambda rng: _run(
            rng,
            8000,
            _bumps(_decay(2.3, 0.4, 1000), [(6000, 300, 3.0)]),
            lambda i: 0.005 + 0.3 * (i / 8000) ** 2,
        ),
    ),
    "validation_alone": (
        True,
        lambda rng: _run(
            rng,
            6000,
            _bumps(_decay(2.3, 0.3, 800), [(3000, 300, 2.5)]),
            _flat(0.02),
            val_every=10,
            train=False,
        ),
    ),
    "validation_with_training": (
        True,
        lambda rng: _run(
            rng,
            6000,
            _bumps(_decay(2.3, 0.3, 800), [(2500, 250, 3.0), (4500, 200, 2.2)]),
            _flat(0.02),
            val_every=7,
        ),
    ),
    "epochs_short": (
        True,
        lambda rng: _run(
            rng, 60, _bumps(_decay(1.0, 0.25, 5), [(25, 5, 2.0)]), _flat(0.002), val_every=1
        ),
    ),
    "odd_values": (
        True,
        lambda rng: _run(
            rng,
            6000,
            _bumps(_decay(2.3, 0.3, 800), [(2000, 200, 2.5), (4200, 200, 4.0)]),
            _flat(0.05),
            odd=0.03,
        ),
    ),
}


def _negative(rng: random.Random) -> tuple[Record, ...]:
    """A run whose loss turns negative halfway (an RL objective): never judged after."""
    records = _run(rng, 3000, _bumps(_decay(2.3, 0.3, 500), [(2200, 100, 5.0)]), _flat(0.02))
    records[1500].metrics["loss"] = -0.5
    return records


SCENARIOS["negative_halfway"] = (False, _negative)


def _confirmed(rng: random.Random) -> tuple[Record, ...]:
    """A training loss creeping above its bar, too slowly to be proved itself, while the
    validation loss triples: the training side confirms the validation climb."""
    records = []
    for i in range(1, 6001):
        base = 0.3 + 2.0 * math.exp(-i / 400)
        loss = base * 1.6 ** min(1, max(0, (i - 2000) / 3000)) * math.exp(0.01 * rng.gauss(0, 1))
        metrics = {"loss": loss}
        if i % 5 == 0:
            rise = 3.0 ** min(1, max(0, (i - 4200) / 50))
            metrics["val_loss"] = 1.1 * base * rise * math.exp(0.01 * rng.gauss(0, 1))
        records.append(Record(i, i, metrics))
    return tuple(records)


SCENARIOS["validation_confirmed_by_training"] = (True, _confirmed)


def _converged_noisy(rng: random.Random) -> tuple[Record, ...]:
    """A loss that converges toward 0.01 under batch noise of 0-0.1 added to it: far
    larger than its level, and lopsided in log (a level often above its best by more
    than ``min_rise``, while its bar, several standard errors up, is higher still)."""
    return tuple(
        Record(i, i, {"loss": 2 / (1 + i / 50) + 0.1 * rng.random()}) for i in range(1, 20001)
    )


SCENARIOS["converged_noise_above_level"] = (False, _converged_noisy)


def _frozen(rng: random.Random) -> tuple[Record, ...]:
    """A loss frozen as printed to 4 decimals: one value for long stretches (every
    median ties the best), then two in turn, then a climb from it and back, then steps
    down to new bests that hold (the first of the tied medians is the best's record)."""
    losses = [0.6931] * 6000 + [rng.choice((0.6931, 0.6932)) for _ in range(6000)]
    losses += [round(0.6931 * 1.0004**i, 4) for i in range(3000)] + [0.6931] * 3000
    losses += [0.65] * 3000 + [0.6] * 3000  # (new bests, tied for thousands of records)
    return tuple(Record(i, i, {"loss": loss}) for i, loss in enumerate(losses, 1))


SCENARIOS["frozen_as_printed"] = (True, _frozen)


def _climbs_and_holds(stages: list[tuple[int, int, float]]) -> Shape:
    """A decay, then climbs that each hold where they reach: (at, length, factor)."""
    base = _decay(2.3, 0.4, 800)

    def shape(i: int) -> float:
        value = base(i)
        for at, length, factor in stages:
            value *= factor ** min(1.0, max(0.0, (i - at) / length))
        return value

    return shape


# A run that diverged and trained on: the climb stays reported for many blocks, turns
# severe later (told again), is confirmed by a validation loss, or ends on the way back.
SCENARIOS["diverged_and_stays"] = (
    True,
    lambda rng: _run(rng, 14000, _climbs_and_holds([(3000, 1500, 3.0)]), _flat(0.05)),
)
SCENARIOS["diverged_then_worse"] = (
    True,
    lambda rng: _run(
        rng, 14000, _climbs_and_holds([(3000, 1000, 2.5), (8000, 1000, 3.0)]), _flat(0.08)
    ),
)
SCENARIOS["diverged_with_validation"] = (
    True,
    lambda rng: _run(rng, 12000, _climbs_and_holds([(3000, 1500, 3.0)]), _flat(0.05), val_every=10),
)
SCENARIOS["diverged_then_back"] = (
    True,
    lambda rng: _run(
        rng, 12000, _climbs_and_holds([(3000, 800, 2.4), (7000, 2000, 1 / 2.4)]), _flat(0.1)
    ),
)
SCENARIOS["very_noisy_climb"] = (  # a level's error near ``max_level_error``
    True,
    lambda rng: _run(rng, 9000, _bumps(_decay(2.3, 0.5, 1500), [(4000, 600, 5.0)]), _flat(0.7)),
)


def _interleaved(rng: random.Random) -> tuple[Record, ...]:
    """Three runs printed into one log in turns of 1-40 records, each on its own decay:
    the level steps between theirs, above its bar for long stretches that neither climb
    nor hold (the screen must still find each record a climb may be proved at)."""
    shapes = [_decay(2.3, 0.4, scale) for scale in (900, 1400, 2600)]
    counts, records, i = [0, 0, 0], [], 0
    while i < 9000:
        run = rng.randrange(3)
        for _ in range(rng.randint(1, 40)):
            counts[run] += 1
            i += 1
            loss = shapes[run](counts[run]) * math.exp(0.02 * rng.gauss(0, 1))
            records.append(Record(i, i, {"loss": loss, "lr": 1e-3}))
    return tuple(records)


SCENARIOS["interleaved_runs"] = (True, _interleaved)
SCENARIOS["moderate_step_then_flat"] = (  # above the bar for long, never climbing on
    False,
    lambda rng: _run(rng, 6000, _climbs_and_holds([(2500, 40, 1.5)]), _flat(0.03)),
)


def _ends_climbing(rng: random.Random, nan: bool = False) -> tuple[Record, ...]:
    """A noisy decay for 5,000 records, then 7 more, each 1.5x the one before (the run
    stopped or aborted as its loss ran away); with ``nan``, a NaN loss after them."""
    records = list(_run(rng, 5000, _decay(2.3, 0.5, 800), _flat(0.05)))
    loss = records[-1].metrics["loss"]
    for i in range(5001, 5008):
        loss *= 1.5
        records.append(Record(i, i, {"loss": loss, "lr": 1e-3}))
    if nan:
        records.append(Record(5008, 5008, {"loss": math.nan, "lr": 1e-3}))
    return tuple(records)


SCENARIOS["ends_climbing"] = (True, _ends_climbing)
SCENARIOS["ends_climbing_then_nan"] = (False, lambda rng: _ends_climbing(rng, nan=True))


def _running_average(rng: random.Random, bad_epoch: int | None = 5) -> tuple[Record, ...]:
    """The epoch's running average printed every 10 of its 200 batches, for 60 epochs
    of a decay; in ``bad_epoch``, batches 20-27 lose 35x: the average jumps, then the
    bad batches are diluted (a fall back, never a climb that holds)."""
    records, i = [], 0
    for epoch in range(60):
        total = 0.0
        for batch in range(200):
            loss = (0.7 + 1.6 * math.exp(-epoch / 8)) * math.exp(0.12 * rng.gauss(0, 1))
            if epoch == bad_epoch and 20 <= batch < 28:
                loss *= 35
            total += loss
            if batch % 10 == 0:
                i += 1
                records.append(Record(i, i, {"loss": total / (batch + 1), "lr": 1e-3}))
    return tuple(records)


SCENARIOS["running_average_spike"] = (False, _running_average)
SCENARIOS["jump_that_decays_to_a_held_level"] = (  # falls back from 30x, then holds at 4x
    True,
    lambda rng: _run(
        rng,
        3000,
        _climbs_and_holds([(1500, 2, 30.0), (1502, 300, 4 / 30)]),
        _flat(0.05),
    ),
)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_divergence_blocks_read_as_records(name: str) -> None:
    fires, make = SCENARIOS[name]
    thresholds = Thresholds()
    for seed in range(3):
        records = make(random.Random(f"{name}{seed}"))
        single, blocked = DivergenceDetector(thresholds), DivergenceDetector(thresholds)
        expected = _oracle(single, records) + [(-1, d) for d in single.finish()]
        if fires:
            assert expected, name  # the case must make the rule fire
        rng = random.Random(f"{name}{seed}blocks")
        got = _blocks(blocked, records, rng) + [(-1, d) for d in blocked.finish()]
        assert got == expected, name


@pytest.mark.parametrize("width", [1, 2, 3, 6, 7])
def test_row_medians_are_numpys(width: int) -> None:
    """The windows' medians are ``np.median``'s, NaN where a window holds one."""
    rows = np.random.default_rng(width).normal(size=(40, width))
    rows[3, 0] = rows[7, -1] = np.nan
    found = divergence_block._row_medians(rows)
    assert np.array_equal(found, np.median(rows, axis=1), equal_nan=True)


def test_a_busy_scan_takes_every_log_exactly() -> None:
    # ``np.log`` may differ from ``math.log`` in the last bit: a scan makes exact the logs
    # it compares, and once that costs as much as taking them all, takes them all.
    # Either way each log it calls exact is ``math.log``'s, bit for bit.
    from gradlog.detectors.levels import Level

    rng = random.Random(3)
    raw = np.array([rng.uniform(0.01, 100.0) for _ in range(4000)])
    # (logs a bit off, as np.log's may be on some machines)
    logs = np.nextafter(np.log(raw), np.inf)
    level = Level("loss", Thresholds().divergence)
    for value in (2.0, 2.1, 1.9):
        level.add(value, Record(1, 1, {"loss": value}))
    scan = divergence_block.Scan(level, raw, logs, np.arange(len(raw)), [])
    head = scan.head
    scan._fix(head + np.array([5, 7, 5]))
    assert not scan.all_exact
    assert scan.exact.sum() == head + 2
    assert scan.logs[head + 5] == math.log(raw[5]) and scan.logs[head + 6] != math.log(raw[6])
    calls = 0
    while not scan.all_exact:
        scan._fix(head + np.arange(10 * calls, 10 * calls + 10))
        calls += 1
    assert 1 < calls < 100  # (some fixing first, then all at once)
    exact = [math.log(v) for v in raw.tolist()]
    assert scan.logs[head:].tolist() == exact
    assert scan.exact.all()
