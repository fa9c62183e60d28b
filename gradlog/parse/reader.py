"""The parsing pipeline for one input: raw lines in, records out, streaming.

clean -> (table row | event | key-value line) -> dialect adjustment -> assembly.
A JSON document (``trainer_state.json``) is the one exception: an input that opens with
``{`` or ``[`` is gathered while it can still be one JSON value, and read when the input
ends. A line that cannot belong to JSON makes it a log after all: every gathered line is
then read as a line, at once, so a live log is not held back. Text after the value
closed makes the value a header: a pretty-printed one is the run's settings (a JSON
config printed first) and is skipped like an HF banner block; a one-line one is the
first line of a JSON Lines log and is read as a line.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gradlog.columns import RecordRun
from gradlog.model import Record, step_value
from gradlog.parse import documents
from gradlog.parse.assemble import Assembler
from gradlog.parse.clean import Segment, clean
from gradlog.parse.compiled import Compiled
from gradlog.parse.dialects import BY_NAME, Dialect
from gradlog.parse.events import ABORTED, event
from gradlog.parse.families import Families
from gradlog.parse.grammar import BYTE_DIGITS, NUMBER_RE, mask_digits
from gradlog.parse.line import Fields, LineParser, ShapeStats, read_roles
from gradlog.parse.names import LOSS, NameTable
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
from gradlog.parse.tables import Table, block_row

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

_UNPARSED_KEPT = 5
_UNREAD_KEPT = 5  # examples kept of lines that hold numbers but yielded nothing
_DOCUMENT_LIMIT = 64 << 20  # characters of a JSON document kept before giving up on it
# HF's banners (``***** Running training *****``, ``***** train metrics *****``) head blocks
# of ``key = value`` rows: settings and whole-run figures, never a step.
_SUMMARY_BLOCK = re.compile(r"^\*{3,} .+ \*{3,}$")
# Linear in line length: one greedy run, with no second run of blanks that could share it.
_SUMMARY_ROW = re.compile(r"^\s*\w[\w/.()&,\s-]*\s=\s+\S")
# A Python warning as the warnings module prints it, ``file.py:253: UserWarning: text``:
# its numbers are a source line and the message's, never metrics (the file's path would
# otherwise become a metric name).
_PY_WARNING = re.compile(r"\S+:\d+: [A-Z]\w*Warning: ")
_OPEN = object()  # a JSON document's value while it has not closed
_SPANS_KEPT = 4096  # learned line layouts
_SPAN_LONGEST = 2048  # characters: longer lines are not remembered (4096 x 2 KiB at most)
_RUN_SHORTEST = 16  # lines of whole records read in columns: fewer are read one by one
# A block with stretches covering less than 1 / _STRETCHED_SHARE of its lines (chatter,
# short runs of several kinds) is not worth the skeletons: the next few are read without.
_STRETCHED_SHARE = 4
_UNSTRETCHED_SKIPPED = 3
_STRETCH_SHORTEST = 64  # lines of one token plan cut out together: fewer are matched each


class LogReader:
    """Reads one input line by line and yields its records as they complete."""

    def __init__(self, names: NameTable | None = None) -> None:
        self.names = names or NameTable()
        self.parsed = 0  # logical lines that yielded fields
        self.unparsed: list[str] = []  # the first few non-empty lines nothing was read from
        # Lines that hold a number but yielded nothing: how many, and the first few.
        self.unread_numeric = 0
        self.unread_examples: list[str] = []
        # How many logical lines were read by each route: key-value, table, event, document.
        self.kinds: Counter[str] = Counter()
        self._dialects: dict[str, None] = {}
        self._parser = LineParser(self.names)
        self._assembler = Assembler()
        self.families = Families()
        self._table = Table(self.names)
        self._rank: int | None = None
        # The lines of what may be a JSON document, with their numbers; its nesting depth;
        # and its value once it closed (_OPEN until then).
        self._document: list[tuple[int, str]] | None = None
        self._document_size = 0
        self._depth = 0
        self._value: Any = _OPEN
        self._started = False
        self._in_summary = False
        self._section = ""  # the section of a ``| name | value |`` block being read
        # Learned layouts: a raw line's shape (digits made 0) -> where its text is in it.
        # ``layouts`` False reads every line the long way (the tests' oracle).
        self.layouts = True
        self._spans: dict[str, tuple[int, int]] = {}
        # Learned layouts read in one match (``feed_lines``): the span and the shape, or
        # None for a layout that needs the general way.
        self._compiled: dict[bytes, tuple[int, int, Compiled] | None] = {}
        # Layouts whose lines can be read by their tokens (``runs.TokenPlan``), or None;
        # one plan object for layouts that can share columns.
        self._plans: dict[bytes, TokenPlan | None] = {}
        self._shared: dict[tuple[object, ...], TokenPlan] = {}
        self._planned = 0  # the parser's evictions when the plans were made
        self._unstretched = 0  # blocks still to read without looking for stretches
        self._plain = False  # the last line read went the plain key-value way
        # Layouts of lines that yield nothing under a dialect: whether such a line counts
        # as an unread line with a number (``_hush``).
        self._quiet: dict[str, tuple[Dialect, int]] = {}

    @property
    def limits(self) -> dict[str, int]:
        """How often the line parser reached each of its caps (only those reached)."""
        return {name: n for name, n in dataclasses.asdict(self._parser.limits).items() if n}

    @property
    def dialects(self) -> tuple[str, ...]:
        """Frameworks recognised, in order; generic shapes only when no framework was."""
        specific = [d for d in self._dialects if d not in BY_NAME or not BY_NAME[d].generic]
        return tuple(specific or self._dialects)

    @property
    def numbered(self) -> bool:
        return self._assembler.numbered

    @property
    def numbered_records(self) -> int:
        """Records whose step gradlog numbered itself (the log printed none for them)."""
        return self._assembler.numbered_records

    @property
    def batches(self) -> tuple[int, int, int] | None:
        """How the log counts steps within the epoch, when it does so on nearly every such
        line: batches per epoch, the first epoch's number, the first batch's number (0 or
        1)."""
        tally = self._parser.batches
        if not tally:
            return None
        (total, first), count = max(tally.items(), key=lambda item: item[1])
        if count < 0.9 * sum(tally.values()) or total < 1 or total != int(total):
            return None
        # Batches count from 1 unless one is numbered 0 (a log printing every 50 batches
        # shows 50 first).
        return int(total), first, 0 if self._parser.first_batch == 0 else 1

    @property
    def shapes(self) -> list[ShapeStats]:
        """The key-value line shapes read so far, most frequent first."""
        return sorted(self._parser.shapes.values(), key=lambda s: -s.count)

    def feed(self, line_no: int, raw: str) -> list[Record]:
        """Read one physical line; return the records it completes."""
        self._parser.line = line_no
        if self._document is not None:
            return self._gather(line_no, raw)
        if not self._started:
            raw = raw.lstrip("\ufeff")  # a byte order mark opens some files
            self._started = bool(raw.strip())
            if raw.lstrip()[:1] in ("{", "["):
                self._document = []
                return self._gather(line_no, raw)
        key: str | None = None
        plain = not (self._in_summary or self._section or self._table.columns)
        if plain and self.layouts and len(raw) <= _SPAN_LONGEST:
            key = mask_digits(raw)
            quiet = self._quiet.get(key)
            if quiet is not None and quiet[0] is self._parser.dialect and self._unread_full():
                self.unread_numeric += quiet[1]
                return []
            span = self._spans.get(key)
            if span is not None:
                start, end = span
                text, masked = raw[start:end], key[start:end]
                quick = self._named(self._quick(line_no, text, masked))
                layout = key.encode("utf-8", "surrogatepass")
                entry = self._compiled.get(layout, _OPEN)
                # Compiled once, and again when it went stale: the parser dropped shapes,
                # or the log's dialect changed (its renames made the roles).
                if (entry is _OPEN and len(self._compiled) < _SPANS_KEPT) or (
                    isinstance(entry, tuple) and not self._current(entry[2])
                ):
                    shape = self._parser.compiled(text, masked)
                    if shape is not True:  # else the shape is not learned yet
                        self._compiled[layout] = (start, end, shape) if shape else None
                return quick
        records: list[Record] = []
        segments = clean(raw)
        hush = key is not None and len(segments) == 1 and segments[0].rank is None
        if hush:
            parser = self._parser
            before = (self.unread_numeric, parser.dialect, repr(parser.limits), parser.sightings)
        for segment in segments:
            if segment.rank is not None:
                self._rank = segment.rank if self._rank is None else self._rank
                if segment.rank != self._rank:
                    continue  # another rank printing the same run: keep one
            self._plain = False
            fields = self._fields(segment.text)
            hush = hush and fields is None
            records += self._assemble(line_no, fields)
        if key is not None and len(segments) == 1 and self._plain:
            self._learn(key, raw, segments[0])
        elif hush and key is not None:
            self._hush(key, before)
        return self._named(records)

    def _hush(self, key: str, before: tuple[int, Dialect, str, int]) -> None:
        """Remember the layout ``key`` of a line that yielded nothing and changed nothing
        but the count of unread lines with a number: every step reads all digits alike, so
        any line of it does the same (``feed`` then only counts it, once the examples of
        unread lines are all kept). Not when the line changed the parser's dialect or
        reached one of its caps (a shape skipped for want of credit may be read later), or
        a shape counted it (``inspect`` shows the count)."""
        numeric, dialect, limits, sightings = before
        parser = self._parser
        if (
            self._in_summary
            or self._section
            or self._table.columns
            or parser.dialect is not dialect
            or repr(parser.limits) != limits
            or parser.sightings != sightings  # a shape counted the line: not nothing
        ):
            return
        if len(self._quiet) >= _SPANS_KEPT:
            self._quiet.clear()
        self._quiet[key] = (dialect, self.unread_numeric - numeric)

    def _unread_full(self) -> bool:
        """Whether the examples of lines nothing was read from are all kept."""
        return len(self.unparsed) >= _UNPARSED_KEPT and len(self.unread_examples) >= _UNREAD_KEPT

    def feed_lines(self, first: int, lines: Iterable[str]) -> list[Record]:
        """Read physical lines numbered from ``first``; return the records they complete
        (``read_lines``, as one list)."""
        return [record for part in self.read_lines(first, lines) for record in part]

    def read_lines(
        self, first: int, lines: Iterable[str], columns: bool = True
    ) -> list[Sequence[Record]]:
        """Read physical lines numbered from ``first``; return the records they complete,
        in order, in parts: lists of records, and ``RecordRun`` columns.

        The same as ``feed`` on each line, faster. A line of a learned layout whose shape
        was compiled (``LineParser.compiled``) is read by one match and handed to the
        assembler without the general path's objects; a run of lines that each print a
        whole record of the same metrics is read into columns at once (``_run``); and a
        long stretch of lines whose layouts share a ``TokenPlan`` is not even matched
        line by line, its numbers are cut out of it at once (``runs.Stretch``). Every
        other line goes through ``feed``, which also learns the layouts. ``columns``
        False reads no run into columns (a short read: not worth numpy)."""
        if not isinstance(lines, list):
            lines = list(lines)
        parts: list[Sequence[Record]] = []
        loose: list[Record] = []  # records since the last run of columns
        run: list[Item] = []
        done = 0
        block, found = self._stretches(first, lines) if columns else (None, [])
        for start, end, plan in found:
            run = self._each(first, lines, done, start, run, loose, parts, columns)
            shape = plan.shape
            if block is not None and self._ready() and self._current(shape):
                if run:
                    self._run(Listed(run), loose, parts)
                    run = []
                self._run(Stretch(block, start, end, plan), loose, parts)
            else:
                if block is not None:  # planned from a stale shape: plan again
                    for key in set(block.keys[start:end]):
                        self._plans.pop(key, None)
                run = self._each(first, lines, start, end, run, loose, parts, columns)
            done = end
        run = self._each(first, lines, done, len(lines), run, loose, parts, columns)
        if run:
            self._run(Listed(run), loose, parts)
        if loose:
            parts.append(loose)
        return parts

    def _stretches(
        self, first: int, lines: list[str]
    ) -> tuple[Lines | None, list[tuple[int, int, TokenPlan]]]:
        """The block's stretches of at least ``_STRETCH_SHORTEST`` lines of skeletons
        that share a token plan, as the layouts compiled when the block began know them."""
        if not (self.layouts and self._compiled) or len(lines) < _STRETCH_SHORTEST:
            return None, []
        if self._unstretched:  # the last block had few: look again in a few blocks
            self._unstretched -= 1
            return None, []
        found = skeletons(lines)
        if found is None:
            return None, []
        data, keys = found
        plans = self._plans
        if self._planned != self._parser.evictions:  # every plan's shape is stale
            plans.clear()
            self._shared.clear()
            self._planned = self._parser.evictions
        new = set(keys).difference(plans)
        if new:
            where = dict(zip(keys, range(len(keys)), strict=True))
            for key in new:
                self._plan(key, lines[where[key]])
        spans = stretches(list(map(plans.get, keys)), _STRETCH_SHORTEST)
        if sum(end - start for start, end, _ in spans) * _STRETCHED_SHARE < len(lines):
            self._unstretched = _UNSTRETCHED_SKIPPED
        return (Lines(first, lines, data, keys) if spans else None), spans

    def _plan(self, key: bytes, raw: str) -> None:
        """Plan the lines of skeleton ``key`` from ``raw``, one of them, when its layout
        is compiled (else later: it may be compiled by then)."""
        if len(raw) > _SPAN_LONGEST:
            return
        layout = raw.encode("utf-8", "surrogatepass").translate(BYTE_DIGITS)
        if layout not in self._compiled:
            return
        if len(self._plans) >= _SPANS_KEPT:
            self._plans.clear()
        entry = self._compiled[layout]
        plan = None if entry is None else token_plan(raw, entry)
        if plan is not None:
            plan = self._shared.setdefault(plan.key(), plan)
        self._plans[key] = plan

    def _each(
        self,
        first: int,
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
        number = first + start - 1
        for raw in lines[start:end] if start or end < len(lines) else lines:
            number += 1
            entry = None
            if ready and len(raw) <= _SPAN_LONGEST:
                entry = compiled.get(raw.encode("utf-8", "surrogatepass").translate(BYTE_DIGITS))
            if entry is not None:
                left, right, shape = entry
                if run and shape.run_key != run[0][2].run_key:
                    self._run(Listed(run), loose, parts)
                    run = []
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
        entry = self._compiled.get(raw.encode("utf-8", "surrogatepass").translate(BYTE_DIGITS))
        if entry is not None and self._current(entry[2]):
            left, right, shape = entry
            match = shape.pattern.fullmatch(raw[left:right])
            if match is not None:
                return self._compiled_line(number, match.groups(), shape)
        return self.feed(number, raw)

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
        names, has_step, has_epoch, _, kind = run.shape.run_key
        if not self.families.plain(names):
            return None  # its records would gain a family's series
        width = has_step + has_epoch + len(names)
        table = run.table(width)
        if table is None:  # a number float() does not read: to_float will, line by line
            return None
        count = len(run)
        values = table[:, width - len(names) :]
        epochs = table[:, int(has_step)] if has_epoch else None
        if epochs is not None:  # as read: a non-finite epoch is no epoch
            epochs = np.where(np.isfinite(epochs), epochs, np.nan)
        kept = count - 2
        assembler = self._assembler
        if kind == "step":
            steps = table[:, 0]
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
        if shape.stats is not None:
            shape.stats.count += 1
        self._read_as(shape, 1)
        metrics, step, epoch = read_roles(shape.roles, tokens)
        if epoch is not None and not math.isfinite(epoch):
            epoch = None
        done = self._assembler.take(number, metrics, step, epoch, shape.marker, bits=shape.bits)
        return self._named(done) if done else done

    def _learn(self, key: str, raw: str, segment: Segment) -> None:
        """Remember where in a raw line of this layout its text is, when cleaning only cut
        a prefix (a timestamp, a logger's name) or a suffix and the text was read as plain
        key-value pairs: every step of that, from cleaning to the event screen, reads all
        digits alike, so any line of the same layout goes the same way."""
        if segment.rank is not None or len(self._spans) >= _SPANS_KEPT:
            return
        base, text = raw.rstrip("\n").removesuffix("\r"), segment.text  # as clean() ends it
        if "\b" in base or "\r" in base:
            return  # backspaces and redraws rewrite the text
        # Colour codes are only cut out, alike whatever their digits: a text that is left
        # whole at the end (or start) of the line had them all in the part cut off.
        if base.endswith(text):
            self._spans[key] = (len(base) - len(text), len(base))
        elif base.startswith(text):
            self._spans[key] = (0, len(text))

    def _quick(self, line_no: int, text: str, masked: str) -> list[Record]:
        """A line of a learned layout: what ``_fields`` would do with it, without the
        steps that cannot apply (cleaning, summaries, tables, events, warnings)."""
        fields = self._parser.parse(text, masked)
        return self._assemble(line_no, self._tally(text, text.strip(), fields))

    def _assemble(self, line_no: int, fields: Fields | None) -> list[Record]:
        """Count a line that yielded fields and give them to the assembler."""
        if fields is None:
            return []
        self.parsed += 1
        self._dialects.setdefault(fields.dialect)
        return self._assembler.feed(line_no, fields)

    def _tally(self, text: str, stripped: str, fields: Fields | None) -> Fields | None:
        """Count a line read the key-value way: pairs, else a table's header (which opens
        the table), else a line nothing was read from."""
        if fields is not None:
            self.kinds["key-value"] += 1
        elif self._table.header(text):
            self.kinds["table header"] += 1
        else:
            self._unread(stripped)
        return fields

    def flush(self, idle: bool = False) -> list[Record]:
        """Complete the open record at the end of input; ``idle``: a live input paused."""
        if self._document is not None:
            if idle:
                return []  # a document is read whole; a header waits for the next line
            if self._value is not _OPEN:
                return self._named(self._read_document())
            # The input ended inside the value: it was not JSON, but lines.
            return self._as_lines() + self._named(self._assembler.flush(idle))
        return self._named(self._assembler.flush(idle))

    def open_nonfinite(self) -> bool:
        """Whether the record still open holds a NaN or an infinity."""
        return self._document is None and self._assembler.open_nonfinite()

    def peek(self) -> list[Record]:
        """The records ``flush(idle=True)`` would complete now, leaving every state as it
        is: the open record stays open (a live input paused, more of it may come)."""
        if self._document is not None:
            return []  # a document is read whole
        records = copy.deepcopy(self._assembler).flush(idle=True)
        families = copy.deepcopy(self.families)  # a first sight of a family teaches it
        for record in records:
            families.resolve(record.metrics)
        return records

    def _named(self, records: list[Record]) -> list[Record]:
        """Records with each family's series under its canonical name."""
        for record in records:
            self.families.resolve(record.metrics)
        return records

    def _fields(self, text: str) -> Fields | None:
        stripped = text.strip()
        if not stripped:
            return None
        rewritten = False  # the text became another (a ``| name | value |`` row)
        if self._summary(stripped):
            return None
        if stripped[0] == "|" and stripped[-1] == "|":
            block, self._section = block_row(stripped, self.names, self._section)
            if block == "":
                return None
            if block is not None:
                text, rewritten = block, True
        elif self._section and stripped.startswith("---"):
            self._section = ""
        if self._table.columns and (row := self._table.row(text)) is not None:
            self.kinds["table"] += 1
            return Fields(row.metrics, row.step, row.epoch, row.dialect)
        masked = mask_digits(text)
        found = event(text, masked)
        warning = "Warning: " in stripped and _PY_WARNING.match(stripped) is not None
        fields = None if warning else self._parser.parse(text, masked)
        # Read as plain key-value pairs from the text as cleaned: a layout to remember.
        self._plain = found is None and fields is not None and not rewritten
        if found is not None:
            # An event on a line with values of its own (an abort glued to a progress bar,
            # a skip warning that names its step and the grad norm): one record of both.
            own = fields is not None and (LOSS in fields.metrics or fields.step is not None)
            if fields is not None and own and found.step in (None, fields.step):
                fields.metrics.update(found.metrics)
                return fields
            step = found.step
            dialect = self._parser.dialect.name
            # An abort ends the run after the last printed step: a record of its own.
            # Overflows and scale changes belong to the step being printed.
            joins = step is None and ABORTED not in found.metrics
            self.kinds["event"] += 1
            return Fields(found.metrics, step, None, dialect, step is not None, joins)
        if warning:  # never a table's header either
            self._unread(stripped)
            return None
        return self._tally(text, stripped, fields)

    def _unread(self, text: str) -> None:
        if len(self.unparsed) < _UNPARSED_KEPT:
            self.unparsed.append(text[:200])
        if NUMBER_RE.search(text):
            self.unread_numeric += 1
            if len(self.unread_examples) < _UNREAD_KEPT:
                self.unread_examples.append(text[:200])

    def _summary(self, text: str) -> bool:
        """Skip the rows under an HF banner: settings and whole-run figures, not steps."""
        if _SUMMARY_BLOCK.match(text):
            self._in_summary = True
            return True
        if self._in_summary and _SUMMARY_ROW.match(text):
            return True
        self._in_summary = False
        return False

    def _gather(self, line_no: int, raw: str) -> list[Record]:
        """Keep a line of what may be a JSON document; read them all as lines once it
        cannot be one. Returns the records of such lines."""
        assert self._document is not None
        if self._value is not _OPEN:  # the value closed: only blank lines may follow
            if not raw.strip():
                return []
            if len(self._document) > 1:
                self._skip_header()
            return self._as_lines((line_no, raw))
        self._document.append((line_no, raw))
        self._document_size += len(raw)
        if len(self._document) == 1 and self._close(raw):  # minified: one line, one value
            return []
        change = documents.nesting(raw)
        if change is None or self._depth + change < 0 or self._document_size > _DOCUMENT_LIMIT:
            return self._as_lines()
        self._depth += change
        if self._depth == 0 and not self._close("\n".join(line for _, line in self._document)):
            return self._as_lines()
        return []

    def _close(self, text: str) -> bool:
        """Keep ``text``'s JSON value if it is one; False if it is not."""
        try:
            self._value = documents.load(text)
        except ValueError:
            return False
        return True

    def _skip_header(self) -> None:
        """A multi-line JSON value followed by a log: settings, not metrics."""
        assert self._document is not None
        self.kinds["JSON header"] += len(self._document)
        self._document = []

    def _as_lines(self, *more: tuple[int, str]) -> list[Record]:
        """Not a document after all: read what was gathered, then ``more``, as lines."""
        lines = [*(self._document or []), *more]
        self._document, self._value, self._depth, self._document_size = None, _OPEN, 0, 0
        return [record for number, line in lines for record in self.feed(number, line)]

    def _read_document(self) -> list[Record]:
        """The records of the whole input, one JSON value, as a document."""
        value, lines = self._value, self._document or []
        self._document, self._value = None, _OPEN
        records: list[Record] = []
        for entry, index in documents.entries(value):
            metrics, step, epoch = documents.metrics_of(entry, self.names)
            if not metrics:
                continue
            self._dialects.setdefault("trainer_state")
            self.parsed += 1
            self.kinds["document"] += 1
            number = step if step is not None else index + 1
            record = Record(
                step_value(number), 1, metrics, None if epoch is None else step_value(epoch)
            )
            if records and records[-1].step == record.step:
                merged = {**records[-1].metrics, **metrics}  # eval entry of the same step
                records[-1] = Record(records[-1].step, 1, merged, records[-1].epoch)
                continue
            records.append(record)
        if not records and lines:
            self.unparsed.append(lines[0][1].strip()[:200])
        return records
