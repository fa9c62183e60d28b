"""Running a job under gradlog: start it, watch its output, stop all of it step by step."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from gradlog import lazy
from gradlog.live import POLL, Watcher, printable, pump
from gradlog.model import Diagnosis, Severity
from gradlog.sources import FdReader

# Seconds between SIGTERM and SIGKILL. `docker stop` waits 10 s for the whole shutdown;
# here the job has already had the grace period after SIGINT, so a short wait suffices.
# It is also how long gradlog waits after SIGKILL for the last process before giving up
# (one in uninterruptible sleep, stuck on a dead NFS mount, cannot die any sooner).
KILL_AFTER = 5.0
# The exit status of `gradlog run` when gradlog itself stopped the job.
STOPPED = 3
# Processes named per signal in the stop summary; a job with hundreds is summed up.
_NAMED = 6

_DURATION = lazy.regex(r"(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m|h)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Proc:
    """One process of a job, as the process table showed it."""

    pid: int
    name: str  # the kernel's short command name, escaped for printing
    pgrp: int


Notify = Callable[[int, str, Sequence[Proc]], None]
"""Told of each signal sent to the job, with why (stop, interrupt, grace, again, forward)
and the processes it was sent to."""


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
    forward, and signals go to all of it: its process group, the rest of its session,
    and every descendant (launcher and workers alike, in the background or not).
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

    def processes(self, known: Iterable[int] = ()) -> dict[int, Proc]:
        """The job's processes still alive (zombies are gone for good), with those of the
        ``known`` ones that still live: a worker that left the session stays tracked."""
        return job_processes(self.pid, known)

    def send(self, signum: int, known: Iterable[int] = ()) -> list[Proc]:
        """Signal every process of the job (and of ``known``) once; return those it went
        to (none: all gone).

        The process group gets it in one atomic call, so a worker forked meanwhile is not
        missed; others of the job (their own group or session) one by one. Never twice
        to one process: a second SIGINT means "quit now" to many training scripts.
        """
        targets = self.processes(known)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)
        for proc in targets.values():
            if proc.pgrp != self.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(proc.pid, signum)
        return list(targets.values())

    def poll(self) -> int | None:
        return self._process.poll()

    def wait(self) -> int:
        """Wait for the job to end; return its exit status as a shell reports it."""
        self.output.close()
        return exit_status(self._process.wait())


def job_processes(leader: int, known: Iterable[int] = ()) -> dict[int, Proc]:
    """The live processes of the job started as session leader ``leader``: its session
    and process group, the ``known`` processes still alive, and every descendant of
    those, from Linux's /proc. Without /proc the group stands for all of it, as long
    as it has a member."""
    table = _process_table()
    if table is None:
        return _group_only(leader)
    members = {pid for pid, (proc, sid, _) in table.items() if leader in (sid, proc.pgrp)}
    members.update(pid for pid in known if pid in table)
    children: dict[int, list[int]] = {}
    for pid, (_, _, ppid) in table.items():
        children.setdefault(ppid, []).append(pid)
    todo = list(members)
    while todo:  # descendants, even those that made a session of their own
        for child in children.get(todo.pop(), ()):
            if child not in members:
                members.add(child)
                todo.append(child)
    members.discard(os.getpid())
    return {pid: table[pid][0] for pid in sorted(members)}


def _process_table() -> dict[int, tuple[Proc, int, int]] | None:
    """Every live process as (Proc, session, parent), or None without /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    table = {}
    for entry in entries:
        if entry.isdigit():
            row = _stat(entry)
            if row is not None:
                table[row[0].pid] = row
    return table


