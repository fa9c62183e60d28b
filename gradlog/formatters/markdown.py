"""A Markdown summary for ``$GITHUB_STEP_SUMMARY``, a pull-request comment or a wiki.

A heading with the verdict, a table of inputs, a table of diagnoses and, per diagnosis,
its remedies in a collapsed ``<details>`` block. Log-derived text is escaped (see
``gradlog.escape``), so a file name, metric name or message containing ``|``, a line
break, a backtick or ``<script>`` cannot break a table, open a code span or render HTML.
"""

from __future__ import annotations

from gradlog import __version__
from gradlog.chart import columns
from gradlog.escape import html_text, markdown_code
from gradlog.escape import markdown_text as escape
from gradlog.formatters.terminal import describe_steps, verdict
from gradlog.incidents import incidents
from gradlog.incidents import verdict as incident_verdict
from gradlog.model import Diagnosis, Step
from gradlog.parse.names import LOSS, VAL_LOSS
from gradlog.report import Report, ReportSet, first_and_last, told


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
            f"{escape(describe_steps(read))} | "
            f"{escape(incident_verdict(report) or verdict(report))} |"
        )
    return "\n".join(rows) + "\n"


def where(report: Report, diagnosis: Diagnosis) -> str:
    name = input_name(report.input.name)
    return name if diagnosis.line is None else f"{name}:{diagnosis.line}"


DIAGNOSES_SHOWN = 50  # rows per input: a page (or a PR comment, at most 65,536 characters)


def diagnoses_table(reports: ReportSet) -> str:
    rows = ["| severity | id | where | step | message |", "|---|---|---|---|---|"]
    for report in reports.reports:
        listed, left = first_and_last(report.diagnoses, DIAGNOSES_SHOWN)
        for index, d in enumerate(listed, 1):
            if left and index == len(listed):
                rows.append(
                    f"| | | {escape(input_name(report.input.name))} | | "
                    f"and {len(left):,} more (every one in `--format json`) |"
                )
            rows.append(
                f"| {d.severity} | {markdown_code(d.id, in_table=True)} | "
                f"{escape(where(report, d))} | {steps(d.first_step, d.last_step)} | "
                f"{escape(told(d.message, report.input))} |"
            )
    return "\n".join(rows) + "\n"


def remedies_of(reports: ReportSet) -> list[str]:
    """The remedies of the diagnoses the table tells, each list once per input and rule
    (a rule told many times gives the same advice each time)."""
    blocks = []
    for report in reports.reports:
        given: set[tuple[str, tuple[str, ...]]] = set()
        for diagnosis in first_and_last(report.diagnoses, DIAGNOSES_SHOWN)[0]:
            key = (diagnosis.id, tuple(diagnosis.remedies))
            if key not in given:
                given.add(key)
                blocks.append(remedies(report, diagnosis))
    return blocks


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


MERMAID_POINTS = 60  # columns of a Markdown chart (GitHub draws it at the page's width)


def _mermaid_number(value: float) -> str:
    return f"{value:.6g}"


def curve(report: Report) -> str:
    """The input's loss (else its validation loss) as a mermaid ``xychart-beta`` block,
    which GitHub renders: the highest and lowest value of each of up to 60 columns, as
    two lines, so a spike is never averaged away. Empty when there is no such series."""
    points = report.input.curves.get(LOSS) or report.input.curves.get(VAL_LOSS)
    if points is None:
        return ""
    name = LOSS if LOSS in report.input.curves else VAL_LOSS
    lows, highs, bad = columns(points, min(MERMAID_POINTS, len(points.steps)))
    known = [(lo, hi) for lo, hi in zip(lows, highs, strict=True) if lo == lo]
    if len(known) < 2:
        return ""
    filled: list[tuple[float, float]] = []
    for lo, hi in zip(lows, highs, strict=True):  # a column without a value keeps the last
        filled.append((lo, hi) if lo == lo else filled[-1] if filled else known[0])
    bottom = min(lo for lo, _ in known)
    top = max(hi for _, hi in known)
    first, last = points.steps[0], points.steps[-1]
    nan = sum(bad)
    title = f"{name}, steps {first}-{last}" + (f" ({nan} NaN/Inf not drawn)" if nan else "")
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{escape_quotes(title)}"',
            f'    y-axis "{name}" {_mermaid_number(bottom)} --> {_mermaid_number(top)}',
            "    line [" + ", ".join(_mermaid_number(hi) for _, hi in filled) + "]",
            *(
                ["    line [" + ", ".join(_mermaid_number(lo) for lo, _ in filled) + "]"]
                if any(lo != hi for lo, hi in filled)
                else []
            ),
            "```",
            "",
        ]
    )


def escape_quotes(text: str) -> str:
    """Text inside a mermaid double-quoted string: no quote, no line break."""
    return " ".join(text.replace('"', "'").split())


def curves(reports: ReportSet) -> str:
    """Per input: its verdict and its loss curve."""
    parts = []
    for report in reports.reports:
        found = incidents(report)
        said = incident_verdict(report, found) or verdict(report)
        block = curve(report)
        if block or found:
            parts += [f"#### {escape(input_name(report.input.name))}\n", f"{escape(said)}\n"]
            parts += [block] if block else []
    return "\n".join(parts)


def render(reports: ReportSet) -> str:
    parts = [heading(reports), inputs_table(reports)]
    if chart := curves(reports):
        parts += ["### Curves\n", chart]
    if reports.diagnoses:
        parts += ["### Diagnoses\n", diagnoses_table(reports), "### Remedies\n"]
        parts += remedies_of(reports)
    return "\n".join(parts)
