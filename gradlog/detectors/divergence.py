"""`divergence`: the smoothed training loss climbs far above its best and stays there."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, loss_is_nan, median, where
from gradlog.detectors.noise import NoiseGauge
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, LR


class DivergenceDetector(Detector):
    """
    ## What it detects
    A training loss that climbs back up and stays up: its level (a running median, so
    noisy batches and single spikes do not count) rises to 2x or more its best level
    and stays there for as many records as the median spans. It is an error when the
    level reaches 5x its best, or climbs back above where the run started: everything
    learned has been undone. Losses that can be negative are not judged.

    ## Why it matters
    A loss that trends upward means the updates now make the model worse: the learning
    rate is too high for this stage of training, the optimizer state is broken, or the
    data changed. Unlike a spike, the run does not recover by itself, and every further
    step moves the weights further from the best point reached.

    ## Example
    ```
    step  200 | loss 0.9581 | grad_norm 1.569 | lr 3.0e-03      (best level: 0.97)
    step  210 | loss 0.9581 | grad_norm 1.509 | lr 3.0e-03      <- flagged from here
    ...
    step  350 | loss 2.0785 | grad_norm 1.876 | lr 3.0e-03      (level 2x its best)
    ...
    step  390 | loss 2.7590 | grad_norm 2.331 | lr 3.0e-03      (5 records at 2x: reported)
    ```

    ## Thresholds
    - `factor` 2.0: "ends far above its best" means at least twice the best level;
      `severe_factor` 5.0, or a level above the starting level, is an error.
    - The level is the median of the last 5, 11, 25 or 51 losses (`windows`): the
      fewest whose standard error (about 1.25 x scatter / sqrt(W)) stays within
      `level_noise` (5%) of the level, the scatter being that of one record's log-loss
      around its local trend over the last `noise_records` (50); nothing is judged
      before `min_noise_records` (15). Per-epoch logs are smooth and get 5; per-step
      logs with 20-30% batch noise get 25 or 51. The window only ever grows, and each
      window keeps its own best, so a short, noisy early level is never the yardstick
      of a long one.
    - The level must stay above the factor for W records in a row: only a sustained
      rise counts, never a single spike (that is `loss_spike`).
    - `min_rise_fraction` 0.1: the rise must be at least a tenth of the starting level,
      so a converged loss wobbling near zero (0.002 -> 0.005) is not a divergence.
    """

    rule = Rule(
        id="divergence",
        min_records=15,
        title="Diverging loss",
        severity=Severity.WARNING,
        summary="The smoothed training loss rose to 2x or more its best level and stayed there.",
        why=(
            "A loss that trends back up means the updates now make the model worse; unlike a "
            "spike the run does not recover by itself."
        ),
        remedies=(
            "{lower_lr}, or decay it earlier; if the rise began when warm-up ended, lengthen "
            "warm-up or lower the peak.",
            "Resume from a checkpoint saved {rollback}, near the best loss, rather than "
            "training on.",
            "{clip}",
            "With Adam, lower beta2 (0.999 -> 0.95) or raise epsilon (1e-8 -> 1e-6).",
            "Check what changed at the turning point: a new data shard or curriculum stage, "
            "or a resumed run whose optimizer or scheduler state was reset.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.divergence
        windows = self._limits.windows
        self._recent: deque[float] = deque(maxlen=max(windows))
        self._gauge = NoiseGauge(
            windows,
            self._limits.level_noise,
            self._limits.noise_records,
            self._limits.min_noise_records,
        )
        self._start: float | None = None  # the first level: where the run started
        # The best level of each window length, where it was, and the record after it.
        self._best: dict[int, tuple[float, Record, Record | None]] = {}
        self._window = 0  # the window in use; it never shrinks
        self._reset()

    def _reset(self) -> None:
        self._above = 0  # consecutive records with the level above the factor
        self._peak: tuple[float, Record] | None = None
        self._last: tuple[float, Record] | None = None
        self._ref: tuple[float, Record, Record | None] | None = None  # the best it left
        self._reported: Severity | None = None

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        loss = record.get(LOSS)
        if loss is None or not math.isfinite(loss) or loss_is_nan(record):
            return []
        self._recent.append(loss)
        levels = self._levels(record)
        if self._start is None and levels:
            self._start = levels[min(levels)]  # the first level of the shortest window
        chosen = max(self._window, self._gauge.add(loss))  # it only grows: noise was seen
        if chosen != self._window and self._reported is None:  # a reported one keeps its own
            self._reset()
            self._window = chosen
        window = self._window
        if window not in levels or not self._gauge.ready:
            return []  # no judgement before the noise is known
        level = levels[window]
        best = self._best[window]
        if level <= best[0] or not self._elevated(level, best[0]):
            return self._close()
        self._above += 1
        self._ref = best
        self._last = (level, record)
        if self._peak is None or level > self._peak[0]:
            self._peak = (level, record)
        if self._above < window:
            return []
        severity = self._severity(best[0])
        if self._reported is None or severity > self._reported:
            self._reported = severity
            return [self._report()]
        return []

    def finish(self) -> Iterable[Diagnosis]:
        return self._close()

    def _levels(self, record: Record) -> dict[int, float]:
        """The median of the last W losses for each window W that is full, tracking bests."""
        levels: dict[int, float] = {}
        recent = list(self._recent)
        for window in self._limits.windows:
            if len(recent) < window or window < self._window:  # shorter ones are done with
                continue
            level = levels[window] = median(recent[-window:])
            best = self._best.get(window)
            if best is None or level < best[0]:
                self._best[window] = (level, record, None)
            elif best[2] is None:
                self._best[window] = (best[0], best[1], record)
        return levels

    def _elevated(self, level: float, best: float) -> bool:
        assert self._start is not None
        return (
            best > 0  # ratios mean nothing for losses that can be negative
            and level >= self._limits.factor * best
            and level - best >= self._limits.min_rise_fraction * self._start
        )

    def _severity(self, best: float) -> Severity:
        assert self._last is not None and self._start is not None
        level = self._last[0]
        severe = level >= self._limits.severe_factor * best or level > self._start
        return Severity.ERROR if severe else Severity.WARNING

    def _close(self) -> list[Diagnosis]:
        found = [self._report()] if self._reported is not None else []
        self._reset()
        return found

    def _report(self) -> Diagnosis:
        window, last, peak, ref = self._window, self._last, self._peak, self._ref
        assert ref is not None and last is not None and peak is not None
        best_level, best, first = ref
        assert first is not None
        assert self._start is not None
        level, record = last
        message = (
            f"the loss level (median of the last {window} records) rose from its best "
            f"{fmt(best_level)} at {where(best)} to {fmt(level)} at {where(record)} "
            f"({level / best_level:.1f}x), and stayed at {self._limits.factor:g}x or more for "
            f"{self._above} records"
        )
        if peak[1] is not record:
            message += f"; peak {fmt(peak[0])} at {where(peak[1])}"
        if level > self._start:
            message += f"; it is back above the starting level {fmt(self._start)}"
        lr_then, lr_now = best.get(LR), record.get(LR)
        if lr_then is not None and lr_now is not None:
            changed = f"{fmt(lr_then)} -> {fmt(lr_now)}" if lr_then != lr_now else fmt(lr_now)
            message += f" (lr {changed})"
        pairs = [(best, LOSS), (first, LOSS), (peak[1], LOSS), (record, LOSS), (record, GRAD_NORM)]
        return self.diagnose(
            message,
            first,
            record,
            severity=self._reported,
            confidence=Confidence.HIGH if self._above >= 2 * window else Confidence.MEDIUM,
            metric=LOSS,
            count=self._above,
            evidence=evidence_of(pairs),
        )
