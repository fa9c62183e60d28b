"""What the commands share: gradlog's error, options, configuration, inputs, output."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import glob
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from gradlog import lazy, progress
from gradlog.config import Config
from gradlog.configfile import ConfigError, load
from gradlog.escape import inert, visible
from gradlog.formatters import FORMATTERS
from gradlog.model import Severity
from gradlog.parse.names import parse_mapping
from gradlog.report import Report, ReportSet
from gradlog.sources import Lines, iter_lines, open_input

if TYPE_CHECKING:
    from gradlog import saved

F = TypeVar("F", bound=Callable[..., Any])
_GLOB_CHARS = frozenset("*?[")
# Paths that name a descriptor of gradlog's own rather than a file.
_STANDARD = {"/dev/stdout": 1, "/dev/stderr": 2}
_FD_PATH = lazy.regex(r"/(?:dev/fd|proc/self/fd|proc/thread-self/fd)/(\d+)")


class GradlogError(click.ClickException):
    """gradlog itself could not do its job: one line on stderr, exit code 2.

    The message often quotes a file name or log text: it is made visible and inert, so
    it can neither drive the terminal nor start a CI workflow command."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(inert(visible(message)))


def _ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    from gradlog.detectors import RULES

    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [i for i in ids if i not in RULES]
    if unknown:
        known = ", ".join(RULES)
        raise GradlogError(f"unknown diagnosis id {', '.join(unknown)} (known: {known})")
    return ids


def load_config(config_path: str | None) -> tuple[Config, Path | None]:
    """The configuration file's settings (given, or found from the working directory)."""
    try:
        return load(config_path, Path.cwd())
    except ConfigError as exc:
        raise GradlogError(str(exc)) from None


