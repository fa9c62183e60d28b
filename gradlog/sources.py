"""Where lines come from: files, FIFOs, sockets, standard input and followed files.

Every input is opened once and read as bytes, in blocks, never whole. A compressed file
(gzip, bzip2, xz, zstd when the ``zstandard`` module is there) is decompressed as it is
read; an input that is not text (``/dev/urandom``, an archive, a model checkpoint) is
refused from its first block (``InputError``), and a line is never longer than
``MAX_LINE``: a longer one keeps its head, and the lines cut are counted.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import errno
import gzip
import lzma
import os
import selectors
import stat
import time
import zlib
from collections.abc import Callable, Generator, Iterator
from itertools import chain
from typing import Any, BinaryIO, Protocol, cast

from gradlog import lazy

try:
    import fcntl
except ImportError:  # (Windows)
    fcntl = None  # type: ignore[assignment]  # (its pipes keep their size)

_CHUNK = 1 << 16
# A live reader that finds more bytes already waiting after a read takes them too, up to
# this many: a writer ahead of gradlog (a fast job, a file read from its start) is read
# in blocks whose fixed cost is spread over ~4,000 lines instead of ~1,000, which makes
# reading 3-4x cheaper, while a block still takes ~10 ms to read (an alert's delay).
GATHER = 1 << 18
# ``diagnose -`` waits for the end of its input anyway: it takes up to this much at once
# (Linux lets a user's pipe hold 1 MiB), nearer the blocks a saved file is read in.
GATHER_SAVED = 1 << 20

# A line is cut here: far above any real log line, yet it bounds the memory of a stream
# with no newline (an endless "\r" progress bar, /dev/zero, one 50 MB base64 blob).
MAX_LINE = 1 << 20
# How often a followed file is checked for growth, truncation and rotation: tail -f
# checks once a second; ten times as often keeps a followed alert within 0.1 s.
FOLLOW_POLL = 0.1

BINARY = "binary or compressed input"
# C0 controls a text log never holds: all but tab, newline, vertical tab, form feed,
# carriage return, backspace and escape (terminals use those), plus DEL.
_NOT_TEXT = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\b\x1b") + b"\x7f"
_SAMPLE = 8192  # bytes judged, after any leading NULs; file(1) also reads a few KiB
# Random and compressed bytes are 10.5% such controls (27 of 256 values); text has none,
# so a third of that is a wide margin both ways. Legacy encodings (cp1252, cp1251) have
# high bytes, not controls: they stay text.
_NOT_TEXT_SHARE = 0.035
# copytruncate leaves a hole of NULs where the old content was: skipped, up to this much.
# /dev/zero never ends, so past it the input is binary.
_LEADING_NULS = 16 << 20
# Magic bytes of the formats gradlog decompresses, and of archives it names in its refusal.
_COMPRESSED = {
    b"\x1f\x8b\x08": "gzip",  # and deflate, the only method gzip defines
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
_BZIP2 = lazy.regex(rb"BZh[1-9]1AY&SY|BZh[1-9]\x17rE8P\x90")  # a block, or an empty stream
_ARCHIVES = {b"PK\x03\x04": "zip archive", b"7z\xbc\xaf\x27\x1c": "7z archive"}
_MAGIC = 10  # bytes that tell every format above apart
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class InputError(OSError):
    """An input gradlog will not read as a log; ``strerror`` says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EILSEQ, reason)


def decode(raw: bytes | bytearray) -> str:
    """Bytes of one line -> text; invalid UTF-8 is replaced, never fatal."""
    return raw.decode("utf-8", errors="replace")


def compression(head: bytes) -> str | None:
    """The compression format ``head`` (the first bytes of an input) starts with, if any."""
    if _BZIP2.match(head):
        return "bzip2"
    return next((kind for magic, kind in _COMPRESSED.items() if head.startswith(magic)), None)


