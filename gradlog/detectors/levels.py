"""How a series' level is followed for the divergence rule: its best level, the noise
around it, and a climb away from it that lasts.

The level is a running median of log values over a window chosen from the series' own
noise; each window keeps its values sorted as it moves (``insort`` and deletion), so a
median costs a lookup instead of a sort.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from gradlog.config import DivergenceThresholds
from gradlog.detectors.base import median
from gradlog.detectors.noise import Bends
from gradlog.model import Record, Severity

_REESTIMATE = 5  # values between two estimates of the noise once it has settled


@dataclass
class Climb:
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
    above: int = 0  # the longest run of records in a row above the bar
    persist: int = 1  # records in a row above the bar that proved it
    blown_at: Record | None = None  # the first of the records that blew up, if any did
    severity: Severity = Severity.WARNING
    ended: bool = False  # found at the end of the input, still climbing (``ended_climbing``)


class _Track:
    """One window of a series' level: its last values kept sorted, and its best level."""

    __slots__ = ("best", "ordered", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.ordered: list[float] | None = None if window == 1 else []  # a 1: the value
        self.best = math.inf  # until the window is first full


class Level:
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
        self.reported: Climb | None = None
        self._restart()

    def _restart(self) -> None:
        """Back at the best level: no climb is open."""
        self._first: tuple[int, Record] | None = None  # where the climb began
        self._since: deque[float] = deque(maxlen=max(self._limits.windows))
        self._above = 0
        self._peak: tuple[float, Record] | None = None

    def add(self, value: float, record: Record) -> tuple[Climb | None, bool]:
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

    def finish(self) -> Climb | None:
        """The input ended: the climb still open, if it was reported."""
        return self.reported

    def ended_climbing(self) -> Climb | None:
        """The input ended in a climb too short to be proved, but steep: its last
        ``min_persist`` values each higher than the one before and ``factor`` above the
        best level, the last ``severe_factor`` above it (a run stopped, or aborted by its
        framework, as its loss ran away: char-rnn's ``loss is exploding, aborting.``).
        The climb began at the first of the values rising in a row that end the input."""
        limits = self._limits
        count = max(limits.min_persist, 2)
        best = self._best.get(self.window)
        values, records = self._values, self._records
        if self.reported is not None or self._signed or best is None or len(records) < count:
            return None
        level = best[0]
        tail = list(values)[-len(records) :]
        last = tail[-1]
        if last - level < math.log(limits.severe_factor):
            return None
        start = len(tail) - 1
        while start > 0 and tail[start - 1] < tail[start]:
            start -= 1
        rising = tail[start:]
        if len(rising) < count or rising[-count] - level < math.log(limits.factor):
            return None
        first = next(
            (i for i in range(start, len(tail)) if tail[i] - level >= self._min_rise), start
        )
        now = median(tail[-self.window :])  # the level at the end
        climb = Climb(
            self.metric,
            best[2],
            level,
            records[first],
            records[-1],
            now,
            records[-1],
            now,
            self.window,
            self.early,
        )
        climb.learned, climb.ended = best[1] > limits.early_records, True
        climb.above = climb.persist = len(tail) - first
        return climb

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
        if falling_back(list(since)[-persist:], error):
            return False
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

        Never while the level falls back toward its best (see ``falling_back`` too): it
        may yet return (the bump after a warm restart). Far above its best, holding is
        enough; a moderate rise must still be climbing, by two standard errors over the
        stretch, or it is a step to a new level (a harder stage, a loss term switched on,
        a cycle that settled higher).
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
    ) -> Climb | None:
        """The reported climb with this record's facts; a new one once proved or blown."""
        climb = self.reported or self._open(proved, blown, record)
        if climb is None:
            return None
        x = self._values[-1]
        climb.last, climb.level = record, x if level is None or blown else level
        climb.above = max(climb.above, self._above, len(self._blown_run))  # (its longest run)
        climb.persist = self.persistence() if proved else climb.persist
        if blown and climb.blown_at is None:
            climb.blown_at = self._blown_run[0]
        if climb.level > climb.peak_level:
            climb.peak, climb.peak_level = record, climb.level
        self.reported = climb
        return climb

    def _open(self, proved: bool, blown: bool, record: Record) -> Climb | None:
        early, window = self.early, self.window
        if proved and self._first is not None and self._peak is not None:
            level, seq, best = self._best[window]
            peak, first = self._peak, self._first[1]
            climb = Climb(
                self.metric, best, level, first, record, 0, peak[1], peak[0], window, early
            )
            climb.learned = seq > self._limits.early_records
            return climb
        if blown and self._start is not None:
            first = self._blown_run[0]
            return Climb(
                self.metric, self._start, early, first, record, 0, first, early, window, early
            )
        return None


def falling_back(stretch: Sequence[float], error: float) -> bool:
    """Whether the levels of a stretch above the bar fall back: the median of its later
    half more than one standard error below that of its earlier half.

    Its ends alone cannot tell: a jump that decays (a running average that took in a bad
    batch and dilutes it; a spike's slow recovery) starts its stretch on a level taken
    half-way up the jump, below all that follows, and ends far below its peak.
    """
    half = len(stretch) // 2
    if not half:
        return False
    return median(stretch[-half:]) < median(stretch[:half]) - error
