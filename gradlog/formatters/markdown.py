"""A Markdown summary for ``$GITHUB_STEP_SUMMARY``, a pull-request comment or a wiki.

A heading with the verdict, a table of inputs, a table of diagnoses and, per diagnosis,
its remedies in a collapsed ``<details>`` block. Log-derived text is escaped, so a metric
name or message containing ``|``, ``*`` or ``<`` cannot break a table or inject markup.
"""

from __future__ import annotations

import html
import re

from gradlog import __version__
from gradlog.formatters.terminal import describe_steps, verdict
from gradlog.model import Diagnosis, Step
from gradlog.report import Report, ReportSet

# Characters with inline meaning in GitHub-flavoured Markdown; `|` also ends a table cell.
_INLINE = re.compile(r"([\\`*_\[\]|~!#])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Text as one literal line of Markdown, safe inside a table cell."""
    text = " ".join(text.split())  # one line: Markdown folds whitespace anyway
    text = "".join(_ENTITIES.get(char, char) for char in text)
    return _INLINE.sub(r"\\\1", text)


def input_name(name: str) -> str:
    return "standard input" if name == "-" else name


def steps(first: Step | None, last: Step | None) -> str:
    """``9``, ``9-14``, or ``-`` for a diagnosis of the whole input."""
    if first is None:
        return "-"
    return str(first) if last is None or last == first else f"{first}-{last}"


def count(n: int, severity: str) -> str:
    """``1 error``, ``2 warnings``, ``3 info``."""
    return f"{n} {severity}{'s' if n != 1 and severity != 'info' else ''}"


def heading(reports: ReportSet) -> str:
    found = ", ".join(count(n, name) for name, n in reports.summary.items() if n)
    outcome = "fails" if reports.exit_code() else "passes"
    return (
        f"## gradlog: {found or 'no problems found'}\n\n"
        f"The check {outcome} (fail on {reports.fail_on} or above; "
        f"gradlog {__version__}).\n"
    )


def inputs_table(reports: ReportSet) -> str:
    rows = ["| input | records | steps | verdict |", "|---|---:|---|---|"]
    for report in reports.reports:
        read = report.input
        rows.append(
            f"| {escape(input_name(read.name))} | {read.records:,} | "
            f"{escape(describe_steps(read))} | {escape(verdict(report))} |"
        )
    return "\n".join(rows) + "\n"


def where(report: Report, diagnosis: Diagnosis) -> str:
    name = input_name(report.input.name)
    return name if diagnosis.line is None else f"{name}:{diagnosis.line}"


def diagnoses_table(reports: ReportSet) -> str:
    rows = ["| severity | id | where | step | message |", "|---|---|---|---|---|"]
    for report in reports.reports:
        for d in report.diagnoses:
            rows.append(
                f"| {d.severity} | `{d.id}` | {escape(where(report, d))} | "
                f"{steps(d.first_step, d.last_step)} | {escape(d.message)} |"
            )
    return "\n".join(rows) + "\n"


def remedies(report: Report, diagnosis: Diagnosis) -> str:
    summary = (
        f"<b>{diagnosis.severity}</b> <code>{html.escape(diagnosis.id)}</code> "
        f"{html.escape(diagnosis.title)} ({html.escape(where(report, diagnosis))})"
    )
    items = [f"{i}. {escape(remedy)}" for i, remedy in enumerate(diagnosis.remedies, 1)]
    return (
        "\n".join(["<details>", f"<summary>{summary}</summary>", "", *items, "", "</details>"])
        + "\n"
    )


def render(reports: ReportSet) -> str:
    parts = [heading(reports), inputs_table(reports)]
    if reports.diagnoses:
        parts += ["### Diagnoses\n", diagnoses_table(reports), "### Remedies\n"]
        parts += [remedies(report, d) for report in reports.reports for d in report.diagnoses]
    return "\n".join(parts)
