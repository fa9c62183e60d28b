"""`no_metrics`: nothing in the input looked like a training metric."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import ACC, GRAD_NORM, LOSS, PARAM_NORM, VAL_ACC, VAL_LOSS
from gradlog.report import plural

if TYPE_CHECKING:
    from gradlog.detectors.block import Block

TRAINING_METRICS = frozenset({LOSS, VAL_LOSS, ACC, VAL_ACC, GRAD_NORM, PARAM_NORM})
_NAMED = 4  # other series named in the message
_KEPT = 256  # other series counted (a log of a thousand names keeps the first)


class NoMetricsDetector(Detector):
    """
    ## What it detects
    An input in which gradlog found no loss, accuracy, gradient norm or parameter norm
    (nor any other value whose name contains "loss").

    It is an error when nothing was read at all, and a warning when other series were
    read (a reinforcement-learning log of returns and frames per second: readable, but
    nothing in it is what the rules judge).

    ## Why it matters
    Without it a log gradlog did not understand would look like a clean bill of health.
    This says plainly that nothing was checked.

    ## Example
    ```
    Starting training...
    Saving checkpoint to out/      <- no metric anywhere: flagged
    ```

    ## Thresholds
    - none: it fires when the whole input has no training metric.
    - It always runs, whatever `--select`, `--ignore` or the configuration file say: a
      selection must never turn an unread log into a pass.
    """

    rule = Rule(
        id="no_metrics",
        title="No training metrics found",
        severity=Severity.ERROR,
        summary="Nothing in the input looked like a training metric.",
        why=(
            "A log gradlog cannot read would otherwise look like a clean bill of health; nothing "
            "was checked."
        ),
        remedies=(
            "Check that the file is the training log (stdout/stderr of the job), not another file.",
            "If the log names its metrics unusually, map them: --metric loss=NAME "
            "(or [tool.gradlog.metrics] in pyproject.toml).",
            "Make the training script print the loss, and ideally the gradient norm, "
            "every N steps.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._records = 0
        self._found = False
        # How many values of each other series were read (the first ``_KEPT`` names
        # seen), so that the message names the log's main series, not its chatter.
        self._other: Counter[str] = Counter()

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        self._records += 1
        if not self._found:
            self._seen(dict.fromkeys(record.metrics, 1))
        return ()

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        # Only a count and a yes/no over every name seen: the block's names answer both.
        self._records += len(block)
        if not self._found:
            self._seen({name: int(block.present(name).sum()) for name in block.names})
        return []

    def _seen(self, counts: dict[str, int]) -> None:
        """The series read, by how many values each: a training metric ends the search."""
        self._found = any(n in TRAINING_METRICS or "loss" in n for n in counts)
        if self._found:
            return
        for name, count in counts.items():
            if name in self._other or len(self._other) < _KEPT:
                self._other[name] += count

    def finish(self) -> Iterable[Diagnosis]:
        if self._found:
            return ()
        message = (
            f"found no training metric in {plural(self._records, 'record')}: gradlog could not "
            "read this log, so nothing was checked"
            if self._records
            else "found no training metric at all: gradlog could not read this log, so "
            "nothing was checked"
        )
        severity = None
        if self._other:  # readable: other series, none the rules judge
            severity = Severity.WARNING
            named = [  # (the most values first; a tie in the order first read)
                f"{name} ({plural(count, 'value')})"
                for name, count in self._other.most_common(_NAMED)
            ]
            more = len(self._other) - len(named)
            message = (
                f"found no loss, accuracy or gradient norm in {plural(self._records, 'record')}, "
                f"only {', '.join(named)}{f' and {more} more' if more else ''}: nothing in this "
                "log is what the rules judge"
            )
        first = Record(step=0, line=1)
        diagnosis = self.diagnose(message, first, confidence=Confidence.HIGH, severity=severity)
        return [replace(diagnosis, first_step=None, last_step=None, line=None)]
