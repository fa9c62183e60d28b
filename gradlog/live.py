"""Live use: bytes in as they arrive, passed through untouched, an alert the moment it matters."""

from __future__ import annotations

import os
import select
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from gradlog.engine import Engine
from gradlog.escape import visible
from gradlog.model import Diagnosis, EpisodeKey, Severity
from gradlog.report import Report
from gradlog.sources import MAX_LINE, LineSplitter

# A record is completed once no new line has come for this long. A log line is written
# in one go, so 50 ms of silence means the writer is busy training, and an alert then
# comes well inside the quarter second a person notices.
IDLE_AFTER = 0.05
# The longest wait for input before checking the clock, signals and the job again.
POLL = 0.1
# Episodes whose severity is remembered to label updates; older ones are forgotten.
_REMEMBERED = 1024
# An internal error's message is cut here: it may quote a whole (hostile) log line.
_FAULT_TEXT = 200

Alert = Callable[[Diagnosis, Severity | None], None]
"""Called with each new diagnosis and, for an update, the severity announced before."""


class Reader(Protocol):
    """A source of bytes that never blocks for longer than it is asked to."""

    def read(self, timeout: float) -> bytes | None:
        """New bytes, ``b""`` when none came within ``timeout``, None at end of input."""


class ByteSink:
    """Writes bytes to a file descriptor at once; stops, and says so once, when it cannot.

    A reader that went away (``| head``) closes the sink (``closed``); any other failure
    (a full disk, ``/dev/full``) is kept in ``error``. Either way the copy stops there,
    ``on_stop`` is told at once, and ``written`` says how many bytes were copied.
    """

    def __init__(
        self, fd: int, name: str, on_stop: Callable[[ByteSink], None] | None = None
    ) -> None:
        self.fd, self.name = fd, name
        self.open = True
        self.closed = False  # the reader went away
        self.error: str | None = None  # why writing failed otherwise
        self.written = 0
        self._on_stop = on_stop

    def write(self, data: bytes) -> None:
        if not self.open:
            return
        view = memoryview(data)
        try:
            while view:
                try:
                    done = os.write(self.fd, view)
                except BlockingIOError:  # a descriptor someone left non-blocking
                    select.select([], [self.fd], [], POLL)
                    continue
                self.written += done
                view = view[done:]
        except BrokenPipeError:
            self._stop(closed=True)
        except OSError as exc:
            self._stop(error=f"write failed ({exc.strerror or exc})")

    def _stop(self, closed: bool = False, error: str | None = None) -> None:
        self.open, self.closed, self.error = False, closed, error
        if self._on_stop is not None:
            self._on_stop(self)


