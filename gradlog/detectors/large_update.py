"""`large_update`: lr x grad_norm is a large fraction of the weights, record after record."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, where
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LR, PARAM_NORM

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block
else:
    from gradlog.lazy import numpy as np


def update_ratio(record: Record) -> float | None:
    """lr x grad_norm / param_norm, when all three are logged, finite and usable."""
    metrics = record.metrics
    # Most logs print no param_norm: ask for it first.
    param = metrics.get(PARAM_NORM)
    if param is None:
        return None
    lr, grad = metrics.get(LR), metrics.get(GRAD_NORM)
    if lr is None or grad is None:
        return None
    if not (math.isfinite(lr) and math.isfinite(grad) and math.isfinite(param)) or param <= 0:
        return None
    return abs(lr) * grad / param


class LargeUpdateDetector(Detector):
    """
    ## What it detects
    Records where the estimated relative update, lr x grad_norm / param_norm, stays
    above 0.1 for 3 or more records in a row (records that do not log all three of
    `lr`, `grad_norm` and `param_norm` are skipped). One diagnosis per stretch.

    The estimate is exact only for plain SGD without momentum, where the update is
    lr x gradient. With momentum the steady update is larger (about lr x g / (1 - beta));
    for Adam and other adaptive optimizers the size of each update is set by the
    learning rate and the number of weights rather than by the gradient norm, so the
    estimate is a heuristic there, not a bound: a high value still says that the
    gradient is large against the weights at the current learning rate. Logged grad
    norms are usually measured before clipping, which also makes the estimate high.

    ## Why it matters
    Practitioners aim for updates around a thousandth of the weights per step; when
    each step changes the weights by a tenth or more, the run is taking steps far
    larger than the local shape of the loss allows. It precedes loss spikes,
    oscillation and divergence, and usually means the learning rate is too high.

    ## Example
    ```
    step 300 | loss 1.41 | grad_norm 4.9 | lr 0.5 | param_norm 18.2
    step 310 | loss 1.52 | grad_norm 5.6 | lr 0.5 | param_norm 18.6      <- flagged
    step 320 | loss 1.38 | grad_norm 5.1 | lr 0.5 | param_norm 18.9
    ```

    ## Thresholds
    - `ratio` 0.1: the rule of thumb that ||dw|| / ||w|| should stay well below 0.1
      (healthy runs are nearer 1e-3).
    - `persist_records` 3: a single large step (the first step after a restart, a
      noisy batch) is not a pattern.

    The rule runs by default: it needs all three metrics in the same record, which few
    logs print, and where they are printed (Megatron with `--log-params-norm`, custom
    loops) healthy runs sit orders of magnitude below the threshold.
    """

    rule = Rule(
        id="large_update",
        min_records=4,
        title="Large relative update",
        severity=Severity.WARNING,
        summary="lr x grad_norm / param_norm stays above 0.1: each step changes the weights a lot.",
        why=(
            "Steps that change the weights by a tenth or more are far larger than the loss "
            "surface allows; spikes, oscillation or divergence usually follow."
        ),
        remedies=(
            "{lower_lr}, until lr x grad_norm / param_norm is nearer 1e-3.",
            "{clip}",
            "Add or lengthen warm-up: early gradients are large against freshly initialised "
            "weights.",
            "With plain SGD at a high learning rate, try SGD with momentum at a lower rate, or "
            "Adam.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.large_update
        self._reset()

    def _reset(self) -> None:
        self._first: Record | None = None
        self._last: Record | None = None
        self._peak: tuple[float, Record] | None = None
        self._count = 0
        self._reported = False

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        ratio = update_ratio(record)
        if ratio is None:
            return []
        if ratio <= self._limits.ratio:
            return self._close()
        if self._first is None:
            self._first = record
        self._last, self._count = record, self._count + 1
        if self._peak is None or ratio > self._peak[0]:
            self._peak = (ratio, record)
        if self._count >= self._limits.persist_records and not self._reported:
            self._reported = True
            return [self._report()]
        return []

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.small_block import with_next

        # Only records with all three metrics count. Among them, one above the ratio
        # extends a stretch, and the first one at or below it ends the stretch; the
        # others find nothing open and change nothing, so they need no visit at all.
        names = block.names
        if PARAM_NORM not in names or LR not in names or GRAD_NORM not in names:
            return []
        lr, grad = block.values(LR), block.values(GRAD_NORM)
        param = block.values(PARAM_NORM)
        usable = np.flatnonzero(
            np.isfinite(lr) & np.isfinite(grad) & np.isfinite(param) & (param > 0)
        )
        if not len(usable):
            return []
        # The same operations in the same order as update_ratio: the very same floats.
        with np.errstate(over="ignore"):  # Python floats overflow to inf quietly too
            ratio = np.abs(lr[usable]) * grad[usable] / param[usable]
        large = with_next(ratio > self._limits.ratio, self._first is not None)
        found: list[tuple[int, Diagnosis]] = []
        records = block.records
        for index in usable[large].tolist():
            diagnoses = self.observe(records[index])
            if diagnoses:
                found += [(index, diagnosis) for diagnosis in diagnoses]
        return found

    def finish(self) -> Iterable[Diagnosis]:
        return self._close()

    def _close(self) -> list[Diagnosis]:
        found = [self._report()] if self._reported else []
        self._reset()
        return found

    def _report(self) -> Diagnosis:
        first, last, peak = self._first, self._last, self._peak
        assert first is not None and last is not None and peak is not None
        ratio = update_ratio(first) or 0.0
        message = (
            f"estimated relative update lr x grad_norm / param_norm = {fmt(ratio)} at "
            f"{where(first)} (lr {fmt(first.metrics[LR])}, grad_norm "
            f"{fmt(first.metrics[GRAD_NORM])}, param_norm {fmt(first.metrics[PARAM_NORM])}), "
            f"above {self._limits.ratio:g} for {self._count} records to {where(last)}"
        )
        if peak[1] is not first:
            message += f"; peak {fmt(peak[0])} at {where(peak[1])}"
        pairs = [(first, m) for m in (LR, GRAD_NORM, PARAM_NORM)]
        pairs += [(peak[1], GRAD_NORM), (last, PARAM_NORM)]
        return self.diagnose(
            message,
            first,
            last,
            confidence=Confidence.MEDIUM,
            metric=GRAD_NORM,
            count=self._count,
            evidence=evidence_of(pairs),
        )
