"""Where lines come from: files, standard input, followed files and pipes, read as bytes."""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Callable, Iterator
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


# Live reading: bytes as they arrive, never waiting longer than the caller allows.

# A line with no "\n" is cut here: far above any real log line, yet it bounds the memory a
# stream without newlines (an endless "\r" progress bar) can take.
MAX_LINE = 1 << 20
# How often a followed file is checked for growth, truncation and rotation: tail -f
# checks once a second; ten times as often keeps a followed alert within 0.1 s.
FOLLOW_POLL = 0.1


class LineSplitter:
    """Chunks of bytes in, complete lines out; a partial line waits for its end.

    A partial line longer than ``max_line`` bytes is cut (after its last ``\\r`` when it
    has one, so a progress bar is cut between two redraws) and the piece is a line.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._pending = bytearray()

    def push(self, chunk: bytes) -> list[str]:
        """Take the next bytes; return the lines they complete, in order."""
        head, *rest = chunk.split(b"\n")
        self._pending += head
        lines = self._cut()
        if rest:
            lines.append(decode(bytes(self._pending)))
            lines += [decode(raw) for raw in rest[:-1]]
            self._pending = bytearray(rest[-1])
            lines += self._cut()
        return lines

    def flush(self) -> str | None:
        """The input ended: the partial line, if any, is a line."""
        if not self._pending:
            return None
        line = decode(bytes(self._pending))
        self._pending.clear()
        return line

    def _cut(self) -> list[str]:
        lines = []
        while len(self._pending) > self.max_line:
            end = self._pending.rfind(b"\r", 0, self.max_line) + 1 or self.max_line
            lines.append(decode(bytes(self._pending[:end])))
            del self._pending[:end]
        return lines


class FdReader:
    """Reads a file descriptor (pipe, terminal or file), waiting at most ``timeout``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._selector: selectors.BaseSelector | None = selectors.DefaultSelector()
        try:
            self._selector.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            self._selector = None  # a regular file: epoll refuses it, and it never blocks

    def read(self, timeout: float) -> bytes | None:
        """New bytes, ``b""`` when none came within ``timeout``, None at end of input."""
        if self._selector is not None and not self._selector.select(timeout):
            return b""
        try:
            data = os.read(self.fd, _CHUNK)
        except BlockingIOError:  # a descriptor someone left non-blocking
            return b""
        return data or None

    def close(self) -> None:
        if self._selector is not None:
            self._selector.close()


class FollowReader:
    """``tail -f`` on a path: the bytes already there, then new ones as the file grows.

    A file that shrinks was truncated and is read again from the start; a path that now
    names another file was rotated, and the new file is read from its start. Neither
    ends the input: a followed file ends only when the caller stops.
    """

    def __init__(self, path: str, on_event: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._on_event = on_event or (lambda _message: None)
        self._fd = os.open(path, os.O_RDONLY)
        self._identity = _identity(os.fstat(self._fd))

    def read(self, timeout: float) -> bytes:
        """New bytes, or ``b""`` after waiting ``timeout`` (at most one poll interval)."""
        data = os.read(self._fd, _CHUNK)
        if data or self._reopened() or self._rewound():
            return data or os.read(self._fd, _CHUNK)
        time.sleep(min(timeout, FOLLOW_POLL))
        return b""

    def close(self) -> None:
        os.close(self._fd)

    def _reopened(self) -> bool:
        try:
            if _identity(os.stat(self.path)) == self._identity:
                return False
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False  # rotated away and not yet re-created: keep the old file
        os.close(self._fd)
        self._fd, self._identity = fd, _identity(os.fstat(fd))
        self._on_event(f"{self.path} was replaced by a new file; reading it from the start")
        return True

    def _rewound(self) -> bool:
        if os.fstat(self._fd).st_size >= os.lseek(self._fd, 0, os.SEEK_CUR):
            return False
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._on_event(f"{self.path} was truncated; reading it from the start")
        return True


def _identity(status: os.stat_result) -> tuple[int, int]:
    return (status.st_dev, status.st_ino)
