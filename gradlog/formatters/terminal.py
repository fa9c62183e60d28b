"""The rich terminal report, and its plain-text twin for pipes and logs."""

from __future__ import annotations

import io
import math
import re
from collections import Counter

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradlog import __version__
from gradlog.chart import draw
from gradlog.escape import inert, visible
from gradlog.incidents import Incident, incidents
from gradlog.incidents import verdict as incident_verdict
from gradlog.model import Diagnosis, Severity, Step
from gradlog.parse.names import GRAD_NORM, LOSS, LR, VAL_LOSS
from gradlog.report import (
    LIMITS,
    InputSummary,
    Report,
    ReportSet,
    first_and_last,
    plural,
    position,
    told,
)

STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def number(value: float) -> str:
    """A value as a person reads it: compact, exact for NaN and Inf."""
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.6g}"


def where(step: Step | None, line: int | None, read: InputSummary | None = None) -> str:
    """``step 9 (line 8)``, or as the log counts (``iteration 9``, ``epoch 2, batch
    100/788``: see ``report.position``) given its ``read``; ``-`` for a diagnosis of the
    whole input."""
    if step is None:
        return "-"
    at = f"step {step}" if read is None else visible(position(step, read))
    return at + (f" (line {line})" if line else "")


def describe_input(read: InputSummary) -> str:
    """One sentence on what was read, so a clean result is not mistaken for a blind one."""
    steps = ""
    if read.first_step is not None:
        steps = f", steps {read.first_step}-{read.last_step}"
        if read.numbered_steps:
            steps += " (numbered in order: the log prints none)"
    dialects = visible(", ".join(read.dialects)) or "none recognised"
    metrics = visible(", ".join(read.metrics)) or "none"
    cut = f"; INCOMPLETE: interrupted by {read.interrupted_by}" if read.incomplete else ""
    return (
        f"read {plural(read.lines, 'line')}, {plural(read.records, 'record')}{steps}; "
        f"format: {dialects}; metrics: {metrics}{runs(read)}{cut}"
    )


_RESTARTS_SHOWN = 3


def runs(read: InputSummary) -> str:
    """``; 3 runs, judged each on its own (the steps start again at lines 301, 602)``."""
    if not read.restarts:
        return ""
    lines = ", ".join(map(str, read.restarts[:_RESTARTS_SHOWN]))
    more = ", ..." if len(read.restarts) > _RESTARTS_SHOWN else ""
    at = "line" if len(read.restarts) == 1 else "lines"
    return (
        f"; {len(read.restarts) + 1} runs, judged each on its own (the steps start again "
        f"at {at} {lines}{more})"
    )


def unjudged(read: InputSummary) -> str:
    """``oscillation (needs 8), divergence (needs 15)``."""
    return ", ".join(f"{rule} (needs {n})" for rule, n in read.unjudged)


def coverage(read: InputSummary) -> str:
    """What was not read: lines with numbers that yielded nothing, with two examples."""
    if not read.unread_numeric:
        return ""
    examples = "; ".join(visible(repr(e[:80])) for e in read.unread_examples)
    return f"{plural(read.unread_numeric, 'line')} with numbers not read as metrics" + (
        f", e.g. {examples}" if examples else ""
    )


def limits(read: InputSummary) -> str:
    """The caps this input reached, each with its count: gradlog stays bounded on any
    input, and says where it did not read everything."""
    if not read.limits:
        return ""
    parts = [f"{LIMITS.get(name, name)} ({n:,})" for name, n in read.limits.items()]
    return "limits reached: " + "; ".join(parts)


def verdict(report: Report) -> str:
    """The closing line of one input's report; a cut run says so first."""
    if report.input.incomplete:
        why = report.input.interrupted_by or "a signal"
        return f"Incomplete (interrupted by {why}): " + _verdict(report)
    return _verdict(report)


def _verdict(report: Report) -> str:
    summary = report.summary
    if not report.diagnoses:
        read = report.input
        if read.unjudged:
            return (
                f"No problem seen in {plural(read.records, 'record')} "
                f"({describe_steps(read)}), but too few to judge {unjudged(read)}."
            )
        return f"No problems found in {plural(read.records, 'record')} ({describe_steps(read)})."
    parts = [f"{n} {name}{'s' if n != 1 else ''}" for name, n in summary.items() if n]
    return "Found " + ", ".join(parts) + "."


def describe_steps(read: InputSummary) -> str:
    if read.first_step is None:
        return "no steps"
    return f"steps {read.first_step}-{read.last_step}"


