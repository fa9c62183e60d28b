"""A progress display on stderr for inputs that take a while to read.

It appears only after ``DELAY`` seconds, so a small log never flickers, only when stderr
is a terminal, and it is removed when the input is done (the report follows cleanly).
It shows the bytes read (with a bar when the size is known), lines per second and the
records found so far. Rich is imported only when the display starts.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from typing import Any

from gradlog.escape import visible
from gradlog.sources import Lines

# Seconds of reading before the display appears; GRADLOG_PROGRESS_DELAY overrides it
# (the tests use 0 to see the display on a small log).
DELAY = 1.0


class Progress:
    """Told how far reading got now and then; shows it once ``DELAY`` seconds passed."""

    def __init__(self, name: str, source: Lines, enabled: bool) -> None:
        self.name = name
        self.source = source
        self.enabled = enabled
        self.delay = _delay()
        self._started = time.monotonic()
        self._display: Any = None
        self._task: Any = None

    def update(self, lines: int, records: int) -> None:
        """``lines`` lines read so far, ``records`` records found."""
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._started
        if self._display is None:
            if elapsed < self.delay:
                return
            self._start()
        rate = lines / elapsed if elapsed else 0.0
        self._display.update(
            self._task,
            completed=self.source.read_bytes,
            lines=f"{rate:,.0f} lines/s",
            records=f"{records:,}",
        )

    def close(self) -> None:
        """Reading is over: remove the display."""
        if self._display is not None:
            self._display.stop()
            self._display = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import (
            Progress as Display,
        )

        console = Console(stderr=True, highlight=False)
        display = Display(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[lines]}"),
            TextColumn("{task.fields[records]} records"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        description = visible(self.name).replace("[", r"\[")
        total = self._size()
        self._task = display.add_task(description, total=total, lines="", records="0")
        display.start()
        self._display = display

    def _size(self) -> int | None:
        """The bytes there are to read: a regular file's size, unless it is compressed."""
        if self.name == "-" or self.source.compression is not None:
            return None
        try:
            status = os.stat(self.name)
        except OSError:
            return None
        return status.st_size if stat.S_ISREG(status.st_mode) and status.st_size else None


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get("GRADLOG_PROGRESS_DELAY", DELAY)))
    except ValueError:
        return DELAY


def for_input(path: str, source: Lines, quiet: bool) -> Progress:
    """The display for reading ``path``: on only when stderr is a terminal and not
    ``quiet``."""
    enabled = not quiet and sys.stderr is not None and sys.stderr.isatty()
    return Progress(path, source, enabled)
