"""`gradlog diagnose`: saved logs in, a report and an exit code out."""

from __future__ import annotations

import sys

import click

from gradlog.cli.common import (
    GradlogError,
    build_config,
    common_options,
    diagnose_inputs,
    render,
)
from gradlog.formatters import FORMATTERS


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATTERS)),
    default="terminal",
    show_default=True,
    help="Output format.",
)
@click.option("--output", "-o", metavar="PATH", help="Write the report to PATH.")
@common_options
def diagnose(
    files: tuple[str, ...],
    fmt: str,
    output: str | None,
    fail_on: str,
    exit_zero: bool,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> None:
    """Diagnose training logs (FILE may be - for standard input)."""
    config = build_config(fail_on, select, ignore, metric)
    reports = diagnose_inputs(files, config)
    text = render(reports, fmt, to_terminal=output is None and sys.stdout.isatty())
    if output is not None:
        try:
            with open(output, "w", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as exc:
            raise GradlogError(f"{output}: cannot write ({exc.strerror})") from None
    else:
        click.echo(text, nl=False)
    code = reports.exit_code()
    sys.exit(0 if exit_zero else code)
