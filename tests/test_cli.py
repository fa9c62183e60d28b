"""The command line as a user runs it: real processes, exit codes, stdout vs stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.helpers import SAMPLES

EXPLODING = str(SAMPLES / "exploding.log")
HEALTHY = str(SAMPLES / "healthy.log")
INSTABILITY = str(SAMPLES / "instability.log")


def gradlog(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def strict_json(text: str) -> dict[str, object]:
    def reject(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=reject)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((HEALTHY,), 0),
        ((EXPLODING,), 1),
        ((EXPLODING, "--exit-zero"), 0),
        ((INSTABILITY,), 0),
        ((INSTABILITY, "--fail-on", "warning"), 1),
        ((HEALTHY, "--fail-on", "info"), 0),
        ((HEALTHY, EXPLODING), 1),
        (("missing.log",), 2),
        (("missing.log", "--exit-zero"), 2),
        ((str(SAMPLES),), 1),  # a folder: every log in it (exploding ones among them)
        ((HEALTHY, "--fail-on", "bogus"), 2),
        ((HEALTHY, "--select", "not_a_rule"), 2),
        ((HEALTHY, "--metric", "loss"), 2),
        ((), 2),
    ],
)
def test_exit_codes(args: tuple[str, ...], code: int) -> None:
    result = gradlog("diagnose", *args)
    assert result.returncode == code, result.stderr
    if code == 2:
        assert result.stderr.startswith("gradlog: error: ")
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


def test_json_is_strict_and_has_the_documented_shape() -> None:
    result = gradlog("diagnose", "--format", "json", EXPLODING)
    doc = strict_json(result.stdout)
    assert doc["schema_version"] == 1
    assert doc["tool"] == {"name": "gradlog", "version": doc["tool"]["version"]}  # type: ignore[index]
    report = doc["reports"][0]  # type: ignore[index]
    assert set(report["input"]) == {
        "name",
        "lines",
        "records",
        "dialects",
        "metrics",
        "first_step",
        "last_step",
        "numbered_steps",
        "step_name",
        "batches",
        "restarts",
        "unread_numeric_lines",
        "limits",
        "unjudged",
    }
    diagnosis = report["diagnoses"][0]
    assert set(diagnosis) == {
        "id",
        "title",
        "severity",
        "confidence",
        "message",
        "metric",
        "first_step",
        "last_step",
        "line",
        "count",
        "evidence",
        "remedies",
    }
    values = [e["value"] for d in report["diagnoses"] for e in d["evidence"]]
    assert "nan" in values and "inf" in values
    assert doc["summary"] == {"error": 4, "warning": 0, "info": 0, "exit_code": 1}


def test_stdin_is_read_with_dash() -> None:
    text = Path(EXPLODING).read_text()
    result = gradlog("diagnose", "--format", "json", "-", stdin=text)
    ids = {d["id"] for d in strict_json(result.stdout)["reports"][0]["diagnoses"]}  # type: ignore[index]
    assert ids == {"nan", "loss_spike", "exploding_gradient"}


def test_log_text_is_printed_as_itself() -> None:
    text = "hello [bold]world[/bold] [1][50/100] [/]\n"
    result = gradlog("diagnose", "-", stdin=text)
    assert result.returncode == 1
    assert "[bold]world[/bold] [1][50/100] [/]" in result.stdout


def test_no_colour_when_piped_or_no_color() -> None:
    for env in ({}, {"NO_COLOR": "1"}):
        result = gradlog("diagnose", EXPLODING, env=env)
        assert "\x1b[" not in result.stdout


def test_terminal_report_shows_panels_and_remedies() -> None:
    out = gradlog("diagnose", EXPLODING).stdout
    for text in ("nan", "loss_spike", "exploding_gradient", "Remedies", "Evidence", "line 7"):
        assert text in out


def test_clean_run_says_what_it_read() -> None:
    out = gradlog("diagnose", HEALTHY).stdout
    assert "No problems found in 40 records (steps 0-1950)" in out


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = gradlog("diagnose", "--format", "json", "--output", str(target), EXPLODING)
    assert result.stdout == ""
    assert strict_json(target.read_text())["summary"]["exit_code"] == 1  # type: ignore[index]


def test_invalid_utf8_and_binary_noise_do_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "noisy.log"
    path.write_bytes(b"step 1 loss 2.0\n\xff\xfe\x00garbage\x80\nstep 2 loss nan\n")
    result = gradlog("diagnose", "--format", "json", str(path))
    assert result.returncode == 1
    assert {d["id"] for d in strict_json(result.stdout)["reports"][0]["diagnoses"]} == {"nan"}  # type: ignore[index]


def test_python_m_and_version() -> None:
    result = gradlog("--version")
    assert result.returncode == 0 and "gradlog" in result.stdout


_MODULES_AT_EXIT = """
import atexit, sys
atexit.register(lambda: print(" ".join(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["gradlog", *sys.argv[1:]]
from gradlog.cli import main
main()
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_load_no_parser_rules_or_formatters(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_AT_EXIT, *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stderr.split())
    heavy = {"pyparsing", "rich.markdown", "xml.dom.minidom", "importlib.metadata", "numpy"}
    assert "gradlog.cli" in loaded and not heavy & loaded
    assert not {m for m in loaded if m.startswith(("gradlog.parse", "gradlog.formatters."))}


def test_a_short_log_is_read_without_numpy_and_a_long_one_with_it(tmp_path: Path) -> None:
    # numpy costs more to import than a short log costs to read: records are read one
    # by one until a read brings enough of them for a block of columns.
    def loaded(lines: int) -> set[str]:
        log = tmp_path / f"{lines}.log"
        log.write_text("".join(f"step {i} | loss {2 - i / 1e5:.5f}\n" for i in range(lines)))
        done = subprocess.run(
            [sys.executable, "-c", _MODULES_AT_EXIT, "diagnose", str(log)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return set(done.stderr.split())

    assert "numpy" not in loaded(200)
    assert {"numpy", "gradlog.detectors.block", "gradlog.detectors.spike_block"} <= loaded(5000)


def test_the_command_list_matches_each_commands_own_help() -> None:
    from gradlog.cli import COMMANDS, cli

    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(1000) == click.Command(
            name, help=COMMANDS[name][2]
        ).get_short_help_str(1000)


def _eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog.eval", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )


def test_eval_scores_labels_and_says_in_one_line_what_it_cannot_read(tmp_path: Path) -> None:
    """The accuracy tool is a command too: --help, a missing or broken labels file and a
    missing labelled log each get one line and an exit code, never a traceback."""
    (tmp_path / "run.log").write_text(
        "".join(f"step {i} | loss {2.3 - i / 100:.4f}\n" for i in range(1, 60))
    )
    (tmp_path / "good.json").write_text('[{"file": "run.log", "expected": ["healthy"]}]')
    (tmp_path / "gone.json").write_text('[{"file": "gone.log", "expected": ["healthy"]}]')
    (tmp_path / "broken.json").write_text("{")
    done = _eval("good.json", cwd=tmp_path)
    assert done.returncode == 0 and "exactly right: 1" in done.stdout
    assert _eval("--help", cwd=tmp_path).stdout.startswith("usage:")
    for name, says in [
        ("absent.json", "cannot read labels"),
        ("broken.json", "cannot read labels"),
        ("gone.json", "cannot read log 'gone.log'"),
    ]:
        done = _eval(name, cwd=tmp_path)
        assert done.returncode == 2 and says in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