def _incident_table(found: tuple[Incident, ...], read: InputSummary) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("#", "severity", "where", "what happened"):
        table.add_column(column, overflow="fold")
    for incident in found:
        table.add_row(
            str(incident.number),
            Text(str(incident.severity).upper(), style=STYLES[incident.severity]),
            Text(where(incident.first_step, incident.line, read)),
            Text(visible(incident.story)),
        )
    return table


EVIDENCE_SHOWN = 10  # rows of an incident's evidence table
DIAGNOSES_SHOWN = 8  # diagnoses told in an incident's panel: the first ones and the last


def _left_out(left: list[Diagnosis], read: InputSummary) -> str:
    """What an incident's panel leaves out of its diagnoses (``left``): how many, of which
    rules, between which steps (every one is in the machine formats)."""
    ids = Counter(diagnosis.id for diagnosis in left)
    kinds = ", ".join(f"{visible(rule)} x{count:,}" for rule, count in ids.items())
    span = _span(left[0].first_step, left[-1].first_step, None, read)
    noun = "diagnosis" if len(left) == 1 else "diagnoses"
    return f"and {len(left):,} more {noun}: {kinds}, from {span} (every one in --format json)"


REMEDIES_SHOWN = 4  # remedies shown per incident; the rest are one command away


def _span(first: Step | None, last: Step | None, line: int | None, read: InputSummary) -> str:
    span = where(first, line, read)
    if last is not None and first is not None and last != first:
        span += f" to {visible(position(last, read))}"
    return span


