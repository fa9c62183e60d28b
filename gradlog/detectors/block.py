"""A run of consecutive records as columns: what the rules read in bulk.

The engine hands every rule the records completed by one read (a block of the file, or
what a live input delivered) at once. A rule screens the block with array operations,
advances its state over the quiet stretches in bulk and looks closely only at the
records the screen flags. Columns are built on first use and shared by every rule.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gradlog.columns import Parts, RecordRun
from gradlog.model import Record

Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


def window_extremes(values: Floats, size: int, pick: np.ufunc = np.minimum) -> Floats:
    """The least of each full window of ``size`` values (``out[i]``: of ``values[i : i +
    size]``), by doubling spans (log2(size) passes rather than ``size``). ``pick`` chooses
    how: ``np.maximum`` takes the most; ``np.fmin`` and ``np.fmax`` pass over NaN."""
    found = values
    span = 1
    while 2 * span <= size:
        found = pick(found[:-span], found[span:])
        span *= 2
    if span < size:  # two overlapping spans cover the window
        count = len(values) - size + 1
        found = pick(found[:count], found[size - span : size - span + count])
    return found


NAN = math.nan
_EPOCHS = "\x00epochs"  # the epoch column's key among the metrics' (no metric's name)
_NOWHERE = (np.zeros(0, np.int64), np.zeros(0))  # a metric no record of a list prints
_FEW_PARTS = 8  # parts a column is made of piece by piece; more: the lists' records at once


class Block:
    """Records (in order) with their steps, lines and metrics as numpy columns.

    Made of parts: lists of records, and runs of records read into columns
    (``RecordRun``) whose columns are used as they are. ``records`` is one sequence over
    all parts; a record of a run is made only when it is asked for."""

    __slots__ = (
        "_layout",
        "_lines",
        "_names",
        "_parts",
        "_present",
        "_steps",
        "_tables",
        "_values",
        "records",
    )

    def __init__(self, records: Sequence[Record] | Parts) -> None:
        if isinstance(records, Parts):
            self._parts: tuple[Sequence[Record], ...] = records.parts
            self.records: Sequence[Record] = records
        else:
            self._parts = (records,)
            self.records = records
        self._values: dict[str, Floats] = {}
        self._present: dict[str, Flags] = {}
        self._steps: Floats | None = None
        self._lines: npt.NDArray[np.int64] | None = None
        self._names: tuple[str, ...] | None = None
        # With many parts: the lists' records together, where each goes, and the runs.
        self._layout: tuple[list[Record], npt.NDArray[np.int64], list[Any], int] | None = None
        self._tables: dict[int, dict[str, tuple[npt.NDArray[np.int64], Floats]]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def _column(
        self, of_run: Callable[[RecordRun], Any], of_records: Callable[[Sequence[Record]], Any]
    ) -> Any:
        """A column over every part: ``of_run`` for runs, ``of_records`` for lists. With
        many parts (a log that changes format every few lines makes hundreds, each a few
        numpy calls), all the lists' records at once and the runs of the same metrics as
        one run, each put in its places (``_merged``)."""
        parts = self._parts
        if len(parts) <= _FEW_PARTS:
            pieces = [
                of_run(part) if isinstance(part, RecordRun) else of_records(part) for part in parts
            ]
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        loose, where, runs, total = self._merged()
        found = of_records(loose)
        column = np.empty(total, dtype=found.dtype)
        column[where] = found
        for places, run in runs:
            column[places] = of_run(run)
        return column

    def _merged(self) -> tuple[list[Record], npt.NDArray[np.int64], list[Any], int]:
        """The lists' records together and where each goes; each set of runs of the same
        metrics as one run, with where its records go; and the count of records."""
        if self._layout is None:
            loose: list[Record] = []
            places: list[range] = []
            by_names: dict[tuple[str, ...], tuple[list[range], list[RecordRun]]] = {}
            at = 0
            for part in self._parts:
                if isinstance(part, RecordRun):
                    spots, runs = by_names.setdefault(part.names, ([], []))
                    spots.append(range(at, at + len(part)))
                    runs.append(part)
                else:
                    loose += part
                    places.append(range(at, at + len(part)))
                at += len(part)
            merged = [
                (_positions(spots), runs[0] if len(runs) == 1 else _joined(runs))
                for spots, runs in by_names.values()
            ]
            self._layout = (loose, _positions(places), merged, at)
        return self._layout

    @property
    def names(self) -> tuple[str, ...]:
        """Every metric name some record of the block has, in order of first sight."""
        if self._names is None:
            seen: dict[str, None] = {}
            for part in self._parts:
                if isinstance(part, RecordRun):
                    seen.update(dict.fromkeys(part.names))
                    continue
                for record in part:
                    for name in record.metrics:
                        if name not in seen:
                            seen[name] = None
            self._names = tuple(seen)
        return self._names

    def _table(self, part: Sequence[Record]) -> dict[str, tuple[npt.NDArray[np.int64], Floats]]:
        """Each metric of a list of records (in order of first sight): where in the list
        records print it, and what. One pass over the records for every metric."""
        found = self._tables.get(id(part))
        if found is None:
            listed: dict[str, tuple[list[int], list[float]]] = {}
            for index, record in enumerate(part):
                for name, value in record.metrics.items():
                    entry = listed.get(name)
                    if entry is None:
                        entry = listed[name] = ([], [])
                    entry[0].append(index)
                    entry[1].append(value)
            found = self._tables[id(part)] = {
                name: (np.array(where, np.int64), np.array(values, np.float64))
                for name, (where, values) in listed.items()
            }
        return found

    @property
    def steps(self) -> Floats:
        """Each record's step, as a float."""
        if self._steps is None:
            self._steps = self._column(
                lambda run: run.steps,
                lambda part: np.fromiter((r.step for r in part), np.float64, len(part)),
            )
        return self._steps

    @property
    def lines(self) -> npt.NDArray[np.int64]:
        """Each record's first line number."""
        if self._lines is None:
            self._lines = self._column(
                lambda run: run.lines,
                lambda part: np.fromiter((r.line for r in part), np.int64, len(part)),
            )
        return self._lines

    @property
    def epochs(self) -> Floats:
        """Each record's epoch; NaN where it has none (see ``has_epoch``)."""
        return self._epochs()[0]

    @property
    def has_epoch(self) -> Flags:
        """Whether each record has an epoch."""
        return self._epochs()[1]

    def _epochs(self) -> tuple[Floats, Flags]:
        found = self._values.get(_EPOCHS)
        if found is None:

            def of_run(run: RecordRun) -> Floats:
                return np.full(len(run), NAN) if run.epochs is None else run.epochs

            def of_records(part: Sequence[Record]) -> Floats:
                return np.fromiter(
                    (NAN if r.epoch is None else r.epoch for r in part), np.float64, len(part)
                )

            found = self._values[_EPOCHS] = self._column(of_run, of_records)
            self._present[_EPOCHS] = self._column(
                lambda run: (
                    np.zeros(len(run), np.bool_) if run.epochs is None else np.isfinite(run.epochs)
                ),
                lambda part: np.fromiter((r.epoch is not None for r in part), np.bool_, len(part)),
            )
        return found, self._present[_EPOCHS]

    @property
    def bits(self) -> Flags | None:
        """Whether each record's losses are in bits; None when none is (the usual case)."""
        lists = [part for part in self._parts if not isinstance(part, RecordRun)]
        if not any(r.bits for part in lists for r in part):
            return None  # a run in columns never holds a record in bits
        found: Flags = self._column(
            lambda run: np.zeros(len(run), np.bool_),
            lambda part: np.fromiter((r.bits for r in part), np.bool_, len(part)),
        )
        return found

    def printed(self) -> dict[str, Floats]:
        """Each metric's values where records print it, in record order, the metrics in
        order of first sight. A value column not asked for yet is made and let go (a
        block of records printing many names would otherwise hold a column of each)."""
        found: dict[str, Floats] = {}
        for name in self.names:
            values = self._values.get(name)
            if values is None:
                values = self._value_column(name)
            found[name] = values[self.present(name)]
        return found

    def nonfinite(self, watched: Callable[[str], bool]) -> Flags:
        """Whether each record prints a NaN or an infinity for a metric ``watched`` names:
        one pass over the records, keeping no column (see ``printed``)."""
        verdicts: dict[str, bool] = {}

        def watch(name: str) -> bool:
            verdict = verdicts.get(name)
            if verdict is None:
                verdict = verdicts[name] = watched(name)
            return verdict

        def of_run(run: RecordRun) -> Flags:
            flags = np.zeros(len(run), np.bool_)
            for name in run.names:
                if watch(name):
                    flags |= ~np.isfinite(run.column(name))
            return flags

        def of_records(part: Sequence[Record]) -> Flags:
            flags = np.zeros(len(part), np.bool_)
            for name, (where, values) in self._table(part).items():
                if watch(name):
                    flags[where[~np.isfinite(values)]] = True
            return flags

        found: Flags = self._column(of_run, of_records)
        return found

    def values(self, name: str) -> Floats:
        """Metric ``name`` of each record; NaN where a record lacks it (see ``present``,
        since a printed NaN is NaN too)."""
        found = self._values.get(name)
        if found is None:
            found = self._values[name] = self._value_column(name)
        return found

    def _value_column(self, name: str) -> Floats:
        """``values(name)``, made anew."""
        found: Floats = self._column(
            lambda run: (
                np.ascontiguousarray(run.column(name))
                if name in run.names
                else np.full(len(run), NAN)
            ),
            lambda part: self._spread(part, name),
        )
        return found

    def _spread(self, part: Sequence[Record], name: str, flags: bool = False) -> Any:
        """Metric ``name`` of each record of a list, NaN where it has none; ``flags``:
        whether each prints it instead."""
        where, values = self._table(part).get(name, _NOWHERE)
        if flags:
            printed = np.zeros(len(part), np.bool_)
            printed[where] = True
            return printed
        column = np.full(len(part), NAN)
        column[where] = values
        return column

    def present(self, name: str) -> Flags:
        """Whether each record has metric ``name`` (printed, even as NaN)."""
        found = self._present.get(name)
        if found is None:
            found = self._present[name] = self._column(
                lambda run: np.full(len(run), name in run.names, np.bool_),
                lambda part: self._spread(part, name, flags=True),
            )
        return found

    def finite(self, name: str) -> Flags:
        """Whether each record has metric ``name`` as a finite number."""
        return np.isfinite(self.values(name))


def _positions(spots: list[range]) -> npt.NDArray[np.int64]:
    """The positions in ``spots``, in order, as one array."""
    return np.fromiter(itertools.chain.from_iterable(spots), np.int64, sum(map(len, spots)))


def _joined(runs: list[RecordRun]) -> RecordRun:
    """Runs of the same metrics as one run, for its columns (never for its records)."""
    epochs = None
    if any(run.epochs is not None for run in runs):
        epochs = np.concatenate(
            [np.full(len(run), NAN) if run.epochs is None else run.epochs for run in runs]
        )
    return RecordRun(
        runs[0].names,
        np.concatenate([run.steps for run in runs]),
        np.concatenate([run.lines for run in runs]),
        epochs,
        np.concatenate([run.values for run in runs]),
    )
