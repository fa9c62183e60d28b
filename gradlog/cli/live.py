"""`gradlog watch` and `gradlog run`: diagnose a training job while it runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from gradlog.cli.common import (
    GradlogError,
    build_config,
    check_input,
    common_options,
    config_option,
    render,
)
from gradlog.config import Config
from gradlog.detectors import RULES
from gradlog.engine import Engine
from gradlog.formatters import alert as fmt_alert
from gradlog.formatters import jsonl
from gradlog.formatters.json import dumps
from gradlog.live import ByteSink, Reader, Watcher, printable, pump
from gradlog.model import Diagnosis, Severity
from gradlog.process import (
    KILL_AFTER,
    STOPPED,
    Job,
    JobError,
    Proc,
    Signals,
    Supervisor,
    parse_duration,
    should_stop,
    signal_name,
    stop_summary,
)
from gradlog.report import Report, ReportSet
from gradlog.sources import FdReader, FollowReader, open_fd

F = TypeVar("F", bound=Callable[..., Any])

# Seconds to keep reading a piped producer after Ctrl-C: it got the same Ctrl-C and is
# printing its last words (a traceback, a checkpoint message) on its way out.
DRAIN = 1.0


class Output:
    """Where a live command's alerts, notices and report go: stderr, for people or as JSON."""

    def __init__(self, fmt: str, name: str, passthrough: bool) -> None:
        self.json = fmt == "jsonl"
        self.name = name
        self.color = os.isatty(2) and "NO_COLOR" not in os.environ
        # Passthrough and alerts share a terminal: an alert must not land mid-line.
        self._shared = passthrough and os.isatty(1) and os.isatty(2)
        self.watcher: Watcher | None = None

    def alert(self, diagnosis: Diagnosis, previous: Severity | None) -> None:
        if self.json:
            self._write(jsonl.render_one(diagnosis, self.name))
            return
        fresh = self._shared and self.watcher is not None and not self.watcher.at_line_start
        text = fmt_alert.render_one(diagnosis, previous, color=self.color)
        self._write("\n" + text if fresh else text)

    def note(self, text: str, event: str, **fields: Any) -> None:
        """A notice: ``gradlog: <text>`` for people, or a JSON line naming the ``event``."""
        if self.json:
            self._write(dumps({"event": event, **fields, "input": self.name, "note": text}) + "\n")
        else:
            self._write(fmt_alert.to_string(fmt_alert.note_text(text), color=self.color))

    def stop(self, diagnosis: Diagnosis, pid: int, grace: float) -> None:
        if self.json:
            self._write(dumps(fmt_alert.stop_object(diagnosis, self.name, pid, grace)) + "\n")
        else:
            text = fmt_alert.stop_text(diagnosis, pid, grace, KILL_AFTER)
            self._write(fmt_alert.to_string(text, color=self.color))

    def report(self, reports: ReportSet) -> None:
        self._write(render(reports, "json" if self.json else "terminal", os.isatty(2)))

    def fault(self, fault: str, goes_on: str) -> None:
        """Diagnosis was disabled by an internal error: say so once, and what goes on."""
        self.note(f"{fault}; diagnosis disabled, {goes_on}", "internal_error", error=fault)

    def sink_stopped(self, sink: ByteSink) -> None:
        """A copy (stdout or --tee) stopped: say where and why, at once."""
        name, count = printable(sink.name, 200), f"{sink.written:,} bytes"
        why = " was closed by its reader" if sink.closed else f": {sink.error}"
        self.note(
            f"{name}{why} after {count}; the copy stops there, watching goes on",
            "copy_stopped",
            target=sink.name,
            written=sink.written,
            error=sink.error,
        )

    def _write(self, text: str) -> None:
        stream = sys.stderr  # None when gradlog was started with stderr closed
        if stream is None:
            return
        with contextlib.suppress(OSError, ValueError):  # stderr is gone: nobody to tell
            stream.write(text)
            stream.flush()


def live_options(func: F) -> F:
    """Options shared by `watch` and `run`."""
    func = click.option(
        "--quiet", "-q", is_flag=True, help="Do not copy the log to stdout; only alert."
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["terminal", "jsonl"]),
        default="terminal",
        show_default=True,
        help="Alerts and report on stderr for people, or as JSON (one line per alert).",
    )(func)


