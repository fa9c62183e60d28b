"""A guard for a hand-written PyTorch loop: call ``step`` after ``backward()``.

    guard = TorchGuard(model, optimizer, stop_on=("nan", "loss_spike"), report="run.json")
    for step, (x, y) in enumerate(loader, 1):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if guard.step(step, loss=loss):  # the grad norm and lr are read here
            break                        # a diagnosis in stop_on: stop before it costs more
        optimizer.step()
    guard.finish()                       # the report (also written to run.json)

``step`` reads the total grad norm of the model's gradients (as ``clip_grad_norm_``
computes it) and the optimizer's learning rate unless they are given, alerts on the
``gradlog`` logger, and says whether training should stop. Importing this module
imports torch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import torch

from gradlog.callbacks.guard import STOP_ON_DEFAULT, Guard
from gradlog.config import Config
from gradlog.model import Step
from gradlog.report import Report


def grad_norm(parameters: Iterable[Any]) -> float | None:
    """The 2-norm of all the parameters' gradients together, or None when none has one."""
    grads = [p.grad.detach() for p in parameters if p.grad is not None]
    if not grads:
        return None
    norms = torch.stack([torch.linalg.vector_norm(g, 2.0).float() for g in grads])
    return float(torch.linalg.vector_norm(norms, 2.0))


class TorchGuard:
    """Judges a hand-written loop's metrics (see the module's docstring); also a context
    manager that calls ``finish`` on leaving."""

    def __init__(
        self,
        model: torch.nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        stop_on: str | Iterable[str] = STOP_ON_DEFAULT,
        report: str | os.PathLike[str] | None = None,
        config: Config | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.guard = Guard(stop_on=stop_on, report=report, config=config, logger=logger)

    @property
    def stopped(self) -> bool:
        return self.guard.stopped is not None

    def step(self, step: Step | None = None, /, **metrics: Any) -> bool:
        """Take a step's metrics (numbers or one-element tensors: ``loss=loss``), with the
        grad norm and the learning rate unless given; return whether to stop."""
        if self.model is not None and "grad_norm" not in metrics:
            metrics["grad_norm"] = grad_norm(self.model.parameters())
        if self.optimizer is not None and "lr" not in metrics:
            metrics["lr"] = self.optimizer.param_groups[0].get("lr")
        return self.guard.observe(step, metrics)

    def finish(self) -> Report:
        """The run's report (written to ``report`` when given)."""
        return self.guard.finish()

    def __enter__(self) -> TorchGuard:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.finish()
