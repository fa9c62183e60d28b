"""Runs of lines of compiled shapes, read together (``LogReader._run``).

A run is a stretch of consecutive lines whose shapes share a run key
(``Compiled.run_key``: the same metrics, step and epoch, dialect and kind of run). It is
held one of two ways, with the same questions asked of both:

- ``Listed``: lines already matched one by one, each with its number tokens;
- ``Stretch``: lines of one block whose skeletons share a ``TokenPlan``, never matched
  one by one: their numbers are cut out of the whole stretch at once
  (``bytes.translate`` and ``split``) and parsed a column at a time; a short one is cut
  from a table of every line of its plan in the block (``Lines.picked``), read the
  same way once for all of them.

A line's skeleton (``skeletons``) is the line with its digits made 0, every run of more
than ``LONG_RUN`` digits cut to that many and every run after a point cut to one, so that
a float printed with 2 decimals or 17 (``repr``) gives the same skeleton: the parser and
the cleaning read digits alike, runs that long alike whatever their length, and a
fraction's digits alike whatever their count (no rule counts the digits after a point).
A skeleton is made once per layout (the line with its digits made 0) by two patterns and
then looked up: a log prints few layouts, many times each.

Why a plan reads what the parser would. A plan is made from one line of a compiled
layout only when every digit of the text its pattern matches lies inside one of the
pattern's number groups, and each group it reads is exactly one token of the line as
``KEEP`` translates it. Every line of the same skeleton then has its digits at the same
places among the same other characters, so the same tokens, and the pattern (literal
text with no digit, number groups that take any count of digits) would match it with
its groups at those tokens.

A number printed with thousands separators (``1,920``, ``12_000_000``) is several
tokens: a head of 1 to 3 digits, then tails of 3 digits each, one ``,`` or ``_`` between
them (``TokenPlan.grouped``). A skeleton keeps counts of up to ``LONG_RUN`` digits, so
every line of it prints the same groups, and the pattern takes them as one number; the
plan reads them as digits only (no sign, point or exponent) and of at most 15 digits, so
that joining them (head * 1000 + tail...) is exact, as ``to_float`` is on the text.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING

from gradlog import lazy
from gradlog.parse.compiled import Compiled, to_float
from gradlog.parse.exact import WIDEST, alike, floats_at, token_spans
from gradlog.parse.grammar import BYTE_DIGITS, TAG_FIRST, ranked
from gradlog.parse.line import MASK

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

# A line's number tokens, as ``split`` finds them: characters a decimal number is written
# with are kept, every other byte becomes a blank.
KEEP = bytes(c if chr(c) in "0123456789.eE+-" else 0x20 for c in range(256))
_TOKEN = lazy.regex(rb"\S+")
LONG_RUN = 5  # digits: a longer run of digits is cut to this many in a skeleton
_FRACTION = lazy.regex(rb"\.0{2,}")  # (in a layout, every digit is 0)
_LONG = lazy.regex(b"0{%d,}" % (LONG_RUN + 1))
_NEWLINE = ord("\n")
_ROWS_SHORTEST = 128  # lines: a shorter stretch is cut from its plan's table (``Lines.picked``)
_GROUPED_DIGITS = 15  # digits of a number in thousands groups: its join is exact in float

Item = tuple[int, tuple[str, ...], Compiled]  # a line's number, its number tokens, its shape
Entry = tuple[int, int, Compiled]  # where a layout's text is in its line, and its shape


class TokenPlan:
    """Which of a layout's tokens are its shape's picked numbers (``Compiled.pick``);
    shared, as one object, by every layout whose lines can share columns."""

    __slots__ = ("constants", "grouped", "picks", "shape", "width")

    def __init__(
        self,
        width: int,
        picks: tuple[int, ...],
        shape: Compiled,
        constants: tuple[tuple[int, float], ...] = (),
        grouped: tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.width = width  # tokens per line
        self.picks = picks  # the tokens ``Roles.picked`` names (-1: a constant)
        self.shape = shape  # the shape of the first layout seen: the run key's
        # Picked numbers printed without a digit (``nan``, ``inf``): the same text on every
        # line of the layout, so the same value: (column, value).
        self.constants = constants
        # Picked numbers printed in thousands groups: (column, count of tokens), the
        # first of them the column's pick.
        self.grouped = grouped

    def table(self, count: int, width: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """A table for the picked numbers of ``count`` lines, its constant columns
        filled; and the columns still to read, each with its first token and count of
        tokens (``join``: more than one are thousands groups)."""
        table = np.empty((count, width))
        for column, value in self.constants:
            table[:, column] = value
        groups = dict(self.grouped)
        return table, [
            (column, token, groups.get(column, 1))
            for column, token in enumerate(self.picks)
            if token >= 0
        ]

    def key(self) -> tuple[object, ...]:
        """What layouts must share to share a plan."""
        shape = self.shape
        return (
            self.width,
            self.picks,
            tuple((column, repr(value)) for column, value in self.constants),
            self.grouped,
            shape.run_key,
            shape.evictions,
            id(shape.dialect),
            id(shape.plan_dialect),
            shape.marker,
            shape.bits,
            id(shape.stats),  # its lines are counted as the shape's
        )


def token_plan(raw: str, entry: Entry) -> TokenPlan | None:
    """The plan reading ``raw``'s layout by tokens, or None when that might read any of
    its lines otherwise than its shape's pattern does (see the module's docstring)."""
    start, end, shape = entry
    if shape.run is None or not raw.isascii():  # tokens are bytes: offsets must agree
        return None
    match = shape.pattern.fullmatch(raw[start:end])
    if match is None:
        return None
    spans = [(match.start(i) + start, match.end(i) + start) for i in range(1, match.re.groups + 1)]
    # (The digits of a masked id, a date: any digits, which every line of the layout
    # prints in the same places, so that its tokens are in the same order.)
    masked = [found.span() for found in MASK.finditer(raw, start, end)]
    covered = set(chain.from_iterable(range(a, b) for a, b in spans + masked))
    if any(c.isdigit() and i not in covered for i, c in enumerate(raw[start:end], start)):
        return None  # a digit the pattern reads literally
    data = raw.encode("ascii")
    found = [token.span() for token in _TOKEN.finditer(data.translate(KEEP))]
    tokens = {span: index for index, span in enumerate(found)}
    picks = []
    constants = []
    grouped = []
    for column, group in enumerate(shape.roles.picked()):
        first, end = spans[group]
        text = raw[first:end]
        if text and not any(c.isdigit() for c in text):
            # (No digit: every line of the layout prints this very text, ``nan`` or
            # ``inf``, and the shape reads it as ``to_float`` does.)
            try:
                constants.append((column, to_float(text)))
            except ValueError:
                return None
            picks.append(-1)
            continue
        token = tokens.get(spans[group])
        if token is None:
            count = _thousands(data, found, spans[group])
            if count is None:
                return None
            token = tokens[found[count[0]]]
            grouped.append((column, count[1]))
        picks.append(token)
    return TokenPlan(len(tokens), tuple(picks), shape, tuple(constants), tuple(grouped))


def _thousands(
    data: bytes, tokens: list[tuple[int, int]], span: tuple[int, int]
) -> tuple[int, int] | None:
    """The tokens of a number at ``span`` of ``data`` (the line) that the pattern took in
    thousands groups (``grammar.NUMBER_RE``: a head of 1 to 3 digits, tails of 3, a ``,``
    or ``_`` between each): (the first token's index, their count), when they are digits
    only (no sign, point or exponent) and at most ``_GROUPED_DIGITS`` of them; else None."""
    start, end = span
    first = bisect.bisect_left(tokens, (start, start))
    last = bisect.bisect_left(tokens, (end, end)) - 1
    if first >= last or tokens[first][0] != start or tokens[last][1] != end:
        return None
    groups = [data[low:high] for low, high in tokens[first : last + 1]]
    if not all(group.isdigit() for group in groups) or sum(map(len, groups)) > _GROUPED_DIGITS:
        return None
    return first, last - first + 1


class Listed:
    """A run of lines matched one by one."""

    def __init__(self, items: list[Item]) -> None:
        self._items = items
        self.shape = items[0][2]

    def __len__(self) -> int:
        return len(self._items)

    def item(self, index: int) -> Item:
        return self._items[index]

    def part(self, first: int, end: int) -> Listed:
        """Lines ``first`` to ``end`` of the run."""
        return Listed(self._items[first:end])

    def numbers(self, first: int, end: int) -> np.ndarray:
        """The line numbers of lines ``first`` to ``end``."""
        items = self._items[first:end]
        return np.fromiter((number for number, _, _ in items), np.int64, len(items))

    def shapes(self, first: int, end: int) -> list[tuple[Compiled, int]]:
        """The shapes of lines ``first`` to ``end``, each with its count of lines."""
        return [(shape, 1) for _, _, shape in self._items[first:end]]

    def table(self, width: int) -> np.ndarray | None:
        """The picked numbers of every line, a row each, read as ``read_roles`` reads
        them: by ``float()``, or ``to_float`` when a number needs more (``1,920``);
        None when not even that reads one."""
        count = len(self._items)
        for read in (float, to_float):
            picked = chain.from_iterable(shape.pick(groups) for _, groups, shape in self._items)
            try:
                table = np.fromiter(map(read, picked), np.float64, count * width)
            except ValueError:
                continue
            return table.reshape(count, width)
        return None


def skeleton(layout: bytes) -> bytes:
    """The skeleton of a line's layout (the line as UTF-8 with its digits made 0)."""
    return _LONG.sub(b"0" * LONG_RUN, _FRACTION.sub(b".0", layout))


def skeletons(
    lines: list[str],
    joined: str | None = None,
    known: dict[bytes, bytes] | None = None,
    longest: int = 2048,
    kept: int = 4096,
    tagged: bool = True,
) -> tuple[bytes, list[bytes], bytes, list[bytes]] | None:
    """The lines joined by newlines as UTF-8, each line's skeleton, the joined bytes
    with their digits made 0, and each line's layout (``grammar.layout``); None when a line
    holds a newline (it is not a physical line). ``joined``: the lines joined by
    newlines, when the caller has it. ``known``: the skeletons of layouts seen before;
    those of new layouts of at most ``longest`` bytes are added, up to ``kept`` in all
    (most lines of a log have a layout seen before: a dictionary look-up each, instead
    of the patterns). ``tagged``: a line may open with a rank's tag (else none is looked
    for)."""
    if joined is None:
        joined = "\n".join(lines)
    data = joined.encode("utf-8", "surrogatepass")
    masked = data.translate(BYTE_DIGITS)
    layouts = masked.split(b"\n")
    if len(layouts) != len(lines):
        return None
    if tagged:  # (a rank's tag keeps its digits)
        layouts = [
            ranked(line, layout)[0] if layout[:1] in TAG_FIRST else layout
            for line, layout in zip(data.split(b"\n"), layouts, strict=True)
        ]
    if known is None:
        known = {}
    new = {layout: skeleton(layout) for layout in set(layouts).difference(known)}
    if not new:
        return data, list(map(known.__getitem__, layouts)), masked, layouts
    keys = list(map({**known, **new}.__getitem__, layouts))
    for layout, key in new.items():
        if len(known) >= kept:
            break
        if len(layout) <= longest:
            known[layout] = key
    return data, keys, masked, layouts


class Lines:
    """A block of physical lines with their skeletons, for ``Stretch``es."""

    def __init__(
        self,
        numbers: Sequence[int],
        lines: list[str],
        data: bytes,
        keys: list[bytes],
        masked: bytes,
        plans: Sequence[TokenPlan | None] = (),
    ) -> None:
        self.numbers = numbers  # each line's number (a redrawn line's states share one)
        self.lines = lines
        self.keys = keys  # their skeletons
        self._data = data  # the lines joined by newlines, as UTF-8
        self._ends: np.ndarray | None = None
        self._masked = np.frombuffer(masked, np.uint8)  # the data with its digits made 0
        self.plans = plans  # each line's token plan, if any (for ``picked``)
        self._tables: dict[TokenPlan, tuple[np.ndarray, np.ndarray] | None] = {}
        # Each line's plan as a number, and the numbers: made once, for every plan.
        self._codes: tuple[np.ndarray, dict[TokenPlan | None, int]] | None = None

    def picked(self, plan: TokenPlan, lines: np.ndarray, width: int) -> np.ndarray | None:
        """The picked numbers of ``lines`` (positions in the block, all of ``plan``), a
        row each, cut from the table of every line of that plan in the block (read once,
        a column at a time, however short the runs between other lines); None when that
        table cannot be read so."""
        found = self._table_of(plan, width)
        if found is None:
            return None
        where, table = found
        rows: np.ndarray = table[where[lines]]
        return rows

    def _table_of(self, plan: TokenPlan, width: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``_plan_table``, read once per block and plan."""
        if not self.plans:
            return None
        if plan not in self._tables:
            self._tables[plan] = self._plan_table(plan, width)
        return self._tables[plan]

    def row(self, plan: TokenPlan, line: int) -> list[float] | None:
        """The picked numbers of ``line`` (of ``plan``), when ``picked`` read its table."""
        found = self._tables.get(plan)
        if found is None:
            return None
        where, table = found
        at = int(where[line])
        return None if at < 0 else table[at].tolist()

    def _plan_table(self, plan: TokenPlan, width: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Where each line's row is (-1: not of ``plan``), and the picked numbers of every
        line of ``plan``; None when a line of it has other tokens, or a number needs more
        than ``float()``."""
        each, codes = self.codes()
        mine = np.flatnonzero(each == codes[plan])
        if not len(mine):
            return None
        text = "\n".join(map(self.lines.__getitem__, mine.tolist()))
        table = picked_numbers(text.encode("utf-8", "surrogatepass"), len(mine), plan, width)
        if table is None:
            return None
        where = np.full(len(self.lines), -1, np.int64)
        where[mine] = np.arange(len(mine))
        return where, table

    def codes(self) -> tuple[np.ndarray, dict[TokenPlan | None, int]]:
        """Each line's plan as a number, and the number of each plan."""
        if self._codes is None:
            codes = {found: code for code, found in enumerate(dict.fromkeys(self.plans))}
            self._codes = np.fromiter(map(codes.__getitem__, self.plans), np.int64), codes
        return self._codes

    def _span(self, first: int, end: int) -> tuple[int, int]:
        """Where lines ``first`` to ``end`` are in the block's bytes."""
        if self._ends is None:  # where each line ends: its newline (the last: the end)
            breaks = np.flatnonzero(np.frombuffer(self._data, np.uint8) == _NEWLINE)
            self._ends = np.append(breaks, len(self._data))
        start = 0 if first == 0 else int(self._ends[first - 1]) + 1
        return start, int(self._ends[end - 1])

    def text(self, first: int, end: int) -> bytes:
        """Lines ``first`` to ``end`` as they are in the block: joined by newlines."""
        start, stop = self._span(first, end)
        return self._data[start:stop]

    def rows(self, first: int, end: int) -> np.ndarray | None:
        """Lines ``first`` to ``end`` as a table of bytes, a row each (a view of the
        block's bytes, not a copy), when they are laid out alike: the same length and,
        with their digits made 0, the same bytes. Then each token of one line is at the
        same columns in all. None otherwise."""
        start, stop = self._span(first, end)
        count = end - first
        if (stop - start + 1) % count:
            return None
        width = (stop - start + 1) // count  # a line and its newline
        masked = self._masked
        if not (masked[start + width - 1 : stop : width] == _NEWLINE).all():
            return None  # lines of other lengths (each row must end at a line's end)
        shape, strides = (count, width - 1), (width, 1)
        layout = np.lib.stride_tricks.as_strided(masked[start:], shape, strides, writeable=False)
        if not (layout == layout[0]).all():
            return None
        data = np.frombuffer(self._data, np.uint8)[start:]
        return np.lib.stride_tricks.as_strided(data, shape, strides, writeable=False)


class Stretch:
    """Lines ``first`` to ``end`` of a block, of skeletons sharing ``plan``."""

    def __init__(self, block: Lines, first: int, end: int, plan: TokenPlan) -> None:
        self._block, self._first, self._end = block, first, end
        self._plan = plan
        self.shape = plan.shape
        self._read: np.ndarray | None = None  # its table, once ``table`` read it

    def __len__(self) -> int:
        return self._end - self._first

    def part(self, first: int, end: int) -> Stretch:
        """Lines ``first`` to ``end`` of the stretch."""
        return Stretch(self._block, self._first + first, self._first + end, self._plan)

    def line(self, index: int) -> tuple[int, str]:
        """The number and text of line ``index`` of the stretch (negative from its end)."""
        index = index % len(self) + self._first
        return self._block.numbers[index], self._block.lines[index]

    def values(self, index: int) -> list[float] | None:
        """The picked numbers of line ``index`` (negative from the end), when the block's
        table of its plan was read (``Lines.picked``); else None."""
        index %= len(self)
        if self._read is not None:
            row: list[float] = self._read[index].tolist()
            return row
        return self._block.row(self._plan, index + self._first)

    def numbers(self, first: int, end: int) -> np.ndarray:
        numbers = self._block.numbers[self._first + first : self._first + end]
        if isinstance(numbers, range):
            return np.arange(numbers.start, numbers.stop, dtype=np.int64)
        return np.array(numbers, dtype=np.int64)

    def shapes(self, first: int, end: int) -> list[tuple[Compiled, int]]:
        return [(self.shape, end - first)]

    def shape_at(self, index: int) -> Compiled:
        """The shape line ``index`` is read by."""
        return self.shape

    def table(self, width: int) -> np.ndarray | None:
        block = self._block
        if len(self) >= _ROWS_SHORTEST:  # lines laid out alike are read in place
            rows = block.rows(self._first, self._end)
            found = None if rows is None else self._columns(rows, width)
        else:  # a short stretch is cut from the block's table of its plan
            found = block.picked(self._plan, np.arange(self._first, self._end), width)
        if found is None:
            found = picked_numbers(block.text(self._first, self._end), len(self), self._plan, width)
        self._read = found  # (its end lines, read by themselves, are read from it)
        return found

    def _columns(self, rows: np.ndarray, width: int) -> np.ndarray | None:
        """The picked numbers of lines that share one uncut skeleton (``Lines.rows``),
        each column read from its bytes at once when printed alike (``alike``); None
        when a column is not."""
        first = rows[0].tobytes()
        spans = [found.span() for found in _TOKEN.finditer(first.translate(KEEP))]
        if len(spans) != self._plan.width:
            return None
        table, tokens = self._plan.table(len(rows), width)
        for column, token, count in tokens:
            groups = [
                values
                for start, end in spans[token : token + count]
                if (values := alike(rows[:, start:end], first[start:end])) is not None
            ]
            if len(groups) < count:
                return None
            table[:, column] = joined(groups)
        return table


def joined(groups: list[np.ndarray]) -> np.ndarray:
    """A column of numbers from the values of its thousands groups, head first (one
    group: its values): head * 1000 + the next..., exact for digits only and at most
    ``_GROUPED_DIGITS`` of them."""
    values = groups[0]
    for group in groups[1:]:
        values = values * 1000 + group
    return values


def picked_numbers(text: bytes, count: int, plan: TokenPlan, width: int) -> np.ndarray | None:
    """The picked numbers of ``count`` lines of ``plan`` (``text``: them joined by
    newlines), a row each, every column read at once (``floats_at``); None when a line
    has other tokens than the plan's, or a number needs more than ``float()``."""
    text = text.translate(KEEP)
    starts, ends = token_spans(text)
    if len(starts) != count * plan.width:
        return None
    padded = np.frombuffer(text + bytes(WIDEST), np.uint8)
    table, tokens = plan.table(count, width)
    try:
        for column, token, count in tokens:
            table[:, column] = joined(
                [
                    floats_at(padded, starts[group :: plan.width], ends[group :: plan.width])
                    for group in range(token, token + count)
                ]
            )
    except ValueError:
        return None
    return table
