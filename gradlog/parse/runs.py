"""Runs of lines of compiled shapes, read together (``LogReader._run``).

A run is a stretch of consecutive lines whose shapes share a run key
(``Compiled.run_key``: the same metrics, step and epoch, dialect and kind of run). It is
held one of two ways, with the same questions asked of both:

- ``Listed``: lines already matched one by one, each with its number tokens;
- ``Stretch``: lines of one block whose skeletons share a ``TokenPlan``, never matched
  one by one: their numbers are cut out of the whole stretch at once
  (``bytes.translate`` and ``split``) and parsed a column at a time.

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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from itertools import chain, groupby
from typing import TYPE_CHECKING

from gradlog.parse.compiled import Compiled
from gradlog.parse.exact import SIGNIFICANT, nearest
from gradlog.parse.grammar import BYTE_DIGITS

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

# A line's number tokens, as ``split`` finds them: characters a decimal number is written
# with are kept, every other byte becomes a blank.
KEEP = bytes(c if chr(c) in "0123456789.eE+-" else 0x20 for c in range(256))
_TOKEN = re.compile(rb"\S+")
LONG_RUN = 5  # digits: a longer run of digits is cut to this many in a skeleton
_FRACTION = re.compile(rb"\.0{2,}")  # (in a layout, every digit is 0)
_LONG = re.compile(b"0{%d,}" % (LONG_RUN + 1))
_ZERO = ord("0")
_BLANK = ord(" ")
_NEWLINE = ord("\n")

Item = tuple[int, tuple[str, ...], Compiled]  # a line's number, its number tokens, its shape
Entry = tuple[int, int, Compiled]  # where a layout's text is in its line, and its shape


class TokenPlan:
    """Which of a layout's tokens are its shape's picked numbers (``Compiled.pick``);
    shared, as one object, by every layout whose lines can share columns."""

    __slots__ = ("picks", "shape", "width")

    def __init__(self, width: int, picks: tuple[int, ...], shape: Compiled) -> None:
        self.width = width  # tokens per line
        self.picks = picks  # the tokens ``Roles.picked`` names
        self.shape = shape  # the shape of the first layout seen: the run key's

    def key(self) -> tuple[object, ...]:
        """What layouts must share to share a plan."""
        shape = self.shape
        return (
            self.width,
            self.picks,
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
    covered = set(chain.from_iterable(range(a, b) for a, b in spans))
    if any(c.isdigit() and i not in covered for i, c in enumerate(raw[start:end], start)):
        return None  # a digit the pattern reads literally, or in a masked id
    tokens = {
        found.span(): index
        for index, found in enumerate(_TOKEN.finditer(raw.encode("ascii").translate(KEEP)))
    }
    picks = []
    for group in shape.roles.picked():
        token = tokens.get(spans[group])
        if token is None:
            return None
        picks.append(token)
    return TokenPlan(len(tokens), tuple(picks), shape)


def stretches(plans: Sequence[TokenPlan | None], shortest: int) -> list[tuple[int, int, TokenPlan]]:
    """The stretches of at least ``shortest`` consecutive lines of one plan: (first,
    end, plan)."""
    found = []
    position = 0
    for plan, lines in groupby(plans):
        count = len(list(lines))
        if plan is not None and count >= shortest:
            found.append((position, position + count, plan))
        position += count
    return found


class Listed:
    """A run of lines matched one by one."""

    def __init__(self, items: list[Item]) -> None:
        self._items = items
        self.shape = items[0][2]

    def __len__(self) -> int:
        return len(self._items)

    def item(self, index: int) -> Item:
        return self._items[index]

    def numbers(self, first: int, end: int) -> np.ndarray:
        """The line numbers of lines ``first`` to ``end``."""
        items = self._items[first:end]
        return np.fromiter((number for number, _, _ in items), np.int64, len(items))

    def shapes(self, first: int, end: int) -> list[tuple[Compiled, int]]:
        """The shapes of lines ``first`` to ``end``, each with its count of lines."""
        return [(shape, 1) for _, _, shape in self._items[first:end]]

    def table(self, width: int) -> np.ndarray | None:
        """The picked numbers of every line, a row each; None when a number needs more
        than ``float()`` (``to_float`` reads it, line by line)."""
        picked = chain.from_iterable(shape.pick(groups) for _, groups, shape in self._items)
        try:
            table = np.fromiter(map(float, picked), np.float64, len(self._items) * width)
        except ValueError:
            return None
        return table.reshape(len(self._items), width)


def skeleton(layout: bytes) -> bytes:
    """The skeleton of a line's layout (the line as UTF-8 with its digits made 0)."""
    return _LONG.sub(b"0" * LONG_RUN, _FRACTION.sub(b".0", layout))


