"""The Python API: the engine and rules of the command line, called from a script."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import gradlog
from gradlog.model import Severity
from tests.helpers import SAMPLES


def _run(steps: int = 400) -> list[tuple[int, float, float, float]]:
    """A run that learns, then blows up: (step, loss, grad_norm, lr)."""
    rows = []
    for step in range(1, steps + 1):
        loss = 2.5 * math.exp(-step / 120) + 0.3 + 0.01 * math.sin(step)
        grad = 1.0 + 0.05 * math.cos(step)
        if step >= 300:
            grad *= 10 ** ((step - 299) / 5)
            loss *= 1 + (step - 299) / 3
        if step >= 320:
            loss = grad = math.nan
        rows.append((step, loss, grad, 3e-4))
    return rows


def test_the_same_numbers_get_the_same_diagnoses_printed_or_handed_over(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(
        "".join(
            f"step {s} | loss {loss:.6f} | grad_norm {g:.6f} | lr {lr}\n"
            for s, loss, g, lr in _run()
        )
    )
    printed = gradlog.diagnose(log)
    monitor = gradlog.Monitor()
    alerts = []
    for s, loss, g, lr in _run():
        alerts += monitor.log(s, loss=float(f"{loss:.6f}"), grad_norm=float(f"{g:.6f}"), lr=lr)
    handed = monitor.report()
    seen = [(d.id, d.first_step, d.severity) for d in printed.diagnoses]
    assert seen == [(d.id, d.first_step, d.severity) for d in handed.diagnoses]
    assert {"nan", "exploding_gradient"} <= {d.id for d in handed.diagnoses}
    # The NaN was told the moment its step was logged, not at the end.
    assert any(d.id == "nan" and d.first_step == 320 for d in alerts)


def test_names_are_read_as_in_a_log_and_a_mapping_works_too() -> None:
    monitor = gradlog.Monitor()
    monitor.log(1, {"train/loss": 2.0, "learning_rate": 1e-3}, note="not a number")
    report = monitor.report()
    assert report.input.metrics == ("loss", "lr")
    with pytest.raises(RuntimeError):
        monitor.log(2, loss=1.0)


def test_diagnose_takes_a_path_or_lines() -> None:
    path = SAMPLES / "exploding.log"
    by_path = gradlog.diagnose(str(path))
    by_lines = gradlog.diagnose(path.read_text().splitlines(), name="exploding")
    assert [d.id for d in by_path.diagnoses] == [d.id for d in by_lines.diagnoses]
    assert by_path.worst() is Severity.ERROR and by_lines.input.name == "exploding"


def test_the_readme_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (SAMPLES.parent / "README.md").read_text()
    section = readme[readme.index("## Python API") :]
    code = section[section.index("```python") + len("```python") : section.index("\n```\n")]
    monkeypatch.chdir(SAMPLES.parent)
    exec(compile(code, "README.md", "exec"), {})  # its own assert checks the outcome


def test_names_are_read_as_in_a_log() -> None:
    """A name outside the table joins its family, as a log's reader would have it."""
    monitor = gradlog.Monitor()
    for step in range(1, 30):
        monitor.log(step, {"optim/lr": 3e-4, "train/ce_loss": 2.0 / step})
    assert set(monitor.report().input.metrics) == {"lr", "loss"}
