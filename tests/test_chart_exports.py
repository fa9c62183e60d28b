"""CSV files exported from a chart: TensorBoard's ``Wall time,Step,Value`` (the value's
name is the chart's tag, which only the file's name holds), W&B's ``"Step","<run> -
<key>","<key>__MIN","<key>__MAX"`` (every cell quoted, each key beside the band of values
a point stands for), and CSV files whose cells are quoted. Read from real files, through
the command line."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradlog.cli import cli

SPIKE_AT = 120  # the point whose loss jumps 40x and falls back


def _losses(points: int = 200, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    values = [2.3 * math.exp(-i / 50) + 0.1 + rng.uniform(-0.02, 0.02) for i in range(points)]
    values[SPIKE_AT] *= 40
    return values


def _report(path: Path, *options: str) -> dict:
    result = CliRunner().invoke(cli, ["diagnose", "--format", "json", *options, str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    report: dict = json.loads(result.output)["reports"][0]
    return report


def _ids(report: dict) -> set[str]:
    return {d["id"] for d in report["diagnoses"] if d["severity"] in ("warning", "error")}


def _tensorboard(path: Path) -> Path:
    rows = ["Wall time,Step,Value"]
    rows += [f"{1_709_287_261.96 + 3.5 * i},{10 * i},{v!r}" for i, v in enumerate(_losses())]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("name", "series"),
    [
        ("run-.-tag-train_loss.csv", "loss"),  # TensorBoard's own name for the download
        ("run-version_0-tag-loss.csv", "loss"),
        ("run-lr1e-3-tag-Loss_train.csv", "loss"),
        ("loss.csv", "loss"),  # renamed by the user: its name alone
        ("run-.-tag-val_loss.csv", "val_loss"),
    ],
)
def test_tensorboard_s_value_is_named_by_its_tag(tmp_path: Path, name: str, series: str) -> None:
    report = _report(_tensorboard(tmp_path / name))
    assert report["input"]["metrics"] == [series]
    assert report["input"]["records"] == 200 and report["input"]["last_step"] == 1990
    if series == "loss":
        spike = [d for d in report["diagnoses"] if d["id"] == "loss_spike"]
        assert spike and spike[0]["first_step"] == 10 * SPIKE_AT


@pytest.mark.parametrize(("name", "series"), [("export 3.csv", "export_3"), ("3.csv", "value")])
def test_tensorboard_s_value_without_a_tag_is_read_and_can_be_named(
    tmp_path: Path, name: str, series: str
) -> None:
    # No tag in the name: the series is named by the file (``value`` when its name is no
    # name), which the rules do not judge, and the report says so; ``--metric`` names it.
    path = _tensorboard(tmp_path / name)
    report = _report(path)
    assert report["input"]["metrics"] == [series] and _ids(report) == {"no_metrics"}
    assert "loss_spike" in _ids(_report(path, "--metric", f"loss={series}"))


def _wandb(path: Path, runs: tuple[str, ...]) -> Path:
    header = ['"Step"']
    for run in runs:
        header += [
            f'"{run} - train/loss"',
            f'"{run} - train/loss__MIN"',
            f'"{run} - train/loss__MAX"',
        ]
    rows = [",".join(header)]
    for i, v in enumerate(_losses()):
        band = [f'"{v!r}"', f'"{v * 0.9!r}"', f'"{v * 1.1!r}"'] * len(runs)
        rows.append(",".join([f'"{10 * i}"', *band]))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_wandb_s_export_of_one_run(tmp_path: Path) -> None:
    report = _report(_wandb(tmp_path / "wandb_export_2024-05-21.csv", ("eager-sun-3",)))
    assert report["input"]["metrics"] == ["loss"]  # the band is no series (nor a sum)
    assert report["input"]["records"] == 200
    spike = [d for d in report["diagnoses"] if d["id"] == "loss_spike"]
    assert spike and spike[0]["first_step"] == 10 * SPIKE_AT


def test_wandb_s_export_of_two_runs_keeps_their_names(tmp_path: Path) -> None:
    # Two runs in one chart: each column stays its run's, not one merged series.
    report = _report(_wandb(tmp_path / "two.csv", ("eager-sun-3", "lucky-dawn-4")))
    metrics = report["input"]["metrics"]
    assert any("eager" in m for m in metrics) and any("lucky" in m for m in metrics)


def test_a_csv_file_with_quoted_cells(tmp_path: Path) -> None:
    # pandas' ``to_csv(quoting=csv.QUOTE_ALL)``, spreadsheets: quotes around every cell.
    rows = ['"epoch","train_loss","val_loss"']
    rows += [f'"{e}","{1 / e:.4f}","{0.5 + abs(e - 5) / 10:.4f}"' for e in range(1, 16)]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(rows) + "\n")
    report = _report(path)
    assert report["input"]["metrics"] == ["loss", "val_loss"]
    assert report["input"]["records"] == 15 and "overfitting" in _ids(report)
