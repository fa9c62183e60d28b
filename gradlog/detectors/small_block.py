"""Array helpers the cheaper rules share when they read a block of records at once.

These rules act on few records (an evaluation, a tiny gradient, a new loss scale) and
only keep light bookkeeping on the others, so their screens are short: which records
carry a new value of a metric, and which follow one the rule acted on.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import numpy.typing as npt

from gradlog.detectors.block import Flags, Floats


def changed(values: Floats, usable: Flags, previous: float | None) -> Flags:
    """Which usable values differ from the usable value before them (``previous`` for
    the first one; None, when nothing came before, makes it differ)."""
    where = np.flatnonzero(usable)
    found = np.zeros(len(values), np.bool_)
    if len(where):
        kept = values[where]
        before = np.empty_like(kept)
        before[0] = math.nan if previous is None else previous
        before[1:] = kept[:-1]
        found[where] = kept != before  # NaN before the first: it always differs
    return found


def with_next(flags: Flags, open_before: bool, reach: int = 1) -> Flags:
    """``flags`` plus the ``reach`` records right after each flagged one, and the first
    ``reach`` records when something was left open before the block: the records where a
    run that the flagged records extend may come to an end (a run that goes on through
    a gap of ``reach - 1`` records ends on the last of them)."""
    found: Flags = flags.copy()
    for shift in range(1, min(reach, len(flags) - 1) + 1):
        found[shift:] |= flags[:-shift]
    found[:reach] |= open_before
    return found


def long_gaps(off: Flags, longest: int) -> npt.NDArray[np.intp]:
    """Where each run of set ``off`` flags starts that is longer than ``longest`` or runs
    to the end (a gap a run does not go on through)."""
    edges = np.diff(np.concatenate(([0], off.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    found: npt.NDArray[np.intp] = starts[(ends - starts > longest) | (ends == len(off))]
    return found


def run_end(breaks: list[int], index: int, size: int) -> int:
    """Where the run of flagged records that ``index`` is in ends: the first of
    ``breaks`` (the unflagged records, in order) after it, or ``size``."""
    after = bisect.bisect_right(breaks, index)
    return breaks[after] if after < len(breaks) else size


def indexes(flags: Flags) -> list[int]:
    """The positions of the flagged records, as Python ints."""
    found: list[int] = np.flatnonzero(flags).tolist()
    return found
