"""The command line: read inputs, run the library, pick a formatter, write, exit.

Each command lives in its own module; this one holds the group and the entry point.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from gradlog import __version__, lazy

# Each command: its module, its function, and the start of its help as `gradlog --help`
# lists it. Commands are imported when they run, so `--version` and `--help` load no
# parser, detector or formatter (tests check this text against each command's own).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "config": (
        "gradlog.cli.rules",
        "show_config",
        "Print the effective configuration as TOML, and the file it came from.",
    ),
    "diagnose": (
        "gradlog.cli.diagnose",
        "diagnose",
        "Diagnose training logs (FILE may be - for standard input; quoted globs such as "
        "'logs/**/*.log' are expanded by gradlog).",
    ),
    "explain": (
        "gradlog.cli.rules",
        "explain",
        "Print the page of rule ID: what it detects, why it matters, thresholds, remedies.",
    ),
    "inspect": (
        "gradlog.cli.inspect",
        "inspect",
        "Show what gradlog read from each log: line shapes and the series each name fed, "
        "a summary of every series, the first records and the lines that were not read.",
    ),
    "rules": (
        "gradlog.cli.rules",
        "rules",
        "List every detector: id, default severity, whether it runs by default, summary.",
    ),
    "run": (
        "gradlog.cli.live",
        "run",
        "Run a training command, show and watch its output, stop it if told to.",
    ),
    "scan": (
        "gradlog.cli.scan",
        "scan",
        "Diagnose many inputs on a Dask cluster and write one summary table: a row per "
        "input (logs, saved runs, folders of them, remote logs) with its worst severity, "
        "verdict, ids, first bad step and records; a row that could not be read says why.",
    ),
    "series": (
        "gradlog.cli.series",
        "series",
        "Export the metric series read from FILE (- for standard input): one row per "
        "record, with its step, epoch and line.",
    ),
    "watch": (
        "gradlog.cli.live",
        "watch",
        "Watch a log while it is written: pass it through, alert at once on stderr.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module, attr, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from ``COMMANDS``, shortened as click shortens help."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradlog")
def cli() -> None:
    """Diagnose exploding, vanishing and unstable training from its log."""


def main() -> None:
    """Entry point: every failure becomes one line on stderr and a documented exit code."""
    lazy.for_command_line()
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
