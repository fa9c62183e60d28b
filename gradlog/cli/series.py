"""`gradlog series`: the parsed series of one log as CSV or JSON Lines, for a notebook."""

from __future__ import annotations

import sys

import click

from gradlog.cli.common import (
    GradlogError,
    config_option,
    metric_option,
    output_stream,
    refuse_inputs,
)
from gradlog.cli.inspect import names_config, open_input
from gradlog.escape import inert, visible
from gradlog.export import records_of, write_csv, write_jsonl
from gradlog.parse.names import NameTable
from gradlog.parse.reader import LogReader
from gradlog.report import plural

WRITERS = {"csv": write_csv, "jsonl": write_jsonl}


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
@click.option(
    "--output",
    "-o",
    metavar="PATH",
    help="Write to PATH instead of stdout (never the input; special files in place).",
)
@config_option
@metric_option
def series(
    file: str, fmt: str, output: str | None, config_path: str | None, metric: tuple[str, ...]
) -> None:
    """Export the metric series read from FILE (- for standard input): one row per record,
    with its step, epoch and line. Non-finite values are written nan, inf and -inf."""
    config = names_config(config_path, metric)
    if output is not None:
        refuse_inputs(output, (file,))
    records = records_of(LogReader(NameTable(config.metric_names), file), open_input(file))
    write = WRITERS[fmt]
    if output is None:
        if not write(records, sys.stdout):
            raise _no_records(file)
        return
    with output_stream(output) as stream:
        count = write(records, stream)
        if not count:
            raise _no_records(file)
    click.echo(f"gradlog: wrote {inert(visible(output))} ({plural(count, 'record')})", err=True)
