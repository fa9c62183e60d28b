"""Framework dialects: how to recognise each one, and the quirks the generic grammar misses.

A dialect is recognised from a line's text (its signature) the first time a line of that
shape is seen; lines matching no signature belong to the dialect of the document so far.
Each dialect may rename keys that mean something else elsewhere (llm.c's ``norm`` is the
grad norm) and adjust a line's fields (steps computed from ``[epoch][i/N]``, evaluation
lines moved to ``val_loss``, Megatron's dropped NaN loss).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from gradlog import lazy
from gradlog.parse.names import ACC, GRAD_NORM, LOSS, STEP, VAL_ACC, VAL_LOSS


@dataclass
class LineFields:
    """Mutable fields of one line while a dialect adjusts them."""

    metrics: dict[str, float]
    step: float | None = None
    epoch: float | None = None
    marker: bool = True  # False: the line continues the open record whatever its step
    bits: bool = False  # the line's losses are in bits (base 2)
    # A step counted within the epoch (``[2][100/788]``): the batch, the batches per
    # epoch and the number of the first epoch, as ``in_epoch`` made the step from them.
    batch: tuple[float, float, int] | None = None
    # Where in the text ``in_epoch`` read the epoch, the batch and the batches per epoch:
    # a compiled shape reads them from the same places of every line of the layout.
    counted: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] | None = None


_EVALUATED = {LOSS: VAL_LOSS, ACC: VAL_ACC, VAL_LOSS: VAL_LOSS, VAL_ACC: VAL_ACC}
Group = tuple["re.Match[str]", int]  # a group of a match: a number in the line's text
Adjust = Callable[[LineFields, str], bool]  # False drops the line


@dataclass(frozen=True)
class Dialect:
    """One framework's printing: signature, key renames and an optional adjustment."""

    name: str
    signature: re.Pattern[str] | None
    renames: dict[str, str] = field(default_factory=dict)
    adjust: Adjust | None = None
    generic: bool = False  # a shape, not a framework: reported only when nothing else is
    # The adjustment depends only on a line's metric names and on its text with the
    # digits masked, never on a value (a step ``in_epoch`` makes is read from places of
    # the text the layout fixes): it does the same to every line of a layout, so a
    # layout's lines can be read by a compiled shape (``LineParser.compiled``).
    layout_only: bool = False
    # Or only for the layouts whose metric names pass this test.
    layout_only_for: Callable[[frozenset[str]], bool] | None = None

    def reads_layouts(self, names: frozenset[str]) -> bool:
        """Whether the adjustment does the same to every line of a layout printing these
        metric names (see ``layout_only``)."""
        return self.layout_only or (
            self.layout_only_for is not None and self.layout_only_for(names)
        )


def in_epoch(fields: LineFields, first: int, epoch: Group, index: Group, total: Group) -> None:
    """The line's step as a global batch count, from its epoch (the first is numbered
    ``first``) and its batch ``index/total`` within it, each a group of a match on the
    line's text; the parts are kept too, and where in the text they were read."""
    value = [float(match.group(group)) for match, group in (epoch, index, total)]
    fields.epoch = value[0]
    fields.step = (value[0] - first) * value[2] + value[1]
    fields.batch = (value[1], value[2], first)
    spans = [match.span(group) for match, group in (epoch, index, total)]
    fields.counted = (spans[0], spans[1], spans[2])


_BAR = lazy.regex(r"(\d+)/(\d+)\s*\[")
_EPOCH_COLON = lazy.regex(r"^Epoch (\d+):")


def _keras(fields: LineFields, text: str) -> bool:
    if "Invalid loss" in text:  # ``Batch 36: Invalid loss`` names a batch of the open epoch
        fields.step = None
    return True


def _lightning(fields: LineFields, text: str) -> bool:
    epoch, bar = _EPOCH_COLON.search(text), _BAR.search(text)
    if epoch and bar:
        in_epoch(fields, 0, (epoch, 1), (bar, 1), (bar, 2))
    fields.metrics.pop("v_num", None)
    return bool(fields.metrics)


def _nanogpt(fields: LineFields, text: str) -> bool:
    if text.startswith("step") and VAL_LOSS in fields.metrics:
        fields.metrics.pop(LOSS, None)  # an evaluation estimate, not the training series
    return True


