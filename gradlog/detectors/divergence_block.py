"""The divergence rule over a block of records: a loss series' level followed in bulk.

Most values only move ``Level.add``'s bookkeeping on; a few could prove or blow up a
climb, end a reported one or grow the window. ``Scan.events`` finds the first of those
with array operations, ``Scan.apply`` leaves the state as ``add`` would before it, and
the rule observes that record itself. Medians of long windows are too dear to take at
every value, so the screen counts: a median of ``w`` values is below ``t`` exactly when
``(w + 1) // 2`` of them are (for an even ``w`` the count is only necessary), a count
over sliding windows is a cumulative sum, and exact medians are taken only where a
count cannot rule a value out. Values are read as ``np.log``, which may differ from
``math.log`` (what ``add`` takes, and dearer than the rest) in the last bit: every count
allows for that (flagging more, never less), and what is compared or kept exactly is
made exact first.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gradlog.config import DivergenceThresholds
from gradlog.detectors.block import Flags, Floats
from gradlog.detectors.levels import _REESTIMATE, Climb, Level, falling_back
from gradlog.model import Record

Ints = npt.NDArray[np.intp]

_SQRT15 = math.sqrt(1.5)
_ROUNDING = 1e-11  # how far np.log may be from math.log (the last bit), with room to spare
_EXACT = 128  # candidates few enough to take their medians outright
_PROBES = 6  # rounds of narrowing candidates before taking all their medians
_SPREAD = np.arange(8)  # medians taken among many candidates to narrow them
_LAST = 64  # medians at the end of a stretch that bound its extreme
_SLACK = 1e-9  # added to a threshold that only gathers candidates (each is checked)
_ROWS = 128  # noise estimates taken at once (arrays past ~128 kB cost page faults)
_STRETCH = 2048  # values whose levels are taken at once, checking them against the bar
# A call of ``Scan._fix`` costs about what looking at this many positions does; taking
# every value's log, about half a position's cost each.
_FIX_COST = 150


def supported(limits: DivergenceThresholds) -> bool:
    """Whether the bulk path follows these thresholds (unusual ones go value by value)."""
    windows = limits.windows
    longest = max(windows, default=0)
    span = min(limits.noise_records, longest) if limits.noise_records > 0 else longest
    return bool(windows) and min(windows) >= 1 and span >= 3


def _counts(hit: Flags, width: int) -> npt.NDArray[np.int64]:
    """How many of the ``width`` flags ending at each position are set (from the last
    ``width - 1`` on: ``hit`` starts that many positions before the first end)."""
    total: npt.NDArray[np.int64] = np.cumsum(hit, dtype=np.int64)
    out: npt.NDArray[np.int64] = total[width - 1 :].copy()
    out[1:] -= total[:-width]
    return out


def where(flags: Flags) -> Ints:
    return flags.nonzero()[0]  # (np.flatnonzero without its wrappers)


_OFFSETS: dict[int, Ints] = {}


def _offsets(width: int) -> Ints:
    """Positions of a window's values relative to its last one."""
    found = _OFFSETS.get(width)
    if found is None:
        found = _OFFSETS[width] = np.arange(1 - width, 1)
    return found


def _scatter(rows: Floats) -> Floats:
    """``noise.bend_scatter`` of each row of bends, with the same float operations."""
    n = rows.shape[1]
    if n == 0:
        return np.zeros(rows.shape[0])
    ordered = np.sort(rows, axis=1)
    center = _middles(ordered)
    mad = _middles(np.sort(np.abs(ordered - center[:, None]), axis=1))
    return 1.4826 * mad / _SQRT15


def _middles(ordered: Floats) -> Floats:
    """The middle of each row of ``ordered`` (each sorted): its value, or the mean of
    its two."""
    n, mid = ordered.shape[1], ordered.shape[1] // 2
    found: Floats = ordered[:, mid] if n % 2 else (ordered[:, mid - 1] + ordered[:, mid]) / 2
    return found


def _row_medians(rows: Floats) -> Floats:
    """``np.median(rows, axis=1)`` (NaN where a row holds one), without the cost of the
    ``numpy.ma`` that ``np.median`` loads."""
    ordered = np.sort(rows, axis=1)  # (NaN last)
    return np.where(np.isnan(ordered[:, -1]), np.nan, _middles(ordered))


