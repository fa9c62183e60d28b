"""Frozen data types shared by every stage: records in, diagnoses out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import NamedTuple

Step = int | float
EpisodeKey = tuple[str, "Step | None", "int | None"]  # rule id, first step, first line


class Severity(IntEnum):
    """How bad a diagnosis is; ordered so that ``ERROR > WARNING > INFO``."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read a severity from its lower-case name (``"warning"``)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(str(s) for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {names})") from None


class Confidence(Enum):
    """How sure the detector is; a separate axis from severity."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    def __str__(self) -> str:
        return self.value


def step_value(value: float) -> Step:
    """Return ``value`` as an int when it is integral, so steps print as printed."""
    if math.isfinite(value) and value == int(value):
        return int(value)
    return value


class Record(NamedTuple):
    """One logical step of training, with canonical metric names."""

    step: Step
    line: int
    metrics: dict[str, float] = {}  # noqa: RUF012  (never changed: records are values)
    epoch: Step | None = None
    bits: bool = False  # losses printed in bits (base 2, fairseq), not nats

    def get(self, name: str) -> float | None:
        """The value of metric ``name``, or None when this record lacks it."""
        return self.metrics.get(name)


class Evidence(NamedTuple):
    """One value that supports a diagnosis, with where it was read."""

    step: Step
    line: int
    metric: str
    value: float


@dataclass(frozen=True)
class Diagnosis:
    """A finding: the flat record every formatter understands."""

    id: str
    title: str
    severity: Severity
    confidence: Confidence
    message: str
    metric: str | None
    first_step: Step | None
    last_step: Step | None
    line: int | None
    count: int = 1
    evidence: tuple[Evidence, ...] = ()
    remedies: tuple[str, ...] = ()

    @property
    def key(self) -> EpisodeKey:
        """Identity of the episode: a detector may re-issue it with new facts.

        The line is part of it because step numbers can repeat in one log (a resumed
        run, two runs in one file), and a second episode must not hide the first.
        """
        return (self.id, self.first_step, self.line)
