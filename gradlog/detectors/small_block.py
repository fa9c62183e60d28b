"""Array helpers the cheaper rules share when they read a block of records at once.

These rules act on few records (an evaluation, a tiny gradient, a new loss scale) and
only keep light bookkeeping on the others, so their screens are short: which records
carry a new value of a metric, and which follow one the rule acted on.
"""

from __future__ import annotations

import math

import numpy as np

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


def with_next(flags: Flags, open_before: bool) -> Flags:
    """``flags`` plus each record right after a flagged one, and the first record when
    something was left open before the block: the records where a run that the flagged
    records extend comes to an end."""
    found: Flags = flags.copy()
    if len(found):
        found[1:] |= flags[:-1]
        found[0] |= open_before
    return found


def indexes(flags: Flags) -> list[int]:
    """The positions of the flagged records, as Python ints."""
    found: list[int] = np.flatnonzero(flags).tolist()
    return found
