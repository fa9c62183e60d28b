"""Running a job under gradlog: start it, watch its output, stop it step by step when asked."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType
from typing import Any

from gradlog.live import POLL, Watcher, pump
from gradlog.model import Diagnosis, Severity
from gradlog.sources import FdReader

# Seconds between SIGTERM and SIGKILL. `docker stop` waits 10 s for the whole shutdown;
# here the job has already had the grace period after SIGINT, so a short wait suffices.
KILL_AFTER = 5.0
# The exit status of `gradlog run` when gradlog itself stopped the job.
STOPPED = 3

_DURATION = re.compile(r"(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m|h)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

Notify = Callable[[int, str], None]
"""Told of each signal sent to the job, with why: stop, interrupt, grace, again, forward."""


class JobError(Exception):
    """The command could not be started."""


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``500ms``, ``1h`` or plain seconds (``2.5``) -> seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 2m, 500ms or seconds)")
    return float(match["number"]) * _UNITS[match["unit"] or "s"]


def exit_status(returncode: int) -> int:
    """A return code as a shell reports it: killed by signal N becomes 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def should_stop(diagnosis: Diagnosis, ids: frozenset[str]) -> bool:
    """A diagnosis named by ``--stop-on`` at warning or above stops the job."""
    return diagnosis.id in ids and diagnosis.severity >= Severity.WARNING


class Signals:
    """While installed (main thread only), record signals instead of acting on them.

    With ``hard_after``, that many SIGINTs raise KeyboardInterrupt as usual, so pressing
    Ctrl-C again still stops a gradlog that is stuck writing to a stalled reader.
    """

    def __init__(self, signums: Sequence[int], hard_after: int = 0) -> None:
        self.signums = tuple(signums)
        self.hard_after = hard_after
        self.first: float | None = None  # when the first signal came
        self._interrupts = 0
        self._new: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Signals:
        self._previous = {s: signal.signal(s, self._handle) for s in self.signums}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def pop(self) -> list[int]:
        """The signals received since the last call, oldest first."""
        new, self._new = self._new, []
        return new

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.first is None:
            self.first = time.monotonic()
        self._new = [*self._new[-7:], signum]  # a few are enough, however hard one presses
        if signum == signal.SIGINT:
            self._interrupts += 1
            if self.hard_after and self._interrupts >= self.hard_after:
                raise KeyboardInterrupt


class Job:
    """A command in its own session, stdout and stderr merged into one pipe for gradlog.

    Its own session keeps the terminal's Ctrl-C away from it: gradlog decides what to
    forward, and signals go to the whole process group (launcher and workers alike).
    """

    def __init__(self, argv: Sequence[str]) -> None:
        env = dict(os.environ)
        # Python buffers a pipe 8 KiB at a time, which would hold alerts back for minutes.
        env.setdefault("PYTHONUNBUFFERED", "1")
        name = argv[0]
        try:
            self._process = subprocess.Popen(
                list(argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        except FileNotFoundError:
            raise JobError(f"{name}: command not found") from None
        except PermissionError:
            raise JobError(f"{name}: permission denied") from None
        except OSError as exc:
            raise JobError(f"{name}: cannot start ({exc.strerror or exc})") from None
        assert self._process.stdout is not None
        self.output = self._process.stdout
        self.pid = self._process.pid

    def send(self, signum: int) -> bool:
        """Signal the job's process group; False when nothing is left to signal."""
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def poll(self) -> int | None:
        return self._process.poll()

    def wait(self) -> int:
        """Wait for the job to end; return its exit status as a shell reports it."""
        self.output.close()
        return exit_status(self._process.wait())


class Stopper:
    """Stops a job in steps: SIGINT so it can save a checkpoint, SIGTERM once ``grace``
    has passed, SIGKILL ``KILL_AFTER`` seconds later. Each call to ``escalate`` (another
    Ctrl-C) sends the next signal at once."""

    def __init__(self, job: Job, grace: float, notify: Notify) -> None:
        self.job, self.grace, self._notify = job, grace, notify
        self.sent: list[int] = []
        self._plan: list[tuple[float, int]] = []  # (when, signal) still to come

    def begin(self, now: float, why: str) -> None:
        if self.sent:
            return
        self._plan = [
            (now + self.grace, signal.SIGTERM),
            (now + self.grace + KILL_AFTER, signal.SIGKILL),
        ]
        self._send(signal.SIGINT, why)

    def escalate(self, now: float) -> None:
        if not self.sent:
            self.begin(now, "interrupt")
        elif self._plan:
            _, signum = self._plan.pop(0)
            self._plan = [(now + KILL_AFTER, s) for _, s in self._plan]
            self._send(signum, "again")

    def tick(self, now: float) -> None:
        if self._plan and now >= self._plan[0][0]:
            _, signum = self._plan.pop(0)
            self._send(signum, "grace")

    def _send(self, signum: int, why: str) -> None:
        self.sent.append(signum)
        if self.job.send(signum):
            self._notify(signum, why)


class Supervisor:
    """Runs a job's output through a Watcher; stops the job when told or interrupted.

    Ctrl-C, SIGTERM and SIGHUP reach gradlog, not the job in its own session: Ctrl-C
    starts (or hurries) the same stepwise stop, the others are forwarded as they are.
    """

    def __init__(self, job: Job, grace: float, notify: Notify) -> None:
        self.job = job
        self.stopper = Stopper(job, grace, notify)
        self.stopped_for: Diagnosis | None = None  # the diagnosis gradlog stopped it for
        self._notify = notify

    def stop(self, diagnosis: Diagnosis) -> bool:
        """Begin stopping the job because of ``diagnosis``; False if it is already stopping
        or gone (a diagnosis completed at the end of the output comes after the job)."""
        if self.stopper.sent or self.job.poll() is not None:
            return False
        self.stopped_for = diagnosis
        self.stopper.begin(time.monotonic(), "stop")
        return True

    def run(self, watcher: Watcher) -> int:
        """Watch the job's output until it ends; return its exit status."""
        reader = FdReader(self.job.output.fileno())
        with Signals((signal.SIGINT, signal.SIGTERM, signal.SIGHUP)) as signals:
            pump(reader, watcher, lambda now, quiet: self._tick(signals, now, quiet))
            while self.job.poll() is None:  # the job closed its output but runs on
                self._tick(signals, time.monotonic(), True)
                time.sleep(POLL)
        reader.close()
        return self.job.wait()

    def _tick(self, signals: Signals, now: float, quiet: bool) -> bool:
        for signum in signals.pop():
            if signum == signal.SIGINT:
                self.stopper.escalate(now)
            elif self.job.send(signum):
                self._notify(signum, "forward")
        self.stopper.tick(now)
        # Done once the job has exited and its pipe is quiet: a worker it left behind
        # may hold the pipe open for ever.
        return not (quiet and self.job.poll() is not None)
