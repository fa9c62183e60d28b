"""Strict JSON: schema_version 1, stable keys, non-finite numbers as strings."""

from __future__ import annotations

import json
from typing import Any

from gradlog import __version__
from gradlog.escape import json_inert
from gradlog.incidents import Incident, incidents, verdict
from gradlog.model import Diagnosis, Evidence, Step
from gradlog.report import Report, ReportSet, finite_or_text

SCHEMA_VERSION = 1


def step_or_text(step: Step | None) -> Step | str | None:
    """A step for JSON: a step printed as ``nan`` or ``inf`` becomes that string."""
    return None if step is None else finite_or_text(step)


def jsonable(value: Any) -> Any:
    """``value`` with every non-finite float, however deep, as "nan", "inf" or "-inf".

    The safety net under every JSON writer: strict JSON has no NaN, and a value that
    slipped through would otherwise crash the output exactly when a run went bad.
    """
    if isinstance(value, float):
        return finite_or_text(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def evidence_object(item: Evidence) -> dict[str, Any]:
    return {
        "step": step_or_text(item.step),
        "line": item.line,
        "metric": item.metric,
        "value": finite_or_text(item.value),
    }


def diagnosis_object(diagnosis: Diagnosis) -> dict[str, Any]:
    """One diagnosis as a JSON-ready dict (also each line of ``jsonl``)."""
    return {
        "id": diagnosis.id,
        "title": diagnosis.title,
        "severity": str(diagnosis.severity),
        "confidence": str(diagnosis.confidence),
        "message": diagnosis.message,
        "metric": diagnosis.metric,
        "first_step": step_or_text(diagnosis.first_step),
        "last_step": step_or_text(diagnosis.last_step),
        "line": diagnosis.line,
        "count": diagnosis.count,
        "evidence": [evidence_object(item) for item in diagnosis.evidence],
        "remedies": list(diagnosis.remedies),
    }


def report_object(report: Report) -> dict[str, Any]:
    read = report.input
    found = incidents(report)
    return {
        "input": {
            "name": read.name,
            "lines": read.lines,
            "records": read.records,
            "dialects": list(read.dialects),
            "metrics": list(read.metrics),
            "first_step": step_or_text(read.first_step),
            "last_step": step_or_text(read.last_step),
            "numbered_steps": read.numbered_steps,
            "step_name": read.step_name,
            # Steps counted within the epoch: [batches per epoch, first epoch, first batch].
            "batches": list(read.batches) if read.batches is not None else None,
            # Where the log started a run again: each new run's first line (each run is
            # judged as a log of its own).
            "restarts": list(read.restarts),
            "unread_numeric_lines": read.unread_numeric,
            "unjudged": [{"id": rule, "min_records": n} for rule, n in read.unjudged],
            # Caps reached while reading (names as gradlog.report.LIMITS), with counts.
            "limits": dict(read.limits),
        },
        # A signal cut the input short: the diagnoses cover only what was read before it.
        "incomplete": read.incomplete,
        "interrupted_by": read.interrupted_by,
        "diagnoses": [diagnosis_object(d) for d in report.diagnoses],
        # The diagnoses that tell one story, grouped (gradlog.incidents), each naming its
        # diagnoses by their index in "diagnoses"; the verdict is the worst one's line.
        "verdict": verdict(report, found) or None,
        "incidents": [incident_object(i, report) for i in found],
        "summary": report.summary,
    }


def incident_object(incident: Incident, report: Report) -> dict[str, Any]:
    index = {id(d): n for n, d in enumerate(report.diagnoses)}
    return {
        "number": incident.number,
        "severity": str(incident.severity),
        "first_step": step_or_text(incident.first_step),
        "last_step": step_or_text(incident.last_step),
        "line": incident.line,
        "outcome": incident.outcome,
        "story": incident.story,
        "ids": list(incident.ids),
        "diagnoses": [index[id(d)] for d in incident.diagnoses],
    }


def document(reports: ReportSet) -> dict[str, Any]:
    """The whole JSON document as a dict."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gradlog", "version": __version__},
        "incomplete": reports.incomplete,
        "reports": [report_object(r) for r in reports.reports],
        "summary": {**reports.summary, "exit_code": reports.exit_code()},
    }


def dumps(value: Any, indent: int | None = None) -> str:
    """Serialise strictly: non-finite floats become strings, anything else invalid raises."""
    text = json.dumps(jsonable(value), allow_nan=False, ensure_ascii=False, indent=indent)
    return json_inert(text)  # the same data, with no workflow command or control character


def render(reports: ReportSet) -> str:
    return dumps(document(reports), indent=2) + "\n"
