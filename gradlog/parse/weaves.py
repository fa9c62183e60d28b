"""Weaves: lines of several token plans in turn, read into records together.

A log that prints a few step lines, then a few dicts, then a validation line, and so
on, has stretches too short to read into columns one by one (``runs.Stretch``). When
every line of such a span opens a record or joins the one before (a line with a step,
or a dict without one), the span is a ``Weave``: its lines' numbers come from the
block's table of each plan (``runs.Lines.picked``), and ``WeaveTable`` tells at once
which lines open a record of their own, so that the lines between one that may not
(the first, one that joins the record before) go into columns together
(``WeaveReader._woven``). Lines of layouts known to yield nothing (a warning, a blank
line) change no record: a weave takes them in too, and only counts them, so that runs
of one plan with chatter between them are woven as well."""

from __future__ import annotations

import bisect
import copy
import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gradlog.columns import RecordRun
from gradlog.model import Record
from gradlog.parse.assemble import new_loop, went_back
from gradlog.parse.compiled import Compiled
from gradlog.parse.families import holds_loss
from gradlog.parse.runreader import ANY_DIALECT, RunReader
from gradlog.parse.runs import Lines, Listed, TokenPlan

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np


class Weave:
    """Lines ``first`` to ``end`` of a block's ``rows`` (the lines that are not quiet:
    each position in the block), of several token plans in turn (a log that prints a
    few step lines, then a few dicts, then a validation line...), each of a plan whose
    lines each open a record or join the one before (any ``Compiled.run`` with no batch
    counted), with their numbers (``table``: None when a plan's could not be read so).
    Between them, lines of layouts known to yield nothing (``quiet``: each layout's
    count of lines), which a line by line reading only counts."""

    def __init__(
        self,
        block: Lines,
        table: WeaveTable | None,
        first: int,
        end: int,
        rows: np.ndarray | None = None,
        quiet: dict[bytes, int] | None = None,
    ) -> None:
        self._block, self._first, self._end = block, first, end
        self._rows = None if rows is None else rows[first:end]
        self.quiet = quiet or {}
        self.table = None if table is None else table.part(first, end)

    def __len__(self) -> int:
        return self._end - self._first

    @property
    def block(self) -> Lines:
        return self._block

    def _at(self, index: int) -> int:
        """Line ``index``'s position in the block (negative from the end)."""
        index %= len(self)
        return index + self._first if self._rows is None else int(self._rows[index])

    @property
    def span(self) -> tuple[int, int]:
        """Where the weave's lines are in the block, quiet ones with them: first, end."""
        return self._at(0), self._at(-1) + 1

    def line(self, index: int) -> tuple[int, str]:
        """The number and text of line ``index`` (negative from the end)."""
        at = self._at(index)
        return self._block.numbers[at], self._block.lines[at]

    def shape_at(self, index: int) -> Compiled:
        """The shape line ``index`` is read by."""
        return self._plan(index).shape

    def _plan(self, index: int) -> TokenPlan:
        plan = self._block.plans[self._at(index)]
        assert plan is not None  # (a weave's lines are all of plans)
        return plan

    def values(self, index: int) -> list[float] | None:
        """The picked numbers of line ``index``, when the block's table of its plan was
        read; else None."""
        return self._block.row(self._plan(index), self._at(index))

    def numbers(self, first: int, end: int) -> np.ndarray:
        """The numbers of lines ``first`` to ``end``."""
        numbers = self._block.numbers
        if self._rows is not None:
            at: np.ndarray = self._rows[first:end]
            if isinstance(numbers, range):
                return at + numbers.start
            return np.fromiter(map(numbers.__getitem__, at.tolist()), np.int64, len(at))
        numbers = numbers[self._first + first : self._first + end]
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
        "_restarts",
        "checked",
        "code",
        "columns",
        "counts",
        "differ",
        "epochs",
        "order",
        "own",
        "present",
        "stepped",
        "steps",
        "summary",
        "values",
    )

    def __init__(self, block: Lines, order: list[TokenPlan], rows: np.ndarray | None) -> None:
        self.order = order
        each, codes = block.codes()
        mine = np.full(len(codes), -1, np.int64)  # (each of the block's plans: its code)
        mine[[codes[plan] for plan in order]] = np.arange(len(order))
        self.code = mine[each if rows is None else each[rows]]
        count = len(self.code)
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
        self.counts = np.full((count, 2), np.nan)  # a loop's count and total (``Roles.loop``)
        self.differ = np.zeros(count, np.bool_)
        self.summary = np.zeros(count, np.bool_)  # (``read``: a line read by itself)
        self.own = np.ones(count, np.bool_)
        self._closed: list[int] = []
        self._restarts: list[int] = []
        self._offset, self._count = 0, count
        # Whether its plans may still be woven, by when that was asked (the parser's
        # evictions and dialect: ``WeaveReader._still_woven``).
        self.checked: dict[tuple[int, int], bool] = {}

    @property
    def shapes(self) -> list[Compiled]:
        return [plan.shape for plan in self.order]

    @classmethod
    def read(
        cls, block: Lines, order: list[TokenPlan], plain: list[bool], rows: np.ndarray | None
    ) -> WeaveTable | None:
        """The table of ``block``'s lines of the plans in ``order``, a row for each of
        ``rows`` (positions in the block; None: every line); None when a plan's lines
        cannot be read as a table. ``plain``: whether records of each plan's metrics
        alone keep their names (``Families.plain``): a line of a plan that is not opens
        no record in columns (a validation line that joins the step's record before it
        never does)."""
        table = cls(block, order, rows)
        # (A header's line opens a block, never a record in columns.)
        own = [fine and plan.shape.run != "header" for plan, fine in zip(order, plain, strict=True)]
        table.own = np.append(np.array(own, np.bool_), False)[table.code]
        for code, plan in enumerate(order):
            names, has_step, has_epoch = plan.shape.run_key[:3]
            looped = plan.shape.run_key[6]
            width = has_step + has_epoch + len(names)
            where = np.flatnonzero(table.code == code)
            picked = block.picked(plan, where if rows is None else rows[where], width + 2 * looped)
            if picked is None:
                return None
            cells = np.ix_(where, table.columns[plan])
            table.values[cells] = picked[:, width - len(names) : width]
            if looped:
                table.counts[where] = picked[:, width:]
            table.present[cells] = True
            if has_step:
                table.steps[where] = picked[:, 0]
                table.stepped[where] = True
            if has_epoch:
                table.epochs[where] = picked[:, int(has_step)]
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
        # A line with a loss, neither step nor epoch, and a name the line before does not
        # print, after one with a step, may be the summary of the steps before it
        # (``Assembler._summary``): it is read by itself.
        printed = [set(plan.shape.run_key[0]) for plan in order]
        apart = np.ones((len(order) + 1, len(order) + 1), np.bool_)
        barred = [plan.shape.run_key[6] for plan in order]  # (a bar's count: no summary)
        for (one, held), (other, taken) in itertools.product(enumerate(printed), repeat=2):
            apart[one, other] = holds_loss(taken) and not taken <= held and not barred[other]
        codes = table.code
        summary = apart[codes[:-1], codes[1:]] & stepped[:-1] & ~stepped[1:]
        table.summary[1:] = summary & ~np.isfinite(epochs[1:])
        opens &= ~table.summary[1:]
        table._closed = (np.flatnonzero(~(opens & table.own[1:])) + 1).tolist()
        at = np.flatnonzero(stepped)
        table._restarts = at[went_back(steps[at], epochs[at])].tolist()
        return table

    def part(self, first: int, end: int) -> WeaveTable:
        """The table of lines ``first`` to ``end`` (views, not copies)."""
        part = copy.copy(self)
        part.code, part.values, part.present = (
            self.code[first:end],
            self.values[first:end],
            self.present[first:end],
        )
        part.steps, part.stepped, part.epochs, part.differ, part.own, part.summary = (
            self.steps[first:end],
            self.stepped[first:end],
            self.epochs[first:end],
            self.differ[first:end],
            self.own[first:end],
            self.summary[first:end],
        )
        part._offset, part._count = self._offset + first, end - first
        return part

    def restart(self, line: int) -> int:
        """The first line from ``line`` on whose step goes back from the last printed one
        at a later epoch (a counter that starts again each epoch: ``Assembler._counted_on``
        reads it), or the count of lines when none does."""
        found = self._restarts
        at = bisect.bisect_left(found, line + self._offset)
        return min(found[at] - self._offset, self._count) if at < len(found) else self._count

    def closed(self, line: int) -> int:
        """The first line from ``line`` on that does not open a record of its own, or
        the count of lines when each does."""
        found = self._closed
        at = bisect.bisect_left(found, line + self._offset)
        return min(found[at] - self._offset, self._count) if at < len(found) else self._count


