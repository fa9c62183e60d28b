"""SARIF 2.1.0: the static-analysis interchange format GitHub code scanning ingests.

One run; the driver lists every rule that was enabled, and each diagnosis is a result
pointing at the log file and, when known, the line where its episode starts.
"""

from __future__ import annotations

import functools
import json
import os
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from gradlog import __version__
from gradlog.detectors import Rule
from gradlog.formatters.ruleset import SARIF_LEVELS, all_enabled_rules
from gradlog.model import Diagnosis
from gradlog.remedies import general
from gradlog.report import ReportSet

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_URL_LABELS = ("homepage", "repository", "source", "documentation")


@functools.cache
def homepage() -> str | None:
    """The project's URL as its installed package metadata declares it, if it does."""
    try:
        meta = metadata("gradlog")
    except PackageNotFoundError:
        return None
    urls = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip()
    found = [urls[label] for label in _URL_LABELS if urls.get(label)]
    found += meta.get_all("Home-page") or []
    return found[0] if found else None


def artifact_uri(name: str) -> str:
    """A log's path as a SARIF URI: relative with forward slashes, or ``file://``."""
    if os.path.isabs(name):
        return PurePath(name).as_uri()
    return quote(name.replace(os.sep, "/"), safe="/")


def help_texts(rule: Rule) -> dict[str, str]:
    text = [f"{i}. {remedy}" for i, remedy in enumerate(general(rule.remedies), 1)]
    return {
        "text": "Remedies:\n" + "\n".join(text),
        "markdown": "**Remedies**\n\n" + "\n".join(text),
    }


def rule_object(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("_")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.summary} {rule.why}"},
        "help": help_texts(rule),
        "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
    }


def location(name: str, line: int | None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(name)}}
    if line is not None and line >= 1:  # SARIF lines start at 1
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def result_object(diagnosis: Diagnosis, name: str, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": diagnosis.id}
    if diagnosis.id in index:
        result["ruleIndex"] = index[diagnosis.id]
    result["level"] = SARIF_LEVELS[diagnosis.severity]
    result["message"] = {"text": diagnosis.message}
    if name != "-":  # standard input has no location to point at
        result["locations"] = [location(name, diagnosis.line)]
    facts = {
        "confidence": str(diagnosis.confidence),
        "metric": diagnosis.metric,
        "firstStep": diagnosis.first_step,
        "lastStep": diagnosis.last_step,
    }
    result["properties"] = {key: value for key, value in facts.items() if value is not None}
    return result


def document(reports: ReportSet) -> dict[str, Any]:
    """The SARIF log as a dict."""
    rules = all_enabled_rules(reports)
    index = {rule.id: i for i, rule in enumerate(rules)}
    driver: dict[str, Any] = {"name": "gradlog", "version": __version__}
    if homepage():
        driver["informationUri"] = homepage()
    driver["rules"] = [rule_object(rule) for rule in rules]
    results = [
        result_object(d, report.input.name, index)
        for report in reports.reports
        for d in report.diagnoses
    ]
    run = {"tool": {"driver": driver}, "results": results}
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render(reports: ReportSet) -> str:
    return json.dumps(document(reports), allow_nan=False, ensure_ascii=False, indent=2) + "\n"
