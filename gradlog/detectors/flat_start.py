"""A loss that never left the level it began at: the run learned nothing from its start.

Followed by ``stalled`` for the whole run, record by record or a block at a time (the
same levels either way), and judged when the run ends."""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from gradlog.config import StalledThresholds
from gradlog.model import Record, Step
from gradlog.parse.names import LOSS

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block, Floats
else:
    from gradlog.lazy import numpy as np  # a short log is read without numpy


class FlatStart:
    """The loss level (the median of the last ``flat_window`` finite losses, an odd
    count: one of them, the same in either path) from the run's first window on: where
    it began, its highest, and whether it ever fell ``flat_drop`` below where it began
    (then the run learned, and nothing more is followed)."""

    __slots__ = (
        *("count", "first", "last", "learned", "limits", "start", "steps", "tail", "top"),
        "window",
    )

    def __init__(self, limits: StalledThresholds) -> None:
        self.limits = limits
        self.window = limits.flat_window
        self._reset()

    def _reset(self) -> None:
        self.tail: deque[float] = deque(maxlen=self.window)  # the latest finite losses
        self.count = 0  # finite losses seen
        self.steps: list[Step] = []  # the steps of the first two of them
        self.start: float | None = None  # the first level
        self.top = -math.inf  # the highest level
        self.learned = False
        self.first: Record | None = None  # the records of the first and last of them
        self.last: Record | None = None

    def add(self, record: Record, loss: float, drop: float) -> None:
        """One record with a finite training loss."""
        if self.learned:
            return
        self.count += 1
        if len(self.steps) < 2:
            self.steps.append(record.step)
        if self.first is None:
            self.first = record
        self.last = record
        self.tail.append(loss)
        if len(self.tail) == self.window:
            self._levels([sorted(self.tail)[self.window // 2]], drop)

    def add_block(self, block: Block, drop: float) -> None:
        """Every record of ``block`` with a finite training loss, as ``add`` on each."""
        if self.learned or not len(block):
            return
        finite = block.finite(LOSS)
        at = np.flatnonzero(finite)
        if not len(at):
            return
        losses: Floats = block.values(LOSS)[at]
        self.count += len(at)
        if len(self.steps) < 2:
            self.steps += block.steps[at[: 2 - len(self.steps)]].tolist()
        if self.first is None:
            self.first = block.records[int(at[0])]
        self.last = block.records[int(at[-1])]
        held = np.fromiter(self.tail, np.float64, len(self.tail))
        seq = np.concatenate((held, losses))
        self.tail.extend(losses[-self.window :].tolist())
        if len(seq) >= self.window:
            windows = np.lib.stride_tricks.sliding_window_view(seq, self.window)
            levels = np.partition(windows, self.window // 2, axis=1)[:, self.window // 2]
            self._levels(levels.tolist(), drop)

    def _levels(self, levels: list[float], drop: float) -> None:
        if self.start is None:
            self.start = levels[0]
        self.top = max(self.top, *levels)
        if min(levels) < (1 - drop) * self.start:
            self._reset()  # nothing more is needed (and the state is the same either way)
            self.learned = True

    def from_start(self) -> bool:
        """Whether the log shows the run from its start: its first loss within one
        logging interval of step 0 (an excerpt, or a resumed run, starts later)."""
        if not self.steps:
            return False
        interval = self.steps[1] - self.steps[0] if len(self.steps) > 1 else 1
        return self.steps[0] <= max(1, interval)
