"""Labels of generated logs, and the edits scenarios make to a healthy run.

A label names the diagnoses a careful practitioner would expect from the *printed* log:
each expected id is tied to the metric it needs (an exploding gradient cannot be seen in a
log without a grad norm), and ``allowed`` lists what is acceptable but not required, with
the highest acceptable severity.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulate import Run, accuracy, lognormal

Need = str | None  # the metric a label needs the log to show (None: always visible)


@dataclass
class Label:
    """What a scenario should yield, before it is matched to what the log shows."""

    expected: list[tuple[str, Need]]
    first_bad: int | None  # record index where the problem begins
    describe: str  # facts for the notes; ``{bad}`` stands for the first bad step
    allowed: list[tuple[str, str, Need]] = field(default_factory=list)
    needs: frozenset[str] = frozenset()  # metrics the printer must show for this log


def median(values: list[float]) -> float:
    """The median of the finite values (the upper one of an even count)."""
    ordered = sorted(v for v in values if math.isfinite(v))
    return ordered[len(ordered) // 2]


def onset(rng: random.Random, run: Run, low: float, high: float, tail: int = 1) -> int:
    """A record between fractions ``low`` and ``high`` of the run, leaving ``tail`` after it."""
    n = run.records
    first = max(10, int(n * low))  # enough history before it for any detector
    return min(rng.randint(first, max(first, int(n * high))), n - 1 - tail)


def cut(run: Run, records: int) -> None:
    """Keep the first ``records`` records (the run was stopped there)."""
    for series in (run.steps, run.level, run.loss, run.grad, run.lr, run.param, run.acc):
        del series[records:]
    for table in (run.val, run.val_acc, run.overflows):
        for key in [k for k in table if k >= records]:
            del table[key]
    del run.scale[records:]
    del run.skipped[records:]


def refresh(run: Run, first: int, rng: random.Random) -> None:
    """Recompute accuracy (from the losses) and validation (from the level) from ``first``."""
    shape = run.shape
    for i in range(first, run.records):
        if shape.classes >= 2:
            loss = run.loss[i]  # NaN logits: the argmax is one class, right 1/K of the time
            finite = math.isfinite(loss)
            chance = 1 / shape.classes
            run.acc[i] = accuracy(loss, shape.classes, shape.batch, rng) if finite else chance
        if i in run.val:
            run.val[i] = run.level[i] * (1 + shape.val_gap) * lognormal(rng, shape.val_noise)
            run.val_acc[i] = run.acc[i]


def flat_at_chance(run: Run, rng: random.Random, above: float, sigma: float) -> None:
    """The model predicts the same distribution for every input: loss ln K, accuracy 1/K."""
    classes = run.shape.classes
    level = math.log(classes) * (1 + above)
    for i in range(run.records):
        run.level[i] = level
        run.loss[i] = level * lognormal(rng, sigma)
        spread = math.sqrt((1 / classes) * (1 - 1 / classes) / run.shape.batch)
        run.acc[i] = min(1.0, max(0.0, 1 / classes + rng.gauss(0, spread)))
        if i in run.val:
            run.val[i] = level * lognormal(rng, sigma / 3)
            run.val_acc[i] = 1 / classes
