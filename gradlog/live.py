"""Live use: bytes in as they arrive, passed through untouched, an alert the moment it matters."""

from __future__ import annotations

import os
import select
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from gradlog.engine import Engine
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

Alert = Callable[[Diagnosis, Severity | None], None]
"""Called with each new diagnosis and, for an update, the severity announced before."""


class Reader(Protocol):
    """A source of bytes that never blocks for longer than it is asked to."""

    def read(self, timeout: float) -> bytes | None:
        """New bytes, ``b""`` when none came within ``timeout``, None at end of input."""


class ByteSink:
    """Writes bytes to a file descriptor at once; stops when it can no longer write.

    A reader that went away (``| head``) closes the sink quietly; any other failure is
    kept in ``error`` for the caller to report once.
    """

    def __init__(self, fd: int, name: str) -> None:
        self.fd, self.name = fd, name
        self.open = True
        self.error: str | None = None

    def write(self, data: bytes) -> None:
        if not self.open:
            return
        view = memoryview(data)
        try:
            while view:
                try:
                    view = view[os.write(self.fd, view) :]
                except BlockingIOError:  # a descriptor someone left non-blocking
                    select.select([], [self.fd], [], POLL)
        except BrokenPipeError:
            self.open = False
        except OSError as exc:
            self.open = False
            self.error = f"{self.name}: write failed ({exc.strerror or exc})"


class Watcher:
    """Owns an Engine and turns chunks of bytes into passthrough and alerts.

    Every byte goes to every sink unchanged, then the complete lines go to the engine;
    each diagnosis that is new or got worse goes to ``alert`` as soon as it appears.
    """

    def __init__(
        self,
        engine: Engine,
        alert: Alert,
        sinks: Sequence[ByteSink] = (),
        max_line: int = MAX_LINE,
    ) -> None:
        self.engine = engine
        self.sinks = tuple(sinks)
        self.at_line_start = True  # the passthrough ended with "\n" (or nothing yet)
        self._alert = alert
        self._splitter = LineSplitter(max_line)
        self._announced: OrderedDict[EpisodeKey, Severity] = OrderedDict()

    def feed(self, chunk: bytes) -> int:
        """Pass ``chunk`` through and read it; return how many lines it completed."""
        for sink in self.sinks:
            sink.write(chunk)
        if chunk:
            self.at_line_start = chunk.endswith(b"\n")
        lines = self._splitter.push(chunk)
        for line in lines:
            self._announce(self.engine.feed(line))
        return len(lines)

    def idle(self) -> None:
        """The input paused: complete the open record so its alert is not held back."""
        self._announce(self.engine.idle())

    def finish(self) -> Report:
        """The input ended: read a last line without "\\n" and return the report."""
        rest = self._splitter.flush()
        if rest is not None:
            self._announce(self.engine.feed(rest))
        self.idle()  # the last record still gets its alert before the report
        return self.engine.finish()

    def _announce(self, diagnoses: list[Diagnosis]) -> None:
        for diagnosis in diagnoses:
            previous = self._announced.pop(diagnosis.key, None)
            self._announced[diagnosis.key] = diagnosis.severity
            if len(self._announced) > _REMEMBERED:
                self._announced.popitem(last=False)
            self._alert(diagnosis, previous)


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
