"""Event sentences -> metric values: aborts, overflows and loss-scale changes."""

from __future__ import annotations

import math

import pytest

from gradlog.model import Severity
from gradlog.parse.events import ABORTED, OVERFLOW, SCALE_AT_MINIMUM, SKIPPED_STEP, event
from gradlog.parse.names import LOSS_SCALE

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
    # argman's EAST, on a NaN loss: ``Loss diverged, stop training``
    ("Loss diverged, stop training", {"loss": math.nan, ABORTED: 1.0}),
    ("Loss diverged. Stopping training.", {"loss": math.nan, ABORTED: 1.0}),
    # a traceback's failed check of the loss (mammoth), then ``AssertionError``
    ("    assert not math.isnan(loss)", {"loss": math.nan, ABORTED: 1.0}),
    ("assert torch.isfinite(total_loss)", {"loss": math.nan, ABORTED: 1.0}),
    ("FloatingPointError: gradients are Nan/Inf", {"grad_norm": math.nan, ABORTED: 1.0}),
    ("skipping update due to grad z-score of 6.812344", {SKIPPED_STEP: 1.0}),
    ("WARNING - loss spike detected, skipped the optimizer step", {SKIPPED_STEP: 1.0}),
    ("Optimizer step was skipped (non-finite gradients).", {SKIPPED_STEP: 1.0}),
    ("Skipping optimizer step: grad norm inf", {SKIPPED_STEP: 1.0}),
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


def test_a_skip_sentence_that_names_its_step_is_a_record_of_its_own() -> None:
    text = "WARNING - Step 1557: detected spiky gradient (norm=2.19); skipping optimizer step."
    found = event(text)
    assert found is not None and found.metrics == {SKIPPED_STEP: 1.0} and found.step == 1557


def test_a_skip_sentence_that_prints_a_loss_leaves_the_step_to_the_line() -> None:
    found = event("iter 300: loss nan, skipping update")
    assert found is not None and found.metrics == {SKIPPED_STEP: 1.0} and found.step is None


def test_an_overflow_skip_is_an_overflow_not_a_skipped_step() -> None:
    found = event(
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 8, reducing to 4"
    )
    assert found is not None and SKIPPED_STEP not in found.metrics


@pytest.mark.parametrize(
    "text",
    [
        "NaN detected in loss",
        "Detected NaN in the training loss, skipping batch",
        "WARNING: found inf in loss at step 120",
        "Found NaN values in total loss",
        "nan loss encountered, reloading the last checkpoint",
        "[09:15:08] - loss went to Nans",
        "Loss is not finite, stopping training",
        "the loss became infinite",
        "Non-finite loss detected: terminating",
        "FloatingPointError: NaN occurred in optimization.",
        "inf encountered during training; stopping",
        "F0313 12:00:01.123 4567 Train.cpp:551] Loss has NaN values. Samples - 123",
        "WARNING: non-finite loss, ending training  tensor(nan, device='cuda:0')",
        "NaN detected",  # skip-thoughts' guard: the sentence alone
        "NaN detected!",
        # a guard naming the network that went non-finite
        "NaN detected for generator or discriminator. Loading from checkpoint #13",
        "WARNING: inf found in model outputs, restoring the last checkpoint",
        "NaN encountered in the weights after step 400",
    ],
)
def test_a_sentence_saying_the_loss_went_non_finite_is_a_nan_loss(text: str) -> None:
    found = event(text)
    assert found is not None and math.isnan(found.metrics["loss"]), text


