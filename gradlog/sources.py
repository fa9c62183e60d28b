"""Where lines come from: files and standard input, read as bytes and decoded safely."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

_CHUNK = 1 << 16


def decode(raw: bytes) -> str:
    """Bytes of one line -> text; invalid UTF-8 is replaced, never fatal."""
    return raw.decode("utf-8", errors="replace")


def iter_lines(stream: BinaryIO) -> Iterator[str]:
    """Lines of a binary stream, split on ``\\n`` only (``\\r`` is left for the cleaner)."""
    pending = b""
    while chunk := stream.read(_CHUNK):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield decode(raw)
    if pending:
        yield decode(pending)


def read_file(path: str) -> Iterator[str]:
    """The lines of the file at ``path`` (OSError propagates to the caller)."""
    with open(path, "rb") as stream:
        yield from iter_lines(stream)