class Sniffer:
    """Judges the first block of an input: text goes on, binary raises ``InputError``.

    Chunks are passed on as they come (a live input is never held back); leading NUL
    bytes are dropped (``nuls`` counts them). An input that starts compressed or archived
    is refused with a hint: a reader that could decompress it did so before sniffing.
    """

    def __init__(self) -> None:
        self.nuls = 0  # leading NUL bytes dropped
        self._seen = 0
        self._odd = 0

    def feed(self, chunk: bytes) -> bytes:
        """The bytes of ``chunk`` to read as text; raises ``InputError`` for binary input."""
        if self._seen >= _SAMPLE:
            return chunk
        if not self._seen:
            stripped = chunk.lstrip(b"\0")
            self.nuls += len(chunk) - len(stripped)
            if self.nuls > _LEADING_NULS:
                raise InputError(f"{BINARY}: NUL bytes only")
            chunk = stripped
            if chunk:
                _refuse_packed(chunk)
        sample = chunk[: _SAMPLE - self._seen]
        self._seen += len(sample)
        self._odd += len(sample) - len(sample.translate(None, _NOT_TEXT))
        if self._odd > _NOT_TEXT_SHARE * _SAMPLE:
            raise InputError(BINARY)
        return chunk

    def finish(self) -> None:
        """The input ended: judge a short one by the same share."""
        if self._odd >= 8 and self._odd > _NOT_TEXT_SHARE * self._seen:
            raise InputError(BINARY)


def _refuse_packed(head: bytes) -> None:
    """An input that starts compressed or archived, where it cannot be unpacked."""
    kind = compression(head)
    if kind is not None:
        raise InputError(f"{BINARY}: {kind}; give the file by name, or decompress it first")
    for magic, name in _ARCHIVES.items():
        if head.startswith(magic):
            raise InputError(f"{BINARY}: a {name}; extract the log first")


