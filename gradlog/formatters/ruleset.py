"""Which rules a report covers, for the formats that list passing checks (junit, sarif)."""

from __future__ import annotations

from gradlog.detectors import RULES, Rule
from gradlog.model import Severity
from gradlog.report import Report, ReportSet

# SARIF's result levels; info has no SARIF name of its own and is a "note".
SARIF_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def enabled_rules(report: Report) -> tuple[Rule, ...]:
    """The rules that ran on ``report``'s input, in report order.

    A report that does not record them (one built by hand) is taken to have run the rules
    enabled by default; a rule that reported something is included either way.
    """
    if report.rules is None:
        ran = {rule_id for rule_id, rule in RULES.items() if rule.default_enabled}
    else:
        ran = set(report.rules)
    ran |= {d.id for d in report.diagnoses}
    return tuple(rule for rule_id, rule in RULES.items() if rule_id in ran)


def all_enabled_rules(reports: ReportSet) -> tuple[Rule, ...]:
    """The rules that ran on any input of ``reports``, in report order."""
    ran = {rule.id for report in reports.reports for rule in enabled_rules(report)}
    return tuple(rule for rule_id, rule in RULES.items() if rule_id in ran)
