"""Decimal numbers to doubles a column at a time, exactly as ``float()`` reads them.

``floats_at`` reads the tokens of a column at given spans of a text (a stretch of lines
as ``runs.KEEP`` leaves them) a length at a time: the bytes of the tokens of one
length are cut from the text into a table, a row each, and read a layout at a time
(``alike``: tokens with their signs, point and exponent mark in the same places are read
from their digits). ``floats`` is the same for a list of tokens.

A log printed with ``repr`` (HF Trainer's dicts, ``print(f"loss {loss.item()}")``) has
floats of 16 or 17 significant digits. Their digits make an integer ``w`` above 2**53,
so ``w`` times or over a power of ten is no longer one exact operation, and ``float()``
one by one costs about 0.3 us a value: for a few such numbers per line, more than all
the rest of reading. ``nearest`` rounds ``w * 10**q`` to the nearest double for a whole
column (``w`` below 10**19, exact in 64 bits) by the Eisel-Lemire method (Lemire,
"Number Parsing at a Gigabyte per Second", 2021): ``w``, shifted to use all 64 bits, is
multiplied by a 128-bit truncation of ``10**q``; the top 54 bits of the product give the
double's significand, unless the truncation could have changed the rounding, which the
method detects. The multiplication is done in 32-bit halves. What it cannot decide (a
tie, a subnormal, an overflow, a truncation too close to call) is left to ``float()``,
so the result is ``float()``'s, bit for bit (tests compare the two on many thousands of
numbers of every kind).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from gradlog import lazy

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

SIGNIFICANT = 19  # digits of w at most: 10**19 < 2**64
_ZERO, _BLANK = ord("0"), ord(" ")
_LOWEST, _HIGHEST = -342, 308  # powers of ten the method handles (outside: 0 or inf)
_LOW_BITS = 0x1FF  # the product's bits below the 54 kept, where a truncation shows


@cache
def _powers() -> tuple[np.ndarray, np.ndarray]:
    """10**q for q from _LOWEST to _HIGHEST, each as a 128-bit integer with its top bit
    set, rounded down: its high and its low 64 bits."""
    high, low = [], []
    for q in range(_LOWEST, _HIGHEST + 1):
        if q >= 0:
            power = 10**q
            bits = power.bit_length()
            value = power << (128 - bits) if bits <= 128 else power >> (bits - 128)
        else:
            divisor = 10**-q
            value = (1 << (127 + divisor.bit_length())) // divisor
        high.append(value >> 64)
        low.append(value & (2**64 - 1))
    return np.array(high, np.uint64), np.array(low, np.uint64)


def _product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 128-bit products of two uint64 arrays, as their high and low 64 bits."""
    half, mask = np.uint64(32), np.uint64(0xFFFFFFFF)
    a_high, a_low, b_high, b_low = a >> half, a & mask, b >> half, b & mask
    low_low, low_high, high_low = a_low * b_low, a_low * b_high, a_high * b_low
    middle = (low_low >> half) + (low_high & mask) + (high_low & mask)
    low = (low_low & mask) | (middle << half)
    high = a_high * b_high + (low_high >> half) + (high_low >> half) + (middle >> half)
    return high, low


def _bit_length(values: np.ndarray) -> np.ndarray:
    """The bit length of each positive uint64 (as int64)."""
    _, estimate = np.frexp(values.astype(np.float64))  # may be one too many: rounding up
    estimate = estimate.astype(np.int64)
    over = (values >> (estimate - 1).astype(np.uint64)) == 0
    length: np.ndarray = estimate - over
    return length


