"""Every rule reads a block of records exactly as it reads them one at a time.

The per-record ``observe`` is the oracle: over every log the tests know and over
generated runs with each kind of trouble written in, ``observe_block`` on blocks of
random sizes (with single records read by ``observe`` between them, as a live pause
does on a copy) must return the same diagnoses, tagged with the same records, and leave
the same state for ``finish``.
"""

from __future__ import annotations

import copy
import functools
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from gradlog.config import Thresholds
from gradlog.detectors import DETECTORS, Detector
from gradlog.detectors.block import Block
from gradlog.detectors.nan import NanDetector
from gradlog.detectors.overfitting import OverfittingDetector
from gradlog.detectors.spike import _Pending
from gradlog.detectors.vanishing import VanishingGradientDetector
from gradlog.model import Diagnosis, Record
from gradlog.parse.names import GRAD_NORM, NameTable
from gradlog.parse.reader import LogReader
from gradlog.sources import read_file
from tests.helpers import every_log

Tagged = list[tuple[int, Diagnosis]]


@functools.cache
def _records(path: Path) -> tuple[Record, ...]:
    reader = LogReader(NameTable(()))
    found: list[Record] = []
    for number, line in enumerate(read_file(str(path)), 1):
        found += reader.feed(number, line)
    return tuple(found + reader.flush())


