"""Format fixtures: tests/fixtures/formats/<case>.log against <case>.expected.json.

Each fixture is a small invented log in one framework's printing (see ../shared/FORMATS.md),
written by tests/fixtures/formats/make_fixtures.py. Its expectations say what reading that
format correctly means: the dialect recognised, the records built (count, values per metric,
values at chosen steps) and, where the fixture is about one, the diagnoses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pytest

from gradlog.detectors import RULES
from gradlog.engine import Engine
from gradlog.model import Diagnosis, Record, Severity, Step
from gradlog.report import Report
from gradlog.sources import read_file
from tests.helpers import ROOT, load_expected

FIXTURES = ROOT / "tests" / "fixtures" / "formats"
CASES = sorted(FIXTURES.glob("*.expected.json"))

DIALECTS = (
    "hf_trainer",
    "catboost",
    "darknet",
    "keras",
    "lightning",
    "nanogpt",
    "llmc",
    "megatron",
    "deepspeed",
    "fairseq",
    "timm",
    "mmengine",
    "torchtitan",
    "litgpt",
    "detectron2",
    "ultralytics",
    "paddle",
    "opennmt",
    "espnet",
    "spacy",
    "fastai",
    "tensorflow",
    "json_lines",
    "trainer_state",
    "csv",
    "epoch_block",
    "key_value",
)
CANONICAL = ("loss", "val_loss", "acc", "val_acc", "grad_norm", "param_norm", "lr", "loss_scale")
KEYS = {"dialect", "records", "series", "checks", "ids", "absent_ids", "notes"}
NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
REL_TOL = 1e-6

Seen = list[tuple[Step, dict[str, float]]]


class RecordingEngine(Engine):
    """The engine, keeping every record it hands to the detectors."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.seen: Seen = []

    def _observe(self, records: Iterable[Record]) -> list[Diagnosis]:
        records = list(records)
        self.seen.extend((record.step, dict(record.metrics)) for record in records)
        return super()._observe(records)


def _log(expected: Path) -> Path:
    return expected.with_name(expected.name.replace(".expected.json", ".log"))


def _case(path: Path) -> str:
    return path.name.removesuffix(".expected.json")


def _run(log: Path) -> tuple[Report, Seen]:
    engine = RecordingEngine(log.name)
    for line in read_file(str(log)):
        engine.feed(line)
    return engine.finish(), engine.seen


def _strings(expected: dict[str, object], key: str) -> set[str]:
    value = expected.get(key, [])
    assert isinstance(value, list), (key, value)
    return {str(item) for item in value}


def _series(expected: dict[str, object]) -> dict[str, int]:
    value = expected.get("series", {})
    assert isinstance(value, dict), value
    return {str(name): int(count) for name, count in value.items()}


def _checks(expected: dict[str, object]) -> list[tuple[object, dict[str, object]]]:
    value = expected.get("checks", [])
    assert isinstance(value, list), value
    checks = []
    for check in value:
        assert isinstance(check, dict) and set(check) == {"step", "metrics"}, check
        assert isinstance(check["metrics"], dict), check
        checks.append((check["step"], dict(check["metrics"])))
    return checks


def _expected_value(value: object) -> float:
    if isinstance(value, str):
        return NONFINITE[value]
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return float(value)


def _same(actual: float, expected: float) -> bool:
    if math.isnan(expected):
        return math.isnan(actual)
    if math.isinf(expected):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=1e-12)


def _problems(expected: dict[str, object], report: Report, seen: Seen) -> list[str]:
    """Every way the report differs from the expectations, as readable lines."""
    problems: list[str] = []
    dialect = expected["dialect"]
    if dialect not in report.input.dialects:
        problems.append(f"dialect {dialect!r} not in {report.input.dialects}")
    if "records" in expected and len(seen) != expected["records"]:
        problems.append(f"records: {len(seen)}, expected {expected['records']}")
    for name, count in _series(expected).items():
        found = sum(1 for _, metrics in seen if name in metrics)
        if found != count:
            problems.append(f"series {name}: {found} values, expected {count}")
    for step, wanted in _checks(expected):
        record = next((metrics for s, metrics in seen if s == step), None)
        if record is None:
            problems.append(f"step {step}: no record")
            continue
        for name, raw in wanted.items():
            value = _expected_value(raw)
            if name not in record:
                problems.append(f"step {step}: no {name} (expected {raw})")
            elif not _same(record[name], value):
                problems.append(f"step {step}: {name} = {record[name]!r}, expected {raw}")
    found_ids = {d.id for d in report.diagnoses if d.severity >= Severity.WARNING}
    if "ids" in expected and found_ids != _strings(expected, "ids"):
        problems.append(f"diagnoses {sorted(found_ids)}, expected {expected['ids']}")
    absent = found_ids & _strings(expected, "absent_ids")
    if absent:
        problems.append(f"diagnoses that must not appear: {sorted(absent)}")
    return problems


@pytest.mark.parametrize("expected_path", CASES, ids=_case)
def test_format(expected_path: Path) -> None:
    expected = load_expected(expected_path)
    report, seen = _run(_log(expected_path))
    problems = _problems(expected, report, seen)
    assert not problems, f"{_case(expected_path)}: {expected['notes']}\n" + "\n".join(problems)


def test_every_fixture_log_has_expectations() -> None:
    logs = {p.name.removesuffix(".log") for p in FIXTURES.glob("*.log")}
    assert logs == {_case(p) for p in CASES}


def test_every_dialect_has_a_fixture() -> None:
    covered = {load_expected(path)["dialect"] for path in CASES}
    assert set(DIALECTS) <= covered, f"no fixture for {sorted(set(DIALECTS) - covered)}"


@pytest.mark.parametrize("expected_path", CASES, ids=_case)
def test_expectations_are_well_formed(expected_path: Path) -> None:
    expected = load_expected(expected_path)
    assert set(expected) <= KEYS, set(expected) - KEYS
    assert expected["dialect"] in DIALECTS
    assert isinstance(expected["notes"], str) and expected["notes"]
    series = _series(expected)
    assert set(series) <= set(CANONICAL), set(series) - set(CANONICAL)
    for _step, wanted in _checks(expected):
        for raw in wanted.values():
            _expected_value(raw)
    for key in ("ids", "absent_ids"):
        assert _strings(expected, key) <= set(RULES), key
    assert not _strings(expected, "ids") & _strings(expected, "absent_ids")


@pytest.mark.parametrize(
    ("case", "junk"),
    [
        ("fairseq_simple", {"score", "took"}),  # ``Saved checkpoint .. score 5.1 .. took``
        ("catboost", {"best", "total", "remaining", "best_test", "best_iteration"}),
        ("lightgbm", {"src_io_dataset_loader.cpp", "s_binary_logloss"}),
        ("tensorflow_estimator", {"final_step"}),
        ("darknet", {"avg_iou", "class", "obj", "no_obj", "count", "images", "hours_left"}),
    ],
)
def test_notes_and_times_are_no_series(case: str, junk: set[str]) -> None:
    report, _ = _run(FIXTURES / f"{case}.log")
    assert not junk & set(report.input.metrics), report.input.metrics
