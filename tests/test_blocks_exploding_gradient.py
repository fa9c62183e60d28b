"""`exploding_gradient` reads blocks exactly as records, on runs written to make it fire,
nearly fire and fire again after the run recovers, across block boundaries."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.exploding import ExplodingGradientDetector
from gradlog.model import Record, Severity
from tests.helpers import records, run
from tests.test_blocks import _blocks, _oracle, assert_cut_runs_exact

Metrics = dict[str, float]


def _build(rows: list[Metrics]) -> tuple[Record, ...]:
    return tuple(Record(i, i, metrics, epoch=None) for i, metrics in enumerate(rows, 1))


def _healthy(rng: random.Random, level: float = 1.0) -> Metrics:
    return {
        "loss": round(1.0 + rng.uniform(-0.05, 0.05), 4),
        "grad_norm": level * rng.uniform(0.7, 1.4),
    }


def _bursts(rng: random.Random) -> tuple[Record, ...]:
    """Healthy stretches between bursts of every kind: a tenfold growth that persists
    (fires), one that settles at once (a blip, twice: then growth no longer counts),
    norms above `absolute` (fires), a burst while the loss falls fast (progress), a
    NaN and a loss jump (corroborated), an extreme value alone (fires), and norms
    that are missing, NaN or a NaN hidden as a 0.0 loss."""
    rows: list[Metrics] = []
    level = rng.uniform(0.5, 2.0)
    for part in range(16):
        rows += [_healthy(rng, level) for _ in range(rng.randint(20, 300))]
        kind = part % 8
        if kind == 0:  # grown tenfold for a while, the loss flat: fires
            rows += [{"loss": 1.0, "grad_norm": 15 * level} for _ in range(rng.randint(3, 6))]
        elif kind == 1:  # one record up, settled at once: a blip
            rows.append({"loss": 1.0, "grad_norm": 12 * level})
        elif kind == 2:  # above absolute for two records only: nearly
            rows += [{"loss": 1.0, "grad_norm": 150.0}] * 2
        elif kind == 3:  # while the loss falls fast: progress
            rows += [{"loss": 1.0 - 0.3 * k, "grad_norm": 150.0} for k in range(3)]
        elif kind == 4:  # with a NaN loss, then a jump of the loss: corroborated
            rows.append({"loss": math.nan, "grad_norm": 200.0})
            rows.append({"loss": 5.0, "grad_norm": 300.0})
        elif kind == 5:  # one extreme value alone
            rows.append({"loss": 1.0, "grad_norm": 5000.0})
        elif kind == 6:  # non-finite and missing norms, a hidden NaN (loss 0.0)
            rows.append({"loss": 0.0, "grad_norm": math.nan})
            rows.append({"loss": 1.0, "grad_norm": math.inf})
            rows.append({"loss": 1.0})
            rows.append({"grad_norm": level})
            rows.append({"loss": 0.0, "grad_norm": 150.0})
        else:  # a slow growth, through ten times the level over many records
            rows += [
                {"loss": 1.0, "grad_norm": level * (1 + k / 4)} for k in range(rng.randint(20, 80))
            ]
    for row in rows:
        if rng.random() < 0.03:
            row.pop("loss", None)
    return _build(rows)


def _weights(rng: random.Random) -> tuple[Record, ...]:
    """A parameter norm beside the grad norm: a grad norm above it for a while (weak:
    a warning), for two records (nearly), with the weights growing (corroborated), and
    far above it (extreme); the parameter norm now and then missing or NaN."""
    rows: list[Metrics] = []
    param = 10.0
    for part in range(12):
        for _ in range(rng.randint(20, 300)):
            row = _healthy(rng)
            row["param_norm"] = param * rng.uniform(0.99, 1.01)
            rows.append(row)
        kind = part % 4
        if kind == 0:
            rows += [{"loss": 1.0, "grad_norm": 12.0, "param_norm": param}] * rng.randint(3, 6)
        elif kind == 1:
            rows += [{"loss": 1.0, "grad_norm": 12.0, "param_norm": param}] * 2
        elif kind == 2:
            rows += [
                {"loss": 1.0, "grad_norm": 60.0, "param_norm": param * (1 + k)} for k in range(3)
            ]
        else:
            rows.append({"loss": 1.0, "grad_norm": 500.0, "param_norm": param})
    for row in rows:
        if rng.random() < 0.05:
            row["param_norm"] = rng.choice((math.nan, -1.0))
        elif rng.random() < 0.05:
            row.pop("param_norm", None)
    return _build(rows)


def _noisy(rng: random.Random) -> tuple[Record, ...]:
    """Single-batch norms that jump often: a few jumps are explosions, then the jumps
    are the run's noise and only `absolute` counts."""
    rows: list[Metrics] = []
    for _ in range(rng.randint(800, 3000)):
        grad = rng.lognormvariate(0, 0.8)
        if rng.random() < 0.01:
            grad *= rng.choice((12.0, 40.0, 400.0))
        rows.append({"loss": round(1.0 + rng.uniform(-0.05, 0.05), 4), "grad_norm": grad})
    at = rng.randrange(100, len(rows) - 10)  # and one explosion that persists
    for row in rows[at : at + 3]:
        row["grad_norm"] = 150.0
    return _build(rows)