def _megatron(fields: LineFields, text: str) -> bool:
    grad = fields.metrics.get(GRAD_NORM)
    hidden = grad is not None and not math.isfinite(grad) and LOSS not in fields.metrics
    if hidden and "iteration" in text and "validation" not in text:
        fields.metrics[LOSS] = math.nan  # a NaN loss is left out of the line
    return True


def _fairseq(fields: LineFields, text: str) -> bool:
    if "Saved checkpoint" in text:  # ``(epoch 1 @ 300 updates, score 7.876) (writing took..``
        return False  # (its score repeats the validation loss printed before it)
    fields.bits = True  # fairseq prints losses in base 2 (``ppl`` = 2 ** ``nll_loss``)
    if "valid on" in text or text.startswith("valid "):
        for name in list(fields.metrics):
            if name in (LOSS, "nll_loss", "ppl", "acc", "accuracy"):
                canonical = VAL_LOSS if name == LOSS else f"val_{name}"
                fields.metrics[canonical] = fields.metrics.pop(name)
    return True


_TIMM_TRAIN = lazy.regex(r"^(?:Train: (\d+)|Epoch: \[(\d+)\])\s*\[\s*(\d+)/(\d+)")


def _timm(fields: LineFields, text: str) -> bool:
    fields.metrics.pop("train", None)
    if text.startswith("Test"):  # evaluation: only its loss and accuracy are kept
        # (The reader names a validation line's loss and accuracy so already.)
        metrics = fields.metrics
        found = {
            VAL_LOSS: metrics.get(VAL_LOSS, metrics.get(LOSS)),
            "val_acc1": metrics.get("val_acc_1", metrics.get("acc_1")),
        }
        fields.metrics = {k: v for k, v in found.items() if v is not None}
        fields.marker = False
        return bool(fields.metrics)
    match = _TIMM_TRAIN.search(text)
    if match:
        in_epoch(fields, 0, (match, 1 if match.group(1) else 2), (match, 3), (match, 4))
    return True


_MM_EPOCH = lazy.regex(r"Epoch(?:\(train\))?\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]")
_MM_ITER = lazy.regex(r"Iter(?:\(train\))?\s*\[\s*(\d+)/(\d+)\]")


def _mmengine(fields: LineFields, text: str) -> bool:
    for junk in ("epoch_train", "iter_train", "epoch_val", "iter_val"):
        fields.metrics.pop(junk, None)
    if "(val)" in text or "(test)" in text:
        fields.marker = False
        return True
    if match := _MM_EPOCH.search(text):
        in_epoch(fields, 1, (match, 1), (match, 2), (match, 3))
    elif match := _MM_ITER.search(text):
        fields.step = float(match.group(1))
    return True


def _litgpt(fields: LineFields, text: str) -> bool:
    if " step " not in text and VAL_LOSS in fields.metrics:
        fields.marker = False  # ``iter N: val loss`` belongs to the current step
    return True


_ESPNET = lazy.regex(r"(\d+)epoch:(?:train|valid):")
_ESPNET_RESULTS = lazy.regex(r"(\d+)epoch results: ")


def _espnet(fields: LineFields, text: str) -> bool:
    match = _ESPNET.search(text)
    if match:
        fields.epoch = float(match.group(1))
        fields.marker = False  # batch ranges restart each epoch: records are numbered
    results = _ESPNET_RESULTS.search(text)
    if results:
        # The epoch's summary: its [train] means repeat the batch lines', its [valid]
        # values are the epoch's evaluation and join its last record.
        fields.epoch = float(results.group(1))
        fields.marker = False
        fields.metrics = {k: v for k, v in fields.metrics.items() if k.startswith("val_")}
    for junk in ("train", "valid"):
        fields.metrics.pop(junk, None)
    return True


def _tensorflow(fields: LineFields, text: str) -> bool:
    if "Saving dict for global step" in text:
        # The Estimator's evaluation results at that step: validation values, which join
        # the step's training record without replacing its loss.
        fields.metrics = {_EVALUATED.get(k, f"eval_{k}"): v for k, v in fields.metrics.items()}
    return True