class Scan:
    """One series' values from where its level stands up to a limit: the screen over
    them, and the state ``add`` would leave after the first of them.

    ``logs`` holds the values the level keeps (exact), then the block's (``np.log``,
    made exact where read): value ``t`` of the block is ``logs[head + t]``.
    """

    def __init__(
        self, level: Level, raw: Floats, logs: Floats, index: Ints, records: Sequence[Record]
    ) -> None:
        self.level = level
        self.limits = limits = level._limits
        self.seq0 = level._seq
        history = np.fromiter(level._values, np.float64, len(level._values))
        self.head = len(history)
        self.logs = np.concatenate((history, logs))
        self.exact = np.zeros(len(self.logs), np.bool_)
        self.exact[: self.head] = True
        self.all_exact = False  # every log exact (``_fix`` took them all)
        self._spent = 0  # what ``_fix`` cost so far, in positions (``_FIX_COST`` a call)
        self.raw, self.index, self.records = raw, index, records  # value t's, record of t
        self.count = len(logs)
        self.window = level.window
        self.factor = min(1.0, 1.2533 / math.sqrt(self.window))
        self.error = level._error  # until the first estimate among these values
        self.first_due = -(self.seq0 + 1) % _REESTIMATE  # the first value estimated at
        self.noise = np.full(self._dues(self.count), math.nan)
        span = min(limits.noise_records, level._longest)
        self.width = (span if limits.noise_records > 0 else level._longest) - 2  # bends
        local = limits.local_noise_records
        self.tail = max((min(local, self.width + 2) if local > 0 else self.width + 2) - 2, 0)
        self.bends: Floats | None = None  # of the logs as read (for bounds only)
        self.best_cache: tuple[int, tuple[float, int] | None] | None = None
        self.high: Flags | None = None  # values whose level may be above its bar
        # A reported climb carried over the values (``climbing``): it, and each value's
        # level, run above the bar, proof and persistence.
        self.carried: tuple[Climb, Floats, Ints, Flags, Ints, Floats, Floats] | None = None

    def record(self, t: int) -> Record:
        return self.records[int(self.index[t])]

    def _dues(self, stop: int) -> int:
        """How many of the values before ``stop`` the noise is estimated at."""
        return max(0, (stop - self.first_due + _REESTIMATE - 1) // _REESTIMATE)

    def _fix(self, at: Ints) -> None:
        """Make the logs at positions ``at`` exact (any order, repeats allowed). Once the
        fixing has cost about what taking every log of the values would (a busy scan:
        a climb, a loss jumping between levels), every log is taken, and ``exact`` set."""
        if self.all_exact:
            return
        self._spent += _FIX_COST + len(at)
        if self._spent > self.count // 2:
            raw = self.raw.tolist()
            self.logs[self.head :] = np.fromiter(map(math.log, raw), np.float64, len(raw))
            self.exact[:] = self.all_exact = True
            return
        at = at[~self.exact[at]]
        if len(at):
            raw = self.raw[at - self.head].tolist()
            self.logs[at] = np.fromiter(map(math.log, raw), np.float64, len(raw))
            self.exact[at] = True

    def _exact(self, lo: int, hi: int) -> None:
        lo = max(lo, self.head)
        if hi > lo and not self.all_exact:
            self._fix(lo + where(~self.exact[lo:hi]))

    def _medians(self, width: int, ends: Ints) -> Floats:
        """The medians of the windows of ``width`` ending at positions ``ends``, exact: a
        median moves no further than its values, so making exact those within twice the
        rounding of the median read leaves every other one on its side of it."""
        logs = self.logs
        if width == 1:
            self._fix(ends)
            return logs[ends]
        at = ends[:, None] + _offsets(width)
        rows = logs[at]
        mid = width // 2
        kth = [mid - 1, mid] if width % 2 == 0 else mid
        part = np.partition(rows, kth, axis=1)
        if not self.all_exact and not self.exact[ends.min() - width + 1 : ends.max() + 1].all():
            band = np.abs(rows - part[:, mid, None]) <= 2 * _ROUNDING
            if width % 2 == 0:
                band |= np.abs(rows - part[:, mid - 1, None]) <= 2 * _ROUNDING
            if band.any():
                self._fix(at[band])
                part = logs[at]
                part.partition(kth, axis=1)
        return part[:, mid] if width % 2 else (part[:, mid - 1] + part[:, mid]) / 2

    def _level(self, ts: Ints) -> Floats:
        """The level in use at values ``ts``."""
        return self._medians(self.window, self.head + ts)

    def _hits(self, width: int, lo: int, hi: int, bound: float, low: bool) -> Ints:
        """Values ``lo`` to ``hi - 1`` whose median (of ``width``) may be below (``low``) or
        above ``bound``, or at it: enough values that far, allowing for inexact logs."""
        segment = self.logs[self.head + lo - width + 1 : self.head + hi]
        hit = segment < bound + _ROUNDING if low else segment > bound - _ROUNDING
        return lo + where(_counts(hit, width) >= (width + 1) // 2)

    def _extreme(
        self, width: int, lo: int, hi: int, bound: float, low: bool, found: Ints | None = None
    ) -> tuple[float, int] | None:
        """The least (``low``) or greatest median among values ``lo`` to ``hi - 1`` and the
        first value with it, when it may beat ``bound`` (the caller compares exactly).
        The last few medians tighten the bound (a falling level's least is near the end);
        while the candidates (or ``found``) are many, so does the best of a few of them."""
        if hi <= lo:
            return None
        head = self.head
        if width == 1:
            values = self.logs[head + lo : head + hi]
            edge = float(values.min() if low else values.max())
            near = values <= edge + 2 * _ROUNDING if low else values >= edge - 2 * _ROUNDING
            found = lo + where(near)
        elif found is None:
            medians = self._medians(width, head + np.arange(max(lo, hi - _LAST), hi))
            edge = float(medians.min() if low else medians.max())
            bound = min(edge, bound) if low else max(edge, bound)
            found = self._hits(width, lo, hi, bound, low)
        for _ in range(_PROBES):
            if len(found) <= _EXACT:
                break
            spread = found[_SPREAD * (len(found) - 1) // (len(_SPREAD) - 1)]
            medians = self._medians(width, head + spread)
            value = float(medians.min() if low else medians.max())
            if (value >= bound) if low else (value <= bound):
                break  # (a count's hint that did not hold: take the candidates as they are)
            bound = value
            found = self._hits(width, int(found[0]), int(found[-1]) + 1, bound, low)
        if not len(found):
            return None
        medians = self._medians(width, head + found)
        at = int(np.argmin(medians) if low else np.argmax(medians))
        return float(medians[at]), int(found[at])

    def _noise_at(self, dues: Ints, rough: bool = False) -> Floats:
        """The noise of the given estimates, computing those not yet known: exact, or
        ``rough``ly from the logs as read (within ``8 * _ROUNDING``: a bend moves twice as
        far as its logs, a median deviation twice as far as the bends)."""
        known = self.noise[dues]
        missing = np.isnan(known)
        if not missing.any():
            return known
        wanted = np.zeros(len(self.noise), np.bool_)
        wanted[dues[missing]] = True
        todo = where(wanted)
        ends = self.head + self.first_due + _REESTIMATE * todo  # the value estimated at
        span = self.width + 2  # the values whose bends are taken
        if not rough:
            self._fix((ends[:, None] + _offsets(span)).ravel())
        found = np.empty(len(todo))
        for lo in range(0, len(todo), _ROWS):
            rows = self.logs[ends[lo : lo + _ROWS, None] + _offsets(span)]
            bends = rows[:, 1:-1] - (rows[:, :-2] + rows[:, 2:]) / 2
            found[lo : lo + _ROWS] = _scatter(bends)
            if self.tail:
                tail = _scatter(bends[:, self.width - self.tail :])
                found[lo : lo + _ROWS] = np.maximum(found[lo : lo + _ROWS], tail)
        if rough:
            known[missing] = found[np.searchsorted(todo, dues[missing])]
        else:
            self.noise[todo] = found
            known = self.noise[dues]
        return known

    def _calm(self, noise: float, dues: int) -> Flags:
        """The first ``dues`` estimates whose noise is surely below ``noise``, by counts:
        ``n // 2 + 1`` of ``n`` bends within ``r`` of their median bound the median deviation
        by ``r``; counts place the median within ``r / 4`` of zero (where a smooth trend's
        bends centre) and find enough bends within ``3 r / 4`` of zero."""
        reach = noise * _SQRT15 / 1.4826 * (1 - 1e-9)  # (a margin far beyond rounding)
        calm = np.ones(dues, np.bool_)
        if not reach > 0:
            return ~calm
        if self.bends is None:
            logs = self.logs
            self.bends = logs[1:-1] - (logs[:-2] + logs[2:]) / 2  # (bend j: of position j + 1)
        quarter, room = reach / 4, 4 * _ROUNDING  # (inexact logs: bends off by 2x theirs)
        width = self.width
        start = self.head - 1 + self.first_due - width  # the first estimate's first bend
        bends = self.bends[start : start + width + _REESTIMATE * (dues - 1)]
        hits = (
            bends < room - quarter,
            bends <= quarter - room,
            np.abs(bends) <= reach - quarter - room,
        )
        total = np.zeros((3, len(bends) + 1), np.int64)
        np.cumsum(np.stack(hits), axis=1, out=total[:, 1:])
        ends = total[:, width::_REESTIMATE][:, :dues]  # (each estimate's bends end 5 later)
        for n in {width, self.tail} - {0}:
            below, upto, near = ends - total[:, width - n :: _REESTIMATE][:, :dues]
            half = n // 2 + 1
            calm &= (below <= n - half) & (upto >= half) & (near >= half)
        return calm

    def _errors_at(self, ts: Ints) -> Floats:
        """The standard error of the level in use at values ``ts``."""
        due = (ts - self.first_due) // _REESTIMATE  # (-1: the estimate before these values)
        out = np.full(len(ts), self.error)
        known = due >= 0
        if known.any():
            out[known] = self._noise_at(due[known]) * self.factor
        return out

    def _blown(self) -> int:
        """The first value that may blow up (``count`` if none)."""
        level = self.level
        # (allowing for the inexact logs: the exact difference may be a little larger)
        blown = where(~(self.logs[self.head :] - level.early < level._blowup - 2 * _ROUNDING))
        return int(blown[0]) if len(blown) else self.count

    def _bars(self, best: float, errors: Floats) -> Floats:
        """``Level._bar_for`` at each of ``errors``, from a best level ``best`` with the
        margin of the best now (``Level.margin``: a later best has a wider one)."""
        level, limits, window = self.level, self.limits, self.window
        levels = max(1.0, level._best[window][1] / window)
        spread = limits.noise_margin + math.sqrt(2 * math.log(levels))
        floor = math.log(math.exp(best) + limits.min_rise_fraction * math.exp(level.early))
        bars: Floats = np.maximum(best + np.maximum(level._min_rise, spread * errors), floor)
        return bars

    def events(self) -> int:
        """The first value that may do more than bookkeeping (``count`` if none)."""
        stop = self._blown()
        if any(w > self.window for w in self.limits.windows):
            stop = self._regrowth(stop)
        return self._persisting(stop) if stop else stop

    def climbing(self, climb: Climb, severe: float) -> int:
        """With a climb reported (``climb``, told as it stands), the first value that may
        do more than carry it on (``count`` if none): the level back at its best (or a
        new best: the climb ends), the climb turning severe (its severity rises: told
        again; ``severe``: the rise that makes it so, or ``inf`` when it cannot rise), or
        a blow-up. Before it, each value only moves the climb on; ``apply`` carries it as
        ``Level._update`` would, from each value's level, bar and proof, kept here.

        While a climb is reported the window stays and its best can only fall to a new
        best, which ends the climb: the bar moves with the error alone, so each value's
        level, error, bar, run of levels above the bar and proof are taken exactly."""
        level, limits, window = self.level, self.limits, self.window
        stop = self._blown()
        best_level = level._best[window][0]
        learned = climb.learned and climb.early - climb.best_level >= math.log(limits.min_rise)
        longest = level._longest
        since = np.fromiter(level._since, np.float64, len(level._since))
        first_since = since
        # levels, runs, proofs (but for ``falling_back``: ``_carry`` asks it), persists, errors
        kept: list[tuple[Floats, Ints, Flags, Ints, Floats]] = []
        highs: list[Flags] = []
        t = 0
        while t < stop:
            end = min(stop, t + _STRETCH)
            ts = np.arange(t, end)
            levels = self._level(ts)
            errors = self._errors_at(ts)
            events = levels - best_level <= errors
            events |= levels - climb.best_level >= severe
            if learned and severe < math.inf:  # (all learning undone: an error too)
                events |= levels > climb.early
            cut = where(events)
            last = int(cut[0]) if len(cut) else end - t
            levels, errors = levels[:last], errors[:last]
            bars = self._bars(best_level, errors)
            # The levels the climb keeps (``_since``, the longest window's worth) at each.
            before = np.concatenate((np.full(longest, -math.inf), since, levels))
            ends = len(since) + 1 + np.arange(last)  # (each value's last window, in views)
            windows = np.lib.stride_tricks.sliding_window_view(before, longest)[ends]
            above = windows >= bars[:, None]
            run = np.where(above.all(axis=1), longest, np.argmin(above[:, ::-1], axis=1))
            seqs = self.seq0 + 1 + t + np.arange(last)
            share = np.minimum(longest, np.ceil(limits.persist_share * seqs)).astype(np.int64)
            persist = np.maximum(max(limits.min_persist, window), share)
            rise = levels - best_level
            # (``since[-persist]``, where the run reaches that far: else none is read)
            reach = np.maximum(np.minimum(persist, run), 1)
            back = before[longest + len(since) + np.arange(last) - reach + 1]
            change = levels - back
            holds = np.where(
                rise >= math.log(limits.factor),
                change >= -errors,
                change > limits.climb_errors * errors,
            )
            proved = (
                (run >= limits.min_persist)
                & (run >= window)
                & (seqs >= limits.min_noise_records)
                & (run >= persist)
                & ~(errors > limits.max_level_error)
                & holds
            )
            kept.append((levels, run, proved, persist, errors))
            highs.append(levels >= bars)
            since = np.concatenate((since, levels))[-longest:]
            if last < end - t:
                stop = t + last
                break
            t = end
        self.high = np.concatenate(highs) if highs else np.zeros(0, np.bool_)
        if kept:
            levels, runs, proofs, persists, errors = (
                np.concatenate(part) for part in zip(*kept, strict=True)
            )
            self.carried = (climb, levels, runs, proofs, persists, errors, first_since)
        return stop

    def _carry(self, taken: int) -> None:
        """Carry the reported climb over the first ``taken`` values (``climbing``): as
        ``Level._update`` leaves it after each."""
        if self.carried is None or not taken:
            return
        climb, levels, run, proved, persist, errors, since = self.carried
        levels, run, proved = levels[:taken], run[:taken], proved[:taken]
        climb.last, climb.level = self.record(taken - 1), float(levels[-1])
        climb.above = max(climb.above, int(run.max()))
        # The last proof: the last value that would be one but for falling back, that
        # does not fall back (asked from the end: the first asked is nearly always it).
        stretches = np.concatenate((since, levels))
        for t in reversed(where(proved).tolist()):
            end, width = len(since) + t + 1, int(persist[t])
            if not falling_back(stretches[end - width : end].tolist(), float(errors[t])):
                climb.persist = width
                break
        peak = int(np.argmax(levels))
        if levels[peak] > climb.peak_level:
            climb.peak, climb.peak_level = self.record(peak), float(levels[peak])

    def _regrowth(self, stop: int) -> int:
        """The first estimate before ``stop`` at which the window would grow."""
        dues = self._dues(stop)
        if not dues:
            return stop
        limits, window, share = self.limits, self.window, self.limits.window_share
        seqs = self.seq0 + 1 + self.first_due + _REESTIMATE * np.arange(dues)
        if self.level._ascending:
            which = where(
                (window * share > seqs) | ~self._calm(limits.level_noise / self.factor, dues)
            )
        else:
            which = np.arange(dues)  # (the window is chosen afresh at every estimate)
        noise, seqs = self._noise_at(which, rough=True), seqs[which]
        near = np.zeros(len(which), np.bool_)  # (the rough noise decides the rest alike)
        for factor in [self.factor] + [min(1.0, 1.2533 / math.sqrt(w)) for w in limits.windows]:
            near |= np.abs(noise * factor - limits.level_noise) <= 16 * _ROUNDING
        if near.any():
            noise[near] = self._noise_at(which[near])
        if self.level._ascending:
            unsettled = (noise * self.factor > limits.level_noise) | (window * share > seqs)
            which, noise, seqs = which[unsettled], noise[unsettled], seqs[unsettled]
        if not len(which):
            return stop
        chosen = np.zeros(len(which), np.int64)
        last_fit = np.ones(len(which), np.int64)
        for w in limits.windows:  # (as _choose_window picks)
            fit = w * share <= seqs
            quiet = fit & (noise * min(1.0, 1.2533 / math.sqrt(w)) <= limits.level_noise)
            chosen[quiet & (chosen == 0)] = w
            last_fit[fit] = w
        grows = where(np.where(chosen == 0, last_fit, chosen) > window)
        return self.first_due + _REESTIMATE * int(which[grows[0]]) if len(grows) else stop

    def _persisting(self, stop: int) -> int:
        """The first value before ``stop`` at which a climb could be proved (the level above
        its bar for as many values in a row as persistence asks), bounded by the values at
        least ``min_rise`` above the best (the bar is higher) and the climb's before them."""
        level, head, width = self.level, self.head, self.window
        best = self._best(stop)
        lowest = best[0] if best is not None else level._best[width][0]
        floor = lowest + level._min_rise
        segment = self.logs[head - width + 1 : head + stop]
        high = _counts(segment >= floor - _ROUNDING, width) >= (width + 1) // 2
        if not high.any():
            return stop
        self.high = high
        carry = 0
        for past in reversed(level._since):
            if past < floor:
                break
            carry += 1
        at = np.arange(stop)
        low = np.maximum.accumulate(np.where(high, -1, at))  # the last value below, or -1
        run = at - low + np.where(low < 0, carry, 0)
        share = min(level._longest, math.ceil(self.limits.persist_share * (self.seq0 + 1)))
        persist = max(self.limits.min_persist, width, share)  # (it only grows)
        proved = where(run >= persist)
        if not len(proved):
            return stop
        return self._above_bar(int(proved[0]), stop, persist, lowest)

    def _above_bar(self, first: int, stop: int, persist: int, best: float) -> int:
        """The first value from ``first`` (before ``stop``) at which a climb may be proved
        by its bar, not only by the floor ``min_rise`` above the best (the bar may be
        well above it: 3 standard errors and more). Proved at ``t`` needs the levels of
        the last ``persist`` values (``persist`` or more: it only grows) all at or above
        the bar at ``t`` (``_climbing`` counts them against the bar of the moment), and
        the error of the level within ``max_level_error``. The bar is bounded below from
        the lowest best there may be by then (``best``) and the margin of the best now
        (a later best has more levels before it: a wider margin); levels and errors are
        exact, taken a stretch at a time."""
        level, limits = self.level, self.limits
        since = list(level._since)[-(persist - 1) :] if persist > 1 else []
        t = first
        while t < stop:
            end = min(stop, t + _STRETCH)
            low = max(0, t - persist + 1)
            levels = self._level(np.arange(low, end))
            if low > t - persist + 1:  # (the values before this block: the climb's levels)
                need = low - (t - persist + 1)
                carried = since[max(0, len(since) - need) :]
                missing = need - len(carried)  # (before the climb: no run through them)
                levels = np.concatenate((np.full(missing, -math.inf), carried, levels))
            windows = np.lib.stride_tricks.sliding_window_view(levels, persist)
            lowest = windows.min(axis=1)
            errors = self._errors_at(np.arange(t, end))
            bars = self._bars(best, errors)
            slack = 1e-9 * (1 + np.abs(bars))  # (float sums of the same terms: room)
            may = (lowest >= bars - slack) & (errors <= limits.max_level_error * (1 + 1e-9))
            # ``Level._holds`` over the stretch: its change never below minus the error,
            # and, unless the rise may reach ``factor`` (from the lowest best), climbing by
            # ``climb_errors`` of them. (A level that stepped up and stays flat: no proof.)
            now = windows[:, -1]
            change, room = now - windows[:, 0], 1e-9 * (1 + np.abs(now))
            far = now - best >= math.log(limits.factor) - room
            may &= (change >= -errors - room) & (
                far | (change > limits.climb_errors * errors - room)
            )
            if persist > 1 and may.any():  # (nor falling back: ``falling_back``)
                half, maybe = persist // 2, where(may)
                rows = windows[maybe]
                early = _row_medians(rows[:, :half])
                late = _row_medians(rows[:, -half:])
                may[maybe] = late >= early - errors[maybe] - 1e-9 * (1 + np.abs(early))
            found = where(may)
            if len(found):
                return t + int(found[0])
            t = end
        return stop

    def _best(self, stop: int) -> tuple[float, int] | None:
        """A new best of the window in use among values before ``stop``, if any."""
        if self.best_cache is None or self.best_cache[0] != stop:
            bound = self.level._best[self.window][0]
            found = self._extreme(self.window, 0, stop, bound, low=True)
            self.best_cache = (stop, found if found is not None and found[0] < bound else None)
        return self.best_cache[1]

    def _bests(self, stop: int) -> dict[int, tuple[float, int] | None]:
        """A new best of each window kept among values before ``stop``, if any: the least of
        the last few medians is a bound, one count for all windows shows that no earlier
        median reaches it, and where one may its candidates are taken as in ``_extreme``."""
        level, head, end = self.level, self.head, self.head + stop
        cached = self.best_cache is not None and self.best_cache[0] == stop
        todo = [t for t in level._tracks if not (cached and t.window == self.window)]
        found = {self.window: self._best(stop)} if cached else {}
        if not todo:
            return found
        widest = max(track.window for track in todo)
        last = min(_LAST, stop)
        tails = self._tails([t.window for t in todo], end, last)
        lows = [int(np.argmin(tail)) for tail in tails]
        bounds = [min(float(m[at]), t.best) for m, at, t in zip(tails, lows, todo, strict=True)]
        low = head - widest + 1
        segment = self.logs[low:end]
        limits = np.array(bounds)[:, None]
        # The logs within rounding of a bound made exact, a count is exact too: below a
        # track's best (none of a flat stretch is: no median of it is a new best), or at
        # or below a lower bound the last medians set (the first of the least is wanted).
        near = (np.abs(segment[None, :] - limits) <= 2 * _ROUNDING).any(axis=0)
        if near.any():
            self._fix(low + where(near))
            segment = self.logs[low:end]
        below = [bound >= track.best for bound, track in zip(bounds, todo, strict=True)]
        hit = np.where(
            np.array(below)[:, None], segment[None, :] < limits, segment[None, :] <= limits
        )
        total = np.zeros((len(todo), len(segment) + 1), np.int32)
        np.cumsum(hit, axis=1, out=total[:, 1:])
        for row, track, tail, at, bound in zip(total, todo, tails, lows, bounds, strict=True):
            width, skip = track.window, widest - track.window
            hits = where(row[skip + width :] - row[skip : skip + stop] >= (width + 1) // 2)
            if not len(hits) or hits[0] >= stop - last:
                least: tuple[float, int] | None = (float(tail[at]), stop - last + at)
            else:
                least = self._extreme(width, 0, stop, bound, True, hits)
            found[width] = least if least is not None and least[0] < track.best else None
            if width == self.window:
                self.best_cache = (stop, found[width])
        return found

    def _tails(self, widths: list[int], end: int, last: int) -> list[Floats]:
        """The medians of the last ``last`` windows of each of ``widths`` before position
        ``end``: odd ones in one partition, each padded to the widest with as many values
        below as above (which keeps its median in the middle)."""
        widest = max(widths)
        if any(w % 2 == 0 for w in widths):
            return [self._medians(w, np.arange(end - last, end)) for w in widths]
        self._exact(end - last - widest + 1, end)
        rows = np.full((len(widths), last, widest), math.inf)
        for row, width in zip(rows, widths, strict=True):
            pad = (widest - width) // 2
            row[:, :pad] = -math.inf
            row[:, pad : pad + width] = self.logs[
                (end - last + np.arange(last))[:, None] + _offsets(width)
            ]
        rows.partition(widest // 2, axis=2)
        return list(rows[:, :, widest // 2])

    def apply(self, taken: int) -> None:
        """Leave the level as ``add`` would after the first ``taken`` values."""
        level, head, seq0, window = self.level, self.head, self.seq0, self.window
        end = head + taken
        self._exact(end - head, end)  # (what the deques and the windows keep)
        logs = self.logs
        bests = self._bests(taken)
        for track in level._tracks:
            found = bests[track.window]
            if found is not None:
                track.best = found[0]
                level._best[track.window] = (found[0], seq0 + 1 + found[1], self.record(found[1]))
            if track.ordered is not None:
                track.ordered = sorted(logs[end - track.window : end].tolist())
        dues = self._dues(taken)
        if dues:
            level.noise = float(self._noise_at(np.array([dues - 1]))[0])
            level._error = level.error(window)
            at = head + self.first_due + _REESTIMATE * (dues - 1)  # where it was estimated
            values = logs[at - self.width - 1 : at + 1].tolist()
            bends = [
                values[i] - (values[i - 1] + values[i + 1]) / 2 for i in range(1, len(values) - 1)
            ]
            level._bends._bends = deque(bends, maxlen=self.width)
            level._bends._bent = at - head + seq0
        level._above, level.elevated = 0, False
        self._carry(taken)
        self._climb(taken)
        if level._blown_run:
            level._blown_run = []
        level._values.extend(logs[max(head, end - head) : end].tolist())
        kept = self.index[max(0, taken - level._longest) : taken].tolist()
        if kept and kept[-1] - kept[0] == len(kept) - 1:  # one stretch: one slice
            level._records.extend(self.records[kept[0] : kept[-1] + 1])
        else:
            level._records.extend([self.records[i] for i in kept])
        level._seq = seq0 + taken

    def _climb(self, taken: int) -> None:
        """Where the climb stands after the values taken: open since when, its peak, the
        levels it went through and how long above its bar; or closed."""
        level, window = self.level, self.window
        best = level._best[window]
        fresh = self._best(taken)
        quiet = self._last_quiet(fresh[1] if fresh is not None else 0, taken, best[0])
        if quiet is None:  # (still the climb the level was on, if any)
            start, peak, since = 0, level._peak, level._since
            if level._first is None:
                level._first = self._climb_start(0, best[1])
        else:
            start = quiet + 1
            if start == taken and level._first is None and not level._since and level._peak is None:
                return  # (nothing to clear: as add leaves it)
            level._restart()
            if start == taken:
                return
            level._first = self._climb_start(start, best[1])
            peak, since = None, level._since
        rest = start
        if peak is None:
            peak, rest = (float(self._level(np.array([start]))[0]), self.record(start)), start + 1
        higher = self._extreme(window, rest, taken, peak[0], low=False)
        if higher is not None and higher[0] > peak[0]:
            peak = (higher[0], self.record(higher[1]))
        level._peak = peak
        since.extend(
            self._level(np.arange(max(start, taken - (since.maxlen or 0)), taken)).tolist()
        )
        bar = level._bar_for(level._best[window], level._error)  # (the last value's bar)
        level.elevated = since[-1] >= bar
        above = 0
        for past in reversed(since):
            if past < bar:
                break
            above += 1
        level._above = above

    def _last_quiet(self, first: int, stop: int, best: float) -> int | None:
        """The last value before ``stop`` (from ``first``) whose level is back at its best,
        searched backwards over growing stretches: their errors bound the level that can
        be, a count rules out the values above it, and the rest are checked exactly."""
        groups = 1  # estimates the stretch goes back over (each sets the error of a few)
        hi = stop
        while hi > first:
            due = (hi - 1 - self.first_due) // _REESTIMATE - groups + 1
            lo = max(first, self.first_due + _REESTIMATE * due) if due >= 0 else first
            errors = self._errors_at(np.arange(lo, hi))
            ceiling = best + float(errors.max())
            found = self._hits(self.window, lo, hi, ceiling + _SLACK * (1 + abs(ceiling)), True)
            if len(found):
                quiet = where(self._level(found) - best <= errors[found - lo])
                if len(quiet):
                    return int(found[quiet[-1]])
            hi, groups = lo, groups * 4
        return None

    def _climb_start(self, t: int, best_seq: int) -> tuple[int, Record]:
        """``Level._climb_start`` for value ``t``, before the deques move on."""
        level, seq = self.level, self.seq0 + 1 + t
        at = seq - max(0, min(self.window // 2, seq - best_seq - 1, level._longest - 1))
        if at > self.seq0:
            return at, self.record(at - self.seq0 - 1)
        return at, level._records[at - (self.seq0 - len(level._records) + 1)]
