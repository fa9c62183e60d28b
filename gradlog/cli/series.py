"""`gradlog series`: the parsed series of one log as CSV or JSON Lines, for a notebook."""

from __future__ import annotations

import os
import sys

import click

from gradlog.cli.common import GradlogError, atomic_output, config_option
from gradlog.cli.inspect import metric_option, names_config, open_input
from gradlog.export import records_of, write_csv, write_jsonl
from gradlog.formatters.terminal import plural
from gradlog.parse.names import NameTable
from gradlog.parse.reader import LogReader

WRITERS = {"csv": write_csv, "jsonl": write_jsonl}


def _refuse_input(path: str, output: str) -> None:
    """Writing over the log being read would destroy it: refuse before reading."""
    exist = path != "-" and os.path.exists(path) and os.path.exists(output)
    if exist and os.path.samefile(path, output):
        raise GradlogError(f"{output}: is the input log; choose another output path")


def _no_records(path: str) -> GradlogError:
    return GradlogError(f"no metric records read from {path} (see 'gradlog inspect {path}')")


@click.command()
@click.argument("file", metavar="FILE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(WRITERS)),
    default="csv",
    show_default=True,
    help="csv: one column per metric; jsonl: one JSON object per record, streamed.",
)
@click.option("--output", "-o", metavar="PATH", help="Write to PATH instead of stdout.")
@config_option
@metric_option
def series(
    file: str, fmt: str, output: str | None, config_path: str | None, metric: tuple[str, ...]
) -> None:
    """Export the metric series read from FILE (- for standard input): one row per record,
    with its step, epoch and line. Non-finite values are written nan, inf and -inf."""
    config = names_config(config_path, metric)
    if output is not None:
        _refuse_input(file, output)
    records = records_of(LogReader(NameTable(config.metric_names)), open_input(file))
    write = WRITERS[fmt]
    if output is None:
        if not write(records, sys.stdout):
            raise _no_records(file)
        return
    with atomic_output(output) as stream:
        count = write(records, stream)
        if not count:
            raise _no_records(file)
    click.echo(f"gradlog: wrote {output} ({plural(count, 'record')})", err=True)
