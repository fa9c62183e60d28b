"""`stalled` over a block of records: numpy screens, ``observe`` where they flag.

While no episode is open and no sign but the frozen values has a stretch open (the
quiet state: nearly every record of a healthy run), a record only does bookkeeping
unless:

- its learning rate is dead: finite, and at or below the floor set by the peak of the
  rates before it, or exactly 0 while the rate has never been positive or the last
  live one had enough significant digits;
- the loss (or validation loss) has held one value on `repeat_records` units or more,
  and the counts, the precision and the distance from chance let ``frozen`` hold (only
  the cycling test is left to ``observe``);
- an error rate prints exactly its maximum, 1 or 100;
- an optimizer step was skipped, not for an overflow.

None of these depends on what the rule decided before, so the arrays are built once
for the block; the flags are produced lazily while ``replay`` runs, as where to look
next depends on the state the last flagged record left. The bookkeeping between flags
(counters, the learning rate's peak, each frozen value's run of units, the recent
losses) is done in bulk from the same arrays.

Inside an episode, ``observe`` rebuilds the episode's report on every record, yet the
report only matters on the record before one that may end the episode (a dead rate
stands until a rate lives, a frozen value until another value is printed, a pinned
error rate until an error rate is printed) and on the block's last record. Up to there
the signs are followed alone: in bulk, except where one of them may open, end or
confirm a stretch (those records go through the signs one by one).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gradlog.detectors.block import Block, Flags, Floats
from gradlog.detectors.signs import (
    DeadRate,
    FrozenValue,
    PinnedError,
    Sign,
    SkippedSteps,
    error_rate,
    significant_digits,
)
from gradlog.model import Diagnosis, Record
from gradlog.parse.events import OVERFLOW, SKIPPED_STEP
from gradlog.parse.names import LOSS, LR

if TYPE_CHECKING:
    from gradlog.detectors.stalled import StalledDetector

Ints = npt.NDArray[np.int64]
_EXACT = 2.0**53  # epochs beyond this would not compare as floats the way Python compares


def _before(flags: Flags) -> Ints:
    """For each position, the last position before it where ``flags`` holds, or -1."""
    at = np.where(flags, np.arange(len(flags)), -1)
    out = np.empty(len(flags), np.int64)
    if len(flags):
        out[0] = -1
        out[1:] = np.maximum.accumulate(at)[:-1]
    return out


def _units(block: Block) -> tuple[Flags, Floats] | None:
    """What ``FrozenValue`` counts as one unit, for every record: (no epoch, epoch or
    line). None when an epoch is NaN (a NaN in a tuple compares equal to itself only
    when it is the very same object) or too large to compare exactly as a float."""
    by_line = ~block.has_epoch
    if by_line.all():
        return by_line, block.lines.astype(np.float64)
    keys = np.where(by_line, block.lines, block.epochs)
    if not (np.abs(keys) < _EXACT).all():  # (NaN fails it too)
        return None
    return by_line, keys


_NONE: Ints = np.zeros(0, np.int64)


def _next(indexes: Ints, start: int, default: int) -> int:
    """The first of the sorted ``indexes`` at or after ``start``, or ``default``."""
    at = int(np.searchsorted(indexes, start))
    return int(indexes[at]) if at < len(indexes) else default


def _distinct(indexes: Ints) -> Ints:
    """Sorted, without repeats (``np.unique`` imports numpy.ma on its first call)."""
    indexes = np.sort(indexes)
    if len(indexes) > 1:
        indexes = indexes[np.concatenate(([True], indexes[1:] != indexes[:-1]))]
    return indexes


class _Hold:
    """One ``FrozenValue`` sign over the block: for each record with a finite value, the
    sign's counts after it, and the records where ``frozen`` could hold.

    Counts come from where the value changes and where a new unit (epoch or line)
    begins. When no hold in the block is long enough to be judged (the usual case: a
    loss printed to 4 decimals seldom repeats 5 times), they are worked out only for the
    records ``advance`` needs; else for every record, to screen them."""

    def __init__(
        self, sign: FrozenValue, block: Block, units: tuple[Flags, Floats], names: Sequence[str]
    ) -> None:
        self.sign = sign
        name = sign.metric
        # (The span since the hold began counts every record, so a block without the
        # metric still needs its hold.)
        raw = block.values(name) if name in names or name == LOSS else np.empty(0)
        index = np.flatnonzero(np.isfinite(raw))
        self.index: Ints = index
        self.flagged: Ints = index[:0]
        self.changes: Ints = index[:0]  # where the value differs from the one before
        if not len(index):
            return
        values = raw[index]
        records = block.records
        by_line, keys = units[0][index], units[1][index]
        # A new unit: another epoch (or line) than the value before. The first compares
        # with the sign's own unit, as a tuple, exactly as ``observe`` does.
        new = np.empty(len(index), np.bool_)
        new[1:] = (by_line[1:] != by_line[:-1]) | (keys[1:] != keys[:-1])
        first = records[int(index[0])]
        unit = (True, first.line) if first.epoch is None else (False, first.epoch)
        new[0] = unit != sign.unit
        changed = np.empty(len(index), np.bool_)
        changed[1:] = values[1:] != values[:-1]
        changed[0] = sign.value is None or bool(values[0] != sign.value)
        starts = np.flatnonzero(changed)
        self.changes = index[starts]
        ended = changed.copy()  # a hold that ended: there was a value before
        ended[0] &= sign.value is not None
        self.new, self.changed, self.ended, self.starts = new, changed, ended, starts
        # The sign as the block found it.
        self.units0, self.total0, self.longest0 = sign.units, sign.total, sign.longest
        self.carried0, self.completed0 = sign.carried, sign.completed
        # A hold gains at most one unit a record: none reaches `repeat_records` units in
        # fewer records (the one open before the block, from its units so far).
        limits = sign.limits
        bounds = np.diff(np.concatenate((starts, [len(index)])))
        opening = int(starts[0]) if len(starts) else len(index)
        reach = max(sign.units + opening if opening else 0, int(bounds.max(initial=0)))
        self.counted: Ints | None = None
        if reach < limits.repeat_records:
            return
        counted: Ints = np.cumsum(new, dtype=np.int64)
        total = sign.total + counted
        group = np.cumsum(changed)  # 0: the hold open before the block
        base = np.empty(len(starts) + 1, np.int64)
        base[0] = sign.units
        base[1:] = 1 - counted[starts]
        units_now = base[group] + counted
        carried = sign.carried | np.logical_or.accumulate(~changed & ~new)
        completed = sign.completed | np.logical_or.accumulate(ended)
        before = np.empty(len(index), np.int64)
        before[0] = sign.units
        before[1:] = units_now[:-1]
        most = np.maximum.accumulate(np.where(ended, before - 1, sign.longest))
        most = np.maximum(most, sign.longest)
        held = np.where(
            carried,
            np.where(completed, (units_now - 1) // np.maximum(most, 1), -1),
            units_now,
        )
        could = (
            (units_now >= limits.repeat_records)
            & (held >= limits.repeat_records)
            & (units_now >= limits.repeat_fraction * total)
        )
        could_at = np.flatnonzero(could)
        if len(could_at):
            # The value's precision and its distance from chance, once per hold.
            keep = np.zeros(len(could_at), np.bool_)
            for g in sorted(set(group[could_at].tolist())):
                if g == 0:
                    ok = sign.value is not None and sign.distinct(sign.value, sign.previous)
                else:
                    at = int(starts[g - 1])
                    value = records[int(index[at])].metrics[name]
                    previous = records[int(index[at - 1])].metrics[name] if at else sign.value
                    ok = sign.distinct(value, previous)
                if ok:
                    keep |= group[could_at] == g
            self.flagged = index[could_at[keep]]
        self.counted = counted

    def _counts(self, k: int) -> tuple[int, int, bool, bool, int]:
        """The sign's units, total, carried, completed and longest after the ``k``-th
        record with a value."""
        new, starts, ended = self.new, self.starts, self.ended
        counted = self.counted if self.counted is not None else np.cumsum(new[: k + 1])
        upto = np.concatenate(([0], counted))  # new units before each record
        g = int(np.searchsorted(starts, k, "right"))  # holds begun up to k
        units = self.units0 + int(upto[k + 1])  # (the hold open before the block)
        longest = self.longest0
        if g:
            held = starts[:g]
            units = 1 + int(upto[k + 1] - upto[held[-1] + 1])
            # Each change ends the hold before it: its units, from the record after its
            # start to the one before the change, plus its first.
            earlier = np.concatenate(([-1], held[:-1]))
            lengths = np.where(
                earlier >= 0, 1 + upto[held] - upto[earlier + 1], self.units0 + upto[held]
            )
            closing = lengths[ended[held]]  # (a first value ends no hold)
            if len(closing):
                longest = max(longest, int(closing.max()) - 1)
        carried = self.carried0 or bool((~self.changed[: k + 1] & ~new[: k + 1]).any())
        completed = self.completed0 or bool(ended[: k + 1].any())
        return units, self.total0 + int(upto[k + 1]), carried, completed, longest

    def advance(self, records: Sequence[Record], start: int, end: int) -> None:
        """Leave the sign as ``observe`` would after the records ``start`` to ``end``,
        none of which could make it hold."""
        sign, index = self.sign, self.index
        lo, hi = np.searchsorted(index, (start, end))
        if hi == lo:  # no value printed: only the records since the hold began count
            if sign.first is not None:
                sign.span += end - start
            return
        k = int(hi) - 1
        name = sign.metric
        record = records[int(index[k])]
        g = int(np.searchsorted(self.starts, k, "right"))
        at = int(self.starts[g - 1]) if g else -1  # where the hold began, in the block
        if at >= lo:  # it began in this stretch
            sign.previous = records[int(index[at - 1])].metrics[name] if at else sign.value
            sign.first = records[int(index[at])]
            sign.span = end - int(index[at])
            sign.confirmed = False
        elif sign.first is not None:
            sign.span += end - start
        sign.value = record.metrics[name]
        sign.last = record
        sign.units, sign.total, sign.carried, sign.completed, sign.longest = self._counts(k)
        sign.unit = (True, record.line) if record.epoch is None else (False, record.epoch)


class StalledScreen:
    """One block as seen by the stalled rule: where each sign could act, and what the
    records between do to the state."""

    def __init__(self, detector: StalledDetector, block: Block) -> None:
        self.detector = detector
        self.block = block
        self.inside = False  # the records ``advance`` is given are inside an episode
        self.records = records = block.records
        n = len(records)
        signs = detector._signs
        dead, pinned, skipped = signs[0], signs[3], signs[4]
        assert isinstance(dead, DeadRate) and isinstance(pinned, PinnedError)
        assert isinstance(skipped, SkippedSteps)
        self.dead, self.pinned, self.skipped = dead, pinned, skipped
        self.exact = True  # False: epochs that arrays cannot compare; read each record
        units = _units(block)
        if units is None:
            self.exact = False
            return
        names = block.names
        self.holds = [_Hold(s, block, units, names) for s in signs if isinstance(s, FrozenValue)]
        self.losses = next(hold for hold in self.holds if hold.sign.metric == LOSS).index
        self.dead_flags = self._dead_rates()
        # Error rates at their maximum; the others only count as printed.
        self.rates: list[tuple[str, Ints]] = []
        pinned_flags: list[Flags] = []
        printed: list[Flags] = []
        for name in names:
            if error_rate(name):
                there = block.present(name)
                values = block.values(name)
                pinned_flags.append(there & ((values == 1.0) | (values == 100.0)))
                printed.append(there)
                counts = np.zeros(n + 1, np.int64)
                np.cumsum(there, out=counts[1:])
                self.rates.append((name, counts))
        self.pinned_flags: Ints = _NONE
        self.rate_rows: Ints = _NONE  # records that print an error rate
        if printed:
            self.pinned_flags = np.flatnonzero(np.logical_or.reduce(pinned_flags))
            self.rate_rows = np.flatnonzero(np.logical_or.reduce(printed))
        self.skip_flags: Ints = _NONE
        if SKIPPED_STEP in names:
            skip = block.values(SKIPPED_STEP) >= 1
            if OVERFLOW in names:  # any overflow value but 0 is true, NaN included
                skip &= ~(block.present(OVERFLOW) & (block.values(OVERFLOW) != 0))
            self.skip_flags = np.flatnonzero(skip)
        flagged = [hold.flagged for hold in self.holds]
        flagged += [self.dead_flags, self.pinned_flags, self.skip_flags]
        self.flagged: Ints = _distinct(np.concatenate(flagged))

    def _dead_rates(self) -> Ints:
        """Records whose learning rate ``DeadRate`` finds dead (whatever its state); and,
        for the bulk updates, the running peak, the live rates and where a standing dead
        rate ends."""
        sign = self.dead
        lr = self.block.values(LR)
        finite = np.isfinite(lr)
        positive = finite & (lr > 0)
        clean = np.where(positive, lr, 0.0)
        peaks = np.maximum.accumulate(np.concatenate(([sign.peak], clean)))
        self.peaks: Floats = peaks[1:]  # the peak after each record
        factor = sign.limits.lr_collapse_factor
        with np.errstate(divide="ignore", invalid="ignore"):
            floor = np.where(peaks[:-1] > sign.peak, peaks[:-1] / factor, sign._floor)
        collapsed = positive & (lr <= floor)
        live = positive & ~collapsed
        self.live: Ints = np.flatnonzero(live)
        self.positive: Ints = np.flatnonzero(positive)
        self.rates_at: Ints = np.flatnonzero(finite & (lr >= 0))  # all DeadRate weighs
        zero = np.flatnonzero(finite & (lr == 0))
        if len(zero):
            # A printed 0 is dead before any positive rate, or after a live rate printed
            # with `lr_zero_digits` or more.
            last = _before(live)[zero]
            latest = np.where(last >= 0, lr[np.maximum(last, 0)], sign.latest)
            digits = sign.limits.lr_zero_digits
            rich = {v: significant_digits(v) >= digits for v in set(latest.tolist())}
            first = self.positive[0] if len(self.positive) else len(lr)
            never = (zero < first) if sign.started is None else np.zeros(len(zero), np.bool_)
            keep = never | np.fromiter((rich[v] for v in latest.tolist()), np.bool_, len(zero))
            zero = zero[keep]
        # Where a standing dead rate ends: a rate that lives (positive above the floor,
        # or a 0 that is a small rate rounded away).
        alive = finite & (lr >= 0) & ~collapsed
        alive[zero] = False
        self.alive: Ints = np.flatnonzero(alive)
        return _distinct(np.concatenate((np.flatnonzero(collapsed), zero)))

    def run(self) -> list[tuple[int, Diagnosis]]:
        return self.detector.replay(self.block, self._flags(), self._advance)

    def _quiet(self) -> bool:
        return (
            self.detector._episode is None
            and self.dead.first is None
            and self.pinned.first is None
            and self.skipped.first is None
        )

    def _flags(self) -> Iterator[int]:
        """Block indexes to ``observe``: the screened ones while the state is quiet;
        inside an episode that surely goes on, the last record before one that might end
        it (``advance`` follows the signs up to there); else every record."""
        flagged, n = self.flagged, len(self.records)
        j = 0
        while j < n:
            self.inside = False
            if self._quiet():
                j = _next(flagged, j, n)
                if j == n:
                    return
            elif self.detector._episode is not None:
                last = min(self._standing_until(j), n) - 1
                if last > j:
                    self.inside, j = True, last
            yield j
            j += 1

    def _standing_until(self, start: int) -> int:
        """The first record from ``start`` that might leave no sign standing: a dead rate
        stands until a rate lives, a frozen value until another value is printed, a
        pinned error rate until an error rate is printed. (Skipped steps can lapse on any
        record.)"""
        n = len(self.records)
        until = start
        if self.dead.standing:
            until = max(until, _next(self.alive, start, n))
        if self.pinned.standing:
            until = max(until, _next(self.rate_rows, start, n))
        for hold in self.holds:
            if hold.sign.standing:
                until = max(until, _next(hold.changes, start, n))
        return until

    def _advance(self, block: Block, start: int, end: int) -> None:
        """The records ``start`` to ``end``: quiet ones in bulk; inside an episode, in
        bulk between the records where a sign could open, close or confirm, which
        follow the signs alone (the episode's report waits for ``observe``)."""
        if not self.inside:
            self._bulk(start, end)
            return
        follow, records = self.detector._signs_observe, self.records
        at = start
        while at < end:
            point = self._next_point(at, end)
            if point > at:
                self._bulk(at, point)
            if point < end:
                follow(records[point])
            at = point + 1

    def _next_point(self, start: int, end: int) -> int:
        """Inside an episode: the first record from ``start`` that a sign must follow
        itself (up to ``end``), from the signs' states."""
        dead = self.dead
        if self.skipped.first is not None:
            return start  # its stretch can lapse or confirm on any record
        if dead.first is not None and not dead.confirmed:
            return start
        found = _next(self.alive if dead.first is not None else self.dead_flags, start, end)
        pinned = self.rate_rows if self.pinned.first is not None else self.pinned_flags
        found = min(found, _next(pinned, start, end))
        found = min(found, _next(self.skip_flags, start, end))
        for hold in self.holds:
            # A value already frozen is not judged again before it changes.
            begin = _next(hold.changes, start, end) if hold.sign.confirmed else start
            found = min(found, _next(hold.flagged, begin, end))
        return found

    def _bulk(self, start: int, end: int) -> None:
        """The records ``start`` to ``end``, none of which opens, ends or confirms a
        stretch of any sign but the frozen values' holds (which follow themselves)."""
        detector, records = self.detector, self.records
        count = end - start
        detector._records += count
        # The last few finite losses.
        latest, index = detector._latest, self.losses
        lo, hi = np.searchsorted(index, (start, end))
        if hi > lo:
            tail = index[max(lo, hi - (latest.maxlen or 0)) : hi].tolist()
            latest.extend(records[i].metrics[LOSS] for i in tail)
        for hold in self.holds:
            hold.advance(records, start, end)
        if self.dead.first is None:
            self._live_rates(start, end)
        else:
            self._dead_stretch(start, end)
        pinned = self.pinned
        if pinned.first is not None:  # (these records print no error rate)
            pinned.span += count
            self._note_losses(pinned, start, end)
            return
        # Error rates printed (not at their maximum): counted, and their runs broken.
        for name, counts in self.rates:
            printed = int(counts[end] - counts[start])
            if printed:
                pinned.printed[name] = pinned.printed.get(name, 0) + printed
                pinned.runs[name] = 0

    def _live_rates(self, start: int, end: int) -> None:
        """No dead stretch open: count the records, and follow the first positive rate,
        the peak and the last live rate."""
        dead, records = self.dead, self.records
        before = dead.records
        dead.records += end - start
        if dead.started is None:
            at = _next(self.positive, start, end)
            if at < end:
                dead.started = before + at - start + 1
        if self.peaks[end - 1] > dead.peak:  # the first record at the new peak sets it
            at = start + int(np.argmax(self.peaks[start:end]))
            dead.peak = records[at].metrics[LR]
            dead._floor = dead.peak / dead.limits.lr_collapse_factor
        at = int(np.searchsorted(self.live, end)) - 1
        if at >= 0 and self.live[at] >= start:
            dead.latest = records[int(self.live[at])].metrics[LR]

    def _dead_stretch(self, start: int, end: int) -> None:
        """A confirmed dead stretch that goes on: every rate printed is dead (counted,
        the last kept), and every record offers its loss to the stretch's first ones."""
        dead, records = self.dead, self.records
        dead.records += end - start
        dead.span += end - start
        lo, hi = (int(i) for i in np.searchsorted(self.rates_at, (start, end)))
        if hi > lo:
            dead.count += hi - lo
            dead.last = records[int(self.rates_at[hi - 1])]
            dead.value = dead.last.metrics[LR]
        self._note_losses(dead, start, end)

    def _note_losses(self, sign: Sign, start: int, end: int) -> None:
        """``note_loss`` for each of the records ``start`` to ``end``: the first finite
        losses of the stretch, up to `progress_records`."""
        room = sign.limits.progress_records - len(sign.early)
        if room > 0:
            lo, hi = (int(i) for i in np.searchsorted(self.losses, (start, end)))
            records = self.records
            sign.early += [records[i].metrics[LOSS] for i in self.losses[lo:hi][:room].tolist()]
