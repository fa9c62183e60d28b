"""A run of consecutive records as columns: what the rules read in bulk.

The engine hands every rule the records completed by one read (a block of the file, or
what a live input delivered) at once. A rule screens the block with array operations,
advances its state over the quiet stretches in bulk and looks closely only at the
records the screen flags. Columns are built on first use and shared by every rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gradlog.columns import RecordRun
from gradlog.model import Record

Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
NAN = math.nan


class Block:
    """``records`` (in order) with their steps, lines and metrics as numpy columns."""

    __slots__ = ("_lines", "_names", "_present", "_steps", "_values", "records")

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self._values: dict[str, Floats] = {}
        self._present: dict[str, Flags] = {}
        self._steps: Floats | None = None
        self._lines: npt.NDArray[np.int64] | None = None
        self._names: tuple[str, ...] | None = None
        if isinstance(records, RecordRun):  # read in bulk: the columns are there
            self._steps, self._lines, self._names = records.steps, records.lines, records.names
            everywhere = np.ones(len(records), np.bool_)
            for name in records.names:
                self._values[name] = np.ascontiguousarray(records.column(name))
                self._present[name] = everywhere

    def __len__(self) -> int:
        return len(self.records)

    @property
    def names(self) -> tuple[str, ...]:
        """Every metric name some record of the block has, in order of first sight."""
        if self._names is None:
            seen: dict[str, None] = {}
            for record in self.records:
                for name in record.metrics:
                    if name not in seen:
                        seen[name] = None
            self._names = tuple(seen)
        return self._names

    @property
    def steps(self) -> Floats:
        """Each record's step, as a float."""
        if self._steps is None:
            self._steps = np.fromiter((r.step for r in self.records), np.float64, len(self.records))
        return self._steps

    @property
    def lines(self) -> npt.NDArray[np.int64]:
        """Each record's first line number."""
        if self._lines is None:
            self._lines = np.fromiter((r.line for r in self.records), np.int64, len(self.records))
        return self._lines

    @property
    def bits(self) -> Flags | None:
        """Whether each record's losses are in bits; None when none is (the usual case)."""
        if isinstance(self.records, RecordRun):
            return None  # a run in columns never holds a record in bits
        if not any(r.bits for r in self.records):
            return None
        return np.fromiter((r.bits for r in self.records), np.bool_, len(self.records))

    def values(self, name: str) -> Floats:
        """Metric ``name`` of each record; NaN where a record lacks it (see ``present``,
        since a printed NaN is NaN too)."""
        found = self._values.get(name)
        if found is None and isinstance(self.records, RecordRun):  # no record has it
            found = self._values[name] = np.full(len(self.records), NAN)
        elif found is None:
            get = NAN
            found = self._values[name] = np.fromiter(
                (r.metrics.get(name, get) for r in self.records), np.float64, len(self.records)
            )
        return found

    def present(self, name: str) -> Flags:
        """Whether each record has metric ``name`` (printed, even as NaN)."""
        found = self._present.get(name)
        if found is None and isinstance(self.records, RecordRun):  # no record has it
            found = self._present[name] = np.zeros(len(self.records), np.bool_)
        elif found is None:
            found = self._present[name] = np.fromiter(
                (name in r.metrics for r in self.records), np.bool_, len(self.records)
            )
        return found

    def finite(self, name: str) -> Flags:
        """Whether each record has metric ``name`` as a finite number."""
        return np.isfinite(self.values(name))
