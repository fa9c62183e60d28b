"""`stalled`: nothing is being learned (a dead learning rate, a frozen loss, skipped updates)."""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, loss_is_nan, median, where
from gradlog.detectors.flat_start import FlatStart
from gradlog.detectors.noise import NoiseGauge
from gradlog.detectors.plateau import accuracy, chance_classes, near_chance
from gradlog.detectors.signs import DeadRate, FrozenValue, PinnedError, Sign, SkippedSteps
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, LR, VAL_LOSS

if TYPE_CHECKING:
    from gradlog.detectors.block import Block


class StalledDetector(Detector):
    """
    ## What it detects
    Training in which nothing is being learned, shown by any of five signs:

    - the learning rate is exactly 0, or has collapsed to a millionth of its peak or
      less, for 10 records or more and a quarter of the records since it was first
      positive (or is 0 from the first record for 50);
    - the loss or the validation loss prints exactly the same value, to 3 significant
      digits or more, on 5 epochs in a row (records, if the log names no epochs) and
      on a quarter of those it was printed on, away from a chance level ln(K);
    - an error rate (CER, WER, PER, top-1 error, `err`) prints exactly its maximum, 1
      (or 100 in percent), on 5 records in a row and a quarter of those it was printed
      on, while the loss does not fall: every output is wrong (blanks, one token);
    - optimizer steps are skipped (by a spike or non-finite-gradient guard, not an fp16
      overflow) on 4 records or more, and on half the records since the first skip;
    - judged when the run ends, in a log that shows the run from its start (its first
      loss within one logging interval of step 0, or of epoch 0 where it prints
      epochs): the loss level (the median of the last 9 losses) never fell 3% below
      where it began, nor rose 5% above it (shares of its size: a loss below zero,
      BYOL's negative cosine similarity, too), over 30 losses or more, while the
      accuracy printed beside them did not rise to 1.5 times its first value (a model
      that scores better learns: a loss that converged in its first few records). A
      level `chance_plateau` reports is left to it: within its `tolerance` of ln(K),
      or under ln(K) beside an accuracy at 1/K. Every healthy run falls well beyond
      that from its start; an excerpt or a resumed run does not start at step 0.

    A falling loss disproves a dead learning rate, a pinned error rate and skipped steps
    (the zero is a rounded small rate, a CTC model prints blanks while it starts, the
    skips are rare). One diagnosis covers an episode, with every sign it shows; an
    episode that ends (the signs lapse) is kept as info.

    Opt-in (`plateau = true` under `[tool.gradlog.thresholds.stalled]`): the loss level
    (a running median) has not improved by more than 1% for the last half of the run
    and for at least 20 records, while it is neither at chance, nor converged (below a
    tenth of where it started), nor climbing (that is `divergence`). Healthy runs
    flatten too: it fires on a healthy llm.c excerpt wobbling around its level.

    ## Why it matters
    A run that learns nothing spends its compute for nothing. A learning rate decayed
    to nothing (a scheduler stepped per batch instead of per epoch, ReduceLROnPlateau
    without a floor), a zero learning rate, an `optimizer.step()` that runs before
    `backward()`, or a gradient guard that rejects every step all leave the weights
    where they are while the log goes on.

    ## Example
    ```
    epoch  7 | loss 0.1012 | val_loss 0.0971 | lr 5.0e-04
    epoch  8 | loss 0.0995 | val_loss 0.0967 | lr 5.0e-05
    epoch  9 | loss 0.0994 | val_loss 0.0967 | lr 5.0e-06
    epoch 10 | loss 0.0994 | val_loss 0.0967 | lr 5.0e-07
    epoch 11 | loss 0.0994 | val_loss 0.0967 | lr 5.0e-08
    epoch 12 | loss 0.0994 | val_loss 0.0967 | lr 5.0e-09   <- flagged (from epoch 8)
    ```

    ## Thresholds
    - `lr_collapse_factor` 1e6: healthy updates change a weight by about 1e-3 per step;
      a million times less is 1e-9, under float32's rounding step of 6e-8. Relative to
      the run's own peak, as Caffe's FCN trains healthily at a base_lr of 1e-10.
    - `lr_zero_records` 10 and `lr_zero_fraction` 0.25: how long the learning rate stays
      dead (a decay to zero ends in a few such records); `lr_zero_start_records` 50 for
      a zero from the start (Megatron's fp16 start prints lr 0 for some 30 records).
    - `lr_zero_digits` 2: a printed 0 counts only after a rate printed with 2
      significant digits or more (`1.2e-07`, then `0`); after `0.0002`, `0.0001` it is
      a small rate rounded away by a fixed-decimal format. Nor while the loss moves:
      a dead rate is confirmed only if the loss level neither fell `progress_drop` nor
      rose `flat_rise` from the stretch's first losses (`lr: 0.000` printed from the
      first record of a run whose loss climbs is a rate too small for 3 decimals).
    - `repeat_records` 5, `repeat_fraction` 0.25 and `repeat_digits` 3: the frozen
      value. Epochs are counted, not lines, as a progress bar repeats the last
      validation value on every step; for a value shown that way, 5 times the epochs
      its longest earlier value lasted (the evaluation cadence). Not while the last 5
      training losses alternate exactly between two values: the weights then swing
      between two states (that is `oscillation`), and an evaluation made on the same
      phase each time repeats its value.
    - `skip_records` 4 and `skip_fraction` 0.5: skipped steps on most records.
    - `flat_window` 9, `flat_records` 30, `flat_drop` 0.03 and `flat_rise` 0.05: the
      level, how many losses, and how far below or above the first level it may move.
    - `progress_records` 9 and `progress_drop` 0.05: the medians of the first and last
      9 losses of the stretch, 5% apart, show progress.
    - `plateau` false: the heuristic part is off. When on: `windows` 9, 25 or 51
      records in the level, the fewest whose standard error stays within `level_noise`
      (5%) of it, given the scatter of the last `noise_records` 50 losses (once there
      are `min_noise_records` 10); `min_records` 20 and `stall_fraction` 0.5 (the
      stretch without progress); `min_improvement` 0.01 (what counts as progress);
      `converged_fraction` 0.1.
    """

    rule = Rule(
        id="stalled",
        min_records=4,  # skip_records: the shortest sign
        title="Training stalled",
        severity=Severity.WARNING,
        summary=(
            "Nothing is learned: a dead learning rate, a frozen loss, an error rate pinned "
            "at 1, or skipped steps."
        ),
        why=(
            "A run whose weights no longer move spends compute for nothing: the learning "
            "rate is zero or vanishingly small, or every update is thrown away; a model "
            "whose every output is wrong while its loss stays put has collapsed to one "
            "answer and is not learning either."
        ),
        remedies=(
            "Check the learning-rate schedule: it may have decayed to zero or near zero too "
            "early (a total step count that is too small, a scheduler stepped per batch "
            "instead of per epoch, ReduceLROnPlateau without a min_lr).",
            "Raise the learning rate, or restart its schedule from a higher value.",
            "Check that the optimizer holds the parameters being trained and that they are "
            "not frozen (requires_grad, a parameter group with lr 0), and that "
            "optimizer.step() runs after loss.backward().",
            "If a gradient guard skips the steps, check its threshold against the gradient "
            "norms the run actually has, or clip the gradients instead of skipping.",
            "Give the model more capacity, or check that inputs and labels carry the "
            "information needed (a bottleneck or a data bug looks like a stall).",
            "If the run has simply converged, stop it: later steps are not improving it.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = limits = thresholds.stalled
        self._signs: tuple[Sign, ...] = (
            DeadRate(limits),
            FrozenValue(limits, thresholds.chance_plateau, LOSS),
            FrozenValue(limits, thresholds.chance_plateau, VAL_LOSS),
            PinnedError(limits),
            SkippedSteps(limits),
        )
        self._latest: deque[float] = deque(maxlen=limits.progress_records)
        self._episode: Diagnosis | None = None
        self._first: Record | None = None
        self._last: Record | None = None
        self._records = 0
        self._opened = 0  # records seen when the episode's first record was
        self._flat = FlatStart(limits)  # the loss level since the run's start
        self._block_fed = False  # while a block is read: its losses went to _flat at once
        self._init_plateau()

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        if not self._block_fed and not self._flat.moved:
            loss = record.metrics.get(LOSS)
            if loss is not None and math.isfinite(loss):
                self._flat.add(record, loss)
        standing = self._signs_observe(record)
        found = self._follow(record) if standing or self._episode is not None else []
        if self._limits.plateau:
            found += self._plateau(record)
        return found

    def _signs_observe(self, record: Record) -> bool:
        """Follow one record in every sign; whether any of them stands.

        Inside an episode that surely goes on, the block path calls only this: the
        episode's report is rebuilt on the next record ``observe`` reads, before it can
        be announced or closed."""
        self._records += 1
        loss = record.metrics.get(LOSS)
        latest = self._latest
        if loss is not None and math.isfinite(loss):
            latest.append(loss)
        standing = False
        for sign in self._signs:
            sign.observe(record, latest)
            if sign.first is not None:  # tick(), and whether it stands, without the calls
                sign.span += 1
                standing = standing or sign.confirmed
        return standing

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.stalled_block import StalledScreen

        # Screened with arrays (stalled_block): ``observe`` runs only where a sign could
        # act, on every record while a sign's stretch is open outside an episode, and
        # inside one only before a record that may end it. The opt-in plateau part
        # follows a noise gauge record by record: with it on, each record is read.
        self._flat.add_block(block)
        self._block_fed = True
        try:
            if block.records and not self._limits.plateau:
                screen = StalledScreen(self, block)
                if screen.exact:
                    return screen.run()
            return super().observe_block(block)
        finally:
            self._block_fed = False

    def finish(self) -> Iterable[Diagnosis]:
        found = [d for d in (self._stall, self._episode) if d is not None]
        flat = None if found else self._flat_report()
        return found if flat is None else [flat]

    def _flat_report(self) -> Diagnosis | None:
        """The whole run's loss never left the level it began at (``FlatStart``)."""
        flat, limits = self._flat, self._limits
        first, last, start = flat.first, flat.last, flat.start
        if flat.moved or first is None or last is None or start is None:
            return None
        if flat.count < limits.flat_records or not flat.from_start() or start == 0:
            return None
        if flat.learned():
            return None  # the accuracy rose: the model learned, its loss converged early
        nats = start * math.log(2) if first.bits else start
        if self._at_chance(nats, flat.accs[-1] if flat.accs else None):
            return None  # at a chance level: chance_plateau's
        message = (
            f"the loss never left the level it began at: its level (median of "
            f"{flat.window}) stayed within {limits.flat_drop:.0%} below and "
            f"{limits.flat_rise:.0%} above {fmt(start)} over {flat.count} losses from the "
            f"start of the run"
        )
        message += _lr_of(last)
        pairs = [(first, LOSS), (last, LOSS), (last, LR), (last, GRAD_NORM)]
        return self.diagnose(
            f"nothing is being learned: {message}",
            first,
            last,
            confidence=Confidence.MEDIUM,
            metric=LOSS,
            count=flat.count,
            evidence=evidence_of(pairs),
        )

    def _at_chance(self, loss: float, acc: float | None) -> bool:
        """Whether a flat loss is ``chance_plateau``'s to report: within its `tolerance`
        of a chance level ln(K) either side, or under it within `below` beside an
        accuracy at 1/K (where that rule needs one). A loss just under ln(K) with no
        such accuracy (a link predictor's summed BCE at 1.045, under ln 3) is no coin
        flip it could confirm: a flat one is a stall."""
        limits = self.thresholds.chance_plateau
        k = chance_classes(loss, limits)
        if k is None:
            return False
        if chance_classes(loss, limits, tight=True) == k:
            return True
        return acc is not None and abs(accuracy(acc) - 1 / k) <= near_chance(limits, k)

    def _follow(self, record: Record) -> list[Diagnosis]:
        """Open, update or close the episode of no learning."""
        standing = [sign for sign in self._signs if sign.standing]
        if not standing:
            if self._episode is None:
                return []
            ended = self._ended(record)
            self._episode, self._first = None, None
            return [ended]
        if self._first is None:
            self._first = min((s.first for s in standing if s.first), key=lambda r: r.line)
            self._opened = self._records - max(s.span for s in standing) + 1
        announce = self._episode is None
        self._episode = self._report(standing, record)
        return [self._episode] if announce else []

    def _report(self, standing: list[Sign], record: Record) -> Diagnosis:
        assert self._first is not None
        message = "; ".join(sign.describe() for sign in standing)
        if not any(isinstance(sign, DeadRate) for sign in standing):
            message += _lr_of(record)
        pairs = [(s.first, s.metric) for s in standing if s.first is not None]
        pairs += [(record, LOSS), (record, VAL_LOSS), (record, LR)]
        self._last = record
        return self.diagnose(
            f"nothing is being learned: {message}",
            self._first,
            record,
            confidence=Confidence.HIGH,
            metric=standing[0].metric,
            count=self._records - self._opened + 1,
            evidence=evidence_of(pairs),
        )

    def _ended(self, record: Record) -> Diagnosis:
        """The episode as info: the signs lapsed, so learning went on after it."""
        episode, first, last = self._episode, self._first, self._last
        assert episode is not None and first is not None and last is not None
        told = episode.message.removeprefix("nothing is being learned: ")
        message = (
            f"nothing was learned from {where(first)} to {where(last)}, then the signs "
            f"lapsed at {where(record)}: {told}"
        )
        return dataclasses.replace(episode, severity=Severity.INFO, message=message)

    # The heuristic part (opt-in): the loss level stopped improving.

    def _init_plateau(self) -> None:
        limits = self._limits
        self._recent: deque[float] = deque(maxlen=max(limits.windows))
        self._gauge = NoiseGauge(
            limits.windows, limits.level_noise, limits.noise_records, limits.min_noise_records
        )
        self._window = min(limits.windows)  # records in the level; never shrinks
        self._seen = 0  # records with a finite loss
        self._start: float | None = None
        self._best = math.inf  # the level at the last real improvement
        self._best_at = 0
        self._best_record: Record | None = None
        self._after_best: Record | None = None
        self._stall: Diagnosis | None = None

    def _plateau(self, record: Record) -> list[Diagnosis]:
        loss = record.get(LOSS)
        if loss is None or not math.isfinite(loss) or loss_is_nan(record):
            return []
        self._seen += 1
        self._recent.append(loss)
        wanted = self._gauge.add(loss)
        if wanted > self._window and self._stall is None:  # the anchor restarts under it
            self._window, self._best, self._best_at = wanted, math.inf, self._seen
        if len(self._recent) < self._window:
            return []
        level = median(list(self._recent)[-self._window :])
        if self._start is None:
            self._start = level
        if level < (1 - self._limits.min_improvement) * self._best:
            found = [self._report_stall(record, level, resumed=True)] if self._stall else []
            self._stall = None
            self._best, self._best_at, self._best_record = level, self._seen, record
            self._after_best = None
            return found
        if self._after_best is None:
            self._after_best = record
        if self._stall is not None or self._stalled(level):  # only progress ends a stall
            announce = self._stall is None
            self._stall = self._report_stall(record, level)
            return [self._stall] if announce else []
        return []

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
        message += _lr_of(record)
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


def _lr_of(record: Record) -> str:
    """The learning rate a record prints, to end a message with; "" when it prints none."""
    lr = record.get(LR)
    return "" if lr is None else f"; lr {fmt(lr)}"
