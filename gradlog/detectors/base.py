"""The Rule and Detector contract, and small helpers detectors share."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from gradlog.config import Thresholds
from gradlog.detectors.window import sorted_median
from gradlog.model import Confidence, Diagnosis, Evidence, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS

if TYPE_CHECKING:
    from gradlog.detectors.block import Block


@dataclass(frozen=True)
class Rule:
    """A detector's identity, as data: stable id, title, default severity, remedies."""

    id: str
    title: str
    severity: Severity
    summary: str  # one line for `gradlog rules`
    why: str  # one or two sentences on why it matters, shown in the report
    remedies: tuple[str, ...]
    default_enabled: bool = True
    # Records a run must have before this rule can judge it: its shortest window (early
    # level plus a jump, a run of alternations, a divergence window). Fewer, and the
    # report says the rule could not judge rather than "no problems".
    min_records: int = 1


class Detector:
    """A streaming detector: ``observe`` each record in order, then ``finish`` once.

    Detectors are pure: no I/O, no clock, bounded state. A detector may report the same
    episode (same id and first step) again with new facts; the engine keeps the latest.
    """

    rule: ClassVar[Rule]

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        """Look at one record; return any diagnosis it starts, updates or ends."""
        return ()

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        """Look at every record of ``block`` in order: exactly what ``observe`` returns
        for each, tagged with the record's index in the block, and the same state after.

        This default calls ``observe`` on each record. A rule overrides it to screen the
        block with array operations and look closely only where the screen flags, with
        ``replay``."""
        found: list[tuple[int, Diagnosis]] = []
        observe = self.observe
        for index, record in enumerate(block.records):
            diagnoses = observe(record)
            if diagnoses:
                found += [(index, diagnosis) for diagnosis in diagnoses]
        return found

    def observe_each(self, records: Iterable[Record]) -> None:
        """``observe`` each of ``records``, which a screen showed to report nothing: for
        a stretch too short to be worth advancing in bulk."""
        observe = self.observe
        for record in records:
            observe(record)

    def replay(
        self,
        block: Block,
        flagged: Iterable[int],
        advance: Callable[[Block, int, int], None],
    ) -> list[tuple[int, Diagnosis]]:
        """``observe_block`` from a screen: ``observe`` each ``flagged`` index (ascending)
        and let ``advance(block, start, end)`` update the state over the records between
        them in bulk, as ``observe`` would on records it finds nothing in."""
        found: list[tuple[int, Diagnosis]] = []
        start = 0
        records = block.records
        for index in flagged:
            if index > start:
                advance(block, start, index)
            diagnoses = self.observe(records[index])
            if diagnoses:
                found += [(index, diagnosis) for diagnosis in diagnoses]
            start = index + 1
        if start < len(records):
            advance(block, start, len(records))
        return found

    def finish(self) -> Iterable[Diagnosis]:
        """The input ended; return what is still open."""
        return ()

    def diagnose(
        self,
        message: str,
        first: Record,
        last: Record | None = None,
        *,
        severity: Severity | None = None,
        confidence: Confidence = Confidence.HIGH,
        metric: str | None = None,
        count: int = 1,
        evidence: Sequence[Evidence] = (),
    ) -> Diagnosis:
        """Stamp the rule's identity, defaults, step and line onto a finding."""
        return Diagnosis(
            id=self.rule.id,
            title=self.rule.title,
            severity=self.rule.severity if severity is None else severity,
            confidence=confidence,
            message=message,
            metric=metric,
            first_step=first.step,
            last_step=(last or first).step,
            line=first.line,
            count=count,
            evidence=tuple(evidence),
            remedies=self.rule.remedies,
        )


_isfinite = math.isfinite


def finite(value: float | None) -> bool:
    """True for a real, finite number (None and NaN/Inf are not)."""
    return value is not None and math.isfinite(value)


def evidence(record: Record, metric: str) -> Evidence | None:
    """The value of ``metric`` in ``record`` as evidence, if the record has it."""
    value = record.get(metric)
    return None if value is None else Evidence(record.step, record.line, metric, value)


def evidence_of(pairs: Iterable[tuple[Record, str]]) -> tuple[Evidence, ...]:
    """Evidence for each (record, metric) pair that has a value."""
    found = (evidence(record, metric) for record, metric in pairs)
    return tuple(dict.fromkeys(item for item in found if item is not None))


def loss_is_nan(record: Record) -> bool:
    """The training loss is non-finite, or hidden as 0.0 beside a non-finite grad norm.

    HF Trainer replaces a non-finite loss by the mean of the finite ones in its logging
    window, so a window of only bad steps prints ``'loss': 0.0``; the grad norm is not
    filtered, and a non-finite one beside it is the giveaway.
    """
    # The hottest helper (several calls per record): one dict lookup in the common case.
    metrics = record.metrics
    loss = metrics.get(LOSS)
    if loss is None:
        return False
    if not _isfinite(loss):
        return True
    if loss != 0.0:
        return False
    grad = metrics.get(GRAD_NORM)
    return grad is not None and not _isfinite(grad)


def where(record: Record) -> str:
    """How to name the record's position in a message: ``step 120`` or ``epoch 9``."""
    if record.epoch is not None and record.epoch == record.step:
        return f"epoch {record.step}"
    return f"step {record.step}"


def fmt(value: float) -> str:
    """A number for a message: short, and exact for NaN/Inf."""
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.2e}"
    return f"{value:.5g}"


def factor(value: float) -> str:
    """A ratio for a message: ``12.3x``, ``256x`` from 100 on, ``1.5e+308x`` when huge
    (never 300 digits)."""
    if math.isfinite(value) and abs(value) < 100:
        return f"{value:.1f}x"
    if math.isfinite(value) and abs(value) < 1e5:
        return f"{value:.0f}x"
    return f"{value:.3g}x"


def median(values: Iterable[float]) -> float:
    """The median of non-empty values (any iterable: a deque needs no list copy)."""
    return sorted_median(sorted(values))
