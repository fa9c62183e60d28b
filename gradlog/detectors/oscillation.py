"""`oscillation`: the loss alternates up and down with large swings and no net progress."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import pairwise
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, median, where
from gradlog.detectors.signs import quantum
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS

if TYPE_CHECKING:
    from gradlog.detectors.block import Block


class OscillationDetector(Detector):
    """
    ## What it detects
    The training loss going up, down, up, down for 8 or more records in a row, where
    every peak stays above every trough by a margin of at least 10% of the loss level,
    and the run makes no net progress over the stretch.

    ## Why it matters
    A loss that bounces between two levels means each update overshoots the minimum
    along some direction: the step size is too large for the curvature. The run burns
    compute without converging.

    ## Example
    ```
    Epoch 11/50  Train Loss: 0.6100      <- flagged (start)
    Epoch 12/50  Train Loss: 0.9500
    Epoch 13/50  Train Loss: 0.5800
    Epoch 14/50  Train Loss: 0.8400
    ...
    ```

    ## Thresholds
    - `min_records` 8 alternating records, and at least log2(records seen) + 5
      (`extra_per_doubling` 1), so a long log's many stretches do not add up to a false
      alarm. Ordinary noise also zig-zags, but rarely with all peaks above all troughs:
      for independent noise over 8 records the chance is 2/70.
    - peaks and troughs are compared around the stretch's linear trend (a slow drift
      does not hide a cycle); the lowest peak must clear the highest trough by
      `min_gap_swing` (25%) of the mean swing, and by `min_gap` (10%) of the level
      unless the alternation has lasted `persistent` (2) times the run it needs: a
      small swing counts when it is exact and persistent.
    - `max_swing_spread` 0.5: the swings' coefficient of variation (regular swings).
    - `max_progress` 0.5: the difference between the medians of the first and last
      four records is under half the mean swing.
    - a mean swing of at most 1.5 steps of the print's last digit (a loss printed
      rounded, ``loss=9`` then ``loss=8``, or ``2.41`` then ``2.42``) is the rounding's
      flicker, not a cycle.
    - at most `window` (32) records are examined, so memory stays bounded.
    """

    rule = Rule(
        id="oscillation",
        min_records=8,
        title="Oscillating loss",
        severity=Severity.WARNING,
        summary="The loss alternates up and down with large swings and no net progress.",
        why=(
            "Each update overshoots the minimum along some direction, so the run burns compute "
            "without converging."
        ),
        remedies=(
            "{lower_lr}, or decay it (step, cosine or on plateau).",
            "Use a larger batch size to reduce gradient noise.",
            "{clip}",
            "Lower the momentum, or switch to Adam.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.oscillation
        self._run: list[Record] = []  # the current alternating stretch (its last records)
        self._start: Record | None = None  # where the stretch began
        self._length = 0
        self._reported: Diagnosis | None = None
        self._cycle_start: Record | None = None  # where the regular swings began
        self._head: list[Record] = []  # the stretch's first records (up to `window`)
        self._seen = 0  # finite losses seen: a longer log needs a longer run

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        loss = record.metrics.get(LOSS)
        if loss is None:
            return []  # a record of other values (a throughput's line between the losses)
        if not math.isfinite(loss):
            # With no stretch open there is nothing to break (nor reported: that needs one).
            return self._break(None) if self._run else []
        self._seen += 1
        found: list[Diagnosis] = []
        run = self._run
        n = len(run)
        if n:
            last = run[-1].metrics[LOSS]
            # _alternates(), inlined: a rise then a fall, or a fall then a rise.
            broken = loss == last or (
                n >= 2 and not (last - run[-2].metrics[LOSS]) * (loss - last) < 0
            )
        else:
            broken = False
        if broken:
            found = self._break(record)
            run = self._run
        else:
            run.append(record)
            if len(self._head) < self._limits.window:
                self._head.append(record)
            self._length += 1
            if n >= self._limits.window:  # (len(run) > window, now it has one more)
                del run[0]
        if self._start is None:
            self._start = record
        n = len(run)
        # _needed() is never below min_records: no need to work it out before that.
        needed = self._reported is None and n >= self._limits.min_records
        if needed and n >= self._needed() and self._swings():
            self._reported = self._report()
            found.append(self._reported)
        return found

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.oscillation_block import OscillationScreen

        # Screened with arrays (oscillation_block): ``observe`` runs only where the
        # stretch is long enough to be judged, or a reported one ends. A window under
        # two records keeps no direction to compare, which the screen does not model.
        if self._limits.window < 2:
            return super().observe_block(block)
        return OscillationScreen(self, block).run()

    def finish(self) -> Iterable[Diagnosis]:
        return self._break(None)

    def _needed(self) -> int:
        """Records of alternation needed, given how many the log has shown so far."""
        scaled = math.log2(max(self._seen, 1)) * self._limits.extra_per_doubling + 5
        return max(self._limits.min_records, math.floor(scaled))

    def _alternates(self, loss: float) -> bool:
        a, b = (r.metrics[LOSS] for r in self._run[-2:])
        return (b - a) * (loss - b) < 0

    def _break(self, record: Record | None) -> list[Diagnosis]:
        found = [self._report()] if self._reported is not None else []
        self._reported, self._cycle_start = None, None
        previous = self._run[-1:] if record is not None else []
        self._run = [*previous, record] if record is not None else []
        self._head = list(self._run)
        self._start = self._run[0] if self._run else None
        self._length = len(self._run)
        return found

    def _swings(self) -> bool:
        losses = [r.metrics[LOSS] for r in self._run]
        level = median(losses)
        # Peaks and troughs around the stretch's linear trend, so a slow drift of the
        # whole cycle does not hide it.
        highs, lows = self._peaks(losses, _detrended(losses))
        if not highs or not lows or level <= 0:
            return False
        swings = [abs(b - a) for a, b in pairwise(losses)]
        swing = sum(swings) / len(swings)
        # (The print's last digit: 1 for ``loss=9``, 0.01 for ``2.41``.)
        if swing <= _STEPS_OF_PRINT * min(map(quantum, losses)):
            return False  # (nothing moves, or only the print's last digit)
        spread = (sum((s - swing) ** 2 for s in swings) / len(swings)) ** 0.5 / swing
        gap = min(highs) - max(lows)
        persistent = self._length >= self._limits.persistent * self._needed()
        if gap < self._limits.min_gap_swing * swing:
            return False
        if gap < self._limits.min_gap * level and not persistent:
            return False
        if spread > self._limits.max_swing_spread:
            return False
        progress = abs(median(losses[:4]) - median(losses[-4:]))
        return progress <= self._limits.max_progress * swing

    @classmethod
    def _peaks(
        cls, losses: list[float], values: list[float] | None = None
    ) -> tuple[list[float], list[float]]:
        """The stretch's peaks and its troughs (as ``values``, the losses by default)."""
        values = losses if values is None else values
        peak = [cls._is_peak(losses, i) for i in range(len(losses))]
        return (
            [v for v, p in zip(values, peak, strict=True) if p],
            [v for v, p in zip(values, peak, strict=True) if not p],
        )

    @staticmethod
    def _is_peak(losses: list[float], i: int) -> bool:
        neighbour = losses[i + 1] if i + 1 < len(losses) else losses[i - 1]
        return losses[i] > neighbour

    def _regular_start(self) -> Record:
        """Where the swings became regular: a stretch often begins with a few larger,
        settling bounces before the cycle proper."""
        recent = [r.metrics[LOSS] for r in self._run]
        typical = median([abs(b - a) for a, b in pairwise(recent)][len(recent) // 2 :])
        head = [r.metrics[LOSS] for r in self._head]
        for i, (a, b) in enumerate(pairwise(head)):
            if abs(abs(b - a) - typical) <= self._limits.max_swing_spread * typical:
                return self._head[i]
        return self._head[0] if self._head else self._run[0]

    def _report(self) -> Diagnosis:
        if self._reported is None:  # fixed when first reported, kept when re-issued
            self._cycle_start = self._regular_start()
        first, last = self._cycle_start or self._regular_start(), self._run[-1]
        losses = [r.metrics[LOSS] for r in self._run]
        highs, lows = self._peaks(losses)
        message = (
            f"loss alternated up and down for {self._length} records from {where(first)} to "
            f"{where(last)}, between about {fmt(median(lows))} and {fmt(median(highs))} "
            f"(swings of {100 * (median(highs) - median(lows)) / median(losses):.0f}% of "
            f"its level) with no net progress"
        )
        pairs = [(r, LOSS) for r in self._run[:4]] + [(first, GRAD_NORM)]
        return self.diagnose(
            message,
            first,
            last,
            confidence=Confidence.HIGH if self._length >= 12 else Confidence.MEDIUM,
            metric=LOSS,
            count=self._length,
            evidence=evidence_of(pairs),
        )


_STEPS_OF_PRINT = 1.5  # a mean swing of at most this many of the print's last digit


def _detrended(values: list[float]) -> list[float]:
    """The values less their least-squares line."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    var = sum((i - mean_x) ** 2 for i in range(n))
    slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / var if var else 0
    return [v - mean_y - slope * (i - mean_x) for i, v in enumerate(values)]