class WeaveReader(RunReader):
    """Reading weaves into records, for ``bulk.BulkReader``: the state it reads is
    ``LogReader``'s."""

    def _weavable(self, shapes: Sequence[Compiled]) -> tuple[list[bool], set[str]]:
        """Whether lines of each of ``shapes`` may be read in a weave of lines of them now:
        each opens a record of its own or joins the one before (a line with a step; a
        dict or a bar without), counts no batch, and reads the same whichever dialect
        the log is in while the weave is read (a line of a shape that shows its dialect
        turns the log to it: a shape that shows none must read the same under each of
        them, ``Compiled.readers``); and those dialects, by name. (Whether its records
        may go into columns as they are, their family plan empty, is
        ``WeaveTable.own``.)"""
        parser = self._parser
        fit = [
            shape.run_key[4] is not None
            and shape.run_key[5] is None
            and shape.evictions == parser.evictions
            for shape in shapes
        ]
        dialects = {parser.dialect.name}
        for shape, fits in zip(shapes, fit, strict=True):
            shown = shape.plan_dialect
            if fits and shown is not None and (parser.dialect.generic or not shown.generic):
                dialects.add(shown.name)  # (``LineParser.adopt`` may turn to it)
        return [
            fits and (shape.plan_dialect is not None or dialects <= shape.readers)
            for shape, fits in zip(shapes, fit, strict=True)
        ], dialects

    def _still_woven(self, table: WeaveTable) -> bool:
        """Whether lines of a weave may be read in columns now: a line may be read by a
        learned layout, and its plans are still all ``_weavable`` (asked again only when
        the parser dropped shapes or the log turned to another dialect: a dialect a
        layout reads the same under is never taken back)."""
        if not self._ready():
            return False
        parser = self._parser
        key = (parser.evictions, id(parser.dialect))
        woven = table.checked.get(key)
        if woven is None:
            woven = table.checked[key] = all(self._weavable(table.shapes)[0])
        return woven

    def _quiet_under(self, layouts: Iterable[bytes], dialects: set[str]) -> dict[bytes, int]:
        """Of ``layouts``, those known to yield nothing (``LogReader._hush``) under each of
        ``dialects`` alike, now: each with the numbers a line of it counts as unread.
        None are while the examples of unread lines are not all kept (but another rank's
        lines, which add none), or a line may not be read by a learned layout
        (``_ready``): then a line by line reading reads them."""
        if not (self._quiet and self._ready()):
            return {}
        full = self._unread_full()
        found = {}
        for layout in layouts:
            counts = self._quiet.get(layout)
            if counts is None:
                continue
            if ANY_DIALECT in counts:  # another rank's lines: nothing, under any dialect
                found[layout] = 0
                continue
            if not full:
                continue
            numeric = counts.get(self._parser.dialect.name)
            if numeric is not None and all(counts.get(name) == numeric for name in dialects):
                found[layout] = numeric
        return found

    def _weave(self, weave: Weave, loose: list[Record], parts: list[Sequence[Record]]) -> None:
        """Read a weave as ``_each`` would read its lines. A line is read by itself when
        the record open before it may not be the line before's own: the first line (it
        completes the record left open before the weave), a line that joins the record
        before (the same step), a line after one that went into a header's block. From
        each line read so, the lines that each open a record of their own are read into
        columns, a run of them per run of one plan, but the last, read by itself and left
        open (``_woven``)."""
        table = weave.table
        if weave.quiet:
            # Quiet lines change no record: each is only counted, all at once here. When
            # one is not known to be quiet now (the log turned to another dialect before
            # the weave), the weave is read line by line.
            if table is None:
                dialects = {self._parser.dialect.name}
            else:
                dialects = self._weavable(table.shapes)[1]  # (the log's dialect one of them)
            numeric = self._quiet_under(weave.quiet, dialects)
            if len(numeric) < len(weave.quiet):
                block, (first, end) = weave.block, weave.span
                run = self._each(block.numbers, block.lines, first, end, [], loose, parts, True)
                if run:
                    self._run(Listed(run), loose, parts)
                return
            self.unread_numeric += sum(numeric[key] * lines for key, lines in weave.quiet.items())
        count = len(weave)
        line = 0
        loose += self._one(weave, line)
        while line < count - 1:
            # (A line that never opens a record in columns is read by itself next.)
            if table is not None and table.own[line + 1]:
                held = self._held(table, line)
                if held is not None:
                    line = self._woven(weave, table, line, held, loose, parts)
            if line < count - 1:
                line = line + 1 if table is None else self._into_block(table, line)
                loose += self._one(weave, line)

    def _into_block(self, table: WeaveTable, line: int) -> int:
        """The next line of a weave to read by itself after line ``line``: when ``line``
        went into a header's block and more lines of its plan follow that print no step
        and no epoch (a bar refreshed), each of them would replace the values of the one
        before, so only the last of them is read (``_run`` does the same); else the next
        line."""
        code = table.code
        plan = table.order[int(code[line])]
        if table.stepped[line] or not self._assembler.open_header(plan.shape.run_key[0]):
            return line + 1
        if plan.shape.run_key[2]:  # a line of another epoch than the block's leaves it
            return line + 1
        if not plan.shape.run_key[6] and self._assembler.numbers_block(plan.shape.run_key[0]):
            return line + 1  # (each may be the block's next record)
        end = line + 1
        counts = table.counts if plan.shape.run_key[6] else None
        while end < len(code) - 1 and code[end] == code[line]:
            if counts is not None and new_loop(*counts[end], *counts[end - 1]):
                break  # another loop begins (``Assembler.loop``): its first line is read
            end += 1  # (a few lines: a run of one plan in a weave is short)
        if end - line < 3 or not self._still_woven(table):
            return line + 1
        if plan.shape.stats is not None:
            plan.shape.stats.count += end - line - 2
        self._read_as(plan.shape, end - line - 2)
        return end - 1

    def _held(self, table: WeaveTable, line: int) -> tuple[float, bool] | None:
        """``Assembler.holding`` line ``line`` of a weave (just read): the open record's
        step and whether it was numbered, when it is that line's record and the weave's
        plans may still be woven; else None."""
        if not self._still_woven(table) or self._assembler.offset:
            return None  # (after a step counter went back at an epoch: line by line)
        plan = table.order[int(table.code[line])]
        return self._assembler.holding(
            plan.shape.run_key[0],
            table.values[line, table.columns[plan]].tolist(),
            float(table.epochs[line]),
        )

    def _woven(
        self,
        weave: Weave,
        table: WeaveTable,
        first: int,
        held: tuple[float, bool],
        loose: list[Record],
        parts: list[Sequence[Record]],
    ) -> int:
        """Read the lines after line ``first`` of ``weave`` (read; its record is open:
        ``held``) that each open a record of their own: all but the last into columns,
        the last by itself. Return the last line read.

        As ``Assembler.take`` goes: a line with a step opens a record unless the open
        record has that step and a printed one (not numbered); a line without one opens
        a record, numbered on from the one before, when it and the open record both
        print a name with other values (NaN the same as NaN), or both an epoch, another,
        and it may be no summary of the steps before it (``WeaveTable.summary``).
        ``WeaveTable.closed`` finds the first line that does not, of those after the
        second; the second (``own``: ``_weave`` asks) is checked here, against the open
        record."""
        step, numbered = held
        if table.stepped[first + 1]:
            opens = numbered or step != table.steps[first + 1]
        else:
            opens = bool(table.differ[first + 1]) and not table.summary[first + 1]
        if not opens:
            return first
        end = table.closed(first + 2)  # the lines before it each open a record
        end = min(end, table.restart(first + 1))  # (a counter's restart on: one by one)
        if end - first < 4:  # (one or two lines: not worth columns)
            for line in range(first + 1, end):
                loose += self._one(weave, line)
            return end - 1
        code = table.code[first : end - 1]
        stepped = table.stepped[first : end - 1]
        index = np.arange(len(code))
        anchors = np.maximum.accumulate(np.where(stepped, index, 0))  # (the first is one)
        printed = table.steps[first : end - 1].copy()
        printed[0] = step
        steps = printed[anchors] + (index - anchors)  # counted on from the last printed
        lines = weave.numbers(first, end - 1)
        cuts = (np.flatnonzero(code[2:] != code[1:-1]) + 2).tolist()
        runs = []
        for start, stop in itertools.pairwise([1, *cuts, len(code)]):
            plan = table.order[int(code[start])]
            names, _, has_epoch = plan.shape.run_key[:3]
            runs.append(
                RecordRun(
                    names,
                    steps[start:stop],
                    lines[start:stop],
                    table.epochs[first + start : first + stop] if has_epoch else None,
                    table.values[first + start : first + stop, table.columns[plan]],
                )
            )
            # In order, run by run: a line that shows its dialect turns the log to it.
            if plan.shape.stats is not None:
                plan.shape.stats.count += stop - start
            self._read_as(plan.shape, stop - start)
        loose += self._named(self._assembler.flush())
        parts.append(loose.copy())
        loose.clear()
        parts += runs
        self._assembler.ran(runs[-1][-1], int((~stepped[1:]).sum()))
        loose += self._one(weave, end - 1)
        return end - 1
