"""JSON Lines: one strict JSON object per diagnosis, for log shippers and ``jq -c``.

Each line is the ``json`` format's diagnosis object plus ``"input"``, the name of the log
it came from. A run with no diagnosis prints nothing at all: an empty stream is the
JSON Lines way of saying "no records", and ``wc -l`` counts diagnoses.
"""

from __future__ import annotations

from gradlog.formatters.json import diagnosis_object, dumps
from gradlog.model import Diagnosis
from gradlog.report import ReportSet


def render_one(diagnosis: Diagnosis, name: str) -> str:
    """One diagnosis of input ``name`` as a line of JSON, newline included."""
    return dumps({**diagnosis_object(diagnosis), "input": name}) + "\n"


def render(reports: ReportSet) -> str:
    return "".join(
        render_one(diagnosis, report.input.name)
        for report in reports.reports
        for diagnosis in report.diagnoses
    )
