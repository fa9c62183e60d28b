"""Every detector documented, selectable and sampled; every formatter renders."""

from __future__ import annotations

import json
import re

import pytest

from gradlog.config import Config, Thresholds
from gradlog.detectors import DETECTORS, RULES
from gradlog.engine import analyze
from gradlog.formatters import FORMATTERS
from gradlog.report import ReportSet
from gradlog.sources import read_file
from tests.helpers import SAMPLES

HEADINGS = ("## What it detects", "## Why it matters", "## Example", "## Thresholds")


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.rule.id)
def test_rule_page_and_identity(detector: type) -> None:
    doc = detector.__doc__ or ""
    for heading in HEADINGS:
        assert heading in doc, f"{detector.rule.id} lacks {heading}"
    rule = detector.rule
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", rule.id)
    assert rule.remedies and rule.why and rule.summary and rule.title


def test_every_threshold_group_belongs_to_a_rule() -> None:
    assert set(Thresholds._fields) <= set(RULES)


@pytest.mark.parametrize("rule_id", list(RULES))
def test_select_and_ignore(rule_id: str) -> None:
    log = list(read_file(str(SAMPLES / "exploding.log")))
    only = analyze(log, config=Config(select=(rule_id,)))
    assert {d.id for d in only.diagnoses} <= {rule_id}
    without = analyze(log, config=Config(ignore=(rule_id,)))
    assert rule_id not in {d.id for d in without.diagnoses}


def test_every_core_rule_appears_in_some_sample() -> None:
    expected: set[str] = set()
    for path in SAMPLES.glob("*.expected.json"):
        expected |= set(json.loads(path.read_text())["expected"])
    assert set(RULES) - {"no_metrics"} <= expected


@pytest.mark.parametrize("name", sorted(FORMATTERS))
def test_every_formatter_renders(name: str) -> None:
    report = analyze(read_file(str(SAMPLES / "exploding.log")), "exploding.log")
    text = FORMATTERS[name](ReportSet((report,)))
    assert "loss_spike" in text