class LineSplitter:
    """Chunks of bytes in, complete lines out; a partial line waits for its end.

    A line longer than ``max_line`` bytes is read in pieces at its last ``\\r`` before the
    limit when it has one (a progress bar redrawn without newlines: each piece holds whole
    redraws), else cut: its first ``max_line`` bytes are a line, the rest up to the next
    newline is dropped, and ``cut`` counts it. Work and memory are linear in the input.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self.cut = 0  # lines longer than max_line whose rest was dropped
        self._pending = bytearray()
        self._dropping = False  # inside the dropped rest of a cut line
        self._pieces = False  # the pending line was already read in part
        # Live: bytes of the pending line already taken out as redraws (``redraws``). A
        # long line is still cut where it would be whole, so it is read as when saved.
        self._taken = 0

    def push(self, chunk: bytes) -> list[str]:
        """Take the next bytes; return the lines they complete, in order."""
        lines: list[str] = []
        if self._dropping:
            end = chunk.find(b"\n")
            if end < 0:
                return lines
            self._dropping = False
            chunk = chunk[end + 1 :]
        last = chunk.rfind(b"\n")  # the complete lines end at the last newline
        if last >= 0:
            done = 0
            if self._pending or self._taken:
                done = chunk.find(b"\n") + 1
                self._pending += chunk[: done - 1]
                self._bound(lines, ended=True)
            if done > last:
                pass  # that was the only complete line
            elif len(chunk) <= self.max_line:  # no line in it can be too long
                # Decoded at once: a newline is never part of a character, so the same text.
                lines += str(memoryview(chunk)[done:last], "utf-8", "replace").split("\n")
            else:
                for raw in chunk[done:last].split(b"\n"):
                    self._pending += raw
                    self._bound(lines, ended=True)
        self._pending += chunk[last + 1 :]
        if len(self._pending) + self._taken > self.max_line:
            self._bound(lines, ended=False)
        return lines

    def redraws(self) -> str | None:
        """Live: the complete redraws of the partial line (its bytes up to and with its
        last ``\\r``), taken out of it to be read now, so that a progress bar that only
        ends its line at the end of an epoch is not read an epoch late; None when it
        holds none, or holds what its cleaning would apply across redraws (colour codes,
        backspaces), which is then read with the whole line."""
        pending = self._pending
        end = pending.rfind(b"\r") + 1
        if self._dropping or not end or b"\x1b" in pending or b"\b" in pending:
            return None
        head = decode(pending[:end])
        del pending[:end]
        self._taken += end
        return head

    def flush(self) -> str | None:
        """The input ended: the partial line, if any, is a line."""
        lines: list[str] = []
        if self._pending or self._taken:
            self._bound(lines, ended=True)
        self._dropping = self._pieces = False
        return lines[-1] if lines else None

    def _bound(self, lines: list[str], ended: bool) -> None:
        """Move what the pending bytes hold as lines into ``lines``."""
        pending = self._pending
        while len(pending) + self._taken > self.max_line:
            # The line's first piece ends at its last redraw before max_line, counted
            # from the line's start, even when its head was taken already (``redraws``).
            end = pending.rfind(b"\r", 0, self.max_line - self._taken) + 1
            if not end and self._taken:  # the piece is the head already taken
                lines.append("")
                self._pieces, self._taken = True, 0
                continue
            if not end:  # no redraw to cut at: keep the head, drop the rest
                lines.append(decode(pending[: self.max_line]))
                pending.clear()
                self.cut += 1
                self._dropping, self._pieces = not ended, False
                return
            lines.append(decode(pending[:end]))
            del pending[:end]
            self._pieces, self._taken = True, 0
        if ended:
            if pending or self._taken or not self._pieces:
                lines.append(decode(pending))
            pending.clear()
            self._pieces, self._taken = False, 0


class _Stream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Joined:
    """A stream read from ``head`` first, then from ``stream``: the bytes read to sniff it."""

    def __init__(self, head: bytes, stream: _Stream) -> None:
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size < 0:
            size = len(self._head)
        head, self._head = self._head[:size], self._head[size:]
        return head


class _Transcoded:
    """A UTF-16 stream read as UTF-8 (PowerShell's ``>`` writes UTF-16 with a BOM)."""

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")

    def read(self, size: int = -1) -> bytes:
        while True:
            raw = self._stream.read(size)
            text = self._decoder.decode(raw, final=not raw)
            if text or not raw:
                return text.encode("utf-8")


class _Unpacked:
    """A compressed stream read decompressed; a corrupt or cut one is an ``InputError``."""

    def __init__(self, kind: str, stream: _Stream) -> None:
        self.kind = kind
        self._errors: tuple[type[Exception], ...] = (zlib.error, lzma.LZMAError)
        self._stream = self._open(stream)

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._stream.read(size)
        except EOFError:
            raise InputError(f"truncated {self.kind} data: the file ends mid-stream") from None
        except OSError as exc:
            if exc.errno is not None:
                raise  # the disk, not the data
            raise InputError(f"corrupt {self.kind} data") from None
        except self._errors:
            raise InputError(f"corrupt {self.kind} data") from None
        return data

    def _open(self, stream: _Stream) -> _Stream:
        source = cast(BinaryIO, stream)
        if self.kind == "gzip":
            return gzip.GzipFile(fileobj=source, mode="rb")
        if self.kind == "bzip2":
            return bz2.BZ2File(source)
        if self.kind == "xz":
            return lzma.LZMAFile(source)
        try:
            import zstandard  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise InputError(
                f"{BINARY}: zstd; install the zstandard module, or decompress it with zstd -d"
            ) from None
        self._errors += (zstandard.ZstdError,)
        reader: _Stream = zstandard.ZstdDecompressor().stream_reader(
            stream, read_across_frames=True
        )
        return reader


class Lines:
    """The lines of one opened input, read once as they are asked for.

    ``compression`` names the format the input was decompressed from; ``cut`` counts the
    lines longer than ``MAX_LINE`` (see ``LineSplitter``); ``nuls`` the NUL bytes that
    led the input. Reading raises ``InputError`` for binary input and for corrupt or
    truncated compressed data, and closes the input at its end (``owned``: opened here).
    """

    def __init__(
        self, stream: BinaryIO | Any, owned: bool = True, max_line: int = MAX_LINE
    ) -> None:
        self.compression: str | None = None
        self.read_bytes = 0  # bytes of text read so far (after any decompression)
        self.splitter = LineSplitter(max_line)
        self.sniffer = Sniffer()
        self._stream = stream
        self._owned = owned
        self._blocks = self._read()
        self._lines = chain.from_iterable(self._blocks)

    @property
    def cut(self) -> int:
        return self.splitter.cut

    @property
    def nuls(self) -> int:
        return self.sniffer.nuls

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._lines)

    def blocks(self) -> Iterator[list[str]]:
        """The lines in lists, as each read of the input completes them (never mixed with
        reading line by line)."""
        return self._blocks

    def close(self) -> None:
        """Close the input (when opened here); reading it is over."""
        self._blocks.close()
        if self._owned:
            self._stream.close()

    def _read(self) -> Generator[list[str], None, None]:
        try:
            source = self._source()
            while chunk := source.read(_CHUNK):
                self.read_bytes += len(chunk)
                lines = self.splitter.push(self.sniffer.feed(chunk))
                if lines:
                    yield lines
            self.sniffer.finish()
            rest = self.splitter.flush()
            if rest is not None:
                yield [rest]
        finally:
            if self._owned:
                self._stream.close()

    def _source(self) -> _Stream:
        """The input's bytes as text bytes: decompressed, BOM removed, UTF-16 transcoded."""
        head = _head(self._stream)
        self.compression = compression(head)
        source: _Stream = _Joined(head, self._stream)
        if self.compression is not None:
            unpacked = _Unpacked(self.compression, source)
            head = _head(unpacked)
            source = _Joined(head, unpacked)
        if head.startswith(_UTF8_BOM):
            return _Joined(head[len(_UTF8_BOM) :], source)
        if head.startswith(_UTF16_BOMS) and not head.startswith(codecs.BOM_UTF32_LE):
            return _Transcoded(source)
        return source


