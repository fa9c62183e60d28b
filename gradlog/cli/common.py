"""What the commands share: gradlog's error, option parsing, reading inputs, rendering."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from gradlog.config import Config
from gradlog.detectors import RULES
from gradlog.engine import analyze
from gradlog.formatters import FORMATTERS, terminal
from gradlog.model import Severity
from gradlog.parse.names import parse_mapping
from gradlog.report import Report, ReportSet
from gradlog.sources import iter_lines, read_file

F = TypeVar("F", bound=Callable[..., Any])


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


def build_config(
    fail_on: str, select: str | None, ignore: str | None, metric: tuple[str, ...]
) -> Config:
    """Options -> Config; a bad value is a GradlogError."""
    try:
        names = parse_mapping(metric)
        level = Severity.parse(fail_on)
    except ValueError as exc:
        raise GradlogError(str(exc)) from None
    return Config(fail_on=level, select=_ids(select), ignore=_ids(ignore), metric_names=names)


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


def common_options(func: F) -> F:
    """Options shared by the commands that diagnose."""
    options = [
        click.option(
            "--fail-on",
            type=click.Choice(["error", "warning", "info"]),
            default="error",
            show_default=True,
            help="Exit 1 when a diagnosis is at or above this severity.",
        ),
        click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnoses are found."),
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
