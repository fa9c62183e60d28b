"""Records read in bulk: a run of log lines of one layout, kept as numpy columns.

The reader turns a run of lines that each print one whole record (a step and the same
metrics) into a ``RecordRun``: the steps, line numbers, epochs and values as columns,
with no object per record. The rules read the columns; a ``Record`` is made only for
the few records someone asks for (a diagnosis's evidence, a rule's close look).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

from gradlog.model import Record, step_value

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]
    Ints = npt.NDArray[np.int64]


class _Records(Sequence[Record]):
    """A sequence of records made on demand: ``_record(i)`` for 0 <= i < len."""

    __slots__ = ()

    def _record(self, index: int) -> Record:
        raise NotImplementedError

    def _slice(self, start: int, stop: int) -> list[Record]:
        """Records ``start`` to ``stop`` (a step of 1, within bounds)."""
        return [self._record(i) for i in range(start, stop)]

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return self._slice(start, stop) if start < stop else []
            return [self._record(i) for i in range(start, stop, step)]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._record(index)


class RecordRun(_Records):
    """Consecutive records with the same metrics, all printed, as columns."""

    __slots__ = ("_made", "epochs", "lines", "names", "steps", "values")

    def __init__(
        self,
        names: tuple[str, ...],
        steps: Floats,
        lines: Ints,
        epochs: Floats | None,
        values: Floats,
    ) -> None:
        self.names = names  # in the order a record's metrics hold them
        self.steps = steps
        self.lines = lines
        self.epochs = epochs  # NaN where a record has no epoch; None: none has one
        self.values = values  # one row per record, one column per name
        self._made: dict[int, Record] = {}

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Record]:
        return (self._record(i) for i in range(len(self)))

    def column(self, name: str) -> Floats:
        """The values of metric ``name``, one per record."""
        return self.values[:, self.names.index(name)]

    def _slice(self, start: int, stop: int) -> list[Record]:
        """Records ``start`` to ``stop``, their values read out of the columns at once."""
        made = self._made
        names = self.names
        rows = self.values[start:stop].tolist()
        steps = self.steps[start:stop].tolist()
        lines = self.lines[start:stop].tolist()
        epochs = (
            [None] * (stop - start) if self.epochs is None else self.epochs[start:stop].tolist()
        )
        found = []
        for offset, row in enumerate(rows):
            index = start + offset
            record = made.get(index)
            if record is None:
                epoch = epochs[offset]
                record = made[index] = Record(
                    step_value(steps[offset]),
                    lines[offset],
                    dict(zip(names, row, strict=True)),
                    None if epoch is None or not math.isfinite(epoch) else step_value(epoch),
                )
            found.append(record)
        return found

    def _record(self, index: int) -> Record:
        """Record ``index``, made once: the same object each time it is asked for."""
        made = self._made.get(index)
        if made is None:
            row = self.values[index].tolist()
            epoch = None
            if self.epochs is not None:
                value = self.epochs[index].item()
                epoch = step_value(value) if math.isfinite(value) else None
            made = self._made[index] = Record(
                step_value(self.steps[index].item()),
                int(self.lines[index]),
                dict(zip(self.names, row, strict=True)),
                epoch,
            )
        return made


class Parts(_Records):
    """Records from several parts in order (lists of records and ``RecordRun``s), as one
    sequence: what one read of a log completed."""

    __slots__ = ("_starts", "parts")

    def __init__(self, parts: Sequence[Sequence[Record]]) -> None:
        self.parts = tuple(part for part in parts if len(part))
        self._starts = list(itertools.accumulate((len(part) for part in self.parts), initial=0))

    def __len__(self) -> int:
        return self._starts[-1]

    def _record(self, index: int) -> Record:
        at = bisect.bisect_right(self._starts, index) - 1
        return self.parts[at][index - self._starts[at]]

    def _slice(self, start: int, stop: int) -> list[Record]:
        found: list[Record] = []
        at = bisect.bisect_right(self._starts, start) - 1
        while start < stop:
            first, part = self._starts[at], self.parts[at]
            end = min(stop, first + len(part))
            found += part[start - first : end - first]
            start, at = end, at + 1
        return found

    def __iter__(self) -> Iterator[Record]:
        return itertools.chain.from_iterable(self.parts)
