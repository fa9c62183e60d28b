"""`weight_growth`: the parameter norm grows by an order of magnitude, or geometrically."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import (
    Detector,
    Rule,
    evidence_of,
    factor,
    fmt,
    median,
    where,
)
from gradlog.detectors.window import SortedWindow
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, PARAM_NORM

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Ints = npt.NDArray[np.intp]

    from gradlog.detectors.block import Block, Floats
else:
    from gradlog.lazy import numpy as np

_SAMPLES = 64  # points kept along a rise, thinned by half when full: bounded memory


class _Rise:
    """The current uninterrupted rise of a series (every value above the one before)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.length = 0  # values above the base so far
        self._stride = 1
        self._points: list[tuple[int, float, Record]] = []  # (position, value, record)
        self.last = 0.0

    def add(self, value: float, record: Record) -> None:
        if self._points and value <= self.last:
            self._reset()
        self.last = value
        if not self._points:
            self._points = [(0, value, record)]
            return
        self.length += 1
        if self.length % self._stride == 0:
            self._points.append((self.length, value, record))
            if len(self._points) > _SAMPLES:
                self._points, self._stride = self._points[::2], self._stride * 2

    def extend(self, values: Floats, record: Callable[[int], Record]) -> None:
        """``add`` each of ``values`` in turn (``record(i)`` holds the i-th): only the
        last rise in them matters, and only its sampled positions need a visit."""
        if not len(values):
            return
        before = np.empty_like(values)
        before[0] = self.last
        before[1:] = values[:-1]
        drops = np.flatnonzero(values <= before)  # each starts a rise of its own
        begin = 0
        if len(drops) or not self._points:
            begin = int(drops[-1]) if len(drops) else 0
            self._reset()
            self.last = float(values[begin])
            self._points = [(0, self.last, record(begin))]
            begin += 1
        length, last = self.length, self.length + len(values) - begin
        position = (length // self._stride + 1) * self._stride  # the next one sampled
        while position <= last:
            index = begin + position - length - 1
            self._points.append((position, float(values[index]), record(index)))
            if len(self._points) > _SAMPLES:
                self._points, self._stride = self._points[::2], self._stride * 2
            position = (position // self._stride + 1) * self._stride
        self.length = last
        self.last = float(values[-1])

    def growth(self) -> float:
        """The last value over the base."""
        return self.last / self._points[0][1] if self._points else 1.0

    def rate(self, since: int) -> float:
        """Log-growth per value from the sample nearest position ``since`` to the last."""
        position, value, _ = min(self._points, key=lambda p: abs(p[0] - since))
        if position >= self.length:
            return 0.0
        return math.log(self.last / value) / (self.length - position)

    def halves(self) -> tuple[float, float]:
        """Log-growth per value in the first and in the second half of the rise."""
        position, value, _ = min(self._points, key=lambda p: abs(p[0] - self.length // 2))
        if not 0 < position < self.length:
            return 0.0, 0.0
        base = self._points[0][1]
        return math.log(value / base) / position, self.rate(position)

    def onset(self, pace: float) -> tuple[Record, int, float]:
        """Where the rise reached its recent pace, how many values ago, and the value before.

        The onset is the end of the first stretch between two samples that grew at least
        ``pace`` times as fast per value as the second half of the rise does.
        """
        recent = self.halves()[1]
        for (p0, v0, _), (p1, v1, record) in itertools.pairwise(self._points):
            if math.log(v1 / v0) / (p1 - p0) >= pace * recent:
                return record, self.length - p1 + 1, v0
        position, value, record = self._points[-1]
        return record, self.length - position + 1, value


class WeightGrowthDetector(Detector):
    """
    ## What it detects
    A parameter norm that grows far beyond its early level (the median of its first 5
    values): 10x or more is a warning, 100x or more an error. It is also a warning when
    the norm grows geometrically: it has risen at every record for 10 or more records,
    at least doubling, without slowing down (the second half of the rise grows as fast
    per record as the first), and is 3x or more its early level; it is then flagged from
    where the rise reached that pace. The level compared with the early one is the
    median of the last 3 values, so a single misprinted value does not count.

    Healthy weights drift: they often grow by tens of percent over a run, quickly at
    first and then more and more slowly, or settle under weight decay. That slowing
    down is what the geometric test looks for the absence of. A model initialised
    very small (or at zero) can legitimately grow 10x while it learns; the early level
    then says little, and the rule may be ignored for that run.

    ## Why it matters
    Weights that grow without bound push activations and logits into saturation, make
    the loss surface ever sharper and end in overflow (NaN under fp16). It usually means
    no weight decay or normalisation holds the scale in check, a learning rate too high
    for the architecture, or a loss that rewards large logits (a separable classifier
    trained without regularisation).

    ## Example
    ```
    step   700 | loss 0.7979 | grad_norm 0.836 | lr 1.0e-03 | param_norm 44.1
    step   750 | loss 0.8172 | grad_norm 0.770 | lr 1.0e-03 | param_norm 49.6   <- flagged
    step   800 | loss 0.8742 | grad_norm 1.146 | lr 1.0e-03 | param_norm 56.5
    ...
    step  1250 | loss 0.9238 | grad_norm 0.880 | lr 1.0e-03 | param_norm 154.8  (found here)
    ```

    ## Thresholds
    - `growth` 10 (warning) and `severe_growth` 100 (error): "orders of magnitude"
      over the early level; healthy runs stay within a few times it.
    - `early_records` 5 values make the early level.
    - geometric growth: a rise of at least `steady_records` (10) records and
      `steady_growth` (2x), whose second half grows per record at least `steady_pace`
      (80%) as fast as its first, to at least `fast_growth` (3x) the early level. The
      rise is sampled at most 64 times, however long it lasts.
    """

    rule = Rule(
        id="weight_growth",
        min_records=6,
        title="Weight norm growth",
        severity=Severity.WARNING,
        summary="The parameter norm grew 10x or more over its early level, or geometrically.",
        why=(
            "Weights that grow without bound saturate activations, sharpen the loss surface "
            "and end in overflow."
        ),
        remedies=(
            "Add or raise weight decay (decoupled, as in AdamW; 0.01-0.1 is usual for "
            "transformers).",
            "{lower_lr}.",
            "Add normalisation (batch, layer or RMS norm) so that the scale of the weights "
            "does not carry into the activations.",
            "{clip}",
            "If a classifier's logits keep growing on separable data, use label smoothing or "
            "stop earlier.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.weight_growth
        self._early: list[float] = []
        self._early_level = 0.0  # their median, once they are all in
        self._recent = SortedWindow(3)  # the level is their median
        self._rise = _Rise()
        self._first: Record | None = None
        self._last: Record | None = None
        self._peak: tuple[float, Record] | None = None
        self._how = ""
        self._count = 0  # records from the first flagged one
        self._onset_records = 0  # records of a geometric rise when it was found
        self._reported: Severity | None = None

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        value = record.metrics.get(PARAM_NORM)
        if value is None or not math.isfinite(value) or value <= 0:
            return []
        self._rise.add(value, record)
        self._recent.append(value)
        if len(self._early) < self._limits.early_records:
            self._early.append(value)
            if len(self._early) == self._limits.early_records:
                self._early_level = median(self._early)
            return []
        if self._first is not None:
            self._last, self._count = record, self._count + 1
        if self._peak is None or value > self._peak[0]:
            self._peak = (value, record)
        found = self._judge(self._recent.median() / self._early_level, record)
        if found is None:
            return []
        severity, how, first = found
        if self._first is None:
            self._first, self._last = first, record
            self._count = 1 if first is record else self._onset_records  # the rise so far
        if self._reported is None or severity > self._reported:
            self._reported, self._how = severity, how
            return [self._report()]
        return []

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        # A value does more than bookkeeping only where the level (the median of the
        # last 3) crosses a bar the episode has not reached yet, or could be a
        # geometric rise: the level alone tells, except for the geometric test.
        if PARAM_NORM not in block.names:
            return []
        values = block.values(PARAM_NORM)
        usable = np.flatnonzero(np.isfinite(values) & (values > 0))
        # The first values of the block, and all until the early level is known, are
        # read one by one: their levels take values from before the block.
        limits, records = self._limits, block.records
        ahead = max(2, limits.early_records - len(self._early), 3 - len(self._recent))
        found: list[tuple[int, Diagnosis]] = []
        for index in usable[:ahead].tolist():
            found += [(index, diagnosis) for diagnosis in self.observe(records[index])]
        rest = usable[ahead:]
        if not len(rest):
            return found
        kept = values[usable[ahead - 2 :]]
        a, b, c = kept[:-2], kept[1:-1], kept[2:]
        level = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
        with np.errstate(over="ignore"):  # as a Python float, a huge ratio is inf
            ratio = level / self._early_level  # observe's very division, value by value
        severe, grown = ratio >= limits.severe_growth, ratio >= limits.growth
        reported = -1 if self._reported is None else self._reported
        flags = ~severe & ~grown & (ratio >= limits.fast_growth)  # the geometric test
        flags |= severe & (reported < Severity.ERROR)
        flags |= ~severe & grown & (reported < Severity.WARNING)
        return found + self.replay(
            block,
            rest[flags].tolist(),
            lambda block, start, end: self._advance(block, start, end, rest),
        )

    def _advance(self, block: Block, start: int, end: int, usable: Ints) -> None:
        """The ``usable`` values between ``start`` and ``end``, none of which takes the
        level over a bar not yet reached: they feed the rise, the last 3, the peak and
        the open episode's extent, as ``observe`` would."""
        chosen = usable[np.searchsorted(usable, start) : np.searchsorted(usable, end)]
        if not len(chosen):
            return
        records = block.records
        values = block.values(PARAM_NORM)[chosen]
        self._rise.extend(values, lambda i: records[chosen[i]])
        for index in chosen[-3:].tolist():
            self._recent.append(records[index].metrics[PARAM_NORM])
        if self._first is not None:
            self._last, self._count = records[chosen[-1]], self._count + len(chosen)
        top = int(np.argmax(values))
        if self._peak is None or values[top] > self._peak[0]:
            record = records[chosen[top]]
            self._peak = (record.metrics[PARAM_NORM], record)

    def finish(self) -> Iterable[Diagnosis]:
        return [self._report()] if self._reported is not None else []

    def _judge(self, ratio: float, record: Record) -> tuple[Severity, str, Record] | None:
        """The condition that holds, a phrase for it, and the record where it began."""
        limits = self._limits
        if ratio >= limits.severe_growth:
            return Severity.ERROR, f"it passed {limits.severe_growth:g}x at {where(record)}", record
        if ratio >= limits.growth:
            return Severity.WARNING, f"it passed {limits.growth:g}x at {where(record)}", record
        rise = self._rise
        if ratio >= limits.fast_growth and self._geometric():
            onset, records, before = rise.onset(limits.steady_pace)
            how = (
                f"it grew {factor(rise.last / before)} from {where(onset)} to {where(record)}, "
                "rising at every record without slowing down"
            )
            self._onset_records = records
            return Severity.WARNING, how, onset
        return None

    def _geometric(self) -> bool:
        """A rise of 10+ records, 2x in all, whose second half grows as fast as its first."""
        rise, limits = self._rise, self._limits
        if rise.length < limits.steady_records or rise.growth() < limits.steady_growth:
            return False
        first_half, second_half = rise.halves()
        return second_half >= limits.steady_pace * first_half > 0

    def _report(self) -> Diagnosis:
        first, last, peak = self._first, self._last, self._peak
        assert first is not None and last is not None and peak is not None
        early, value = median(self._early), last.metrics[PARAM_NORM]
        message = (
            f"param_norm grew from an early level of {fmt(early)} to {fmt(value)} at "
            f"{where(last)} ({factor(value / early)}); {self._how}"
        )
        if peak[1] is not last:
            message += f"; peak {fmt(peak[0])} at {where(peak[1])}"
        pairs = [(first, PARAM_NORM), (last, PARAM_NORM), (last, GRAD_NORM), (last, LOSS)]
        return self.diagnose(
            message,
            first,
            last,
            severity=self._reported,
            confidence=Confidence.HIGH if self._reported == Severity.ERROR else Confidence.MEDIUM,
            metric=PARAM_NORM,
            count=self._count,
            evidence=evidence_of(pairs),
        )
