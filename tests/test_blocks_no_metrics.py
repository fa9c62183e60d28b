"""`no_metrics` reads blocks as it reads records.

It fires only when the input ends without a training metric: long runs of records
with other values (a learning rate, a throughput), an empty input, and near misses
where a single training metric or a name containing "loss" turns up late, in the
middle of a block.
"""

from __future__ import annotations

import random

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.no_metrics import NoMetricsDetector
from gradlog.model import Record
from gradlog.parse.names import LR, VAL_ACC
from tests.test_blocks import _blocks, _oracle


def _run(length: int, late: dict[str, float] | None = None, at: int = 0) -> tuple[Record, ...]:
    records = [Record(n, n, {LR: 1e-3, "tokens_per_second": 900.0}) for n in range(1, length + 1)]
    if late is not None:
        records[at] = Record(at + 1, at + 1, late)
    return tuple(records)


FIRING = {
    "other_values": _run(9000),
    "bare_records": tuple(Record(n, n) for n in range(1, 700)),
    "empty": (),
}
QUIET = {
    "late_loss_name": _run(9000, {"moe_aux_loss": 0.1}, 7777),
    "late_val_acc": _run(6000, {VAL_ACC: 0.5}, 5999),
}


@pytest.mark.parametrize("name", sorted(FIRING))
def test_the_runs_make_the_rule_fire(name: str) -> None:
    detector = NoMetricsDetector(Thresholds())
    assert not _oracle(detector, FIRING[name])
    assert list(detector.finish())


@pytest.mark.parametrize("name", sorted(FIRING | QUIET))
def test_blocks_read_as_records(name: str) -> None:
    records = (FIRING | QUIET)[name]
    for seed in range(4):
        single, blocked = NoMetricsDetector(Thresholds()), NoMetricsDetector(Thresholds())
        expected = _oracle(single, records) + [(-1, d) for d in single.finish()]
        rng = random.Random(f"{name}{seed}")
        got = _blocks(blocked, records, rng) + [(-1, d) for d in blocked.finish()]
        assert got == expected, name
        assert bool(expected) == (name in FIRING)


def cases() -> dict[str, tuple[Record, ...]]:
    """Every run, for a state check beside the tests."""
    return FIRING | QUIET
