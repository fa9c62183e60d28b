"""SARIF 2.1.0: the static-analysis interchange format GitHub code scanning ingests.

One run; the driver lists every rule that was enabled, and each diagnosis is a result
pointing at the log file and, when known, the line where its episode starts.
"""

from __future__ import annotations

import functools
import os
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from gradlog import __version__
from gradlog.detectors import Rule
from gradlog.escape import json_inert, visible
from gradlog.formatters.json import dumps, step_or_text
from gradlog.formatters.ruleset import SARIF_LEVELS, all_enabled_rules
from gradlog.model import Diagnosis
from gradlog.remedies import general
from gradlog.report import ReportSet, signal_name

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
    # Bytes, so a name that is not UTF-8 keeps its bytes (percent-encoded) instead of failing.
    return quote(os.fsencode(name.replace(os.sep, "/")), safe="/")


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


def message_text(text: str) -> str:
    """Log-derived text for a message: hidden characters as escapes; JSON keeps breaks."""
    return visible(text, keep="\r\n")


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
    result["message"] = {"text": message_text(diagnosis.message)}
    if name != "-":  # standard input has no location to point at
        result["locations"] = [location(name, diagnosis.line)]
    facts = {
        "confidence": str(diagnosis.confidence),
        "metric": None if diagnosis.metric is None else visible(diagnosis.metric),
        "firstStep": step_or_text(diagnosis.first_step),
        "lastStep": step_or_text(diagnosis.last_step),
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
    run: dict[str, Any] = {"tool": {"driver": driver}, "results": results}
    if reports.incomplete:
        run["invocations"] = [interrupted_invocation(reports)]
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def interrupted_invocation(reports: ReportSet) -> dict[str, Any]:
    """A run a signal cut short: SARIF's way to say the results do not cover it all."""
    cut = [r.input for r in reports.reports if r.input.interrupted is not None]
    signum = cut[0].interrupted or 0
    names = ", ".join(visible(read.name) for read in cut)
    text = f"{names}: interrupted by {signal_name(signum)}; results cover only what was read"
    return {
        "executionSuccessful": False,
        "exitCode": reports.exit_code(),
        "exitSignalName": signal_name(signum),
        "exitSignalNumber": signum,
        "toolExecutionNotifications": [{"level": "warning", "message": {"text": text}}],
    }


def render(reports: ReportSet) -> str:
    return json_inert(dumps(document(reports), indent=2)) + "\n"
