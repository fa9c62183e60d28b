"""`gradlog watch` and `gradlog run`: diagnose a training job while it runs."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import stat
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from gradlog.cli.common import (
    GradlogError,
    build_config,
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
from gradlog.live import ByteSink, Reader, Watcher, pump
from gradlog.model import Diagnosis, Severity
from gradlog.process import (
    KILL_AFTER,
    STOPPED,
    Job,
    JobError,
    Signals,
    Supervisor,
    parse_duration,
    should_stop,
    signal_name,
)
from gradlog.report import ReportSet
from gradlog.sources import FdReader, FollowReader

F = TypeVar("F", bound=Callable[..., Any])

# Seconds to keep reading a piped producer after Ctrl-C: it got the same Ctrl-C and is
# printing its last words (a traceback, a checkpoint message) on its way out.
DRAIN = 1.0


class Output:
    """Where a live command's alerts, notices and report go: stderr, for people or as JSON."""

    def __init__(self, fmt: str, name: str, passthrough: bool) -> None:
        self.json = fmt == "jsonl"
        self.name = name
        self.color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        # Passthrough and alerts share a terminal: an alert must not land mid-line.
        self._shared = passthrough and sys.stdout.isatty() and sys.stderr.isatty()
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
        self._write(render(reports, "json" if self.json else "terminal", sys.stderr.isatty()))

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError):  # stderr is gone: nobody is left to tell
            sys.stderr.write(text)
            sys.stderr.flush()


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
) -> ReportSet:
    """Pump ``reader`` into ``watcher`` until the input ends or Ctrl-C (plus ``drain``)."""
    with Signals((signal.SIGINT, signal.SIGTERM), hard_after=2) as signals:

        def more(now: float, quiet: bool) -> bool:
            return signals.first is None or now < signals.first + drain

        try:
            pump(reader, watcher, more)
        except OSError as exc:
            raise GradlogError(f"{name}: read failed ({exc.strerror or exc})") from None
    return ReportSet((watcher.finish(),), config.fail_on)


def stdin_is_pipe(files: Sequence[str]) -> bool:
    """True for `diagnose -` fed by a pipe: worth alerting while it is still being written."""
    if tuple(files) != ("-",):
        return False
    with contextlib.suppress(OSError, ValueError):
        mode = os.fstat(sys.stdin.fileno()).st_mode
        return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
    return False


def stream_stdin(config: Config) -> ReportSet:
    """`diagnose -` on a pipe: alerts on stderr as diagnoses appear; the report is returned."""
    out = Output("terminal", "-", passthrough=False)
    watcher = Watcher(Engine("-", config), out.alert)
    return watch_input(FdReader(sys.stdin.fileno()), watcher, "-", config, DRAIN)


def _open_input(path: str, follow: bool, out: Output) -> Reader:
    if path == "-":
        return FdReader(sys.stdin.fileno())
    if os.path.isdir(path):
        raise GradlogError(f"{path}: is a directory, not a log file")
    try:
        if follow:
            return FollowReader(path, lambda text: out.note(text, "follow"))
        return FdReader(os.open(path, os.O_RDONLY))
    except FileNotFoundError:
        raise GradlogError(f"{path}: no such file") from None
    except OSError as exc:
        raise GradlogError(f"{path}: cannot read ({exc.strerror})") from None


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

    Exit status: 0 nothing at or above --fail-on, 1 diagnoses at or above it, 2 gradlog
    could not run. Ctrl-C (or SIGTERM) ends the input like end of file: the report is
    printed and the status follows the diagnoses, since a followed file ends no other
    way. A second Ctrl-C quits at once with 130. If stdout is closed (| head), the copy
    stops and watching goes on, so the job writing into the pipe is not killed by it.
    """
    config = build_config(fail_on, select, ignore, metric, config_path)
    name = file or "-"
    if follow and name == "-":
        raise GradlogError("--follow needs a FILE to follow")
    out = Output(fmt, name, passthrough=not quiet)
    reader = _open_input(name, follow, out)
    out.watcher = Watcher(Engine(name, config), out.alert, _stdout_sinks(quiet))
    drain = DRAIN if name == "-" else 0.0
    reports = watch_input(reader, out.watcher, name, config, drain)
    out.report(reports)
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
      1   the job succeeded but diagnoses reached --fail-on (0 with --exit-zero)
      0   the job succeeded and nothing reached --fail-on
      2   gradlog could not run (bad option, command not found)
    """
    config = build_config(fail_on, select, ignore, metric, config_path)
    stop_ids = _stop_ids(stop_on)
    grace_seconds = _duration(grace)
    sinks = [*_stdout_sinks(quiet), *_tee_sink(tee)]
    try:
        job = Job(command)
    except JobError as exc:
        raise GradlogError(str(exc)) from None
    name = shlex.join(command)
    out = Output(fmt, name, passthrough=not quiet)
    supervisor = Supervisor(job, grace_seconds, lambda s, why: _signalled(out, supervisor, s, why))

    def on_alert(diagnosis: Diagnosis, previous: Severity | None) -> None:
        out.alert(diagnosis, previous)
        if should_stop(diagnosis, stop_ids):
            supervisor.stop(diagnosis)

    out.watcher = Watcher(Engine(name, config), on_alert, sinks)
    status = supervisor.run(out.watcher)
    reports = ReportSet((out.watcher.finish(),), config.fail_on)
    final = _run_status(status, supervisor.stopped_for, reports, exit_zero)
    out.report(reports)
    _close_sinks(sinks, out)
    stopped = supervisor.stopped_for is not None
    note = fmt_alert.exit_note(status, supervisor.stopped_for, final)
    out.note(note, "exit", status=status, stopped=stopped, exit_code=final)
    sys.exit(final)


def _signalled(out: Output, supervisor: Supervisor, signum: int, why: str) -> None:
    pid = supervisor.job.pid
    if why == "stop" and supervisor.stopped_for is not None:
        out.stop(supervisor.stopped_for, pid, supervisor.stopper.grace)
        return
    name = signal_name(signum)
    out.note(fmt_alert.signal_note(name, why, pid), "signal", signal=name, reason=why, pid=pid)


def _run_status(
    status: int, stopped_for: Diagnosis | None, reports: ReportSet, exit_zero: bool
) -> int:
    if stopped_for is not None:
        return STOPPED
    if status != 0 or exit_zero:
        return status
    return reports.exit_code()


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


def _stdout_sinks(quiet: bool) -> list[ByteSink]:
    return [] if quiet else [ByteSink(sys.stdout.fileno(), "stdout")]


def _tee_sink(path: str | None) -> list[ByteSink]:
    if path is None:
        return []
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as exc:
        raise GradlogError(f"{path}: cannot write ({exc.strerror})") from None
    return [ByteSink(fd, path)]


def _close_sinks(sinks: Sequence[ByteSink], out: Output) -> None:
    for sink in sinks:
        if sink.error is not None:
            out.note(f"warning: {sink.error}; the copy stops there", "write_failed")
        if sink.fd != sys.stdout.fileno():
            os.close(sink.fd)
