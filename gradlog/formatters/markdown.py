"""A Markdown summary for ``$GITHUB_STEP_SUMMARY``, a pull-request comment or a wiki.

A heading with the verdict, a table of inputs, a table of diagnoses and, per diagnosis,
its remedies in a collapsed ``<details>`` block. Log-derived text is escaped (see
``gradlog.escape``), so a file name, metric name or message containing ``|``, a line
break, a backtick or ``<script>`` cannot break a table, open a code span or render HTML.
"""

from __future__ import annotations

from gradlog import __version__
from gradlog.escape import html_text, markdown_code
from gradlog.escape import markdown_text as escape
from gradlog.formatters.terminal import describe_steps, verdict
from gradlog.model import Diagnosis, Step
from gradlog.report import Report, ReportSet


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
                f"| {d.severity} | {markdown_code(d.id, in_table=True)} | "
                f"{escape(where(report, d))} | {steps(d.first_step, d.last_step)} | "
                f"{escape(d.message)} |"
            )
    return "\n".join(rows) + "\n"


def remedies(report: Report, diagnosis: Diagnosis) -> str:
    summary = (
        f"<b>{diagnosis.severity}</b> <code>{html_text(diagnosis.id)}</code> "
        f"{html_text(diagnosis.title)} ({html_text(where(report, diagnosis))})"
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
