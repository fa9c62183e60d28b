"""Where a log starts a run again: a second run appended to the same file, the next trial
of a hyperparameter search, a job restarted from scratch.

Its steps go back to where the log's run began while its loss goes back up to where that
run began: a restart, not a spike or a climb of the run before. A step that goes back
with the loss where it was is not one (a counter that starts again with each epoch, a
resume from a checkpoint, an evaluation printed at an earlier step). Only a loss that
fell by a third or more can say so: a run that learned nothing yet shows no restart.

``Restarts`` follows the records of one input, one at a time (``at``) or a block's
columns at once (``first``), the same either way, and says where each new run begins;
the engine then judges that run with fresh rules.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradlog.model import Record
from gradlog.parse.names import LOSS

if TYPE_CHECKING:
    import numpy as np

LEVEL = 5  # finite losses whose median is a run's starting level, and its recent one
FELL = 1.5  # the starting level is at least this many times the recent one
BACK = 0.5  # a restart's loss is back at least this far from the recent level to the start
NEAR = 0.05  # how near to the run's first step (a share of the steps it ran) a restart is
LEAST = 2 * LEVEL  # records a run has run before another may start


class Restarts:
    """The runs of one input so far: where each began (its first record's line)."""

    def __init__(self) -> None:
        self.lines: list[int] = []  # where each run after the first began
        self._reset()

    def _reset(self) -> None:
        self._first: float | None = None  # the run's first step
        self._top = -math.inf  # its highest step
        self._last: float | None = None  # the step of its last record
        self._records = 0
        self._start: list[float] = []  # its first finite losses
        self._recent: deque[float] = deque(maxlen=LEVEL)  # its latest finite losses

    def at(self, record: Record) -> bool:
        """Take one record; whether it begins a new run."""
        step = float(record.step)
        loss = record.metrics.get(LOSS)
        found = self._restarts(step, loss)
        if found:
            self.lines.append(record.line)
            self._reset()
        self._take(step, loss)
        return found

    def first(self, records: Sequence[Record], steps: np.ndarray, losses: np.ndarray) -> int | None:
        """Take a block's records (``steps``, and ``losses``: NaN where none was printed)
        up to the first that begins a new run, whose index it returns (None: none does,
        and the whole block is taken). That record is left for the next call, which
        takes it as the new run's first."""
        import numpy as np

        if not len(steps):
            return None
        before = self._last if self._last is not None else steps[0]
        back = np.flatnonzero(np.diff(steps, prepend=before) < 0)
        done = 0
        for index in back.tolist():
            self._bulk(steps[done:index], losses[done:index])
            done = index
            loss = float(losses[index])
            if self._restarts(float(steps[index]), None if math.isnan(loss) else loss):
                self.lines.append(records[index].line)
                self._reset()
                return int(index)
        self._bulk(steps[done:], losses[done:])
        return None

    def _restarts(self, step: float, loss: float | None) -> bool:
        """Whether a record at ``step`` with this loss begins a new run."""
        if self._last is None or self._first is None or step >= self._last:
            return False
        if self._records < LEAST or loss is None or not math.isfinite(loss) or loss <= 0:
            return False
        if step > self._first + max(1.0, NEAR * (self._top - self._first)):
            return False  # back, but not to the beginning: a resume, another counter
        if len(self._start) < LEVEL or len(self._recent) < LEVEL:
            return False
        start, recent = statistics.median(self._start), statistics.median(self._recent)
        if recent <= 0 or start < FELL * recent:
            return False
        return loss >= recent + BACK * (start - recent)

    def _take(self, step: float, loss: float | None) -> None:
        if self._first is None:
            self._first = step
        self._top = max(self._top, step)
        self._last = step
        self._records += 1
        if loss is not None and math.isfinite(loss):
            if len(self._start) < LEVEL:
                self._start.append(loss)
            self._recent.append(loss)

    def _bulk(self, steps: np.ndarray, losses: np.ndarray) -> None:
        """``_take`` on each of a stretch of records in which no step goes back."""
        import numpy as np

        if not len(steps):
            return
        if self._first is None:
            self._first = float(steps[0])
        self._top = max(self._top, float(steps.max()))
        self._last = float(steps[-1])
        self._records += len(steps)
        finite = losses[np.isfinite(losses)]
        if len(self._start) < LEVEL:
            self._start += finite[: LEVEL - len(self._start)].tolist()
        self._recent.extend(finite[-LEVEL:].tolist())