class Watcher:
    """Owns an Engine and turns chunks of bytes into passthrough and alerts.

    Every byte goes to every sink unchanged, then the complete lines go to the engine;
    each diagnosis that is new or got worse goes to ``alert`` as soon as it appears.

    Diagnosis must never cost the passthrough: an exception from the engine (built
    here when given as a factory, so even a failing start is caught) or from ``alert``
    disables diagnosis for good (``fault`` says why, ``on_fault`` is told once), and
    from then on the bytes are only copied.
    """

    def __init__(
        self,
        engine: Engine | Callable[[], Engine],
        alert: Alert,
        sinks: Sequence[ByteSink] = (),
        max_line: int = MAX_LINE,
        on_fault: Callable[[str], None] | None = None,
    ) -> None:
        self.sinks = tuple(sinks)
        self.at_line_start = True  # the passthrough ended with "\n" (or nothing yet)
        self.fault: str | None = None  # the internal error that disabled diagnosis
        self.lines = 0  # lines given to the engine
        self._alert = alert
        self._on_fault = on_fault
        self._splitter = LineSplitter(max_line)
        self._announced: OrderedDict[EpisodeKey, Severity] = OrderedDict()
        self._engine: Engine | None = None  # None once diagnosis is disabled
        if isinstance(engine, Engine):
            self._engine = engine
        else:
            self._guarded(lambda: setattr(self, "_engine", engine()))
        if self._engine is not None:
            self._engine.eager = True  # live: a NaN is announced by its own line

    def feed(self, chunk: bytes) -> int:
        """Pass ``chunk`` through and read it; return how many lines it completed."""
        for sink in self.sinks:
            sink.write(chunk)
        if chunk:
            self.at_line_start = chunk.endswith(b"\n")
        engine = self._engine
        if engine is None:
            return 0
        try:
            lines = self._splitter.push(chunk)
            self.lines += len(lines)
            self._announce(engine.feed_lines(lines))
            redraws = self._splitter.redraws() if b"\r" in chunk else None
            if redraws is not None:  # a progress bar's states, read before its line ends
                self._announce(engine.feed_redraws(redraws))
        except Exception as exc:  # diagnosis is lost, the passthrough must not be
            self._fail(exc)
            return 0
        return len(lines)

    def cut(self) -> None:
        """The input jumped (a followed file was truncated or replaced): a partial line
        ends here instead of being glued to the first bytes read after the jump."""
        engine = self._engine
        if engine is not None:
            self._guarded(lambda: self._cut(engine))

    def idle(self) -> None:
        """The input paused: complete the open record so its alert is not held back."""
        engine = self._engine
        if engine is not None:
            self._guarded(lambda: self._announce(engine.idle()))

    def finish(self) -> Report | None:
        """The input ended: read a last line without "\\n" and return the report, or
        None when an internal error disabled diagnosis."""
        self.cut()
        self.idle()  # the last record still gets its alert before the report
        engine = self._engine
        report: list[Report] = []
        if engine is not None:
            engine.note_limits(self._splitter)
            self._guarded(lambda: report.append(engine.finish()))
        return report[0] if report else None

    def _cut(self, engine: Engine) -> None:
        rest = self._splitter.flush()
        if rest is not None:
            self.lines += 1
            self._announce(engine.feed(rest))

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # as in feed: the passthrough goes on
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        # The line being read: the engine's count (a fault mid-read comes before the
        # read's last line).
        line = self.lines if self._engine is None else self._engine.lines
        self.fault = describe_fault(exc, line)
        self._engine = None  # its state is suspect, and its memory is better freed
        self._splitter = LineSplitter()  # drop what was held for the engine
        if self._on_fault is not None:
            self._on_fault(self.fault)

    def _announce(self, diagnoses: list[Diagnosis]) -> None:
        for diagnosis in diagnoses:
            previous = self._announced.pop(diagnosis.key, None)
            severity = diagnosis.severity if previous is None else max(previous, diagnosis.severity)
            self._announced[diagnosis.key] = severity
            if len(self._announced) > _REMEMBERED:
                self._announced.popitem(last=False)
            # Announced at a pause, then found again when its record completed: once only.
            if previous is None or diagnosis.severity > previous:
                self._alert(diagnosis, previous)


def describe_fault(exc: BaseException, line: int) -> str:
    """``internal error: KeyError: 'x' (gradlog/engine.py:88, input line 12)``, printable.

    The message may quote log text, so it is escaped and cut like any log text.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{_short_path(frames[-1].filename)}:{frames[-1].lineno}, " if frames else ""
    message = printable(f"{type(exc).__name__}: {exc}", _FAULT_TEXT)
    return f"internal error: {message} ({where}input line {line})"


def printable(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, every control, bidi or other hidden
    character shown as an escape (``\\x1b``, ``\\u202e``): for text from outside."""
    return visible(text if len(text) <= limit else text[:limit] + "...")


def _short_path(filename: str) -> str:
    """A source path from the gradlog package on (``gradlog/engine.py``), else its name."""
    parts = filename.replace(os.sep, "/").split("/")
    if "gradlog" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("gradlog") :])
    return parts[-1]


Tick = Callable[[float, bool], bool]
"""Called after every read with the time and whether it was quiet; False stops the pump."""


def pump(reader: Reader, watcher: Watcher, tick: Tick, idle_after: float = IDLE_AFTER) -> bool:
    """Move bytes from ``reader`` to ``watcher`` until the input ends (True) or ``tick``
    says stop (False). The open record is completed ``idle_after`` seconds after the
    last complete line, even while a progress bar keeps sending partial lines."""
    last_line: float | None = None  # when the newest line not yet followed by idle() came
    while True:
        now = time.monotonic()
        wait = POLL if last_line is None else min(POLL, max(0.0, last_line + idle_after - now))
        chunk = reader.read(wait)
        now = time.monotonic()
        if chunk is None:
            return True
        if chunk and watcher.feed(chunk):
            last_line = now
        elif last_line is not None and now - last_line >= idle_after:
            watcher.idle()
            last_line = None
        if not tick(now, not chunk):
            return False
