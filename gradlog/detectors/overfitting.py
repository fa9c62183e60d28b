"""`overfitting`: the validation loss rises while the training loss keeps falling."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import (
    Detector,
    Rule,
    evidence_of,
    fmt,
    loss_is_nan,
    median,
    where,
)
from gradlog.detectors.noise import NoiseGauge
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, VAL_ACC, VAL_LOSS

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block
else:
    from gradlog.lazy import numpy as np


class OverfittingDetector(Detector):
    """
    ## What it detects
    A validation loss that rises 10% or more above its best and stays there for at
    least 2 evaluations in a row, while the training loss goes on falling: at each of
    those evaluations the training level is at least 5% below what it was when
    validation was at its best. At least 4 evaluations are needed. A value repeated in
    consecutive records (a progress bar showing the last evaluation) is one evaluation.
    A rise is a share of the best's size. A validation loss of 0 or below is no
    evaluation (a table's ``-1`` before the first evaluation is a placeholder), until
    the series prints a value below zero with a fraction: then it is a loss with no
    floor at zero (nnU-Net's Dice plus cross-entropy, from about -0.5 to -0.9), and
    every value with a fraction counts, its rises shares of the best's distance from
    zero, as the training loss's falls are.
    The training level at an evaluation is the median of the training losses logged
    since the previous one, so batch noise does not decide it.

    When the evaluations themselves are noisy (a small validation set, many
    evaluations), the validation level is the median of the last 3 or 5 of them, and
    must stay above the bar for as many evaluations: the best of many noisy evaluations
    is a lucky one, and the typical value lies well above it.

    A validation loss that rises together with the training loss is not overfitting
    (see `divergence`); one evaluation above the best is noise or a single bad
    checkpoint, not a trend.

    ## Why it matters
    The model is memorising the training set: each further step improves the training
    loss and makes the model worse on unseen data. The best checkpoint is already
    behind, and longer training only wastes compute.

    ## Example
    ```
    Epoch 9/20
    Train Loss: 0.3857, Train Acc: 0.8130
    Val   Loss: 0.6421, Val Acc: 0.7897      (best)
    Epoch 10/20
    Train Loss: 0.3424, Train Acc: 0.8317
    Val   Loss: 0.6755, Val Acc: 0.7881
    Epoch 11/20
    Train Loss: 0.3142, Train Acc: 0.8439
    Val   Loss: 0.7073, Val Acc: 0.7731      <- flagged (+10%, confirmed at epoch 12)
    ```

    ## Thresholds
    - `rise` 0.1: the usual reading of "a clear margin"; evaluation noise on a
      reasonable validation set is a few percent.
    - `confirm` 2 evaluations in a row above it, and `min_points` 4 evaluations in all.
    - `train_drop` 0.05 at each confirming evaluation; the training level is the
      median of at most `train_window` (25) losses.
    - `windows` 1, 3 or 5 evaluations in the validation level: the fewest whose
      standard error stays within `level_noise` (2.5%, a quarter of the margin), given
      the scatter of the last `noise_points` (50) evaluations around their local trend,
      once there are `min_noise_points` (10). When even 5 leave it above that (a
      validation set of a few batches), the margin grows with it, staying four standard
      errors: the best of such evaluations is lucky, and a rise within the noise is none.
    - a log with fewer than `min_points` evaluations (an excerpt) is judged only on a
      stark effect: validation `stark_rise` (+100%, doubled) over its best while the
      training level fell by `stark_drop` (50%) or more; confidence low.
    """

    rule = Rule(
        id="overfitting",
        min_records=6,
        title="Overfitting",
        severity=Severity.WARNING,
        summary="The validation loss rose 10%+ above its best while the training loss kept "
        "falling.",
        why=(
            "The model is memorising the training set: further steps make it worse on unseen "
            "data, and the best checkpoint is already behind."
        ),
        remedies=(
            "Keep the checkpoint with the best validation loss, and stop early (stop when it "
            "has not improved for a few evaluations).",
            "Add regularisation: weight decay, dropout, or label smoothing.",
            "Augment the training data, or collect more of it.",
            "Use a smaller model, or train fewer epochs over the same data.",
            "Check that training and validation sets come from the same distribution and do "
            "not overlap in a way that hides the gap.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._previous_val: float | None = None
        self._last_eval: Record | None = None
        self._limits = thresholds.overfitting
        self._train: deque[float] = deque(maxlen=self._limits.train_window)
        self._train_level: float | None = None
        self._vals: deque[float] = deque(maxlen=max(self._limits.windows))
        self._gauge = NoiseGauge(
            self._limits.windows,
            self._limits.level_noise,
            self._limits.noise_points,
            self._limits.min_noise_points,
            track=True,
        )
        self._points = 0
        self._window = min(self._limits.windows)  # evaluations in the level; never shrinks
        # The best level of each window: level, record, training level then.
        self._best: dict[int, tuple[float, Record, float | None]] = {}
        # Evaluations above the bar in a row: the first, how many, and the latest few.
        self._streak_first: Record | None = None
        self._streak_count = 0
        self._streak: deque[tuple[Record, float | None]] = deque(maxlen=self._needed())
        self._reported: Diagnosis | None = None
        self._signed = False  # the validation loss printed a value below 0 with a fraction

    def _evaluated(self, val: float) -> bool:
        """Whether a finite validation loss is an evaluation: above zero, or with a
        fraction once the series printed one below zero (see the class's text)."""
        if val > 0:
            return True
        real = val != round(val)
        self._signed = self._signed or (real and val < 0)
        return self._signed and real

    def _raised(self, level: float, factor: float) -> float:
        """``level`` raised by ``factor - 1`` of its size (``factor`` times it, above 0)."""
        return level + (factor - 1) * abs(level)

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        metrics = record.metrics
        loss = metrics.get(LOSS)
        # loss_is_nan() can only call a finite loss NaN when it is 0.0: ask only then.
        if loss is not None and math.isfinite(loss) and (loss != 0 or not loss_is_nan(record)):
            self._train.append(loss)
        val = metrics.get(VAL_LOSS)
        if (
            val is None
            or not math.isfinite(val)
            or not self._evaluated(val)
            or val == self._previous_val
        ):
            # A progress bar repeats the last evaluation in every refresh (Lightning's
            # postfix): the same value again is the same evaluation, not a new one.
            return []
        self._previous_val, self._last_eval = val, record
        self._points += 1
        self._vals.append(val)
        wanted = self._gauge.add(val)
        if self._train:  # the training level over the interval since the last evaluation
            self._train_level = median(self._train)
            self._train.clear()
        train = self._train_level
        levels = self._levels(record, train)
        if wanted > self._window and self._reported is None:  # a reported one keeps its own
            self._window = wanted
            self._end_streak()
        level = levels.get(self._window)
        best = self._best.get(self._window)
        if level is None or best is None:
            return []
        if level <= best[0] or level < self._raised(best[0], self._bar()):
            return self._close()
        self._streak.append((record, train))
        self._streak_first = self._streak_first or record
        self._streak_count += 1
        if self._reported is None and not self._holds(best[2]):
            return []
        announce = self._reported is None
        self._reported = self._report(level, best)
        return [self._reported] if announce else []

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.small_block import changed, indexes

        # Only a new evaluation (a finite validation loss above 0, other than the last) does
        # anything beyond keeping the training losses since the previous evaluation.
        if VAL_LOSS not in block.names:
            return self.replay(block, (), self._advance)
        vals = block.values(VAL_LOSS)
        finite = np.isfinite(vals)
        usable = finite & (vals > 0)
        real = finite & (vals != np.round(vals))  # (as ``_evaluated``, record by record)
        signed = 0 if self._signed else len(vals)
        if not self._signed and (below := np.flatnonzero(real & (vals < 0))).size:
            signed = int(below[0])
        usable[signed:] |= real[signed:]
        flagged = indexes(changed(vals, usable, self._previous_val))
        return self.replay(block, flagged, self._advance)

    def _advance(self, block: Block, start: int, end: int) -> None:
        """Keep the training losses of records with no new evaluation: only the last
        ``train_window`` can still count, so they are taken from the end of the loss
        column; a record is made only for a loss of 0, which may be a hidden NaN."""
        train = self._train
        if LOSS not in block.names or not train.maxlen:
            return
        losses = block.values(LOSS)[start:end]
        kept = np.isfinite(losses)
        zero = kept & (losses == 0)
        if zero.any():  # (as ``observe``: a 0.0 beside a non-finite grad norm is a hidden NaN)
            grads = block.values(GRAD_NORM)[start:end]
            kept &= ~(zero & block.present(GRAD_NORM)[start:end] & ~np.isfinite(grads))
        found: list[float] = losses[np.flatnonzero(kept)[-train.maxlen :]].tolist()
        train.extend(found)

    def finish(self) -> Iterable[Diagnosis]:
        return self._close() or self._stark()

    def _stark(self) -> list[Diagnosis]:
        """A thin log (fewer evaluations than needed) with an effect beyond any noise."""
        best, last, train = self._best.get(1), self._last_eval, self._train_level
        limits = self._limits
        if self._reported or best is None or last is None or train is None or best[2] is None:
            return []
        if not 2 <= self._points < limits.min_points:
            return []
        val = last.metrics[VAL_LOSS]
        if val < self._raised(best[0], 1 + limits.stark_rise) or train > self._raised(
            best[2], 1 - limits.stark_drop
        ):
            return []
        self._streak_first, self._streak_count = last, 1
        self._streak.append((last, train))
        found = self._report(val, best)
        return [replace(found, confidence=Confidence.LOW)]

    def _levels(self, record: Record, train: float | None) -> dict[int, float]:
        """The median of the last W evaluations for each full window W, tracking bests."""
        levels: dict[int, float] = {}
        vals = list(self._vals)
        for window in self._limits.windows:
            if len(vals) < window:
                continue
            level = levels[window] = median(vals[-window:])
            best = self._best.get(window)
            if best is None or level < best[0]:
                self._best[window] = (level, record, train)
        return levels

    def _bar(self) -> float:
        """How far above its best the validation level must be: the margin, widened to
        keep its ratio to the level's standard error when even the longest window leaves
        that above `level_noise` (on a log scale, so the bar is a factor)."""
        limits = self._limits
        margin = 1 + limits.rise
        if self._gauge.error <= limits.level_noise:
            return margin
        return max(margin, math.exp(self._gauge.error * limits.rise / limits.level_noise))

    def _needed(self) -> int:
        """Evaluations in a row that confirm a rise: at least as many as the level spans."""
        return max(self._limits.confirm, max(self._limits.windows))

    def _end_streak(self) -> None:
        self._streak.clear()
        self._streak_first, self._streak_count = None, 0

    def _holds(self, train_then: float | None) -> bool:
        """Enough evaluations, enough of them high in a row, and training lower at each."""
        limits = self._limits
        needed = max(limits.confirm, self._window)
        if self._points < limits.min_points or self._streak_count < needed:
            return False
        if train_then is None or train_then == 0:
            return False
        bar = self._raised(train_then, 1 - limits.train_drop)
        return all(now is not None and now <= bar for _, now in list(self._streak)[-needed:])

    def _close(self) -> list[Diagnosis]:
        found = [self._reported] if self._reported is not None else []
        self._end_streak()
        self._reported = None
        return found

    def _report(self, level: float, best_entry: tuple[float, Record, float | None]) -> Diagnosis:
        best_level, best, train_then = best_entry
        first, last = self._streak_first, self._streak[-1][0]
        assert first is not None
        train_now = self._streak[-1][1]
        what = "val_loss" if self._window == 1 else f"val_loss (median of {self._window})"
        ratio = f"{level / best_level:.2f}x; " if best_level > 0 else ""  # a best of 0: no ratio
        message = (
            f"{what} rose from its best {fmt(best_level)} at {where(best)} to {fmt(level)} at "
            f"{where(last)} ({ratio}above +{self._limits.rise:.0%} for "
            f"{self._streak_count} evaluations from {where(first)})"
        )
        if train_then is not None and train_now is not None:
            message += (
                f", while the training loss level fell from {fmt(train_then)} to {fmt(train_now)}"
            )
        if best.get(VAL_ACC) is not None and last.get(VAL_ACC) is not None:
            message += f"; val_acc {fmt(best.metrics[VAL_ACC])} -> {fmt(last.metrics[VAL_ACC])}"
        pairs = [(best, VAL_LOSS), (best, LOSS), (first, VAL_LOSS), (last, VAL_LOSS), (last, LOSS)]
        return self.diagnose(
            message,
            first,
            last,
            confidence=Confidence.HIGH if self._streak_count >= 3 else Confidence.MEDIUM,
            metric=VAL_LOSS,
            count=self._streak_count,
            evidence=evidence_of(pairs),
        )
