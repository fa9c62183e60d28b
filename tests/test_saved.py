"""Saved runs: a TensorBoard run written by ``torch.utils.tensorboard``, an MLflow run
written by ``mlflow`` to its file store, and a W&B run written by ``wandb`` offline are
each diagnosed like the same numbers printed as text.

The writers come with the ``frameworks`` extra; without it these tests skip, saying so.
The folder logic and the event-file decoding of hand-made inputs run without it.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gradlog.config import Config
from gradlog.saved import Input, RunError, analyze_run, inputs
from gradlog.saved.tensorboard import EventFileError, records

STEPS = 160
NAN_FROM = 120  # the loss is NaN from this step on; the grad norm blows up a little before


def _run() -> list[tuple[int, dict[str, float]]]:
    """A run's numbers, as float32 (what TensorBoard stores), by step."""
    import numpy as np

    rows = []
    for step in range(1, STEPS + 1):
        loss = 2.3 * math.exp(-step / 40) + 0.25 + 0.01 * math.sin(step)
        grad = 1.0 + 0.1 * math.cos(step) + (30.0 * (step - 110) if step > 110 else 0.0)
        if step >= NAN_FROM:
            loss = math.nan
        rows.append(
            (
                step,
                {
                    "loss": float(np.float32(loss)),
                    "grad_norm": float(np.float32(grad)),
                    "lr": float(np.float32(3e-4)),
                },
            )
        )
    return rows


def _as_text(tmp_path: Path) -> Any:
    """The report of the same numbers printed as a log."""
    log = tmp_path / "printed.log"
    log.write_text(
        "".join(
            f"step {s} | loss {m['loss']!r} | grad_norm {m['grad_norm']!r} | lr {m['lr']!r}\n"
            for s, m in _run()
        )
    )
    return _facts(_diagnose(log))


def _diagnose(*paths: Path) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _facts(found: Any, index: int = 0) -> list[tuple[Any, ...]]:
    report = found["reports"][index]
    return [(d["id"], d["severity"], d["first_step"]) for d in report["diagnoses"]]


@pytest.mark.slow
def test_a_tensorboard_run_reads_like_its_log(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the frameworks extra is not installed")
    pytest.importorskip("tensorboard", reason="the frameworks extra is not installed")
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "tb" / "version_0"))
    for step, metrics in _run():
        writer.add_scalar("train/loss", metrics["loss"], step)
        writer.add_scalar("grad_norm", metrics["grad_norm"], step)
        writer.add_scalar("lr-AdamW", metrics["lr"], step)
        writer.add_histogram("weights", np.arange(3.0), step)  # not a scalar: skipped
    writer.close()
    expected = _as_text(tmp_path)
    assert ("nan", "error", NAN_FROM) in expected
    # The run folder, its parent, and the event file itself.
    event_file = next((tmp_path / "tb" / "version_0").glob("events.out.tfevents.*"))
    for path in (tmp_path / "tb" / "version_0", tmp_path / "tb", event_file):
        assert _facts(_diagnose(path)) == expected