def skeletons(
    lines: list[str],
    joined: str | None = None,
    known: dict[bytes, bytes] | None = None,
    longest: int = 2048,
    kept: int = 4096,
) -> tuple[bytes, list[bytes]] | None:
    """The lines joined by newlines as UTF-8, and each line's skeleton; None when a line
    holds a newline (it is not a physical line). ``joined``: the lines joined by
    newlines, when the caller has it. ``known`` and the rest: see ``skeleton_keys``."""
    if joined is None:
        joined = "\n".join(lines)
    data = joined.encode("utf-8", "surrogatepass")
    found = skeleton_keys(data.translate(BYTE_DIGITS), len(lines), known, longest, kept)
    return None if found is None else (data, found)


def skeleton_keys(
    masked: bytes,
    count: int,
    known: dict[bytes, bytes] | None = None,
    longest: int = 2048,
    kept: int = 4096,
) -> list[bytes] | None:
    """The skeletons of ``count`` lines, from their bytes joined by newlines with their
    digits made 0; None when there are not ``count`` lines. ``known``: the skeletons of
    layouts seen before; those of new layouts of at most ``longest`` bytes are added, up
    to ``kept`` in all (most lines of a log have a layout seen before: a dictionary
    look-up each, instead of the patterns)."""
    layouts = masked.split(b"\n")
    if len(layouts) != count:
        return None
    if known is None:
        known = {}
    new = {layout: skeleton(layout) for layout in set(layouts).difference(known)}
    if not new:
        return list(map(known.__getitem__, layouts))
    found = list(map({**known, **new}.__getitem__, layouts))
    for layout, key in new.items():
        if len(known) >= kept:
            break
        if len(layout) <= longest:
            known[layout] = key
    return found


class Lines:
    """A block of physical lines with their skeletons, for ``Stretch``es."""

    def __init__(
        self,
        numbers: Sequence[int],
        lines: list[str],
        data: bytes,
        keys: list[bytes],
        masked: bytes | None = None,
    ) -> None:
        self.numbers = numbers  # each line's number (a redrawn line's states share one)
        self.lines = lines
        self.keys = keys  # their skeletons
        self._data = data  # the lines joined by newlines, as UTF-8
        self._ends: np.ndarray | None = None
        # The data with its digits made 0, when the caller has it.
        self._masked = None if masked is None else np.frombuffer(masked, np.uint8)

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
        if self._masked is None:
            self._masked = np.frombuffer(self._data.translate(BYTE_DIGITS), np.uint8)
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

    def __len__(self) -> int:
        return self._end - self._first

    def line(self, index: int) -> tuple[int, str]:
        """The number and text of line ``index`` of the stretch (negative from its end)."""
        index = index % len(self) + self._first
        return self._block.numbers[index], self._block.lines[index]

    def numbers(self, first: int, end: int) -> np.ndarray:
        numbers = self._block.numbers[self._first + first : self._first + end]
        if isinstance(numbers, range):
            return np.arange(numbers.start, numbers.stop, dtype=np.int64)
        return np.array(numbers, dtype=np.int64)

    def shapes(self, first: int, end: int) -> list[tuple[Compiled, int]]:
        return [(self.shape, end - first)]

    def table(self, width: int) -> np.ndarray | None:
        rows = self._block.rows(self._first, self._end)
        if rows is not None:
            found = self._columns(rows, width)
            if found is not None:
                return found
        plan, count = self._plan, len(self)
        text = self._block.text(self._first, self._end).translate(KEEP)
        starts, ends = token_spans(text)
        if len(starts) != count * plan.width:
            return None
        padded = np.frombuffer(text + bytes(_WIDEST), np.uint8)
        table = np.empty((count, width))
        try:
            for column, token in enumerate(plan.picks):
                picked = slice(token, None, plan.width)
                table[:, column] = floats_at(padded, starts[picked], ends[picked])
        except ValueError:
            return None
        return table

    def _columns(self, rows: np.ndarray, width: int) -> np.ndarray | None:
        """The picked numbers of lines that share one uncut skeleton (``Lines.rows``),
        each column read from its bytes at once when printed alike (``_alike``); None
        when a column is not."""
        first = rows[0].tobytes()
        spans = [found.span() for found in _TOKEN.finditer(first.translate(KEEP))]
        if len(spans) != self._plan.width:
            return None
        table = np.empty((len(rows), width))
        for column, token in enumerate(self._plan.picks):
            start, end = spans[token]
            values = _alike(rows[:, start:end], first[start:end])
            if values is None:
                return None
            table[:, column] = values
        return table


