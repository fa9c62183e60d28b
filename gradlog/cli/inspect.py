"""`gradlog inspect`: what the reader saw in each log, for a log that is misread."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import click

from gradlog.cli.common import (
    GradlogError,
    build_config,
    check_input,
    config_option,
    expand_inputs,
    metric_option,
    open_lines,
    terminal_style,
)
from gradlog.config import Config
from gradlog.formatters.json import dumps
from gradlog.inspect import Inspection, document, inspect_lines, render

F = TypeVar("F", bound=Callable[..., Any])


def names_config(config_path: str | None, metric: tuple[str, ...]) -> Config:
    """The configuration file's settings with ``--metric`` names on top."""
    return build_config(None, None, None, metric, config_path)


def open_input(path: str) -> Iterator[str]:
    """The lines of ``path`` (``-``: stdin); any read failure is a GradlogError."""
    lines = open_lines(path)  # a missing or unreadable file fails here, before any output
    return _guarded(path, lines)


def _guarded(path: str, lines: Iterable[str]) -> Iterator[str]:
    try:
        yield from lines
    except OSError as exc:
        raise GradlogError(f"{path}: read failed ({exc.strerror or exc})") from None


def _terminal(inspections: list[Inspection]) -> str:
    color, width = terminal_style(sys.stdout.isatty())
    return render(inspections, color=color, width=width)


@click.command("inspect")
@click.argument("files", nargs=-1, required=True, metavar="FILE|GLOB...")
@click.option(
    "--records",
    "keep",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the first records to show.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "json"]),
    default="terminal",
    show_default=True,
    help="Output format.",
)
@config_option
@metric_option
def inspect(
    files: tuple[str, ...], keep: int, fmt: str, config_path: str | None, metric: tuple[str, ...]
) -> None:
    """Show what gradlog read from each log: line shapes and the series each name fed,
    a summary of every series, the first records and the lines that were not read."""
    config = names_config(config_path, metric)
    paths = expand_inputs(files)
    for path in paths:
        if path != "-":
            check_input(path)  # fail on a missing input before reading any
    found = [inspect_lines(open_input(p), p, config.metric_names, keep) for p in paths]
    if fmt == "json":
        click.echo(dumps(document(found)))
    else:
        click.echo(_terminal(found), nl=False)