@pytest.mark.slow
@pytest.mark.parametrize("store", ["files", "database"])
def test_an_mlflow_run_reads_like_its_log(tmp_path: Path, monkeypatch: Any, store: str) -> None:
    """In a file store (mlruns/) and in MLflow 3's default database (mlflow.db)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # the file store, kept up
    mlflow = pytest.importorskip("mlflow", reason="the frameworks extra is not installed")
    if store == "files":
        where = tmp_path / "mlruns"
        mlflow.set_tracking_uri(where.as_uri())
    else:
        pytest.importorskip("sqlalchemy", reason="the frameworks extra is not installed")
        where = tmp_path / "mlflow.db"
        mlflow.set_tracking_uri(f"sqlite:///{where}")
    with mlflow.start_run():
        for step, metrics in _run():
            logged = {
                "train/loss": metrics["loss"],
                "grad_norm": metrics["grad_norm"],
                "learning_rate": metrics["lr"],
            }
            mlflow.log_metrics(logged, step=step)
    expected = _as_text(tmp_path)
    found = _diagnose(where)
    assert len(found["reports"]) == 1
    assert _facts(found) == expected


@pytest.mark.slow
@pytest.mark.parametrize("logged", [True, False], ids=["history", "console"])
def test_a_wandb_offline_run_reads_like_its_log(tmp_path: Path, logged: bool) -> None:
    """A run that logs its metrics is read from its history (the .wandb file); one that
    only prints them, through its console capture."""
    pytest.importorskip("wandb", reason="the frameworks extra is not installed")
    from gradlog.saved import CONSOLE

    script = tmp_path / "train.py"
    script.write_text(
        "import json, sys, wandb\n"
        f"rows = json.loads({json.dumps(json.dumps(_run()))})\n"
        "run = wandb.init(project='gradlog-test', mode='offline')\n"
        "for step, m in rows:\n"
        "    print(f\"step {step} | loss {m['loss']!r} | grad_norm {m['grad_norm']!r} "
        "| lr {m['lr']!r}\", flush=True)\n"
        + (
            "    run.log({'train/loss': m['loss'], 'grad_norm': m['grad_norm'], "
            "'optim': {'lr': m['lr']}}, step=step)\n"
            if logged
            else ""
        )
        + "run.finish()\n"
    )
    environment = {**os.environ, "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = inputs(str(tmp_path / "wandb"))
    assert run.kind == ("wandb" if logged else CONSOLE)
    found = _diagnose(tmp_path / "wandb")
    assert _facts(found) == _as_text(tmp_path)
    assert {"loss", "grad_norm", "lr"} <= set(found["reports"][0]["input"]["metrics"])


# --------------------------------------------------------------------------------------
# Without the extra


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int | float, wire: int) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(int(payload))  # type: ignore[arg-type]
    if wire == 5:
        return key + struct.pack("<f", payload)
    assert isinstance(payload, bytes)
    return key + _varint(len(payload)) + payload


def _record(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + b"\0" * 4 + data + b"\0" * 4


def _event_file(path: Path, steps: list[tuple[int, list[tuple[str, float]]]]) -> None:
    out = _record(_field(3, b"brain.Event:2", 2))
    for step, scalars in steps:
        values = b"".join(
            _field(1, _field(1, tag.encode(), 2) + _field(2, value, 5), 2) for tag, value in scalars
        )
        out += _record(_field(2, step, 0) + _field(5, values, 2))
    path.write_bytes(out)


def test_event_files_are_decoded(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    rows = [(s, [("loss", 2.0 / s), ("epoch", s // 10)]) for s in range(1, 40)]
    _event_file(run / "events.out.tfevents.1.host", rows)
    (found,) = inputs(str(tmp_path))
    assert found.kind == "tensorboard"
    report = analyze_run(found, Config())
    assert report.input.records == 39
    # cut short at the end (a run still writing): the whole records are read
    data = (run / "events.out.tfevents.1.host").read_bytes()
    (run / "events.out.tfevents.1.host").write_bytes(data[:-7])
    assert analyze_run(inputs(str(run))[0], Config()).input.records == 38


def test_a_file_that_is_not_an_event_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "events.out.tfevents.2.host"
    bad.write_bytes(b"\x05" + b"\0" * 7 + b"\0" * 4 + b"hello" + b"\0" * 4)
    with pytest.raises(RunError, match="not a TensorBoard event file"):
        analyze_run(Input(str(bad), "tensorboard", (str(bad),)), Config())
    with open(bad, "rb") as stream, pytest.raises(EventFileError):
        list(records(stream))
    done = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", str(bad)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "not a TensorBoard event file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_folder_holds_logs_and_runs(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("step 1 loss 2.0\nstep 2 loss 1.9\n")
    (tmp_path / "notes.md").write_text("not a log\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.log").write_text("step 1 loss 2.0\n")
    mlrun = tmp_path / "mlruns" / "0" / "abc"
    (mlrun / "metrics" / "train").mkdir(parents=True)
    (mlrun / "meta.yaml").write_text("run_id: abc\n")
    (mlrun / "metrics" / "train" / "loss").write_text(
        "".join(f"{1000 + s} {2.0 / s} {s}\n" for s in range(1, 30))
    )
    found = inputs(str(tmp_path))
    assert [(Path(i.path).relative_to(tmp_path).as_posix(), i.kind) for i in found] == [
        ("a.log", "log"),
        ("mlruns/0/abc", "mlflow"),
    ]
    assert analyze_run(found[1], Config()).input.records == 29
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunError, match="no logs or saved runs"):
        inputs(str(empty))
    done = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", str(empty)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "no logs or saved runs in this folder" in done.stderr


def test_tf2_scalar_tensors_are_read(tmp_path: Path) -> None:
    """TF2's ``tf.summary.scalar`` writes a one-element tensor; the tag's plugin is named
    on its first event only. Histograms (tensors of the histograms plugin) are not read."""

    def tensor(value: float) -> bytes:
        return _field(1, 1, 0) + _field(2, b"", 2) + _field(5, struct.pack("<f", value), 2)

    def plugin(name: str) -> bytes:
        return _field(9, _field(1, _field(1, name.encode(), 2), 2), 2)

    out = _record(_field(3, b"brain.Event:2", 2))
    for step in range(1, 31):
        first = step == 1
        loss = _field(1, b"epoch_loss", 2) + _field(8, tensor(2.0 / step), 2)
        histogram = _field(1, b"weights", 2) + _field(8, tensor(5.0), 2)
        if first:
            loss += plugin("scalars")
            histogram += plugin("histograms")
        values = _field(1, loss, 2) + _field(1, histogram, 2)
        out += _record(_field(2, step, 0) + _field(5, values, 2))
    path = tmp_path / "events.out.tfevents.3.host"
    path.write_bytes(out)
    (run,) = inputs(str(path))
    report = analyze_run(run, Config())
    assert report.input.records == 30 and report.input.metrics == ("loss",)


def _readme_commands(start: str, end: str) -> list[str]:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index(start) : readme.index(end)]
    commands = []
    for block in section.split("```bash\n")[1:]:
        for line in block[: block.index("```")].splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("gradlog ") and "://" not in command:
                commands.append(command)
    return commands


def _database(path: Path, runs: dict[str, list[tuple[str, float, int]]]) -> None:
    """An MLflow database with the tables gradlog reads, as MLflow lays them out."""
    import sqlite3

    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE experiments (experiment_id INTEGER, name TEXT);"
        "CREATE TABLE runs (run_uuid TEXT, name TEXT, experiment_id INTEGER,"
        " lifecycle_stage TEXT, start_time INTEGER);"
        "CREATE TABLE metrics (key TEXT, value FLOAT, timestamp INTEGER, run_uuid TEXT,"
        " step INTEGER, is_nan BOOLEAN);"
    )
    for start, (run, rows) in enumerate(runs.items()):
        connection.execute("INSERT INTO runs VALUES (?, ?, 0, 'active', ?)", (run, run, start))
        for stamp, (key, value, step) in enumerate(rows):
            nan = math.isnan(value)
            stored = 0.0 if nan else value
            connection.execute(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                (key, stored, stamp, run, step, nan),
            )
    connection.commit()
    connection.close()


def test_an_mlflow_database_holds_runs(tmp_path: Path) -> None:
    rows = [("loss", 2.0 / s if s < 20 else math.nan, s) for s in range(1, 30)]
    _database(tmp_path / "mlflow.db", {"aaa": rows, "bbb": rows[:10]})
    found = inputs(str(tmp_path / "mlflow.db"))
    assert [(Path(i.path).name, i.kind) for i in found] == [
        ("mlflow.db#aaa", "mlflow-db"),
        ("mlflow.db#bbb", "mlflow-db"),
    ]
    report = analyze_run(found[0], Config())
    assert report.input.records == 29 and report.diagnoses[0].id == "nan"
    assert report.diagnoses[0].first_step == 20


def _runs_folder(root: Path) -> None:
    """A folder like a user's: Lightning's TensorBoard logs, an MLflow store, W&B runs,
    a sweep of logs."""
    version = root / "lightning_logs" / "version_0"
    version.mkdir(parents=True)
    _event_file(
        version / "events.out.tfevents.1.host",
        [(s, [("train_loss", 2.0 / s)]) for s in range(1, 30)],
    )
    metrics = root / "mlruns" / "0" / "abc" / "metrics"
    metrics.mkdir(parents=True)
    (metrics.parent / "meta.yaml").write_text("run_id: abc\n")
    (metrics / "loss").write_text("".join(f"{1000 + s} {2.0 / s} {s}\n" for s in range(1, 30)))
    for name in ("offline-run-20241201_000000-abc", "offline-run-20241201_010000-def"):
        files = root / "wandb" / name / "files"
        files.mkdir(parents=True)
        (files / "wandb-metadata.json").write_text("{}")
        (files / "output.log").write_text(
            "".join(f"step {s} loss {2.0 / s}\n" for s in range(1, 30))
        )
    _database(root / "mlflow.db", {"r1": [("loss", 2.0 / s, s) for s in range(1, 30)]})
    for part in ("a", "b"):
        (root / "sweep" / part).mkdir(parents=True)
        (root / "sweep" / part / "run.log").write_text("step 1 loss 2.0\nstep 2 loss nan\n")


@pytest.mark.parametrize(
    "command",
    _readme_commands("### Saved runs", "### When a log is misread")
    + [c for c in _readme_commands("## Many runs", "## Use in CI") if " scan " not in f" {c} "],
)
def test_readme_examples_of_runs_run(tmp_path: Path, command: str) -> None:
    import glob
    import shlex

    _runs_folder(tmp_path)
    arguments = shlex.split(command)[1:]
    expanded = []
    for argument in arguments:  # the shell's expansion of unquoted globs
        found = sorted(glob.glob(str(tmp_path / argument))) if "*" in argument else []
        expanded += [str(Path(p).relative_to(tmp_path)) for p in found] or [argument]
    done = subprocess.run(
        [sys.executable, "-m", "gradlog", *expanded],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_split_in_train_and_validation_folders_is_one_run(tmp_path: Path) -> None:
    """Keras's TensorBoard callback writes logs/train/ and logs/validation/, both with
    ``epoch_loss``: one run, whose validation tags are the validation series."""
    for split, offset in (("train", 0.0), ("validation", 0.1)):
        (tmp_path / "logs" / split).mkdir(parents=True)
        rows = [(e, [("epoch_loss", 2.0 / (e + 1) + offset)]) for e in range(12)]
        _event_file(tmp_path / "logs" / split / "events.out.tfevents.1.host.v2", rows)
    (run,) = inputs(str(tmp_path / "logs"))
    assert run.path == str(tmp_path / "logs") and len(run.held_out) == 1
    report = analyze_run(run, Config())
    assert report.input.records == 12
    assert set(report.input.metrics) == {"loss", "val_loss"}
