"""The Python API: a log diagnosed in one call, or metrics judged as a run logs them.

    report = gradlog.diagnose("train.log")           # a path, or any iterable of lines
    monitor = gradlog.Monitor()
    for step in range(steps):
        ...
        for diagnosis in monitor.log(step, loss=loss, grad_norm=norm, lr=lr):
            print(diagnosis.severity, diagnosis.message)
    report = monitor.report()

Both run the engine and the rules the command line runs, so the same numbers get the
same diagnoses whether they were printed or handed over. Metric names are read as in a
log (``learning_rate`` is ``lr``, ``train/loss`` is ``loss``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping

from gradlog.config import Config
from gradlog.engine import Engine, analyze
from gradlog.model import Diagnosis, Record, Step, step_value
from gradlog.parse.families import Families
from gradlog.parse.names import NameTable
from gradlog.report import Report
from gradlog.sources import open_input


def diagnose(
    source: str | os.PathLike[str] | Iterable[str],
    *,
    name: str | None = None,
    config: Config | None = None,
) -> Report:
    """The report of one log: ``source`` is a path (plain or compressed) or an iterable
    of its lines; ``name`` is what the report calls it (the path by default)."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        return analyze(open_input(path), name or path, config)
    return analyze(source, name or "-", config)


class Monitor:
    """Judges a run's metrics as it logs them: ``log`` returns the diagnoses that are new
    or more severe, ``report`` the whole report so far."""

    def __init__(self, config: Config | None = None, name: str = "monitor") -> None:
        self.config = config or Config()
        self._engine = Engine(name, self.config)
        self._names = NameTable(self.config.metric_names)
        self._families = Families()  # as a log's reader: ``optim/lr`` is the lr
        self._count = 0
        self._done = False

    def log(
        self,
        step: Step | None = None,
        metrics: Mapping[str, float] | None = None,
        *,
        epoch: Step | None = None,
        **values: float,
    ) -> list[Diagnosis]:
        """Take one step's metrics, as a mapping or as keywords (``loss=2.3``); the step
        counts on from the last one when not given. Values that are not numbers are
        left out; NaN and infinities are kept (they are the point)."""
        if self._done:
            raise RuntimeError("the monitor's report was taken: start a new Monitor")
        read: dict[str, float] = {}
        for key, value in {**(metrics or {}), **values}.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            read[self._names.canonical(key)] = number
        self._families.resolve(read)
        self._count += 1
        if step is None:
            step = self._count
        record = Record(
            step_value(float(step))
            if isinstance(step, int | float) and math.isfinite(step)
            else step,
            self._count,
            read,
            epoch,
        )
        return self._engine.observe([record])

    def report(self) -> Report:
        """Every diagnosis of the run so far, with its summary; the monitor is done."""
        self._done = True
        return self._engine.finish()
