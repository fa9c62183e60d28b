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
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from gradlog import lazy
from gradlog.model import Record, step_value
from gradlog.parse import documents
from gradlog.parse.assemble import Assembler
from gradlog.parse.bulk import BulkReader
from gradlog.parse.clean import Fences, Segment, clean, flat
from gradlog.parse.compiled import Compiled
from gradlog.parse.dialects import BY_NAME, Dialect, darknet_pairs
from gradlog.parse.events import ABORTED, event
from gradlog.parse.families import Families, family, in_context
from gradlog.parse.grammar import BYTE_DIGITS, NUMBER_RE, TAG_FIRST, mask_digits, ranked
from gradlog.parse.line import (
    EVALUATION_WORDS,
    PARSE_LIMIT,
    TRAIN_WORDS,
    Fields,
    LineParser,
    ShapeStats,
)
from gradlog.parse.names import ACC, LOSS, RANKS, VAL_ACC, VAL_LOSS, NameTable, normalise, rank_in
from gradlog.parse.runreader import ANY_DIALECT, SPAN_LONGEST, SPANS_KEPT
from gradlog.parse.runs import TokenPlan
from gradlog.parse.tables import Table, block_row

_UNPARSED_KEPT = 5
_UNREAD_KEPT = 5  # examples kept of lines that hold numbers but yielded nothing
_EVENT_LINES = 64  # lines of an export searched ahead for an event's text
_DOCUMENT_LIMIT = 64 << 20  # characters of a JSON document kept before giving up on it
# HF's banners (``***** Running training *****``, ``***** train metrics *****``) head blocks
# of ``key = value`` rows, and W&B's ``Run summary:`` its ``wandb:   name value`` rows:
# settings and whole-run figures, never a step.
_SUMMARY_BLOCK = lazy.regex(r"^\*{3,} .+ \*{3,}$|^wandb: Run (?:summary|history):$")
# Linear in line length: one greedy run, with no second run of blanks that could share it.
_SUMMARY_ROW = lazy.regex(r"^\s*\w[\w/.()&,\s-]*\s=\s+\S|^wandb:\s+[\w/.-]+\s+\S+$")
# A tabular logger's block of one iteration (rllab's, garage's dowel, rlpyt's): a rule of
# two dash runs, then a name and its value a line, then the rule again.
_VERTICAL_RULE = lazy.regex(r"^-{3,}\s+-{3,}$")
_VERTICAL_ROW = lazy.regex(r"^(?P<name>[A-Za-z][^|]*?)\s{2,}(?P<value>\S+)$")
# A run's configuration printed as one line of ``key=value`` pairs (argparse's
# ``Namespace(epochs=100, dataset='cifar10', resume=False)``, YOLOv5's ``train:
# weights=yolov5s.pt, data=coco128.yaml, epochs=5, ..``): settings, never a record at
# ``epochs`` = 100. Told by its values: three or more are words, paths, quoted strings
# or booleans (a metric's value is a number, or NaN or infinity); or one is, in an
# object's repr (``Namespace(``, ``TrainingArguments(``: a repr of metrics has none).
_REPR = lazy.regex(r"\b[A-Z]\w*\(\w+=")
_SETTING = lazy.regex(
    r"""\b[A-Za-z_][\w.]*=(?:True|False|None|'[^']*'|"[^"]*"|"""
    r"(?!(?:[-+]?(?:nan|inf|infinity)|NaN|Inf|INF|NAN|Infinity)\b)[A-Za-z_./][\w./:+-]*)"
    r"(?=[,;)\s]|$)"
)
_SETTINGS_SHOWN = 3
# The same told of a dict's or a JSON object's repr (pair2vec's ``{'train_data_path':
# 'data/..', 'epochs': 3, 'lr': 0.01, 'grad_norm': 1000.0, ..}``: a clipping bound, no
# gradient's norm): three or more quoted keys whose values are words or booleans, and no
# number that a loss or an accuracy is named for (a JSON logger's record has its time,
# level and message as words, and its metrics beside them).
_KEYED_SETTING = lazy.regex(
    r"""['"][A-Za-z_][\w.\- ]*['"]\s*:\s*(?:(['"])(?!\s*[-+]?(?:[\d.]|nan|inf))[^'"]*\1"""
    r"|True|False|None|true|false|null)(?=\s*[,}])",
    re.IGNORECASE,
)
_JUDGED = frozenset((LOSS, VAL_LOSS, ACC, VAL_ACC))
_KEYED_NUMBER = lazy.regex(
    r"""['"]([A-Za-z_][\w.\-/ ]*)['"]\s*:\s*['"]?[-+]?(?:\d|\.\d|nan|inf)""", re.IGNORECASE
)
# A line labelled as settings: its ``key=value`` pairs are settings, numbers included.
_LABELLED = lazy.regex(
    r"\W*(?:hyper-?parameters?|hyps?|config(?:uration)?|args|arguments|options|settings"
    r"|超参数|超參數|ハイパーパラメータ|하이퍼파라미터|配置|设置|設定|설정)\s*[:：]",
    re.IGNORECASE,
)
# A value's own keywords in an array's or tensor's repr (``tensor(0.69, device='cuda:0')``,
# ``Array(0.5, dtype=float32)``): they describe a number, they set nothing.
_VALUE_KEYWORDS = frozenset(("device", "dtype", "grad_fn", "requires_grad", "shape", "weak_type"))
# A Python warning as the warnings module prints it, ``file.py:253: UserWarning: text``:
# its numbers are a source line and the message's, never metrics (the file's path would
# otherwise become a metric name).
_PY_WARNING = lazy.regex(r"\S+:\d+: [A-Z]\w*Warning: ")
# A launcher's own message (Slurm's ``slurmstepd: error: *** STEP 1877342.0 ON node
# CANCELLED AT 2023-09-21T16:46:02 ***``, ``srun: Job step aborted``): its numbers are a
# job's ids, hosts and times, never the run's step or metrics.
_LAUNCHER = lazy.regex(r"(?:slurmstepd|srun|salloc|sbatch)(?:\[\d+\])?: ")
_OPEN = object()  # a JSON document's value while it has not closed
# A line that only names a section of the data (``Test Error:``, ``Validating``, ``valid:``,
# super-gradients' ``└── Validation``, ``=== Train ===``, ``Validating on TIMIT_dev``,
# maybe with the data it runs on): the lines of values after it
# are its (``LogReader._fields``).
_PHASE = lazy.regex(
    r"[\s#=*\-\u2500-\u257f>|.]*"
    rf"(?P<word>{'|'.join((*EVALUATION_WORDS, *TRAIN_WORDS, 'validating', 'evaluating'))})"
    r"(?:[ _](?:set|phase|loop|results?|metrics|stats|summary|error))?"
    # the data it runs on (pytorch-kaldi's ``Validating on TIMIT_dev``, ``Training on
    # ['TIMIT_tr']``), not a count (``Training on 8 GPUs``)
    r"(?:\s+on\s+[^\d\s][^\d]{0,80}?)?"
    r"[\s#=*\-\u2500-\u257f.:!]*",
    re.IGNORECASE,
)