@pytest.mark.parametrize(
    "text",
    [
        "step 1 loss 2.0",
        "Infinite data loader: detected 4 workers",
        "INFO: loss is finite, continuing",
        "nanoGPT: found 3 files in loss_curves/",
        "Tests for NaN in loss are enabled (--detect-anomaly)",
        "loss scale: 1.0 | grad norm: 0.4",
        "number of nan iterations:   0",
        "number of skipped iterations:   0",
        "skip update lossz 0.000000",  # llm.c's settings table
        "    optim/step skipped=0.00E+00",  # OLMo-core's series: its value says
        "step skipped: 1",
        "[Rank 0] step=10, skipped=3, lr=[1.90e-05], mom=[[0.9, 0.999]]",
        "Skipping the first 1000 batches of the resumed epoch",
        "No NaN occurred in training; all good",  # (a sentence after it says so)
        "the loss has no NaN values",
        "checking whether loss has nan: no",
        "NaN detected in column age",  # (another thing's)
        "no NaN detected",
        "no NaN detected for the model",
        "NaN values found in gradients",  # (a gradient's, which an overflow skips)
        "Loss diverged at step 5",  # (no stop: a rule's message, not the run's guard)
    ],
)
def test_ordinary_lines_are_not_events(text: str) -> None:
    assert event(text) is None


@pytest.mark.parametrize(
    "text", ["assert math.isnan(loss)", "assert not math.isnan(lr)", "if not math.isnan(loss):"]
)
def test_other_checks_of_a_value_are_no_event(text: str) -> None:
    assert event(text) is None


def test_a_quiet_shape_stays_quiet_and_events_of_any_shape_are_still_read() -> None:
    quiet = "iteration 10 | number of skipped iterations: 0 | number of nan iterations: 0"
    assert event(quiet) is None
    assert event(quiet.replace("10", "97").replace(": 0", ": 3")) is None  # remembered
    scale = "Gradient overflow.  Skipping step, reducing loss scale to 2048"
    for value in ("2048", "4096", "1.5e+04"):
        found = event(scale.replace("2048", value))
        assert found is not None and found.metrics[LOSS_SCALE] == float(value)
    long_line = quiet + " x" * 2000  # too long to remember: read every time
    assert event(long_line) is None and event(long_line + " OVERFLOW!") is not None


@pytest.mark.parametrize(
    ("text", "scale", "overflow"),
    [
        ("Found NaN, decreased lg_loss_scale to 23", 2.0**23, True),  # improved-diffusion
        ("Found NaN, decreased lg_loss_scale to -340.5", 2.0**-340.5, True),
        ("increased log2_loss_scale to 16", 2.0**16, False),
        ("lowered the loss scale to 512.0", 512.0, False),
    ],
)
def test_a_scale_named_and_set_is_its_value(text: str, scale: float, overflow: bool) -> None:
    # A scale printed as its base-2 logarithm (``lg_``, ``log2_``) is read as the scale.
    found = event(text)
    assert found is not None and found.metrics[LOSS_SCALE] == pytest.approx(scale, rel=1e-12)
    assert (OVERFLOW in found.metrics) is overflow


def test_an_overflow_line_that_prints_the_skipped_step_s_values_is_the_scaler_at_work() -> None:
    # Jukebox's fp16 (OpenAI's): each overflow is a line of its own with the skipped
    # step's loss (inf where the forward pass overflowed), its grad norm and ``lgscale``,
    # the scale's base-2 logarithm. The scale falling by 2^19 is the story; the
    # non-finite values on lines that say their step was skipped are no NaN errors.
    from tests.helpers import analyze_text

    assert event("Overflow in backward. Loss tensor(2.7), grad norm inf") is not None
    log, lg = [], 16.0
    for step in range(1, 301):
        log.append(f"{step}/6250 [01:00<50:00, 1.61it/s, bpd=2.45, l={2.45 + step % 3 / 100}]")
        if step > 100 and step % 10 == 0:
            if step % 20:
                log.append(f"Overflow in forward. Loss tensor(inf, device='cuda:0'), lgscale {lg}")
            log.append(
                f"Overflow in backward. Loss tensor(2.53, device='cuda:0'), grad norm inf, "
                f"lgscale {lg}, new lgscale {lg - 1}"
            )
            lg -= 1
    found = analyze_text("\n".join(log))
    assert {d.id for d in found if d.severity >= Severity.ERROR} == {"loss_scale_collapse"}
    assert all(d.severity == Severity.INFO for d in found if d.id == "nan")