# A number token's layout: sign, integer digits, fraction digits, exponent sign and digits.
_LAYOUT = re.compile(rb"([-+]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?)([0-9]+))?")
_ALIKE_SHORTEST = 128  # tokens: a shorter column is read by float (numpy costs more)
_EXACT_DIGITS = 15  # digits of an integer every double holds exactly (below 2**53)
_EXACT_POWER = 22  # 10**22 is the largest power of ten a double holds exactly
_POWERS = tuple(10.0**k for k in range(_EXACT_POWER + 1))
_EXPONENT_DIGITS = 4  # a longer exponent is read by float (its value is 0 or inf anyway)
_WIDEST = 24  # bytes: a column with a longer token is read by float
_ROWS_PER_LAYOUT = 16  # fewer on average: a column of so many layouts is read by float


def floats(tokens: list[bytes]) -> np.ndarray:
    """``float()`` of each token, as an array; raises ValueError as ``float`` would.
    (``floats_at`` on the tokens joined by blanks; tokens that hold a blank, or none,
    are read by ``float``.)"""
    text = b" ".join(tokens)
    starts, ends = token_spans(text)
    if len(starts) != len(tokens):
        return np.fromiter(map(float, tokens), np.float64, len(tokens))
    return floats_at(np.frombuffer(text + bytes(_WIDEST), np.uint8), starts, ends)


