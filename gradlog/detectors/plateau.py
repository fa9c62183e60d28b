"""`chance_plateau`: the loss sits at the chance level ln(K) of a K-way classifier."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from functools import cache

from gradlog.config import PlateauThresholds, Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, median, where
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import ACC, GRAD_NORM, LOSS, LR


def chance_classes(loss: float, limits: PlateauThresholds) -> int | None:
    """The class count K whose chance loss ln(K) is nearest this loss, if close enough."""
    levels = _levels(limits.classes)
    i = bisect_left(levels, (loss, 0))
    near = [levels[j] for j in (i - 1, i) if 0 <= j < len(levels)]
    level, k = min(near, key=lambda item: abs(loss - item[0]))
    return k if abs(loss - level) <= limits.tolerance * level else None


@cache
def _levels(classes: tuple[int, ...]) -> list[tuple[float, int]]:
    return sorted((math.log(k), k) for k in classes)


def _accuracy(value: float) -> float:
    return value / 100 if value > 1 else value  # some frameworks print percentages


class ChancePlateauDetector(Detector):
    """
    ## What it detects
    The training loss sitting at ln(K), the cross-entropy of a uniform guess over K
    classes (0.6931 for K=2, 2.3026 for K=10, ln(vocabulary) for a language model),
    for 5 or more records in a row, with accuracy near 1/K when accuracy is logged. K is
    inferred from the plateau value. A run that sits there for a while and then learns
    is a slow start: reported as info only.

    ## Why it matters
    At ln(K) the model predicts the same distribution for every input: it has learned
    nothing. The cause is usually dead or saturated units, vanishing gradients, a zero
    or tiny learning rate, or labels that do not match the inputs.

    ## Example
    ```
    Epoch 10/50
    Train Loss: 0.6931, Train Acc: 0.5067      <- flagged (ln 2, K=2)
    ```

    ## Thresholds
    - within `tolerance` (1%) of ln(K) for K in 2..20 and common class counts and
      vocabulary sizes (100, 1000, 32000, 50257, ...); K above 20 are too densely
      spaced in ln(K) to infer from the loss alone.
    - `min_records` (5) consecutive records.
    - accuracy within `acc_tolerance` (0.05) of 1/K when logged.
    - a loss more than `left_fraction` (10%) below ln(K) afterwards: slow start (info).
    """

    rule = Rule(
        id="chance_plateau",
        min_records=5,
        title="Loss stuck at chance level",
        severity=Severity.ERROR,
        summary="The loss sits at ln(K), the level of a uniform guess over K classes.",
        why=(
            "At ln(K) the model predicts the same distribution for every input: it has learned "
            "nothing yet."
        ),
        remedies=(
            "Check that the learning rate is not zero or tiny (warm-up from 0, a "
            "scheduler bug) and that the optimizer is given the model's parameters.",
            "Check the labels: shuffled or misaligned labels keep any model at chance.",
            "Use ReLU-family activations and He initialisation; watch for dead ReLUs "
            "(lower the learning rate, or use LeakyReLU).",
            "Add batch normalisation and residual connections for deep models.",
            "Try to overfit a single small batch: if even that fails, the bug is in the "
            "model or the loss, not the data.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.chance_plateau
        self._recent: deque[float] = deque(maxlen=3)  # the level is their median: noise-proof
        self._peak = -math.inf  # the highest loss level seen so far
        self._start: float | None = None  # the run's first loss level
        self._reset()

    def _reset(self) -> None:
        self._k: int | None = None
        self._first: Record | None = None
        self._last: Record | None = None
        self._count = 0
        self._reported = False
        self._passing = False  # entered from above: a descent passing through ln(K)

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        loss = record.get(LOSS)
        if loss is None or not math.isfinite(loss):
            return []
        self._recent.append(loss)
        level = median(list(self._recent))
        if self._start is None and len(self._recent) == self._recent.maxlen:
            self._start = level
        if self._reported:
            return self._watch_after(record, level)
        k = self._at_chance(record, loss)  # counts only records themselves at chance
        if self._k is not None and self._near(level, self._k):
            if k == self._k:
                self._last, self._count = record, self._count + 1
            if self._count >= self._limits.min_records and not self._passing:
                self._reported = True
                return [self._report(None)]
            return []
        self._reset()
        if k is not None:
            self._k, self._first, self._last, self._count = k, record, record, 1
            # Came down into this band from clearly above it: a descent, not a start.
            self._passing = self._peak > (1 + 5 * self._limits.tolerance) * math.log(k)
        self._peak = max(self._peak, level)
        return []

    def finish(self) -> Iterable[Diagnosis]:
        if self._reported or (
            self._passing and self._count >= self._limits.min_records and self._never_learned()
        ):
            return [self._report(None)]  # it stayed there to the end
        return []

    def _never_learned(self) -> bool:
        """A descent into ln(K) from a start not far above it: it came down to chance.

        A run that started well above and settled near some ln(K) learned its way there
        (a healthy loss converging near ln 3 = 1.0986 is no 3-way coin flip).
        """
        assert self._k is not None
        return self._start is None or self._start <= 1.5 * math.log(self._k)

    def _watch_after(self, record: Record, loss: float) -> list[Diagnosis]:
        """After a reported plateau: extend it, or turn it into a slow start if learned."""
        assert self._k is not None
        if loss < (1 - self._limits.left_fraction) * math.log(self._k):
            found = [self._report(record)]
            self._reset()
            return found
        if self._near(loss, self._k):
            self._last, self._count = record, self._count + 1
        return []

    def _at_chance(self, record: Record, loss: float) -> int | None:
        k = chance_classes(loss, self._limits)
        acc = record.get(ACC)
        if k is None or acc is None or not math.isfinite(acc):
            return k
        return k if abs(_accuracy(acc) - 1 / k) <= self._limits.acc_tolerance else None

    def _near(self, loss: float, k: int) -> bool:
        """Close enough to ln(K) to continue a plateau: noise does not end it."""
        return abs(loss - math.log(k)) <= 3 * self._limits.tolerance * math.log(k)

    def _report(self, learned: Record | None) -> Diagnosis:
        first, last, k = self._first, self._last, self._k
        assert first is not None and last is not None and k is not None
        message = (
            f"loss sat at {fmt(first.metrics[LOSS])} ~ ln({k}) = {math.log(k):.4f}, the "
            f"chance level of a {k}-way classifier, from {where(first)} to {where(last)} "
            f"({self._count} records)"
        )
        if first.get(ACC) is not None:
            message += f"; accuracy {fmt(first.metrics[ACC])} against 1/K = {1 / k:.3g}"
        grad, lr = last.get(GRAD_NORM), last.get(LR)
        if lr == 0:
            message += "; the learning rate is zero: nothing can be learned"
        elif grad is not None and grad < 1e-2:
            message += f"; grad_norm {fmt(grad)} ~ 0: saturated or dead units"
        severity, confidence = Severity.ERROR, Confidence.HIGH
        if learned is not None:
            message += (
                f"; then it learned (loss {fmt(learned.metrics[LOSS])} at "
                f"{where(learned)}): a slow start"
            )
            severity, confidence = Severity.INFO, Confidence.MEDIUM
        pairs = [(first, LOSS), (first, ACC), (last, LOSS), (last, GRAD_NORM)]
        return self.diagnose(
            message,
            first,
            learned or last,
            severity=severity,
            confidence=confidence,
            metric=LOSS,
            count=self._count,
            evidence=evidence_of(pairs),
        )
