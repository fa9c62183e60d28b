"""Remedies that fit the user's framework and numbers, filled into each rule's templates.

A rule's remedies are a reviewed, static list; some hold placeholders that are filled
here from facts about the run, never invented per diagnosis:

- ``{clip}``: how to clip gradients by norm in the detected framework, with a threshold
  at about the 90th percentile of the grad norms seen before the problem;
- ``{lower_lr}``: lowering the learning rate, relative to the one the log printed;
- ``{rollback}``: the last healthy step before the episode, to resume from.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Collection
from dataclasses import replace
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

from gradlog.model import Diagnosis, Record, Step
from gradlog.parse.names import GRAD_NORM, LR

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block
else:
    from gradlog.lazy import numpy as np

# How each framework clips by global norm; {c} is the threshold.
CLIP_BY_FRAMEWORK: dict[str, str] = {
    "hf_trainer": "set `max_grad_norm={c}` in `TrainingArguments` (the pre-clipping norm is "
    "what the log shows, so it may stay above {c})",
    "keras": "pass `clipnorm={c}` (or `global_clipnorm={c}`) to the optimizer",
    "lightning": '`Trainer(gradient_clip_val={c}, gradient_clip_algorithm="norm")`',
    "megatron": "`--clip-grad {c}`",
    "deepspeed": '`"gradient_clipping": {c}` in the DeepSpeed config',
    "fairseq": "`--clip-norm {c}`",
    "timm": "`--clip-grad {c}` (with `--clip-mode norm`)",
    "mmengine": "`optim_wrapper = dict(..., clip_grad=dict(max_norm={c}, norm_type=2))`",
    "detectron2": '`SOLVER.CLIP_GRADIENTS.ENABLED True`, `CLIP_TYPE "norm"`, `CLIP_VALUE {c}`',
    "nanogpt": "`grad_clip = {c}` in the training config",
    "torchtitan": "`max_norm = {c}` in the `[training]` section of the job config",
    "litgpt": "`--train.max_norm {c}`",
    "paddle": "`max_grad_norm={c}` in `TrainingArguments`",
    "opennmt": "`max_grad_norm: {c}` in the training config",
    "espnet": "`grad_clip: {c}` in the training config",
}
CLIP_BY_FRAMEWORK["paddle"] = (
    "`grad_clip=paddle.nn.ClipGradByGlobalNorm(clip_norm={c})` when building the optimizer"
)
CLIP_BY_FRAMEWORK["tensorflow"] = "pass `global_clipnorm={c}` to the optimizer"
# Frameworks that clip by global norm at 1.0 unless told otherwise: clipping is not new
# advice there, checking that the run did not turn it off is.
CLIPS_BY_DEFAULT: dict[str, str] = {
    "hf_trainer": "`max_grad_norm=1.0`",
    "nanogpt": "`grad_clip = 1.0`",
    "megatron": "`--clip-grad 1.0`",
    "litgpt": "`--train.max_norm 1.0`",
}
# Frameworks that train transformer language models: advice for recurrent cells does not fit.
LANGUAGE_MODELS = frozenset(
    {"hf_trainer", "nanogpt", "megatron", "litgpt", "torchtitan", "llmc", "deepspeed"}
)
_RECURRENT = "For recurrent models"
# The rules for a run that does not learn: a zero learning rate in the log comes first.
_NO_LEARNING = frozenset({"stalled", "chance_plateau", "vanishing_gradient"})
DEFAULTS = {
    "clip": "Clip gradients by norm (g <- g * min(1, c/||g||), with c around 1.0).",
    "lower_lr": "Lower the learning rate (try 3-10x lower)",
    "rollback": "shortly before the episode",
}
_ARRAYS_FROM = 512  # grad norms kept: from this many, the context is worked out in numpy
_KEPT = 4096  # grad norms kept from the start of the run and from its recent past


def _round(value: float) -> str:
    """Two significant digits, written as a person would type it."""
    return f"{float(f'{value:.2g}'):g}"


class Context(NamedTuple):
    """Facts about the run that fill remedy templates."""

    framework: str | None = None
    clip_at: float | None = None
    lr: float | None = None
    rollback: Step | None = None

    def values(self) -> dict[str, str]:
        found = dict(DEFAULTS)
        default = CLIPS_BY_DEFAULT.get(self.framework or "")
        if default is not None:
            found["clip"] = (
                f"Check that gradient clipping is on: {self.framework} clips by norm at 1.0 "
                f"unless told otherwise ({default}), and the norm it logs is measured before "
                "clipping; if the run turns it off, turn it back on."
            )
        elif self.clip_at is not None:
            c = _round(self.clip_at)
            how = CLIP_BY_FRAMEWORK.get(self.framework or "")
            found["clip"] = (
                f"Clip gradients by norm at about {c} (the 90th percentile of the grad "
                f"norms before the problem): "
                + (how.format(c=c) if how else f"g <- g * min(1, {c}/||g||), every step")
                + "."
            )
        elif self.framework in CLIP_BY_FRAMEWORK:
            how = CLIP_BY_FRAMEWORK[self.framework].format(c="1.0")
            found["clip"] = f"Clip gradients by norm, with a threshold around 1.0: {how}."
        if self.lr is not None and self.lr > 0:  # (a zero one: see ``personalise``)
            found["lower_lr"] = (
                f"Lower the learning rate from {_round(self.lr)} to about "
                f"{_round(self.lr / 3)} (3x lower; 10x if the problem returns)"
            )
        if self.rollback is not None:
            found["rollback"] = f"at or before step {self.rollback}"
        return found


def fill(template: str, values: dict[str, str]) -> str:
    """A remedy with its placeholders filled; text without placeholders is unchanged."""
    return template.format(**values) if "{" in template else template


def _rows(pairs: Collection[tuple[Step, float]]) -> np.ndarray:
    """(step, grad norm) pairs as an array of two columns."""
    return np.fromiter(chain.from_iterable(pairs), np.float64, 2 * len(pairs)).reshape(-1, 2)


class History:
    """Bounded memory of the run, enough to fill remedies for any episode."""

    def __init__(self) -> None:
        self._early: list[tuple[Step, float]] = []
        self._recent: deque[tuple[Step, float]] = deque(maxlen=_KEPT)
        self._records: deque[Record] = deque(maxlen=64)
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None  # steps, grads: a cache
        self._early_rows: np.ndarray | None = None  # the early ones, once their memory is full
        # The recent ones as rows, kept up to date by ``add_block`` once made (``add``, one
        # record at a time, drops them: they are made again when asked for).
        self._recent_rows: np.ndarray | None = None

    def fork(self) -> History:
        """A copy to add to without changing this one (records are never changed, so
        they are shared)."""
        other = History()
        other._early = list(self._early)
        other._recent = self._recent.copy()
        other._records = self._records.copy()
        return other

    def add(self, record: Record) -> None:
        grad = record.get(GRAD_NORM)
        if grad is not None and math.isfinite(grad):
            target = self._early if len(self._early) < _KEPT else self._recent
            target.append((record.step, grad))
            self._arrays = self._recent_rows = None
        self._records.append(record)

    def add_block(self, block: Block, start: int, end: int) -> None:
        """``add`` each of the block's records from ``start`` to ``end``, in bulk."""
        if end <= start:
            return
        grads = block.values(GRAD_NORM)[start:end]
        kept = np.flatnonzero(np.isfinite(grads))
        if len(kept):  # the first to fill the early memory, the rest to the recent one
            steps = block.steps[start:end]  # only compared with steps: floats will do
            room = max(0, _KEPT - len(self._early))
            head, tail = kept[:room], kept[room:][-_KEPT:]
            self._early += zip(steps[head].tolist(), grads[head].tolist(), strict=True)
            self._recent.extend(zip(steps[tail].tolist(), grads[tail].tolist(), strict=True))
            if self._recent_rows is not None and len(tail):
                added = np.column_stack((steps[tail], grads[tail]))
                self._recent_rows = np.concatenate((self._recent_rows, added))[-_KEPT:]
            self._arrays = None
        self._records.extend(block.records[max(start, end - 64) : end])

    def _clip(self, first: Step) -> float | None:
        """The 90th percentile of the grad norms kept from before step ``first``, leaving
        out those above 5x their median (the onset of an explosion that began before
        the diagnosis); None with fewer than 5. In numpy when there are many (a short run
        is not worth importing it), by selection, not a sort: the same order statistics."""
        if len(self._early) + len(self._recent) < _ARRAYS_FROM:
            grads = sorted(g for s, g in (*self._early, *self._recent) if s < first)
            if grads:
                grads = grads[: bisect_right(grads, 5 * grads[len(grads) // 2])]
            return float(grads[int(0.9 * (len(grads) - 1))]) if len(grads) >= 5 else None
        steps, kept = self._grads()
        before = kept[steps < first]
        if not len(before):
            return None
        middle = len(before) // 2
        typical = np.partition(before, middle)[middle]
        usual = before[before <= 5 * typical]
        if len(usual) < 5:
            return None
        at = int(0.9 * (len(usual) - 1))
        return float(np.partition(usual, at)[at])

    def _grads(self) -> tuple[np.ndarray, np.ndarray]:
        """The steps and grad norms kept, as arrays (made again after an ``add``; the
        early ones only until their memory is full, as it then stays)."""
        if self._arrays is None:
            early = self._early_rows
            if early is None or len(early) != len(self._early):
                early = _rows(self._early)
                self._early_rows = early if len(self._early) >= _KEPT else None
            if self._recent_rows is None:
                self._recent_rows = _rows(self._recent)
            rows = np.concatenate((early, self._recent_rows))
            self._arrays = rows[:, 0], rows[:, 1]
        return self._arrays

    def context(self, diagnosis: Diagnosis, framework: str | None) -> Context:
        """Facts from before the diagnosis's first step."""
        first = diagnosis.first_step
        if first is None:
            return Context(framework)
        clip = self._clip(first)
        before = [r for r in self._records if r.step < first]
        lrs = [r.metrics[LR] for r in before if r.get(LR) is not None]
        rollback = before[-1].step if before else None
        return Context(framework, clip, lrs[-1] if lrs else None, rollback)


def personalise(diagnosis: Diagnosis, context: Context) -> Diagnosis:
    """The diagnosis with its remedy templates filled from ``context``, fitted to what the
    log shows: a zero learning rate first for a run that does not learn, and no advice
    for recurrent cells in a framework that trains transformer language models."""
    values = context.values()
    remedies = [fill(r, values) for r in diagnosis.remedies]
    if context.framework in LANGUAGE_MODELS:
        remedies = [r for r in remedies if not r.startswith(_RECURRENT)]
    if diagnosis.id in _NO_LEARNING and context.lr == 0:
        remedies.insert(
            0,
            "The learning rate the log shows is 0: nothing can change. Fix the schedule "
            "first (a warm-up that never starts, a decay that reached 0, a parameter group "
            "with lr 0).",
        )
    return replace(diagnosis, remedies=tuple(remedies))


def general(remedies: tuple[str, ...]) -> tuple[str, ...]:
    """A rule's remedies as shown without a run: placeholders get their general wording."""
    return tuple(fill(r, DEFAULTS) for r in remedies)
