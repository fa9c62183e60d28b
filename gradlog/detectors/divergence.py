"""`divergence`: the loss level climbs well above its best and does not come back."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from gradlog.config import DivergenceThresholds, Thresholds
from gradlog.detectors.base import (
    Detector,
    Rule,
    evidence_of,
    factor,
    fmt,
    median,
    where,
)
from gradlog.detectors.noise import Bends
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, LR, VAL_LOSS

_REESTIMATE = 5  # values between two estimates of the noise once it has settled


@dataclass
class _Climb:
    """A series' climb away from its best level, as reported (levels are natural logs)."""

    metric: str
    best: Record
    best_level: float
    first: Record
    last: Record
    level: float
    peak: Record
    peak_level: float
    window: int
    early: float  # where the run started: the median of its first few values
    learned: bool = True  # the best came after those first values (not an excerpt's start)
    above: int = 0
    persist: int = 1  # records in a row above the bar that proved it
    blown_at: Record | None = None  # the first of the records that blew up, if any did
    severity: Severity = Severity.WARNING


class _Track:
    """One window of a series' level: its last values kept sorted, and its best level."""

    __slots__ = ("best", "ordered", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.ordered: list[float] | None = None if window == 1 else []  # a 1: the value
        self.best = math.inf  # until the window is first full


class _Level:
    """One loss series: its level, best level and noise, and the climb it is on.

    ``add`` answers, for each value, whether the climb is proved (the level has stayed
    well above its best for long enough), whether it blew up (orders of magnitude above
    where the run started), or whether the level is back at its best (the climb, if any,
    ended). Levels and values are natural logs: rises are ratios, noise is relative.
    """

    def __init__(self, metric: str, limits: DivergenceThresholds) -> None:
        self.metric = metric
        self._limits = limits
        self._longest = longest = max(limits.windows)
        # One more than the longest window: the value leaving it is still at hand.
        self._values: deque[float] = deque(maxlen=longest + 1)
        self._records: deque[Record] = deque(maxlen=longest)
        self._early: list[float] = []  # the first few values: where the run started
        self.early = 0.0  # their median: the run's starting level
        self._start: Record | None = None
        self._seq = 0
        self._signed = False
        self.noise = 0.0  # scatter of one log-value around its local trend
        # The noise is over the last `noise_records` values a deque of the longest window
        # would hold (`_values` holds one more).
        records = limits.noise_records
        self._bends = Bends(min(records, longest) if records > 0 else longest)
        self.window = min(limits.windows)
        self._ascending = list(limits.windows) == sorted(limits.windows)
        self._error = 0.0  # error(self.window), kept up to date: read on every value
        self._best: dict[int, tuple[float, int, Record]] = {}  # window: level, seq, record
        # Each window in use (not shorter than the current one): its length, its last
        # values kept sorted (None for a window of 1) and its best level, so a level is
        # read, not sorted, per value. A window's best is also in `_best`, with its record.
        self._tracks = [_Track(w) for w in sorted(set(limits.windows))]
        self._blown_run: list[Record] = []
        self._blowup = math.log(limits.blowup_factor)
        self._min_rise = math.log(limits.min_rise)
        # The bar of the last climbing value and what it was computed from (best, error,
        # early): it only changes with them.
        self._bar: tuple[tuple[float, int, Record] | None, float, float, float]
        self._bar = (None, 0.0, 0.0, 0.0)
        self.elevated = False  # whether the level is above its bar now
        self.reported: _Climb | None = None
        self._restart()

    def _restart(self) -> None:
        """Back at the best level: no climb is open."""
        self._first: tuple[int, Record] | None = None  # where the climb began
        self._since: deque[float] = deque(maxlen=max(self._limits.windows))
        self._above = 0
        self._peak: tuple[float, Record] | None = None

    def add(self, value: float, record: Record) -> tuple[_Climb | None, bool]:
        """Take the next value; return the climb to report, if any, and whether it ended."""
        if value <= 0 or self._signed:
            self._signed = self._signed or value < 0  # ratios of such losses mean nothing
            return None, False
        x = math.log(value)
        self._seq = seq = self._seq + 1
        self._values.append(x)
        self._records.append(record)
        if self._start is None:
            self._start = record
        limits = self._limits
        if seq <= limits.early_records:  # (one value per seq: the early ones are the first)
            self._early.append(x)
            self.early = median(self._early)
        # _estimate_noise() says when it is due; asking it only then saves a call a value.
        due = seq >= limits.min_noise_records and (
            seq <= limits.noise_records or not seq % _REESTIMATE
        )
        if due and self._estimate_noise():
            self._error = self.error(self.window)
            if not self._settled():
                self._choose_window()
                self._error = self.error(self.window)
        level = self._levels(x, record)
        if x - self.early < self._blowup:  # (what _blown answers, without the call)
            if self._blown_run:
                self._blown_run = []
            blown = False
        else:
            blown = self._blown(x, record)
        if level is None:
            proved = None
        elif level - self._best[self.window][0] <= self._error:
            self.elevated, proved = False, None  # back at its best (_climbing's first test)
        else:
            proved = self._climbing(level, record)
        if proved is None and not blown:
            done, self.reported = self.reported, None
            if self._first is not None or self._since or self._above or self._peak is not None:
                self._restart()  # (nothing to clear on most values: no new deque each time)
            return done, True
        return self._update(bool(proved), blown, level, record), False

    def finish(self) -> _Climb | None:
        """The input ended: the climb still open, if it was reported."""
        return self.reported

    def _estimate_noise(self) -> bool:
        """The larger of the scatter over the last 50 values and over the last 15."""
        limits = self._limits
        seq = self._seq
        if seq < limits.min_noise_records:
            return False
        if seq > limits.noise_records and seq % _REESTIMATE:
            return False
        local = limits.local_noise_records
        self.noise = self._bends.scatter(self._values, seq, local)
        return True

    def error(self, window: int) -> float:
        """Standard error of the median of ``window`` values (of one value: its scatter)."""
        return self.noise * min(1.0, 1.2533 / math.sqrt(window))

    def _settled(self) -> bool:
        """Whether ``_choose_window`` would keep the window: with the windows in ascending
        order and the error non-increasing in the window, the first quiet one that fits is
        never longer than the current one when that one fits and is quiet."""
        limits = self._limits
        return (
            self._ascending
            and self._error <= limits.level_noise
            and self.window * limits.window_share <= self._seq
        )

    def _choose_window(self) -> None:
        """The shortest window quiet enough, among those the records seen leave room for."""
        limits = self._limits
        if self.reported is not None:
            return
        fit = [w for w in limits.windows if w * limits.window_share <= self._seq] or [1]
        quiet = [w for w in fit if self.error(w) <= limits.level_noise]
        chosen = quiet[0] if quiet else fit[-1]
        if chosen > self.window:  # it only grows: the noise was seen
            self.window = chosen
            # Shorter windows are never read again: stop keeping them.
            self._tracks = [track for track in self._tracks if track.window >= chosen]
            first = self._first
            self._restart()  # the new level has its own best: a climb since then goes on
            if first is not None and first[0] > self._best[chosen][1] - chosen // 2:
                self._first = first  # after the middle of the new best window

    def _levels(self, x: float, record: Record) -> float | None:
        """The level in use, tracking the best of every window at least as long.

        Moves each window's sorted values on by ``x`` (just appended to ``_values``) and
        reads its median as ``base.median`` would from a sorted copy.
        """
        current = None
        values = self._values
        n = len(values)
        for track in self._tracks:
            window, ordered = track.window, track.ordered
            if ordered is None:
                level = x
            else:
                if n > window:  # the value that left this window as x entered
                    del ordered[bisect_left(ordered, values[-window - 1])]
                insort(ordered, x)
                if n < window:
                    continue
                mid = window // 2
                level = ordered[mid] if window % 2 else (ordered[mid - 1] + ordered[mid]) / 2
            if level < track.best:
                track.best = level
                self._best[window] = (level, self._seq, record)
            if window == self.window:
                current = level
        return current

    def _blown(self, x: float, record: Record) -> bool:
        """Orders of magnitude above the early level, for enough values in a row."""
        if x - self.early < self._blowup:
            if self._blown_run:
                self._blown_run = []
            return False
        self._blown_run.append(record)
        return len(self._blown_run) >= self._limits.blowup_records

    def margin(self) -> float:
        """How far (in log) above its best the level must be to count as a rise.

        A floor, or more when the noise needs it: ``noise_margin`` standard errors of the
        level, plus the sqrt(2 ln m) by which the least of m independent levels falls
        below their mean (the best is the lowest of many noisy levels).
        """
        best = self._best.get(self.window)
        levels = max(1.0, (best[1] if best else 1) / self.window)
        spread = self._limits.noise_margin + math.sqrt(2 * math.log(levels))
        return max(self._min_rise, spread * self._error)

    def _climbing(self, level: float, record: Record) -> bool | None:
        """None: back at its best; False: above it, not proved yet; True: proved."""
        best = self._best[self.window]
        best_level = best[0]
        error = self._error
        self.elevated = False
        if level - best_level <= error:
            return None
        if self._first is None:
            self._first = self._climb_start(best[1])
        since = self._since
        since.append(level)
        bar = self._bar_for(best, error)
        self.elevated = level >= bar
        above = 0
        for past in reversed(since):  # the bar moves with the noise: count again
            if past < bar:
                break
            above += 1
        self._above = above
        if self._peak is None or level > self._peak[0]:
            self._peak = (level, record)
        limits = self._limits
        if above < limits.min_persist or above < self.window:
            return False  # (short of what persistence() asks, whatever the records seen)
        persist = self.persistence()
        if self._seq < limits.min_noise_records or above < persist:
            return False
        if error > limits.max_level_error:
            return False  # too noisy a level to tell a climb from luck: a longer one will
        return self._holds(level - best_level, level - since[-persist])

    def _bar_for(self, best: tuple[float, int, Record], error: float) -> float:
        """The level a rise must reach: recomputed only when what it depends on changed."""
        cached, cached_error, cached_early, bar = self._bar
        if cached is best and cached_error == error and cached_early == self.early:
            return bar
        best_level = best[0]
        # A rise small against where the run started is a converged loss wobbling near 0.
        floor = math.exp(best_level) + self._limits.min_rise_fraction * math.exp(self.early)
        bar = max(best_level + self.margin(), math.log(floor))
        self._bar = (best, error, self.early, bar)
        return bar

    def persistence(self) -> int:
        """Records in a row the level must stay above the bar.

        Several, at least as many as the median spans, and a share of the records seen
        (up to the longest window): 3 records are a third of a 9-epoch log but a blip in
        a log of a thousand steps.
        """
        limits = self._limits
        share = min(self._longest, math.ceil(limits.persist_share * self._seq))
        return max(limits.min_persist, self.window, share)

    def _holds(self, rise: float, change: float) -> bool:
        """Whether a stretch above the bar is a divergence, from its rise and its change.

        Never while the level falls back toward its best: it may yet return (the bump after
        a warm restart). Far above its best, holding is enough; a moderate rise must still
        be climbing, by two standard errors over the stretch, or it is a step to a new
        level (a harder stage, a loss term switched on, a cycle that settled higher).
        """
        error = self._error
        if rise >= math.log(self._limits.factor):
            return change >= -error
        return change > self._limits.climb_errors * error

    def _climb_start(self, best_seq: int) -> tuple[int, Record]:
        """Where the climb began: half a window back (a median lags), but after the best."""
        back = max(0, min(self.window // 2, self._seq - best_seq - 1, len(self._records) - 1))
        return self._seq - back, self._records[-1 - back]

    def _update(
        self, proved: bool, blown: bool, level: float | None, record: Record
    ) -> _Climb | None:
        """The reported climb with this record's facts; a new one once proved or blown."""
        climb = self.reported or self._open(proved, blown, record)
        if climb is None:
            return None
        x = self._values[-1]
        climb.last, climb.level = record, x if level is None or blown else level
        climb.above = max(self._above, len(self._blown_run))
        climb.persist = self.persistence() if proved else climb.persist
        if blown and climb.blown_at is None:
            climb.blown_at = self._blown_run[0]
        if climb.level > climb.peak_level:
            climb.peak, climb.peak_level = record, climb.level
        self.reported = climb
        return climb

    def _open(self, proved: bool, blown: bool, record: Record) -> _Climb | None:
        early, window = self.early, self.window
        if proved and self._first is not None and self._peak is not None:
            level, seq, best = self._best[window]
            peak, first = self._peak, self._first[1]
            climb = _Climb(
                self.metric, best, level, first, record, 0, peak[1], peak[0], window, early
            )
            climb.learned = seq > self._limits.early_records
            return climb
        if blown and self._start is not None:
            first = self._blown_run[0]
            return _Climb(
                self.metric, self._start, early, first, record, 0, first, early, window, early
            )
        return None


class DivergenceDetector(Detector):
    """
    ## What it detects
    A loss that climbs back up from its best and does not come back, found two ways:

    - Its level (the loss itself in a smooth or short log, a running median of 3-51
      records in a noisy one) stays 1.4x or more above its best level, and further than
      the run's own noise explains, for several records in a row, without falling back
      to its best. Held at 2x or more, that is enough; a smaller rise must still be
      climbing, or it is a step to a new level. A level falling back toward its best is
      never reported: it may yet return (the bump after a warm restart).
    - It blows up: 1000x or more above where the run started (the median of its first 3
      values), for 2 records in a row (a cross-entropy of 1e5). This needs no history,
      so a log of four records is judged too; `loss_spike` usually fires on the jump.

    The validation loss is judged the same way when it is the only loss in the log (a
    log of validation lines), or when the training loss is itself well above its best;
    one that rises while the training loss improves is left to `overfitting`. The message
    gives the learning rate when the log prints one: a rate that rose during the climb,
    or one of 1 or more, raises the confidence. It is an error at 5x the best or more,
    back above where the run started (all learning undone), or after a blow-up. Losses
    that can be negative (RL, some regularised objectives) are not judged.

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
      `climb_errors` (2) standard errors. A climb past 2x, held for twice the records
      needed, a blow-up, or a learning rate that rose or stands at 1 or more gives high
      confidence; `severe_factor` 5 is an error.
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
        self._train = _Level(LOSS, self._limits)
        self._val = _Level(VAL_LOSS, self._limits)
        self._training_seen = False
        self._said: dict[str, Severity] = {}  # metric: severity of its open climb, as told

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        found: list[Diagnosis] = []
        metrics = record.metrics
        loss = metrics.get(LOSS)
        if loss is not None:
            self._training_seen = True
            # A finite loss that loss_is_nan() calls NaN is 0.0, which add() ignores.
            if math.isfinite(loss):
                climb, ended = self._train.add(loss, record)
                if climb is not None:
                    found = self._judge(climb, ended)
        value = metrics.get(VAL_LOSS)
        if value is not None and math.isfinite(value):
            climb, ended = self._val.add(value, record)
            if climb is not None:
                found += self._judge(climb, ended)
        return found

    def finish(self) -> Iterable[Diagnosis]:
        climbs = (series.finish() for series in (self._train, self._val))
        return [self._diagnosis(c) for c in climbs if c is not None and c.metric in self._said]

    def _judge(self, climb: _Climb, ended: bool) -> list[Diagnosis]:
        """Report a climb when it is proved, when it gets worse, and when it ends."""
        climb.severity = max(climb.severity, self._severity(climb))
        told = self._said.get(climb.metric)
        if ended:
            self._said.pop(climb.metric, None)
            return [self._diagnosis(climb)] if told is not None else []
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

    def _severity(self, climb: _Climb) -> Severity:
        rise = climb.level - climb.best_level
        severe = climb.blown_at is not None or rise >= math.log(self._limits.severe_factor)
        return Severity.ERROR if severe or self._undone(climb) else Severity.WARNING

    def _undone(self, climb: _Climb) -> bool:
        """Back above where the run started, after it had learned something: all undone."""
        learned = climb.early - climb.best_level >= math.log(self._limits.min_rise)
        return climb.learned and learned and climb.level > climb.early

    def _diagnosis(self, climb: _Climb) -> Diagnosis:
        lr_note, lr_evidence = _lr_note(climb)
        doubled = climb.level - climb.best_level >= math.log(self._limits.factor)
        persisted = climb.above >= 2 * climb.persist
        sure = climb.blown_at is not None or doubled or persisted or lr_evidence
        message = self._climb_message(climb) + self._blowup_note(climb) + lr_note
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
            severity=climb.severity,
            confidence=Confidence.HIGH if sure else Confidence.MEDIUM,
            metric=climb.metric,
            count=climb.above,
            evidence=evidence_of(pairs),
        )

    def _climb_message(self, climb: _Climb) -> str:
        what = "the validation loss" if climb.metric == VAL_LOSS else "the loss"
        if climb.blown_at is climb.first:  # found by the blow-up: no level climb before it
            return f"{what} blew up from {where(climb.first)}"
        if climb.window > 1:
            what += f" level (median of the last {climb.window} records)"
        best, level = math.exp(climb.best_level), math.exp(climb.level)
        at = f"at {where(climb.best)}" if climb.window == 1 else f"(to {where(climb.best)})"
        message = (
            f"{what} rose from its best {fmt(best)} {at} to {fmt(level)} "
            f"at {where(climb.last)} ({factor(level / best)}), climbing from {where(climb.first)}; "
            f"it stayed {self._limits.min_rise:g}x or more above its best for {climb.above} "
            "records in a row"
        )
        if climb.peak is not climb.last:
            message += f"; peak {fmt(math.exp(climb.peak_level))} at {where(climb.peak)}"
        if self._undone(climb):
            message += f"; it is back above where the run started ({fmt(math.exp(climb.early))})"
        if climb.metric == VAL_LOSS and self._training_seen:
            message += "; the training loss rose with it (not overfitting)"
        return message

    def _blowup_note(self, climb: _Climb) -> str:
        if climb.blown_at is None:
            return ""
        early, peak = math.exp(climb.early), math.exp(climb.peak_level)
        return (
            f"; it reached {fmt(peak)} at {where(climb.peak)}, {factor(peak / early)} its early "
            f"level {fmt(early)}, and stayed {self._limits.blowup_factor:g}x or more above it "
            f"from {where(climb.blown_at)} to {where(climb.last)}"
        )


def _lr_note(climb: _Climb) -> tuple[str, bool]:
    """What the printed learning rate says about the climb, and whether it is evidence."""
    then, now = climb.best.get(LR), climb.last.get(LR)
    if now is None or not math.isfinite(now):
        return "", False
    if then is not None and math.isfinite(then) and now > then:
        return f" (lr {fmt(then)} -> {fmt(now)}: it rose during the climb)", True
    if now >= 1.0:
        return f" (lr {fmt(now)}: a learning rate of 1 or more)", True
    return f" (lr {fmt(now)})", False
