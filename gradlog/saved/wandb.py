"""W&B run folders: the logged history, read from the run's ``.wandb`` file without the
wandb package, else the console capture (``files/output.log``).

A ``.wandb`` file is a LevelDB-style log: a 7-byte header (``:W&B``, a magic number,
a version), then 32 KiB blocks of records, each with a 7-byte header (CRC, length,
kind: whole, or the first, a middle or the last fragment of a record split across
blocks). Each record is a ``Record`` protocol buffer; its field 2 is a history row
(``HistoryRecord``: 1 items, each 1 key, 2 nested keys, 16 the value as JSON; 2 the
step). Only numbers are kept; W&B's own ``_step``, ``_runtime``, ``_timestamp`` are not
metrics.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import BinaryIO

from gradlog.saved.wire import fields

_IDENT = b":W&B"
_FILE_HEADER = 7
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


class HistoryError(ValueError):
    """Not a W&B run file, or a damaged one."""


def records(stream: BinaryIO) -> Iterator[bytes]:
    """The data of each record of a ``.wandb`` file; a record cut short at the end (a
    run still writing) ends it."""
    block = stream.read(_BLOCK)
    if block[:4] != _IDENT:
        raise HistoryError("it does not start as a W&B run file")
    at, pending = _FILE_HEADER, b""
    while block:
        while at + 7 <= len(block):
            _, length, kind = struct.unpack("<IHB", block[at : at + 7])
            if kind == 0 and length == 0:
                break  # the block's zero padding
            data = block[at + 7 : at + 7 + length]
            if len(data) < length:
                return
            at += 7 + length
            if kind == _FULL:
                yield data
            elif kind == _FIRST:
                pending = data
            elif kind == _MIDDLE:
                pending += data
            elif kind == _LAST:
                yield pending + data
                pending = b""
            else:
                raise HistoryError(f"a record of unknown kind {kind}")
        block, at = stream.read(_BLOCK), 0


def _number(text: str) -> float | None:
    import json  # here, not at the top: a log's start never needs it

    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def history(stream: BinaryIO) -> Iterator[tuple[float, dict[str, float]]]:
    """Each history row of a run file: its step and numeric values (nested keys joined
    with ``/``)."""
    for data in records(stream):
        for number, _, value in fields(data):
            if number != 2 or not isinstance(value, bytes):
                continue
            step: float | None = None
            row: dict[str, float] = {}
            for inner, _, item in fields(value):
                if inner == 1 and isinstance(item, bytes):
                    key, parts, found = "", [], None
                    for part, _, field_value in fields(item):
                        if not isinstance(field_value, bytes):
                            continue
                        if part == 1:
                            key = field_value.decode("utf-8", "replace")
                        elif part == 2:
                            parts.append(field_value.decode("utf-8", "replace"))
                        elif part == 16:
                            found = _number(field_value.decode("utf-8", "replace"))
                    name = key or "/".join(parts)
                    if name == "_step" and found is not None:
                        step = found
                    elif found is not None and name and not name.startswith("_"):
                        row[name] = found
                elif inner == 2 and isinstance(item, bytes):
                    for part, _, num in fields(item):
                        if part == 1 and isinstance(num, int):
                            step = float(num)
            if row and step is not None and math.isfinite(step):
                yield step, row


def has_history(path: str) -> bool:
    """Whether a run file holds at least one history row (read up to the first)."""
    try:
        with open(path, "rb") as stream:
            return next(history(stream), None) is not None
    except (OSError, ValueError):
        return False
