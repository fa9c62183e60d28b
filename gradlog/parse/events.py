"""Event lines that carry no ``key: value`` metric but matter: aborts, overflows, skips.

Frameworks that catch a NaN stop with a message instead of printing it (Keras
TerminateOnNaN, Detectron2, fairseq, TensorFlow), and fp16 loss scalers report each
overflow as a sentence. These rules turn such sentences into metric values, so the
detectors see them like any other: a NaN loss, a non-finite grad norm, a loss scale.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from gradlog import lazy
from gradlog.parse.grammar import mask_digits
from gradlog.parse.names import GRAD_NORM, LOSS, LOSS_SCALE

# Cheap test before any regex: every event line contains one of these fragments.
_TRIGGERS = (
    "nvalid loss",
    "NaN",
    "nan",
    "Nan",
    "NAN",
    "inf",
    "Inf",
    "INF",
    "finite",
    "grad norm is",
    "verflow",
    "OVERFLOW",
    "scale to",
    "scale from",
    "scaling factor to",
    "minimum",
    "Minimum",
    "cannot decrease",
    "kipping",
    "kipped",
    "diverged",
)

OVERFLOW = "overflow"  # 1 on a record whose step was skipped for non-finite gradients
SCALE_AT_MINIMUM = "loss_scale_at_minimum"  # 1 when the scaler cannot go lower
ABORTED = "aborted"  # 1 when the run stopped itself because a value went non-finite
# 1 on a record whose optimizer step was skipped for another reason than an fp16 overflow
# (a spike or non-finite-gradient guard): no update was made.
SKIPPED_STEP = "skipped_step"
EVENTS = frozenset({OVERFLOW, SCALE_AT_MINIMUM, ABORTED, SKIPPED_STEP})  # names, not values


class Event(NamedTuple):
    """Metric values an event line stands for, and the step it names, if any."""

    metrics: dict[str, float]
    step: float | None = None


_NAN_LOSS = lazy.regex(
    # Keras's TerminateOnNaN (``Batch 36: ..``) and MindSpore's ``ValueError: epoch: 1
    # step: 760. Invalid loss, terminating training.``
    r"Invalid loss, terminating training|LossTensor is inf or nan|"
    r"total loss is NaN|Model diverged with loss = NaN|"
    r"Loss became infinite or NaN at iteration=(?P<step>\d+)|"
    # a check that stops the loop when the loss is NaN (argman's EAST: ``Loss diverged,
    # stop training``)
    r"(?i:\bloss diverged\W{0,3}(?:stop|stopping|terminat|abort|exit)\w*(?: the)? training)|"
    # a traceback's failed check of the loss (mammoth's ``assert not math.isnan(loss)``,
    # then ``AssertionError``): a source line a traceback shows only where it raised
    r"^\s*assert\s+(?:not\s+(?:\w+\.)*is(?:nan|inf)|(?:\w+\.)*isfinite)\(\s*(?:\w+\.)*\w*loss"
)
# A sentence that says the loss went non-finite, in the words scripts use for it:
# ``NaN detected in loss``, ``Detected NaN in the training loss``, ``nan loss
# encountered``, ``loss went to Nans``, ``Loss is not finite``, ``loss became infinite``,
# ``NaN occurred in optimization``, deepspeech.pytorch's ``received an inf loss``,
# wav2letter's ``Loss has NaN values``, ``non-finite loss, ending training``.
_NON_FINITE = r"(?:nans?|infs?|infinite|infinity|non-?finite|not\s+finite)"
_SAID_NAN = (
    rf"\b(?:detected|found|encountered|got|hit|received)\s+(?:an?\s+)?{_NON_FINITE}\s+"
    r"(?:values?\s+)?"
    r"(?:in\s+(?:the\s+)?)?(?:training\s+|train\s+|total\s+)?loss\b"
    rf"|\b{_NON_FINITE}\s+(?:values?\s+)?(?:detected|found|encountered)\s+in\s+(?:the\s+)?"
    r"(?:training\s+|train\s+|total\s+)?loss\b"
    rf"|\b{_NON_FINITE}\s+loss\s+(?:detected|encountered|found|values?)\b"
    r"|\bloss\s+(?:went|goes|has\s+gone|became|becomes|turned|is|was)\s+(?:to\s+)?"
    r"(?:nans|infs|infinite|non-?finite|not\s+finite)\b"
    # wav2letter's ``Loss has NaN values.``; ``non-finite loss, ending training``
    rf"|\bloss\s+(?:has|have|contains?)\s+(?:an?\s+)?{_NON_FINITE}\b(?!\s*[:=?])"
    rf"|\b{_NON_FINITE}\s+loss\b\W{{0,3}}(?:ending|stopping|terminating|aborting|exiting)\b"
    # PyMC's ``FloatingPointError: NaN occurred in optimization.``: the run itself.
    rf"|(?<!\bno\s)\b{_NON_FINITE}\s+(?:values?\s+)?(?:occurred|appeared|encountered|detected)\s+"
    r"(?:in|during)\s+(?:the\s+)?(?:optimi[sz]ation|training|fitting)\b"
    # a guard naming the network that went non-finite (lucidrains' stylegan2-pytorch:
    # ``NaN detected for generator or discriminator. Loading from checkpoint #13``)
    rf"|(?<!\bno\s)\b{_NON_FINITE}\s+(?:values?\s+)?(?:detected|found|encountered)\s+(?:for|in)\s+"
    r"(?:the\s+)?(?:generator|discriminator|model|network|net|weights|parameters|outputs?)\b"
    # the sentence alone, a loop's guard (skip-thoughts' ``NaN detected``): of nothing
    # else named, the training's values
    rf"|^\W*{_NON_FINITE}\s+(?:values?\s+)?(?:detected|encountered)\W*$"
)


_SAID_NAN_RE = lazy.regex(_SAID_NAN, re.IGNORECASE)


# A framework that skips the update when the gradients are not finite (ESPnet, CTC).
_SKIPPED = lazy.regex(
    r"[Tt]he grad norm is (?:nan|inf)|grad norm is nan\. Do not update|all samples got nan grad"
)
_FATAL_GRAD = lazy.regex(r"gradients are Nan/Inf")  # fairseq in fp32: the run stops
_SCALE = lazy.regex(
    r"(?:reducing|setting|Reducing|Increasing)(?: dynamic)?(?: loss)?(?: scale)?"
    r"(?: from \S+)? to:?\s*(?P<scale>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
)
_OVERFLOW = lazy.regex(
    r"OVERFLOW!|[Oo]verflow detected|Gradient overflow|overflow! Skipping"
    r"|\bOverflow in (?:backward|forward)\b"  # OpenAI's fp16 (Jukebox): the step skipped
    r"|\bFound (?:NaN|nan|Inf|inf), (?:decreas|reduc|lower)"  # improved-diffusion's
    # Marian's ``Seen NaN/Inf in gradient, skipping update``
    r"|\b(?:NaN|nan|Inf|inf)(?:/(?:NaN|nan|Inf|inf))? in (?:the )?gradients?, skipping\b"
)
# A scale named and set (``Found NaN, decreased lg_loss_scale to 23.2``, Marian's
# ``reducing cost-scaling factor to 16384``): its value, or its base-2 logarithm's where
# the name says so (``lg_``, ``log_``, ``log2_``).
_NAMED_SCALE = lazy.regex(
    r"\b(?i:decreas|increas|reduc|lower|rais)(?:ed|ing)\s+(?:the\s+)?(?P<log>lg_|log2?_)?"
    r"(?:loss|cost)[-_ ]scal(?:e|ing)(?:[-_ ]factor)?\s+to:?\s*"
    r"(?P<scale>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
)
# "skipping (the) (optimizer) step", "skipped the update", "optimizer step was skipped":
# the -ing and -ed forms only, as a bare "skip update" is a setting's name (llm.c's table);
# followed by ``=`` or ``:`` and a number, it is a series' name (its value says).
_SKIP_STEP = lazy.regex(
    r"\bskip(?:ping|ped)\s+(?:the\s+|this\s+|an?\s+)?"
    r"(?:optimi[sz]er\s+|gradient\s+|parameter\s+|weight\s+|model\s+|training\s+)?"
    r"(?:step|update)\b|\b(?:step|update)\s+(?:(?:was|is|has\s+been)\s+)?skipped\b"
    # (not a name with its value: OLMo-core's ``optim/step skipped=0.00E+00``)
    r"(?!\s*[:=]\s*[-+]?\.?\d)",
    re.IGNORECASE,
)
# The step a skip sentence names (``Step 1557: ... skipping optimizer step``): each such
# sentence is a skipped step of its own, so it makes a record of its own.
_NAMED_STEP = lazy.regex(r"\b(?:step|iter(?:ation)?)\s*[:=#]?\s*(?P<step>\d+)", re.IGNORECASE)
_MINIMUM = lazy.regex(r"already at minimum|Minimum loss scale reached|cannot decrease scale")


# Lines found to be no event, by their shape with every digit made 0: the patterns above
# treat all digits alike, so a line of a shape found quiet is quiet whatever its numbers
# (Megatron prints "number of skipped iterations" and "number of nan iterations" on every
# line). Bounded; shared by every input, as ``event`` is a pure function.
_QUIET: set[str] = set()
_QUIET_KEPT = 4096
_QUIET_LONGEST = 2048  # characters: longer lines are not remembered (4096 x 2 KiB at most)


def event(text: str, masked: str | None = None) -> Event | None:
    """The event this line reports, or None for an ordinary line; ``masked``: the line
    with every digit made 0, when the caller has it."""
    if len(text) > _QUIET_LONGEST:
        return _event(text) if _triggered(text) else None
    shape = mask_digits(text) if masked is None else masked
    if shape in _QUIET:
        return None
    found = _event(text) if _triggered(text) else None
    if found is None and len(_QUIET) < _QUIET_KEPT:
        _QUIET.add(shape)
    return found


def _triggered(text: str) -> bool:
    """Whether the line holds a fragment every event line holds: a cheap test first."""
    return any(trigger in text for trigger in _TRIGGERS)


def _event(text: str) -> Event | None:
    if match := _NAN_LOSS.search(text):
        step = match.group("step")
        return Event({LOSS: math.nan, ABORTED: 1.0}, float(step) if step else None)
    if _FATAL_GRAD.search(text):
        return Event({GRAD_NORM: math.nan, ABORTED: 1.0})
    if _SAID_NAN_RE.search(text):
        return Event({LOSS: math.nan})
    if _SKIPPED.search(text):
        return Event({OVERFLOW: 1.0})
    metrics: dict[str, float] = {}
    if _OVERFLOW.search(text):
        metrics[OVERFLOW] = 1.0
    match = _SCALE.search(text)
    if match and "hysteresis" not in text[: match.start()]:
        metrics[LOSS_SCALE] = float(match.group("scale"))
    elif match := _NAMED_SCALE.search(text):
        scale = float(match.group("scale"))
        metrics[LOSS_SCALE] = power_of_two(scale) if match.group("log") else scale
    if _MINIMUM.search(text):
        metrics[SCALE_AT_MINIMUM] = 1.0
    if not metrics and _SKIP_STEP.search(text):  # an overflow skip is the loss scaler's
        return Event({SKIPPED_STEP: 1.0}, _skip_step(text))
    return Event(metrics) if metrics else None


def _skip_step(text: str) -> float | None:
    """The step a skip sentence names, unless it prints a loss too: then the line's own
    fields, loss included, take the skip in (an event with a step would stand alone)."""
    match = _NAMED_STEP.search(text)
    if match is None or "loss" in text.lower():
        return None
    return float(match.group("step"))


def power_of_two(exponent: float) -> float:
    """2 to ``exponent``: a loss scale printed as its base-2 logarithm (``lg_loss_scale``),
    as the scale itself (past what a float holds: infinite)."""
    return 2.0**exponent if exponent < 1024 else math.inf
