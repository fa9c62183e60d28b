"""`gradlog diagnose`: saved logs in, a report and an exit code out."""

from __future__ import annotations

import signal
import sys

import click

from gradlog.cli.common import (
    GradlogError,
    build_config,
    common_options,
    config_option,
    default_jobs,
    diagnose_inputs,
    expand_inputs,
    refuse_inputs,
    render,
    stdin_is_pipe,
    write_output,
)
from gradlog.config import Config
from gradlog.escape import inert, visible
from gradlog.formatters import FORMATTERS
from gradlog.report import ReportSet, plural


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
@click.option(
    "--output",
    "-o",
    metavar="PATH",
    help="Write the report to PATH (never one of the inputs; special files in place).",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress display on stderr while a big log is read."
)
@click.option(
    "--no-chart", is_flag=True, help="Terminal format: no chart of the loss and grad norm."
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Diagnose up to N inputs at once, in worker processes (default: one per CPU); "
    "the report keeps the order of the inputs.",
)
@config_option
@common_options
def diagnose(
    files: tuple[str, ...],
    fmt: str,
    output: str | None,
    quiet: bool,
    no_chart: bool,
    jobs: int | None,
    config_path: str | None,
    fail_on: str | None,
    exit_zero: bool,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> None:
    """Diagnose training logs (FILE may be - for standard input; quoted globs such as
    'logs/**/*.log' are expanded by gradlog).

    \b
    Exit status:
      0    nothing at or above --fail-on (or --exit-zero)
      1    diagnoses at or above --fail-on
      2    gradlog could not run (bad option, unreadable input, --output is an input)
      130  Ctrl-C (SIGINT) cut standard input short: the report covers what was read
           before it and says it is incomplete (143 for SIGTERM); --exit-zero keeps it
    """
    config = build_config(fail_on, select, ignore, metric, config_path)
    piped = stdin_is_pipe(files)  # a job may still be writing: alert as diagnoses appear
    paths = ("-",) if piped else expand_inputs(files)
    if output is not None:
        refuse_inputs(output, paths)
    if piped:
        reports = stream_stdin(config)
    else:
        reports = diagnose_inputs(paths, config, quiet, jobs or default_jobs())
    text = render(
        reports, fmt, to_terminal=output is None and sys.stdout.isatty(), chart=not no_chart
    )
    if output is not None:
        write_output(output, text)
        found = ", ".join(f"{n} {name}" for name, n in reports.summary.items())
        click.echo(
            f"gradlog: wrote {inert(visible(output))} "
            f"({plural(len(reports.reports), 'input')}: {found})",
            err=True,
        )
    else:
        click.echo(text, nl=False)
    _say_incomplete(reports)
    code = reports.exit_code()
    sys.exit(0 if exit_zero and not reports.incomplete else code)


def stream_stdin(config: Config) -> ReportSet:
    """`diagnose -` on a pipe: alerts on stderr as diagnoses appear; the report is returned.

    Ctrl-C (or SIGTERM) ends the input after a short drain, as for `watch`; the report
    is then marked incomplete with the signal, and the exit status is 128 + its number.
    """
    # The live machinery, only when standard input is a pipe.
    from gradlog.cli.live import DRAIN, Output
    from gradlog.engine import Engine
    from gradlog.live import Watcher, pump
    from gradlog.process import Signals
    from gradlog.sources import GATHER_SAVED, FdReader

    out = Output("terminal", "-", passthrough=False)
    engine = Engine("-", config)
    watcher = Watcher(engine, out.alert)
    with Signals((signal.SIGINT, signal.SIGTERM), hard_after=2) as signals:

        def more(now: float, quiet: bool) -> bool:
            return signals.first is None or now < signals.first + DRAIN

        try:
            pump(FdReader(sys.stdin.fileno(), as_text=True, gather=GATHER_SAVED), watcher, more)
        except OSError as exc:
            raise GradlogError(f"-: read failed ({exc.strerror or exc})") from None
        received = signals.pop()
    if received:
        engine.interrupt(received[0])
    report = watcher.finish()
    if report is None:  # an internal error disabled diagnosis: no report to trust
        raise GradlogError(f"-: {watcher.fault or 'internal error'}")
    return ReportSet((report,), config.fail_on)


def _say_incomplete(reports: ReportSet) -> None:
    for report in reports.reports:
        read = report.input
        if read.incomplete:
            click.echo(
                f"gradlog: {read.name}: interrupted by {read.interrupted_by} after "
                f"{plural(read.lines, 'line')}; the report is incomplete "
                f"(exit {reports.exit_code()})",
                err=True,
            )
