"""A Keras 3 callback: ``model.fit(..., callbacks=[GradlogCallback()])``.

It reads the logs of every training batch (Keras's running means of the epoch) at a
global batch count, and the epoch's validation values at its end; alerts on the
``keras`` logger; stops training with ``model.stop_training`` on the ids in
``stop_on`` (at the batch where the diagnosis appears, as ``TerminateOnNaN`` does for a
NaN loss); and writes the report when training ends. Importing this module imports
keras.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import keras

from gradlog.callbacks.guard import STOP_ON_DEFAULT, Guard
from gradlog.config import Config
from gradlog.report import Report


class GradlogCallback(keras.callbacks.Callback):
    """Diagnoses the run as Keras logs it (see the module's docstring)."""

    def __init__(
        self,
        *,
        stop_on: str | Iterable[str] = STOP_ON_DEFAULT,
        report: str | os.PathLike[str] | None = None,
        config: Config | None = None,
    ) -> None:
        super().__init__()
        self.guard = Guard(
            stop_on=stop_on, report=report, config=config, logger=logging.getLogger("keras.gradlog")
        )
        self._batches = 0  # training batches so far, over all epochs: the step
        self._epoch = 0

    @property
    def report(self) -> Report | None:
        """The report, once training ended."""
        return self.guard.result

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        if logs and self.guard.observe(self._batches, logs, epoch=self._epoch):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # The training values were seen at the epoch's last batch: only validation is new.
        held_out = {k: v for k, v in (logs or {}).items() if k.startswith("val_")}
        if held_out and self.guard.observe(self._batches, held_out, epoch=epoch):
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.guard.finish()
