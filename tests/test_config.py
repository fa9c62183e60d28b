"""Configuration files, their precedence and checks; exit codes over files and globs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradlog.config import Config, SpikeThresholds, Thresholds
from gradlog.configfile import ConfigError, ConfigFile, apply, checked, dumps, find
from gradlog.detectors import RULES
from gradlog.model import Severity
from tests.helpers import ROOT, SAMPLES
from tests.test_outputs import gradlog, strict_json

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

DATA = ROOT / "tests" / "data"


def ids(result_stdout: str) -> set[str]:
    """Diagnosis ids of a --format json run."""
    doc = strict_json(result_stdout)
    return {d["id"] for report in doc["reports"] for d in report["diagnoses"]}


def copy(tmp_path: Path, *names: str) -> None:
    for name in names:
        source = SAMPLES / name if (SAMPLES / name).exists() else DATA / name
        shutil.copy(source, tmp_path / name)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    stderr = result.stderr
    assert result.returncode == 2, stderr
    assert stderr.startswith("gradlog: error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in stderr


# --- precedence and discovery --------------------------------------------------------


def test_file_sets_fail_on_and_the_command_line_overrides_it(tmp_path: Path) -> None:
    copy(tmp_path, "instability.log")
    assert gradlog("diagnose", "instability.log", cwd=tmp_path).returncode == 0
    (tmp_path / "gradlog.toml").write_text('fail-on = "warning"\n')
    assert gradlog("diagnose", "instability.log", cwd=tmp_path).returncode == 1
    overridden = gradlog("diagnose", "instability.log", "--fail-on", "error", cwd=tmp_path)
    assert overridden.returncode == 0


def test_select_and_ignore_from_the_file_and_the_command_line(tmp_path: Path) -> None:
    copy(tmp_path, "exploding.log")
    (tmp_path / "gradlog.toml").write_text('ignore = ["nan", "loss_spike"]\n')
    result = gradlog("diagnose", "--format", "json", "exploding.log", cwd=tmp_path)
    assert ids(result.stdout) == {"exploding_gradient"}
    result = gradlog(
        "diagnose", "--format", "json", "exploding.log", "--ignore", "nan", cwd=tmp_path
    )
    assert ids(result.stdout) == {"loss_spike", "exploding_gradient"}
    (tmp_path / "gradlog.toml").write_text('select = ["nan"]\n')
    result = gradlog("diagnose", "--format", "json", "exploding.log", cwd=tmp_path)
    assert ids(result.stdout) == {"nan"}


def test_gradlog_toml_wins_over_pyproject_in_one_directory(tmp_path: Path) -> None:
    copy(tmp_path, "instability.log")
    (tmp_path / "pyproject.toml").write_text('[tool.gradlog]\nfail-on = "warning"\n')
    assert gradlog("diagnose", "instability.log", cwd=tmp_path).returncode == 1
    (tmp_path / "gradlog.toml").write_text('fail-on = "error"\n')
    assert gradlog("diagnose", "instability.log", cwd=tmp_path).returncode == 0
    shown = gradlog("config", cwd=tmp_path).stdout
    assert shown.startswith("# gradlog configuration from gradlog.toml\n")


def test_discovery_walks_up_and_skips_a_pyproject_without_gradlog(tmp_path: Path) -> None:
    (tmp_path / "gradlog.toml").write_text('fail-on = "info"\n')
    project = tmp_path / "project" / "runs"
    project.mkdir(parents=True)
    (tmp_path / "project" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    found = find(project)
    assert found is not None and found.path == tmp_path / "gradlog.toml"
    shown = gradlog("config", cwd=project).stdout
    assert shown.startswith("# gradlog configuration from ../../gradlog.toml\n")
    assert 'fail-on = "info"' in shown


def test_explicit_config_path_replaces_discovery(tmp_path: Path) -> None:
    copy(tmp_path, "instability.log")
    (tmp_path / "gradlog.toml").write_text('fail-on = "error"\n')
    (tmp_path / "ci.toml").write_text('fail-on = "warning"\n')
    result = gradlog("diagnose", "--config", "ci.toml", "instability.log", cwd=tmp_path)
    assert result.returncode == 1
    missing = gradlog("diagnose", "--config", "nope.toml", "instability.log", cwd=tmp_path)
    assert_one_line_error(missing, "nope.toml: no such file")


def test_threshold_override_changes_what_fires(tmp_path: Path) -> None:
    copy(tmp_path, "mild_spike.log")
    args = ("diagnose", "--format", "json", "mild_spike.log")
    assert gradlog(*args, "--fail-on", "info", cwd=tmp_path).returncode == 0
    (tmp_path / "pyproject.toml").write_text(
        "[tool.gradlog.thresholds.loss_spike]\nfactor = 3\nsevere_factor = 3.5\n"
    )
    result = gradlog(*args, cwd=tmp_path)
    assert result.returncode == 1
    (found,) = strict_json(result.stdout)["reports"][0]["diagnoses"]
    assert (found["id"], found["severity"], found["first_step"]) == ("loss_spike", "error", 140)


@pytest.mark.parametrize("printed", ['"fitness"', '["fitness", "fit"]'])
def test_metric_mapping_from_the_file(tmp_path: Path, printed: str) -> None:
    copy(tmp_path, "custom_names.log")
    before = gradlog("diagnose", "--format", "json", "custom_names.log", cwd=tmp_path)
    assert ids(before.stdout) == {"no_metrics"}
    (tmp_path / "gradlog.toml").write_text(f"[metrics]\nloss = {printed}\n")
    after = gradlog("diagnose", "--format", "json", "custom_names.log", cwd=tmp_path)
    assert ids(after.stdout) == {"nan"}


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("fail-on = 3\n", "fail-on: expected a string, got an integer"),
        ('fail-on = "loud"\n', "fail-on: unknown severity 'loud'"),
        ('colour = "red"\n', "colour: unknown key"),
        ('select = ["nan", "nope"]\n', "select: unknown rule id 'nope'"),
        ('ignore = "nan"\n', "ignore: expected an array of rule ids, got a string"),
        ('fail-on = "error"\nfail_on = "error"\n', "fail_on: given twice"),
        ("[metrics]\nlos = 'x'\n", "metrics.los: not a canonical metric name"),
        ("[metrics]\nloss = 3\n", "metrics.loss: expected a printed metric name"),
        ("[thresholds.nope]\nx = 1\n", "thresholds.nope: unknown rule id"),
        ("[thresholds.no_metrics]\nx = 1\n", "thresholds.no_metrics: rule no_metrics has no"),
        ("[thresholds.loss_spike]\nfactr = 2\n", "thresholds.loss_spike.factr: unknown threshold"),
        ("[thresholds.loss_spike]\nwindow = 2.5\n", "loss_spike.window: expected an integer"),
        ("[thresholds.loss_spike]\nfactor = '2'\n", "loss_spike.factor: expected a number"),
        ("[thresholds.loss_spike]\nfactor = true\n", "factor: expected a number, got a boolean"),
        ("[thresholds.loss_spike]\nfactor = -1\n", "factor: expected a number >= 1"),
        ("[thresholds.loss_spike]\nfactor = nan\n", "factor: expected a number >= 1"),
        ("[thresholds.chance_plateau]\nclasses = 10\n", "classes: expected an array"),
        ("[thresholds.chance_plateau]\nclasses = [2, 'x']\n", "classes[1]: expected an integer"),
        ("thresholds = 1\n", "thresholds: expected a table"),
        ("select = [\n", "invalid TOML"),
    ],
)
def test_bad_configuration_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, fragment: str
) -> None:
    copy(tmp_path, "healthy.log")
    (tmp_path / "gradlog.toml").write_text(text)
    result = gradlog("diagnose", "healthy.log", cwd=tmp_path)
    assert_one_line_error(result, "gradlog.toml: ", fragment)


def test_errors_in_pyproject_name_the_full_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.gradlog.thresholds.nan]\nmax-skip = 1\n")
    result = gradlog("config", cwd=tmp_path)
    assert_one_line_error(result, "pyproject.toml: tool.gradlog.thresholds.nan.max-skip: ")
    (tmp_path / "pyproject.toml").write_text("[tool]\ngradlog = 1\n")
    assert_one_line_error(gradlog("config", cwd=tmp_path), "tool.gradlog: expected a table")


# --- the library side -------------------------------------------------------------------


def test_apply_reads_every_kind_of_value() -> None:
    table = {
        "fail-on": "info",
        "select": ["nan", "loss_spike"],
        "ignore": ["nan"],
        "metrics": {"loss": ["objective"], "grad-norm": "gn"},
        "thresholds": {"loss-spike": {"severe-factor": 50, "window": 4}},
    }
    config = apply(ConfigFile(Path("gradlog.toml"), table, ""))
    assert config.fail_on is Severity.INFO
    assert (config.select, config.ignore) == (("nan", "loss_spike"), ("nan",))
    assert config.metric_names == {"objective": "loss", "gn": "grad_norm"}
    assert config.thresholds.loss_spike == SpikeThresholds(severe_factor=50.0, window=4)
    assert isinstance(config.thresholds.loss_spike.severe_factor, float)


def test_inf_is_a_valid_threshold() -> None:
    table = {"thresholds": {"loss_spike": {"severe_factor": float("inf")}}}
    config = apply(ConfigFile(Path("gradlog.toml"), table, ""))
    assert config.thresholds.loss_spike.severe_factor == float("inf")
    with pytest.raises(ConfigError, match=r"nan\.max_skipped_steps: expected an integer"):
        table = {"thresholds": {"nan": {"max_skipped_steps": 1.0}}}
        apply(ConfigFile(Path("g.toml"), table, ""))


def test_values_are_checked_against_each_field_type() -> None:
    file = ConfigFile(Path("gradlog.toml"), {}, "")
    assert checked(file, "k", [2, 3], tuple[int, ...]) == (2, 3)
    assert checked(file, "k", 2, float) == 2.0 and checked(file, "k", 2, int) == 2
    assert checked(file, "k", True, bool) is True and checked(file, "k", "a", str) == "a"
    for value, hint, problem in [
        (1, bool, "expected a boolean, got an integer"),
        (True, str, "expected a string, got a boolean"),
        (True, int, "expected an integer, got a boolean"),
        ([1.5], tuple[int, ...], r"k\[0\]: expected an integer, got a float"),
    ]:
        with pytest.raises(ConfigError, match=problem):
            checked(file, "k", value, hint)


def test_printed_configuration_round_trips() -> None:
    config = Config(
        fail_on=Severity.WARNING,
        ignore=("oscillation",),
        metric_names={"objective": "loss", "obj": "loss", "gn": "grad_norm"},
    )
    text = dumps(config)
    table = tomllib.loads(text)["tool"]["gradlog"]
    assert apply(ConfigFile(Path("pyproject.toml"), table, "tool.gradlog.")) == config


# --- commands: config, rules, explain ---------------------------------------------------


def test_config_command_prints_every_threshold_and_its_source(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gradlog]\nfail-on = "warning"\n[tool.gradlog.metrics]\nloss = "objective"\n'
        "[tool.gradlog.thresholds.loss_spike]\nfactor = 5\n"
    )
    result = gradlog("config", "--ignore", "nan", cwd=tmp_path)
    assert result.returncode == 0
    first, text = result.stdout.split("\n", 1)
    assert first == "# gradlog configuration from pyproject.toml with command-line options on top"
    table = tomllib.loads(text)["tool"]["gradlog"]
    assert table["fail-on"] == "warning" and table["ignore"] == ["nan"]
    assert table["metrics"] == {"loss": ["objective"]}
    assert set(table["thresholds"]) == set(Thresholds._fields)
    assert table["thresholds"]["loss_spike"]["factor"] == 5.0
    assert table["thresholds"]["loss_spike"]["severe-factor"] == 100.0


def test_config_command_without_a_file_says_so(tmp_path: Path) -> None:
    defaults = gradlog("config", cwd=tmp_path).stdout.split("\n", 1)[0]
    assert defaults == (
        "# gradlog configuration from the built-in defaults"
        " (no gradlog.toml or [tool.gradlog] found)"
    )


def test_rules_lists_every_detector() -> None:
    result = gradlog("rules")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "severity", "default", "summary"]
    rows = [line.split(maxsplit=3) for line in lines[1:]]
    assert [row[0] for row in rows] == list(RULES)
    for rule_id, severity, default, summary in rows:
        rule = RULES[rule_id]
        assert (severity, summary) == (str(rule.severity), rule.summary)
        assert default == ("on" if rule.default_enabled else "off")


def test_explain_prints_the_rule_page_with_current_thresholds(tmp_path: Path) -> None:
    (tmp_path / "gradlog.toml").write_text("[thresholds.loss_spike]\nfactor = 7\n")
    result = gradlog("explain", "loss_spike", cwd=tmp_path)
    assert result.returncode == 0
    text = result.stdout
    headings = ["# loss_spike: Loss spike", "## What it detects", "## Why it matters",
                "## Example", "## Thresholds", "## Remedies"]  # fmt: skip
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert "Current values, from gradlog.toml" in text and "factor = 7.0" in text
    assert "1. Clip gradients by norm" in text
    nothing = gradlog("explain", "no_metrics", cwd=tmp_path).stdout
    assert "This rule has no thresholds to set." in nothing


def test_explain_unknown_rule_lists_known_ids() -> None:
    assert_one_line_error(gradlog("explain", "spike"), "unknown rule id 'spike'", "loss_spike")


# --- exit codes over several files and globs --------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("healthy.log",), 0),
        (("exploding.log",), 1),
        (("missing.log",), 2),
        (("exploding.log", "--exit-zero"), 0),
        (("missing.log", "--exit-zero"), 2),
        (("instability.log",), 0),
        (("instability.log", "--fail-on", "warning"), 1),
        (("healthy.log", "instability.log", "--fail-on", "warning"), 1),
        (("healthy.log", "exploding.log"), 1),
        (("healthy.log", "missing.log"), 2),
        (("*.log",), 1),
        (("h*.log",), 0),
        (("logs/**/*.log",), 1),
        (("logs/**/h*.log", "--fail-on", "info"), 0),
        (("nothing/*.log",), 2),
        (("logs",), 1),  # a folder: every log under it
        (("log[s]",), 1),  # a pattern that matches only folders: their logs
    ],
)
def test_exit_code_matrix(tmp_path: Path, args: tuple[str, ...], code: int) -> None:
    copy(tmp_path, "healthy.log", "exploding.log", "instability.log")
    nested = tmp_path / "logs" / "deep"
    nested.mkdir(parents=True)
    shutil.copy(SAMPLES / "healthy.log", nested / "healthy.log")
    shutil.copy(SAMPLES / "exploding.log", tmp_path / "logs" / "exploding.log")
    result = gradlog("diagnose", *args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    if code == 2:
        assert_one_line_error(result)


def test_globs_are_expanded_sorted_and_once(tmp_path: Path) -> None:
    copy(tmp_path, "healthy.log", "exploding.log", "instability.log")
    result = gradlog("diagnose", "--format", "json", "*.log", "exploding.log", cwd=tmp_path)
    names = [r["input"]["name"] for r in strict_json(result.stdout)["reports"]]
    assert names == ["exploding.log", "healthy.log", "instability.log"]
    unmatched = gradlog("diagnose", "healthy.log", "runs/*.log", cwd=tmp_path)
    assert_one_line_error(unmatched, "runs/*.log: no file matches this pattern")


def test_a_file_named_like_a_pattern_is_read_as_it_is(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "exploding.log", tmp_path / "run[1].log")
    result = gradlog("diagnose", "--format", "json", "run[1].log", cwd=tmp_path)
    assert [r["input"]["name"] for r in strict_json(result.stdout)["reports"]] == ["run[1].log"]
