"""`no_metrics`: firing case beside a near miss, through the engine."""

from __future__ import annotations

from gradlog.config import Config
from gradlog.engine import analyze
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


def test_the_message_names_the_series_read_most_first() -> None:
    # A device banner's numbers come first in the log, the returns after: the message
    # names the series the log is made of, not the banner's, in blocks and line by line.
    banner = "Created device /job:localhost/replica:0/task:0/device:GPU:0 with 13582 MB memory\n"
    returns = "".join(f"running reward: {9 + i:.2f} at episode {10 * i}\n" for i in range(1, 400))
    (found,) = analyze_text(banner + returns)
    assert "only running_reward (399 values)," in found.message
    (found,) = analyze((banner + returns).splitlines(keepends=True), "test", Config()).diagnoses
    assert "only running_reward (399 values)," in found.message
