"""An HF ``transformers.TrainerCallback``: ``Trainer(..., callbacks=[GradlogCallback()])``.

It reads every dict the Trainer logs (``on_log``: loss, grad_norm, learning_rate,
eval_loss...) at the Trainer's global step, alerts on the ``transformers`` logger, stops
training with ``control.should_training_stop`` on the ids in ``stop_on``, and writes the
report when training ends. Importing this module imports transformers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from transformers import TrainerCallback
from transformers.utils import logging

from gradlog.callbacks.guard import STOP_ON_DEFAULT, Guard
from gradlog.config import Config
from gradlog.report import Report

# The Trainer's last log is the run's summary (``train_runtime``, ``train_loss``: the
# mean of the whole run), not a step.
_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second")


class GradlogCallback(TrainerCallback):
    """Diagnoses the run as the Trainer logs it (see the module's docstring)."""

    def __init__(
        self,
        *,
        stop_on: str | Iterable[str] = STOP_ON_DEFAULT,
        report: str | os.PathLike[str] | None = None,
        config: Config | None = None,
    ) -> None:
        self.guard = Guard(
            stop_on=stop_on,
            report=report,
            config=config,
            logger=logging.get_logger("transformers.gradlog"),
        )

    @property
    def report(self) -> Report | None:
        """The report, once training ended."""
        return self.guard.result

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any
    ) -> None:
        if not logs or any(key in logs for key in _SUMMARY_KEYS):
            return
        if self.guard.observe(state.global_step, logs, epoch=logs.get("epoch")):
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        if state.is_world_process_zero:
            self.guard.finish()
