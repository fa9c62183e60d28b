"""``gradlog scan``: a few hundred generated logs diagnosed on a Dask ``LocalCluster``
with several workers give the summary that ``diagnose --jobs`` gives, in input order,
on a cluster of its own or an existing one reached by its address."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gradlog.cli.common import diagnose_inputs
from gradlog.config import Config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fleet")
    for index in range(240):
        lines = []
        for step in range(1, 60 + index % 50):
            loss = 2.3 * math.exp(-step / 30) + 0.3 + 0.01 * ((step * 31 + index) % 7)
            if index % 5 == 2 and step >= 40:
                loss = math.nan
            lines.append(f"step {step} | loss {loss:.4f} | grad_norm {1 + (step % 3) / 10}\n")
        (folder / f"run{index:03d}.log").write_text("".join(lines))
    return folder


def _scan(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog", "scan", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_local_cluster_gives_the_summary_of_diagnose(fleet: Path) -> None:
    pytest.importorskip("dask.distributed", reason="the scan extra is not installed")
    from gradlog import scan
    from gradlog.fleet import summary

    rows = scan([str(fleet)], workers=3)
    reports = diagnose_inputs((str(fleet),), Config(), jobs=2).reports
    assert rows == [summary(report) for report in reports]
    assert len(rows) == 240 and sum(row["worst"] == "error" for row in rows) == 48


def test_the_command_writes_csv_and_json(fleet: Path, tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed", reason="the scan extra is not installed")
    done = _scan("--workers", "2", str(fleet))
    assert done.returncode == 1, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(table) == 240 and table[2]["ids"].startswith("nan")
    out = tmp_path / "summary.json"
    done = _scan("--workers", "2", "--format", "json", "-o", str(out), f"{fleet}/run00*.log")
    assert done.returncode == 1 and done.stdout == ""
    assert [row["input"] for row in json.loads(out.read_text())] == [
        f"{fleet}/run{i:03d}.log" for i in range(10)
    ]


def test_an_existing_cluster_by_its_address(fleet: Path) -> None:
    distributed = pytest.importorskip("dask.distributed", reason="the scan extra is not installed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        done = _scan("--scheduler", cluster.scheduler_address, f"{fleet}/run01*.log")
    assert done.returncode == 1, done.stderr
    assert len(done.stdout.splitlines()) == 11


def test_an_unreadable_input_is_a_row_that_says_why(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed", reason="the scan extra is not installed")
    (tmp_path / "good.log").write_text("step 1 loss 2.0\nstep 2 loss 1.9\n")
    (tmp_path / "events.out.tfevents.1.host").write_bytes(
        b"\x05" + b"\0" * 11 + b"hello" + b"\0" * 4
    )
    done = _scan("--workers", "1", "--format", "json", str(tmp_path))
    assert done.returncode == 2
    tensorboard, good = json.loads(done.stdout)  # the folder's event files: one run
    assert tensorboard["input"].rstrip("/") == str(tmp_path)
    assert "events.out.tfevents.1.host: not a TensorBoard event file" in tensorboard["error"]
    assert good["error"] == "" and good["records"] == 2


def test_readme_scan_example_runs(tmp_path: Path) -> None:
    import shlex

    pytest.importorskip("dask.distributed", reason="the scan extra is not installed")
    from tests.test_saved import _readme_commands, _runs_folder

    _runs_folder(tmp_path)
    (command,) = [c for c in _readme_commands("## Many runs", "## Use in CI") if " scan " in c]
    done = subprocess.run(
        [sys.executable, "-m", "gradlog", *shlex.split(command)[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr  # the sweep's logs go NaN
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [Path(row["input"]).parts[0] for row in rows] == ["sweep", "sweep", "mlruns"]
