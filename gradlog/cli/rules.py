"""`gradlog rules`, `gradlog explain ID` and `gradlog config`: what gradlog checks, how."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from gradlog.cli.common import GradlogError, config_option, effective_config, tuning_options
from gradlog.config import Config
from gradlog.configfile import dumps, shown, threshold_lines
from gradlog.detectors import DETECTORS, RULES, Detector
from gradlog.formatters.terminal import STYLES
from gradlog.remedies import general


def _console() -> Console:
    return Console(highlight=False, emoji=False, no_color="NO_COLOR" in os.environ)


def _source(path: Path | None) -> str:
    return "the built-in defaults" if path is None else shown(path)


@click.command()
def rules() -> None:
    """List every detector: id, default severity, whether it runs by default, summary."""
    if sys.stdout.isatty():
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("id", "severity", "default", "summary"):
            table.add_column(column, overflow="fold")
        for rule in RULES.values():
            table.add_row(
                Text(rule.id, style="bold"),
                Text(str(rule.severity), style=STYLES[rule.severity]),
                "on" if rule.default_enabled else "off",
                Text(rule.summary),
            )
        _console().print(table)
        return
    width = max(len(rule_id) for rule_id in RULES)
    click.echo(f"{'id':<{width}}  severity  default  summary")
    for rule in RULES.values():
        enabled = "on" if rule.default_enabled else "off"
        click.echo(f"{rule.id:<{width}}  {rule.severity!s:<8}  {enabled:<7}  {rule.summary}")


def sections(detector: type[Detector]) -> dict[str, str]:
    """The ``## Heading`` sections of a detector's docstring, by heading."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in inspect.cleandoc(detector.__doc__ or "").splitlines():
        if line.startswith("## "):
            current = found.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {heading: "\n".join(lines).strip() for heading, lines in found.items()}


def page(detector: type[Detector], config: Config, source: Path | None) -> str:
    """The rule's page as Markdown: its documentation, current thresholds and remedies."""
    rule = detector.rule
    enabled = "yes" if config.enabled(rule.id, rule.default_enabled) else "no"
    parts = [
        f"# {rule.id}: {rule.title}",
        f"Severity: {rule.severity}. Enabled in the current configuration: {enabled}.",
    ]
    for heading, text in sections(detector).items():
        parts += [f"## {heading}", text]
        if heading == "Thresholds":
            parts.append(current_thresholds(rule.id, config, source))
    remedies = [f"{i}. {remedy}" for i, remedy in enumerate(general(rule.remedies), 1)]
    parts += ["## Remedies", "\n".join(remedies)]
    return "\n\n".join(parts) + "\n"


def current_thresholds(rule_id: str, config: Config, source: Path | None) -> str:
    if rule_id not in config.thresholds._fields:
        return "This rule has no thresholds to set."
    lines = "\n".join(threshold_lines(getattr(config.thresholds, rule_id)))
    return (
        f"Current values, from {_source(source)} (set them under "
        f"`[tool.gradlog.thresholds.{rule_id}]`, with `-` or `_` in names):"
        f"\n\n```toml\n{lines}\n```"
    )


@click.command()
@click.argument("rule_id", metavar="ID")
@config_option
def explain(rule_id: str, config_path: str | None) -> None:
    """Print the page of rule ID: what it detects, why it matters, thresholds, remedies."""
    detector = next((d for d in DETECTORS if d.rule.id == rule_id), None)
    if detector is None:
        raise GradlogError(f"unknown rule id {rule_id!r} (known: {', '.join(RULES)})")
    config, source = effective_config(config_path, None, None, None, ())
    text = page(detector, config, source)
    if sys.stdout.isatty():
        _console().print(Markdown(text))
    else:
        click.echo(text, nl=False)


@click.command("config")
@config_option
@tuning_options
def show_config(
    config_path: str | None,
    fail_on: str | None,
    select: str | None,
    ignore: str | None,
    metric: tuple[str, ...],
) -> None:
    """Print the effective configuration as TOML, and the file it came from."""
    config, source = effective_config(config_path, fail_on, select, ignore, metric)
    overridden = any((fail_on, select is not None, ignore is not None, metric))
    note = " with command-line options on top" if overridden else ""
    if source is None:
        note = " (no gradlog.toml or [tool.gradlog] found)" + note
    click.echo(f"# gradlog configuration from {_source(source)}{note}")
    click.echo(dumps(config), nl=False)


COMMANDS = (rules, explain, show_config)  # added to the `gradlog` group
