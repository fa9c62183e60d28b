"""`loss_scale_collapse`: the fp16 dynamic loss scale keeps falling, or hits its minimum."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, factor, fmt, where
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.events import OVERFLOW, SCALE_AT_MINIMUM
from gradlog.parse.names import LOSS, LOSS_SCALE
from gradlog.report import plural

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block
else:
    from gradlog.lazy import numpy as np

_GROWTH_GAP = 3  # clean records before an equal reduction counts as unseen growth
_DENSE_GAP = 20  # clean records before a fall that may begin a collapse of its own
# Every dynamic scaler backs off by half on an overflow by default (torch GradScaler
# backoff_factor 0.5, apex, DeepSpeed, Megatron, fairseq scale_factor 2), so n overflow
# lines that reduce the scale to s say it was 2^n s before.
_BACKOFF = 2.0
_CLEAN = (False, False)  # a record with no counted overflow and no growth, in the window


@dataclass
class _Storm:
    """Halvings in a row: how many, clean records since the last, whether it began settled."""

    halvings: int = 0
    gap: int = 0
    settled: bool = False


class LossScaleCollapseDetector(Detector):
    """
    ## What it detects
    A mixed-precision (fp16) dynamic loss scale that collapses:

    - the scaler says it cannot go lower ("already at minimum", "Minimum loss scale
      reached"): an error;
    - the scale is down to 2^-10 or less: the scaler is in free fall, an error;
    - an overflow storm: 5 or more halvings in a row (no more than one clean record
      between two of them, no growth) after the scaler had settled: a warning, an error
      once the scale is down to 1 or below;
    - the scale falls 256x (8 halvings) without ever growing back, however slowly: the
      same;
    - the scale ends 4096x (12 halvings) below its highest value since calibration,
      even if it grew back now and then: the same;
    - after a fall of 16x or more without growing back, overflow-skipped steps show up
      in half of the last 20 records and the scale never grows among them: a warning.

    Overflow lines are enough: the rule needs no step numbers and no other metric. The
    episode starts where the scale began its last fall without growing back, and the
    message gives the scale there and now. A burst of overflows and halvings at the
    start of a run is the scaler calibrating (Megatron, DeepSpeed and apex start at
    2^16 to 2^32 and halve on each step until the gradients fit), and a rare overflow
    later is the scaler probing upward: neither is reported. A low scale by itself is
    not a collapse either: bf16 runs print a constant 1, fairseq runs can sit at 0.5-1
    for good (their losses are sums over tokens), and with many GPUs a scaler may
    overflow in every logging interval while its scale holds steady. An excerpt that
    opens in the middle of a storm looks like calibration until the scale reaches
    2^-10 or the minimum.

    ## Why it matters
    The loss scale is lowered every time the scaled gradients overflow fp16. When it
    keeps falling, the gradients themselves are overflowing (they are exploding), or a
    NaN is produced inside the model whatever the scale. Each overflow skips an update,
    so the run stops learning, and a scale near 1 lets small gradients underflow to zero.

    ## Example
    ```
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 8192, reducing to 4096
    step   10 | loss 2.2814 | lr 2.0e-04      (calibration: not reported)
    ...
    step  290 | loss 1.1743 | lr 2.0e-04      <- flagged (the overflows below are its own)
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 4096, reducing to 2048
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 2048, reducing to 1024
    step  300 | loss 1.2150 | lr 2.0e-04
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 1024, reducing to 512
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 512, reducing to 256
    step  310 | loss 1.1819 | lr 2.0e-04
    [deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 256, reducing to 128
    ```

    ## Thresholds
    - `free_fall_scale` 2^-10: a scale that small shrinks the loss over 1000x, which no
      healthy scaler needs (healthy fairseq runs print 0.5-2); it is still 10x above
      fairseq's abort floor of 1e-4.
    - `storm_halvings` 5 halvings in a row (32x, beyond the order of magnitude that
      makes a gradient exploding), with at most `storm_gap` (1) clean record between two
      of them: a healthy scaler halves once per overflow and then holds.
    - `drop_factor` 256 (8 halvings) without growing back: a healthy scaler loses one
      halving per rare overflow and wins it back after a clean window of steps.
    - `peak_factor` 4096 (12 halvings) below the highest scale since calibration:
      healthy runs drift down as their gradients grow, but far less (fairseq: 128 to
      0.5 is 256x).
    - `error_scale` 1: a storm or fall ending at 1 or below is an error; the scale no
      longer amplifies anything (the floor of DeepSpeed and Megatron).
    - The scaler has settled after `settle_records` (5) records in a row without an
      overflow or a lower scale, counted from the log's first record, at its first
      growth (a whole growth interval of clean steps went by), or after
      `calibration_records` (100) records at most; before that, overflows and halvings
      are calibration.
    - `overflow_fraction` 0.5 of the last `overflow_window` (20) records, with no growth
      among them, after a fall of `overflow_drop` (16x).
    - A reduction to the scale already known, after 3 clean records, means the scale had
      grown unseen in between (DeepSpeed and apex print only reductions).
    - Where the log shows no scale before, n overflow lines reducing it to s count as n
      halvings from 2^n s: every dynamic scaler backs off by half by default.
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
        # How many records in the window had overflows, and how many grew: kept as the
        # window moves, instead of counting it again at every record.
        self._window_overflows = 0
        self._window_growths = 0
        self._storm = _Storm()
        self._descent: Record | None = None  # where the current fall began
        self._descent_from: float | None = None  # the scale just before it
        self._descent_settled = False  # whether it began after calibration
        # Its last fall after a clean stretch of `_DENSE_GAP` records, and the scale
        # before it: where a collapse began in a fall that began long before it.
        self._dense: tuple[Record, float] | None = None
        self._overflows = 0  # records with overflow-skipped steps since the fall began
        self._skipped = 0  # the steps they skipped, as far as the log shows
        self._at_minimum = False
        self._reset()

    def _reset(self) -> None:
        self._first: Record | None = None
        self._last: Record | None = None
        self._reason = ""
        self._reported: Severity | None = None

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        metrics = record.metrics
        scale = metrics.get(LOSS_SCALE)
        minimum = metrics.get(SCALE_AT_MINIMUM) == 1.0
        # Overflow-skipped steps in this record; at its minimum the scaler refused one too.
        count = metrics.get(OVERFLOW)
        skipped = 0 if count is None else _count(count)
        if minimum and skipped < 1:
            skipped = 1
        overflow = skipped > 0
        if scale is not None and not (math.isfinite(scale) and scale > 0):
            scale = None
        # Every record counts, with or without a scale: the scalers that print print
        # each overflow, so a record without one was a clean step.
        self._records += 1
        if not overflow and (scale is None or scale == self._scale):
            # No overflow and no new scale: _track would find no fall and no growth, and
            # only follow the peak. Most records of most runs are like this.
            fell, halvings, grew = False, 0, False
            if scale is not None and self._settled:
                self._peak = max(self._peak or scale, scale)
        else:
            fell, halvings, grew = self._track(record, scale, skipped, minimum)
            self._at_minimum = (self._at_minimum or minimum) and not grew
        counted = overflow and self._settled
        if counted or grew or self._window_overflows or self._window_growths:
            self._slide(counted, grew)
        else:
            self._window.append(_CLEAN)  # nothing in or out of the window's counts
        if grew or halvings or self._storm.halvings:  # else no storm to follow
            self._follow_storm(halvings, grew)
        # An excerpt: its first record, clean, far into the run (the overflows printed
        # before a record are its own: a clean one had none).
        late = (
            self._records == 1
            and not (overflow or fell)
            and past_calibration(record, self._limits.calibration_records)
        )
        self._settle(overflow or fell, grew, late)
        found = self._judge()
        if found is None:
            return [] if self._reported is None else self._close()  # nothing open to close
        return self._update(record, *found)

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.small_block import changed, indexes

        # Only an overflow, the scaler's minimum or a new scale moves the scale; on the
        # other records the state just counts on, and the judgement can change only as
        # the window and the storm wear off or calibration ends.
        names, size = block.names, len(block)
        moved = np.zeros(size, np.bool_)
        if OVERFLOW in names:
            moved |= block.values(OVERFLOW) >= 1  # a count below 1 is no overflow
        if SCALE_AT_MINIMUM in names:
            moved |= block.values(SCALE_AT_MINIMUM) == 1.0
        if LOSS_SCALE in names:
            scales = block.values(LOSS_SCALE)
            moved |= changed(scales, np.isfinite(scales) & (scales > 0), self._scale)
        found: list[tuple[int, Diagnosis]] = []
        start = 0
        for index in indexes(moved):
            if index > start:
                self._between(block, start, index, found)
            self._observe_at(block, index, found)
            start = index + 1
        if start < size:
            self._between(block, start, size, found)
        return found

    def _observe_at(self, block: Block, index: int, found: list[tuple[int, Diagnosis]]) -> None:
        diagnoses = self.observe(block.records[index])
        if diagnoses:
            found += [(index, diagnosis) for diagnosis in diagnoses]

    def _between(
        self, block: Block, start: int, end: int, found: list[tuple[int, Diagnosis]]
    ) -> None:
        """Records ``start`` to ``end`` of ``block``, none of which moves the scale:
        in bulk wherever the judgement is known to hold still, else one by one."""
        limits = self._limits
        while start < end:
            if self._settled:
                stop = end
            elif not self._records:  # (the first record, clean, may end it: read it)
                stop = start
            else:  # calibration ends at a record of its own, read as such
                stop = start + max(
                    0,
                    min(
                        limits.settle_records - self._quiet - 1,
                        limits.calibration_records - self._records - 1,
                    ),
                )
                stop = min(stop, end)
            if stop > start and self._still(block, stop - 1):
                self._advance(start, stop)
                start = stop
            else:
                self._observe_at(block, start, found)
                start += 1

    def _still(self, block: Block, last: int) -> bool:
        """Whether every record up to ``last`` that moves nothing would leave the verdict
        as it is now; if so, note ``last`` as the open episode's latest record, as those
        records would."""
        judged, limits = self._judge(), self._limits
        storm = self._storm
        if storm.settled and storm.halvings >= limits.storm_halvings:
            return False  # a storm wears off after a clean record or two: read them
        if self._reported is None:
            # The overflow condition can come true only while the window still holds
            # enough overflows for it (it holds fewer and fewer): else it stays false.
            crowded = self._window_overflows >= limits.overflow_fraction * (
                self._window.maxlen or 0
            )
            return judged is None and not (crowded and self._fall() >= limits.overflow_drop)
        if judged is None or not self._lasting() or judged[0] > self._reported:
            return False  # it closes, wears off, or gets worse
        if judged[0] == self._reported:
            self._reason = judged[1]
        self._last = block.records[last]
        return True

    def _advance(self, start: int, end: int) -> None:
        """Count ``end - start`` records that move nothing, as ``observe`` would."""
        count = end - start
        self._records += count
        self._quiet += count
        window = self._window
        if self._window_overflows or self._window_growths:
            window.extend([_CLEAN] * min(count, window.maxlen or 0))
            self._window_overflows = sum(overflow for overflow, _ in window)
            self._window_growths = sum(grew for _, grew in window)
        elif len(window) < (window.maxlen or 0):
            window.extend([_CLEAN] * min(count, (window.maxlen or 0) - len(window)))
        storm = self._storm
        if storm.halvings:
            storm.gap += count
            if storm.gap > self._limits.storm_gap:
                self._storm = _Storm()

    def _slide(self, overflow: bool, grew: bool) -> None:
        """Move the window of the last records on by one, with its counts."""
        window = self._window
        if not window.maxlen:
            return  # a window of no records stays empty
        if len(window) == window.maxlen:
            old_overflow, old_grew = window[0]
            self._window_overflows -= old_overflow
            self._window_growths -= old_grew
        window.append((overflow, grew))
        self._window_overflows += overflow
        self._window_growths += grew

    def finish(self) -> Iterable[Diagnosis]:
        return self._close()

    def _update(self, record: Record, severity: Severity, reason: str) -> list[Diagnosis]:
        """Extend the open episode to ``record``; report it again if it got worse."""
        if self._first is None:
            self._first = self._began()[0] or record
        self._last = record
        if self._reported is not None and severity < self._reported:
            return []  # keep the reason that set the severity
        self._reason = reason
        if self._reported is None or severity > self._reported:
            self._reported = severity
            return [self._report()]
        return []

    def _track(
        self, record: Record, scale: float | None, skipped: int, minimum: bool
    ) -> tuple[bool, int, bool]:
        """Follow the scale; return whether it fell, by how many halvings, and whether
        it grew at this record."""
        previous, overflow = self._scale, skipped > 0
        fell = grew = False
        if scale is not None and previous is None and overflow:
            previous = scale * _BACKOFF**skipped  # the first scale shown is a reduction
        if scale is not None and previous is not None:
            fell = scale < previous
            # A reduction *to* the scale already known, after a clean stretch, means it
            # grew unseen in between (DeepSpeed and apex print reductions only); at the
            # floor the same reduction repeats step after step instead.
            unseen = overflow and not minimum and scale == previous
            unseen = unseen and self._quiet >= _GROWTH_GAP
            grew = scale > previous or unseen
        if grew:
            self._end_descent()
        elif fell and self._descent is None:
            self._descent, self._descent_from = record, previous
            self._descent_settled = self._settled
            self._dense = (record, previous) if previous is not None else None
        elif fell and self._quiet >= _DENSE_GAP and previous is not None:
            self._dense = (record, previous)
        if self._descent is not None and overflow and not grew:
            self._overflows, self._skipped = self._overflows + 1, self._skipped + skipped
        if scale is not None:
            self._scale = scale
            if self._settled:
                self._peak = max(self._peak or scale, scale)
        halvings = round(math.log2(previous / scale)) if fell and previous and scale else 0
        return fell, halvings, grew

    def _follow_storm(self, halvings: int, grew: bool) -> None:
        """Count halvings in a row; a growth or a long enough clean stretch ends them."""
        storm = self._storm
        if grew:
            self._storm = _Storm()
        elif halvings > 0:
            if not storm.halvings:
                storm.settled = self._settled
            storm.halvings, storm.gap = storm.halvings + halvings, 0
        elif storm.halvings:
            storm.gap += 1
            if storm.gap > self._limits.storm_gap:
                self._storm = _Storm()

    def _began(self) -> tuple[Record | None, float | None]:
        """Where the fall began, and the scale before it: its last fall after a clean
        stretch (``_dense``) when most of the fall came after it (the collapse that
        followed occasional halvings: DLLogger's 512 from step 31, then every step from
        1116), else its first (a slow drift, a halving now and then, is one fall)."""
        dense, scale, start = self._dense, self._scale, self._descent_from
        if dense is None or scale is None or start is None or not 0 < scale < dense[1]:
            return self._descent, start
        most = math.log2(dense[1] / scale) * 2 >= math.log2(start / scale)
        return dense if most else (self._descent, start)

    def _end_descent(self) -> None:
        if self._first is None:  # an open episode keeps its facts
            self._descent, self._descent_from, self._dense = None, None, None
            self._overflows = self._skipped = 0

    def _settle(self, disturbed: bool, grew: bool, late: bool = False) -> None:
        """Calibration ends after a quiet stretch, at the first growth (a whole growth
        interval of clean steps went by), or after a bounded number of records; an
        excerpt (``late``: its first record, clean, far into the run) shows none."""
        self._quiet = 0 if disturbed else self._quiet + 1
        if not self._settled and (
            grew
            or self._quiet >= self._limits.settle_records
            or self._records >= self._limits.calibration_records
            or late
        ):
            self._settled, self._peak = True, self._scale
            self._end_descent()

    def _judge(self) -> tuple[Severity, str] | None:
        """The worst condition that holds now, with a phrase saying which."""
        limits, scale = self._limits, self._scale
        if self._at_minimum:
            return Severity.ERROR, "the scaler reports it cannot lower the scale any more"
        if scale is not None and scale <= limits.free_fall_scale:
            return Severity.ERROR, (
                f"at or below {fmt(limits.free_fall_scale)}, the scale shrinks the loss "
                f"{factor(1 / scale)} instead of amplifying it: the scaler is in free fall"
            )
        storm = self._storm
        if storm.settled and storm.halvings >= limits.storm_halvings:
            return self._severity(), f"{storm.halvings} halvings in a row, with no growth between"
        fall = self._fall()
        if fall >= limits.drop_factor:
            return self._severity(), f"{factor(fall)} down without ever growing back"
        peak = self._peak
        if peak is not None and scale is not None and peak >= limits.peak_factor * scale:
            return self._severity(), f"{factor(peak / scale)} below its highest since calibration"
        return self._judge_overflows(fall) if fall >= limits.overflow_drop else None

    def _fall(self) -> float:
        """How far the scale fell since its current descent began after calibration."""
        start, scale = self._descent_from, self._scale
        if start is None or scale is None or not self._descent_settled:
            return 1.0
        return start / scale

    def _lasting(self) -> bool:
        """Whether a condition holds that only an overflow or a new scale can change
        (the storm and the overflow window wear off on clean records instead)."""
        limits, scale, peak = self._limits, self._scale, self._peak
        if self._at_minimum or self._fall() >= limits.drop_factor:
            return True
        if scale is None:
            return False
        return scale <= limits.free_fall_scale or (
            peak is not None and peak >= limits.peak_factor * scale
        )

    def _severity(self) -> Severity:
        """An error once the scale no longer amplifies anything, else a warning."""
        scale = self._scale
        at_floor = scale is not None and scale <= self._limits.error_scale
        return Severity.ERROR if at_floor else Severity.WARNING

    def _judge_overflows(self, fall: float) -> tuple[Severity, str] | None:
        """Overflows in half the recent window, none growing, after a fall of `overflow_drop`
        (which the caller checked)."""
        limits, window = self._limits, self._window
        overflows = self._window_overflows
        if (
            len(window) == window.maxlen
            and overflows >= limits.overflow_fraction * len(window)
            and not self._window_growths
        ):
            return Severity.WARNING, (
                f"{factor(fall)} down, and {overflows} of the last {len(window)} records had "
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
        message = f"{self._story(first, last)}: {self._reason}"
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

    def _story(self, first: Record, last: Record) -> str:
        """Where the scale fell from and to, and between which records."""
        span = f"at {_at(first)}" if first is last else f"between {_at(first)} and {_at(last)}"
        start, scale = self._began()[1], self._scale
        if start is None or scale is None or scale >= start:
            return f"fp16 loss scaling is failing from {_at(first)}"
        story = f"the fp16 loss scale fell from {fmt(start)} to {fmt(scale)} {span}"
        if self._skipped:  # (a log that prints the scale only may print no overflow)
            story += f", with at least {plural(self._skipped, 'overflow-skipped step')}"
        return story


def _count(value: float | None) -> int:
    """Overflow-skipped steps a record stands for: 1 per overflow line it took."""
    return int(value) if value is not None and math.isfinite(value) and value >= 1 else 0


def _at(record: Record) -> str:
    """A record's step and log line: the line is what an events-only log can be searched by."""
    return f"{where(record)} (line {record.line})"


def past_calibration(record: Record, calibration_records: int) -> bool:
    """Whether a record lies past where a loss scaler calibrates: at epoch 2 or later, or
    past ``calibration_records`` steps."""
    epoch = record.epoch
    return (epoch is not None and epoch >= 2) or record.step > calibration_records
