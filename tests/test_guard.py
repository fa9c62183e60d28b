"""``Guard``, the part every callback shares, without any framework: what it takes,
when it says stop, what it logs and the report it writes."""

from __future__ import annotations

import json
import logging
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradlog.callbacks import Guard
from gradlog.callbacks.guard import number, stop_ids


def _run(guard: Guard, nan_at: int = 30, steps: int = 60) -> int | None:
    """Feed a healthy descent that goes NaN at ``nan_at``; the step it stopped at."""
    for step in range(1, steps + 1):
        loss = math.nan if step >= nan_at else 2.0 * math.exp(-step / 20) + 0.3
        if guard.observe(step, {"loss": np.float32(loss), "grad_norm": 1.0, "note": "text"}):
            return step
    return None


def test_stops_at_the_step_a_stop_on_diagnosis_appears(tmp_path: Path) -> None:
    guard = Guard(report=tmp_path / "run.json")
    assert _run(guard) == 30
    assert guard.stopped is not None and guard.stopped.id == "nan"
    report = guard.finish()
    assert guard.finish() is report  # once
    written = json.loads((tmp_path / "run.json").read_text())
    assert [d["id"] for d in written["reports"][0]["diagnoses"]] == ["nan"]


def test_an_empty_stop_on_only_alerts(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="gradlog")
    guard = Guard(stop_on=())
    assert _run(guard) is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].startswith("gradlog: error nan at step 30: ")
    assert "Try: " in errors[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float32(1.5), 1.5),
        (np.array([2.5]), 2.5),
        (3, 3.0),
        (Decimal("0.25"), 0.25),
        ("text", None),
        ([1.0, 2.0], None),
        (True, None),
        (np.bool_(True), None),
        (None, None),
    ],
)
def test_number_takes_scalars_only(value: object, expected: float | None) -> None:
    assert number(value) == expected


def test_stop_on_is_checked() -> None:
    assert stop_ids("nan, loss_spike") == {"nan", "loss_spike"}
    with pytest.raises(ValueError, match="unknown diagnosis id nope"):
        stop_ids(["nan", "nope"])


@pytest.mark.parametrize(
    ("name", "opening"),
    [("r.md", "#"), ("r.html", "<!DOCTYPE html>"), ("r.xml", "<?xml"), ("r.txt", "")],
)
def test_the_report_format_follows_its_name(tmp_path: Path, name: str, opening: str) -> None:
    guard = Guard(report=tmp_path / name)
    _run(guard)
    guard.finish()
    text = (tmp_path / name).read_text()
    assert text.lstrip().startswith(opening) and "nan" in text


def test_a_report_that_cannot_be_written_does_not_end_training(tmp_path: Path, caplog: Any) -> None:
    guard = Guard(report=tmp_path)  # a directory
    _run(guard)
    assert guard.finish().diagnoses
    assert any("could not write the report" in r.getMessage() for r in caplog.records)
