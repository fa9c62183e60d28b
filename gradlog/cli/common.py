"""What the commands share: gradlog's error, options, configuration, inputs, output."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from gradlog.config import Config
from gradlog.configfile import ConfigError, load
from gradlog.detectors import RULES
from gradlog.engine import analyze
from gradlog.formatters import FORMATTERS, terminal
from gradlog.model import Severity
from gradlog.parse.names import parse_mapping
from gradlog.report import Report, ReportSet
from gradlog.sources import iter_lines, read_file

F = TypeVar("F", bound=Callable[..., Any])
_GLOB_CHARS = frozenset("*?[")


class GradlogError(click.ClickException):
    """gradlog itself could not do its job: one line on stderr, exit code 2."""

    exit_code = 2


def _ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
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

    A pattern that matches no file is an error; an existing file whose name merely looks
    like a pattern is taken as it is. Each input is kept once, in order of first mention.
    """
    paths: list[str] = []
    for arg in args:
        if arg == "-" or os.path.exists(arg) or not _GLOB_CHARS & set(arg):
            paths.append(arg)
            continue
        matches = [p for p in sorted(glob.glob(arg, recursive=True)) if not os.path.isdir(p)]
        if not matches:
            raise GradlogError(f"{arg}: no file matches this pattern")
        paths += matches
    return tuple(dict.fromkeys(paths))


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        return iter_lines(sys.stdin.buffer)
    if os.path.isdir(path):
        raise GradlogError(f"{path}: is a directory, not a log file")
    if not os.path.exists(path):
        raise GradlogError(f"{path}: no such file")
    try:
        open(path, "rb").close()
    except OSError as exc:
        raise GradlogError(f"{path}: cannot read ({exc.strerror})") from None
    return read_file(path)


def diagnose_inputs(paths: tuple[str, ...], config: Config) -> ReportSet:
    """Analyse each input independently; any unreadable input stops the run (exit 2)."""
    for path in paths:
        if path != "-":
            _lines(path)  # fail on a missing input before analysing any
    reports: list[Report] = []
    for path in paths:
        try:
            reports.append(analyze(_lines(path), path, config))
        except OSError as exc:
            raise GradlogError(f"{path}: read failed ({exc.strerror or exc})") from None
    return ReportSet(tuple(reports), config.fail_on)


def render(reports: ReportSet, fmt: str, to_terminal: bool) -> str:
    """Render with the chosen formatter; the rich one gets colour only on a terminal."""
    if fmt == "terminal":
        color = to_terminal and "NO_COLOR" not in os.environ
        width = shutil.get_terminal_size((100, 24)).columns if to_terminal else 100
        return terminal.render(reports, color=color, width=width)
    return FORMATTERS[fmt](reports)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[TextIO]:
    """A text stream whose content replaces ``path`` only when the block succeeds, so a
    reader (or a failed run) never sees a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=".gradlog-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise GradlogError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 is too private for a report
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise GradlogError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        os.unlink(temporary)
        raise


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see ``atomic_output``)."""
    with atomic_output(path) as stream:
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
        click.option("--select", metavar="ID,...", help="Run only these detectors."),
        click.option("--ignore", metavar="ID,...", help="Skip these detectors."),
        click.option(
            "--metric",
            multiple=True,
            metavar="CANONICAL=NAME",
            help="Read the log's NAME as a canonical metric (loss, val_loss, grad_norm...).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def common_options(func: F) -> F:
    """Options shared by the commands that diagnose."""
    func = tuning_options(func)
    option = click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnoses are found.")
    return option(func)
