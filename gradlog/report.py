"""Report: the diagnoses of one input with what was read; ReportSet: several inputs."""

from __future__ import annotations

import math
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from gradlog import lazy
from gradlog.model import Diagnosis, Severity, Step, step_value

if TYPE_CHECKING:
    from gradlog.curves import CurvePoints

T = TypeVar("T")


@dataclass(frozen=True)
class SeriesSummary:
    """A few numbers about one metric's series, kept instead of the series itself."""

    count: int
    first: float
    last: float
    minimum: float
    maximum: float
    nonfinite: int


@dataclass(frozen=True)
class InputSummary:
    """What gradlog read from one input."""

    name: str
    lines: int
    parsed_lines: int
    records: int
    dialects: tuple[str, ...]
    metrics: tuple[str, ...]
    first_step: Step | None
    last_step: Step | None
    numbered_steps: bool = False  # steps were numbered by gradlog (none printed)
    unparsed: tuple[str, ...] = ()  # the first few non-empty lines nothing was read from
    series: dict[str, SeriesSummary] = field(default_factory=dict)
    # Lines that hold a number but yielded nothing: how many, and the first few.
    unread_numeric: int = 0
    unread_examples: tuple[str, ...] = ()
    # Enabled rules the input had too few records for, each with the records it needs.
    unjudged: tuple[tuple[str, int], ...] = ()
    # The signal (SIGINT, SIGTERM) that cut the input short, if one did: what was read
    # is reported, but the rest of the log was never seen.
    interrupted: int | None = None
    # Each cap the input reached (see ``LIMITS``) and how many times; only those reached.
    limits: dict[str, int] = field(default_factory=dict)
    # The charted series (``curves.CHARTED``) the input prints, in buckets.
    curves: dict[str, CurvePoints] = field(default_factory=dict)
    # What the log calls a step: ``iteration``, ``num_updates``, ``epoch``... (``step``
    # when it names none, or gradlog numbered the records).
    step_name: str = "step"
    # Steps counted within the epoch (``[2][100/788]``): batches per epoch, the first
    # epoch's number and the first batch's; None for a log that counts steps globally.
    batches: tuple[int, int, int] | None = None
    # Where the log started a run again (``gradlog.restarts``): the line of each new run's
    # first record. Each run was judged as a log of its own.
    restarts: tuple[int, ...] = ()

    @property
    def incomplete(self) -> bool:
        """True when a signal ended the reading before the input did."""
        return self.interrupted is not None

    @property
    def interrupted_by(self) -> str | None:
        """The name of the signal that cut the input short (``SIGINT``), if any."""
        return None if self.interrupted is None else signal_name(self.interrupted)


# The caps that bound gradlog's time and memory on any input, as ``InputSummary.limits``
# names them, each with what happened past it (the report prints these).
LIMITS = {
    "cut_lines": "lines longer than 1 MiB, cut there",
    "long_lines": "lines longer than 16 KiB, read in their first 16 KiB",
    "many_numbers": "lines with more than 64 numbers, read up to the 64th",
    "rare_shapes": "lines of a new shape skipped while too many shapes were new",
    "names_dropped": "metric names past the 1,024th, not read",
    "nul_bytes": "NUL bytes leading the input (a preallocated file), skipped",
}


def position(step: Step, read: InputSummary) -> str:
    """A step as the log counts it: ``epoch 2, batch 100/788`` for a log that counts
    batches within each epoch, else ``iteration 320`` (``read.step_name``)."""
    if read.batches is not None and isinstance(step, int | float) and math.isfinite(step):
        total, first, base = read.batches
        epoch, batch = divmod(step - base, total)
        return f"epoch {step_value(epoch + first)}, batch {step_value(batch + base)}/{total}"
    return f"{read.step_name} {step}"


_STEP_MENTION = lazy.regex(r"\bstep (\d+)\b")


def told(message: str, read: InputSummary) -> str:
    """A rule's message with the steps it names as the log counts them (``step 150`` ->
    ``epoch 1, batch 150/2766`` or ``iteration 150``), for the report a person reads."""
    if read.step_name == "step" and read.batches is None:
        return message
    return _STEP_MENTION.sub(lambda m: position(int(m.group(1)), read), message)


def first_and_last(items: Sequence[T], limit: int) -> tuple[list[T], list[T]]:
    """What a page shows of a long list (a rule that told one episode a thousand times):
    all of ``items``, or the first ``limit - 1`` and the last; and what it leaves out,
    which goes just before the last (the machine formats keep every one)."""
    if len(items) <= limit:
        return list(items), []
    return [*items[: limit - 1], items[-1]], list(items[limit - 1 : -1])


def plural(n: int, noun: str) -> str:
    """``1 line``, ``2 lines``, ``1,204 lines``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def counts(diagnoses: tuple[Diagnosis, ...] | list[Diagnosis]) -> dict[str, int]:
    """How many diagnoses of each severity, as ``{"error": n, "warning": n, "info": n}``."""
    found = {str(s): 0 for s in sorted(Severity, reverse=True)}
    for diagnosis in diagnoses:
        found[str(diagnosis.severity)] += 1
    return found


@dataclass(frozen=True)
class Report:
    """The diagnoses of one input, most severe first within log order."""

    input: InputSummary
    diagnoses: tuple[Diagnosis, ...]
    # Ids of the detectors that ran on this input, in report order, as the engine records
    # them; None when not recorded (a Report built by hand).
    rules: tuple[str, ...] | None = None

    @property
    def summary(self) -> dict[str, int]:
        return counts(self.diagnoses)

    def worst(self) -> Severity | None:
        """The highest severity found, or None when there is no diagnosis."""
        return max((d.severity for d in self.diagnoses), default=None)

    def exit_code(self, fail_on: Severity = Severity.ERROR) -> int:
        """1 when a diagnosis is at or above ``fail_on``, else 0."""
        worst = self.worst()
        return int(worst is not None and worst >= fail_on)


@dataclass(frozen=True)
class ReportSet:
    """The reports of every input of one run, with one summary and one exit code."""

    reports: tuple[Report, ...]
    fail_on: Severity = Severity.ERROR

    @property
    def diagnoses(self) -> tuple[Diagnosis, ...]:
        return tuple(d for report in self.reports for d in report.diagnoses)

    @property
    def summary(self) -> dict[str, int]:
        return counts(self.diagnoses)

    @property
    def incomplete(self) -> bool:
        """True when a signal cut any input short: the report does not cover it all."""
        return any(report.input.incomplete for report in self.reports)

    def exit_code(self) -> int:
        """128 + N when signal N cut an input short (130 for SIGINT), as a shell reports
        a command the signal ended; else 1 when any input has a diagnosis at or above
        ``fail_on``, else 0."""
        for report in self.reports:
            if report.input.interrupted is not None:
                return 128 + report.input.interrupted
        return max((r.exit_code(self.fail_on) for r in self.reports), default=0)


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2; a number no signal has is shown as ``signal N``."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def finite_or_text(value: float) -> float | str:
    """A float for JSON: non-finite values become the strings "nan", "inf", "-inf"."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value