def _stat(pid: str) -> tuple[Proc, int, int] | None:
    """/proc/PID/stat: ``pid (name) state ppid pgrp session ...``; the name may hold
    spaces and parentheses, so the fields are counted from its last ``)``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            raw = stream.read()
        close = raw.rindex(b")")
        state, ppid, pgrp, session = raw[close + 2 :].split()[:4]
        name = raw[raw.index(b"(") + 1 : close].decode("utf-8", "replace")
        proc = Proc(int(pid), printable(name, 32), int(pgrp))
    except (OSError, ValueError):
        return None  # gone meanwhile, or not a process we can read
    if state in (b"Z", b"X"):  # a zombie is dead; only its parent's wait is missing
        return None
    return proc, int(session), int(ppid)


def _group_only(leader: int) -> dict[int, Proc]:
    try:
        os.killpg(leader, 0)
    except ProcessLookupError:
        return {}
    except PermissionError:
        pass
    return {leader: Proc(leader, "", leader)}


class Stopper:
    """Stops a whole job in steps: SIGINT so it can save a checkpoint, SIGTERM once
    ``grace`` has passed, SIGKILL ``KILL_AFTER`` seconds later, each to every process of
    the job still alive; SIGKILL is repeated until none is left or ``KILL_AFTER`` more
    seconds have passed. Each call to ``escalate`` (another Ctrl-C) sends the next
    signal at once. ``ended`` keeps, per process, the last signal it got before it went.
    """

    def __init__(self, job: Job, grace: float, notify: Notify) -> None:
        self.job, self.grace, self._notify = job, grace, notify
        self.sent: list[int] = []
        self.ended: list[tuple[Proc, int | None]] = []  # gone during the stop, last signal
        self.left: dict[int, tuple[Proc, int | None]] = {}  # alive, with the last signal
        self._plan: list[tuple[float, int]] = []  # (when, signal) still to come
        self._give_up: float | None = None  # when to stop waiting for SIGKILL to work
        self._scanned = -math.inf  # when the process table was last read

    def begin(self, now: float, why: str) -> None:
        if self.sent:
            return
        self._plan = [
            (now + self.grace, signal.SIGTERM),
            (now + self.grace + KILL_AFTER, signal.SIGKILL),
        ]
        self._send(now, signal.SIGINT, why)

    def escalate(self, now: float) -> None:
        if not self.sent:
            self.begin(now, "interrupt")
        elif self._plan:
            _, signum = self._plan.pop(0)
            self._plan = [(now + KILL_AFTER, s) for _, s in self._plan]
            self._send(now, signum, "again")

    def forward(self, signum: int) -> None:
        """Pass on a signal gradlog got (SIGTERM, SIGHUP); a stop keeps count of it."""
        targets = self.job.send(signum, self.left)
        if self.sent:
            self._record(targets, signum)
        if targets:
            self._notify(signum, "forward", targets)

    def tick(self, now: float) -> None:
        if not self.sent:
            return
        if self._plan and now >= self._plan[0][0]:
            _, signum = self._plan.pop(0)
            self._send(now, signum, "grace")
        if now - self._scanned < POLL:  # a chatty job calls this for every chunk it prints
            return
        self._scanned = now
        self._track(self.job.processes(self.left))
        if self.left and self.sent[-1] == signal.SIGKILL and not self.done(now):
            self._record(self.job.send(signal.SIGKILL, self.left), signal.SIGKILL)  # new forks

    def done(self, now: float) -> bool:
        """Nothing of the job is left, or SIGKILL has had its time (``left`` survived)."""
        if not self.left:
            return True
        return self._give_up is not None and now >= self._give_up

    def _send(self, now: float, signum: int, why: str) -> None:
        self.sent.append(signum)
        if signum == signal.SIGKILL:
            self._give_up = now + KILL_AFTER
        targets = self.job.send(signum, self.left)
        self._record(targets, signum)
        if targets:
            self._notify(signum, why, targets)

    def _record(self, targets: Sequence[Proc], signum: int) -> None:
        for proc in targets:
            self.left[proc.pid] = (proc, signum)

    def _track(self, alive: dict[int, Proc]) -> None:
        for pid in [pid for pid in self.left if pid not in alive]:
            self.ended.append(self.left.pop(pid))
        for pid, proc in alive.items():
            self.left.setdefault(pid, (proc, None))  # forked during the stop


def stop_summary(ended: Sequence[tuple[Proc, int | None]], left: Sequence[Proc]) -> str:
    """Which processes of a stopped job needed which signal, in one line:
    ``12 (sh) ended on SIGINT; 14 (python3) needed SIGTERM; none is left``."""
    parts = []
    for signum, verb in _VERBS:
        procs = [proc for proc, sent in ended if sent == signum]
        if procs:
            parts.append(f"{_named(procs)} {verb}")
    if left:
        parts.append(f"{_named(left)} still running after SIGKILL; gradlog gives up on it")
    else:
        parts.append("none is left")
    return "the job's processes: " + "; ".join(parts)


_VERBS: tuple[tuple[int | None, str], ...] = (
    (None, "ended before any signal reached it"),
    (signal.SIGINT, "ended on SIGINT"),
    (signal.SIGHUP, "ended on SIGHUP"),
    (signal.SIGTERM, "needed SIGTERM"),
    (signal.SIGKILL, "needed SIGKILL"),
)


def _named(procs: Sequence[Proc]) -> str:
    names = [f"{p.pid} ({p.name})" if p.name else str(p.pid) for p in procs[:_NAMED]]
    if len(procs) > _NAMED:
        names.append(f"and {len(procs) - _NAMED} more")
    return ", ".join(names)


class Supervisor:
    """Runs a job's output through a Watcher; stops the job when told or interrupted.

    Ctrl-C, SIGTERM and SIGHUP reach gradlog, not the job in its own session: Ctrl-C
    starts (or hurries) the same stepwise stop, the others are forwarded as they are.
    Once a stop has begun, gradlog stays until every process of the job is gone, reading
    (and copying) what they still print, even after the job's main process has exited.
    """

    def __init__(self, job: Job, grace: float, notify: Notify) -> None:
        self.job = job
        self.stopper = Stopper(job, grace, notify)
        self.stopped_for: Diagnosis | None = None  # the diagnosis gradlog stopped it for

    def stop(self, diagnosis: Diagnosis) -> bool:
        """Begin stopping the job because of ``diagnosis``; False if it is already stopping
        or all gone (a diagnosis completed at the end of the output comes after the job);
        workers the main process left behind are still stopped."""
        if self.stopper.sent or (self.job.poll() is not None and not self.job.processes()):
            return False
        self.stopped_for = diagnosis
        self.stopper.begin(time.monotonic(), "stop")
        return True

    def run(self, watcher: Watcher) -> int:
        """Watch the job's output until it ends; return its exit status."""
        reader = FdReader(self.job.output.fileno())
        with Signals((signal.SIGINT, signal.SIGTERM, signal.SIGHUP)) as signals:
            pump(reader, watcher, lambda now, quiet: self._tick(signals, now, quiet))
            for now in _clock():  # the pipe closed, yet the job runs on
                if not self._tick(signals, now, True):
                    break
        reader.close()
        return self.job.wait()

    def _tick(self, signals: Signals, now: float, quiet: bool) -> bool:
        for signum in signals.pop():
            if signum == signal.SIGINT:
                self.stopper.escalate(now)
            else:
                self.stopper.forward(signum)
        self.stopper.tick(now)
        # Done once the job has exited and its pipe is quiet: a worker it left behind
        # may hold the pipe open for ever. When stopping, done once all of it is gone.
        over = self.job.poll() is not None and (not self.stopper.sent or self.stopper.done(now))
        return not (quiet and over)


def _clock() -> Iterator[float]:
    while True:
        yield time.monotonic()
        time.sleep(POLL)
