"""`nan` reads blocks as it reads records, on runs where it fires.

Each kind of non-finite episode (and each near miss: a NaN in a series the rule does not
watch, values whose sum overflows) is written in many times, at offsets that put block
boundaries before, inside and after it, and the runs are also read with the screen
forced onto the smallest blocks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

import gradlog.detectors.nan as nan
from gradlog.config import NanThresholds, Thresholds
from gradlog.detectors.nan import NanDetector
from gradlog.model import Diagnosis, Record, Severity
from gradlog.parse.events import ABORTED
from tests.test_blocks import _oracle, assert_blocks_exact

NAN, INF = math.nan, math.inf

# What a stretch of the run does after some healthy records: each dict overrides the
# metrics of one record in a row (None drops the metric).
EVENTS: dict[str, list[dict[str, float | None]]] = {
    "nan_loss": [{"loss": NAN}],
    "nan_run": [{"loss": NAN, "grad_norm": NAN}] * 5,
    "inf_loss": [{"loss": INF}, {"loss": -INF}],
    "hidden": [{"loss": 0.0, "grad_norm": NAN}],  # HF's 0.0 beside a NaN grad norm
    "skipped": [{"grad_norm": INF}],  # a loss scaler's skipped step: info
    "skipped_twice": [{"grad_norm": NAN}, {"grad_norm": INF}],
    "skipped_long": [{"grad_norm": NAN}] * 4,  # more than the scaler's share: an error
    "val_only": [{"val_loss": NAN}],
    "param": [{"param_norm": INF}],
    "other_loss": [{"smooth_l1": INF}],  # another member of the loss family
    "other_grad": [{"box_grad_norm": NAN}],
    "aborted": [{"grad_norm": NAN, ABORTED: 1.0}],
    "missing": [{"loss": None, "grad_norm": None}] * 3,  # no loss printed: not a NaN
    "unwatched": [{"accuracy": NAN}],  # near miss: not a series the rule watches
    "overflow": [{"loss": 1e308, "grad_norm": 1e308}],  # near miss: only the sum overflows
    "empty": [{"loss": None, "grad_norm": None, "lr": None}],
}


def _run(
    rng: random.Random,
    length: int,
    events: Sequence[str],
    table: dict[str, list[dict[str, float | None]]] = EVENTS,
) -> list[Record]:
    """Healthy records with the ``events`` written in after stretches of random length."""
    found: list[Record] = []
    while len(found) < length:
        stretch: list[dict[str, float | None]] = [{}] * rng.randrange(0, 30)
        for change in stretch + table[rng.choice(events)]:
            index = len(found)
            metrics: dict[str, float | None] = {
                "loss": 2.0 * math.exp(-index / 500) + rng.uniform(0, 0.1),
                "grad_norm": 0.5 + rng.random(),
                "lr": 1e-3,
            }
            if index % 10 == 0:
                metrics["val_loss"] = 2.1 * math.exp(-index / 500)
            metrics.update(change)
            kept = {name: value for name, value in metrics.items() if value is not None}
            found.append(Record(index + 1, index + 1, kept))
    return found


def _check(records: list[Record], thresholds: Thresholds, name: str, seeds: int = 4) -> None:
    assert_blocks_exact(NanDetector, records, name, thresholds, seeds, dense=True)


def _found(records: list[Record], thresholds: Thresholds) -> list[Diagnosis]:
    detector = NanDetector(thresholds)
    return [d for _, d in _oracle(detector, records)] + list(detector.finish())


FIRING = [name for name in EVENTS if name not in ("missing", "unwatched", "overflow", "empty")]


@pytest.mark.parametrize("small", [False, True], ids=["default", "screen_on_small_blocks"])
def test_episodes_read_in_blocks(small: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if small:
        monkeypatch.setattr(nan, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    for n in range(4):
        records = _run(random.Random(n), 1500, list(EVENTS))
        found = _found(records, thresholds)
        assert len({d.first_step for d in found}) > 20  # the rule fires, again and again
        assert {Severity.INFO, Severity.ERROR} <= {d.severity for d in found}
        assert any("hidden by the logger" in d.message for d in found)
        _check(records, thresholds, f"every{n}")


@pytest.mark.parametrize("small", [False, True], ids=["default", "screen_on_small_blocks"])
def test_near_misses_read_in_blocks(small: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if small:
        monkeypatch.setattr(nan, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    records = _run(random.Random(7), 1500, ["missing", "unwatched", "overflow", "empty"])
    assert not _found(records, thresholds)
    # ... but a NaN loss is: one in the middle, and one still open at the end.
    middle = len(records) // 2
    for index in (middle, len(records) - 1):
        record = records[index]
        records[index] = Record(record.step, record.line, {**record.metrics, "loss": NAN})
    found = _found(records, thresholds)
    assert sorted({d.first_step for d in found}) == [middle + 1, len(records)]
    _check(records, thresholds, "near")


def test_long_episodes_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nan, "SMALL_BLOCK", 1)
    # Episodes of a few hundred records: whole blocks inside them, boundaries at both ends.
    thresholds = Thresholds()
    table = {**EVENTS, "long": [{"loss": NAN}] * 300}
    records = _run(random.Random(11), 3000, ["long", "skipped", "long", "missing"], table)
    found = _found(records, thresholds)
    assert any(d.count == 300 for d in found)
    _check(records, thresholds, "long")


def test_a_scaler_calibrating_at_the_start_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Overflows before any step passed are calibration (info, up to 32 in a row); the
    first finite grad norm may come inside a block, in a record observed or not."""
    monkeypatch.setattr(nan, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    for start in (1, 5, 40):
        rest = _run(random.Random(start), 800, FIRING)
        records = [Record(i, i, {"loss": 2.0, "grad_norm": INF}) for i in range(1, start + 1)]
        records += [Record(r.step + start, r.line + start, r.metrics) for r in rest]
        found = _found(records, thresholds)
        first = min(found, key=lambda d: d.first_step)
        assert first.first_step == 1
        assert first.severity is (Severity.INFO if start <= 32 else Severity.ERROR)
        _check(records, thresholds, f"calibration{start}", seeds=2)


@pytest.mark.parametrize("start", [1, 30, 64, 65, 200])
def test_a_loss_with_no_value_yet_read_in_blocks(
    start: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loss NaN from the first record (an RL agent's average before its first update)
    that turns finite within 64 records never reached the weights: info, told when it
    turns finite, never before. Longer, it is an error, told at its 65th record."""
    monkeypatch.setattr(nan, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    rest = _run(random.Random(start), 600, FIRING)
    records = [Record(i, i, {"loss": NAN, "q": 0.5}) for i in range(1, start + 1)]
    records += [Record(r.step + start, r.line + start, r.metrics) for r in rest]
    told = [(i, d) for i, d in _oracle(NanDetector(thresholds), records) if d.first_step == 1]
    (index, first), (_, last) = told[0], told[-1]
    assert last.count == start
    if start <= 64:
        assert len(told) == 1 and first.severity is Severity.INFO
        assert index == start  # (told at the first finite one, not before)
        assert "no finite value before" in first.message
    else:
        assert first.severity is Severity.ERROR and index == 64 and first.count == 65
        assert last.severity is Severity.ERROR
    _check(records, thresholds, f"leading{start}", seeds=2)


def test_a_loss_never_finite_or_stopping_the_run_is_an_error() -> None:
    thresholds = Thresholds()
    never = [Record(i, i, {"loss": NAN}) for i in range(1, 11)]
    (found,) = _found(never, thresholds)
    assert found.severity is Severity.ERROR and found.count == 10
    stopped = [*never[:3], Record(4, 4, {"loss": NAN, ABORTED: 1.0}), Record(5, 5, {"loss": 1.0})]
    told = _oracle(NanDetector(thresholds), stopped)
    assert [(i, d.severity) for i, d in told] == [(3, Severity.ERROR), (4, Severity.ERROR)]
    after = [Record(1, 1, {"loss": 2.0}), *never[1:5], Record(6, 6, {"loss": 1.0})]
    assert {d.severity for d in _found(after, thresholds)} == {Severity.ERROR}


def test_other_thresholds_read_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nan, "SMALL_BLOCK", 1)
    for skipped in (0, 1, 5):
        thresholds = Thresholds(nan=NanThresholds(max_skipped_steps=skipped))
        records = _run(random.Random(skipped), 1000, FIRING)
        assert _found(records, thresholds)
        _check(records, thresholds, f"skipped{skipped}", seeds=2)


@pytest.mark.parametrize("small", [False, True], ids=["default", "screen_on_small_blocks"])
def test_a_run_without_a_loss_name_at_first_read_in_blocks(
    small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GAN's records (``d_a``, ``g_a``: no watched series) with NaN episodes, then the
    run's loss from some record on, in the middle of a block: block and record reading
    agree on where the loss-less episodes are and where the watching by name begins."""
    if small:
        monkeypatch.setattr(nan, "SMALL_BLOCK", 1)
    thresholds = Thresholds()
    for n, start in enumerate((0, 37, 300, 1500)):
        rng = random.Random(n)
        records: list[Record] = []
        for index in range(1500):
            gone = index % 25 == 10
            metrics = {"d_a": NAN if gone else rng.random(), "g_a": NAN if gone else 1.0}
            if index >= start:
                metrics["loss"] = NAN if rng.random() < 0.02 else 2.0
            records.append(Record(index + 1, index + 1, metrics))
        found = _found(records, thresholds)
        assert any("d_a, g_a became non-finite" in d.message for d in found) == (start > 10)
        _check(records, thresholds, f"lossless{start}")