def effective_config(
    config_path: str | None,
    fail_on: str | None,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> tuple[Config, Path | None]:
    """The file's configuration with the command line on top, and the file's path."""
    config, source = load_config(config_path)
    try:
        names = parse_mapping(metric)
        level = config.fail_on if fail_on is None else Severity.parse(fail_on)
    except ValueError as exc:
        raise GradlogError(str(exc)) from None
    config = dataclasses.replace(
        config,
        fail_on=level,
        select=config.select if select is None else _ids(select),
        ignore=config.ignore if ignore is None else _ids(ignore),
        metric_names={**config.metric_names, **names},
    )
    return config, source


def build_config(
    fail_on: str | None,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
    config_path: str | None = None,
) -> Config:
    """Configuration file, then options -> Config; a bad value is a GradlogError."""
    return effective_config(config_path, fail_on, select, ignore, metric)[0]


def expand_inputs(args: tuple[str, ...]) -> tuple[str, ...]:
    """Paths, with each glob pattern expanded (sorted), whether or not the shell did it.

    A pattern that matches no file is an error, unless it matches folders (run folders:
    ``'wandb/offline-run-*'``), which are then the inputs; an existing file whose name
    merely looks like a pattern is taken as it is. Each input is kept once, in order of
    first mention.
    """
    paths: list[str] = []
    for arg in args:
        if arg == "-" or os.path.exists(arg) or not _GLOB_CHARS & set(arg) or _url(arg):
            paths.append(arg)
            continue
        found = sorted(glob.glob(arg, recursive=True))
        matches = [p for p in found if not os.path.isdir(p)] or found
        if not matches:
            raise GradlogError(f"{arg}: no file matches this pattern")
        paths += matches
    return tuple(dict.fromkeys(paths))


def _url(path: str) -> bool:
    """A remote input (``s3://...``): opened through fsspec, never a glob or a file here."""
    from gradlog.remote import is_remote

    return is_remote(path)


def stdin_is_pipe(files: Sequence[str]) -> bool:
    """True for `diagnose -` fed by a pipe: worth alerting while it is still being written."""
    if tuple(files) != ("-",):
        return False
    with contextlib.suppress(OSError, ValueError):
        mode = os.fstat(sys.stdin.fileno()).st_mode
        return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
    return False


def check_input(path: str) -> None:
    """Fail on an input that cannot be read, without opening it: a FIFO opened and
    closed here would lose its writer, and a socket its one connection."""
    if os.path.isdir(path):
        raise GradlogError(f"{path}: is a directory, not a log file")
    if not os.path.exists(path):
        raise GradlogError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise GradlogError(f"{path}: cannot read ({os.strerror(errno.EACCES)})")


def open_lines(path: str) -> Lines:
    """The input's lines, opened once (``-``: standard input)."""
    if path == "-":
        return iter_lines(sys.stdin.buffer)
    from gradlog.remote import RemoteError, is_remote, open_remote

    if is_remote(path):
        try:
            return open_remote(path)
        except RemoteError as exc:
            raise GradlogError(str(exc)) from None
    check_input(path)
    try:
        return open_input(path)
    except OSError as exc:
        raise GradlogError(f"{path}: cannot read ({exc.strerror or exc})") from None


def find_inputs(paths: Iterable[str], check: bool = True) -> list[saved.Input]:
    """What ``paths`` hold (``saved.inputs``: a folder's logs and runs), each once; with
    ``check``, a missing or unreadable file is an error here, before any is read."""
    from gradlog import saved

    found: list[saved.Input] = []
    for path in paths:
        if check and path != "-" and not os.path.isdir(path) and not _url(path):
            check_input(path)
        try:
            found += saved.inputs(path)
        except saved.RunError as exc:
            raise GradlogError(str(exc)) from None
        except OSError as exc:
            raise GradlogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return list(dict.fromkeys(found))  # a log named twice (by a folder and a glob): once


def diagnose_inputs(
    paths: tuple[str, ...], config: Config, quiet: bool = False, jobs: int = 1
) -> ReportSet:
    """Analyse each input independently (a folder: each log and saved run in it; ``jobs``
    processes at once); any unreadable input stops the run (exit 2).

    A progress display on stderr shows how reading goes on a terminal, for an input
    that takes more than a second (none with ``quiet``)."""
    found = find_inputs(paths)  # a missing input fails before any is analysed
    if jobs > 1 and len(found) > 1 and all(item.path != "-" for item in found):
        reports = _in_parallel(found, config, jobs)
    else:
        reports = [diagnose_one(item, config, quiet) for item in found]
    return ReportSet(tuple(reports), config.fail_on)


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _in_parallel(found: Sequence[saved.Input], config: Config, jobs: int) -> list[Report]:
    """``diagnose_one`` of each input in up to ``jobs`` worker processes; the reports in
    input order. The first input (in order) that cannot be read stops the run, as one by
    one; no progress display (several inputs at once would garble it)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import gradlog.engine  # noqa: F401  (loaded once, before the workers fork)

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(min(jobs, len(found)), mp_context=context) as pool:
        futures = [pool.submit(diagnose_one, item, config, True) for item in found]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def diagnose_one(item: saved.Input, config: Config, quiet: bool = False) -> Report:
    """The report of one input: a log, or a saved run."""
    from gradlog.engine import analyze  # the parser and rules, once there is work
    from gradlog.saved import RunError, analyze_run

    if item.log is None:
        try:
            return analyze_run(item, config)
        except RunError as exc:
            raise GradlogError(str(exc)) from None
        except OSError as exc:
            raise GradlogError(f"{item.path}: read failed ({exc.strerror or exc})") from None
    lines = open_lines(item.log)
    try:
        with progress.for_input(item.path, lines, quiet) as shown:
            return analyze(lines, item.path, config, shown.update)
    except OSError as exc:
        raise GradlogError(f"{item.path}: read failed ({exc.strerror or exc})") from None
    finally:
        lines.close()  # standard input itself stays open


def render(reports: ReportSet, fmt: str, to_terminal: bool, chart: bool = True) -> str:
    """Render with the chosen formatter; the rich one gets colour only on a terminal, and
    its charts unless ``chart`` is False."""
    if fmt == "terminal":
        from gradlog.formatters import terminal

        color, width = terminal_style(to_terminal)
        return terminal.render(reports, color=color, width=width, chart=chart)
    return FORMATTERS[fmt](reports)


def terminal_style(to_terminal: bool) -> tuple[bool, int]:
    """Colour and width for rich output: colour only on a terminal without NO_COLOR, the
    terminal's width there, 100 columns elsewhere."""
    color = to_terminal and "NO_COLOR" not in os.environ
    width = shutil.get_terminal_size((100, 24)).columns if to_terminal else 100
    return color, width


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _identity(path: str) -> os.stat_result | None:
    """The file ``path`` names, through symlinks (``-``: standard input); None if none."""
    try:
        return os.fstat(sys.stdin.fileno()) if path == "-" else os.stat(path)
    except (OSError, ValueError):
        return None


def refuse_inputs(output: str, inputs: Iterable[str]) -> None:
    """Writing the report over a log being read would destroy it: refuse before reading.

    The same file is found by device and inode, so a symlink, a hard link or another
    spelling of the path is caught too. A terminal both read and written is no data.
    """
    target = _identity(output)
    if target is None or stat.S_ISCHR(target.st_mode):
        return
    for path in inputs:
        found = _identity(path)
        if found is not None and (found.st_dev, found.st_ino) == (target.st_dev, target.st_ino):
            shown = "standard input" if path == "-" else path
            raise GradlogError(f"{output}: is the input {shown}; choose another output path")


@contextlib.contextmanager
def output_stream(path: str) -> Iterator[TextIO]:
    """A text stream to ``path`` that never destroys what was there on a failure.

    A regular file (or a new one) is written atomically, and through a symlink to its
    target, which keeps the link a link. A special file (``/dev/null``, a FIFO, a
    terminal) is written in place: replacing it would be wrong, and as root it would put
    a regular file where ``/dev/null`` was. ``/dev/stdout``, ``/dev/stderr`` and
    ``/dev/fd/N`` are the descriptors gradlog already has, written as they are (a
    ``>> file`` keeps appending).
    """
    descriptor = _descriptor(path)
    if descriptor is not None:
        with _to_descriptor(path, descriptor) as stream:
            yield stream
        return
    found = _identity(path)
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise GradlogError(f"{path}: cannot write (Is a directory)")
    if found is not None and stat.S_ISBLK(found.st_mode):
        raise GradlogError(f"{path}: is a block device; refusing to write a report onto it")
    if found is None or stat.S_ISREG(found.st_mode):
        with atomic_output(os.path.realpath(path), path, found) as stream:
            yield stream
        return
    with _in_place(path) as stream:
        yield stream


def _descriptor(path: str) -> int | None:
    """The descriptor a path like ``/dev/stdout`` or ``/proc/self/fd/3`` names, if it does."""
    absolute = os.path.abspath(path)
    if absolute in _STANDARD:
        return _STANDARD[absolute]
    match = _FD_PATH.fullmatch(absolute)
    return int(match[1]) if match else None


@contextlib.contextmanager
def _to_descriptor(path: str, descriptor: int) -> Iterator[TextIO]:
    try:
        with os.fdopen(os.dup(descriptor), "w", encoding="utf-8", newline="") as stream:
            yield stream
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise GradlogError(f"{path}: cannot write ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _in_place(path: str) -> Iterator[TextIO]:
    try:
        with open(path, "w", encoding="utf-8", newline="") as stream:
            yield stream
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise GradlogError(f"{path}: cannot write ({exc.strerror or exc})") from None


@contextlib.contextmanager
def atomic_output(
    path: str, shown: str | None = None, before: os.stat_result | None = None
) -> Iterator[TextIO]:
    """A text stream whose content replaces ``path`` only when the block succeeds, so a
    reader (or a failed run) never sees a half-written file and no temporary file is
    left behind, even on SIGTERM or SIGHUP. ``before``: the file being replaced, whose
    mode (and, as root, owner) the new one keeps; ``shown``: the path named in errors."""
    shown = shown or path
    directory = os.path.dirname(os.path.abspath(path))
    with _signals_unwind():
        try:
            fd, temporary = tempfile.mkstemp(prefix=".gradlog-", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise GradlogError(f"{shown}: cannot write ({exc.strerror or exc})") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                yield stream
            _keep_attributes(temporary, before)
            os.replace(temporary, path)
        except OSError as exc:
            _remove(temporary)
            raise GradlogError(f"{shown}: cannot write ({exc.strerror or exc})") from None
        except BaseException:
            _remove(temporary)
            raise


def _keep_attributes(temporary: str, before: os.stat_result | None) -> None:
    """Give the new file the old one's mode and owner; mkstemp's 0600 is too private."""
    if before is None:
        os.chmod(temporary, 0o666 & ~_umask())
        return
    os.chmod(temporary, stat.S_IMODE(before.st_mode))
    if os.geteuid() == 0 and (before.st_uid, before.st_gid) != (0, 0):
        with contextlib.suppress(OSError):
            os.chown(temporary, before.st_uid, before.st_gid)


def _remove(temporary: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """While installed, SIGTERM and SIGHUP exit with 128 + N through Python's unwinding
    (cleanup runs) instead of killing the process on the spot. Ignored ones stay ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, unwind)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def write_output(path: str, text: str) -> None:
    """Write ``text`` to ``path`` safely (see ``output_stream``)."""
    with output_stream(path) as stream:
        stream.write(text)


def config_option(func: F) -> F:
    """``--config PATH``: the configuration file to use instead of the one found."""
    option = click.option(
        "--config",
        "config_path",
        metavar="PATH",
        help="Read settings from PATH (a gradlog.toml, or a pyproject.toml with "
        "[tool.gradlog]) instead of the nearest one.",
    )
    return option(func)


def metric_option(func: F) -> F:
    """``--metric CANONICAL=NAME``, repeatable: read the log's NAME as a canonical metric."""
    option = click.option(
        "--metric",
        multiple=True,
        metavar="CANONICAL=NAME",
        help="Read the log's NAME as a canonical metric (loss, val_loss, grad_norm...).",
    )
    return option(func)


def tuning_options(func: F) -> F:
    """Options that choose and tune detectors; unset ones leave the file's value."""
    options = [
        click.option(
            "--fail-on",
            type=click.Choice(["error", "warning", "info"]),
            default=None,  # unset: the configuration file's fail-on, else error
            help="Exit 1 when a diagnosis is at or above this severity "
            "[default: error, or fail-on from the configuration file].",
        ),
        click.option(
            "--select",
            metavar="ID,...",
            help="Run only these detectors (no_metrics, the unread-log guard, always runs).",
        ),
        click.option("--ignore", metavar="ID,...", help="Skip these detectors (never no_metrics)."),
        metric_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def common_options(func: F) -> F:
    """Options shared by the commands that diagnose."""
    func = tuning_options(func)
    option = click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnoses are found.")
    return option(func)
