"""`oscillation` over a block of records: numpy screens, ``observe`` where they flag.

What the rule keeps (the alternating stretch: its records, first records, start and
length) depends only on the sequence of finite losses: a record that does not continue
the up-down pattern restarts the stretch from its predecessor, a printed loss that is
not finite empties it, and a record with no loss is passed over. So the stretch length
at every record of the block can be worked out with arrays (a running count reset at
each break), and the state at the end of a quiet stretch of records rebuilt from it.

Only two kinds of records can report: while nothing is reported, one whose stretch is
long enough for ``_swings`` to be asked (``min_records`` and the length the records
seen so far need: rare in a healthy log, as that length grows with the log); while an
episode is reported, the break or non-finite loss that closes it. ``observe`` reads those.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from gradlog.detectors.block import Block
from gradlog.model import Diagnosis, Record
from gradlog.parse.names import LOSS

if TYPE_CHECKING:
    from gradlog.detectors.oscillation import OscillationDetector

Ints = npt.NDArray[np.int64]
# Up to this many records, ``observe`` on each is cheaper than the array set-up.
_SHORT = 12


class OscillationScreen:
    """One block as seen by one detector: each finite loss's stretch length, and the
    records that may report (``_asks``) or close a reported episode (``_stops``)."""

    def __init__(self, detector: OscillationDetector, block: Block) -> None:
        self.detector = detector
        self.block = block
        limits = detector._limits
        raw = block.values(LOSS)
        finite = np.isfinite(raw)
        # A printed loss that is not finite breaks a stretch; a record with no loss is
        # passed over (``observe``).
        bad = block.present(LOSS) & ~finite
        self.bad: Ints = np.flatnonzero(bad)
        index: Ints = np.flatnonzero(finite)  # block index of each finite loss
        n = len(index)
        self.index = index
        # The stretch before the block: its last two losses (then the block's) ...
        before = [record.metrics[LOSS] for record in detector._run[-2:]]
        carried = len(before)
        losses = np.concatenate((np.asarray(before, np.float64), raw[index]))
        # ... and a non-finite loss between two finite ones empties it.
        fresh = np.zeros(n, np.bool_)
        if n:
            bads = np.cumsum(bad)  # non-finite losses up to and with each record
            fresh[0] = bads[index[0]] > 0 or not detector._run  # (or it was empty already)
            fresh[1:] = np.diff(bads[index]) > 0
        group = np.concatenate((np.zeros(carried, np.int64), np.cumsum(fresh)))
        at = np.arange(carried, carried + n)
        back, back2 = np.maximum(at - 1, 0), np.maximum(at - 2, 0)
        one_back = (at >= 1) & (group[back] == group[at])
        two_back = (at >= 2) & (group[back2] == group[at])
        with np.errstate(all="ignore"):  # huge losses overflow to inf, as in Python
            rise = losses[at] - losses[back]
            turns = (losses[back] - losses[back2]) * rise < 0
        # As ``observe``: a repeated loss, or (with two before it) no change of direction.
        broken = (one_back & (rise == 0)) | (two_back & ~turns)
        positions = np.arange(n)
        begun = np.where(fresh | broken, positions, -1)
        if n:
            begun = np.maximum.accumulate(begun)
        self.begun: Ints = begun  # where the stretch at each record last (re)started
        self.base: Ints = np.where(fresh, 1, 2)  # its length there: 1 after a gap, 2 at a break
        self.length: Ints = np.where(
            begun >= 0,
            self.base[np.maximum(begun, 0)] + positions - begun,
            detector._length + positions + 1,
        )
        # Where ``_swings`` may be asked: the run (at most `window`) reaches the length
        # needed, here from a lower bound of ``_needed`` (the floor of a log2 that numpy
        # and math may round apart).
        seen = detector._seen + positions + 1
        scaled = np.log2(seen) * limits.extra_per_doubling + 5
        needed = np.floor(scaled - 1e-9 * np.maximum(np.abs(scaled), 1))
        run = np.minimum(self.length, limits.window)
        self._asks: Ints = index[(run >= limits.min_records) & (run >= needed)]
        # What closes a reported episode: a break, or a non-finite loss.
        stops = bad
        stops[index[broken]] = True
        self._stops: Ints = np.flatnonzero(stops)

    def run(self) -> list[tuple[int, Diagnosis]]:
        return self.detector.replay(self.block, self._flags(), self._advance)

    def _flags(self) -> Iterator[int]:
        """Block indexes to ``observe``, each chosen from the state the previous left."""
        detector, size = self.detector, len(self.block.records)
        start = 0
        while start < size:
            flagged = self._asks if detector._reported is None else self._stops
            at = int(np.searchsorted(flagged, start))
            if at >= len(flagged):
                return
            start = int(flagged[at])
            yield start
            start += 1

    def _advance(self, block: Block, start: int, end: int) -> None:
        """What ``observe`` does on the records ``start`` to ``end`` of the block, none of
        which the screens flagged (so none breaks a reported stretch)."""
        detector = self.detector
        if end - start <= _SHORT:
            # Cheaper one by one than with arrays; the screens say none of them reports.
            detector.observe_each(block.records[start:end])
            return
        index = self.index
        a = int(np.searchsorted(index, start))
        b = int(np.searchsorted(index, end))
        bad = self.bad
        last_bad = int(np.searchsorted(bad, end)) - 1
        broken = last_bad >= 0 and int(bad[last_bad]) >= start
        if b == a or (broken and int(bad[last_bad]) > int(index[b - 1])):
            # No finite loss here, or a non-finite one after the last: a non-finite loss
            # leaves the stretch empty; records with no loss leave it as it was.
            detector._seen += b - a
            if broken:
                detector._break(None)
            return
        window = detector._limits.window
        records = block.records
        detector._seen += b - a
        last = b - 1
        length = int(self.length[last])
        begun = int(self.begun[last])
        detector._length = length
        if begun < a:  # the stretch goes on from before
            tail = [records[i] for i in index[max(a, b - window) : b].tolist()]
            detector._run = (detector._run + tail)[-window:]
            head = detector._head
            if len(head) < window:
                head += [records[i] for i in index[a : a + window - len(head)].tolist()]
            return
        # It restarted here: at a record after a missing loss, or at the predecessor of
        # a break (which may be the last record read before this stretch).
        first = begun - int(self.base[begun]) + 1

        previous = detector._run[-1] if detector._run else None

        def at(position: int) -> Record:
            found = records[int(index[position])] if position >= a else previous
            assert found is not None  # a break has a predecessor
            return found

        detector._start = at(first)
        detector._cycle_start = None
        tail_from = max(first, last - window + 1)
        detector._run = [at(p) for p in range(tail_from, b)]
        detector._head = [at(p) for p in range(first, first + min(length, window))]
