"""`gradlog scan`: many inputs on a Dask cluster, one summary table out."""

from __future__ import annotations

import sys

import click

from gradlog.cli.common import (
    GradlogError,
    build_config,
    common_options,
    config_option,
    refuse_inputs,
    write_output,
)


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="The Dask scheduler to use (tcp://host:8786); default: a local cluster.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Worker processes of the local cluster (default: one per CPU).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="The summary's format.",
)
@click.option("--output", "-o", metavar="PATH", help="Write the summary to PATH.")
@config_option
@common_options
def scan(
    inputs: tuple[str, ...],
    scheduler: str | None,
    workers: int | None,
    fmt: str,
    output: str | None,
    config_path: str | None,
    fail_on: str | None,
    exit_zero: bool,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> None:
    """Diagnose many inputs on a Dask cluster and write one summary table: a row per
    input (logs, saved runs, folders of them, remote logs) with its worst severity,
    verdict, ids, first bad step and records; a row that could not be read says why.

    \b
      gradlog scan 'sweep/**/*.log' runs/ -o summary.csv
      gradlog scan --scheduler tcp://scheduler:8786 s3://bucket/logs/a.log ...

    \b
    Exit status:
      0  nothing at or above --fail-on (or --exit-zero)
      1  an input has a diagnosis at or above --fail-on
      2  an input could not be read (its row says why), or gradlog could not run
    """
    from gradlog import fleet

    config = build_config(fail_on, select, ignore, metric, config_path)
    if output is not None:
        refuse_inputs(output, inputs)
    try:
        rows = fleet.scan(inputs, address=scheduler, workers=workers, config=config)
    except ImportError as error:
        raise GradlogError(str(error)) from None
    except OSError as error:  # the scheduler cannot be reached
        raise GradlogError(f"dask: {error}") from None
    text = fleet.render(rows, fmt)
    if output is not None:
        write_output(output, text)
    else:
        click.echo(text, nl=False)
    code = fleet.exit_code(rows, config.fail_on)
    sys.exit(0 if exit_zero and code == 1 else code)
