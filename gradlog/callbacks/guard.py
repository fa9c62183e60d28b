"""What every callback does with the metrics its framework hands it (``Guard``)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping

from gradlog.api import Monitor
from gradlog.config import Config
from gradlog.model import Diagnosis, Severity, Step
from gradlog.report import Report, ReportSet

# The format a report file is written in, by the end of its name; any other: plain text.
_BY_SUFFIX = {
    ".json": "json",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
    ".sarif": "sarif",
    ".xml": "junit",
}
STOP_ON_DEFAULT = ("nan",)  # as Keras's TerminateOnNaN, but seen in any metric


def stop_ids(stop_on: str | Iterable[str]) -> frozenset[str]:
    """The diagnosis ids that stop training: an iterable of ids, or one string of them
    separated by commas (as ``gradlog run --stop-on``); ValueError for an unknown id."""
    from gradlog.detectors import RULES

    parts = stop_on.split(",") if isinstance(stop_on, str) else stop_on
    ids = frozenset(part.strip() for part in parts if part.strip())
    unknown = sorted(ids - RULES.keys())
    if unknown:
        known = ", ".join(RULES)
        raise ValueError(f"stop_on: unknown diagnosis id {', '.join(unknown)} (known: {known})")
    return ids


def number(value: object) -> float | None:
    """A metric's value as a float: a Python or NumPy number, a one-element tensor; None
    for anything else (a string, a list, a tensor of several values)."""
    item = getattr(value, "item", None)  # a NumPy value or a tensor, of one element
    if callable(item):
        try:
            value = item()
        except (TypeError, ValueError, RuntimeError):  # of several elements
            return None
    if isinstance(value, bool):
        return None  # a flag, not a measurement
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        return None


class Guard:
    """Judges a run from inside it: ``observe`` takes each logging step's metrics and
    says whether training should stop; ``finish`` gives the report (and writes it).

    - Every diagnosis that is new or more severe is logged on ``logger`` (the
      framework's): errors as errors, warnings as warnings, the rest as info.
    - Training should stop once a diagnosis whose id is in ``stop_on`` appears at
      warning or above (the rule of ``gradlog run --stop-on``); ``stopped`` is that
      diagnosis. An empty ``stop_on`` only alerts.
    - ``report``: a path the report is written to at the end, in the format its name
      ends with (.json, .md, .html, .sarif, .xml for JUnit; else plain text).
    """

    def __init__(
        self,
        *,
        stop_on: str | Iterable[str] = STOP_ON_DEFAULT,
        report: str | os.PathLike[str] | None = None,
        config: Config | None = None,
        logger: logging.Logger | None = None,
        name: str = "training run",
    ) -> None:
        self.stop_on = stop_ids(stop_on)
        self.report_path = None if report is None else os.fspath(report)
        self.logger = logger or logging.getLogger("gradlog")
        self.monitor = Monitor(config, name)
        self.stopped: Diagnosis | None = None  # the diagnosis that stopped training
        self.result: Report | None = None  # the report, once training ended

    def observe(
        self, step: Step | None, metrics: Mapping[str, object], epoch: Step | None = None
    ) -> bool:
        """Take one logging step's metrics (numbers, NumPy scalars or one-element
        tensors; anything else is left out); return whether training should stop."""
        if self.result is not None:
            return self.stopped is not None  # training ended: nothing more to judge
        values = {
            name: found for name, value in metrics.items() if (found := number(value)) is not None
        }
        if not values:
            return self.stopped is not None
        if isinstance(step, float) and not math.isfinite(step):
            step = None
        for diagnosis in self.monitor.log(step, values, epoch=epoch):
            self._alert(diagnosis)
            if (
                self.stopped is None
                and diagnosis.id in self.stop_on
                and diagnosis.severity >= Severity.WARNING
            ):
                self.stopped = diagnosis
                self.logger.error(
                    "gradlog: stopping training at step %s (%s)", _step(step), diagnosis.id
                )
        return self.stopped is not None

    def finish(self) -> Report:
        """The run's report (once: later calls give the same); written to ``report``
        when one was given, and summed up on the logger."""
        if self.result is not None:
            return self.result
        self.result = report = self.monitor.report()
        worst = report.worst()
        found = ", ".join(f"{d.id} at step {_step(d.first_step)}" for d in report.diagnoses)
        summary = f"gradlog: {len(report.diagnoses)} diagnoses" + (f" ({found})" if found else "")
        if worst is not None and worst >= Severity.WARNING:
            self.logger.warning(summary)
        else:
            self.logger.info(summary)
        if self.report_path is not None:
            self._write(report, self.report_path)
        return report

    def _alert(self, diagnosis: Diagnosis) -> None:
        level = {Severity.ERROR: logging.ERROR, Severity.WARNING: logging.WARNING}.get(
            diagnosis.severity, logging.INFO
        )
        remedy = f" Try: {diagnosis.remedies[0]}" if diagnosis.remedies else ""
        self.logger.log(
            level,
            "gradlog: %s %s at step %s: %s%s",
            diagnosis.severity,
            diagnosis.id,
            _step(diagnosis.first_step),
            diagnosis.message,
            remedy,
        )

    def _write(self, report: Report, path: str) -> None:
        from gradlog.cli.common import write_output
        from gradlog.formatters import FORMATTERS

        name = _BY_SUFFIX.get(os.path.splitext(path)[1].lower(), "plain")
        try:
            write_output(path, FORMATTERS[name](ReportSet((report,))))
        except Exception as error:  # a report that cannot be written must not end training
            self.logger.error("gradlog: could not write the report to %s: %s", path, error)
        else:
            self.logger.info("gradlog: report written to %s", path)


def _step(step: Step | None) -> str:
    if step is None:
        return "?"
    return str(int(step)) if isinstance(step, float) and step.is_integer() else str(step)
