"""`gradlog inspect` and `gradlog series`: what the reader saw, and the series exported."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gradlog.cli import cli
from gradlog.inspect import inspect_lines, render
from tests.helpers import CORPUS

LOG = """\
Starting training on 8 GPUs with batch size 64
step 1 | loss 2.30 | grad_norm 1.2
step 2 | loss 2.10 | grad_norm 1.1
note: [bold]x[/bold] loaded 3 shards in 4.5s
step 3 | loss nan | grad_norm 0.9
saving checkpoint 3 of 10
"""
NO_RECORDS = "no metric records read from"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "train.log"
    path.write_text(LOG, encoding="utf-8")
    return path


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def subprocess_gradlog(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
    )


def strict_json(text: str) -> Any:
    def reject(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=reject)


def assert_one_line_error(stderr: str, code: int, expected: int = 2) -> None:
    assert code == expected, stderr
    assert stderr.startswith("gradlog: error: ")
    assert stderr.count("\n") == 1
    assert "Traceback" not in stderr


# inspect


def test_inspect_shows_shapes_names_records_and_unread(log: Path) -> None:
    result = subprocess_gradlog("inspect", str(log))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "step # | loss # | grad_norm #" in out
    assert "grad_norm -> grad_norm" in out
    assert "step -> step (axis)" in out
    assert "records         3" in out
    table = out.split("First 3 records")[1].split("Not read")[0]
    rows = [line.split() for line in table.splitlines()[3:] if line.strip()]
    assert rows == [
        ["1", "-", "2", "2.3", "1.2"],
        ["2", "-", "3", "2.1", "1.1"],
        ["3", "-", "5", "nan", "0.9"],
    ]
    assert "3 lines holding a number yielded nothing" in out
    assert "Starting training on 8 GPUs" in out
    assert "\x1b[" not in out  # NO_COLOR and not a terminal: plain text


def test_inspect_prints_log_text_literally(log: Path) -> None:
    result = invoke("inspect", str(log))
    assert result.exit_code == 0, result.output
    assert "note: [bold]x[/bold] loaded 3 shards in 4.5s" in result.output


def test_inspect_json_has_the_same_facts(log: Path) -> None:
    result = invoke("inspect", "--format", "json", str(log), "--records", "2")
    assert result.exit_code == 0, result.output
    doc = strict_json(result.output)
    assert doc["schema_version"] == 1
    (found,) = doc["inputs"]
    assert (found["name"], found["lines"], found["records"]) == (str(log), 6, 3)
    shape = found["shapes"][0]
    assert shape["shape"] == "step # | loss # | grad_norm #"
    assert shape["count"] == 3
    assert {"printed": "grad_norm", "series": "grad_norm"} in shape["names"]
    assert found["series"]["loss"] == {
        "count": 3,
        "first": 2.3,
        "last": "nan",
        "min": 2.1,
        "max": 2.3,
        "nonfinite": 1,
    }
    assert [r["step"] for r in found["first_records"]] == [1, 2]
    assert found["first_records"][0]["metrics"] == {"loss": 2.3, "grad_norm": 1.2}
    assert found["unread"]["count"] == 3
    assert any("[bold]x[/bold]" in line for line in found["unread"]["examples"])


def test_inspect_reads_stdin_and_several_inputs(log: Path) -> None:
    result = invoke("inspect", "--format", "json", "-", str(log), stdin=LOG)
    assert result.exit_code == 0, result.output
    inputs = strict_json(result.output)["inputs"]
    assert [i["name"] for i in inputs] == ["-", str(log)]
    assert inputs[0]["series"] == inputs[1]["series"]


def test_inspect_metric_option_maps_a_name(tmp_path: Path) -> None:
    path = tmp_path / "custom.log"
    path.write_text("step 1 | objective 0.9\nstep 2 | objective 0.8\n", encoding="utf-8")
    result = invoke("inspect", "--format", "json", str(path), "--metric", "loss=objective")
    assert result.exit_code == 0, result.output
    (found,) = strict_json(result.output)["inputs"]
    assert list(found["series"]) == ["loss"]


def test_inspect_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess_gradlog("inspect", str(tmp_path / "missing.log"))
    assert_one_line_error(result.stderr, result.returncode)
    assert result.stdout == ""


def test_inspect_folds_many_metrics_into_one_column_when_narrow() -> None:
    line = "step 1 | loss 2.5 | " + " | ".join(f"metric_number_{i}: {i}.5" for i in range(9))
    found = inspect_lines([line], "wide.log")
    wide = render([found], width=400).split("First 1 record")[1]
    narrow = render([found], width=80).split("First 1 record")[1]
    assert "metric_number_8" in wide.splitlines()[1]  # one column per metric
    assert "metrics" in narrow.splitlines()[1]
    assert "loss=2.5" in narrow and "metric_number_0=0.5" in narrow


# series


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_series_csv_has_header_and_values(log: Path) -> None:
    result = subprocess_gradlog("series", str(log))
    assert result.returncode == 0, result.stderr
    header = next(csv.reader(io.StringIO(result.stdout)))
    assert header == ["step", "epoch", "line", "grad_norm", "loss"]
    rows = csv_rows(result.stdout)
    assert [row["step"] for row in rows] == ["1", "2", "3"]
    assert rows[0] == {"step": "1", "epoch": "", "line": "2", "grad_norm": "1.2", "loss": "2.3"}
    assert rows[2]["loss"] == "nan"
    assert math.isnan(float(rows[2]["loss"]))


def test_series_csv_leaves_missing_metrics_empty(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_text("step 1 | loss 2.0\nstep 2 | loss 1.5 | lr 0.1\n", encoding="utf-8")
    rows = csv_rows(invoke("series", str(path)).output)
    assert [(row["loss"], row["lr"]) for row in rows] == [("2.0", ""), ("1.5", "0.1")]


def test_series_jsonl_is_strict_json_per_record(log: Path) -> None:
    result = invoke("series", "--format", "jsonl", str(log))
    assert result.exit_code == 0, result.output
    records = [strict_json(line) for line in result.output.splitlines()]
    assert records[0] == {"step": 1, "epoch": None, "line": 2, "loss": 2.3, "grad_norm": 1.2}
    assert records[2]["loss"] == "nan"
    assert len(records) == 3


def test_series_output_writes_the_file(log: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = invoke("series", str(log), "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "wrote" in result.stderr
    assert len(csv_rows(target.read_text(encoding="utf-8"))) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gradlog-")] == []


def test_series_refuses_to_overwrite_its_input(log: Path) -> None:
    result = subprocess_gradlog("series", str(log), "-o", str(log))
    assert_one_line_error(result.stderr, result.returncode)
    assert log.read_text(encoding="utf-8") == LOG


def test_series_with_no_record_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "prose.log"
    path.write_text("nothing to see here\nreally nothing\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    result = subprocess_gradlog("series", str(path), "-o", str(target))
    assert_one_line_error(result.stderr, result.returncode)
    assert f"{NO_RECORDS} {path} (see 'gradlog inspect {path}')" in result.stderr
    assert not target.exists()
    assert len(list(tmp_path.iterdir())) == 1  # no temporary file left behind


def test_series_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess_gradlog("series", str(tmp_path / "missing.log"), "--format", "jsonl")
    assert_one_line_error(result.stderr, result.returncode)


# the shared corpus


def _corpus_logs() -> list[Any]:
    logs = []
    for folder in (CORPUS, CORPUS / "real"):
        labels = folder / "labels.json"
        if labels.is_file():
            entries = json.loads(labels.read_text(encoding="utf-8"))
            logs += [folder / entry["file"] for entry in entries]
    return [pytest.param(path, id=str(path.relative_to(CORPUS))) for path in logs]


CORPUS_LOGS = _corpus_logs()


@pytest.mark.skipif(not CORPUS_LOGS, reason="../shared/corpus is not present")
@pytest.mark.parametrize("path", CORPUS_LOGS)
def test_corpus_log_inspects_and_exports(path: Path) -> None:
    assert invoke("inspect", str(path)).exit_code == 0
    inspected = invoke("inspect", "--format", "json", str(path))
    assert inspected.exit_code == 0, inspected.output
    (found,) = strict_json(inspected.stdout)["inputs"]
    exported = invoke("series", "--format", "jsonl", str(path))
    if exported.exit_code == 2 and NO_RECORDS in exported.stderr:
        assert found["records"] == 0
        warnings.warn(f"not read yet: no records from {path.relative_to(CORPUS)}", stacklevel=1)
        return
    assert exported.exit_code == 0, exported.stderr
    records = [strict_json(line) for line in exported.stdout.splitlines()]
    assert len(records) == found["records"]
    rows = csv_rows(invoke("series", str(path)).stdout)
    assert len(rows) == found["records"]
