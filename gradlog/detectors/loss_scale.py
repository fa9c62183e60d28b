"""`loss_scale_collapse`: the fp16 dynamic loss scale keeps falling, or hits its minimum."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, where
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.events import OVERFLOW, SCALE_AT_MINIMUM
from gradlog.parse.names import LOSS, LOSS_SCALE

_GROWTH_GAP = 3  # clean records before an equal reduction counts as unseen growth


class LossScaleCollapseDetector(Detector):
    """
    ## What it detects
    A mixed-precision (fp16) dynamic loss scale that keeps shrinking:

    - the scaler says it cannot go lower ("already at minimum", "Minimum loss scale
      reached"): an error;
    - the scale falls 256x (8 halvings) without ever growing back in between: a
      warning, an error once it is down to 1 or below;
    - the scale ends 4096x (12 halvings) below its highest value since calibration,
      even if it grew back now and then: the same;
    - after a fall of 16x or more without growing back, overflow-skipped steps show up
      in half of the last 20 records and the scale never grows among them: a warning.

    The episode starts where the scale began its last fall without growing back. A
    burst of overflows and halvings at the start of a run is the scaler calibrating
    (Megatron, DeepSpeed and apex start at 2^16 to 2^32 and halve until the gradients
    fit), and a rare overflow later is the scaler probing upward: neither is reported.
    A low scale by itself is not a collapse either: bf16 runs print a constant 1,
    fairseq runs can sit at 0.5-1 for good (their losses are sums over tokens), and
    with many GPUs a scaler may overflow in every logging interval while its scale
    holds steady.

    ## Why it matters
    The loss scale is lowered every time the scaled gradients overflow fp16. When it
    keeps falling, the gradients themselves are overflowing (they are exploding), or a
    NaN is produced inside the model whatever the scale. Each overflow skips an update,
    so the run stops learning, and a scale near 1 lets small gradients underflow to zero.

    ## Example
    ```
    step  290 | loss 1.1743 | lr 2.0e-04      <- flagged (the overflows below are its own)
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 4096, reducing to 2048
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2048, reducing to 1024
    step  300 | loss 1.2150 | lr 2.0e-04
    ...
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2, reducing to 1
    [deepspeed] Current loss scale already at minimum - cannot decrease scale anymore
    ```

    ## Thresholds
    - `drop_factor` 256 (8 halvings) without growing back: a healthy scaler loses one
      halving per rare overflow and wins it back after a clean window of steps.
    - `peak_factor` 4096 (12 halvings) below the highest scale since calibration:
      healthy runs drift down as their gradients grow, but far less (fairseq: 128 to
      0.5 is 256x).
    - `error_scale` 1: such a fall ending at 1 or below is an error; the scale no longer
      amplifies anything (the floor of DeepSpeed and Megatron).
    - The scaler has settled after `settle_records` (10) records in a row without an
      overflow or a lower scale, or after `calibration_records` (100) records at most;
      before that, overflows and halvings are calibration.
    - `overflow_fraction` 0.5 of the last `overflow_window` (20) records, with no growth
      among them, after a fall of `overflow_drop` (16x).
    - A reduction to the scale already known, after 3 clean records, means the scale had
      grown unseen in between (DeepSpeed and apex print only reductions).
    """

    rule = Rule(
        id="loss_scale_collapse",
        min_records=3,
        title="Loss scale collapse",
        severity=Severity.ERROR,
        summary="The fp16 dynamic loss scale keeps falling, or the scaler is at its minimum.",
        why=(
            "A scale that keeps falling means the gradients overflow fp16 whatever the scale: "
            "updates are skipped and small gradients underflow, so the run stops learning."
        ),
        remedies=(
            "Switch to bf16 if the hardware supports it: it has the range of fp32 and needs "
            "no loss scaling.",
            "{clip}",
            "{lower_lr}: a scale that keeps falling usually means the gradients themselves "
            "are exploding.",
            "Find where inf or NaN first appears in the forward pass (attention logits, "
            "softmax, exp or log of large values) and compute that part in fp32.",
            "Resume from a checkpoint saved {rollback}, before the scale began to fall.",
            "Raise the scaler's floor (DeepSpeed min_loss_scale, fairseq --min-loss-scale) "
            "only as a stopgap: it hides the overflows, it does not remove them.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.loss_scale_collapse
        self._records = 0
        self._scale: float | None = None  # the latest scale
        self._peak: float | None = None  # the highest scale since calibration ended
        self._settled = False
        self._quiet = 0  # records in a row without an overflow or a lower scale
        self._window: deque[tuple[bool, bool]] = deque(maxlen=self._limits.overflow_window)
        self._descent: Record | None = None  # where the current fall began
        self._descent_from: float | None = None  # the scale just before it
        self._overflows = 0  # records with overflows since the fall began
        self._at_minimum = False
        self._reset()

    def _reset(self) -> None:
        self._first: Record | None = None
        self._last: Record | None = None
        self._reason = ""
        self._reported: Severity | None = None

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        scale = record.get(LOSS_SCALE)
        minimum = record.get(SCALE_AT_MINIMUM) == 1.0
        overflow = record.get(OVERFLOW) == 1.0 or minimum  # the scaler refused a step too
        if scale is not None and not (math.isfinite(scale) and scale > 0):
            scale = None
        if scale is None and not overflow and not self._records:
            return []  # no loss scaler in this log (yet)
        self._records += 1  # from here on, a record without an event is a clean step
        fell, grew = self._track(record, scale, overflow)
        self._at_minimum = (self._at_minimum or minimum) and not grew
        self._window.append((overflow and self._settled, grew))
        self._settle(overflow or fell)
        found = self._judge()
        if found is None:
            return self._close()
        severity, reason = found
        if self._first is None:
            self._first = self._descent or record
        self._last, self._reason = record, reason
        if self._reported is None or severity > self._reported:
            self._reported = severity
            return [self._report()]
        return []

    def finish(self) -> Iterable[Diagnosis]:
        return self._close()

    def _track(self, record: Record, scale: float | None, overflow: bool) -> tuple[bool, bool]:
        """Follow the scale; return whether it fell and whether it grew at this record."""
        previous = self._scale
        fell = grew = False
        if scale is not None and previous is not None:
            fell = scale < previous
            # A reduction *to* the scale already known, after a clean stretch, means it
            # grew unseen in between (DeepSpeed and apex print reductions only); at the
            # floor the same reduction repeats step after step instead.
            unseen = overflow and scale == previous and self._quiet >= _GROWTH_GAP
            grew = scale > previous or unseen
        if grew:
            self._end_descent()
        elif fell and self._settled and self._descent is None:
            self._descent, self._descent_from = record, previous
        if self._descent is not None and overflow and not grew:
            self._overflows += 1
        if scale is not None:
            self._scale = scale
            if self._settled:
                self._peak = max(self._peak or scale, scale)
        return fell, grew

    def _end_descent(self) -> None:
        if self._first is None:  # an open episode keeps its facts
            self._descent, self._descent_from, self._overflows = None, None, 0

    def _settle(self, disturbed: bool) -> None:
        """Calibration ends after a quiet stretch, or after a bounded number of records."""
        self._quiet = 0 if disturbed else self._quiet + 1
        if not self._settled and (
            self._quiet >= self._limits.settle_records
            or self._records >= self._limits.calibration_records
        ):
            self._settled, self._peak = True, self._scale
            self._end_descent()

    def _fall(self) -> float:
        """How far the scale fell since its current descent began (1 when not falling)."""
        start, scale = self._descent_from, self._scale
        return start / scale if start is not None and scale is not None else 1.0

    def _judge(self) -> tuple[Severity, str] | None:
        """The worst condition that holds now, with a phrase saying which."""
        limits, scale, fall = self._limits, self._scale, self._fall()
        if self._at_minimum:
            return Severity.ERROR, "the scaler reports it cannot lower the scale any more"
        if fall >= limits.drop_factor:
            at_floor = scale is not None and scale <= limits.error_scale
            severity = Severity.ERROR if at_floor else Severity.WARNING
            return severity, f"{fall:.0f}x down without ever growing back"
        peak = self._peak
        if peak is not None and scale is not None and peak >= limits.peak_factor * scale:
            at_floor = scale <= limits.error_scale
            severity = Severity.ERROR if at_floor else Severity.WARNING
            return severity, f"{peak / scale:.0f}x below its highest since calibration"
        window = self._window
        overflows = sum(skipped for skipped, _ in window)
        if (
            fall >= limits.overflow_drop
            and len(window) == window.maxlen
            and overflows >= limits.overflow_fraction * len(window)
            and not any(grew for _, grew in window)
        ):
            return Severity.WARNING, (
                f"{fall:.0f}x down, and {overflows} of the last {len(window)} records had "
                "overflow-skipped steps with no growth of the scale among them"
            )
        return None

    def _close(self) -> list[Diagnosis]:
        found = [self._report()] if self._reported is not None else []
        self._reset()
        return found

    def _report(self) -> Diagnosis:
        first, last = self._first, self._last
        assert first is not None and last is not None
        start, scale = self._descent_from, self._scale
        if start is not None and scale is not None and scale < start:
            message = (
                f"the fp16 loss scale fell from {fmt(start)} to {fmt(scale)} between "
                f"{where(first)} and {where(last)}, with overflow-skipped steps in "
                f"{self._overflows} record(s): {self._reason}"
            )
        else:
            message = f"fp16 loss scaling is failing from {where(first)}: {self._reason}"
        pairs = [(first, LOSS_SCALE), (last, LOSS_SCALE), (last, SCALE_AT_MINIMUM), (last, LOSS)]
        return self.diagnose(
            message,
            first,
            last,
            severity=self._reported,
            confidence=Confidence.HIGH,
            metric=LOSS_SCALE,
            count=self._overflows,
            evidence=evidence_of(pairs),
        )