_BARE_TAGS_KEPT = 4096  # bare numbers remembered while none came again
_RANKS_MISSING = 2  # ranks' tags seen in turn may leave out so many numbers (silent ranks)
_BOX_ROWS = 256  # rows read together at most, as one block


def _tagged(tag: bytes | None, rank: int) -> bool:
    """Whether ``tag``, a rank's tag as printed (``[rank3]:``), is ``rank``'s."""
    return tag is not None and int(re.findall(rb"[0-9]+", tag)[-1]) == rank


class LogReader(BulkReader):
    """Reads one input line by line and yields its records as they complete (and, by
    ``BulkReader.read_lines``, blocks of lines)."""

    def __init__(self, names: NameTable | None = None, source: str = "-") -> None:
        """``source``: the input's name (a file's path, ``-``), which names the value of a
        chart's export that prints none (``tables.Table``)."""
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
        self._table = Table(self.names, source)
        self._rank: int | None = None
        # The lines of what may be a JSON document, with their numbers; its nesting depth;
        # and its value once it closed (_OPEN until then).
        self.fences = Fences()  # code fenced in a pasted log is not read
        self._document: list[tuple[int, str]] | None = None
        self._document_size = 0
        self._depth = 0
        self._value: Any = _OPEN
        self._started = False
        self._in_summary = False
        self._section = ""  # the section of a ``| name | value |`` block being read
        self._vertical = False  # in a tabular logger's block (``_VERTICAL_RULE``)
        # The bare numbers seen opening lines, the last one last, until one came again
        # after another (then None: they are ranks' tags, ``_counted_ranks``).
        self._bare_tags: dict[int, None] | None = {}
        self._tags_epoch: float | None = None  # the header's epoch they were seen under
        # The rows of the block being read (``| name | value |``, a tabular logger's), as
        # ``name: value``: a block prints one record, its step among its rows anywhere
        # (sorted names put ``step`` last), so they are read together once it closes.
        self._box: list[str] = []
        self._box_line = 0  # the physical line of its first row
        self._boxed: tuple[int, Fields] | None = None  # a block just closed, as one line
        self._phase: bool | None = None  # a section named by a line of its own: evaluation?
        self._phase_names: set[str] = set()  # the names the open section's lines printed
        self._phase_line: int | None = 0  # the physical line its last values were on
        self._phase_table = False  # the open section is headed by a table's header
        # An evaluation table's rows read so far: each name's sum and count of values, and
        # the physical line of the first row (``_hold``).
        self._eval_rows: dict[str, list[float]] = {}
        self._eval_line = 0
        # Learned layouts: a raw line's shape (digits made 0) -> where its text is in it.
        # ``layouts`` False reads every line the long way (the tests' oracle).
        self.layouts = True
        self._spans: dict[str, tuple[int, int, bool]] = {}  # (start, end, flattened)
        # Learned layouts read in one match (``feed_lines``): the span and the shape, or
        # None for a layout that needs the general way.
        self._compiled: dict[bytes, tuple[int, int, Compiled] | None] = {}
        # The same for layouts whose text is in the line as ``clean.flat`` makes it.
        self._flattened: dict[bytes, tuple[int, int, Compiled] | None] = {}
        # Layouts whose lines can be read by their tokens (``runs.TokenPlan``), or None;
        # one plan object for layouts that can share columns.
        self._plans: dict[bytes, TokenPlan | None] = {}
        self._skeletons: dict[bytes, bytes] = {}
        self._shared: dict[tuple[object, ...], TokenPlan] = {}
        self._planned = 0  # the parser's evictions when the plans were made
        self._unstretched = 0  # blocks still to read without looking for stretches
        self._covered = 0  # lines of the block being read that stretches and weaves took
        self._plain = False  # the last line read went the plain key-value way
        # Layouts of lines that yield nothing under a dialect: whether such a line counts
        # as an unread line with a number (``_hush``).
        # Layouts known to yield nothing: under each dialect, the numbers a line counts.
        self._quiet: dict[bytes, dict[str, int]] = {}

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
        """Whether gradlog numbered the step of any record itself."""
        return self._assembler.numbered

    def mostly_numbered(self, records: int) -> bool:
        """Whether gradlog numbered most of the ``records`` records read: the log prints
        no step for them. (A settings line printed before the first step, ``Config:
        lr=0.001``, is a record gradlog numbers in a log that prints its steps.)"""
        return 2 * self._assembler.numbered_records > records

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
        if self._document is None and self.fences.touches(raw):
            read = self.fences.read(raw)
            if not read and raw:
                self._parser.line = line_no
                return []  # a fence, or code
            raw = read
        return self._feed_read(line_no, raw)

    def _feed_read(self, line_no: int, raw: str) -> list[Record]:
        """``feed`` of a line as read through the fences (a block's are, at once)."""
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
        layout = b""
        tag = None  # the rank's tag the line opens with, when its layout keeps it
        plain = not self._line_by_line()
        if plain and self.layouts and len(raw) <= SPAN_LONGEST:
            # The layout as bytes (the key of compiled and quiet layouts), and as text:
            # ``mask_digits(raw)``, since only ASCII bytes are digits (but a rank's tag's).
            data = raw.encode("utf-8", "surrogatepass")
            layout = data.translate(BYTE_DIGITS)
            if layout[:1] in TAG_FIRST:
                layout, tag = ranked(data, layout)
            key = layout.decode("utf-8", "surrogatepass")
            if self._counted_quiet(layout):
                return []
            span = self._spans.get(key)
            if span is not None:
                start, end, flattened = span
                entries = self._compiled
                if flattened:  # its text is in the line as ``clean`` flattens it
                    text = flat(raw)[start:end]
                    masked = mask_digits(text)
                    if layout not in entries and len(entries) < SPANS_KEPT:
                        entries[layout] = None  # (no shape reads the line as it is)
                    entries = self._flattened
                else:
                    text, masked = raw[start:end], key[start:end]
                quick = self._named(self._quick(line_no, text, masked))
                entry = entries.get(layout, _OPEN)
                # Compiled once, and again when it went stale: the parser dropped shapes,
                # or the log's dialect changed (its renames made the roles).
                if (entry is _OPEN and len(entries) < SPANS_KEPT) or (
                    isinstance(entry, tuple) and not self._current(entry[2])
                ):
                    shape = self._parser.compiled(text, masked)
                    if isinstance(entry, tuple) and shape and entry[2].same_as(shape):
                        # (The same under this dialect: it stays current under both, so
                        # a log that turns from one to the other and back keeps it.)
                        entry[2].readers.add(self._parser.dialect.name)
                    elif shape is not True:  # else the shape is not learned yet
                        entries[layout] = (start, end, shape) if shape else None
                return quick
        records: list[Record] = []
        segments = clean(raw)
        # A line whose layout says what it yields: a rank's line, when its layout keeps
        # the rank's tag (else lines of other ranks share it).
        single = (
            key is not None
            and len(segments) == 1
            and (segments[0].rank is None or _tagged(tag, segments[0].rank))
        )
        hush = single
        self._plain = False
        if hush:
            parser = self._parser
            before = (self.unread_numeric, parser.dialect, parser.limits.total(), parser.sightings)
        for segment in segments:
            rank, text = segment.rank, segment.text
            if rank is not None and segment.tag and not self._counted_ranks(rank):
                # (A counter, so far: ``1: loss 2.07``, ``2: loss 1.86``; read with it.)
                rank, text = None, segment.tag.lstrip() + text
            if rank is not None and self._other_rank(rank):
                continue  # another rank printing the same run: keep one
            self._plain = False
            fields = self._fields(text)
            hush = hush and fields is None
            if self._boxed is not None:  # (a block the line closed: its record first)
                records += self._assemble(*self._boxed)
                self._boxed = None
            records += self._assemble(line_no, fields)
        if single and self._plain:
            assert key is not None
            self._learn(key, raw, segments[0])
        elif hush:
            self._hush(layout, before, segments[0].rank not in (None, self._rank))
        return self._named(records)

    def _other_rank(self, rank: int) -> bool:
        """Whether ``rank``'s lines are another rank's than the one read: the first rank
        seen is read from then on (every rank prints the same run)."""
        if self._rank is None:
            self._rank = rank
        return rank != self._rank

    def _counted_ranks(self, tag: int) -> bool:
        """Whether bare numbers opening lines (``0: ``, ``3: ``) are ranks' tags: once one
        came again after another, as ranks' do in turn; a counter's never do (``1: loss
        ..``, ``2: ..``), nor does a step's over its lines (``50: loss ..``, ``50: acc
        ..``). Until then they are read as no tag; from then on the first one is the rank
        read."""
        seen = self._bare_tags
        if seen is None:
            return True
        epoch = self._assembler.header_epoch
        if epoch != self._tags_epoch:
            # An epoch's header came: a counter opening lines starts again under it, so
            # a number seen before it coming again tells no ranks.
            seen.clear()
            self._tags_epoch = epoch
        if tag in seen and tag != next(reversed(seen)):
            if max(seen) - min(seen) + 1 > len(seen) + _RANKS_MISSING:
                # Numbers with gaps between them (``[1]``, ``[21]``, ``[41]``, then
                # ``[1]`` again): a step counter that started again, not ranks'
                # tags, which number the ranks one by one. They are counted afresh.
                seen.clear()
                seen[tag] = None
                return False
            self._bare_tags = None
            self._rank = self._rank if self._rank is not None else next(iter(seen))
            return True
        seen.pop(tag, None)  # (the last one seen is the last in order)
        if len(seen) < _BARE_TAGS_KEPT:
            seen[tag] = None
        return False

    def _hush(self, layout: bytes, before: tuple[int, Dialect, int, int], other: bool) -> None:
        """Remember the ``layout`` of a line that yielded nothing and changed nothing
        but the count of unread lines with a number: every step reads all digits alike, so
        any line of it does the same (``feed`` then only counts it, once the examples of
        unread lines are all kept). Not when the line changed the parser's dialect or
        reached one of its caps (a shape skipped for want of credit may be read later), or
        a shape counted it (``inspect`` shows the count). ``other``: the line is another
        rank's than the one read, skipped under any dialect."""
        numeric, dialect, limits, sightings = before
        parser = self._parser
        if (
            self._line_by_line()  # (a section's line, a table's header: never quiet)
            or parser.dialect is not dialect
            or parser.limits.total() != limits
            or parser.sightings != sightings  # a shape counted the line: not nothing
        ):
            return
        if len(self._quiet) >= SPANS_KEPT:
            self._quiet.clear()
        if other:  # another rank's line: skipped whatever the dialect, nothing counted
            self._quiet[layout] = {ANY_DIALECT: 0}
            return
        self._quiet.setdefault(layout, {})[dialect.name] = self.unread_numeric - numeric

    def _counted_quiet(self, layout: bytes) -> bool:
        """Whether a line of ``layout`` is known to yield nothing under the log's dialect
        now (``_hush``), and so was only counted."""
        quiet = self._quiet.get(layout)
        if quiet is None:
            return False
        if ANY_DIALECT in quiet:
            return True  # (another rank's line: it counts as nothing)
        if not self._unread_full():
            return False
        numeric = quiet.get(self._parser.dialect.name)
        if numeric is None:
            return False
        self.unread_numeric += numeric
        return True

    def _unread_full(self) -> bool:
        """Whether the examples of lines nothing was read from are all kept."""
        return len(self.unparsed) >= _UNPARSED_KEPT and len(self.unread_examples) >= _UNREAD_KEPT

    def feed_lines(self, first: int, lines: Iterable[str]) -> list[Record]:
        """Read physical lines numbered from ``first``; return the records they complete
        (``read_lines``, as one list)."""
        return [record for part in self.read_lines(first, lines) for record in part]

    def _learn(self, key: str, raw: str, segment: Segment) -> None:
        """Remember where in a raw line of this layout its text is, when cleaning only cut
        a prefix (a timestamp, a logger's name) or a suffix and the text was read as plain
        key-value pairs: every step of that, from cleaning to the event screen, reads all
        digits alike, so any line of the same layout goes the same way. (A rank's line
        comes here only when its layout keeps the rank's tag: ``grammar.ranked``.)"""
        if len(self._spans) >= SPANS_KEPT:
            return
        base, text = raw.rstrip("\n").removesuffix("\r"), segment.text  # as clean() ends it
        if "\b" in base or "\r" in base:
            return  # backspaces and redraws rewrite the text
        # Colour codes are only cut out, alike whatever their digits: a text that is left
        # whole at the end (or start) of the line had them all in the part cut off. Else
        # the text may be whole in the line flattened (``clean.flat``: colour codes cut
        # out within it, tabs widened), as long as no bar is cut out of it first.
        for flattened in (False, True):
            if flattened:
                if "%|" in base or (base.isprintable() and "\x1b" not in base):
                    return
                base = flat(raw)
            if base.endswith(text):
                self._spans[key] = (len(base) - len(text), len(base), flattened)
                return
            if base.startswith(text):
                self._spans[key] = (0, len(text), flattened)
                return

    def _quick(self, line_no: int, text: str, masked: str) -> list[Record]:
        """A line of a learned layout: what ``_fields`` would do with it, without the
        steps that cannot apply (cleaning, summaries, tables, events, warnings)."""
        fields = self._parser.parse(text, masked)
        return self._assemble(line_no, self._tally(text, text.strip(), fields))

    def _assemble(self, line_no: int, fields: Fields | None) -> list[Record]:
        """Count a line that yielded fields and give them to the assembler."""
        if fields is None:
            return []
        named = None if RANKS.isdisjoint(fields.metrics) else rank_in(fields.metrics)
        if named is not None and self._other_rank(named):
            return []  # (a rank named in the line, as by a tag opening it: ``feed``)
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
                events = documents.event_texts(self._value)
                if events is not None:
                    return self._events(events) + self._named(self._assembler.flush(idle))
                return self._named(self._read_document())
            # The input ended inside the value: it was not JSON, but lines.
            return self._as_lines() + self._named(self._assembler.flush(idle))
        boxed: list[Record] = []
        if (self._box or self._eval_rows) and not idle:  # (cut off by the end of the input)
            self._close_box()
            self._release()
            if self._boxed is not None:
                boxed, self._boxed = self._assemble(*self._boxed), None
        return self._named(boxed + self._assembler.flush(idle))

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
        """A cleaned line's fields, under the section a line of its own named just
        before (``_PHASE``): the PyTorch tutorial's ``Test Error:`` over its ``Accuracy:
        45.0%, Avg loss: 1.80``. Such a section holds one reading: the lines of values
        after it, up to the first that prints none, a step, an epoch alone (a header) or
        a name the section holds from another line (the next reading). While it is open,
        lines are read one by one, so that each is read under it."""
        phase = _PHASE.fullmatch(text.strip())
        if phase is not None and not _SUMMARY_BLOCK.match(text):  # (HF's closing banner)
            self._phase = phase["word"].lower() not in TRAIN_WORDS
            self._phase_names, self._phase_line = set(), self._parser.line
            self._phase_table = False
            return None
        headers, rows = self.kinds["table header"], self.kinds["table"]
        fields = self._read_fields(text)
        if self._phase is None:
            return fields
        if fields is None and self.kinds["table header"] > headers:
            self._phase_table = True  # (ParlAI's ``valid:`` over a table: its rows)
            return None
        if self._phase_table and fields is not None and self.kinds["table"] > rows:
            if not self._phase:
                return fields
            self._hold(fields)
            return None
        self._phase_table = False
        self._release()
        line = self._parser.line
        if (
            fields is None
            or not fields.metrics
            or fields.step is not None
            or fields.is_header
            or (line != self._phase_line and not self._phase_names.isdisjoint(fields.metrics))
        ):
            self._phase = None
            return fields
        self._phase_names.update(fields.metrics)
        self._phase_line = line  # (a redrawn line's states are one reading)
        return self._phased(fields)

    def _phased(self, fields: Fields) -> Fields:
        """``fields`` read under the open section: an evaluation's under their
        evaluation names."""
        if not self._phase:
            return fields
        metrics = {in_context(name, True, False): value for name, value in fields.metrics.items()}
        return dataclasses.replace(fields, metrics=metrics)

    def _hold(self, fields: Fields) -> None:
        """Keep a row of an evaluation section's table (NequIP's ``validation`` over ``#
        Epoch batch  loss ..``, a row per batch): its rows are one evaluation, read as
        their mean once the table ends (``_release``). Its batches and epoch are its own
        count, not the training's steps."""
        if not self._eval_rows:
            self._eval_line = self._parser.line or 0
        for name, value in fields.metrics.items():
            held = self._eval_rows.setdefault(name, [0.0, 0])
            held[0] += value
            held[1] += 1

    def _release(self) -> None:
        """The evaluation ``_hold`` kept, as one line's fields (assembled before the
        line that ended its table)."""
        if not self._eval_rows:
            return
        metrics = {
            in_context(name, True, False): total / count
            for name, (total, count) in self._eval_rows.items()
        }
        self._eval_rows = {}
        self._boxed = (self._eval_line, Fields(metrics, None, None, "table"))

    def _read_fields(self, text: str) -> Fields | None:
        stripped = text.strip()
        if not stripped:
            return None
        rewritten = False  # the text became another (a ``| name | value |`` row)
        if self._summary(stripped):
            self._unread(stripped)  # (whole-run figures are not read, and the report says so)
            return None
        darknet = darknet_pairs(stripped)
        if darknet == "":  # its per-layer statistics: not the run's series
            self._unread(stripped)
            return None
        if darknet is not None:
            text, rewritten = darknet, True
        if ("=" in stripped and self._configuration(stripped)) or (
            "{" in stripped and self._keyed_configuration(stripped)
        ):
            self._unread(stripped)  # settings, not a record
            return None
        if stripped[0] == "|" and stripped[-1] == "|" and not self._table.labelled:
            block, self._section = block_row(stripped, self.names, self._section)
            if block == "":
                return None
            if block is not None:
                self._take_row(block)
                return None
        elif self._section and stripped.startswith("---"):
            self._section = ""
        elif _VERTICAL_RULE.match(stripped):
            self._vertical = not self._vertical
            self._close_box()
            return None
        elif self._vertical:
            pair = _VERTICAL_ROW.match(stripped)
            if pair is not None and NUMBER_RE.fullmatch(pair["value"]):
                self._take_row(f"{pair['name']}: {pair['value']}")
                return None
            self._vertical = False
        self._close_box()  # (any other line closes the block: a rule, or what follows)
        if self._table.columns and (row := self._table.row(text)) is not None:
            self.kinds["table"] += 1
            return Fields(row.metrics, row.step, row.epoch, row.dialect)
        masked = mask_digits(text)
        found = event(text, masked)
        warning = ("Warning: " in stripped and _PY_WARNING.match(stripped) is not None) or (
            stripped.startswith("s") and _LAUNCHER.match(stripped) is not None
        )
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

    def _take_row(self, row: str) -> None:
        """Keep a block's row (``name: value``) until the block closes (``_close_box``)."""
        if len(self._box) >= _BOX_ROWS:
            self._close_box()  # (no block is that long: rows that never close one)
        if not self._box:
            self._box_line = self._parser.line or 0
        self._box.append(row)

    def _close_box(self) -> None:
        """Read the rows of the block that just closed as one line: its record."""
        if not self._box:
            return
        text = ", ".join(self._box)
        self._box = []
        fields = self._parser.parse(text, mask_digits(text))
        if fields is not None:
            self.kinds["key-value"] += 1
            self._boxed = (self._box_line, fields)

    def _unread(self, text: str) -> None:
        if len(self.unparsed) < _UNPARSED_KEPT:
            self.unparsed.append(text[:200])
        if NUMBER_RE.search(text):
            self.unread_numeric += 1
            if len(self.unread_examples) < _UNREAD_KEPT:
                self.unread_examples.append(text[:200])

    @staticmethod
    def _configuration(text: str) -> bool:
        """Whether a line is a run's configuration (``_SETTING``)."""
        if _LABELLED.match(text) and text.count("=") >= _SETTINGS_SHOWN:
            return True  # ``hyperparameters: lr0=0.01, lrf=0.1, ..`` (YOLOv5, YOLOv7)
        keys = [m[0][: m[0].index("=")] for m in _SETTING.finditer(text, 0, PARSE_LIMIT)]
        words = sum(key not in _VALUE_KEYWORDS for key in keys)
        # (An object's repr that opens with a keyword is its settings, a tensor's keywords
        # too: Dreamer's ``Space(dtype=float32, shape=(), low=-inf, high=inf)``.)
        return words >= _SETTINGS_SHOWN or (bool(keys) and _REPR.search(text) is not None)

    @staticmethod
    def _keyed_configuration(text: str) -> bool:
        """Whether a dict's or JSON object's repr is a run's configuration
        (``_KEYED_SETTING``)."""
        settings = sum(1 for _ in _KEYED_SETTING.finditer(text, 0, PARSE_LIMIT))
        if settings < _SETTINGS_SHOWN:
            return False
        keys = _KEYED_NUMBER.findall(text, 0, PARSE_LIMIT)
        return not any(family(normalise(key)) in _JUDGED for key in keys)

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

    def _events(self, events: list[tuple[int, str]]) -> list[Record]:
        """The records of an export of a log's events (``documents.event_texts``): each
        event's text read as the log's lines, each at the line of the export where its
        event's text is (or the one before)."""
        import json

        lines = self._document or []
        self._document, self._value = None, _OPEN
        where, at = {}, 0
        for index, text in sorted(events):  # (the export's order, to find them in it)
            # (As the export spelled it: non-ASCII as it is, or escaped.)
            probes = {json.dumps(text, ensure_ascii=ascii)[1:41] for ascii in (False, True)}
            ahead = range(at, min(len(lines), at + _EVENT_LINES))  # (bounded: linear)
            found = next((k for k in ahead if any(p in lines[k][1] for p in probes)), None)
            at = at if found is None else found
            where[index] = lines[at][0] if at < len(lines) else 1
        self.kinds["log event"] += len(events)
        # Most events end in a newline: they are what a program wrote, a piece at a time
        # (Kaggle's output), a progress bar's redraw without one, and the log is their
        # text run together. Else each event is a line (or lines) of the log. Each line
        # is at the event it began in.
        if 2 * sum(text.endswith("\n") for _, text in events) <= len(events):
            events = [(index, text.rstrip("\r\n") + "\n") for index, text in events]
        records: list[Record] = []
        pending, first = "", 0
        for index, text in events:
            first = first if pending else where[index]
            *done, pending = (pending + text).split("\n")
            for line in done:
                records += self.feed(first, line.rstrip("\r"))
                first = where[index]
        if pending:
            records += self.feed(first, pending.rstrip("\r"))
        return records

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