def token_spans(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Where each token of ``text`` (a ``KEEP`` translation: tokens between blanks)
    starts and ends, as ``text.split()`` would cut them."""
    kept = (np.frombuffer(text, np.uint8) != _BLANK).view(np.int8)
    edges = np.diff(kept, prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def floats_at(padded: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``float()`` of each token at ``starts`` to ``ends`` of a text's bytes (``padded``:
    with _WIDEST NUL bytes after them), as an array; ValueError as ``float``.

    The tokens' bytes are cut from the text at once, a row each. Tokens of one length
    printed alike (with their signs, point and exponent mark in the same places) are read
    together from their digits (``_alike``); a column of several lengths or layouts
    (``repr`` floats) is read a length, then a layout, at a time, the same way. What is
    left, and a short column, is read by ``float``, one by one."""
    count = len(starts)
    lengths = ends - starts
    width = int(lengths.max()) if count else 0
    if count >= _ALIKE_SHORTEST and 0 < width <= _WIDEST:
        table = np.lib.stride_tricks.sliding_window_view(padded, width)[starts]
        table[np.arange(width) >= lengths[:, None]] = 0  # NUL after each token
        found = _read_table(table, lengths)
        if found is not None:
            return found
    data = padded.tobytes()
    return np.fromiter(
        (float(data[start:end]) for start, end in zip(starts.tolist(), ends.tolist(), strict=True)),
        np.float64,
        count,
    )


def _read_table(table: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """The values of the tokens of ``table`` (a row each, ``lengths`` long, NUL after
    each), a length at a time by ``_alike``, else a layout at a time; None to leave them
    all to ``float``."""
    if (lengths == lengths[0]).all():  # one length: the table itself, not a copy
        return _read_group(table[:, : lengths[0]])
    return _grouped(lengths, lambda rows: _read_group(table[rows, : lengths[rows[0]]]))


def _read_group(table: np.ndarray) -> np.ndarray:
    """The values of tokens of one length (a row of ``table`` each)."""
    found = _alike(table, table[0].tobytes())
    if found is None:
        found = _by_layout(table)
    return _by_float(table) if found is None else found


def _by_float(table: np.ndarray) -> np.ndarray:
    """``float`` of each row of ``table`` (tokens of one length)."""
    return np.fromiter(map(float, map(np.ndarray.tobytes, table)), np.float64, len(table))


def _grouped(keys: np.ndarray, read: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
    """The values of rows read a group at a time (the rows of one key: ``read(rows)``);
    None when there are too many groups to be worth it."""
    count = len(keys)
    values = np.empty(count)
    done = np.zeros(count, bool)
    start = 0
    for _ in range(max(1, count // _ROWS_PER_LAYOUT)):
        rows = np.flatnonzero(keys == keys[start])
        values[rows] = read(rows)
        done[rows] = True
        start = int(done.argmin())
        if done[start]:
            return values
    return None


@cache
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Powers of ten below 10**19 (uint64); each byte's kind (0 padding, 1 digit, then
    ., e or E, +, -, and 6 anything else); the weight of each place of a token in the
    number of its layout (its kinds in base 7)."""
    tens = np.array([10**k for k in range(SIGNIFICANT)], np.uint64)
    kinds = np.full(256, 6, np.uint8)
    kinds[0], kinds[_ZERO : _ZERO + 10] = 0, 1
    kinds[[ord("."), ord("e"), ord("E"), ord("+"), ord("-")]] = [2, 3, 3, 4, 5]
    return tens, kinds, np.array([7.0**k for k in range(_WIDEST)])


def _by_layout(table: np.ndarray) -> np.ndarray | None:
    """Tokens of one length (a row of ``table`` each) that are not all printed alike,
    read a layout at a time: the rows whose bytes are of the same kinds (digit, point,
    exponent mark, sign) in the same places, by ``_alike``, or by ``float`` when it
    cannot; None when they have too many layouts to be worth it."""
    _, kinds, places = _tables()
    # Each row's layout as a number (kinds in base 7). In doubles it may round, and two
    # layouts share a number: ``_alike`` then refuses the mix, and ``float`` reads it.
    layouts = kinds[table].astype(np.float64) @ places[: table.shape[1]]

    def read(rows: np.ndarray) -> np.ndarray:
        found = _alike(table[rows], table[rows[0]].tobytes())
        return _by_float(table[rows]) if found is None else found

    return _grouped(layouts, read)


def _alike(rows: np.ndarray, first: bytes) -> np.ndarray | None:
    """The values of tokens of one length, a row of bytes each, when they are printed
    alike (see ``floats``); else None.

    The digits make an integer ``w`` below 10**19 and the value is ``w`` times a power
    of ten. When ``w`` is below 2**53 and the power at most 10**22, the value is one
    correctly rounded operation on two exact doubles, which is exactly what ``float``
    returns; otherwise ``exact.nearest`` rounds it, and ``float`` reads what it leaves."""
    layout = _LAYOUT.fullmatch(first)
    if layout is None:
        return None
    digit = (rows[0] >= _ZERO) & (rows[0] <= _ZERO + 9)
    if not ((rows[:, ~digit] == rows[0, ~digit]).all() and (rows[:, digit] - _ZERO <= 9).all()):
        return None
    places = [*range(*layout.span(2))]
    if layout.group(3) is not None:
        places += range(*layout.span(3))
    if len(places) > SIGNIFICANT:  # leading zeros in every row may go
        extra = places[: len(places) - SIGNIFICANT]
        if not (rows[:, extra] == _ZERO).all():
            return None
        places = places[len(extra) :]
    if not places:
        return None
    scale = np.full(len(rows), -len(layout.group(3) or b""), np.int64)
    if layout.group(5) is not None:
        start, end = layout.span(5)
        if end - start > _EXPONENT_DIGITS:
            return None
        exponent = 10 ** np.arange(end - start - 1, -1, -1, dtype=np.int64)
        exponent = (rows[:, start:end] - _ZERO).astype(np.int64) @ exponent
        scale += -exponent if layout.group(4) == b"-" else exponent
    digits = (rows[:, places] - _ZERO).astype(np.uint64)
    weights = _tables()[0][len(places) - 1 :: -1]
    if len(places) <= _EXACT_DIGITS and np.abs(scale).max() <= _EXACT_POWER:
        mantissa = (digits @ weights).astype(np.float64)
        power = np.array(_POWERS)[np.abs(scale)]
        values: np.ndarray = np.where(scale >= 0, mantissa * power, mantissa / power)
    else:
        values, decided = nearest(digits @ weights, scale)
        for row in np.flatnonzero(~decided):  # float() decides (the sign comes below)
            values[row] = abs(float(rows[row].tobytes()))
    return np.negative(values) if layout.group(1) == b"-" else values