def watch_input(
    reader: Reader, watcher: Watcher, name: str, config: Config, drain: float
) -> ReportSet | None:
    """Pump ``reader`` into ``watcher`` until the input ends or Ctrl-C (plus ``drain``);
    the report, or None when an internal error disabled diagnosis on the way."""
    with Signals((signal.SIGINT, signal.SIGTERM), hard_after=2) as signals:

        def more(now: float, quiet: bool) -> bool:
            return signals.first is None or now < signals.first + drain

        try:
            pump(reader, watcher, more)
        except OSError as exc:
            raise GradlogError(f"{name}: read failed ({exc.strerror or exc})") from None
    report = watcher.finish()
    return None if report is None else ReportSet((report,), config.fail_on)


def _open_input(path: str, follow: bool, out: Output) -> Reader:
    if path == "-":
        return FdReader(0)
    check_input(path)
    try:
        if follow:
            return FollowReader(path, lambda text: _followed(out, text))
        return FdReader(open_fd(path))
    except OSError as exc:
        raise GradlogError(f"{path}: cannot read ({exc.strerror})") from None


def _followed(out: Output, text: str) -> None:
    """The followed file was truncated or replaced: say so, and end a partial line there."""
    out.note(text, "follow")
    if out.watcher is not None:
        out.watcher.cut()


def _on_fault(out: Output, goes_on: str) -> Callable[[str], None]:
    return lambda fault: out.fault(fault, goes_on)


