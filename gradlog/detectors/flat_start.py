"""A loss that never left the level it began at: the run learned nothing from its start.

Followed by ``stalled`` for the whole run, record by record or a block at a time (the
same levels either way), and judged when the run ends."""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from gradlog.config import StalledThresholds
from gradlog.model import Record, Step
from gradlog.parse.names import ACC, LOSS

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block, Floats

    Ints = np.ndarray[tuple[int], np.dtype[np.int64]]
else:
    from gradlog.lazy import numpy as np  # a short log is read without numpy

_LEARNED = 1.5  # an accuracy this many times its first value: the model learned


class FlatStart:
    """The loss level (the median of the last ``flat_window`` finite losses, an odd
    count) from the run's first window on: where it began, and whether it ever fell
    ``flat_drop`` below that or rose ``flat_rise`` above it. Then the run moved, and
    nothing more is followed.

    The median of an odd window is below a bar exactly when more than half its values
    are: a block is screened by counting, a record by its sorted window, alike."""

    __slots__ = (
        *("accs", "count", "epochs", "first", "last", "limits", "moved", "start", "steps"),
        *("tail", "window"),
    )

    def __init__(self, limits: StalledThresholds) -> None:
        self.limits = limits
        self.window = limits.flat_window
        self._reset()

    def _reset(self) -> None:
        self.tail: deque[float] = deque(maxlen=self.window)  # the latest finite losses
        self.count = 0  # finite losses seen
        self.steps: list[Step] = []  # the steps of the first two of them
        self.epochs: list[float | None] = []  # and their epochs
        self.start: float | None = None  # the first level
        self.moved = False
        self.first: Record | None = None  # the records of the first and last of them
        self.last: Record | None = None
        self.accs: list[float] = []  # the first and the latest accuracy beside them

    def _bars(self) -> tuple[float, float]:
        """The levels the loss must fall under or rise over to have moved: shares of its
        first level's size, so a loss below zero (BYOL's negative cosine similarity,
        a flow's log-likelihood) has them too."""
        assert self.start is not None
        size = abs(self.start)
        return self.start - self.limits.flat_drop * size, self.start + self.limits.flat_rise * size

    def add(self, record: Record, loss: float) -> None:
        """One record with a finite training loss."""
        if self.moved:
            return
        self.count += 1
        if len(self.steps) < 2:
            self.steps.append(record.step)
            self.epochs.append(record.epoch)
        if self.first is None:
            self.first = record
        self.last = record
        acc = record.metrics.get(ACC)
        if acc is not None and math.isfinite(acc):
            self._saw_accs(acc, acc)
        self.tail.append(loss)
        if len(self.tail) == self.window:
            level = sorted(self.tail)[self.window // 2]
            if self.start is None:
                self.start = level
            low, high = self._bars()
            if not low <= level <= high:
                self._moved()

    def add_block(self, block: Block) -> None:
        """Every record of ``block`` with a finite training loss, as ``add`` on each."""
        if self.moved or not len(block):
            return
        at = np.flatnonzero(block.finite(LOSS))
        if not len(at):
            return
        losses: Floats = block.values(LOSS)[at]
        self.count += len(at)
        if len(self.steps) < 2:
            first = at[: 2 - len(self.steps)]
            self.steps += block.steps[first].tolist()
            self.epochs += [block.records[int(i)].epoch for i in first]
        if self.first is None:
            self.first = block.records[int(at[0])]
        self.last = block.records[int(at[-1])]
        accs = block.values(ACC)[at]
        accs = accs[np.isfinite(accs)]
        if len(accs):
            self._saw_accs(float(accs[0]), float(accs[-1]))
        window, held = self.window, len(self.tail)
        seq = np.concatenate((np.fromiter(self.tail, np.float64, held), losses))
        self.tail.extend(losses[-window:].tolist())
        if len(seq) < window:
            return
        if self.start is None:
            self.start = float(np.partition(seq[:window], window // 2)[window // 2])
        low, high = self._bars()
        half = window // 2
        for outside in (np.less(seq, low), np.greater(seq, high)):
            counts: Ints = np.cumsum(outside)
            # In each window of ``window`` values (those ending from the window's end on):
            # more than half outside the bar, so its median is too.
            inside = counts[window - 1 :] - np.concatenate(([0], counts[:-window]))
            if (inside > half).any():
                self._moved()
                return

    def _moved(self) -> None:
        self._reset()  # nothing more is needed (and the state is the same either way)
        self.moved = True

    def _saw_accs(self, first: float, last: float) -> None:
        """Accuracies seen beside the losses, the first and the last of them in order."""
        self.accs = [self.accs[0] if self.accs else first, last]

    def learned(self) -> bool:
        """Whether the accuracy printed beside the losses rose clearly, to ``_LEARNED``
        times its first value or more: a model that scores better learns, whatever its
        loss does (a retrieval loss summed over a batch converges within a few epochs
        while its top-k accuracies keep climbing)."""
        accs = self.accs
        return len(accs) == 2 and accs[0] > 0 and accs[1] >= _LEARNED * accs[0]

    def from_start(self) -> bool:
        """Whether the log shows the run from its start: its first loss within one
        logging interval of step 0 (an excerpt, or a resumed run, starts later), or of
        epoch 0 where the records print their epoch: HF's dicts print no step, so a
        settings banner before them makes a record that moves the first loss to step 2
        (``'epoch': 0.03`` then ``0.05``: twice the interval allows for the rounding)."""
        if not self.steps:
            return False
        interval = self.steps[1] - self.steps[0] if len(self.steps) > 1 else 1
        if self.steps[0] <= max(1, interval):
            return True
        if len(self.epochs) < 2 or self.epochs[0] is None or self.epochs[1] is None:
            return False
        first, every = self.epochs[0], self.epochs[1] - self.epochs[0]
        return 0 <= first < 1 and every > 0 and first <= 2 * every
