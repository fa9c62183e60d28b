"""`stalled`: the loss stopped improving long ago, far from chance and far from zero."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, loss_is_nan, median, where
from gradlog.detectors.noise import NoiseGauge
from gradlog.detectors.plateau import chance_classes
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, LR


class StalledDetector(Detector):
    """
    ## What it detects
    Training that has stopped making progress, in either of two forms:

    - the loss level (a running median) has not improved by more than 1% for the last
      half of the run, and for at least 20 records, while it is neither at a chance
      level ln(K) (that is `chance_plateau`), nor converged near zero (below a tenth of
      where it started), nor climbing to twice its best (that is `divergence`);
    - the learning rate is exactly zero for 10 or more records in a row after it had
      been positive, and for at least a quarter of the records since it first was; or
      it has been zero from the first record for 50 records.

    A stall that ends (the loss improves again) is kept as info: the run lost time but
    recovered. A stall still open when the log ends is a warning.

    The rule is off by default (`--select stalled`, or `select` in the configuration):
    healthy runs flatten out too. A run trained past the point where its loss stops
    falling looks exactly like a stalled one, and only the person who planned the run
    knows which it is. On synthetic healthy runs it stays quiet while the loss falls by
    half or more, but it fires on a quarter to a half of those whose loss drops only
    5-20% before flattening, as fine-tuning runs often do. It is meant for watching
    runs that should still be learning.

    ## Why it matters
    A run whose loss no longer falls is spending compute for nothing. Far from zero,
    that usually means a learning rate that has decayed (or was set) too low, a
    bottleneck in the model, or an optimizer that has stopped updating: a learning rate
    of zero after warm-up is a scheduler or configuration bug.

    ## Example
    ```
    step  190 | loss 1.5537 | grad_norm 0.682 | lr 2.28e-06
    step  200 | loss 1.5734 | grad_norm 0.704 | lr 0.00e+00      <- flagged (lr zero)
    ...
    step  710 | loss 1.4906 | grad_norm 0.611 | lr 0.00e+00
    ```

    ## Thresholds
    - `windows` 9, 25 or 51 records in the level: the fewest whose standard error stays
      within `level_noise` (5%) of it, as for `divergence`.
    - `min_records` 20 and `stall_fraction` 0.5: the stretch without improvement is at
      least 20 records and at least half of the run so far.
    - `min_improvement` 0.01: what counts as progress. Noise alone sets new bests ever
      more rarely, so a real stall still shows on a noisy loss.
    - `converged_fraction` 0.1: a level below a tenth of the starting level has
      converged, not stalled.
    - `lr_zero_records` 10 and `lr_zero_fraction` 0.25: a zero learning rate for that
      many records, and that share of the records since it was first positive (the
      last records of a schedule that decays to zero may print as 0).
    - `lr_zero_start_records` 50: a zero learning rate before it was ever positive is
      warm-up at first (Megatron's fp16 start prints lr 0 for its skipped iterations,
      some 30 records when it logs every iteration); for 50 records it never started.
    """

    rule = Rule(
        id="stalled",
        min_records=10,
        title="Training stalled",
        severity=Severity.WARNING,
        summary="The loss stopped improving far from chance and from zero, or the lr is zero.",
        why=(
            "A run whose loss no longer falls spends compute for nothing; far from zero it "
            "usually means the learning rate is too low, or zero."
        ),
        remedies=(
            "Check the learning-rate schedule: it may have decayed to zero or near zero too "
            "early (a total step count that is too small, a scheduler stepped per batch "
            "instead of per epoch).",
            "Raise the learning rate, or restart its schedule from a higher value.",
            "Check that the optimizer holds the parameters being trained and that they are "
            "not frozen (requires_grad, a parameter group with lr 0).",
            "Give the model more capacity, or check that inputs and labels carry the "
            "information needed (a bottleneck or a data bug looks like a stall).",
            "If the run has simply converged, stop it: later steps are not improving it.",
        ),
        default_enabled=False,
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.stalled
        self._recent: deque[float] = deque(maxlen=max(self._limits.windows))
        self._gauge = NoiseGauge(
            self._limits.windows,
            self._limits.level_noise,
            self._limits.noise_records,
            self._limits.min_noise_records,
        )
        self._window = min(self._limits.windows)  # records in the level; never shrinks
        self._seen = 0  # records with a finite loss
        self._start: float | None = None
        self._best = math.inf  # the level at the last real improvement
        self._best_at = 0
        self._best_record: Record | None = None
        self._after_best: Record | None = None
        self._stall: Diagnosis | None = None
        self._lr_started: int | None = None  # records seen when lr was first positive
        self._lr_peak = 0.0
        self._records = 0
        self._zero_first: Record | None = None
        self._zero_last: Record | None = None
        self._zero_count = 0
        self._zero: Diagnosis | None = None

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        self._records += 1
        found = self._watch_lr(record)
        loss = record.get(LOSS)
        if loss is None or not math.isfinite(loss) or loss_is_nan(record):
            return found
        self._seen += 1
        self._recent.append(loss)
        wanted = self._gauge.add(loss)
        if wanted > self._window and self._stall is None:  # the anchor restarts under it
            self._window, self._best, self._best_at = wanted, math.inf, self._seen
        if len(self._recent) < self._window:
            return found
        level = median(list(self._recent)[-self._window :])
        if self._start is None:
            self._start = level
        if level < (1 - self._limits.min_improvement) * self._best:
            if self._stall is not None:  # progress again: the stall is history
                found.append(self._report_stall(record, level, resumed=True))
            self._stall = None
            self._best, self._best_at, self._best_record = level, self._seen, record
            self._after_best = None
            return found
        if self._after_best is None:
            self._after_best = record
        if self._stall is not None or self._stalled(level):  # only progress ends a stall
            announce = self._stall is None
            self._stall = self._report_stall(record, level)
            if announce:
                found.append(self._stall)
        return found

    def finish(self) -> Iterable[Diagnosis]:
        return [d for d in (self._stall, self._zero) if d is not None]

    def _stalled(self, level: float) -> bool:
        assert self._start is not None
        since = self._seen - self._best_at
        long_enough = since >= max(
            self._limits.min_records, self._limits.stall_fraction * self._seen
        )
        at_chance = chance_classes(level, self.thresholds.chance_plateau) is not None
        converged = level <= self._limits.converged_fraction * self._start
        climbing = level >= self.thresholds.divergence.factor * self._best  # divergence's case
        positive = level > 0 and self._start > 0  # fractions of a negative loss mean nothing
        return long_enough and positive and not (at_chance or converged or climbing)

    def _report_stall(self, record: Record, level: float, resumed: bool = False) -> Diagnosis:
        best, first = self._best_record, self._after_best
        assert best is not None and first is not None
        since = self._seen - self._best_at
        message = (
            f"the loss has not improved by more than {self._limits.min_improvement:.0%} in "
            f"{since} records: its level (median of {self._window}) is {fmt(level)} at "
            f"{where(record)}, against {fmt(self._best)} at {where(best)}; it started at "
            f"{fmt(self._start or 0)}"
        )
        lr = record.get(LR)
        if lr is not None:
            message += f"; lr {fmt(lr)}"
            if lr == 0:
                message += " (the learning rate is zero)"
        if resumed:
            message = (
                f"the loss stalled from {where(first)} for {since} records, then improved "
                f"again (level {fmt(level)} at {where(record)}, against {fmt(self._best)} "
                f"at {where(best)})"
            )
        pairs = [(best, LOSS), (record, LOSS), (record, LR), (record, GRAD_NORM)]
        return self.diagnose(
            message,
            first,
            record,
            severity=Severity.INFO if resumed else Severity.WARNING,
            confidence=Confidence.MEDIUM,
            metric=LOSS,
            count=since,
            evidence=evidence_of(pairs),
        )

    def _watch_lr(self, record: Record) -> list[Diagnosis]:
        """A learning rate of exactly zero, long after it had been positive, or from the start."""
        lr = record.get(LR)
        if lr is None or not math.isfinite(lr):
            return []
        if lr != 0:
            if lr > 0 and self._lr_started is None:
                self._lr_started = self._records
            self._lr_peak = max(self._lr_peak, abs(lr))
            done = [self._zero] if self._zero is not None else []
            self._zero, self._zero_first, self._zero_count = None, None, 0
            return done
        if self._zero_first is None:
            self._zero_first = record
        self._zero_last, self._zero_count = record, self._zero_count + 1
        if self._lr_started is None:  # warm-up has not begun: Megatron's fp16 start prints 0
            needed: float = self._limits.lr_zero_start_records
        else:
            before = self._records - self._zero_count - self._lr_started + 1
            needed = max(self._limits.lr_zero_records, self._limits.lr_zero_fraction * before)
        if self._zero_count < needed:
            return []
        announce = self._zero is None
        self._zero = self._report_zero()
        return [self._zero] if announce else []

    def _report_zero(self) -> Diagnosis:
        first, last = self._zero_first, self._zero_last
        assert first is not None and last is not None
        if self._lr_started is None:
            since = "it has never been positive"
        else:
            since = f"after reaching {fmt(self._lr_peak)}"
        message = (
            f"the learning rate is zero from {where(first)} to {where(last)} "
            f"({self._zero_count} records), {since}: nothing is being learned"
        )
        pairs = [(first, LR), (first, LOSS), (last, LOSS)]
        return self.diagnose(
            message,
            first,
            last,
            confidence=Confidence.HIGH,
            metric=LR,
            count=self._zero_count,
            evidence=evidence_of(pairs),
        )