@click.command()
@click.argument("file", required=False, metavar="[FILE]")
@click.option(
    "--follow", "-f", is_flag=True, help="Keep reading FILE as it grows (tail -f) until Ctrl-C."
)
@live_options
@config_option
@common_options
def watch(
    file: str | None,
    follow: bool,
    fmt: str,
    quiet: bool,
    config_path: str | None,
    fail_on: str | None,
    exit_zero: bool,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> None:
    """Watch a log while it is written: pass it through, alert at once on stderr.

    \b
      python train.py 2>&1 | gradlog watch
      gradlog watch --follow train.log

    Reads standard input (or -), or FILE. Every byte is copied to stdout unchanged; each
    diagnosis is announced on stderr the moment it appears (again only if it gets
    worse), and the full report follows on stderr when the input ends.

    \b
    Exit status:
      0   nothing at or above --fail-on (or --exit-zero)
      1   diagnoses at or above --fail-on
      2   gradlog could not run, or could not do all of its job: an internal error
          disabled diagnosis (the copy went on to the end), or writing the copy
          failed (a full disk): said on stderr the moment it happens

    Ctrl-C (or SIGTERM) ends the input like end of file: the report is printed and the
    status follows the diagnoses, since a followed file ends no other way. A second
    Ctrl-C quits at once with 130. If stdout is closed (| head), this is said once on
    stderr, the copy stops and watching goes on with the status as above, so the job
    writing into the pipe is not killed by it.
    """
    closed = _claim_standard_fds()
    config = build_config(fail_on, select, ignore, metric, config_path)
    name = file or "-"
    if follow and name == "-":
        raise GradlogError("--follow needs a FILE to follow")
    out = Output(fmt, name, passthrough=not quiet)
    reader = _open_input(name, follow, out)
    sinks = _stdout_sinks(quiet, closed, out)
    goes_on = "passthrough continues" if sinks else "reading on to the end of the input"
    out.watcher = Watcher(
        lambda: Engine(name, config), out.alert, sinks, on_fault=_on_fault(out, goes_on)
    )
    drain = DRAIN if name == "-" else 0.0
    reports = watch_input(reader, out.watcher, name, config, drain)
    failed = _failure(out.watcher, sinks)
    if reports is not None:
        out.report(reports)
    if failed:
        out.note(f"{failed}; gradlog exits with status 2", "exit", exit_code=2)
        sys.exit(2)
    assert reports is not None
    sys.exit(0 if exit_zero else reports.exit_code())


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("command", nargs=-1, required=True, metavar="-- COMMAND [ARG]...")
@click.option(
    "--stop-on",
    metavar="ID,...",
    help="Stop the job when one of these diagnoses appears at warning or above.",
)
@click.option(
    "--grace",
    default="30s",
    show_default=True,
    metavar="DURATION",
    help="Time from SIGINT to SIGTERM when stopping (30s, 2m, 500ms or seconds).",
)
@click.option("--tee", metavar="PATH", help="Also save the job's raw output to PATH.")
@live_options
@config_option
@common_options
def run(
    command: tuple[str, ...],
    stop_on: str | None,
    grace: str,
    tee: str | None,
    fmt: str,
    quiet: bool,
    config_path: str | None,
    fail_on: str | None,
    exit_zero: bool,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> None:
    """Run a training command, show and watch its output, stop it if told to.

    \b
      gradlog run --stop-on nan,loss_spike -- python train.py --lr 3e-4

    The command runs in its own session with stdout and stderr merged (and
    PYTHONUNBUFFERED=1 unless set, so Python output is not held back). With
    --stop-on, gradlog stops it when such a diagnosis appears: SIGINT first so it can
    save a checkpoint, SIGTERM after --grace, SIGKILL 5s later. Ctrl-C starts the same
    steps (pressing it again hurries them); SIGTERM and SIGHUP are forwarded.

    \b
    Exit status:
      3   gradlog stopped the job (--stop-on)
      N   the job's own non-zero status (128+S when killed by signal S;
          130 after Ctrl-C if the job dies of SIGINT)
      2   gradlog could not run (bad option, command not found, stdout or
          stderr closed: checked before the job starts), or the job succeeded
          but gradlog could not do all of its job (an internal error disabled
          diagnosis, or writing the copy failed), said on stderr at once
      1   the job succeeded but diagnoses reached --fail-on (0 with --exit-zero)
      0   the job succeeded and nothing reached --fail-on

    Stopping reaches all of the job: its process group, the rest of its session and
    their descendants, until none is left (or SIGKILL has had 5s more); a last line
    says which processes needed which signal. Whatever happens to diagnosis or to the
    copy, the job's output is read to its end, so the job is never killed by gradlog
    failing (a closed stdout is said once on stderr, and the watch goes on).
    """
    closed = _claim_standard_fds()
    _check_descriptors(quiet, closed)
    config = build_config(fail_on, select, ignore, metric, config_path)
    stop_ids = _stop_ids(stop_on)
    grace_seconds = _duration(grace)
    name = shlex.join(command)
    out = Output(fmt, name, passthrough=not quiet)
    sinks = [*_stdout_sinks(quiet, closed, out), *_tee_sink(tee, out)]
    try:
        job = Job(command)
    except JobError as exc:
        raise GradlogError(str(exc)) from None
    supervisor = Supervisor(
        job, grace_seconds, lambda s, why, procs: _signalled(out, supervisor, s, why, procs)
    )

    def on_alert(diagnosis: Diagnosis, previous: Severity | None) -> None:
        out.alert(diagnosis, previous)
        if should_stop(diagnosis, stop_ids):
            supervisor.stop(diagnosis)

    goes_on = "passthrough continues" if sinks else "the job runs on"
    if stop_ids:
        goes_on += "; --stop-on no longer applies"
    out.watcher = Watcher(
        lambda: Engine(name, config), on_alert, sinks, on_fault=_on_fault(out, goes_on)
    )
    status = supervisor.run(out.watcher)
    report = out.watcher.finish()
    failed = _failure(out.watcher, sinks)
    final = _run_status(status, supervisor.stopped_for, report, config, exit_zero, failed)
    if report is not None:
        out.report(ReportSet((report,), config.fail_on))
    _close_sinks(sinks)
    _stop_summary(out, supervisor)
    if failed:
        out.note(failed, "failed", exit_code=final)
    stopped = supervisor.stopped_for is not None
    note = fmt_alert.exit_note(status, supervisor.stopped_for, final)
    out.note(note, "exit", status=status, stopped=stopped, exit_code=final)
    sys.exit(final)


def _signalled(
    out: Output, supervisor: Supervisor, signum: int, why: str, procs: Sequence[Proc]
) -> None:
    pid = supervisor.job.pid
    if why == "stop" and supervisor.stopped_for is not None:
        out.stop(supervisor.stopped_for, pid, supervisor.stopper.grace)
        return
    name = signal_name(signum)
    pids = [proc.pid for proc in procs]
    text = fmt_alert.signal_note(name, why, pid)
    if why == "grace" and pid not in pids:  # the main process is gone, workers are not
        text = f"{len(procs)} process(es) of the job outlived its main process (pid {pid}); "
        text += f"sent {name} to them"
    out.note(text, "signal", signal=name, reason=why, pid=pid, pids=pids)


def _stop_summary(out: Output, supervisor: Supervisor) -> None:
    """After a stop: which processes of the job needed which signal, and any survivor."""
    stopper = supervisor.stopper
    if not stopper.sent:
        return
    left = [proc for proc, _ in stopper.left.values()]
    ended = [
        {"pid": proc.pid, "name": proc.name, "signal": signal_name(s) if s else None}
        for proc, s in stopper.ended
    ]
    survivors = [{"pid": proc.pid, "name": proc.name} for proc in left]
    text = stop_summary(stopper.ended, left)
    out.note(text, "processes", ended=ended, left=survivors)


def _run_status(
    status: int,
    stopped_for: Diagnosis | None,
    report: Report | None,
    config: Config,
    exit_zero: bool,
    failed: str | None,
) -> int:
    if stopped_for is not None:
        return STOPPED
    if status != 0:
        return status
    if failed or report is None:
        return 2  # --exit-zero never hides that gradlog could not do its job
    if exit_zero:
        return 0
    return ReportSet((report,), config.fail_on).exit_code()


def _failure(watcher: Watcher, sinks: Sequence[ByteSink]) -> str | None:
    """Why gradlog could not do all of its job, or None: diagnosis disabled, copy lost."""
    if watcher.fault is not None:
        return f"no report: diagnosis was disabled at input line {watcher.lines} (see above)"
    lost = [sink for sink in sinks if sink.error is not None]
    if lost:
        names = ", ".join(printable(sink.name, 200) for sink in lost)
        return f"the copy to {names} is incomplete (see above)"
    return None


def _stop_ids(value: str | None) -> frozenset[str]:
    ids = frozenset(part.strip() for part in (value or "").split(",") if part.strip())
    unknown = sorted(ids - RULES.keys())
    if unknown:
        known = ", ".join(RULES)
        raise GradlogError(f"--stop-on: unknown diagnosis id {', '.join(unknown)} (known: {known})")
    return ids


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise GradlogError(f"--grace: {exc}") from None


def _claim_standard_fds() -> frozenset[int]:
    """Put /dev/null on any of descriptors 0-2 that is closed, so no file or pipe opened
    later lands there (the job's own output pipe as its stdin, a log as "stdout");
    return which were closed."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:  # the lowest free number: fd itself unless a lower one was too
                os.dup2(null, fd)
                os.close(null)
    return frozenset(closed)


def _writable(fd: int) -> bool:
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        return False
    return flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)


def _check_descriptors(quiet: bool, closed: frozenset[int]) -> None:
    """`run` starts a job only when it can watch it: with stderr for alerts and stdout
    for the copy (unless -q) open for writing. Refusing costs nothing yet; a job
    started unwatched would run on with nobody told."""
    needed = [(2, "stderr", "its alerts")]
    if not quiet:
        needed.append((1, "stdout", "the job's output (-q runs without the copy)"))
    for fd, name, what in needed:
        if fd in closed or not _writable(fd):
            state = "closed" if fd in closed else "not open for writing"
            raise GradlogError(f"{name} is {state}: nowhere to write {what}; job not started")


def _stdout_sinks(quiet: bool, closed: frozenset[int], out: Output) -> list[ByteSink]:
    if quiet:
        return []
    if 1 in closed:  # `watch` only: `run` refused to start
        out.note("stdout is closed: nothing is copied, watching goes on", "copy_stopped")
        return []
    return [ByteSink(1, "stdout", out.sink_stopped)]


def _tee_sink(path: str | None, out: Output) -> list[ByteSink]:
    if path is None:
        return []
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as exc:
        raise GradlogError(f"{path}: cannot write ({exc.strerror})") from None
    return [ByteSink(fd, path, out.sink_stopped)]


def _close_sinks(sinks: Sequence[ByteSink]) -> None:
    for sink in sinks:
        if sink.fd > 2:
            with contextlib.suppress(OSError):
                os.close(sink.fd)
