"""`divergence`: the loss level climbs well above its best and does not come back."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import (
    Detector,
    Rule,
    evidence_of,
    factor,
    fmt,
    where,
)
from gradlog.detectors.levels import Climb, Level
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.families import RETURN_WORDS, words
from gradlog.parse.names import GRAD_NORM, LOSS, LR, VAL_LOSS

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors import divergence_block as bulk
    from gradlog.detectors.block import Block
else:
    from gradlog.lazy import deferred
    from gradlog.lazy import numpy as np

    bulk = deferred("gradlog.detectors.divergence_block")


class DivergenceDetector(Detector):
    """
    ## What it detects
    A loss that climbs back up from its best and does not come back, found two ways:

    - Its level (the loss itself in a smooth or short log, a running median of 3-51
      records in a noisy one) stays 1.4x or more above its best level, and further than
      the run's own noise explains, for several records in a row, without falling back
      to its best. Held at 2x or more, that is enough; a smaller rise must still be
      climbing, or it is a step to a new level. A level falling back toward its best is
      never reported: it may yet return (the bump after a warm restart, a running
      average diluting a few bad batches).
    - It blows up: 1000x or more above where the run started (the median of its first 3
      values), for 2 records in a row (a cross-entropy of 1e5). This needs no history,
      so a log of four records is judged too; `loss_spike` usually fires on the jump.
    - The log ends in a climb too short for the persistence below: its last 3 records
      each higher than the one before, 2x or more above the best level, the last 5x or
      more (a run stopped, or aborted by its framework, as its loss ran away). Not when
      a NaN follows: that is `nan`'s.

    The validation loss is judged the same way when it is the only loss in the log (a
    log of validation lines), or when the training loss is itself well above its best;
    one that rises while the training loss improves is left to `overfitting`. The message
    gives the learning rate when the log prints one: a rate that rose during the climb,
    or one of 1 or more, raises the confidence. It is an error at 5x the best or more,
    back above where the run started (all learning undone), or after a blow-up. Losses
    that can be negative (RL, some regularised objectives) are not judged. A climb beside
    an episode return that rose over it (an RL run's ``ep_rew_mean``, by a quarter of its
    size or more from where the loss was best, each time the climb is told) is info:
    the value targets grow with the returns. Once a telling finds the return no higher,
    or the loss blew up, the climb is an alarm from then on.

    ## Why it matters
    A loss that trends upward means the updates now make the model worse: the learning
    rate is too high for this stage of training (a warm-up longer than the run, a
    schedule that grows), the update has the wrong sign, the optimizer state is broken,
    or the data changed. Unlike a spike, the run does not recover by itself, and every
    further step moves the weights further from the best point reached.

    ## Example
    ```
    Epoch 13/25 - loss: 0.2670 - val_loss: 0.2506
    Epoch 14/25 - loss: 0.2670 - val_loss: 0.2563      (best)
    Epoch 15/25 - loss: 0.2905 - val_loss: 0.2410      <- flagged from here
    ...
    Epoch 21/25 - loss: 0.4473 - val_loss: 0.5668      (1.7x its best)
    Epoch 22/25 - loss: 0.4591 - val_loss: 0.2782
    Epoch 23/25 - loss: 0.5378 - val_loss: 0.4322      (3 records at 1.4x, climbing: reported)
    ```

    ## Thresholds
    - `min_rise` 1.4: the level must reach 40% above its best, far beyond what a smooth
      log wobbles; `min_rise_fraction` 0.02: and rise by 2% of the starting level, so a
      converged loss wobbling near zero (0.002 -> 0.005 after a start at 2.3) is not one.
    - `noise_margin` 3: and by 3 standard errors of the level, plus sqrt(2 ln m) for the
      best being the lowest of the m independent levels seen up to it. The noise is the
      robust scatter of one log-loss around its local trend, the larger of that over the
      last `noise_records` (50) and the last `local_noise_records` (15); nothing is
      judged before `min_noise_records` (8) values, nor while the level's standard error
      exceeds `max_level_error` (0.15): such a level cannot tell a climb from luck.
    - Persistence: `min_persist` 3 records in a row above that bar, as many as the median
      spans, and `persist_share` 5% of the records seen (at most 51), whichever is more:
      three records are a third of a 9-epoch log but a blip among a thousand steps.
    - `factor` 2: held at twice its best, the level need only hold (not fall by more than
      its standard error over the stretch); below that it must still be climbing, by
      `climb_errors` (2) standard errors. Either way, the median of the stretch's later
      half must not lie more than a standard error below that of its earlier half: a
      jump that decays starts its stretch half-way up, and its ends alone would hold.
      A climb past 2x, held for twice the records needed, a blow-up, or a learning
      rate that rose or stands at 1 or more gives high confidence; `severe_factor` 5
      is an error.
    - The climb ends when the level is back within one standard error of its best. It
      began at the first record after the last one at its best, half a median window
      earlier (a median lags), but never before the best.
    - The level is the median of the last W of `windows` (1, 3, 5, 11, 25, 51): the
      shortest whose standard error is within `level_noise` (5%) of the level, among those
      no longer than 1/`window_share` (a quarter) of the records seen, so an 8-30 record
      epoch log is read value by value. W only grows, and each W keeps its own best.
    - `blowup_factor` 1000 (three orders of magnitude) above the median of the first
      `early_records` (3) values, for `blowup_records` (2) records in a row.
    """

    rule = Rule(
        id="divergence",
        min_records=5,
        title="Diverging loss",
        severity=Severity.WARNING,
        summary="The loss level rose well above its best (or blew up) and did not come back.",
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
        self._train = Level(LOSS, self._limits)
        self._val = Level(VAL_LOSS, self._limits)
        self._training_seen = False
        # Whether each series' last value so far is finite (``ended_climbing``).
        self._ends_finite: dict[str, bool] = {}
        self._said: dict[str, Severity] = {}  # metric: severity of its open climb, as told
        # metric: whether its open climb has been told beside an episode return that rose
        # over it each time (an RL run's value targets grow with its returns: no alarm)
        self._learning: dict[str, bool] = {}
        self._bulk: bool | None = None  # whether the screen models these settings: on first use
        self._horizon = _HORIZON  # records to screen at once: grows while none is flagged

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        found: list[Diagnosis] = []
        metrics = record.metrics
        loss = metrics.get(LOSS)
        if loss is not None:
            self._training_seen = True
            self._ends_finite[LOSS] = finite = math.isfinite(loss)
            # A finite loss that loss_is_nan() calls NaN is 0.0, which add() ignores.
            if finite:
                climb, ended = self._train.add(loss, record)
                if climb is not None:
                    found = self._judge(climb, ended)
        value = metrics.get(VAL_LOSS)
        if value is not None:
            self._ends_finite[VAL_LOSS] = math.isfinite(value)
        if value is not None and math.isfinite(value):
            climb, ended = self._val.add(value, record)
            if climb is not None:
                found += self._judge(climb, ended)
        return found

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        """``observe`` on the records a screen flags, the quiet ones taken in bulk.

        Each series screens forward from where the rule stands (see ``divergence_block``)
        for the first record it must observe. A validation value flagged while the
        training loss is quiet is observed alone, the training loss around it staying in
        bulk; a flagged training loss stops both series. Where flagged records come close
        together (an open climb, a blow-up) the records after one are observed one by
        one for a while: a screen costs more than a few records do.
        """
        records = block.records
        total = len(records)
        if self._bulk is None and total >= _SMALL_BLOCK:
            self._bulk = bulk.supported(self._limits)
        if total < _SMALL_BLOCK or not self._bulk:
            return super().observe_block(block)
        train = Stream(self._train, block, LOSS)
        val = Stream(self._val, block, VAL_LOSS)
        found: list[tuple[int, Diagnosis]] = []
        pos, horizon = 0, self._horizon
        while pos < total:
            limit = min(total, pos + horizon)
            stop = train.screen(pos, limit, self._carried(self._train))
            flagged = val.screen(pos, stop, self._carried(self._val))
            while flagged < stop:
                below = train.below_bar(flagged + 1)
                if below is False:  # (the validation loss reads it: take the training loss)
                    stop = flagged
                    break
                val.advance(flagged)
                if below:
                    self._train.elevated = False  # (as taking those values will leave it)
                self._see_training(block, pos, flagged + 1)
                found += [(flagged, d) for d in self._observe_validation(records[flagged])]
                val.skip(flagged)
                flagged = val.screen(flagged + 1, stop)
            train.advance(stop)
            val.advance(stop)
            self._see_training(block, pos, stop)
            if stop == limit:
                pos, horizon = stop, min(2 * horizon, _MAX_HORIZON)
                continue
            # Flagged records close together: observe the next ones singly for a while.
            last = min(total, stop + (_BURST if stop - pos < _DENSE else 1))
            # (A slice: records made from columns are made together, not one by one.)
            for index, record in enumerate(records[stop:last], stop):
                diagnoses = self.observe(record)
                if diagnoses:
                    found += [(index, diagnosis) for diagnosis in diagnoses]
            train.skip(last - 1)
            val.skip(last - 1)
            pos, horizon = last, max(_HORIZON, 2 * (stop - pos))
        self._horizon = horizon
        for name in (LOSS, VAL_LOSS):
            at = np.flatnonzero(block.present(name))
            if len(at):
                self._ends_finite[name] = bool(np.isfinite(block.values(name)[at[-1]]))
        return found

    def _carried(self, level: Level) -> float | None:
        """For a series with a climb reported and told as it stands: the rise over the
        climb's best that would make it more severe (``inf``: it is an error already),
        so that the values before one may be taken in bulk. None otherwise."""
        climb = level.reported
        if climb is None or self._said.get(climb.metric) != climb.severity:
            return None
        if climb.severity >= Severity.ERROR:
            return math.inf
        return math.log(self._limits.severe_factor)

    def _see_training(self, block: Block, first: int, stop: int) -> None:
        """Whether a training loss was printed, by record ``stop - 1``."""
        if stop > first and not self._training_seen:
            self._training_seen = bool(block.present(LOSS)[first:stop].any())

    def _observe_validation(self, record: Record) -> list[Diagnosis]:
        """``observe``'s validation half, for a record whose training loss (if any) is
        quiet and taken in bulk later: all the validation loss reads of the training
        side is whether a training loss was seen and whether it is above its bar now."""
        value = record.metrics.get(VAL_LOSS)
        if value is None or not math.isfinite(value):
            return []
        climb, ended = self._val.add(value, record)
        return self._judge(climb, ended) if climb is not None else []

    def finish(self) -> Iterable[Diagnosis]:
        climbs = (series.finish() for series in (self._train, self._val))
        found = [self._diagnosis(c) for c in climbs if c is not None and c.metric in self._said]
        ended = None
        if not self._said:  # the log may have ended in a climb too short to prove
            finite = self._ends_finite
            if finite.get(LOSS):  # (one that went on to NaN is the NaN rule's)
                ended = self._train.ended_climbing()
            elif not self._training_seen and finite.get(VAL_LOSS):
                ended = self._val.ended_climbing()
            if ended is not None:
                ended.severity = Severity.ERROR
                found.append(self._diagnosis(ended))
        return found

    def _judge(self, climb: Climb, ended: bool) -> list[Diagnosis]:
        """Report a climb when it is proved, when it gets worse, and when it ends."""
        climb.severity = max(climb.severity, self._severity(climb))
        told = self._said.get(climb.metric)
        if ended:
            self._said.pop(climb.metric, None)
            found = [self._diagnosis(climb, returned=True)] if told is not None else []
            self._learning.pop(climb.metric, None)
            return found
        if told == climb.severity or (told is None and not self._may_tell(climb.metric)):
            return []
        self._said[climb.metric] = climb.severity
        return [self._diagnosis(climb)]

    def _may_tell(self, metric: str) -> bool:
        """One climb at a time; the validation loss's only when training confirms it.

        A validation loss that rises while the training loss improves is overfitting;
        it is a divergence when no training loss is logged, or when the training loss is
        itself above its bar (the second metric confirms the first).
        """
        if metric == LOSS:
            return VAL_LOSS not in self._said
        confirmed = not self._training_seen or self._train.elevated
        return LOSS not in self._said and confirmed

    def _severity(self, climb: Climb) -> Severity:
        rise = climb.level - climb.best_level
        severe = climb.blown_at is not None or rise >= math.log(self._limits.severe_factor)
        return Severity.ERROR if severe or self._undone(climb) else Severity.WARNING

    def _undone(self, climb: Climb) -> bool:
        """Back above where the run started, after it had learned something: all undone."""
        learned = climb.early - climb.best_level >= math.log(self._limits.min_rise)
        return climb.learned and learned and climb.level > climb.early

    def _diagnosis(self, climb: Climb, returned: bool = False) -> Diagnosis:
        """``returned``: the climb is over, its level back near its best."""
        lr_note, lr_evidence = _lr_note(climb)
        doubled = climb.level - climb.best_level >= math.log(self._limits.factor)
        persisted = climb.above >= 2 * climb.persist
        sure = climb.blown_at is not None or doubled or persisted or lr_evidence
        message = self._climb_message(climb, returned) + self._blowup_note(climb) + lr_note
        severity = climb.severity
        if (rose := self._rose(climb)) is not None:
            name, then, now = rose
            severity = Severity.INFO
            message += (
                f"; the episode return {name} rose with it, from {fmt(then)} to {fmt(now)}: "
                "an RL loss's value targets grow with the returns, so its climb is no "
                "sign of divergence"
            )
        pairs = [
            (climb.best, climb.metric),
            (climb.first, climb.metric),
            (climb.peak, climb.metric),
            (climb.last, climb.metric),
            (climb.last, LR),
            (climb.last, GRAD_NORM),
        ]
        return self.diagnose(
            message,
            climb.first,
            climb.last,
            severity=severity,
            confidence=Confidence.HIGH if sure else Confidence.MEDIUM,
            metric=climb.metric,
            count=climb.above,
            evidence=evidence_of(pairs),
        )

    def _rose(self, climb: Climb) -> tuple[str, float, float] | None:
        """The episode return beside a climb, and its values, while the climb is taken
        for an RL run's value targets growing with its returns: the return rose over it
        each time it was told (once it did not, the climb is an alarm from then on: one
        is never taken back), and it never blew up."""
        learning = self._learning.get(climb.metric, True)
        rose = _return_rose(climb) if learning and climb.blown_at is None else None
        self._learning[climb.metric] = rose is not None
        return rose

    def _climb_message(self, climb: Climb, returned: bool = False) -> str:
        """How the climb went; one that is over (``returned``) by its peak, and where it
        fell back (its last level, near the best, would read as no rise at all)."""
        what = "the validation loss" if climb.metric == VAL_LOSS else "the loss"
        if climb.blown_at is climb.first:  # found by the blow-up: no level climb before it
            return f"{what} blew up from {where(climb.first)}"
        if climb.window > 1:
            what += f" level (median of the last {climb.window} records)"
        top, level = (climb.peak, climb.peak_level) if returned else (climb.last, climb.level)
        best, high = math.exp(climb.best_level), math.exp(level)
        at = f"at {where(climb.best)}" if climb.window == 1 else f"(to {where(climb.best)})"
        message = (
            f"{what} rose from its best {fmt(best)} {at} to {fmt(high)} "
            f"at {where(top)} ({factor(high / best)}), climbing from {where(climb.first)}; "
            f"it stayed {self._limits.min_rise:g}x or more above its best for {climb.above} "
            "records in a row"
        )
        if returned:
            message += f"; it fell back toward its best after {where(climb.last)}"
        elif climb.peak is not climb.last:
            message += f"; peak {fmt(math.exp(climb.peak_level))} at {where(climb.peak)}"
        if self._undone(climb):
            message += f"; it is back above where the run started ({fmt(math.exp(climb.early))})"
        if climb.metric == VAL_LOSS and self._training_seen:
            message += "; the training loss rose with it (not overfitting)"
        if climb.ended:
            message += "; the log ends as it climbs, every record higher than the one before"
        return message

    def _blowup_note(self, climb: Climb) -> str:
        if climb.blown_at is None:
            return ""
        early, peak = math.exp(climb.early), math.exp(climb.peak_level)
        return (
            f"; it reached {fmt(peak)} at {where(climb.peak)}, {factor(peak / early)} its early "
            f"level {fmt(early)}, and stayed {self._limits.blowup_factor:g}x or more above it "
            f"from {where(climb.blown_at)} to {where(climb.last)}"
        )


_SMALL_BLOCK = 64  # blocks shorter than this are read record by record: ...
_FEW = 32  # ... and a series' values too, fewer than this (a screen costs ~60 records)
_HORIZON = 256  # records screened after a flagged one (doubling while none is flagged)
_MAX_HORIZON = 1 << 16
_DENSE = 32  # a flagged record this close to the last one ...
_BURST = 16  # ... has this many records after it observed one by one


# Words that name an episode's return (``families.RETURN_WORDS``, and Spinning Up's
# ``AverageEpRet``), and those of a return's spread rather than its level.
_RETURN_WORDS = RETURN_WORDS | {"ret"}
_SPREAD_WORDS = frozenset({"std", "min", "max", "var", "stdev"})
_RETURN_RISE = 0.25  # of its size: a return that rose by this much rose


def _return_rose(climb: Climb) -> tuple[str, float, float] | None:
    """The episode return printed beside the climb's best and its latest record, and
    its values there, when it rose clearly between them (by `_RETURN_RISE` of its
    size); else None. A return that rose says an RL run is learning."""
    then, now = climb.best.metrics, climb.last.metrics
    for name, value in now.items():
        named = set(words(name))
        if not named & _RETURN_WORDS or named & _SPREAD_WORDS or "loss" in named:
            continue
        before = then.get(name)
        if before is None or not (math.isfinite(before) and math.isfinite(value)):
            continue
        if value - before > _RETURN_RISE * max(abs(before), 1e-12):
            return name, before, value
    return None


def _lr_note(climb: Climb) -> tuple[str, bool]:
    """What the printed learning rate says about the climb, and whether it is evidence."""
    then, now = climb.best.get(LR), climb.last.get(LR)
    if now is None or not math.isfinite(now):
        return "", False
    if then is not None and math.isfinite(then) and now > then:
        return f" (lr {fmt(then)} -> {fmt(now)}: it rose during the climb)", True
    if now >= 1.0:
        return f" (lr {fmt(now)}: a learning rate of 1 or more)", True
    return f" (lr {fmt(now)})", False


class Stream:
    """One loss series (training or validation) over a block: its values and the record
    each came from, read in order as the rule moves through the block."""

    def __init__(self, level: Level, block: Block, metric: str) -> None:
        self.level = level
        self.records = block.records
        limits = level._limits
        self.warmed = max(  # every window full, the noise at its slow rhythm
            max(limits.windows) + 1,
            limits.noise_records,
            limits.min_noise_records,
            limits.early_records,
        )
        self.next = 0  # the first of the block's values that the level has not taken
        self.scan: bulk.Scan | None = None
        values = block.values(metric) if not level._signed else np.zeros(0)
        self.index = bulk.where((values > 0) & (values < math.inf))
        self.raw = values[self.index]
        self.logs = np.log(self.raw)
        self.negative = bulk.where((values < 0) & (values > -math.inf))

    def screen(self, pos: int, limit: int, severe: float | None = None) -> int:
        """The first record from ``pos`` (before ``limit``) that the rule must observe for
        this series, or ``limit``; what it learned is kept for ``advance``. ``severe``:
        with a climb reported and told as it stands, the rise that would make it severe
        (``inf``: none can); None when each value of a reported climb must be observed."""
        self.scan = None
        level = self.level
        if level._signed:
            return limit
        at = int(np.searchsorted(self.negative, pos))
        if at < len(self.negative):
            limit = min(limit, int(self.negative[at]))
        first, stop = self.next, int(np.searchsorted(self.index, limit))
        if first >= stop:
            return limit
        reported = level.reported is not None
        if stop - first < _FEW or (reported and severe is None) or level._blown_run:
            return int(self.index[first])  # (near an episode, or too few for a screen)
        if level._seq < self.warmed:
            return int(self.index[first])  # (early on: value by value)
        self.scan = bulk.Scan(
            level, self.raw[first:stop], self.logs[first:stop], self.index[first:stop], self.records
        )
        if reported and severe is not None:
            assert level.reported is not None
            taken = self.scan.climbing(level.reported, severe)
        else:
            taken = self.scan.events()
        return int(self.index[first + taken]) if taken < stop - first else limit

    def advance(self, stop: int) -> None:
        """Take every value before record ``stop`` in bulk (all quiet, as screened)."""
        first, last = self.next, int(np.searchsorted(self.index, stop))
        if last > first and not self.level._signed:  # (a signed series takes nothing)
            assert self.scan is not None
            self.scan.apply(last - first)
        self.next = max(first, last)
        self.scan = None

    def below_bar(self, stop: int) -> bool | None:
        """Whether the level is surely below its bar (not ``elevated``) once the values
        before record ``stop`` still to be taken are; None if there are none."""
        last = int(np.searchsorted(self.index, stop)) - 1
        if last < self.next or self.level._signed:
            return None
        high = self.scan.high if self.scan is not None else None
        return high is None or not high[last - self.next]

    def skip(self, index: int) -> None:
        """Record ``index`` was observed one by one: its value is taken."""
        self.next = max(self.next, int(np.searchsorted(self.index, index, side="right")))
