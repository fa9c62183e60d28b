"""The command line: read inputs, run the library, pick a formatter, write, exit.

Each command lives in its own module; this one holds the group and the entry point.
"""

from __future__ import annotations

import os
import sys

import click

from gradlog import __version__
from gradlog.cli.diagnose import diagnose
from gradlog.cli.inspect import inspect
from gradlog.cli.live import run, watch
from gradlog.cli.rules import COMMANDS as RULE_COMMANDS
from gradlog.cli.series import series


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradlog")
def cli() -> None:
    """Diagnose exploding, vanishing and unstable training from its log."""


cli.add_command(diagnose)
cli.add_command(watch)
cli.add_command(run)
cli.add_command(inspect)
cli.add_command(series)
for command in RULE_COMMANDS:  # rules, explain, config
    cli.add_command(command)


def main() -> None:
    """Entry point: every failure becomes one line on stderr and a documented exit code."""
    try:
        code = cli.main(prog_name="gradlog", standalone_mode=False)
    except click.ClickException as exc:
        message = exc.format_message()
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            message += f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"gradlog: error: {message}", err=True)
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("gradlog: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # an internal error still gets one line, not a traceback
        click.echo(f"gradlog: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
