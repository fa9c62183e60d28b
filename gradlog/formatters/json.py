"""Strict JSON: schema_version 1, stable keys, non-finite numbers as strings."""

from __future__ import annotations

import json
from typing import Any

from gradlog import __version__
from gradlog.model import Diagnosis, Evidence
from gradlog.report import Report, ReportSet, finite_or_text

SCHEMA_VERSION = 1


def evidence_object(item: Evidence) -> dict[str, Any]:
    return {
        "step": item.step,
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
        "first_step": diagnosis.first_step,
        "last_step": diagnosis.last_step,
        "line": diagnosis.line,
        "count": diagnosis.count,
        "evidence": [evidence_object(item) for item in diagnosis.evidence],
        "remedies": list(diagnosis.remedies),
    }


def report_object(report: Report) -> dict[str, Any]:
    read = report.input
    return {
        "input": {
            "name": read.name,
            "lines": read.lines,
            "records": read.records,
            "dialects": list(read.dialects),
            "metrics": list(read.metrics),
            "first_step": read.first_step,
            "last_step": read.last_step,
            "numbered_steps": read.numbered_steps,
            "unread_numeric_lines": read.unread_numeric,
            "unjudged": [{"id": rule, "min_records": n} for rule, n in read.unjudged],
        },
        "diagnoses": [diagnosis_object(d) for d in report.diagnoses],
        "summary": report.summary,
    }


def document(reports: ReportSet) -> dict[str, Any]:
    """The whole JSON document as a dict."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gradlog", "version": __version__},
        "reports": [report_object(r) for r in reports.reports],
        "summary": {**reports.summary, "exit_code": reports.exit_code()},
    }


def dumps(value: Any) -> str:
    """Serialise strictly: a bare NaN anywhere is a bug, so it raises."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


def render(reports: ReportSet) -> str:
    return json.dumps(document(reports), allow_nan=False, ensure_ascii=False, indent=2) + "\n"
