"""`gradlog diagnose`: saved logs in, a report and an exit code out."""

from __future__ import annotations

import sys

import click

from gradlog.cli.common import (
    build_config,
    common_options,
    config_option,
    diagnose_inputs,
    expand_inputs,
    render,
    write_atomically,
)
from gradlog.cli.live import stdin_is_pipe, stream_stdin
from gradlog.formatters import FORMATTERS
from gradlog.formatters.terminal import plural


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE|GLOB...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATTERS)),
    default="terminal",
    show_default=True,
    help="Output format.",
)
@click.option("--output", "-o", metavar="PATH", help="Write the report to PATH.")
@config_option
@common_options
def diagnose(
    files: tuple[str, ...],
    fmt: str,
    output: str | None,
    config_path: str | None,
    fail_on: str | None,
    exit_zero: bool,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> None:
    """Diagnose training logs (FILE may be - for standard input; quoted globs such as
    'logs/**/*.log' are expanded by gradlog)."""
    config = build_config(fail_on, select, ignore, metric, config_path)
    if stdin_is_pipe(files):  # a job still writing: alert on stderr as diagnoses appear
        reports = stream_stdin(config)
    else:
        reports = diagnose_inputs(expand_inputs(files), config)
    text = render(reports, fmt, to_terminal=output is None and sys.stdout.isatty())
    if output is not None:
        write_atomically(output, text)
        found = ", ".join(f"{n} {name}" for name, n in reports.summary.items())
        click.echo(
            f"gradlog: wrote {output} ({plural(len(reports.reports), 'input')}: {found})",
            err=True,
        )
    else:
        click.echo(text, nl=False)
    code = reports.exit_code()
    sys.exit(0 if exit_zero else code)
