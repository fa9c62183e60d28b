"""Reading a block of lines at once: the fast ways of ``LogReader.read_lines``.

A line of a layout learned and compiled (``LineParser.compiled``) is read by one match
and handed to the assembler without the general path's objects; a run of lines that
each print a whole record of the same metrics is read into columns at once (``_run``);
and a long stretch of lines whose skeletons share a token plan is not even matched line
by line (``runs.Stretch``). Every other line goes through ``LogReader.feed``, the
general way, which also learns the layouts and is the oracle all of this is tested
against (``tests/test_layouts.py``, ``tests/test_stretches.py``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gradlog.columns import RecordRun
from gradlog.model import Record
from gradlog.parse.assemble import Assembler
from gradlog.parse.clean import redrawn
from gradlog.parse.compiled import Compiled, LineNumbers, read_picked, read_roles
from gradlog.parse.families import Families
from gradlog.parse.grammar import BYTE_DIGITS
from gradlog.parse.line import LineParser
from gradlog.parse.runs import (
    Item,
    Lines,
    Listed,
    Stretch,
    TokenPlan,
    skeletons,
    stretches,
    token_plan,
)
from gradlog.parse.tables import Table

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

SPANS_KEPT = 4096  # learned line layouts
SPAN_LONGEST = 2048  # characters: longer lines are not remembered (4096 x 2 KiB at most)
_RUN_SHORTEST = 16  # lines of whole records read in columns: fewer are read one by one
# A block with stretches covering less than 1 / _STRETCHED_SHARE of its lines (chatter,
# runs of a few lines of several kinds) is not worth skeletons: the next few have none.
_STRETCHED_SHARE = 4
_UNSTRETCHED_SKIPPED = 3
_LEARNED_FROM = 1024  # lines of a log's first block read one by one to learn its layouts
_STRETCH_SHORTEST = 16  # lines of one token plan cut out together: fewer are matched each
_INNER_CR = re.compile(r"\r(?=[^\n])")  # a redraw inside a line, not its CRLF end


class BulkReader:
    """The block-reading half of ``LogReader``: the state it reads is ``LogReader``'s."""

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
    _compiled: dict[bytes, tuple[int, int, Compiled] | None]
    _plans: dict[bytes, TokenPlan | None]
    _skeletons: dict[bytes, bytes]  # layouts seen in stretches, with their skeletons
    _shared: dict[tuple[object, ...], TokenPlan]
    _planned: int
    _unstretched: int

    if TYPE_CHECKING:

        def feed(self, line_no: int, raw: str) -> list[Record]: ...

        def _named(self, records: list[Record]) -> list[Record]: ...

    def read_lines(
        self, first: int, lines: Iterable[str], shortest: int = 0
    ) -> list[Sequence[Record]]:
        """Read physical lines numbered from ``first``; return the records they complete,
        in order, in parts: lists of records, and ``RecordRun`` columns.

        The same as ``feed`` on each line, faster. A line of a learned layout whose shape
        was compiled (``LineParser.compiled``) is read by one match and handed to the
        assembler without the general path's objects; a run of lines that each print a
        whole record of the same metrics is read into columns at once (``_run``); and a
        long stretch of lines whose layouts share a ``TokenPlan`` is not even matched
        line by line, its numbers are cut out of it at once (``runs.Stretch``). Every
        other line goes through ``feed``, which also learns the layouts. A read of fewer
        than ``shortest`` lines (a redrawn line's states each count) reads no run into
        columns: a short read is not worth numpy."""
        if not isinstance(lines, list):
            lines = list(lines)
        parts: list[Sequence[Record]] = []
        loose: list[Record] = []  # records since the last run of columns
        started = 0
        while started < len(lines) and not (self._started and self._document is None):
            loose += self.feed(first + started, lines[started])  # a JSON document, maybe
            started += 1
        if started:
            parts.append(loose)
            if started == len(lines):
                return parts
            loose = []
        lines, numbers, joined = self._redrawn(
            first + started, lines[started:] if started else lines
        )
        columns = len(lines) >= shortest
        run: list[Item] = []
        if columns:
            run = self._span(numbers, lines, joined, 0, len(lines), run, loose, parts, True)
        done = len(lines) if columns else 0
        run = self._each(numbers, lines, done, len(lines), run, loose, parts, columns)
        if run:
            self._run(Listed(run), loose, parts)
        if loose:
            parts.append(loose)
        return parts

    def _redrawn(self, first: int, lines: list[str]) -> tuple[list[str], Sequence[int], str | None]:
        """The lines numbered from ``first``, each redrawn one (a progress bar's ``\\r``
        states) as its states (``clean.redrawn``), each a line with the line's number;
        the number of each line; and, when no line was redrawn, the lines joined by
        newlines (for their skeletons). Read alone, a state gives what it gives as part
        of its line (``feed`` cleans each state alike), and its layout can be learned."""
        numbers = range(first, first + len(lines))
        joined = "\n".join(lines)
        if _INNER_CR.search(joined) is None:
            return lines, numbers, joined
        expanded: list[str] = []
        numbered: list[int] = []
        for number, raw in zip(numbers, lines, strict=True):
            states = redrawn(raw) if "\r" in raw else None
            if states is None:
                expanded.append(raw)
                numbered.append(number)
            else:
                expanded += states
                numbered += [number] * len(states)
        return expanded, numbered, None

    def _span(
        self,
        numbers: Sequence[int],
        lines: list[str],
        joined: str | None,
        low: int,
        high: int,
        run: list[Item],
        loose: list[Record],
        parts: list[Sequence[Record]],
        whole: bool,
    ) -> list[Item]:
        """Read lines ``low`` to ``high`` of the block: its stretches at once, the lines
        between them one by one. In a long gap between stretches (the log's first lines,
        when no layout is compiled yet; a new layout: an epoch's number gained a digit),
        the first ``_LEARNED_FROM`` lines are read one by one, which compiles their
        layouts, and the rest is looked at again when they did. ``whole``: the span is
        the block (it alone decides whether the next blocks look for stretches)."""
        block, found = self._stretches(
            numbers[low:high], lines[low:high], joined if whole else None, whole
        )
        done = low
        for start, end, plan in [*found, (high - low, high - low, None)]:
            start, end = low + start, low + end  # (the stretches count from low)
            if start - done >= 2 * _LEARNED_FROM:
                compiled = len(self._compiled)
                run = self._each(
                    numbers, lines, done, done + _LEARNED_FROM, run, loose, parts, True
                )
                done += _LEARNED_FROM
                if len(self._compiled) > compiled:  # it learned: look at the rest again
                    run = self._span(numbers, lines, None, done, start, run, loose, parts, False)
                    done = start
            run = self._each(numbers, lines, done, start, run, loose, parts, True)
            if plan is None:
                break
            assert block is not None  # stretches come with their block
            if self._ready() and self._current(plan.shape):
                if run:
                    self._run(Listed(run), loose, parts)
                    run = []
                self._run(Stretch(block, start - low, end - low, plan), loose, parts)
            else:
                for key in set(block.keys[start - low : end - low]):  # a stale plan
                    self._plans.pop(key, None)
                run = self._each(numbers, lines, start, end, run, loose, parts, True)
            done = end
        return run

    def _stretches(
        self,
        numbers: Sequence[int],
        lines: list[str],
        joined: str | None = None,
        whole: bool = True,
    ) -> tuple[Lines | None, list[tuple[int, int, TokenPlan]]]:
        """The stretches of at least ``_STRETCH_SHORTEST`` lines of skeletons that share
        a token plan, as the layouts compiled now know them. ``whole``: the lines are a
        block, whose share of stretched lines decides whether the next blocks look."""
        if not (self.layouts and self._compiled) or len(lines) < _STRETCH_SHORTEST:
            return None, []
        if whole and self._unstretched:  # the last block had few: look again in a few
            self._unstretched -= 1
            return None, []
        if len(self._skeletons) >= SPANS_KEPT:
            self._skeletons.clear()  # (a log of ever new layouts: start again)
        found = skeletons(lines, joined, self._skeletons, SPAN_LONGEST, SPANS_KEPT)
        if found is None:
            return None, []
        data, keys, masked = found
        plans = self._plans
        if self._planned != self._parser.evictions:  # every plan's shape is stale
            plans.clear()
            self._shared.clear()
            self._planned = self._parser.evictions
        new = set(keys).difference(plans)
        if new:
            # Lines of one skeleton may differ in their count of digits, so in layout:
            # the plan comes from the first or the last, whichever layout is compiled.
            last = dict(zip(keys, range(len(keys)), strict=True))
            first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
            for key in new:
                if not self._plan(key, lines[last[key]]):
                    self._plan(key, lines[first[key]])
        planned = list(map(plans.get, keys))
        spans = stretches(planned, _STRETCH_SHORTEST)
        if whole and sum(end - start for start, end, _ in spans) * _STRETCHED_SHARE < len(lines):
            self._unstretched = _UNSTRETCHED_SKIPPED
        return (Lines(numbers, lines, data, keys, masked, planned) if spans else None), spans

    def _plan(self, key: bytes, raw: str) -> bool:
        """Plan the lines of skeleton ``key`` from ``raw``, one of them, when its layout
        is compiled (else later: it may be compiled by then); whether it was."""
        if len(raw) > SPAN_LONGEST:
            return False
        layout = raw.encode("utf-8", "surrogatepass").translate(BYTE_DIGITS)
        if layout not in self._compiled:
            return False
        if len(self._plans) >= SPANS_KEPT:
            self._plans.clear()
        entry = self._compiled[layout]
        plan = None if entry is None else token_plan(raw, entry)
        if plan is not None:
            plan = self._shared.setdefault(plan.key(), plan)
        self._plans[key] = plan
        return True

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
        when they have one, else by ``feed``; return the run still open."""
        compiled = self._compiled
        parser = self._parser
        ready = self._ready()
        whole = not start and end == len(lines)
        for number, raw in zip(
            numbers if whole else numbers[start:end],
            lines if whole else lines[start:end],
            strict=True,
        ):
            entry = None
            if ready and len(raw) <= SPAN_LONGEST:
                entry = compiled.get(raw.encode("utf-8", "surrogatepass").translate(BYTE_DIGITS))
            if entry is not None:
                left, right, shape = entry
                if run and shape.run_key != run[0][2].run_key:
                    self._run(Listed(run), loose, parts)
                    run = []
                # ``_current(shape)``, inline: this runs for every line.
                if shape.evictions == parser.evictions and (
                    shape.plan_dialect is not None or parser.dialect is shape.dialect
                ):
                    # From the line's start the match needs no copy: endpos ends it.
                    if left:
                        match = shape.pattern.fullmatch(raw[left:right])
                    else:
                        match = shape.pattern.fullmatch(raw, 0, right)
                    if match is not None:
                        if shape.run is not None and columns:
                            run.append((number, match.groups(), shape))
                        else:
                            loose += self._compiled_line(number, match.groups(), shape)
                        continue
            if run:
                self._run(Listed(run), loose, parts)
                run = []
            loose += self.feed(number, raw)
            ready = self._ready()
        return run

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

        Lines that print no step nor epoch, under a block a header opened (Keras's
        ``Epoch 3/50`` and its refreshed bar), all go into that block, each replacing the
        values of the line before: only the last line's values stay."""
        kind = run.shape.run
        count = len(run)
        if kind == "refresh" and self._assembler.open_header():
            self._count(run, 0, count - 1)
            loose += self._one(run, -1)
            return
        skip = 0
        if count >= _RUN_SHORTEST:
            loose += self._one(run, 0)
            body = self._columns(run)
            if body is not None:
                loose += self._named(self._assembler.flush())
                parts.append(loose.copy())
                loose.clear()
                parts.append(body)
                self._assembler.ran(body[-1], len(body) if kind != "step" else 0)
                loose += self._one(run, -1)
                return
            skip = 1
        for index in range(skip, count):
            loose += self._one(run, index)

    def _one(self, run: Listed | Stretch, index: int) -> list[Record]:
        """Read line ``index`` of ``run`` by itself: by its match, or, in a stretch, as
        ``_each`` would (by its layout's compiled shape, if it has one, else by ``feed``)."""
        if isinstance(run, Listed):
            return self._compiled_line(*run.item(index))
        number, raw = run.line(index)
        values = run.values(index)  # its numbers, when read for the block's stretches
        if values is not None and self._ready() and self._current(run.shape):
            return self._take(number, run.shape, read_picked(run.shape.roles, values))
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
        self._parser.adopt(shape.plan_dialect)
        self._dialects.setdefault((shape.plan_dialect or shape.dialect).name)
        self.kinds["key-value"] += count
        self.parsed += count

    def _columns(self, run: Listed | Stretch) -> RecordRun | None:
        """The lines of ``run`` but the first (already read) and the last, as records in
        columns, counted as read; None when line by line would not make each line of the
        run a record of its own, or a number needs more than float()."""
        names, has_step, has_epoch, _, kind, first = run.shape.run_key
        if not self.families.plain(names):
            return None  # its records would gain a family's series
        counted = first is not None  # the step is a batch of the epoch: ``read_roles``
        width = has_step + has_epoch + counted + len(names)
        table = run.table(width)
        if table is None:  # a number float() does not read: to_float will, line by line
            return None
        count = len(run)
        values = table[:, width - len(names) :]
        epochs = table[:, int(has_step)] if has_epoch else None
        steps = table[:, 0]
        if first is not None:
            batches, totals = steps, table[:, int(has_step) + int(has_epoch)]
            printed = np.zeros(count) if epochs is None else np.where(epochs == 0, 0.0, epochs)
            steps = (printed - first) * totals + batches
        if epochs is not None:  # as read: a non-finite epoch is no epoch
            epochs = np.where(np.isfinite(epochs), epochs, np.nan)
        kept = count - 2
        assembler = self._assembler
        if kind == "step":
            if steps[1] == assembler.open_step() or bool(np.any(steps[2:] == steps[1:-1])):
                return None  # a repeated step joins the record before
            steps = steps[1:-1].copy()
        else:
            # A line without a step opens a record when a value differs from the open
            # record's (NaN is the same as NaN) or its epoch does; the first line of the
            # run must have opened the open record, with exactly these values.
            number = assembler.opened_by(int(run.numbers(0, 1)[0]), names)
            if number is None:
                return None
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
        return RecordRun(
            names,
            steps,
            run.numbers(1, count - 1),
            None if epochs is None else epochs[1:-1].copy(),
            values[1:-1],
        )

    def _ready(self) -> bool:
        """Whether the next line may be read by a learned layout: no JSON document, no
        summary block or table open, and layouts on."""
        return (
            self.layouts
            and self._document is None
            and self._started
            and not (self._in_summary or self._section or self._table.columns)
        )

    def _current(self, shape: Compiled) -> bool:
        """Whether a compiled shape reads as the parser would now: made since the parser
        last dropped shapes, and under the log's dialect unless it shows its own."""
        parser = self._parser
        return shape.evictions == parser.evictions and (
            shape.plan_dialect is not None or parser.dialect is shape.dialect
        )

    def _compiled_line(self, number: int, tokens: tuple[str, ...], shape: Compiled) -> list[Record]:
        """What ``feed`` does with a line of a compiled shape, from its number tokens."""
        return self._take(number, shape, read_roles(shape.roles, tokens))

    def _take(
        self,
        number: int,
        shape: Compiled,
        read: LineNumbers,
    ) -> list[Record]:
        """Hand line ``number``'s numbers, ``read`` by the roles of ``shape``, to the
        assembler; return the records that completes."""
        if shape.stats is not None:
            shape.stats.count += 1
        self._read_as(shape, 1)
        metrics, step, epoch, batch = read
        if batch is not None:
            self._parser.count_batches(batch)
        if epoch is not None and not math.isfinite(epoch):
            epoch = None
        done = self._assembler.take(number, metrics, step, epoch, shape.marker, bits=shape.bits)
        return self._named(done) if done else done
