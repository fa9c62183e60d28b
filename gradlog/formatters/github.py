"""GitHub Actions workflow commands: one annotation per diagnosis.

``::error file=logs/run.log,line=8,title=gradlog nan::loss became NaN at step 9``. The
runner turns each line into an annotation on the run (and on the pull request when the
log is in the repository). Severity maps to the command: error -> ``error``, warning ->
``warning``, info -> ``notice``. A clean run prints nothing.

Every line is one of gradlog's commands: the message, the title and the file name are
escaped as GitHub documents (``%``, CR and LF; ``:`` and ``,`` in properties), so text
quoted from a log can never end the command or start another (see ``gradlog.escape``).
"""

from __future__ import annotations

import os

from gradlog.escape import workflow_data as escape_data
from gradlog.escape import workflow_property as escape_property
from gradlog.model import Diagnosis, Severity
from gradlog.report import ReportSet, first_and_last

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render_one(diagnosis: Diagnosis, name: str) -> str:
    """The workflow command for one diagnosis of input ``name``, newline included."""
    title = f"gradlog {diagnosis.id}"
    return _command(COMMANDS[diagnosis.severity], name, diagnosis.line, title, diagnosis.message)


def _command(kind: str, name: str, line: int | None, title: str, message: str) -> str:
    """A workflow command on input ``name`` (at ``line``, if any), newline included."""
    properties: list[tuple[str, str]] = []
    if name != "-":  # standard input has no file to point at
        properties.append(("file", name.replace(os.sep, "/")))
    if line is not None:
        properties.append(("line", str(line)))
    properties.append(("title", title))
    fields = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{kind} {fields}::{escape_data(message)}\n"


# Annotations per input: the runner shows 10 errors and 10 warnings of a step, 50 of a
# job; a rule told a thousand times would only flood the log.
ANNOTATIONS = 50


def render(reports: ReportSet) -> str:
    lines = []
    for report in reports.reports:
        listed, left = first_and_last(report.diagnoses, ANNOTATIONS)
        lines += [render_one(diagnosis, report.input.name) for diagnosis in listed]
        if left:
            said = f"{len(left):,} more diagnoses of this input (every one in --format json)"
            lines.append(_command("notice", report.input.name, None, "gradlog", said))
    return "".join(lines)
