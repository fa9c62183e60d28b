"""``diagnose --jobs N``: inputs diagnosed in worker processes give the report one by
one gives, in the order of the inputs, with one exit code."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest


def _logs(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        lines = []
        for step in range(1, 120 + 7 * index):
            loss = 2.3 * math.exp(-step / 40) + 0.3 + 0.01 * ((step * 7919 + index) % 13)
            if index % 4 == 1 and step >= 60:
                loss = math.nan
            lines.append(f"step {step} | loss {loss:.4f} | grad_norm {1 + (step % 5) / 10}\n")
        path = folder / f"run{index:02d}.log"
        path.write_text("".join(lines))
        paths.append(path)
    return paths


def _diagnose(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_jobs_give_the_reports_one_by_one_gives(tmp_path: Path) -> None:
    _logs(tmp_path, 24)
    one = _diagnose("--format", "json", "--jobs", "1", str(tmp_path))
    two = _diagnose("--format", "json", "--jobs", "3", str(tmp_path))
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout
    names = [r["input"]["name"] for r in json.loads(two.stdout)["reports"]]
    assert names == sorted(names) and len(names) == 24


@pytest.mark.slow
def test_jobs_on_200_logs(tmp_path: Path) -> None:
    _logs(tmp_path, 200)
    one = _diagnose("--format", "json", "--jobs", "1", str(tmp_path))
    two = _diagnose("--format", "json", "--jobs", "2", str(tmp_path))
    assert one.returncode == two.returncode == 1 and one.stdout == two.stdout


def test_an_unreadable_input_stops_the_run_as_one_by_one(tmp_path: Path) -> None:
    logs = _logs(tmp_path, 6)
    bad = tmp_path / "events.out.tfevents.9.host"
    bad.write_bytes(b"\x05" + b"\0" * 11 + b"hello" + b"\0" * 4)
    done = _diagnose("--jobs", "2", *map(str, logs), str(bad))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a TensorBoard event file" in done.stderr


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_jobs_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    (log,) = _logs(tmp_path, 1)
    done = _diagnose("--jobs", value, str(log))
    assert done.returncode == 2 and "--jobs" in done.stderr and "Traceback" not in done.stderr
