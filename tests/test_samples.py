"""Golden cases: samples/<case>.log against samples/<case>.expected.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradlog.config import Config
from gradlog.engine import analyze
from gradlog.model import Severity
from gradlog.sources import read_file
from tests.helpers import SAMPLES, load_expected

CASES = sorted(SAMPLES.glob("*.expected.json"))


def _log(expected: Path) -> Path:
    return expected.with_name(expected.name.replace(".expected.json", ".log"))


@pytest.mark.parametrize("expected_path", CASES, ids=lambda p: p.name.split(".")[0])
def test_sample(expected_path: Path) -> None:
    expected = load_expected(expected_path)
    config = Config(select=tuple(expected.get("select", ())))  # type: ignore[arg-type]
    report = analyze(read_file(str(_log(expected_path))), expected_path.name, config)
    allowed = {
        item["id"]: Severity.parse(item["severity"])  # type: ignore[index]
        for item in expected.get("allowed", [])  # type: ignore[attr-defined]
    }
    wanted = set(expected["expected"]) - {"healthy"}  # type: ignore[arg-type]
    found = {d.id for d in report.diagnoses if d.severity >= Severity.WARNING}
    extra = {
        d.id
        for d in report.diagnoses
        if d.severity >= Severity.WARNING
        and d.id not in wanted
        and not (d.id in allowed and d.severity <= allowed[d.id])
    }
    assert wanted <= found, f"missed {wanted - found}"
    assert not extra, f"unexpected {extra}"
    if expected.get("first_bad_step") is not None:
        first = min(d.first_step for d in report.diagnoses if d.id in wanted)  # type: ignore[type-var]
        assert first == expected["first_bad_step"]


def test_every_sample_log_has_expectations() -> None:
    logs = {p.name.removesuffix(".log") for p in SAMPLES.glob("*.log")}
    labelled = {p.name.removesuffix(".expected.json") for p in CASES}
    assert logs == labelled
