"""`no_metrics`: firing case beside a near miss, through the engine."""

from __future__ import annotations

from tests.helpers import analyze_text


def test_prose_only_log_fires() -> None:
    found = analyze_text("Starting training on 8 GPUs\nSaving checkpoint to out/\n")
    assert [d.id for d in found] == ["no_metrics"]


def test_a_single_loss_value_is_enough() -> None:
    assert analyze_text("Starting\nstep 1 loss 2.3\n") == []