def _evidence(incident: Incident) -> Table | None:
    """The evidence of every diagnosis of the incident, each value once, by step."""
    items = sorted(incident.evidence, key=lambda e: (float(e.step), e.line))
    if not items:
        return None
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for column in ("step", "line", "metric", "value"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for item in items[:EVIDENCE_SHOWN]:
        table.add_row(
            str(item.step), str(item.line), Text(visible(item.metric)), number(item.value)
        )
    if len(items) > EVIDENCE_SHOWN:
        table.add_row("", "", Text(f"and {len(items) - EVIDENCE_SHOWN} more", style="dim"), "")
    return table


def _remedies(incident: Incident) -> tuple[list[str], list[str]]:
    """The incident's remedies, each once, its earliest sign's first; and the ids whose
    further remedies were left out."""
    remedies = incident.remedies
    shown = list(remedies)[:REMEDIES_SHOWN]
    rest = [rule for remedy, rule in remedies.items() if remedy not in shown]
    return shown, list(dict.fromkeys(rest))


def _panel(incident: Incident, whys: dict[str, str], read: InputSummary) -> Panel:
    style = STYLES[incident.severity]
    parts: list[RenderableType] = []
    parts.append(
        Text.assemble(
            ("Where: ", "bold"),
            _span(incident.first_step, incident.last_step, incident.line, read),
        )
    )
    story = Table.grid(padding=(0, 1))
    story.add_column(no_wrap=True)
    story.add_column(no_wrap=True)
    story.add_column(overflow="fold")
    listed, left = first_and_last(incident.diagnoses, DIAGNOSES_SHOWN)
    for index, diagnosis in enumerate(listed, 1):
        if left and index == len(listed):
            story.add_row("", "", Text(_left_out(left, read), style="dim"))
        message = visible(told(diagnosis.message, read))
        counted = plural(diagnosis.count, "record")
        # A message that already gives the count ("for 100 records") is not told it twice.
        said = re.search(rf"(?<![\d,.]){re.escape(counted)}\b", message)
        count = "" if said else f"{counted}, "
        story.add_row(
            Text(where(diagnosis.first_step, diagnosis.line, read), style="dim"),
            Text(visible(diagnosis.id), style=STYLES[diagnosis.severity]),
            Text(f"{message} ({count}confidence {diagnosis.confidence})"),
        )
    parts.append(story)
    evidence = _evidence(incident)
    if evidence is not None:
        parts += [Text("Evidence", style="bold"), evidence]
    if why := incident.why(whys):
        parts.append(Text.assemble(("Why it matters: ", "bold"), why))
    shown, rest = _remedies(incident)
    if shown:
        remedies = Table.grid(padding=(0, 1))
        remedies.add_column(justify="right")
        remedies.add_column()
        for i, remedy in enumerate(shown, 1):
            remedies.add_row(f"{i}.", Text(visible(remedy)))
        parts += [Text("Remedies", style="bold"), remedies]
        if rest:
            more = ", ".join(f"gradlog explain {visible(rule)}" for rule in rest)
            parts.append(Text(f"More remedies: {more}", style="dim"))
    title = Text.assemble(
        (f" {str(incident.severity).upper()} ", style), f" incident {incident.number} "
    )
    if len(incident.ids) == 1:
        title.append(
            f"· {visible(incident.diagnoses[0].id)} · {visible(incident.diagnoses[0].title)} "
        )
    else:
        title.append(f"· {visible(incident.story)} ")
    return Panel(Group(*parts), title=title, title_align="left", border_style=style)


CHART_ROWS = {LOSS: 8, VAL_LOSS: 5, GRAD_NORM: 5, LR: 4}


def _charts(report: Report, found: tuple[Incident, ...], width: int) -> list[Text]:
    """The charted series of the input: loss (or, without it, the validation loss),
    then grad norm and learning rate when printed."""
    curves = report.input.curves
    names = [n for n in (LOSS, GRAD_NORM, LR) if n in curves]
    if LOSS not in curves and VAL_LOSS in curves:
        names.insert(0, VAL_LOSS)
    rows: list[Text] = []
    for name in names:
        rows += draw(name, curves[name], width, CHART_ROWS[name], found)
    return rows


def _whys() -> dict[str, str]:
    from gradlog.detectors import RULES

    return {rule_id: rule.why for rule_id, rule in RULES.items()}


def render_to(console: Console, reports: ReportSet, chart: bool = True) -> None:
    """Print the whole report on ``console``."""
    whys = _whys()
    for report in reports.reports:
        header = Text.assemble(
            ("gradlog ", "bold"), f"{__version__} · ", (visible(report.input.name), "bold")
        )
        console.print(header)
        console.print(Text(describe_input(report.input), style="dim"))
        if missed := coverage(report.input):
            console.print(Text(missed, style="dim"))
        if capped := limits(report.input):
            console.print(Text(capped, style="yellow"))
        if report.input.unparsed:
            console.print(Text("First lines gradlog could not read:", style="bold"))
            for line in report.input.unparsed:
                console.print(Text(f"  {visible(line)}"))
        found = incidents(report)
        if found:
            gravest = max(incident.severity for incident in found)
            console.print(Text(incident_verdict(report, found), style=STYLES[gravest]))
        if chart and (rows := _charts(report, found, console.width)):
            if console.color_system is None:  # no colour: the rows' styles show nothing
                rows = [Text("\n".join(row.plain for row in rows))]
            for row in rows:
                console.print(row, overflow="crop", no_wrap=True)
        if found:
            console.print(_incident_table(found, report.input))
            for incident in found:
                console.print(_panel(incident, whys, report.input))
        worst = report.worst()
        style = STYLES[worst] if worst is not None else "bold green"
        console.print(Text(verdict(report), style=style))
        console.print()
    if len(reports.reports) > 1:
        total = ", ".join(f"{n} {name}" for name, n in reports.summary.items())
        console.print(Text(f"{len(reports.reports)} inputs: {total}.", style="bold"))


def string_console(buffer: io.StringIO, *, color: bool, width: int) -> Console:
    """A console writing to ``buffer``: colours only when asked for, no markup guessing."""
    return Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
    )


def render(reports: ReportSet, *, color: bool = False, width: int = 100, chart: bool = True) -> str:
    """The rich report as a string; colours only when asked for; ``chart``: draw each
    input's curves."""
    buffer = io.StringIO()
    render_to(string_console(buffer, color=color, width=width), reports, chart)
    return inert(buffer.getvalue())


def render_plain(reports: ReportSet) -> str:
    """Stable plain text: one line per diagnosis, then its remedies; no colour, no boxes."""
    out: list[str] = []
    for report in reports.reports:
        name = visible(report.input.name)
        out.append(f"{name}: {describe_input(report.input)}")
        out += [f"{name}: not read: {visible(line)}" for line in report.input.unparsed]
        for d in report.diagnoses:
            out.append(
                f"{name}:{d.line or 0}: {str(d.severity).upper()} {visible(d.id)} "
                f"[{where(d.first_step, None)}] {visible(d.message)}"
            )
            out += [f"    remedy {i}: {visible(r)}" for i, r in enumerate(d.remedies, 1)]
        out.append(f"{name}: {verdict(report)}")
    if len(reports.reports) > 1:
        total = ", ".join(f"{n} {name}" for name, n in reports.summary.items())
        out.append(f"{len(reports.reports)} inputs: {total}.")
    return inert("\n".join(out) + "\n")