def _head(stream: _Stream) -> bytes:
    """The first block of a stream: at least enough bytes to tell its format, unless it
    ends first (a pipe may hand them over a few at a time)."""
    head = stream.read(_CHUNK)
    while head and len(head) < _MAGIC:
        more = stream.read(_CHUNK)
        if not more:
            break
        head += more
    return head


def iter_lines(stream: BinaryIO) -> Lines:
    """The lines of a binary stream (standard input), split on ``\\n`` only (``\\r`` is
    left for the cleaner). The stream is not closed."""
    return Lines(stream, owned=False)


def open_input(path: str) -> Lines:
    """Open ``path`` once for reading its lines: a file, a FIFO (this waits for its
    writer, as ``cat`` does) or a Unix socket (connected to). ``OSError`` (a missing file,
    a directory, no permission) is raised here, before anything is read."""
    status = os.stat(path)
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if stat.S_ISSOCK(status.st_mode):
        return Lines(os.fdopen(_connect(path), "rb"))
    return Lines(open(path, "rb"))


def read_file(path: str) -> Iterator[str]:
    """The lines of the file at ``path``, opened on first use (OSError propagates)."""
    yield from open_input(path)


def _connect(path: str) -> int:
    """A descriptor reading from the Unix stream socket at ``path``."""
    import socket  # rare: most inputs are files and pipes

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock.detach()


def open_fd(path: str) -> int:
    """A read descriptor for ``path``, opened once: a file, FIFO, device or Unix socket."""
    if stat.S_ISSOCK(os.stat(path).st_mode):
        return _connect(path)
    return os.open(path, os.O_RDONLY)


# Live reading: bytes as they arrive, never waiting longer than the caller allows.


class FdReader:
    """Reads a file descriptor (pipe, socket, terminal or file), waiting at most ``timeout``.

    ``as_text``: the bytes are for diagnosis only, not passed through, so binary and
    compressed input is refused from its first block with ``InputError``.
    """

    def __init__(self, fd: int, as_text: bool = False, gather: int = GATHER) -> None:
        self.fd = fd
        self._limit = gather  # bytes one read may gather
        self._sniffer = Sniffer() if as_text else None
        self._selector: selectors.BaseSelector | None = selectors.DefaultSelector()
        try:
            self._selector.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            self._selector = None  # a regular file: epoll refuses it, and it never blocks
        _widen_pipe(fd, gather)

    def read(self, timeout: float) -> bytes | None:
        """New bytes, ``b""`` when none came within ``timeout``, None at end of input."""
        if self._selector is not None and not self._selector.select(timeout):
            return b""
        try:
            data = os.read(self.fd, _CHUNK)
        except BlockingIOError:  # a descriptor someone left non-blocking
            return b""
        if data:
            selector = self._selector
            waiting = None if selector is None else (lambda: selector.select(0))
            data = gathered(self.fd, data, self._limit, waiting)
        if self._sniffer is None:
            return data or None
        if not data:
            self._sniffer.finish()
            return None
        return self._sniffer.feed(data)

    def close(self) -> None:
        if self._selector is not None:
            self._selector.close()


