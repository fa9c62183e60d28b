"""`chance_plateau` read in blocks is read as record by record, on runs made to fire it.

The generated runs of test_blocks.py pass through chance levels only briefly; these sit
at ln(K) long enough to be reported (with and without accuracy, in bits, below ln(K) at a
class prior), leave it and come back, or only nearly qualify, over many block cuts.
"""

from __future__ import annotations

import math
import random

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.plateau import ChancePlateauDetector
from gradlog.model import Record
from tests.test_blocks import _oracle, assert_whole_and_cut_exact

LN2, LN10 = math.log(2), math.log(10)


def _records(
    losses: list[float],
    accs: dict[int, float] | None = None,
    acc_name: str = "acc",
    bits: bool = False,
) -> tuple[Record, ...]:
    found = []
    for i, loss in enumerate(losses):
        metrics = {"loss": loss, "grad_norm": 1e-3, "lr": 1e-3}
        if math.isnan(loss) and i % 2:
            del metrics["loss"]  # a record without the loss, beside one printing NaN
        if accs is not None and i in accs:
            metrics[acc_name] = accs[i]
        found.append(Record(i + 1, i + 1, metrics, epoch=i // 50, bits=bits))
    return tuple(found)


def _noisy(rng: random.Random, level: float, count: int, noise: float) -> list[float]:
    return [level * (1 + rng.uniform(-noise, noise)) for _ in range(count)]


def _slide(start: float, end: float, count: int) -> list[float]:
    return [start + (end - start) * i / count for i in range(count)]


def _firing() -> list[tuple[str, tuple[Record, ...]]]:
    """Runs on which the oracle reports something."""
    rng = random.Random(7)
    start_at_chance = _noisy(rng, LN2, 700, 0.003) + _slide(0.69, 0.2, 300)
    # A slow start: a warning when it took half the run or more (above), else info.
    slow_start = _noisy(rng, LN2, 300, 0.003) + _slide(0.69, 0.2, 300) + _noisy(rng, 0.2, 900, 0.01)
    # At ln 2, learns, then back at chance at ln 10 with accuracy there to confirm it.
    again = _noisy(rng, LN2, 300, 0.003) + _slide(0.69, 0.15, 200)
    again += _slide(0.15, LN10, 100) + _noisy(rng, LN10, 900, 0.004)
    again += _slide(LN10, 0.5, 300) + _noisy(rng, LN10, 600, 0.002) + _slide(2.3, 0.1, 50)
    acc_again = {i: 0.1 + rng.uniform(-0.01, 0.01) for i in range(600, len(again))}
    # Under ln 2, at a 60/40 prior, with a frozen validation accuracy.
    prior = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    frozen = _slide(1.5, prior, 200) + _noisy(rng, prior, 800, 0.002) + _slide(prior, 0.3, 100)
    acc_frozen = {i: 0.6 for i in range(0, len(frozen), 3)}
    # Printed in bits: log2(10) bits is ln(10) nats.
    in_bits = _noisy(rng, math.log2(10), 600, 0.003) + _slide(3.3, 1.0, 200)
    # Accuracy in percent, at 1/K = 25%.
    percent = _noisy(rng, math.log(4), 1500, 0.004)
    acc_percent = {i: 25 + rng.uniform(-1, 1) for i in range(0, len(percent), 2)}
    # NaN, inf and missing losses through the plateau.
    gaps = _noisy(rng, math.log(5), 1200, 0.003) + _slide(1.6, 0.4, 300)
    for i in range(3, len(gaps), 17):
        gaps[i] = rng.choice((math.nan, math.inf, math.nan))
    # Descends into ln 5 from not far above and stays there to the end of the log.
    stays = _slide(2.3, math.log(5), 400) + _noisy(rng, math.log(5), 2000, 0.002)
    # A short excerpt, every record at ln 3; longer ones, one of them with a record
    # within `below` but not `tolerance` of ln 3 (not "every record" at chance then).
    thin = [math.log(3) * (1 + 0.001 * (-1) ** i) for i in range(4)]
    thin_long = _noisy(rng, math.log(3), 40, 0.003)
    thin_broken = [*thin_long[:20], math.log(3) * 0.97, *thin_long[21:]]
    return [
        ("start_at_chance", _records(start_at_chance)),
        ("slow_start", _records(slow_start)),
        ("again", _records(again, acc_again)),
        ("frozen", _records(frozen, acc_frozen, "val_acc")),
        ("in_bits", _records(in_bits, bits=True)),
        ("percent", _records(percent, acc_percent)),
        ("gaps", _records(gaps)),
        ("stays", _records(stays)),
        ("thin", _records(thin)),
        ("thin_long", _records(thin_long)),
        ("thin_broken", _records(thin_broken)),
    ]


def _near_misses() -> list[tuple[str, tuple[Record, ...]]]:
    """Runs that pass through or hover by chance levels without a plateau (or only
    just), and random walks across them."""
    rng = random.Random(11)
    descent = [3.2 * math.exp(-i / 1500) + rng.uniform(-0.01, 0.01) + 0.1 for i in range(6000)]
    climb = _slide(0.55, 0.9, 3000)
    predicting = _noisy(rng, LN2, 800, 0.003)
    acc_moving = {i: 0.85 + rng.uniform(-0.05, 0.05) for i in range(len(predicting))}
    # An LM's loss: down from 10 to 2.2 and wandering there by 3%, where ln 8, ln 9 and
    # ln 10 lie a few percent apart: a stretch opens and ends every few records.
    lm = [2.2 + 8 * math.exp(-i / 300) for i in range(6000)]
    lm = [x * math.exp(rng.gauss(0, 0.03)) for x in lm]
    acc_lm = {i: 0.3 + rng.uniform(-0.01, 0.01) for i in range(0, len(lm), 3)}
    # An LM that settles at ln 6, its perplexity printed on two records in three: a
    # language model is judged by the record at hand, which blocks must read alike.
    with_ppl = tuple(
        Record(r.step, r.line, {**r.metrics, "ppl": math.exp(r.metrics["loss"])}, epoch=r.epoch)
        if i % 3 and "loss" in r.metrics
        else r
        for i, r in enumerate(
            _records(_slide(2.3, math.log(6), 200) + _noisy(rng, math.log(6), 800, 0.003))
        )
    )
    runs = [
        ("wandering", _records(lm)),
        ("wandering_with_ppl", with_ppl),
        ("wandering_from_start", _records(_noisy(rng, math.log(9), 4000, 0.04))),
        ("wandering_with_acc", _records(lm, acc_lm)),
        ("descent", _records(descent)),
        ("climb", _records([x + rng.uniform(-0.004, 0.004) for x in climb])),
        ("predicting", _records(predicting, acc_moving)),
    ]
    for seed in range(6):
        walk_rng = random.Random(seed)
        losses: list[float] = []
        accs: dict[int, float] = {}
        while len(losses) < 5000:
            k = walk_rng.choice((2, 3, 5, 10, 11, 12, 100))
            level = math.log(k) * walk_rng.choice((1.0, 1.0, 0.97, 1.02, 0.9, 1.2))
            count = walk_rng.choice((3, 5, 6, 20, 200, 900))
            noise = walk_rng.choice((0.0, 0.001, 0.005, 0.02))
            if walk_rng.random() < 0.3:
                acc = walk_rng.choice((1 / k, 0.9, 0.5, 0.0))
                for i in range(len(losses), len(losses) + count, walk_rng.choice((1, 4))):
                    accs[i] = acc + walk_rng.choice((0.0, walk_rng.uniform(-0.02, 0.02)))
            losses += _noisy(walk_rng, level, count, noise)
            if walk_rng.random() < 0.2:
                losses.append(math.nan)
        runs.append((f"walk_{seed}", _records(losses, accs, walk_rng.choice(("acc", "val_acc")))))
    return runs


def _check(records: tuple[Record, ...], name: str, thresholds: Thresholds | None = None) -> None:
    assert_whole_and_cut_exact(ChancePlateauDetector, records, name, thresholds)


# Thresholds away from the defaults: the screens read them, never assume them.
VARIANTS = [
    {"min_records": 0},
    {"min_records": 2, "thin_records": 1},
    {"tolerance": 0.0, "below": 0.0},
    {"tolerance": 0.05, "below": 0.1, "left_fraction": 0.0},
    {"acc_tolerance": -1.0, "descent_share": 0.3},
    {"min_records": 50},  # short logs are only ever judged "thin"
]


@pytest.mark.parametrize("change", VARIANTS, ids=str)
def test_other_thresholds_read_in_blocks(change: dict[str, float]) -> None:
    limits = Thresholds().chance_plateau._replace(**change)
    thresholds = Thresholds()._replace(chance_plateau=limits)
    for name, records in _firing() + _near_misses()[:6]:
        _check(records, name, thresholds)


@pytest.mark.parametrize(("name", "records"), _firing(), ids=lambda x: str(x)[:20])
def test_firing_runs_read_in_blocks(name: str, records: tuple[Record, ...]) -> None:
    detector = ChancePlateauDetector(Thresholds())
    assert _oracle(detector, records) + list(detector.finish()), name  # it does fire
    _check(records, name)


def test_a_plateau_reported_again_after_it_was_left() -> None:
    (_, records) = next(run for run in _firing() if run[0] == "again")
    detector = ChancePlateauDetector(Thresholds())
    found = [d for _, d in _oracle(detector, records)]
    assert len({d.first_step for d in found}) >= 2


@pytest.mark.parametrize(("name", "records"), _near_misses(), ids=lambda x: str(x)[:20])
def test_near_misses_read_in_blocks(name: str, records: tuple[Record, ...]) -> None:
    _check(records, name)


def test_a_character_vocabulary_s_chance_reads_in_blocks() -> None:
    # Levels held to 0.05% only (ln 27): frozen on it, near it, and sliding through it.
    rng = random.Random(27)
    level = math.log(27)
    losses = _noisy(rng, level, 400, 0.00003)
    losses += _slide(level, 2.2, 200) + _noisy(rng, level, 300, 0.004) + _slide(3.4, 3.1, 500)
    records = _records(losses)
    detector = ChancePlateauDetector(Thresholds())
    assert _oracle(detector, records) + list(detector.finish())
    _check(records, "ln27")
