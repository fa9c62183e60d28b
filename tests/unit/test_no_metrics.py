"""`no_metrics`: firing case beside a near miss, through the engine."""

from __future__ import annotations

from gradlog.model import Severity
from tests.helpers import analyze_text


def test_prose_only_log_fires() -> None:
    found = analyze_text("Starting training on 8 GPUs\nSaving checkpoint to out/\n")
    assert [d.id for d in found] == ["no_metrics"]


def test_a_single_loss_value_is_enough() -> None:
    assert analyze_text("Starting\nstep 1 loss 2.3\n") == []


def test_a_log_of_other_series_is_a_warning_that_names_them() -> None:
    # A reinforcement-learning log (CleanRL) is read, but nothing in it is judged: said
    # at warning, not as an unreadable log (an error fails a CI job on a healthy run).
    text = "".join(f"global_step={i * 512}, episodic_return={20 + i}\n" for i in range(1, 9))
    (found,) = analyze_text(text)
    assert found.id == "no_metrics" and found.severity == Severity.WARNING
    assert "episodic_return" in found.message


def test_an_unread_log_is_still_an_error() -> None:
    (found,) = analyze_text("Starting training on 8 GPUs\nSaving checkpoint to out/\n")
    assert found.severity == Severity.ERROR
