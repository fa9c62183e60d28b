"""Reading lines one by one and runs of lines into records (``LogReader``'s block
reading, with ``bulk.BulkReader``).

A line of a layout learned and compiled (``LineParser.compiled``) is read by one match
and handed to the assembler without the general path's objects (``_each``); any other
line goes through ``LogReader.feed``, the general way. Consecutive lines whose shapes
share a run key make a run (``runs.Listed``: matched one by one; ``runs.Stretch``:
never matched, its numbers cut out at once), read as ``feed`` would read its lines:
the first and last one at a time (the first completes the record left open before it,
the last stays open for what follows), and the lines between, when each makes a record
of its own, as a ``RecordRun`` of columns, with no object per record (``_columns``). A
weave (short runs of several plans in turn) is read the same way, by
``weaves.WeaveReader``. A line of a layout known to yield nothing is only counted, as ``feed``
would count it.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from gradlog.columns import RecordRun
from gradlog.model import Record
from gradlog.parse.assemble import Assembler, new_loop
from gradlog.parse.clean import flat
from gradlog.parse.compiled import Compiled, LineNumbers, read_picked, read_roles, to_float
from gradlog.parse.families import Families
from gradlog.parse.grammar import BYTE_DIGITS, TAG_FIRST, ranked
from gradlog.parse.line import LineParser
from gradlog.parse.runs import Item, Listed, Stretch
from gradlog.parse.tables import RowCells, RowPlan, Table

if TYPE_CHECKING:
    import numpy as np

    from gradlog.parse.weaves import Weave
else:
    from gradlog.lazy import numpy as np

SPANS_KEPT = 4096  # learned line layouts
SPAN_LONGEST = 2048  # characters: longer lines are not remembered (4096 x 2 KiB at most)
ANY_DIALECT = "*"  # a quiet layout's lines yield nothing under any dialect: another rank's
_RUN_SHORTEST = 16  # lines of whole records read in columns: fewer are read one by one
_ROWS_CHUNK = 4096  # lines of a table looked at at once for rows of plain numbers


class RunReader:
    """Lines one by one and runs into records, for ``bulk.BulkReader``: the state it
    reads is ``LogReader``'s."""

    layouts: bool
    parsed: int
    kinds: Counter[str]
    families: Families
    _dialects: dict[str, None]
    _parser: LineParser
    _assembler: Assembler
    _table: Table
    _document: list[tuple[int, str]] | None
    _started: bool
    _in_summary: bool
    _section: str
    _vertical: bool
    _box: list[str]
    _phase: bool | None
    _compiled: dict[bytes, tuple[int, int, Compiled] | None]
    _flattened: dict[bytes, tuple[int, int, Compiled] | None]
    _quiet: dict[bytes, dict[str, int]]
    # The rank whose lines are read, once a rank's line was: from then on a line may
    # open with a rank's tag, which its layout keeps (``grammar.ranked``).
    _rank: int | None
    unread_numeric: int

    if TYPE_CHECKING:

        def _named(self, records: list[Record]) -> list[Record]: ...

        def feed(self, line_no: int, raw: str) -> list[Record]: ...

        def _feed_read(self, line_no: int, raw: str) -> list[Record]: ...

        def _counted_quiet(self, layout: bytes) -> bool: ...

        def _unread_full(self) -> bool: ...

    def _each(
        self,
        numbers: Sequence[int],
        lines: list[str],
        start: int,
        end: int,
        run: list[Item],
        loose: list[Record],
        parts: list[Sequence[Record]],
        columns: bool,
    ) -> list[Item]:
        """Read lines ``start`` to ``end`` of ``lines`` one by one, by their compiled shape
        when they have one, else by ``feed``; return the run still open. Under a CSV
        table's header, its rows are read a block at a time (``_rows``)."""
        whole = not start and end == len(lines)
        pairs = zip(
            numbers if whole else numbers[start:end],
            lines if whole else lines[start:end],
            strict=True,
        )
        while True:
            if self._table.columns and isinstance(numbers, range):
                if run:
                    self._run(Listed(run), loose, parts)
                    run = []
                read = self._rows(numbers, lines, start, end, loose, parts)
                if read > start:
                    next(itertools.islice(pairs, read - start - 1, None))  # (the rows read)
                    start = read
            if start >= end:
                return run
            run, start = self._lines(pairs, numbers, end, run, loose, parts, columns)

    def _lines(
        self,
        pairs: Iterator[tuple[int, str]],
        numbers: Sequence[int],
        end: int,
        run: list[Item],
        loose: list[Record],
        parts: list[Sequence[Record]],
        columns: bool,
    ) -> tuple[list[Item], int]:
        """``_each`` on the lines of ``pairs`` (numbers and lines of ``numbers``, up to
        ``end``), up to the first line after which a table's rows may follow (its header,
        or a line under it): the run still open, and the index of the next line."""
        compiled = self._compiled
        flattened = self._flattened
        quiet = self._quiet
        parser = self._parser
        ready = self._ready()
        tagged = self._rank is not None
        for number, raw in pairs:
            entry = None
            text = raw  # what the entry's shape reads: the line, or the line flattened
            if ready and len(raw) <= SPAN_LONGEST:
                data = raw.encode("utf-8", "surrogatepass")
                layout = data.translate(BYTE_DIGITS)
                if tagged and layout[:1] in TAG_FIRST:
                    layout = ranked(data, layout)[0]
                entry = compiled.get(layout)
                if entry is None:
                    if layout in quiet and self._counted_quiet(layout):
                        continue
                    entry = flattened.get(layout)
                    if entry is not None:
                        text = flat(raw)  # (colour codes cut out, tabs widened)
            if entry is not None:
                left, right, shape = entry
                if run and shape.run_key != run[0][2].run_key:
                    self._run(Listed(run), loose, parts)
                    run = []
                # ``_current(shape)``, inline: this runs for every line.
                if shape.evictions == parser.evictions and (
                    shape.plan_dialect is not None
                    or parser.dialect is shape.dialect
                    or parser.dialect.name in shape.readers
                ):
                    # From the line's start the match needs no copy: endpos ends it.
                    if left:
                        match = shape.pattern.fullmatch(text[left:right])
                    else:
                        match = shape.pattern.fullmatch(text, 0, right)
                    if match is not None:
                        if shape.run is not None and columns:
                            run.append((number, match.groups(), shape))
                        else:
                            loose += self._compiled_line(number, match.groups(), shape)
                        continue
            if run:
                self._run(Listed(run), loose, parts)
                run = []
            loose += self._feed_read(number, raw)  # (the block's lines read through fences)
            ready, tagged = self._ready(), self._rank is not None
            if self._table.columns and isinstance(numbers, range) and self._table.plan():
                return run, number - numbers.start + 1  # (rows may follow)
        return run, end

    def _rows(
        self,
        numbers: Sequence[int],
        lines: list[str],
        start: int,
        end: int,
        loose: list[Record],
        parts: list[Sequence[Record]],
    ) -> int:
        """Read the rows of the open CSV table from line ``start`` on, as far as they
        print plain numbers in every cell (``Table.plan``), as ``feed`` reads each: a
        block of them at once; return the line they end before."""
        table = self._table
        plan = table.plan()
        if plan is None or not self.layouts or self._document is not None or not self._started:
            return start
        done = start
        size = _RUN_SHORTEST  # lines looked at: doubled while they are all rows
        while done < end and plan.rows.match(lines[done]) is None:  # (no match: a row)
            chunk = lines[done : min(end, done + size)]
            text = "\n".join(chunk)
            other = plan.rows.search(text)
            if other is not None:
                text = text[: other.start() - 1]
            count = len(chunk) if other is None else text.count("\n") + 1
            self._table_rows(plan, numbers, done, count, text, loose, parts)
            done += count
            size = min(2 * size, _ROWS_CHUNK)
        return done

    def _table_rows(
        self,
        plan: RowPlan,
        numbers: Sequence[int],
        first: int,
        count: int,
        text: str,
        loose: list[Record],
        parts: list[Sequence[Record]],
    ) -> None:
        """Read ``count`` rows of plain numbers from line ``first``, the lines of ``text``,
        as ``feed`` reads each: by the cells they print, in runs of rows that print the
        same ones (``_cells``)."""
        if "\r" in text:
            text = text.replace("\r", "")  # (a CRLF line's end, which ``clean`` cuts)
        cells = text.replace("\n", ",").split(",")
        if "" in cells:
            cells = [cell or "nan" for cell in cells]  # (a row prints no "nan": a NaN is empty)
        table = np.fromiter(map(float, cells), np.float64, len(cells))
        table = table.reshape(count, plan.width)
        printed = ~np.isnan(table)
        self.parsed += count
        self.kinds["table"] += count
        self._dialects.setdefault(self._table.dialect)
        self._in_summary = False  # (a row ends a summary block, as in ``_fields``)
        lines = numbers[first : first + count]
        bounds = [0, *(np.flatnonzero((printed[1:] != printed[:-1]).any(axis=1)) + 1).tolist()]
        for low, high in itertools.pairwise([*bounds, count]):
            row_cells = plan.cells(printed[low].astype(np.uint8).tobytes())
            self._cells(row_cells, table[low:high], lines[low:high], loose, parts)

    def _cells(
        self,
        plan: RowCells,
        table: np.ndarray,
        lines: Sequence[int],
        loose: list[Record],
        parts: list[Sequence[Record]],
    ) -> None:
        """Rows that print the same cells, a row of ``table`` each, from lines ``lines``:
        the first and last one by one, those between in columns when each opens a record
        of its own (a new step each), else one by one."""
        count = len(table)
        names = plan.names
        steps = None if plan.step is None else table[:, plan.step]
        epochs = None if plan.epoch is None else table[:, plan.epoch]
        values = table[:, plan.picks]
        assembler = self._assembler
        columns = (
            count >= _RUN_SHORTEST
            and steps is not None
            and bool(names)
            and self.families.plain(names)
            and bool(np.isfinite(steps).all())
            and (epochs is None or bool(np.isfinite(epochs).all()))
            and bool((steps[1:] != steps[:-1]).all())
            and not assembler.restarts(steps, epochs)
        )
        for row in (0, count - 1) if columns else range(count):
            if columns and row == count - 1:
                assert steps is not None
                records = RecordRun(
                    names,
                    steps[1:-1].copy(),
                    np.array(lines[1:-1], dtype=np.int64),
                    None if epochs is None else epochs[1:-1].copy(),
                    values[1:-1],
                )
                loose += self._named(assembler.flush())
                parts.append(loose.copy())
                loose.clear()
                parts.append(records)
                assembler.ran(records[-1])
            step = None if steps is None else float(steps[row])
            epoch = None if epochs is None else float(epochs[row])
            done = assembler.take(
                lines[row],
                dict(zip(names, values[row].tolist(), strict=True)),
                step,
                epoch,
                header=not names and step is not None,
            )
            if done:
                loose += self._named(done)

    def _run(
        self, run: Listed | Stretch, loose: list[Record], parts: list[Sequence[Record]]
    ) -> None:
        """Read a run of lines of compiled shapes of one run key, as ``_compiled_line`` on
        each would: adding the records to ``loose``, or, for a long run of lines that
        each make a record of their own, in columns, added to ``parts`` after ``loose``.

        Line by line, each such line completes the record of the line before and stays
        open itself. So the first line is read as ever (it completes what was open); the
        lines after it become a ``RecordRun`` when each indeed opens a record of its own
        (``_columns``); and the last line is read as ever again, so that it stays open
        for what follows.

        Lines that print no step, under a block a header opened (Keras's ``Epoch 3/50``
        and its refreshed bar; HF dicts after ``Evaluating at step 40``), go into that
        block, each replacing the values of the line before, while they print no epoch
        or the block's (the first line's, when the block had none): of lines that print
        none, only the last is read."""
        kind = run.shape.run
        count = len(run)
        skip = 0
        assembler = self._assembler
        if kind == "header":
            pass  # each opens a block, or joins the record of its step: one at a time
        elif kind != "step" and assembler.open_header(run.shape.run_key[0]):
            if not run.shape.run_key[2]:  # (lines with no epoch never leave the block)
                read = self._loops(run)
                for start, end in itertools.pairwise([-1, *read]):
                    self._count(run, start + 1, end)
                    loose += self._one(run, end)
                return
            # The first line of an epoch dates the block, a line of another epoch opens
            # the next record: from there on, they are read as any run.
            while skip < count and assembler.open_header(run.shape.run_key[0]):
                loose += self._one(run, skip)
                skip += 1
            if count - skip > 1:
                self._run(run.part(skip, count), loose, parts)
                return
        elif count >= _RUN_SHORTEST:
            # The names its records take, when they may go into columns (None: they would
            # gain a family's series made of more than a name's value as printed, or their
            # plan is not known yet): its lines' picked numbers (a stretch's end lines are
            # read from them too).
            renamed = self.families.renamed(run.shape.run_key[0])
            table = None if renamed is None else run.table(_width(run.shape))
            loose += self._one(run, 0)
            body = None if table is None or renamed is None else self._columns(run, table, renamed)
            if body is not None:
                loose += self._named(assembler.flush())
                parts.append(loose.copy())
                loose.clear()
                parts.append(body)
                assembler.ran(body[-1], len(body) if kind != "step" else 0)
                loose += self._one(run, -1)
                return
            skip = 1
        for index in range(skip, count):
            loose += self._one(run, index)

    def _loops(self, run: Listed | Stretch) -> list[int]:
        """Which lines of a run that refreshes a block are read (in order): the last; and
        where the lines print a loop's count (``Roles.loop``), the first and last line of
        each loop, so that the assembler sees each begin (``Assembler.loop``)."""
        last = len(run) - 1
        if not run.shape.run_key[6]:
            return (
                list(range(len(run)))
                if self._assembler.numbers_block(run.shape.run_key[0])
                else [last]
            )
        table = run.table(_width(run.shape))
        if table is None:
            return list(range(len(run)))
        index, total = table[:, -2], table[:, -1]
        begins = np.flatnonzero(new_loop(index[1:], total[1:], index[:-1], total[:-1])) + 1
        read = {0, last, *begins.tolist(), *(begins - 1).tolist()}
        return sorted(read)

    def _one(self, run: Listed | Stretch | Weave, index: int) -> list[Record]:
        """Read line ``index`` of ``run`` by itself: by its match; in a stretch or a
        weave, by its row of its plan's table when the block read one, else as ``_each``
        would (by its layout's compiled shape, if it has one, else by ``feed``)."""
        if isinstance(run, Listed):
            return self._compiled_line(*run.item(index))
        number, raw = run.line(index)
        shape = run.shape_at(index)
        values = run.values(index)  # its numbers, when read for the block's stretches
        if values is not None and self._ready() and self._current(shape):
            count = values[-2:] if shape.roles.loop is not None else None
            return self._take(number, shape, read_picked(shape.roles, values), count)
        read: list[Record] = []
        self._each((number,), [raw], 0, 1, [], read, [], columns=False)
        return read

    def _count(self, run: Listed | Stretch, start: int, end: int) -> None:
        """Count lines ``start`` to ``end`` of ``run`` as read, as ``_compiled_line`` does
        each."""
        if end <= start:
            return
        for shape, count in run.shapes(start, end):
            if shape.stats is not None:
                shape.stats.count += count
        self._read_as(run.shape, end - start)

    def _read_as(self, shape: Compiled, count: int) -> None:
        """Note ``count`` lines read by ``shape``: its dialect, and the reading counts."""
        parser = self._parser
        parser.adopt(shape.plan_dialect)
        # (The log's dialect: the shape's own, or one it reads the same under.)
        self._dialects.setdefault((shape.plan_dialect or parser.dialect).name)
        self.kinds["key-value"] += count
        self.parsed += count

    def _columns(
        self, run: Listed | Stretch, table: np.ndarray, renamed: tuple[str, ...]
    ) -> RecordRun | None:
        """The lines of ``run`` but the first (already read) and the last, as records in
        columns under the names ``renamed`` (``Families.renamed``), counted as read, from
        their picked numbers; None when line by line would not make each line of the run
        a record of its own."""
        names, has_step, has_epoch, _, kind, first, looped = run.shape.run_key
        width = table.shape[1] - 2 * looped  # (a loop's count and total come last)
        count = len(run)
        values = table[:, width - len(names) : width]
        epochs = table[:, int(has_step)] if has_epoch else None
        steps = table[:, 0]
        if first is not None:
            batches, totals = steps, table[:, int(has_step) + int(has_epoch)]
            if epochs is not None:
                on = (epochs[1:] > epochs[:-1]) & (totals[1:] == totals[:-1])
                if bool(np.any(on & (batches[1:] > batches[:-1]))):
                    return None  # a count that goes on over an epoch (``batch_step``)
            printed = np.zeros(count) if epochs is None else np.where(epochs == 0, 0.0, epochs)
            steps = (printed - first) * totals + batches
            whole = self._parser.whole_run_totals
            if whole:
                steps = np.where(np.isin(totals, list(whole)), batches, steps)
        if epochs is not None:  # as read: a non-finite epoch is no epoch
            epochs = np.where(np.isfinite(epochs), epochs, np.nan)
        kept = count - 2
        assembler = self._assembler
        if has_step and assembler.restarts(steps, epochs):
            return None  # a counter that starts again each epoch: line by line
        if kind == "step":
            if steps[1] == assembler.open_step() or bool(np.any(steps[2:] == steps[1:-1])):
                return None  # a repeated step joins the record before
            steps = steps[1:-1].copy()
        else:
            # A line without a step opens a record when a value differs from the open
            # record's (NaN is the same as NaN) or its epoch does; the open record must
            # hold exactly the first line's values (the first line opened it, or joined
            # a record a step line opened), so that the second line's differ.
            held = assembler.holding(
                names, values[0].tolist(), None if epochs is None else float(epochs[0])
            )
            if held is None:
                return None
            number = held[0]
            same = (values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1]))
            new = ~same.all(axis=1)
            if epochs is not None:
                after, before = epochs[1:], epochs[:-1]
                new |= np.isfinite(after) & np.isfinite(before) & (after != before)
            if not new.all():
                return None
            steps = number + 1 + np.arange(kept, dtype=np.float64)
        self._count(run, 1, count - 1)
        if first is not None:
            self._parser.count_many(batches[1:-1], totals[1:-1], first)
            self._parser.batch_at(None if epochs is None else epochs[-2], batches[-2], totals[-2])
        return RecordRun(
            renamed,
            steps,
            run.numbers(1, count - 1),
            None if epochs is None else epochs[1:-1].copy(),
            values[1:-1],
        )

    def _ready(self) -> bool:
        """Whether the next line may be read by a learned layout: no JSON document, no
        summary block or table open, and layouts on."""
        return (
            self.layouts and self._document is None and self._started and not self._line_by_line()
        )

    def _line_by_line(self) -> bool:
        """Whether a state every line must be read under is open: a summary block, a
        ``| name | value |`` block, a tabular logger's block, a table, a section named by
        a line of its own. Lines are then read one by one, never by a learned layout, nor
        found quiet."""
        return bool(
            self._in_summary
            or self._section
            or self._vertical
            or self._box
            or self._table.columns
            or self._phase is not None
        )

    def _current(self, shape: Compiled) -> bool:
        """Whether a compiled shape reads as the parser would now: made since the parser
        last dropped shapes, and under the log's dialect (or one it reads the same
        under: ``Compiled.readers``) unless it shows its own."""
        parser = self._parser
        return shape.evictions == parser.evictions and (
            shape.plan_dialect is not None
            or parser.dialect is shape.dialect
            or parser.dialect.name in shape.readers
        )

    def _compiled_line(self, number: int, tokens: tuple[str, ...], shape: Compiled) -> list[Record]:
        """What ``feed`` does with a line of a compiled shape, from its number tokens."""
        at = shape.roles.loop
        count = None if at is None else (to_float(tokens[at]), to_float(tokens[at + 1]))
        return self._take(number, shape, read_roles(shape.roles, tokens), count)

    def _take(
        self,
        number: int,
        shape: Compiled,
        read: LineNumbers,
        count: Sequence[float] | None = None,
    ) -> list[Record]:
        """Hand line ``number``'s numbers, ``read`` by the roles of ``shape``, to the
        assembler, after its loop's count (``Roles.loop``), if any; return the records
        that completes."""
        if count is not None:
            self._assembler.loop(count[0], count[1])
        if shape.stats is not None:
            shape.stats.count += 1
        self._read_as(shape, 1)
        metrics, step, epoch, batch = read
        if epoch is not None and not math.isfinite(epoch):
            epoch = None
        if batch is not None:
            assert step is not None
            step = self._parser.batch_step(step, epoch, batch)
        done = self._assembler.take(
            number,
            metrics,
            step,
            epoch,
            shape.marker,
            header=not metrics,
            bits=shape.bits,
            told=shape.told,
        )
        return self._named(done) if done else done


def _width(shape: Compiled) -> int:
    """How many numbers a line of ``shape`` has picked (``Roles.picked``): the step, the
    epoch and, for a step counted within the epoch, the batches per epoch (each if any);
    each metric; a loop's count and total (if any)."""
    names, has_step, has_epoch, _, _, first, looped = shape.run_key
    return has_step + has_epoch + (first is not None) + len(names) + 2 * looped
