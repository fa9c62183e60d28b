"""Where a log starts a run again: a second run appended to the same file, the next trial
of a hyperparameter search, a job restarted from scratch.

Its steps (or, in a log that prints none, its epochs: HF Trainer's ``'epoch': 0.01``) go
back to where the run began while its loss goes back up to where that run began (or
jumps to twice its recent level: another model trained next): a restart, not a spike or
a climb of the run before. A loss printed there as ``inf`` or ``nan``, after a finite
one, is the new run's average over no batch yet (RoboPen's ``end of epoch -1, samples
trained 0, average training loss inf``); after a NaN, the run going on. A step that goes
back with the loss where it was is not one (a counter that starts again with each epoch,
a resume from a checkpoint, an evaluation printed at an earlier step). Only a loss that
fell by a third or more can say so: a run that learned nothing yet shows no restart.

``Restarts`` follows the records of one input, one at a time (``at``) or a block's
columns at once (``first``), the same either way, and says where each new run begins;
the engine then judges that run with fresh rules.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradlog.detectors.base import median
from gradlog.model import Record
from gradlog.parse.names import LOSS

if TYPE_CHECKING:
    import numpy as np

LEVEL = 5  # finite losses whose median is a run's starting level, and its recent one
FELL = 1.5  # the starting level is at least this many times the recent one
BACK = 0.5  # a restart's loss is back at least this far from the recent level to the start
# ... or this many times the recent level: another model trained next (Rasa's DIET, then
# its response selector, then TED), whose loss begins where it begins
SURGE = 2.0
NEAR = 0.05  # how near to the run's first step (a share of the steps it ran) a restart is
# Finite losses a run has printed before another may start: a short run's levels are the
# medians of its first and second halves (caret's folds of nnet, ``iter 10 value 78.87``
# .. ``iter 50 value 0.19``, each its own model).
LEAST = 4


class _Axis:
    """Where a run began on one axis (its steps, or its epochs), how far it went, and
    where its last record was."""

    __slots__ = ("first", "last", "top")

    def __init__(self) -> None:
        self.first: float | None = None
        self.top = -math.inf
        self.last: float | None = None

    def back_to_start(self, value: float) -> bool:
        """Whether ``value`` goes back, to where the run began."""
        if self.last is None or self.first is None or not value < self.last:
            return False
        return value <= self.first + max(NEAR, NEAR * (self.top - self.first))

    def maybe_back(self, values: np.ndarray) -> np.ndarray:
        """Of a block's values (NaN: none printed), those that may go back to where the
        run began (``back_to_start``, by the run's first value and the highest before
        each, of which the last is never more), as flags."""
        import numpy as np

        printed: np.ndarray = ~np.isnan(values)
        if not printed.any():
            return printed
        known = np.where(printed, values, -np.inf)
        peak = np.maximum.accumulate(np.append(self.top, known))[:-1]
        first = self.first if self.first is not None else float(values[printed][0])
        near = first + np.maximum(NEAR, NEAR * (peak - first))
        flags: np.ndarray = printed & (known < peak) & (known <= near)
        return flags

    def take(self, value: float) -> None:
        if math.isnan(value):
            return
        if self.first is None:
            self.first = value
        self.top = max(self.top, value)
        self.last = value

    def take_all(self, values: np.ndarray) -> None:
        import numpy as np

        values = values[~np.isnan(values)]
        if len(values):
            if self.first is None:
                self.first = float(values[0])
            self.top = max(self.top, float(values.max()))
            self.last = float(values[-1])


class Restarts:
    """The runs of one input so far: where each began (its first record's line)."""

    def __init__(self) -> None:
        self.lines: list[int] = []  # where each run after the first began
        self._reset()

    def _reset(self) -> None:
        self._steps, self._epochs = _Axis(), _Axis()
        self._start: list[float] = []  # the run's first finite losses (2 x LEVEL)
        self._recent: deque[float] = deque(maxlen=LEVEL)  # its latest finite losses
        self._finite = False  # the latest loss printed was finite

    def at(self, record: Record) -> bool:
        """Take one record; whether it begins a new run."""
        step = float(record.step)
        epoch = math.nan if record.epoch is None else float(record.epoch)
        loss = record.metrics.get(LOSS)
        found = self._restarts(step, epoch, loss)
        if found:
            self.lines.append(record.line)
            self._reset()
        self._take(step, epoch, loss)
        return found

    def first(
        self,
        records: Sequence[Record],
        steps: np.ndarray,
        epochs: np.ndarray,
        losses: np.ndarray,
        printed: np.ndarray,
    ) -> int | None:
        """Take a block's records (``steps``; ``epochs``: NaN where none was printed;
        ``losses`` where ``printed``) up to the first that begins a new run, whose index
        it returns (None: none does, and the whole block is taken). That record is left
        for the next call, which takes it as the new run's first."""
        import numpy as np

        if not len(steps):
            return None
        went = self._steps.maybe_back(steps) | self._epochs.maybe_back(epochs)
        done = 0
        for index in np.flatnonzero(went).tolist():
            self._bulk(
                steps[done:index], epochs[done:index], losses[done:index], printed[done:index]
            )
            done = index
            loss = float(losses[index]) if printed[index] else None
            step, epoch = float(steps[index]), float(epochs[index])
            if self._restarts(step, epoch, loss):
                self.lines.append(records[index].line)
                self._reset()
                return int(index)
            self._take(step, epoch, loss)
            done = index + 1
        self._bulk(steps[done:], epochs[done:], losses[done:], printed[done:])
        return None

    def _restarts(self, step: float, epoch: float, loss: float | None) -> bool:
        """Whether a record at ``step`` and ``epoch`` with this loss begins a new run."""
        if not (self._steps.back_to_start(step) or self._epochs.back_to_start(epoch)):
            return False  # (not back, or back but not to the beginning: a resume)
        seen = len(self._start)
        if seen < LEAST or loss is None or loss <= 0:
            return False
        if seen < 2 * LEVEL:  # (every finite loss so far: its halves)
            half = (seen + 1) // 2
            start, recent = median(self._start[:half]), median(self._start[half:])
        else:
            start, recent = median(self._start[:LEVEL]), median(self._recent)
        if recent <= 0 or start < FELL * recent:
            return False
        if not math.isfinite(loss):
            # A new run's average over no batch yet (inf, NaN) after a finite loss; after
            # a NaN it is the same run going on (a counter that starts again each epoch).
            return self._finite
        return loss >= recent + BACK * (start - recent) or loss >= SURGE * recent

    def _take(self, step: float, epoch: float, loss: float | None) -> None:
        self._steps.take(step)
        self._epochs.take(epoch)
        if loss is not None:
            self._finite = math.isfinite(loss)
            if self._finite:
                if len(self._start) < 2 * LEVEL:
                    self._start.append(loss)
                self._recent.append(loss)

    def _bulk(
        self, steps: np.ndarray, epochs: np.ndarray, losses: np.ndarray, printed: np.ndarray
    ) -> None:
        """``_take`` on each of a stretch of records in which no step or epoch goes back."""
        import numpy as np

        if not len(steps):
            return
        self._steps.take_all(steps)
        self._epochs.take_all(epochs)
        shown = losses[printed]
        if len(shown):
            self._finite = bool(np.isfinite(shown[-1]))
        finite = shown[np.isfinite(shown)]
        if len(self._start) < 2 * LEVEL:
            self._start += finite[: 2 * LEVEL - len(self._start)].tolist()
        self._recent.extend(finite[-LEVEL:].tolist())
