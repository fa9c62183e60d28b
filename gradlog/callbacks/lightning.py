"""A Lightning callback: ``Trainer(..., callbacks=[GradlogCallback()])``.

At each optimizer step it reads the training loss the step returned, the grad norm of
the module's gradients (before the optimizer uses them, after AMP unscaled them), and
every metric the module logged since the last step (``self.log``: a value logged anew;
an epoch's mean counts once, when it is made), at ``trainer.global_step``. Validation
metrics are read when validation ends. It alerts on the ``lightning.pytorch`` logger,
stops training with ``trainer.should_stop`` on the ids in ``stop_on``, and writes the
report when training ends. Importing this module imports lightning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from lightning.pytorch import Callback

from gradlog.callbacks.guard import STOP_ON_DEFAULT, Guard
from gradlog.callbacks.torch import grad_norm
from gradlog.config import Config
from gradlog.report import Report


class GradlogCallback(Callback):
    """Diagnoses the run as Lightning trains it (see the module's docstring)."""

    def __init__(
        self,
        *,
        stop_on: str | Iterable[str] = STOP_ON_DEFAULT,
        report: str | os.PathLike[str] | None = None,
        config: Config | None = None,
        grad_norms: bool = True,
    ) -> None:
        self.guard = Guard(
            stop_on=stop_on,
            report=report,
            config=config,
            logger=logging.getLogger("lightning.pytorch.gradlog"),
        )
        self.grad_norms = grad_norms
        self._norm: float | None = None
        self._seen: dict[str, int] = {}  # id() of each metric's value when last read
        self._step = -1  # the global step last read

    @property
    def report(self) -> Report | None:
        """The report, once training ended."""
        return self.guard.result

    def _fresh(self, metrics: Mapping[str, Any], validation: bool) -> dict[str, Any]:
        """The metrics logged anew since last read (Lightning makes a new tensor for each
        value logged), training or validation ones."""
        found = {}
        for name, value in metrics.items():
            if name.startswith(("val", "valid")) != validation:
                continue
            if self._seen.get(name) != id(value):
                self._seen[name] = id(value)
                found[name] = value
        return found

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.grad_norms:
            self._norm = grad_norm(pl_module.parameters())

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if step == self._step:
            return  # accumulating gradients: the optimizer has not stepped yet
        self._step = step
        metrics: dict[str, Any] = {}
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if loss is not None:
            metrics["loss"] = loss
        if self._norm is not None:
            metrics["grad_norm"], self._norm = self._norm, None
        metrics.update(self._fresh(trainer.callback_metrics, validation=False))
        if self.guard.observe(step, metrics, epoch=trainer.current_epoch):
            trainer.should_stop = True

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        held_out = self._fresh(trainer.callback_metrics, validation=True)
        if held_out and self.guard.observe(
            trainer.global_step, held_out, epoch=trainer.current_epoch
        ):
            trainer.should_stop = True

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.is_global_zero:
            self.guard.finish()
