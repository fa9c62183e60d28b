"""`chance_plateau` over a block of records: numpy screens, ``observe`` where they flag.

The rule is a small state machine over the records with a finite loss (the others do
nothing to it): idle (no stretch open), in a stretch at some ln(K) (not yet reported),
or watching a reported plateau. In each state almost every record only does
bookkeeping that can be done in bulk; the few that can change the state or report are
found with arrays over the whole block:

- idle: a record whose own loss is at some chance level opens a stretch;
- in a stretch: a record whose level (median of the last three losses) leaves the band,
  or whose loss is at another chance level, ends it; a record may report only once the
  stretch has ``min_records`` records at chance, and then only where its accuracies
  confirm chance (worked out exactly) or the stretch was not entered from above or
  below, and where the median of its latest losses can be at chance (bounded with
  counts: a median inside a band needs half the window on each side of it);
- watching: a level that falls well below ln(K) turns the plateau into a slow start.

The screen for the next flagged record depends on the state after the previous one, so
the flags are produced lazily while ``replay`` runs (see ``_flags``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gradlog.detectors.block import Block, Flags, Floats
from gradlog.detectors.plateau import near_chance
from gradlog.model import Diagnosis
from gradlog.parse.names import ACC, LOSS, VAL_ACC

if TYPE_CHECKING:
    from gradlog.detectors.plateau import ChancePlateauDetector, _Chance

Ints = npt.NDArray[np.int64]
# Up to this many records, ``observe`` on each is cheaper than the array set-up.
_SHORT = 12


def chance_classes(chance: _Chance, losses: Floats) -> Ints:
    """``chance.classes`` of each loss, with 0 for None: the same neighbour choice and
    the same float comparisons, so the very same answers."""
    levels = np.asarray(chance._levels, dtype=np.float64)
    ks = np.asarray(chance._ks, dtype=np.int64)
    last = len(levels) - 1
    i = np.searchsorted(levels, losses, "left")
    over = i > last
    near = np.minimum(i, last)
    lower = np.maximum(near - 1, 0)
    step_down = ~over & (i > 0) & ~(np.abs(losses - levels[near]) < np.abs(losses - levels[lower]))
    i = np.where(step_down, near - 1, near)
    level = levels[i]
    above = np.asarray(chance._tolerance, dtype=np.float64)[i]
    under = np.asarray(chance._below, dtype=np.float64)[i]
    fits = np.where(
        losses >= level, losses - level <= above * level, level - losses <= under * level
    )
    return np.where(fits, ks[i], 0)


def medians_of_three(tail: list[float], losses: Floats) -> Floats:
    """The median of the last (up to) three losses at each loss, after ``tail`` (the
    losses seen before, at most two of them needed)."""
    tail = tail[-2:]
    seq = np.concatenate((np.asarray(tail, dtype=np.float64), losses))
    level = np.empty(len(seq))
    if len(seq) > 2:
        a, b, c = seq[:-2], seq[1:-1], seq[2:]
        level[2:] = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    if len(seq) > 1:
        level[1] = (seq[0] + seq[1]) / 2
    if len(seq):
        level[0] = seq[0]
    return level[len(tail) :]


class PlateauScreen:
    """One block as seen by one detector: the finite losses (in nats) and, for each,
    its level and chance class; per-K screens are built when a state needs them."""

    def __init__(self, detector: ChancePlateauDetector, block: Block) -> None:
        self.detector = detector
        self.block = block
        raw = block.values(LOSS)
        finite = np.isfinite(raw)
        self.index: Ints = np.flatnonzero(finite)  # block index of each finite loss
        losses = raw[self.index]
        self.bits: Flags | None = None
        in_bits = block.bits
        if in_bits is not None:
            bits = in_bits[self.index]
            losses = np.where(bits, losses * math.log(2), losses)
            self.bits = bits
        self.losses: Floats = losses
        self.levels: Floats = medians_of_three(list(detector._recent), losses)
        self.classes: Ints = chance_classes(detector._chance, losses)
        self.opens: Ints = np.flatnonzero(self.classes)  # where an idle rule opens a stretch
        self._ends: dict[int, Ints] = {}
        self._leaves: dict[int, Ints] = {}
        self._tight: Ints | None = None
        self._accs: Floats = np.full(len(losses), math.nan)  # see _acc
        self._acc_known = False
        # Stretches opened and ended without a trace (``_churn``): the losses inside them,
        # and the lists it reads.
        self._continued: Flags | None = None
        self._lists: tuple[list[int], list[int], list[int]] | None = None
        self._ends_list: dict[int, list[int]] = {}

    def run(self) -> list[tuple[int, Diagnosis]]:
        return self.detector.replay(self.block, self._flags(), self._advance)

    # The screens.

    def _flags(self) -> Iterator[int]:
        """Block indexes to ``observe``, each chosen from the state the previous left."""
        detector, index, n = self.detector, self.index, len(self.index)
        j = 0  # the next finite loss not yet read
        while j < n:
            k = detector._k
            if detector._reported:
                assert k is not None
                found = self._next(self._leaving(k), j)
                longer = self._long(k, j)
                if longer is not None and (found is None or longer < found):
                    found = longer
            elif k is None:
                found = self._next(self.opens, j)
                if found is not None:
                    found = self._churn(found)
            else:
                end = self._next(self._ending(k), j)
                stop = n if end is None else end
                # A short stretch costs less read record by record than screened.
                short = stop - j <= _SHORT
                for at in range(j, stop) if short else self._candidates(k, j, stop):
                    yield int(index[at])
                    j = at + 1
                    if detector._reported:
                        break
                if detector._reported:
                    continue
                found = end
            if found is None:
                return
            yield int(index[found])
            j = found + 1

    def _churn(self, first: int) -> int | None:
        """From an idle rule and the stretch that opens at finite loss ``first``: the
        first stretch that may report (it gathers ``min_records`` records at chance) or
        is still open at the block's end, or None when none is. The stretches before it
        open and end without a trace but the levels of the records that open, end or lie
        between them (``_peak`` and ``_trough``): a loss that wanders between chance
        levels (an LM's 2.2, where ln(K) lie 2-5% apart) opens and ends a stretch every
        few records, and those are marked here (``_continued``) and taken in bulk by
        ``_advance`` instead of one by one."""
        if self._lists is None:
            classes = self.classes.tolist()
            at_chance = np.concatenate(([0], np.cumsum(self.classes != 0))).tolist()
            self._lists = classes, at_chance, self.opens.tolist()
        classes, at_chance, opens = self._lists
        detector = self.detector
        least = detector._limits.min_records
        # A stretch long enough to report still cannot when it passes through its ln(K)
        # (the levels before it were well above or below) and no accuracy confirms it:
        # ``_judged`` needs one or the other. The peak and trough it is judged by move
        # with the records that open, end or lie between stretches.
        # (An empty window of accuracies is full, and says chance: ``_confirmable``.)
        unconfirmed = (detector._accs.maxlen or 0) > 0 and not np.isfinite(
            self._acc(0, len(self.classes))
        ).any()
        peak, trough, folded = detector._peak, detector._trough, first
        levels = self.levels
        starts: list[int] = []
        stops: list[int] = []
        found: int | None = first
        while found is not None:
            if found > folded:
                span = levels[folded:found]
                peak, trough = max(peak, float(span.max())), min(trough, float(span.min()))
            k = classes[found]
            ends = self._ends_list.get(k)
            if ends is None:
                ends = self._ends_list[k] = self._ending(k).tolist()
            at = bisect.bisect_right(ends, found)
            if at == len(ends):
                break  # (open at the block's end: read as ever)
            end = ends[at]
            # In a stretch every loss at chance is at its ln(K): the count it reaches. A
            # stretch that may report is read as ever.
            reaches = 1 + at_chance[end] - at_chance[found + 1] >= least
            if reaches and not (unconfirmed and detector._passes(k, peak, trough)):
                break
            level = float(levels[found])  # (the opening record's, after it is judged)
            peak, trough, folded = max(peak, level), min(trough, level), end
            starts.append(found + 1)
            stops.append(end)
            if classes[end]:
                found = end  # (it ends the stretch and opens the next)
            else:
                at = bisect.bisect_right(opens, end)
                found = opens[at] if at < len(opens) else None
        if starts:
            marks = np.zeros(len(self.classes) + 1, np.int64)
            np.add.at(marks, starts, 1)
            np.add.at(marks, stops, -1)
            continued = np.cumsum(marks[:-1]) > 0
            self._continued = continued if self._continued is None else self._continued | continued
        return found

    @staticmethod
    def _next(flagged: Ints, start: int) -> int | None:
        at = int(np.searchsorted(flagged, start))
        return int(flagged[at]) if at < len(flagged) else None

    def _ending(self, k: int) -> Ints:
        """Where a stretch at ln(k) ends: a level out of its band, or a loss at another
        chance level."""
        found = self._ends.get(k)
        if found is None:
            low, high = self.detector._band(k)
            level, classes = self.levels, self.classes
            stays = (level >= low) & (level <= high) & ((classes == 0) | (classes == k))
            found = self._ends[k] = np.flatnonzero(~stays)
        return found

    def _leaving(self, k: int) -> Ints:
        """Where a reported plateau at ln(k) is left: a level well below ln(k)."""
        found = self._leaves.get(k)
        if found is None:
            below = (1 - self.detector._limits.left_fraction) * math.log(k)
            found = self._leaves[k] = np.flatnonzero(self.levels < below)
        return found

    def _long(self, k: int, start: int) -> int | None:
        """Where a reported plateau the run began in reaches `slow_records` records at
        chance (its live alert becomes a warning), from finite loss ``start`` on; None
        when it did already, or will not in this block."""
        detector = self.detector
        long = detector._long_from()
        need = 0 if long is None else long - detector._count
        if need <= 0:
            return None
        low, high = detector._band(k)
        span = self.levels[start:]
        near = np.flatnonzero((span >= low) & (span <= high))
        return int(near[need - 1]) + start if len(near) >= need else None

    def _candidates(self, k: int, start: int, stop: int) -> list[int]:
        """The records of an open stretch (``start`` to ``stop``, all continuing it) on
        which ``_judged`` might hold; on the others it is False for certain."""
        detector = self.detector
        limits = detector._limits
        at_k = self.classes[start:stop] == k
        counts = detector._count + np.cumsum(at_k)
        ready = counts >= limits.min_records
        if not ready.any():
            return []
        # Judged needs its level at chance: within `tolerance` of ln(k) either side, or
        # (with the accuracy confirming) down to `below` under it.
        tolerance = max(limits.tolerance, 0)
        wide = max(tolerance, limits.below)
        maybe = self._confirmable(k, at_k, start, stop)
        if maybe.any():
            maybe &= self._median_near(k, wide, start, stop)
        if not detector._passing:  # (unconfirmed, a level: not a trend)
            maybe |= self._median_near(k, tolerance, start, stop) & ~self._trending(
                k, at_k, start, stop
            )
        flagged: list[int] = (np.flatnonzero(ready & maybe) + start).tolist()
        return flagged

    def _trending(self, k: int, at_k: Flags, start: int, stop: int) -> Flags:
        """Where ``_trending`` holds after each record of an open stretch, ``start`` to
        ``stop`` (``at_k``: which are at ln(k)): from the stretch's first loss, its latest
        at ln(k), and the moves between those (as ``_track`` counts them), by the same
        float operations."""
        detector = self.detector
        limits = detector._limits
        first, previous = detector._level, detector._previous
        if first is None or previous is None:  # (set when the stretch opened)
            return np.zeros(len(at_k), np.bool_)
        losses = self.losses[start:stop]
        nth = np.cumsum(at_k)  # the records at ln(k) so far, in the range
        picked = losses[at_k]
        latest = np.concatenate(([previous], picked))[nth]
        far = np.abs(latest - first) > 2 * limits.tolerance * math.log(k)
        moves = np.diff(np.concatenate(([previous], picked)))
        downs = np.concatenate(([0], np.cumsum(moves < 0)))[nth] + detector._downs
        ups = np.concatenate(([0], np.cumsum(moves > 0)))[nth] + detector._ups
        steps = detector._count + nth - 1
        share = limits.descent_share * steps
        signed: Flags = (steps >= 3) & ((downs >= share) | (ups >= share))
        return far | signed

    def _confirmable(self, k: int, at_k: Flags, start: int, stop: int) -> Flags:
        """Where ``_confirmed`` holds: the accuracy window is full, and its values are
        all one rate (frozen, not 0 or 1), or all near 1/k and within `acc_tolerance` of
        each other."""
        detector = self.detector
        limits = detector._limits
        window = detector._accs.maxlen or 0
        if window <= 0:  # an empty window is always full (and says chance): no screen
            return np.ones(stop - start, np.bool_)
        accs = self._acc(start, stop)
        new = at_k & np.isfinite(accs)
        added = accs[new]
        seen = np.concatenate((np.asarray(detector._accs, np.float64), added))
        if len(seen) < window:
            return np.zeros(stop - start, np.bool_)
        rates = np.where(added > 1, added / 100, added)
        near = np.abs(rates - 1 / k) <= near_chance(limits, k)
        near = np.concatenate((np.asarray(detector._acc_chance, np.bool_), near))
        views = np.lib.stride_tricks.sliding_window_view(seen, window)
        high, low = views.max(axis=1), views.min(axis=1)
        chance = np.lib.stride_tricks.sliding_window_view(near, window).all(axis=1)
        rate = np.where(high > 1, high / 100, high)
        frozen = (high == low) & (rate > 0) & (rate < 1)  # (at 0 or 1: no classifier's)
        says = frozen | (chance & (high - low <= limits.acc_tolerance))
        # The window that ends at each record's latest accuracy (before it: none full).
        last = len(detector._accs) + np.cumsum(new) - window
        found: Flags = (last >= 0) & says[np.maximum(last, 0)]
        return found

    def _median_near(self, k: int, below: float, start: int, stop: int) -> Flags:
        """Where the median of the stretch's latest losses might be between `below`
        under ln(k) and `tolerance` over it: at least half the window at or above the
        band's floor, and at least half at or under its ceiling (the band widened a hair
        against rounding)."""
        detector = self.detector
        size = detector._stretch.maxlen or 0
        chance = math.log(k)
        above = max(detector._limits.tolerance, 0)
        low = chance - below * chance * (1 + 1e-6) - 1e-9 * chance
        high = chance + above * chance * (1 + 1e-6) + 1e-9 * chance
        before = np.asarray(detector._stretch, np.float64)
        values = np.concatenate((before, self.losses[start:stop]))
        ends = np.arange(len(before) + 1, len(values) + 1)
        sizes = np.minimum(ends, size)
        need = sizes - sizes // 2
        over_low = np.concatenate(([0], np.cumsum(values >= low)))
        under_high = np.concatenate(([0], np.cumsum(values <= high)))
        found: Flags = (over_low[ends] - over_low[ends - sizes] >= need) & (
            under_high[ends] - under_high[ends - sizes] >= need
        )
        return found

    def _acc(self, start: int, stop: int) -> Floats:
        """The accuracy ``_track`` would read on each finite loss (NaN for none): ``acc``
        when printed (even as NaN), else ``val_acc``; from the block's columns, built the
        first time a stretch needs them."""
        if not self._acc_known:
            block = self.block
            acc = np.where(
                block.present(ACC),
                block.values(ACC),
                np.where(block.present(VAL_ACC), block.values(VAL_ACC), math.nan),
            )
            self._accs = acc[self.index]
            self._acc_known = True
        return self._accs[start:stop]

    # The bulk bookkeeping.

    def _advance(self, block: Block, start: int, end: int) -> None:
        """What ``observe`` does on the records ``start`` to ``end`` of the block, none of
        which the screens flagged."""
        detector = self.detector
        if end - start <= _SHORT:
            # Cheaper one by one than with arrays; the screens say none of them reports.
            detector.observe_each(block.records[start:end])
            return
        a = int(np.searchsorted(self.index, start))
        b = int(np.searchsorted(self.index, end))
        if a >= b:
            return
        losses, levels = self.losses, self.levels
        seen = detector._seen
        detector._seen = seen + b - a
        detector._final_line = int(block.lines[int(self.index[b - 1])])
        detector._recent.extend(losses[max(a, b - 3) : b].tolist())
        if detector._start is None and seen + b - a >= 3:
            detector._start = float(levels[a + max(2 - seen, 0)])
        if self.bits is not None and self.bits[a:b].any():
            detector._bits = True
        k = detector._k
        if detector._reported:
            assert k is not None
            low, high = detector._band(k)
            span = levels[a:b]
            near = np.flatnonzero((span >= low) & (span <= high))
            if len(near):
                detector._count += len(near)
                detector._last = block.records[int(self.index[a + near[-1]])]
        elif k is None:
            span = levels[a:b]
            if self._continued is not None:  # (only records that open, end or lie idle)
                span = span[~self._continued[a:b]]
            if not len(span):
                return
            peak, trough = float(span.max()), float(span.min())
            if peak > detector._peak:
                detector._peak = peak
            if trough < detector._trough:
                detector._trough = trough
        else:
            self._advance_stretch(k, a, b)

    def _advance_stretch(self, k: int, a: int, b: int) -> None:
        """An open stretch, over finite losses ``a`` to ``b`` that all continue it."""
        detector = self.detector
        size = detector._stretch.maxlen or 0
        detector._stretch.extend(self.losses[max(a, b - size) : b].tolist())
        at_k = np.flatnonzero(self.classes[a:b] == k) + a
        if not len(at_k):
            return
        detector._count += len(at_k)
        detector._last = self.block.records[int(self.index[at_k[-1]])]
        losses = self.losses[at_k]
        if detector._level is None:
            detector._level = float(losses[0])
        if detector._previous is not None:
            moves = np.diff(np.concatenate(([detector._previous], losses)))
        else:
            moves = np.diff(losses)
        detector._downs += int(np.count_nonzero(moves < 0))
        detector._ups += int(np.count_nonzero(moves > 0))
        detector._previous = float(losses[-1])
        accs = self._acc(a, b)[at_k - a]
        accs = accs[np.isfinite(accs)]
        if len(accs):
            window = detector._accs.maxlen or 0
            accs = accs[-window:] if window else accs[:0]
            rates = np.where(accs > 1, accs / 100, accs)
            chance = np.abs(rates - 1 / k) <= detector._limits.acc_tolerance
            detector._accs.extend(accs.tolist())
            detector._acc_chance.extend(chance.tolist())
        if detector._tight:
            if self._tight is None:
                self._tight = chance_classes(detector._tight_chance, self.losses)
            detector._tight = bool((self._tight[at_k] == k).all())
