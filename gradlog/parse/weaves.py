"""Weaves: lines of several token plans in turn, read into records together.

A log that prints a few step lines, then a few dicts, then a validation line, and so
on, has stretches too short to read into columns one by one (``runs.Stretch``). When
every line of such a span opens a record or joins the one before (a line with a step,
or a dict without one), the span is a ``Weave``: its lines' numbers come from the
block's table of each plan (``runs.Lines.picked``), and ``WeaveTable`` tells at once
which lines open a record of their own, so that the lines between one that may not
(the first, one that joins the record before) go into columns together
(``RunReader._woven``)."""

from __future__ import annotations

import bisect
import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradlog.parse.compiled import Compiled
from gradlog.parse.runs import Lines, TokenPlan

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np


class Weave:
    """Lines ``first`` to ``end`` of a block, of several token plans in turn (a log that
    prints a few step lines, then a few dicts, then a validation line...), each of a
    plan whose lines each open a record or join the one before (any ``Compiled.run``
    with no batch counted), with their numbers (``table``: None when a plan's could not
    be read so)."""

    def __init__(self, block: Lines, table: WeaveTable | None, first: int, end: int) -> None:
        self._block, self._first, self._end = block, first, end
        self.table = None if table is None else table.part(first, end)
        self.plans: Sequence[TokenPlan] = block.plans[first:end]  # type: ignore[assignment]

    def __len__(self) -> int:
        return self._end - self._first

    def line(self, index: int) -> tuple[int, str]:
        """The number and text of line ``index`` (negative from the end)."""
        index = index % len(self) + self._first
        return self._block.numbers[index], self._block.lines[index]

    def shape_at(self, index: int) -> Compiled:
        """The shape line ``index`` is read by."""
        return self.plans[index].shape

    def values(self, index: int) -> list[float] | None:
        """The picked numbers of line ``index``, when the block's table of its plan was
        read; else None."""
        index %= len(self)
        return self._block.row(self.plans[index], index + self._first)

    def numbers(self, first: int, end: int) -> np.ndarray:
        """The numbers of lines ``first`` to ``end``."""
        numbers = self._block.numbers[self._first + first : self._first + end]
        if isinstance(numbers, range):
            return np.arange(numbers.start, numbers.stop, dtype=np.int64)
        return np.array(numbers, dtype=np.int64)


class WeaveTable:
    """The numbers of a block's lines of the plans that may be woven, over all those
    plans: each line's plan (``code``, an index into ``order``; -1: none of them); every
    metric of any plan as a column (``columns``: a plan's metrics' columns), NaN and
    ``present`` False where a line's plan lacks it; each line's printed step (NaN: none)
    and epoch (NaN: none, or not finite); whether each line's values differ from the
    line before's (``differ``); and whether a record of the line's metrics alone may go
    into columns (``own``). Made once per block; ``part`` is a weave's.

    ``closed(line)``: the first line from ``line`` on that does not open a record of its
    own in columns when the line before it did: a line with a step after one with the
    same printed step, a line without one whose values and epoch do not differ, or a
    line not ``own``."""

    __slots__ = (
        "_closed",
        "_count",
        "_offset",
        "code",
        "columns",
        "differ",
        "epochs",
        "order",
        "own",
        "present",
        "stepped",
        "steps",
        "values",
    )

    def __init__(self, block: Lines, order: list[TokenPlan]) -> None:
        self.order = order
        each, codes = block.codes()
        mine = np.full(len(codes), -1, np.int64)  # (each of the block's plans: its code)
        mine[[codes[plan] for plan in order]] = np.arange(len(order))
        self.code = mine[each]
        count = len(each)
        union: dict[str, int] = {}
        for plan in order:
            for name in plan.shape.run_key[0]:
                union.setdefault(name, len(union))
        self.columns = {
            plan: np.array([union[name] for name in plan.shape.run_key[0]], np.int64)
            for plan in order
        }
        self.values = np.full((count, len(union)), np.nan)
        self.present = np.zeros((count, len(union)), np.bool_)
        self.steps = np.full(count, np.nan)
        self.stepped = np.zeros(count, np.bool_)
        self.epochs = np.full(count, np.nan)
        self.differ = np.zeros(count, np.bool_)
        self.own = np.ones(count, np.bool_)
        self._closed: list[int] = []
        self._offset, self._count = 0, count

    @property
    def shapes(self) -> list[Compiled]:
        return [plan.shape for plan in self.order]

    @classmethod
    def read(cls, block: Lines, order: list[TokenPlan], plain: list[bool]) -> WeaveTable | None:
        """The table of ``block``'s lines of the plans in ``order``; None when a plan's
        lines cannot be read as a table. ``plain``: whether records of each plan's
        metrics alone keep their names (``Families.plain``): a line of a plan that is
        not opens no record in columns (a validation line that joins the step's record
        before it never does)."""
        table = cls(block, order)
        table.own = np.append(np.array(plain, np.bool_), False)[table.code]
        for code, plan in enumerate(order):
            names, has_step, has_epoch = plan.shape.run_key[:3]
            width = has_step + has_epoch + len(names)
            where = np.flatnonzero(table.code == code)
            rows = block.picked(plan, where, width)
            if rows is None:
                return None
            cells = np.ix_(where, table.columns[plan])
            table.values[cells] = rows[:, width - len(names) :]
            table.present[cells] = True
            if has_step:
                table.steps[where] = rows[:, 0]
                table.stepped[where] = True
            if has_epoch:
                table.epochs[where] = rows[:, int(has_step)]
        epochs, values = table.epochs, table.values
        epochs[~np.isfinite(epochs)] = np.nan
        after, before = values[1:], values[:-1]
        same = (after == before) | (np.isnan(after) & np.isnan(before))
        differ = (table.present[1:] & table.present[:-1] & ~same).any(axis=1)
        differ |= np.isfinite(epochs[1:]) & np.isfinite(epochs[:-1]) & (epochs[1:] != epochs[:-1])
        table.differ[1:] = differ
        stepped, steps = table.stepped, table.steps
        # A line with a step after one without opens a record: that one was numbered.
        opens = np.where(stepped[1:], ~stepped[:-1] | (steps[1:] != steps[:-1]), differ)
        table._closed = (np.flatnonzero(~(opens & table.own[1:])) + 1).tolist()
        return table

    def part(self, first: int, end: int) -> WeaveTable:
        """The table of lines ``first`` to ``end`` (views, not copies)."""
        part = copy.copy(self)
        part.code, part.values, part.present = (
            self.code[first:end],
            self.values[first:end],
            self.present[first:end],
        )
        part.steps, part.stepped, part.epochs, part.differ, part.own = (
            self.steps[first:end],
            self.stepped[first:end],
            self.epochs[first:end],
            self.differ[first:end],
            self.own[first:end],
        )
        part._offset, part._count = self._offset + first, end - first
        return part

    def closed(self, line: int) -> int:
        """The first line from ``line`` on that does not open a record of its own, or
        the count of lines when each does."""
        found = self._closed
        at = bisect.bisect_left(found, line + self._offset)
        return min(found[at] - self._offset, self._count) if at < len(found) else self._count
