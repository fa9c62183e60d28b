"""Decimal numbers to doubles a column at a time, exactly as ``float()`` reads them.

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

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

SIGNIFICANT = 19  # digits of w at most: 10**19 < 2**64
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
