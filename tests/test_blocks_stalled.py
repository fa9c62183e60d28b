"""`stalled` reads blocks exactly as records, on runs written to make each sign fire,
nearly fire and fire again after the run recovers, across block boundaries."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.stalled import StalledDetector
from gradlog.model import Record
from gradlog.parse.events import OVERFLOW, SKIPPED_STEP
from tests.test_blocks import _blocks, assert_cut_runs_exact, state_of

Metrics = dict[str, float]


def _loss(rng: random.Random, i: int) -> float:
    """A healthy loss printed to 4 decimals: falling, with noise."""
    return round(0.4 + 2.0 * math.exp(-i / 300) + rng.uniform(-0.05, 0.05), 4)


def _build(rows: list[Metrics], epochs: list[float | None] | None = None) -> tuple[Record, ...]:
    epochs = epochs or [None] * len(rows)
    return tuple(
        Record(i, i, metrics, epoch=epoch)
        for i, (metrics, epoch) in enumerate(zip(rows, epochs, strict=True), 1)
    )


def _flat(rng: random.Random) -> float:
    """A loss that no longer falls, printed to 4 decimals."""
    return round(0.9 + rng.uniform(-0.05, 0.05), 4)


def _dead_rates(rng: random.Random) -> tuple[Record, ...]:
    """A learning rate that warms up from 0, decays to 0, comes back, collapses a
    millionfold, comes back, rounds to 0 at 4 decimals (alive), and ends at 0, under a
    loss that does not fall."""
    lrs: list[float | None] = [0.0] * 3 + [3e-4 * i / 20 for i in range(1, 21)]
    lrs += [3e-4] * rng.randint(10, 40)
    lrs += [1.23e-6, 4.5e-7] + [0.0] * rng.randint(30, 60)  # dead: fires
    lrs += [2.5e-4] * rng.randint(5, 40)  # back: the episode ends
    lrs += [0.0] * rng.randint(3, 8)  # too short to fire
    lrs += [2.5e-4] * rng.randint(5, 40)
    lrs += [2.5e-11] * rng.randint(60, 90)  # collapsed a millionfold: fires
    lrs += [None, math.nan, -1.0]  # (not rates)
    lrs += [3e-4 * (1 - i / 400) for i in range(rng.randint(5, 50))]
    lrs += [0.0003] * 10 + [0.0002] * 10 + [0.0001] * 8 + [0.0] * 30  # rounded: alive
    lrs += [1e-3] * rng.randint(5, 40) + [5e-10] * 5 + [1e-3] * 10  # short collapse
    lrs += [0.0012] * 20 + [0.0] * rng.randint(120, 200)  # dead again to the end
    rows: list[Metrics] = []
    for lr in lrs:
        metrics = {"loss": _flat(rng)}
        if rng.random() < 0.05:
            del metrics["loss"]
        if lr is not None and rng.random() < 0.97:
            metrics["lr"] = lr
        rows.append(metrics)
    return _build(rows)


def _zero_from_the_start(rng: random.Random) -> tuple[Record, ...]:
    """A rate that is 0 from the first record: long enough to fire, then it starts."""
    lrs = [0.0] * rng.randint(55, 120) + [1e-4] * rng.randint(10, 600)
    rows = [{"loss": _flat(rng), "lr": lr} for lr in lrs]
    return _build(rows)


def _frozen(rng: random.Random) -> tuple[Record, ...]:
    """A loss and a validation loss that freeze (and nearly freeze) at various places;
    epochs of several records, of one record, and none."""
    losses: list[float] = []
    per_epoch = rng.choice((1, 3))
    for part in range(12):
        losses += [_loss(rng, len(losses) + i) for i in range(rng.randint(10, 60))]
        kind = part % 6
        if kind == 0:  # frozen on a third of the units so far: fires
            losses += [0.9876 + part] * (len(losses) // 2 + rng.randint(6, 40))
        elif kind == 1:
            losses += [0.8765] * 4  # one unit short
        elif kind == 2:
            losses += [0.6931] * 20  # at chance: left to chance_plateau
        elif kind == 3:
            losses += [0.0012] * 20  # 2 significant digits: converged
        elif kind == 4:
            losses += [0.67787, 0.744074] * 20  # a cycle
        else:
            losses += [1.234] * (len(losses) // 2)  # frozen again
    rows: list[Metrics] = [{"loss": loss, "lr": 3e-4} for loss in losses]
    frozen_val = 7 * rng.randrange(5)
    for i in range(0, len(rows), 7):
        near = frozen_val <= i < frozen_val + 7 * rng.randint(3, 9)
        rows[i]["val_loss"] = 0.9285 if near else round(rng.uniform(0.5, 1.5), 4)
    epochs: list[float | None] = []
    for i in range(len(rows)):
        band = (i // 150) % 3  # epochs, none, epochs again
        epochs.append(None if band == 1 else float(i // per_epoch))
    return _build(rows, epochs)


def _bar(rng: random.Random) -> tuple[Record, ...]:
    """A progress bar that repeats the last evaluation on every step of an epoch:
    evaluations every few epochs, then one value shown epoch after epoch (fires)."""
    per_epoch = rng.randint(3, 6)
    values = [round(rng.uniform(0.4, 0.6), 3) for _ in range(12) for _ in range(3)]
    values += [0.4961] * rng.randint(25, 40)
    values += [round(rng.uniform(0.4, 0.6), 3) for _ in range(10)]
    rows: list[Metrics] = []
    epochs: list[float | None] = []
    for step in range((len(values) + 1) * per_epoch):
        epoch = step // per_epoch
        metrics = {"loss": round(0.5 + 0.1 * math.sin(step), 3)}
        if epoch:
            metrics["val_loss"] = values[epoch - 1]
        rows.append(metrics)
        epochs.append(epoch)
    return _build(rows, epochs)


def _pinned(rng: random.Random) -> tuple[Record, ...]:
    """Error rates pinned at 1 (or 100) while the loss is flat, and near misses."""
    rows: list[Metrics] = []
    i = 0
    for part in range(10):
        for _ in range(rng.randint(20, 150)):
            rows.append({"loss": _loss(rng, i), "val_wer": round(rng.uniform(0.2, 0.9), 3)})
            i += 1
        kind = part % 4
        flat = 3.32 + rng.uniform(-0.01, 0.01)
        count = rng.randint(6, 30) if kind in (0, 2) else 4
        for k in range(count):
            value = 100.0 if kind == 2 else 1.0
            name = "cer" if kind == 2 else "val_wer"
            falling = 300.0 / (1 + k) if kind == 3 else flat + (k % 2) / 1000
            rows.append({"loss": falling, name: value})
        if kind == 1:  # a falling loss under a pinned rate: a start, not a stall
            rows += [{"loss": 300.0 / (1 + k), "val_wer": 1.0} for k in range(12)]
    for row in rows:
        if rng.random() < 0.3:
            row.pop("val_wer", None)
    return _build(rows)


def _skipped(rng: random.Random) -> tuple[Record, ...]:
    """Optimizer steps skipped on most records for a while (fires), now and then (not),
    and for overflows (left to loss_scale_collapse)."""
    rows: list[Metrics] = []
    for part in range(10):
        kind = part % 3
        for k in range(rng.randint(10, 200)):
            metrics = {"loss": round(0.53 + rng.uniform(-0.02, 0.02), 4), "lr": 3e-4}
            often = kind == 0 and k < 30 and rng.random() < 0.8
            if often or (kind == 1 and rng.random() < 0.1):
                metrics[SKIPPED_STEP] = 1.0
            elif kind == 2 and k < 20:
                metrics[SKIPPED_STEP] = 1.0
                metrics[OVERFLOW] = rng.choice((1.0, math.nan))
            rows.append(metrics)
    return _build(rows)


def _overlapping(rng: random.Random) -> tuple[Record, ...]:
    """Long episodes in which the other signs come and go: a dead rate, then a frozen
    loss, each with skipped steps, a pinned error rate, a frozen value, a rate that
    lives again for a record and missing values inside."""
    rows: list[Metrics] = []
    for part in range(4):
        rows += [{"loss": _flat(rng), "lr": 1.2e-4} for _ in range(rng.randint(20, 80))]
        inside = len(rows) + rng.randint(100, 300)  # well inside the episode's records
        rate = 0.0 if part % 2 == 0 else 1.2e-4
        frozen = part % 2 == 1
        for k in range(len(rows), inside):
            metrics: Metrics = {"loss": 0.8765 if frozen else _flat(rng), "lr": rate}
            mark = (k * 7919) % 97
            if mark < 6:
                metrics[SKIPPED_STEP] = 1.0
            elif mark < 12:
                metrics["val_wer"] = 1.0 if part == 2 else 0.5
            elif mark < 14:
                del metrics["lr"]
            elif mark < 15:
                metrics["lr"] = 1.2e-4  # alive for a record
            elif frozen and k == inside - 60:
                metrics["loss"] = 0.5555  # another value for a record
            elif not frozen and mark < 30:
                metrics["loss"] = 0.4321  # a value that holds a while
            rows.append(metrics)
    epochs: list[float | None] = [float(i // 2) for i in range(len(rows))]
    return _build(rows, epochs)


def _odd_epochs(rng: random.Random) -> tuple[Record, ...]:
    """Epochs that arrays cannot compare as Python does (NaN, beyond 2**53) in places,
    integers beside floats elsewhere, under a loss that freezes across them."""
    rows: list[Metrics] = []
    epochs: list[float | None] = []
    for part in range(6):
        for k in range(rng.randint(150, 300) if part % 2 else rng.randint(30, 100)):
            frozen = k >= 20
            rows.append({"loss": 0.7777 if frozen and part % 2 else _flat(rng), "lr": 3e-4})
            kind = part % 3
            if kind == 0:
                epochs.append(math.nan if k % 3 else float(k // 3))
            elif kind == 1:
                epochs.append(2**60 + k // 3)  # (an int float64 cannot tell apart)
            else:
                epochs.append(k // 3 if k % 2 else float(k // 3))
    return _build(rows, epochs)


def _flat_from_the_start(rng: random.Random) -> tuple[Record, ...]:
    """A loss that never leaves where it began (0.9, noise 2%), for 30 to 400 records,
    its level dipping 1% now and then (not yet learning)."""
    dips = {rng.randrange(400) for _ in range(3)}
    return _build(
        [
            {"loss": round(0.9 * (0.99 if i // 10 in dips else 1) + rng.uniform(-0.02, 0.02), 4)}
            for i in range(rng.randrange(30, 400))
        ]
    )


@pytest.mark.parametrize("seed", range(4))
def test_blocks_stalled_flat_then_learning(seed: int) -> None:
    """Flat from the start, then learning at a random record: the same diagnoses and
    state either way, whether the block holds the fall or not."""
    rng = random.Random(seed)
    flat = rng.randrange(5, 120)
    rows = [{"loss": round(0.9 + rng.uniform(-0.02, 0.02), 4)} for _ in range(flat)]
    rows += [{"loss": round(0.9 * 0.97**i, 4)} for i in range(1, 60)]
    records = _build(rows)
    for cut in range(4):
        single, blocked = StalledDetector(Thresholds()), StalledDetector(Thresholds())
        expected = [(i, d) for i, r in enumerate(records) for d in single.observe(r)]
        got = _blocks(blocked, records, random.Random(f"{seed}{cut}"))
        assert got == expected
        assert state_of(blocked) == state_of(single)
        assert list(blocked.finish()) == list(single.finish()) == []


CASES: dict[str, Callable[[random.Random], tuple[Record, ...]]] = {
    "flat_from_the_start": _flat_from_the_start,
    "odd_epochs": _odd_epochs,
    "overlapping": _overlapping,
    "dead_rates": _dead_rates,
    "zero_from_the_start": _zero_from_the_start,
    "frozen": _frozen,
    "bar": _bar,
    "pinned": _pinned,
    "skipped": _skipped,
}


@pytest.mark.parametrize("case", CASES)
def test_blocks_stalled(case: str) -> None:
    assert_cut_runs_exact(StalledDetector, CASES[case], case)
