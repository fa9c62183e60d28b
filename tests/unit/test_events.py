"""Event sentences -> metric values: aborts, overflows and loss-scale changes."""

from __future__ import annotations

import math

import pytest

from gradlog.parse.events import ABORTED, OVERFLOW, SCALE_AT_MINIMUM, event

CASES = [
    (
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to "
        "32768",
        {OVERFLOW: 1.0, "loss_scale": 32768.0},
    ),
    (
        "NOTE: gradient overflow detected, ignoring gradient, setting loss scale to: 32.0",
        {OVERFLOW: 1.0, "loss_scale": 32.0},
    ),
    (
        "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 16384.0",
        {OVERFLOW: 1.0, "loss_scale": 16384.0},
    ),
    ("Reducing dynamic loss scale from 4096 to 2048", {"loss_scale": 2048.0}),
    (
        "OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 4, but hysteresis is 2. "
        "Reducing hysteresis to 1",
        {OVERFLOW: 1.0},
    ),
    (
        "Current loss scale already at minimum - cannot decrease scale anymore",
        {SCALE_AT_MINIMUM: 1.0},
    ),
    ("loss: 2.1307 Batch 36: Invalid loss, terminating training", {"loss": math.nan, ABORTED: 1.0}),
    ("The grad norm is nan. Skipping updating the model.", {OVERFLOW: 1.0}),
    ("Model diverged with loss = NaN.", {"loss": math.nan, ABORTED: 1.0}),
    ("FloatingPointError: gradients are Nan/Inf", {"grad_norm": math.nan, ABORTED: 1.0}),
]


@pytest.mark.parametrize(("text", "metrics"), CASES)
def test_event(text: str, metrics: dict[str, float]) -> None:
    found = event(text)
    assert found is not None
    assert found.metrics.keys() == metrics.keys()
    for name, value in metrics.items():
        got = found.metrics[name]
        assert got == value or (math.isnan(got) and math.isnan(value))


def test_abort_names_its_step() -> None:
    found = event("FloatingPointError: Loss became infinite or NaN at iteration=1771!")
    assert found is not None and found.step == 1771


@pytest.mark.parametrize(
    "text", ["step 1 loss 2.0", "loss scale: 1.0 | grad norm: 0.4", "number of nan iterations:   0"]
)
def test_ordinary_lines_are_not_events(text: str) -> None:
    assert event(text) is None