def _run(rng: random.Random, length: int) -> tuple[Record, ...]:
    """A run with every kind of trouble: a plateau at ln 2, spikes, NaN runs, a climb,
    grad norms that explode and vanish, a validation loss that turns, a loss scale that
    collapses, accuracy at chance, and stretches where metrics go missing."""
    records = []
    scale = 65536.0
    for i in range(1, length + 1):
        loss = 0.3 + 2.0 * math.exp(-i / (length / 5)) + rng.uniform(-0.03, 0.03)
        grad = 0.5 + rng.random()
        phase = i * 10 // length
        if phase == 1:
            loss = math.log(2) + rng.uniform(-0.002, 0.002)
            grad = 1e-4 * (1 + rng.random())
        elif phase == 3 and i % 97 == 0:
            loss *= rng.choice((5.0, 30.0, 300.0))
            grad *= 50
        elif phase == 4 and i % 13 < 3:
            loss = rng.choice((math.nan, math.inf, 0.0))
            grad = rng.choice((math.nan, math.inf, grad))
        elif phase == 5:
            loss *= 1 + (i % 40) / 10 * (-1) ** i
        elif phase == 6:
            grad *= 10 ** ((i % 200) / 40)
        elif phase == 8:
            loss *= 1 + (i - 8 * length / 10) / 50
        metrics = {"loss": loss, "grad_norm": grad, "lr": 3e-4 * (1 - i / length)}
        if i % 7 == 0:
            metrics["val_loss"] = loss * (1 + max(0, i - length / 2) / length)
            metrics["accuracy"] = 0.5 if phase == 1 else 0.9
        if phase in (4, 5) and i % 11 == 0:
            scale /= 2
            metrics["loss_scale"] = scale
        if phase == 7 and i % 5:
            del metrics["loss"]
        if i % 31 == 0:
            del metrics["grad_norm"]
        if phase == 9:
            metrics["param_norm"] = 10.0 * (1 + i / 100)
            metrics["update_ratio"] = 1e-3 * (1 + (i % 50))
        records.append(Record(i, i, metrics, epoch=i // 100))
    return tuple(records)


def _inputs() -> list[tuple[str, tuple[Record, ...]]]:
    found = [(path.name, _records(path)) for path in every_log()]
    found += [(f"generated_{n}", _run(random.Random(n), 600 * n)) for n in range(1, 6)]
    return found


def _oracle(detector: Detector, records: Sequence[Record]) -> Tagged:
    return [(i, d) for i, record in enumerate(records) for d in detector.observe(record)]


def _blocks(detector: Detector, records: Sequence[Record], rng: random.Random) -> Tagged:
    found: Tagged = []
    start = 0
    while start < len(records):
        if rng.random() < 0.1:  # one record alone, and a pause judged on a copy
            copy.deepcopy(detector).observe_block(Block(records[start : start + 1]))
            found += [(start, d) for d in detector.observe(records[start])]
            start += 1
            continue
        size = rng.choice((1, 2, 3, 7, 64, 500, 4096))
        block = Block(records[start : start + size])
        found += [(start + i, d) for i, d in detector.observe_block(block)]
        start += size
    return found


@pytest.mark.parametrize("kind", DETECTORS, ids=lambda kind: kind.rule.id)
def test_blocks_read_as_records(kind: type[Detector]) -> None:
    thresholds = Thresholds()
    for name, records in _inputs():
        for seed in range(2):
            single, blocked = kind(thresholds), kind(thresholds)
            expected = _oracle(single, records) + [(-1, d) for d in single.finish()]
            rng = random.Random(f"{name}{seed}")
            got = _blocks(blocked, records, rng) + [(-1, d) for d in blocked.finish()]
            assert got == expected, name


def found_whole(detector: Detector, records: Sequence[Record]) -> Tagged:
    """What ``detector`` finds over ``records`` one at a time, ``finish`` as index -1."""
    return _oracle(detector, records) + [(-1, d) for d in detector.finish()]


class DenseCuts(random.Random):
    """Cuts blocks of a few records: many boundaries fall inside and beside episodes."""

    def choice(self, seq: Sequence[int]) -> int:  # type: ignore[override]
        return super().choice((1, 2, 3, 4, 5, 8, 13, 40))


def assert_blocks_exact(
    kind: type[Detector],
    records: Sequence[Record],
    name: str,
    thresholds: Thresholds | None = None,
    seeds: int = 4,
    dense: bool = False,
) -> None:
    """For ``seeds`` random cuttings into blocks (and as many dense ones), ``observe_block``
    finds exactly what ``observe`` finds one record at a time, and ``finish`` then too."""
    thresholds = thresholds or Thresholds()
    for seed in range(seeds):
        cuts = [random.Random(f"{name}{seed}")]
        if dense:
            cuts.append(DenseCuts(f"{name}{seed}"))
        for rng in cuts:
            expected = found_whole(kind(thresholds), records)
            blocked = kind(thresholds)
            got = _blocks(blocked, records, rng)
            assert got + [(-1, d) for d in blocked.finish()] == expected, name


def state_of(item: object) -> object:
    """What a detector keeps, as plain values to compare, down through the helper
    objects it holds (PinnedError's cache of which names are error rates aside: it
    changes no answer)."""
    if isinstance(item, (list, tuple, deque)):
        return [state_of(x) for x in item]
    if isinstance(item, _Pending):  # a record left in its block: the record it is
        return item.record()
    if type(item).__module__.startswith("gradlog.detectors"):
        if hasattr(item, "__dict__"):
            return {k: state_of(v) for k, v in vars(item).items() if k != "_rates"}
        return {k: state_of(getattr(item, k)) for k in item.__slots__}  # type: ignore[attr-defined]
    return item


def state_repr(detector: Detector) -> dict[str, str]:
    """A detector's own state spelled out: repr tells a numpy float from a Python one
    (its chance-level tables aside: settings, never changed)."""
    return {k: repr(v) for k, v in vars(detector).items() if not k.endswith("chance")}


def assert_cut_runs_exact(
    kind: type[Detector], make: Callable[[random.Random], Sequence[Record]], case: str
) -> None:
    """For six runs of ``make``: the whole run, then two runs cut short anywhere (inside
    an episode too), read in blocks give what ``observe`` gives and keep the same state
    where the run stops; the whole run makes the rule fire."""
    thresholds = Thresholds()
    for seed in range(6):
        records = make(random.Random(seed))
        for cut in range(3):
            rng = random.Random(f"{case}{seed}{cut}")
            end = len(records) if cut == 0 else rng.randrange(1, len(records))
            single = kind(thresholds)
            expected = _oracle(single, records[:end])
            state = state_of(single)
            expected += [(-1, d) for d in single.finish()]
            if cut == 0:
                assert expected, f"{case} {seed}: the run should make the rule fire"
            blocked = kind(thresholds)
            got = _blocks(blocked, records[:end], rng)
            assert state_of(blocked) == state, f"{case} {seed} {cut}"
            got += [(-1, d) for d in blocked.finish()]
            assert got == expected, f"{case} {seed} {cut}"


def assert_whole_and_cut_exact(
    kind: type[Detector],
    records: Sequence[Record],
    name: str,
    thresholds: Thresholds | None = None,
) -> None:
    """The run read as one block, then cut at random three ways: the same diagnoses as
    ``observe``, the same state (``state_repr``), and the same ``finish``."""
    thresholds = thresholds or Thresholds()
    for seed in range(4):
        single, blocked = kind(thresholds), kind(thresholds)
        expected = _oracle(single, records)
        if seed:
            got = _blocks(blocked, records, random.Random(f"{name}{seed}"))
        else:  # the whole run as one block
            got = blocked.observe_block(Block(records))
        assert got == expected, name
        assert state_repr(blocked) == state_repr(single), name
        assert list(blocked.finish()) == list(single.finish()), name


@pytest.mark.parametrize("seed", range(6))
def test_columns_of_many_parts_are_those_of_their_records(seed: int) -> None:
    """A block of many parts (short runs in columns of a few metric sets, epochs or not,
    NaN, between lists of records of other metrics) gives every column, and the values
    each metric prints, exactly as the same records in one list do."""
    import numpy as np

    from gradlog.columns import Parts, RecordRun

    rng = random.Random(seed)
    kinds = [("loss", "grad_norm"), ("val_loss",), ("loss", "lr", "acc")]
    parts: list[Sequence[Record]] = []
    step = 0
    for _ in range(rng.randrange(12, 60)):
        count = rng.randrange(1, 30)
        names = rng.choice(kinds)
        values = np.array(
            [[rng.choice((rng.random(), math.nan)) for _ in names] for _ in range(count)]
        )
        steps = np.arange(step, step + count, dtype=np.float64)
        epochs = None if rng.random() < 0.5 else steps / 100
        if rng.random() < 0.6:
            lines = np.arange(step, step + count, dtype=np.int64) + 1
            parts.append(RecordRun(names, steps, lines, epochs, values))
        else:
            parts.append(
                [
                    Record(
                        int(steps[i]),
                        int(steps[i]) + 1,
                        dict(zip(("x_" + names[0], *names[1:]), values[i].tolist(), strict=True)),
                        None if epochs is None else float(epochs[i]),
                    )
                    for i in range(count)
                ]
            )
        step += count
    many = Block(Parts(parts))
    one = Block([record for part in parts for record in part])
    assert list(many.printed()) == list(one.printed())
    for name, values in one.printed().items():
        np.testing.assert_array_equal(many.printed()[name], values)
    for name in one.names:
        np.testing.assert_array_equal(many.values(name), one.values(name))
        np.testing.assert_array_equal(many.present(name), one.present(name))
    for column in ("steps", "lines", "epochs", "has_epoch"):
        np.testing.assert_array_equal(getattr(many, column), getattr(one, column))
    watched = lambda name: "loss" in name  # noqa: E731
    np.testing.assert_array_equal(many.nonfinite(watched), one.nonfinite(watched))


def _vanishing(rng: random.Random, noise: float) -> tuple[Record, ...]:
    """Long stretches of a grad norm near 1e-3 (lognormal ``noise``: now and then over
    the bar) beside a loss frozen near ln 2 (wobbling by up to about the 2% a flat run
    allows), with param norms, between healthy ones."""
    found = []
    for i in range(1, 12_001):
        frozen = (i // 3000) % 2 == 1
        wobble = (0.0, 0.004, 0.0099, 0.011)[(i // 6000 + int(noise * 10)) % 4]  # (of 2%)
        grad = (1e-3 if frozen else 0.5) * math.exp(noise * rng.gauss(0, 1))
        loss = 0.6931 * (1 + wobble * rng.uniform(-1, 1)) if frozen else 0.6 + rng.random() * 0.3
        if frozen and 1500 <= i % 3000 < 1600:
            loss /= 3  # (learned after all: small gradients are expected there)
        metrics = {"loss": loss, GRAD_NORM: grad, "param_norm": 3.1 + rng.choice((0, 0.01))}
        if rng.random() < 0.002:
            metrics["loss"] = math.nan
        found.append(Record(i, i, metrics))
    return tuple(found)


@pytest.mark.parametrize("noise", [0.0, 0.3, 0.6])
def test_long_vanishing_episodes_read_in_blocks(noise: float) -> None:
    records = _vanishing(random.Random(int(noise * 10)), noise)
    assert_whole_and_cut_exact(VanishingGradientDetector, records, f"vanishing {noise}")


def _nan_tails(rng: random.Random) -> tuple[Record, ...]:
    """Runs that go non-finite and keep printing: a NaN loss for thousands of records
    (then back, then again), a grad norm alone non-finite for long (a loss scaler's
    skipped steps; the loss goes with it later on), a NaN hidden as a 0.0 loss, an Inf, with healthy
    stretches and single bad records between."""
    found = []
    for i in range(1, 15_001):
        phase = (i // 2500) % 6
        loss, grad = 0.5 + rng.random(), math.exp(rng.gauss(0, 0.3))
        if phase == 1 or (phase == 3 and rng.random() < 0.95):
            loss, grad = math.nan, rng.choice((math.nan, grad))
        elif phase == 4:  # (the grad norm alone, then the loss too, late in the run)
            grad = rng.choice((math.inf, math.nan))
            loss = math.nan if 1000 <= i % 2500 < 1010 else loss
        elif phase == 5 and i % 500 < 40:
            loss, grad = 0.0, math.nan  # (a NaN hidden by the logger)
        elif rng.random() < 0.002:
            loss = math.inf
        found.append(Record(i, i, {"loss": loss, GRAD_NORM: grad}))
    return tuple(found)


def test_long_non_finite_stretches_read_in_blocks() -> None:
    for seed in range(2):
        records = _nan_tails(random.Random(seed))
        assert_whole_and_cut_exact(NanDetector, records, f"nan tails {seed}")


def test_a_long_bad_run_whose_loss_turns_non_finite_at_its_end_reads_in_blocks() -> None:
    """Told on its third bad record (a grad norm alone), the episode's loss turns NaN only
    at the log's end: the state says so, however the run was read."""
    rng = random.Random(4)
    metrics = [{"loss": 1 + rng.random(), GRAD_NORM: 1.0} for _ in range(300)]
    metrics += [{"loss": 1 + rng.random(), GRAD_NORM: math.nan} for _ in range(2000)]
    metrics += [{"loss": math.nan, GRAD_NORM: math.nan} for _ in range(20)]
    records = tuple(Record(i, i, m) for i, m in enumerate(metrics, 1))
    assert_whole_and_cut_exact(NanDetector, records, "loss non-finite at the end")


def test_training_losses_beside_hidden_nans_read_in_blocks() -> None:
    """HF Trainer prints a window of only non-finite steps as a 0.0 loss beside a NaN grad
    norm: the overfitting rule leaves those out of the training level, keeps a true 0.0
    (a finite grad norm, or none), and reads blocks as records."""
    rng = random.Random(6)
    found = []
    for i in range(1, 10_051):  # (it ends among the hidden NaNs, between evaluations)
        loss, grad = 0.3 + 2 * math.exp(-i / 2000) + rng.random() / 20, 1.0
        if 3000 <= i % 6000 < 5500:
            loss, grad = 0.0, rng.choice((math.nan, math.nan, math.inf, 1.0))
        metrics = {"loss": loss, GRAD_NORM: grad}
        if i % 7 == 0:
            del metrics[GRAD_NORM]
        if i % 100 == 0:
            metrics["val_loss"] = 0.5 + i / 8000 + rng.random() / 50
        found.append(Record(i, i, metrics))
    records = tuple(found)
    for seed in range(3):
        single, blocked = OverfittingDetector(Thresholds()), OverfittingDetector(Thresholds())
        expected = _oracle(single, records)
        got = _blocks(blocked, records, random.Random(seed))
        assert state_of(blocked) == state_of(single)
        expected += [(-1, d) for d in single.finish()]
        assert expected  # (the validation loss climbs: the rule fires)
        assert got + [(-1, d) for d in blocked.finish()] == expected
