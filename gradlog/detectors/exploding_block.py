"""`exploding_gradient` over a block of records: numpy screens, ``observe`` where they
flag.

With no episode open, a record does more than bookkeeping only if its grad norm is
finite and strong or weak: above `absolute`, above the parameter norm, or grown
`growth` times over the healthy level. The first two need no state. The third needs the
level, the lower of the early level and the median of the last 16 healthy norms, and
which norms are healthy depends on which were grown; but up to the first grown norm
every finite norm that is neither above `absolute` nor above the parameter norm is
healthy, so the window before each record (and so the first grown record) follows from
the window at the start alone. The screen finds that first record, ``observe`` reads
it, and the search starts again from the state it left.

Until the early list and the window are full (the first healthy records of a run),
every finite norm is read by ``observe``. The quiet records in between only feed the
window and the loss the next jump is measured from, which ``advance`` does in bulk.

Inside an open episode every record is read, unless the episode is already reported
as an error: then nothing can be reported before it closes, and the records up to the
one that closes it (a finite norm neither strong nor weak) or first corroborates it
only add to its counts and peak, in bulk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gradlog.detectors.block import Block, Flags, Floats
from gradlog.model import Diagnosis, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, PARAM_NORM

if TYPE_CHECKING:
    from gradlog.detectors.exploding import ExplodingGradientDetector

Ints = npt.NDArray[np.int64]
_SCAN = 32  # records read back for the last loss before the loss column is built
_FIRST_SEARCH = 256  # healthy records screened at once for the first grown norm


def _medians(rows: Floats) -> Floats:
    """The median of each row, as ``sorted_median`` computes it from a sorted list."""
    ordered = np.sort(rows, axis=1)
    size = rows.shape[1]
    mid = size // 2
    if size % 2:
        return ordered[:, mid]
    result: Floats = (ordered[:, mid - 1] + ordered[:, mid]) / 2
    return result


class ExplodingScreen:
    """One block as seen by the exploding-gradient rule: which records can open an
    episode whatever the state, and the healthy norms that feed the window."""

    def __init__(self, detector: ExplodingGradientDetector, block: Block) -> None:
        self.detector = detector
        self.block = block
        self.records = block.records
        limits = detector._limits
        grads = block.values(GRAD_NORM)
        finite = np.isfinite(grads)
        static = grads > limits.absolute
        self.params: Floats | None = None
        if PARAM_NORM in block.names:  # (a NaN parameter norm compares False)
            self.params = block.values(PARAM_NORM)
            static |= grads > self.params
        static &= finite
        self.grads = grads
        self.inside = False  # the records ``advance`` is given are inside an episode
        self.static: Ints = np.flatnonzero(static)  # strong or weak from any state
        self.finite: Ints = np.flatnonzero(finite)
        self.healthy: Ints = np.flatnonzero(finite & ~static)  # healthy unless grown

    def run(self) -> list[tuple[int, Diagnosis]]:
        return self.detector.replay(self.block, self._flags(), self._advance)

    def _settled(self) -> bool:
        """The early level and the window are full (while they fill, they change shape
        with every healthy norm)."""
        detector = self.detector
        return (
            len(detector._early) >= detector._limits.early_records
            and len(detector._recent) >= detector.RECENT
        )

    def _flags(self) -> Iterator[int]:
        """Block indexes to ``observe``: with no episode open, the next record that can
        open one (any finite norm while the levels fill); inside an episode already
        reported as an error, the next record that ends it or corroborates it; inside
        any other episode, every record."""
        n = len(self.records)
        finite = self.finite
        detector = self.detector
        j = 0
        while j < n:
            self.inside = False
            if detector._first is None:
                if self._settled():
                    j = self._next(j)
                else:
                    at = int(np.searchsorted(finite, j))
                    j = int(finite[at]) if at < len(finite) else n
                if j >= n:
                    return
            elif detector._reported is Severity.ERROR:
                self.inside, j = True, self._episode_point(j)
                if j >= n:
                    return
            yield j
            j += 1

    def _next(self, start: int) -> int:
        """The first record from ``start`` that is strong or weak, given a quiet state."""
        detector, limits = self.detector, self.detector._limits
        static, healthy = self.static, self.healthy
        at = int(np.searchsorted(static, start))
        stop = int(static[at]) if at < len(static) else len(self.records)
        if detector._blips >= limits.blips or len(detector._early) < 3:
            return stop  # no growth sign: only the absolute level and the weights count
        first, last = (int(i) for i in np.searchsorted(healthy, (start, stop)))
        # The window in arrival order (SortedWindow keeps it, with no public view).
        window = np.asarray(detector._recent._slots, dtype=np.float64)
        values = self.grads[healthy[first:last]]
        sequence = np.concatenate((window, values))
        size = len(window)
        done = 0
        span = _FIRST_SEARCH
        while done < len(values):
            upto = min(len(values), done + span)
            grown = self._grown(sequence, size, done, upto)
            if grown is not None:
                return int(healthy[first + grown])
            done, span = upto, span * 4
        return stop

    def _grown(self, sequence: Floats, size: int, lo: int, hi: int) -> int | None:
        """The first of the healthy norms ``lo`` to ``hi`` (positions after the window in
        ``sequence``) grown over the level before it, with the window before each made
        of the ``size`` values before it in ``sequence``."""
        detector, limits = self.detector, self.detector._limits
        values = sequence[size + lo : size + hi]
        early = detector._early_level
        maybe = values > 1.0
        if limits.growth > 0:  # the level is at least the lowest value any window holds
            bound = min(early, float(sequence[lo : size + hi - 1].min()))
            maybe &= values >= limits.growth * bound
        at = np.flatnonzero(maybe)
        if not len(at):
            return None
        rows = sequence[(at + lo)[:, None] + np.arange(size)]
        recent = _medians(rows)
        level = np.where(recent < early, recent, early)
        grown = (level > 0) & (values[at] >= limits.growth * level)
        found = np.flatnonzero(grown)
        return lo + int(at[found[0]]) if len(found) else None

    # Inside an episode reported as an error, a record can only add to it (nothing is
    # reported before it closes): in bulk up to the record that ends it (a finite norm
    # neither strong nor weak) or first corroborates it.

    def _episode_point(self, start: int) -> int:
        """The first record from ``start`` that ends or corroborates the open episode."""
        n = len(self.records)
        span = _FIRST_SEARCH
        stop = start
        while stop < n:
            stop = min(n, stop + span)
            found = np.flatnonzero(self._ends(start, stop) | self._corroborates(start, stop))
            if len(found):
                return start + int(found[0])
            span *= 4
        return n

    def _strong(self, start: int, stop: int) -> Flags:
        """Finite norms above `absolute` or grown over the level before the episode
        (which holds still while it is open: only healthy norms change it)."""
        detector, limits = self.detector, self.detector._limits
        grads = self.grads[start:stop]
        strong = grads > limits.absolute
        level = detector._level() if detector._blips < limits.blips else 0.0
        if level > 0:
            strong |= (grads > 1.0) & (grads >= limits.growth * level)
        return strong & np.isfinite(grads)  # (an infinite norm is neither)

    def _ends(self, start: int, stop: int) -> Flags:
        """Finite norms neither strong nor weak."""
        grads = self.grads[start:stop]
        ends = np.isfinite(grads) & ~self._strong(start, stop)
        if self.params is not None:
            ends &= ~(grads > self.params[start:stop])
        return ends

    def _kept(self, start: int, stop: int) -> Flags:
        """Records whose loss ``observe`` keeps to measure the next jump from."""
        losses = self.block.values(LOSS)[start:stop]
        grads = self.grads[start:stop]
        hidden = (losses == 0.0) & self.block.present(GRAD_NORM)[start:stop] & ~np.isfinite(grads)
        kept: Flags = np.isfinite(losses) & ~hidden
        return kept

    def _corroborates(self, start: int, stop: int) -> Flags:
        """Records with a grad norm that would corroborate the episode (none once it
        is): a NaN loss or parameter norm, a loss jump over the loss kept before it, or
        the parameter norm grown over its value when the episode began. After a loss
        jump, which the episode must still outlast, only the NaNs."""
        detector, limits, block = self.detector, self.detector._limits, self.block
        if detector._corroboration is not None and not detector._jumped:
            return np.zeros(stop - start, np.bool_)
        losses = block.values(LOSS)[start:stop]
        has_loss = block.present(LOSS)[start:stop]
        grads = self.grads[start:stop]
        has_grad = block.present(GRAD_NORM)[start:stop]
        found = has_loss & ~np.isfinite(losses)
        found |= has_loss & (losses == 0.0) & has_grad & ~np.isfinite(grads)
        params = None if self.params is None else self.params[start:stop]
        if params is not None:
            found |= block.present(PARAM_NORM)[start:stop] & ~np.isfinite(params)
        if detector._jumped:
            return has_grad & found
        # The loss kept before each record: the last kept one before it in the range, or
        # the one the detector holds.
        kept = self._kept(start, stop)
        last = np.where(kept, np.arange(stop - start), -1)
        before = np.empty(stop - start, np.int64)
        before[0] = -1
        before[1:] = np.maximum.accumulate(last)[:-1]
        held = detector._previous_loss
        previous = np.where(
            before >= 0, losses[np.maximum(before, 0)], math.nan if held is None else held
        )
        found |= (previous > 0) & (losses >= 3 * previous)
        begun = detector._param_start
        if params is not None and begun:  # (NaN is true too, and compares False below)
            found |= params >= limits.param_growth * begun
        return has_grad & found

    def _episode(self, start: int, end: int) -> None:
        """Records ``start`` to ``end`` inside an episode reported as an error, none of
        which ends or corroborates it: counted, the strong ones too, the peak followed."""
        detector, records, block = self.detector, self.records, self.block
        with_grad = np.flatnonzero(block.present(GRAD_NORM)[start:end])
        if len(with_grad):
            detector._count += len(with_grad)
            detector._misses, detector._gap = 0, []  # (each is one of the episode's)
            detector._strong += int(np.count_nonzero(self._strong(start, end)))
            detector._last = records[start + int(with_grad[-1])]
            grads = self.grads[start:end]
            finite = np.flatnonzero(np.isfinite(grads))
            if len(finite):
                top = start + int(finite[np.argmax(grads[finite])])  # the first at the max
                peak = detector._peak
                if peak is None or self.grads[top] > peak.metrics[GRAD_NORM]:
                    detector._peak = records[top]
        kept = np.flatnonzero(self._kept(start, end))
        if len(kept):
            detector._previous_loss = records[start + int(kept[-1])].metrics[LOSS]

    def _advance(self, block: Block, start: int, end: int) -> None:
        """The quiet records ``start`` to ``end``, in bulk: their healthy norms join the
        window (the levels are settled when there are any), and the last loss among them
        is the one a jump is measured from."""
        if self.inside:
            self._episode(start, end)
            return
        detector, records = self.detector, self.records
        healthy = self.healthy
        first, last = (int(i) for i in np.searchsorted(healthy, (start, end)))
        for i in healthy[max(first, last - detector.RECENT) : last].tolist():
            detector._recent.append(records[i].metrics[GRAD_NORM])
        found = self._last_loss(start, end)
        if found is not None:
            detector._previous_loss = found

    def _last_loss(self, start: int, end: int) -> float | None:
        """The last loss from ``start`` to ``end`` that ``observe`` keeps: finite, and
        not a 0.0 beside a non-finite grad norm (a NaN that HF Trainer hid)."""
        records = self.records
        isfinite = math.isfinite
        for i in range(end - 1, max(start, end - _SCAN) - 1, -1):
            metrics = records[i].metrics
            loss = metrics.get(LOSS)
            if loss is not None and isfinite(loss):
                grad = metrics.get(GRAD_NORM)
                if not (loss == 0.0 and grad is not None and not isfinite(grad)):
                    return loss
        if end - start <= _SCAN:
            return None
        losses = self.block.values(LOSS)[start:end]
        grads = self.grads[start:end]
        hidden = (losses == 0.0) & self.block.present(GRAD_NORM)[start:end] & ~np.isfinite(grads)
        kept = np.flatnonzero(np.isfinite(losses) & ~hidden)
        return records[start + int(kept[-1])].metrics[LOSS] if len(kept) else None
