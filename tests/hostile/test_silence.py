"""Never miss in silence: no selection hides an unread log, no interruption passes for a
clean run, no JSON layout swallows a log, no non-finite number breaks an output format.

The no-read guard (`no_metrics`) runs whatever ``--select``, ``--ignore`` or the
configuration file say; SIGINT (or SIGTERM) during `diagnose -` on a pipe yields a report
marked incomplete and exit 128 + N; a log that opens with a JSON config is read (and
streamed live) line by line; every layout of ``trainer_state.json`` is read whole; a step
printed ``nan`` serialises in every format, JSON ones parsed back strictly.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from gradlog.config import Config
from gradlog.engine import analyze
from gradlog.formatters import FORMATTERS
from gradlog.model import Confidence, Diagnosis, Evidence, Severity
from gradlog.report import InputSummary, Report, ReportSet
from tests.helpers import run_gradlog

TIMEOUT = 30
UNREAD = "starting the job\nloading data from /data/shards\nsaving checkpoint\n"
HEALTHY_LINES = "".join(f"step {i} loss {2.5 - i * 0.01:.3f} grad_norm 1.0\n" for i in range(1, 30))
NAN_LINES = "step 30 loss nan grad_norm nan\nstep 31 loss nan grad_norm nan\n"
CONFIG_HEADER = json.dumps(
    {"model": "gpt2", "lr": 3e-4, "batch_size": 32, "max_grad_norm": 1.0, "layers": [1, 2]},
    indent=2,
)


def gradlog(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_gradlog(*args, cwd=cwd, stdin=stdin, timeout=TIMEOUT)


def strict(text: str) -> Any:
    """JSON parsed back, refusing the bare NaN and Infinity that are not JSON."""

    def reject(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=reject)


def values(text: str) -> list[Any]:
    """Every JSON value of a stream of them (lines and indented documents), strictly."""

    def reject(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    decoder, found, at = json.JSONDecoder(parse_constant=reject), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def ids(document: Any) -> list[str]:
    return [d["id"] for d in document["reports"][0]["diagnoses"]]


# --- the no-read guard --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "toml"),
    [
        (("--select", "nan"), ""),
        (("--ignore", "no_metrics"), ""),
        (("--select", "loss_spike", "--ignore", "no_metrics"), ""),
        ((), 'select = ["nan"]\n'),
        ((), 'ignore = ["no_metrics"]\n'),
    ],
)
def test_an_unread_log_never_passes_whatever_the_selection(
    tmp_path: Path, options: tuple[str, ...], toml: str
) -> None:
    (tmp_path / "job.log").write_text(UNREAD)
    if toml:
        (tmp_path / "gradlog.toml").write_text(toml)
    result = gradlog("diagnose", "--format", "json", "job.log", *options, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert ids(strict(result.stdout)) == ["no_metrics"]


def test_the_guard_is_listed_as_enabled_and_stays_quiet_on_a_read_log() -> None:
    config = Config(select=("nan",), ignore=("no_metrics",))
    assert config.enabled("no_metrics") and not config.enabled("loss_spike")
    report = analyze((HEALTHY_LINES + NAN_LINES).splitlines(), "run.log", config)
    assert [d.id for d in report.diagnoses] == ["nan"]
    assert report.rules == ("nan", "no_metrics")


# --- an interrupted input -----------------------------------------------------------------


def _stderr_line(process: subprocess.Popen[bytes], needle: bytes) -> bytes:
    """Read the process's stderr until a line holds ``needle`` (bounded in time)."""
    assert process.stderr is not None
    fd, seen = process.stderr.fileno(), b""
    deadline = time.monotonic() + TIMEOUT
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} on stderr in time: {seen!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, f"stderr closed before {needle!r}: {seen!r}"
            seen += chunk
    return seen


@pytest.mark.parametrize(("signum", "fmt"), [(signal.SIGINT, "json"), (signal.SIGTERM, "sarif")])
def test_signal_during_diagnose_of_a_pipe_marks_the_report_incomplete(
    tmp_path: Path, signum: int, fmt: str
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gradlog", "diagnose", "-", "--format", fmt],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write((HEALTHY_LINES + NAN_LINES).encode())
        process.stdin.flush()  # the pipe stays open: the job is still "writing"
        _stderr_line(process, b"ERROR nan")  # gradlog is reading: it alerted live
        process.send_signal(signum)
        output, errors = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    name = signal.Signals(signum).name
    assert process.returncode == 128 + signum
    assert f"interrupted by {name}" in errors.decode() and "incomplete" in errors.decode()
    document = strict(output.decode())
    if fmt == "json":
        assert document["incomplete"] is True
        report = document["reports"][0]
        assert report["incomplete"] is True and report["interrupted_by"] == name
        assert document["summary"]["exit_code"] == 128 + signum and "nan" in ids(document)
    else:
        (invocation,) = document["runs"][0]["invocations"]
        assert invocation["executionSuccessful"] is False
        assert invocation["exitSignalName"] == name


def test_a_complete_pipe_is_not_marked_incomplete(tmp_path: Path) -> None:
    result = gradlog("diagnose", "-", "--format", "json", cwd=tmp_path, stdin=HEALTHY_LINES)
    document = strict(result.stdout)
    assert result.returncode == 0 and document["incomplete"] is False
    assert document["reports"][0]["interrupted_by"] is None


def test_exit_zero_does_not_hide_an_interruption() -> None:
    summary = InputSummary("-", 3, 3, 3, (), ("loss",), 1, 3, interrupted=signal.SIGINT)
    reports = ReportSet((Report(summary, ()),))
    assert reports.incomplete and reports.exit_code() == 130


# --- JSON layouts -------------------------------------------------------------------------


def test_log_opening_with_a_json_config_is_read_as_a_log(tmp_path: Path) -> None:
    (tmp_path / "run.log").write_text(CONFIG_HEADER + "\n" + HEALTHY_LINES + NAN_LINES)
    result = gradlog("diagnose", "--format", "json", "run.log", cwd=tmp_path)
    document = strict(result.stdout)
    assert result.returncode == 1 and ids(document) == ["nan"]
    read = document["reports"][0]["input"]
    assert read["records"] == 31 and read["first_step"] == 1 and not read["numbered_steps"]


@pytest.mark.parametrize(
    "header",
    ["{\n", '{\n  "lr": 0.001,\n  learning rate warm-up on\n', "[2024-05-01 10:00:00] start\n"],
)
def test_what_cannot_be_json_is_read_as_lines(tmp_path: Path, header: str) -> None:
    (tmp_path / "run.log").write_text(header + HEALTHY_LINES + NAN_LINES)
    document = strict(gradlog("diagnose", "--format", "json", "run.log", cwd=tmp_path).stdout)
    assert ids(document) == ["nan"]


def test_log_opening_with_a_json_config_is_streamed_live(tmp_path: Path) -> None:
    """The NaN alert comes while the pipe is still open, not when the input ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gradlog", "watch", "--quiet"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    try:
        process.stdin.write((CONFIG_HEADER + "\n" + HEALTHY_LINES + NAN_LINES).encode())
        process.stdin.flush()
        assert b"ERROR nan at step 30" in _stderr_line(process, b"ERROR nan")
        process.stdin.close()
        assert process.wait(timeout=TIMEOUT) == 1
    finally:
        process.kill()
        process.wait()


def _trainer_state() -> dict[str, Any]:
    history: list[dict[str, Any]] = [
        {"epoch": i / 10, "step": i * 10, "loss": 2.0 - i * 0.01, "grad_norm": 1.0}
        for i in range(1, 30)
    ]
    history[20]["loss"] = history[21]["loss"] = math.nan
    history.append({"train_runtime": 12.5, "total_flos": 1e12, "step": 290})
    return {"best_metric": None, "global_step": 290, "log_history": history}


@pytest.mark.parametrize(
    ("layout", "encoding", "newline"),
    [
        ("pretty", "utf-8", "\n"),
        ("minified", "utf-8", "\n"),
        ("pretty", "utf-8-sig", "\n"),
        ("minified", "utf-8-sig", "\n"),
        ("pretty", "utf-8", "\r\n"),
        ("pretty", "utf-8-sig", "\r\n"),
    ],
)
def test_every_trainer_state_layout_is_read_whole(
    tmp_path: Path, layout: str, encoding: str, newline: str
) -> None:
    text = json.dumps(_trainer_state(), indent=2 if layout == "pretty" else None)
    path = tmp_path / "trainer_state.json"
    path.write_text(text + "\n", encoding=encoding, newline=newline)
    with path.open(encoding="utf-8", newline="") as stream:
        report = analyze((line.rstrip("\n") for line in stream), "trainer_state.json")
    assert report.input.records == 29 and report.input.dialects == ("trainer_state",)
    assert [d.id for d in report.diagnoses] == ["nan"] and report.diagnoses[0].first_step == 210


def test_json_lines_log_is_still_read_line_by_line() -> None:
    lines = [json.dumps({"step": i, "loss": 2.0 - i / 100}) for i in range(1, 20)]
    report = analyze([*lines, '{"step": 20, "loss": NaN}'], "metrics.jsonl")
    assert report.input.records == 20 and [d.id for d in report.diagnoses] == ["nan"]


# --- non-finite steps and values in every format ------------------------------------------

NONFINITE_LOG = "step 1 loss 2.3\nstep 2 loss 2.2\nstep nan loss nan\nstep inf loss inf\n"


def _nonfinite_reports() -> ReportSet:
    """A hand-built report with every number that can be non-finite made so."""
    evidence = (
        Evidence(2, 2, "loss", 2.2),
        Evidence(math.nan, 3, "loss", math.nan),
        Evidence(math.inf, 4, "grad_norm", -math.inf),
    )
    diagnosis = Diagnosis(
        "nan", "NaN or Inf in training", Severity.ERROR, Confidence.HIGH,
        "loss became non-finite at step nan", "loss", math.nan, math.inf, 3, 2, evidence,
        ("Clip gradients.",),
    )  # fmt: skip
    summary = InputSummary(
        "run.log", 4, 4, 4, ("key_value",), ("loss",), 1, math.inf, interrupted=signal.SIGINT
    )
    return ReportSet((Report(summary, (diagnosis,), ("nan",)),))


def _check_format(fmt: str, text: str) -> None:
    if fmt == "json":
        strict(text)
    elif fmt == "sarif":
        assert strict(text)["runs"][0]["results"][0]["properties"]["firstStep"] == "nan"
    elif fmt == "jsonl":
        assert [strict(line)["first_step"] for line in text.splitlines()] == ["nan"]
    elif fmt == "junit":
        ET.fromstring(text)
    assert "nan" in text.lower()


@pytest.mark.parametrize("fmt", sorted(FORMATTERS))
def test_nonfinite_steps_and_values_render_in_every_format(fmt: str) -> None:
    reports = _nonfinite_reports()
    _check_format(fmt, FORMATTERS[fmt](reports))
    read = analyze(NONFINITE_LOG.splitlines(), "run.log")
    assert read.diagnoses and read.diagnoses[0].first_step != read.diagnoses[0].first_step
    FORMATTERS[fmt](ReportSet((read,)))  # and as the engine makes them


@pytest.mark.parametrize("fmt", ["json", "jsonl", "sarif"])
def test_nonfinite_steps_from_the_command_line(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "run.log").write_text(NONFINITE_LOG)
    result = gradlog("diagnose", "--format", fmt, "run.log", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    texts = result.stdout.splitlines() if fmt == "jsonl" else [result.stdout]
    assert all(strict(text) for text in texts)


def test_live_jsonl_alerts_with_a_nan_step_keep_watching(tmp_path: Path) -> None:
    """`run --format jsonl` announces the NaN step and goes on watching the job."""
    script = "print('step 1 loss 2.3'); print('step nan loss nan'); print('step 3 loss 2.1')"
    result = subprocess.run(
        [sys.executable, "-m", "gradlog", "run", "--format", "jsonl", "-q", "--",
         sys.executable, "-c", script],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    events = values(result.stderr)  # alert lines, the report (indented), the exit line
    assert events[-2]["reports"][0]["input"]["first_step"] == 1
    alerts = [e for e in events if e.get("id") == "nan"]
    assert alerts and alerts[0]["first_step"] == "nan"
    assert events[-1]["event"] == "exit" and events[-1]["status"] == 0