def _hf_trainer(fields: LineFields, text: str) -> bool:
    # The closing summary (train_runtime, whole-run train_loss) is not a data point.
    if "train_runtime" in fields.metrics or "total_flos" in fields.metrics:
        return False
    if VAL_LOSS in fields.metrics or any(k.startswith("eval_") for k in fields.metrics):
        # An evaluation dict joins the training record before it; extras such as
        # axolotl's memory figures are the training record's business.
        # Its loss and accuracy are named as validation's already (``eval_accuracy`` is
        # ``val_acc``); its other values keep their ``eval_`` names.
        fields.metrics = {
            k: v
            for k, v in fields.metrics.items()
            if k in (VAL_LOSS, VAL_ACC) or k.startswith(("eval_", "val_"))
        }
    return True


def _catboost(fields: LineFields, text: str) -> bool:
    # ``best: 0.67 (48)`` is the running best test value and its iteration; ``total`` and
    # ``remaining`` are times; ``bestTest = ..`` and ``bestIteration = ..`` end the run.
    for name in [name for name in fields.metrics if name.startswith("best")]:
        del fields.metrics[name]
    for junk in ("total", "remaining"):
        fields.metrics.pop(junk, None)
    return bool(fields.metrics) or fields.step is not None


# Darknet (YOLO v2-v4) prints each iteration's numbers before their names: `` 212:
# 3.94, 4.01 avg loss, 0.001 rate, 3.1 seconds, 64 images, 30.1 hours left`` (the batch
# loss first, then its running average); between them, per-layer statistics (``Region
# 82 Avg IOU: 0.29, Class: ..``, v4's ``v3 (iou loss, Normalizer: ..``) and loading times.
_DARKNET = lazy.regex(
    # (the classifier prints the epoch after the batch: ``60612, 6.056: 31.47, 4.76 avg, ..``)
    r"^(?P<step>\d+)(?:, *(?P<epoch>\d+(?:\.\d+)?))?: *(?P<loss>[-+\w.]+), *"
    r"(?P<avg>[-+\w.]+) avg(?: loss)?, *"
    r"(?P<rate>[-+\w.]+) rate, *(?P<seconds>[-+\w.]+) seconds"
)
_DARKNET_NOTES = lazy.regex(
    r"^(?:Region \d+ Avg IOU:|v3 \(\w+ loss, Normalizer|Loaded: \S+ seconds)"
)


def darknet_pairs(text: str) -> str | None:
    """A Darknet line as the pairs it means (``darknet iteration 212: loss 3.94, ..``,
    which the ``darknet`` dialect's signature knows); "" for one of its notes, which is
    no series; None for any other line. (The grammar reads names before values only.)"""
    if text[:1] in "RvL" and _DARKNET_NOTES.match(text):
        return ""
    found = _DARKNET.match(text) if " avg" in text else None
    if found is None:
        return None
    pairs = "darknet iteration {step}: loss {loss}, avg_loss {avg}, lr {rate}, time {seconds}"
    if found["epoch"] is not None:
        pairs += ", epoch {epoch}"
    return pairs.format(**found.groupdict())