def _widen_pipe(fd: int, size: int) -> None:
    """Let a pipe hold ``size`` bytes (Linux), so that a writer ahead of gradlog can
    leave that much for one gathered read, and blocks less while gradlog reads. Nothing
    else changes: the writer's bytes still come in order, each as soon as it is read."""
    get, put = (getattr(fcntl, name, None) for name in ("F_GETPIPE_SZ", "F_SETPIPE_SZ"))
    if get is None or put is None:  # (not Linux)
        return
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode) or fcntl.fcntl(fd, get) >= size:
            return
        for wanted in (size, GATHER) if size > GATHER else (size,):
            with contextlib.suppress(PermissionError):  # (over the user's pipe limit)
                fcntl.fcntl(fd, put, wanted)
                return
    except OSError:
        pass  # (not ours to change: it stays as it was)


def gathered(
    fd: int, data: bytes, limit: int, waiting: Callable[[], object] | None = None
) -> bytes:
    """``data`` (just read from ``fd``) and the bytes already waiting after it, up to
    ``limit`` in all; never waits. ``waiting`` says whether a pipe or socket has more;
    without it (a regular file) the file is read on while a read fills its buffer. An
    error is left for the next read to meet: what was read is kept."""
    pieces = [data]
    size, full = len(data), len(data) == _CHUNK
    while size < limit and (waiting() if waiting is not None else full):
        try:
            more = os.read(fd, _CHUNK)
        except OSError:
            break
        if not more:
            break
        pieces.append(more)
        size += len(more)
        full = len(more) == _CHUNK
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


# Bytes of a followed file kept to notice it was rewritten in place (copytruncate and a
# writer that went on between two polls leave its size above the offset read so far).
_FINGERPRINT = 64


class FollowReader:
    """``tail -f`` on a path: the bytes already there, then new ones as the file grows.

    A file that shrinks was truncated, and one whose bytes before the offset read changed
    was rewritten: either is read again from the start. A path that now names another
    file was rotated, and the new file is read from its start. None of these ends the
    input: a followed file ends only when the caller stops. A FIFO, socket or device is
    read as the stream it is, to its end.
    """

    def __init__(self, path: str, on_event: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._on_event = on_event or (lambda _message: None)
        self._fd = open_fd(path)
        status = os.fstat(self._fd)
        self._identity = _identity(status)
        self._stream = None if stat.S_ISREG(status.st_mode) else FdReader(self._fd)
        self._offset = 0
        self._head = b""  # the file's first bytes, as read
        self._tail = b""  # the bytes just before the offset, as read

    def read(self, timeout: float) -> bytes | None:
        """New bytes, or ``b""`` after waiting ``timeout`` (at most one poll interval);
        None only at the end of a FIFO, socket or device."""
        if self._stream is not None:
            return self._stream.read(timeout)
        self._check()
        data = os.read(self._fd, _CHUNK)
        if not data and self._reopened():
            data = os.read(self._fd, _CHUNK)
        if data:  # (a file far ahead of the reader is read in gathered blocks)
            data = gathered(self._fd, data, GATHER)
            self._advance(data)
        else:
            time.sleep(min(timeout, FOLLOW_POLL))
        return data

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        os.close(self._fd)

    def _advance(self, data: bytes) -> None:
        self._offset += len(data)
        if len(self._head) < _FINGERPRINT:
            self._head = (self._head + data)[:_FINGERPRINT]
        self._tail = (self._tail + data)[-_FINGERPRINT:]

    def _restart(self, what: str) -> None:
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._offset, self._head, self._tail = 0, b"", b""
        self._on_event(f"{self.path} {what}; reading it from the start")

    def _check(self) -> bool:
        """Whether the file was truncated or rewritten before the offset (then restart)."""
        if not self._offset:
            return False
        if os.fstat(self._fd).st_size < self._offset:
            self._restart("was truncated")
            return True
        start = self._offset - len(self._tail)
        if (
            os.pread(self._fd, len(self._tail), start) != self._tail
            or os.pread(self._fd, len(self._head), 0) != self._head
        ):
            self._restart("was rewritten")
            return True
        return False

    def _reopened(self) -> bool:
        try:
            if _identity(os.stat(self.path)) == self._identity:
                return False
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False  # rotated away and not yet re-created: keep the old file
        os.close(self._fd)
        self._fd, self._identity = fd, _identity(os.fstat(fd))
        self._offset, self._head, self._tail = 0, b"", b""
        self._on_event(f"{self.path} was replaced by a new file; reading it from the start")
        return True


def _identity(status: os.stat_result) -> tuple[int, int]:
    return (status.st_dev, status.st_ino)
