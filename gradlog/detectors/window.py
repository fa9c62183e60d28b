"""Running medians without sorting a copy of the window on every record.

A window kept sorted by ``insort`` (new values go after their equals) and trimmed by
deleting (``bisect_left``) the leftmost equal of the value that leaves holds, at every
moment, exactly ``sorted(window)``: equal values stay in arrival order, as a stable sort
keeps them, so the median read from it is the very float ``base.median`` returns.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Sequence


def sorted_median(ordered: Sequence[float]) -> float:
    """The median of a non-empty, already sorted sequence (as ``base.median`` has it)."""
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class SortedWindow:
    """The last ``size`` slots of a stream, kept in arrival order and (their values) sorted.

    A slot holds a number or None (a record without the value: it still takes its place
    in the window). ``median()`` then costs O(1) instead of a sort per call, and equals
    ``median`` of the numbers in the window exactly: equal values stay in arrival order
    (``insort`` puts a new one after its equals, the oldest is the leftmost of them), as
    in a stable sort. Numbers must not be NaN, which has no place in a sorted list.
    """

    __slots__ = ("_size", "_slots", "ordered")

    def __init__(self, size: int) -> None:
        self._slots: deque[float | None] = deque()
        self._size = size
        self.ordered: list[float] = []  # the numbers in the window, ascending

    def append(self, value: float | None) -> None:
        """Add a slot; the oldest leaves once the window is full."""
        slots = self._slots
        if len(slots) >= self._size:
            if self._size <= 0:
                return
            old = slots.popleft()
            if old is not None:
                ordered = self.ordered
                del ordered[bisect_left(ordered, old)]
        slots.append(value)
        if value is not None:
            insort(self.ordered, value)

    def __len__(self) -> int:
        """How many numbers (not slots) the window holds."""
        return len(self.ordered)

    def median(self) -> float:
        """The median of the numbers in the window (which must hold one)."""
        return sorted_median(self.ordered)
