"""JUnit XML: one test suite per log, one test case per enabled detector.

CI systems that read JUnit reports (GitLab, Jenkins, Azure Pipelines, CircleCI) show each
detector as a check that passed or failed on each log. A test case fails when its
detector reported something at or above the run's ``--fail-on`` level; diagnoses below
it leave the case passing and are kept in its ``<system-out>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gradlog.detectors import Rule
from gradlog.escape import xml_inert, xml_text
from gradlog.formatters.ruleset import enabled_rules
from gradlog.formatters.terminal import describe_input, number, where
from gradlog.model import Diagnosis, Severity
from gradlog.report import Report, ReportSet


def describe(diagnosis: Diagnosis) -> str:
    """A diagnosis as plain text: severity, place, message and evidence."""
    lines = [
        f"{str(diagnosis.severity).upper()} {diagnosis.id} at "
        f"{where(diagnosis.first_step, diagnosis.line)}: {diagnosis.message}"
    ]
    lines += [
        f"  evidence: step {e.step} (line {e.line}) {e.metric} = {number(e.value)}"
        for e in diagnosis.evidence
    ]
    return "\n".join(lines)


def failure_text(failing: list[Diagnosis]) -> str:
    """Each failing diagnosis with its remedies (filled for that episode of the run)."""
    parts = []
    for diagnosis in failing:
        remedies = [f"  {i}. {remedy}" for i, remedy in enumerate(diagnosis.remedies, 1)]
        parts.append("\n".join([describe(diagnosis), "Remedies:", *remedies]))
    return "\n\n".join(parts)


def testcase(report: Report, rule: Rule, fail_on: Severity) -> ET.Element:
    case = ET.Element("testcase", classname=f"gradlog.{report.input.name}", name=rule.id)
    found = [d for d in report.diagnoses if d.id == rule.id]
    failing = [d for d in found if d.severity >= fail_on]
    if failing:
        worst = max(d.severity for d in failing)
        message = failing[0].message
        if len(failing) > 1:
            message += f" (and {len(failing) - 1} more)"
        failure = ET.SubElement(case, "failure", message=message, type=str(worst))
        failure.text = failure_text(failing)
    passing = [d for d in found if d.severity < fail_on]
    if passing:
        ET.SubElement(case, "system-out").text = "\n\n".join(describe(d) for d in passing)
    return case


def testsuite(report: Report, fail_on: Severity) -> ET.Element:
    cases = [testcase(report, rule, fail_on) for rule in enabled_rules(report)]
    failures = sum(1 for case in cases if case.find("failure") is not None)
    suite = ET.Element(
        "testsuite",
        name=report.input.name,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    suite.extend(cases)
    # What was read, so a suite of passing cases is not mistaken for a log not understood.
    ET.SubElement(suite, "system-out").text = describe_input(report.input)
    return suite


def render(reports: ReportSet) -> str:
    suites = [testsuite(report, reports.fail_on) for report in reports.reports]
    root = ET.Element(
        "testsuites",
        name="gradlog",
        tests=str(sum(int(s.get("tests", 0)) for s in suites)),
        failures=str(sum(int(s.get("failures", 0)) for s in suites)),
        errors="0",
    )
    root.extend(suites)
    for element in root.iter():
        element.text = xml_text(element.text) if element.text else element.text
        for key, value in element.attrib.items():
            element.set(key, xml_text(value))
    ET.indent(root)
    # Every text and attribute went through xml_text: XML-safe, hidden characters shown.
    document = ET.tostring(root, "unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml_inert(document) + "\n"