DIALECTS: tuple[Dialect, ...] = (
    Dialect(
        "megatron",
        lazy.regex(r"\biteration\s+\d+/\s*\d+ \||validation loss at iteration"),
        adjust=_megatron,
        # It adds a NaN loss only to a line that prints a grad norm and no loss.
        layout_only_for=lambda names: LOSS in names or GRAD_NORM not in names,
    ),
    Dialect(
        "llmc",
        lazy.regex(
            r"^step\s+\d+/\d+ \| (?:train )?loss|^s:\d+ t[re]l:|"
            r"^step \d+: train loss [\d.naif-]+ \(took"
        ),
        renames={"norm": GRAD_NORM, "s": STEP},
    ),
    Dialect(
        "nanogpt",
        lazy.regex(r"^iter \d+: loss |^step \d+: train loss \S+, val loss"),
        adjust=_nanogpt,
        layout_only=True,
    ),
    Dialect(
        "litgpt",
        lazy.regex(r"\biter \d+ step \d+|\| loss train:|^iter \d+: val loss"),
        adjust=_litgpt,
        layout_only=True,
    ),
    Dialect(
        "lightning",
        lazy.regex(r"^Epoch \d+:.*\d+/\d+ \[.*(?:it/s|s/it)|\bv_num="),
        adjust=_lightning,
        layout_only=True,
    ),
    Dialect(
        "keras",
        adjust=_keras,
        layout_only=True,
        signature=lazy.regex(
            r"^\s*\d+/\d+ (?:\[[=>.]*\]|━)|━|- \d+(?:ms|s|us)/(?:step|sample)"
            r"|^\d+/\d+ - \d+m?s - "
        ),
    ),
    Dialect(
        "fairseq",
        lazy.regex(r"num_updates[=\" ]|valid on '|\"update\": "),
        adjust=_fairseq,
        layout_only=True,
    ),
    Dialect(
        "timm",
        lazy.regex(
            r"^Train: \d+ \[\s*\d+/\d+|^Test: \[\s*\d+/\d+\]|"
            r"^Epoch: \[\d+\]\s+\[\s*\d+/\d+\]"
        ),
        adjust=_timm,
        layout_only=True,
    ),
    Dialect(
        "mmengine",
        lazy.regex(
            r"(?:Epoch|Iter)\((?:train|val|test)\)\s*\[|"
            r"^Epoch \[\d+\]\[\s*\d+/\d+\]|^Iter \[\s*\d+/\d+\]"
        ),
        adjust=_mmengine,
        layout_only=True,
    ),
    Dialect("torchtitan", lazy.regex(r"^(?:validate )?step:\s*\d+\s+loss:")),
    Dialect("detectron2", lazy.regex(r"\biter: \d+\s+total_loss:|Loss became infinite or NaN")),
    Dialect("paddle", lazy.regex(r"global_step: \d+|(?:nan|inf)xx")),
    Dialect("opennmt", lazy.regex(r"^Step \d+/\s*\d+;|; xent:")),
    Dialect(
        "espnet",
        lazy.regex(r"\d+epoch:(?:train|valid):\d+-\d+batch:|epoch results: \["),
        adjust=_espnet,
    ),
    Dialect(
        "tensorflow",
        lazy.regex(
            r"per-step time|^global step \d+:|Loss/total_loss|"
            r"^loss = \S+, step = \d+|LossTensor is inf or nan"
        ),
        adjust=_tensorflow,
        layout_only=True,
    ),
    Dialect("deepspeed", lazy.regex(r"OVERFLOW!|RunningAvgSamplesPerSec|\bskipped=\d+")),
    Dialect(
        "hf_trainer",
        lazy.regex(r"\{\s*'[^']+': .*'epoch': "),
        adjust=_hf_trainer,
        layout_only=True,
    ),
    Dialect(
        "r_optim",
        # R's optimizers' trace (nnet, multinom, optim with trace): the objective's value
        # every 10 iterations, ``iter  10 value 1894.652873``.
        lazy.regex(r"^iter +\d+ value [-+]?\d"),
        renames={"value": LOSS},
    ),
    Dialect(
        "catboost",
        # ``0:\tlearn: 0.8097011\ttest: 0.8232279\tbest: 0.8232279 (0)\ttotal: 98.8ms\t..``
        lazy.regex(r"^\d+:\s+learn: \S+\s+(?:test: |total: )"),
        renames={"learn": LOSS, "test": VAL_LOSS},
        adjust=_catboost,
        layout_only=True,
    ),
    Dialect("darknet", lazy.regex(r"^darknet iteration \d+: loss ")),
    Dialect("json_lines", lazy.regex(r"^\s*\{\s*\"")),
    Dialect("epoch_block", lazy.regex(r"^\s*Epoch\s+\d+\s*/\s*\d+\s*$"), generic=True),
)

GENERIC = Dialect("key_value", None, generic=True)
BY_NAME: dict[str, Dialect] = {d.name: d for d in (*DIALECTS, GENERIC)}


def recognise(text: str) -> Dialect | None:
    """The dialect whose signature this line carries, if any."""
    for dialect in DIALECTS:
        if dialect.signature is not None and dialect.signature.search(text):
            return dialect
    return None