def _sparse(rng: random.Random) -> tuple[Record, ...]:
    """Grad norms on a few records only (an explosion among the very first, while the
    levels fill), the loss on fewer still, and a NaN hidden as a 0.0 loss last before a
    jump is measured: the loss the jump is measured from lies far back."""
    rows: list[Metrics] = []
    every = rng.choice((3, 10, 40))
    for i in range(rng.randint(1000, 3000)):
        row: Metrics = {}
        if i % every == 0:
            row["grad_norm"] = rng.uniform(0.5, 1.5)
        if i % 45 == 0:
            row["loss"] = round(1.0 + rng.uniform(-0.05, 0.05), 4)
        rows.append(row)
    early = every * rng.randint(2, 8)
    rows[early]["grad_norm"] = 20.0
    rows[early + every]["grad_norm"] = 25.0
    rows[early + 2 * every]["grad_norm"] = 30.0
    for _ in range(3):  # a hidden NaN, then a jump of the loss with a large norm
        at = rng.randrange(500, len(rows) - 100)
        rows[at] = {"loss": 0.0, "grad_norm": math.nan}
        rows[at + 60] = {"loss": 9.0, "grad_norm": 150.0}
    return _build(rows)


def _long(rng: random.Random) -> tuple[Record, ...]:
    """Long episodes: norms above `absolute` for hundreds of records (an error after
    three), with norms that are NaN or missing inside, a peak that rises now and then,
    and corroboration that comes late (a loss jump, a NaN hidden as a 0.0 loss, the
    weights growing) or never; and a long weak one (a warning)."""
    rows: list[Metrics] = []
    for part in range(8):
        rows += [_healthy(rng) | {"param_norm": 50.0} for _ in range(rng.randint(20, 200))]
        kind = part % 4
        top = 150.0
        for k in range(rng.randint(100, 900)):
            row: Metrics = {"loss": round(1.0 + rng.uniform(-0.05, 0.05), 4)}
            row["param_norm"] = 50.0 if kind != 2 or k < 300 else 50.0 * (1 + k / 100)
            if kind == 3:  # above the weights only, and not grown
                row.update(grad_norm=0.8 + rng.random() / 10, param_norm=0.5)
            elif rng.random() < 0.03:
                top *= 1.1
                row["grad_norm"] = top
            else:
                row["grad_norm"] = rng.uniform(110.0, 140.0)
            mark = rng.random()
            if mark < 0.02:
                row["grad_norm"] = rng.choice((math.nan, math.inf))
            elif mark < 0.04:
                del row["grad_norm"]
            elif mark < 0.05:
                del row["loss"]
            if kind == 0 and k == 200:
                row["loss"] = 9.0  # a jump, late
            if kind == 1 and k == 150:
                row.update(loss=0.0, grad_norm=math.nan)  # a hidden NaN
            rows.append(row)
    return _build(rows)


def _crossing(rng: random.Random) -> tuple[Record, ...]:
    """Grad norms that grow through `absolute` with 30% noise: they dip under it every
    few records (a reported episode goes on through gaps of one or two), with the loss
    tripling now and then (corroborated: an error at once) or not."""
    rows: list[Metrics] = [_healthy(rng) for _ in range(60)]
    for k in range(3000):
        grad = 60 * math.exp(k / 1500) * math.exp(0.3 * rng.gauss(0, 1))
        loss = 1.0 + rng.uniform(-0.05, 0.05)
        if rng.random() < 0.002:
            loss *= 4
        rows.append({"loss": round(loss, 4), "grad_norm": grad})
        if rng.random() < 0.01:
            rows += [_healthy(rng) for _ in range(rng.randint(1, 4))]  # (a gap, or an end)
    return _build(rows)


CASES: dict[str, Callable[[random.Random], tuple[Record, ...]]] = {
    "crossing": _crossing,
    "long": _long,
    "bursts": _bursts,
    "weights": _weights,
    "noisy": _noisy,
    "sparse": _sparse,
}


@pytest.mark.parametrize("case", CASES)
def test_blocks_exploding_gradient(case: str) -> None:
    assert_cut_runs_exact(ExplodingGradientDetector, CASES[case], case)


def test_a_negative_loss_does_not_corroborate_an_explosion() -> None:
    # A loss of -2.0 throughout is not "3x" the one before: one big norm is not
    # corroborated into an error ("the loss jumped 1.0x"), by either path.
    norms = [1.0 + (i % 5) / 10 for i in range(60)] + [150.0] + [1.0] * 10
    recs = records(loss=[-2.0] * 71, grad_norm=norms)
    found = run("exploding_gradient", recs)
    assert all(d.severity < Severity.ERROR and "jumped" not in d.message for d in found)
    detector = ExplodingGradientDetector(Thresholds())
    assert _blocks(detector, recs, random.Random(3)) == _oracle(
        ExplodingGradientDetector(Thresholds()), recs
    )