def _eisel_lemire(w: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bits of the double nearest ``w * 10**q`` (w > 0, q in range), and whether
    the method decided it (else ``float()`` must)."""
    high_table, low_table = _powers()
    power_high, power_low = high_table[q - _LOWEST], low_table[q - _LOWEST]
    zeros = 64 - _bit_length(w)
    w = w << zeros.astype(np.uint64)
    exponent = ((217706 * q) >> 16) + 64 + 1023 - zeros
    high, low = _product(w, power_high)
    decided = np.ones(len(w), bool)
    wider = ((high & np.uint64(_LOW_BITS)) == _LOW_BITS) & (low + w < w)
    if wider.any():  # the truncated low half of the power may carry into the kept bits
        more_high, more_low = _product(w[wider], power_low[wider])
        merged_low = low[wider] + more_high
        merged_high = high[wider] + (merged_low < low[wider])
        unsure = (
            ((merged_high & np.uint64(_LOW_BITS)) == _LOW_BITS)
            & (merged_low + np.uint64(1) == 0)
            & (more_low + w[wider] < w[wider])
        )
        decided[np.flatnonzero(wider)[unsure]] = False
        high[wider], low[wider] = merged_high, merged_low
    top = high >> np.uint64(63)
    mantissa = high >> (top + np.uint64(9))
    exponent -= (top ^ np.uint64(1)).astype(np.int64)
    decided &= ~((low == 0) & ((high & np.uint64(_LOW_BITS)) == 0) & ((mantissa & 3) == 1))
    mantissa = (mantissa + (mantissa & 1)) >> np.uint64(1)
    carried = (mantissa >> np.uint64(53)) > 0
    mantissa = np.where(carried, mantissa >> np.uint64(1), mantissa)
    exponent += carried
    decided &= (exponent > 0) & (exponent < 0x7FF)  # else subnormal, or infinite
    exponent = np.clip(exponent, 0, 0x7FF).astype(np.uint64)
    bits = (exponent << np.uint64(52)) | (mantissa & np.uint64((1 << 52) - 1))
    return bits, decided


def nearest(w: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The doubles nearest ``w * 10**q`` (``w`` uint64, ``q`` int64), and whether each
    was decided: where not (see the module's text), ``float()`` must read the token."""
    values = np.zeros(len(w), np.float64)
    decided = w == 0
    ranged = (w > 0) & (q >= _LOWEST) & (q <= _HIGHEST)
    if ranged.any():
        bits, sure = _eisel_lemire(w[ranged], q[ranged])
        values[ranged] = bits.view(np.float64)
        decided[np.flatnonzero(ranged)[sure]] = True
    return values, decided


# A number token's layout: sign, integer digits, fraction digits, exponent sign and digits.
_LAYOUT = lazy.regex(rb"([-+]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([-+]?)([0-9]+))?")
_ALIKE_SHORTEST = 128  # tokens: a shorter column is read by float (numpy costs more)
_EXACT_DIGITS = 15  # digits of an integer every double holds exactly (below 2**53)
_EXACT_POWER = 22  # 10**22 is the largest power of ten a double holds exactly
_POWERS = tuple(10.0**k for k in range(_EXACT_POWER + 1))
_EXPONENT_DIGITS = 4  # a longer exponent is read by float (its value is 0 or inf anyway)
WIDEST = 24  # bytes: a column with a longer token is read by float
_ROWS_PER_LAYOUT = 16  # fewer on average: a column of so many layouts is read by float


def floats(tokens: list[bytes]) -> np.ndarray:
    """``float()`` of each token, as an array; raises ValueError as ``float`` would.
    (``floats_at`` on the tokens joined by blanks; tokens that hold a blank, or none,
    are read by ``float``.)"""
    text = b" ".join(tokens)
    starts, ends = token_spans(text)
    if len(starts) != len(tokens):
        return np.fromiter(map(float, tokens), np.float64, len(tokens))
    return floats_at(np.frombuffer(text + bytes(WIDEST), np.uint8), starts, ends)


def token_spans(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Where each token of ``text`` (a ``KEEP`` translation: tokens between blanks)
    starts and ends, as ``text.split()`` would cut them."""
    kept = np.frombuffer(text, np.uint8) != _BLANK
    if not len(kept):
        return np.empty(0, np.intp), np.empty(0, np.intp)
    # Where a byte differs from the one before: a token's start and its end, in turn.
    edges = np.flatnonzero(kept[1:] != kept[:-1]) + 1
    if kept[0]:
        edges = np.concatenate(([0], edges))
    if kept[-1]:
        edges = np.append(edges, len(kept))
    return edges[0::2], edges[1::2]


def floats_at(padded: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``float()`` of each token at ``starts`` to ``ends`` of a text's bytes (``padded``:
    with WIDEST bytes after them), as an array; ValueError as ``float``.

    The tokens' bytes are cut from the text a length at a time, a row each. Tokens of one
    length printed alike (with their signs, point and exponent mark in the same places)
    are read together from their digits (``alike``); a column of several layouts of one
    length is read a layout at a time, the same way. What is left, and a short column, is
    read by ``float``, one by one."""
    count = len(starts)
    lengths = ends - starts
    width = int(lengths.max()) if count else 0
    if count >= _ALIKE_SHORTEST and 0 < width <= WIDEST:
        found = _read_spans(padded, starts, lengths)
        if found is not None:
            return found
    data = padded.tobytes()
    return np.fromiter(
        (float(data[start:end]) for start, end in zip(starts.tolist(), ends.tolist(), strict=True)),
        np.float64,
        count,
    )


def _read_spans(padded: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """The values of the tokens at ``starts`` of ``padded``, ``lengths`` long: cut into
    a table a length at a time (a row each) and read by ``alike``, else a layout at a
    time; None to leave them all to ``float``."""

    def cut(rows: np.ndarray | slice, length: int) -> np.ndarray:
        # Every window of ``length`` bytes (a view: sliding_window_view costs more),
        # then the tokens' windows gathered into a table.
        windows = (len(padded) - length + 1, length)
        every = np.lib.stride_tricks.as_strided(padded, windows, (1, 1), writeable=False)
        table: np.ndarray = every[starts[rows]]
        return table

    first = int(lengths[0])
    if (lengths == first).all():
        return _read_group(cut(slice(None), first))
    return _grouped(lengths, lambda rows: _read_group(cut(rows, int(lengths[rows[0]]))))


def _read_group(table: np.ndarray) -> np.ndarray:
    """The values of tokens of one length (a row of ``table`` each)."""
    found = alike(table, table[0].tobytes())
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
    """Powers of ten below 10**19 (uint64); each byte's kind (1 digit, then ., e or E,
    +, -, and 6 anything else); the weight of each place of a token in the number of its
    layout (its kinds in base 7)."""
    tens = np.array([10**k for k in range(SIGNIFICANT)], np.uint64)
    kinds = np.full(256, 6, np.uint8)
    kinds[_ZERO : _ZERO + 10] = 1
    kinds[[ord("."), ord("e"), ord("E"), ord("+"), ord("-")]] = [2, 3, 3, 4, 5]
    return tens, kinds, np.array([7.0**k for k in range(WIDEST)])


def _by_layout(table: np.ndarray) -> np.ndarray | None:
    """Tokens of one length (a row of ``table`` each) that are not all printed alike,
    read a layout at a time: the rows whose bytes are of the same kinds (digit, point,
    exponent mark, sign) in the same places, by ``alike``, or by ``float`` when it
    cannot; None when they have too many layouts to be worth it."""
    _, kinds, places = _tables()
    # Each row's layout as a number (kinds in base 7). In doubles it may round, and two
    # layouts share a number: ``alike`` then refuses the mix, and ``float`` reads it.
    layouts = kinds[table].astype(np.float64) @ places[: table.shape[1]]

    def read(rows: np.ndarray) -> np.ndarray:
        found = alike(table[rows], table[rows[0]].tobytes())
        return _by_float(table[rows]) if found is None else found

    return _grouped(layouts, read)


def alike(rows: np.ndarray, first: bytes) -> np.ndarray | None:
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
