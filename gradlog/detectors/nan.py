"""`nan`: a non-finite loss, validation loss, grad norm or parameter norm."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, loss_is_nan, where
from gradlog.detectors.loss_scale import past_calibration
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.events import ABORTED, OVERFLOW
from gradlog.parse.families import family, watched
from gradlog.parse.names import GRAD_NORM, LOSS, LOSS_SCALE, PARAM_NORM, VAL_LOSS
from gradlog.report import plural

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block, Flags
else:
    from gradlog.lazy import numpy as np

WATCHED = (LOSS, VAL_LOSS, GRAD_NORM, PARAM_NORM)

# Below this many records a block goes through ``observe`` one by one: the screen's fixed
# cost (some 9 us of numpy calls) is what ``observe`` takes on about this many records.
SMALL_BLOCK = 40


def _placeholder(record: Record, loss_seen: bool) -> bool:
    """Whether a record's infinite validation loss is no value: +inf alone, before the
    run printed any finite training loss (see the thresholds)."""
    return not loss_seen and LOSS not in record.metrics and record.metrics[VAL_LOSS] == math.inf


class NanDetector(Detector):
    """
    ## What it detects
    A NaN or infinite value in the training loss, validation loss, gradient norm or
    parameter norm: one diagnosis per contiguous episode of non-finite records, with
    where it started, how long it lasted and the last finite values before it.
    A loss printed as ``0.0`` beside a non-finite grad norm is HF Trainer hiding a NaN
    loss, and counts as one.

    ## Why it matters
    Once the loss is NaN every weight it touches becomes NaN on the next update; the
    run is producing nothing and every further step burns compute.

    ## Example
    ```
    Epoch 8/50
    Train Loss: 1.9375, Train Acc: 0.5100
    Epoch 9/50
    Train Loss: nan,    Train Acc: 0.5000      <- flagged
    ```

    ## Thresholds
    - Any non-finite value in the watched metrics is an error.
    - In a run that prints none of them (a GAN's ``D_A``, ``G_A``, ``cycle_A``), two or
      more of its series turning non-finite in one record is an error too.
    - Under mixed precision a non-finite grad norm beside a finite loss is the loss
      scaler skipping an overflowed step: up to `max_skipped_steps` (2) such records in
      a row are reported as info only; before any step succeeded (no finite grad norm
      printed yet, and within the steps `loss_scale_collapse` gives calibration), up to
      `max_calibration_steps` (32): the scaler starts high and halves its scale at
      each overflow until steps pass (from DeepSpeed's 2**32, 32 halvings); and however
      long, while the printed loss scale falls below where it was before, or sits in
      `loss_scale_collapse`'s free fall: the scaler skipping steps, judged by that rule.
    - A loss that has printed no finite value yet and turns finite within
      `max_leading_records` (64) records is info: no NaN reached the weights (else the loss
      would have stayed NaN), so it was a statistic with nothing to report yet, as an RL
      agent's average loss before its first update. Longer, or to the log's end, or
      with the run stopping over it, it is an error; it is told once that is known.
    - A validation loss of +inf alone, before the run printed any finite training loss
      (VDVAE's ``starting at epoch 0 iterate 0 eval loss inf``), is no value: an
      evaluation's best or last loss set to infinity before the first one ran.
    """

    rule = Rule(
        id="nan",
        title="NaN or Inf in training",
        severity=Severity.ERROR,
        summary="A loss, gradient norm or parameter norm became NaN or infinite.",
        why=(
            "Once the loss is NaN every weight it touches becomes NaN on the next update: the run "
            "is producing nothing and each further step burns compute."
        ),
        remedies=(
            "Resume from a checkpoint saved {rollback} and skip the batches that were "
            "being processed when the values went non-finite.",
            "{clip}",
            "{lower_lr}, and add or lengthen warm-up.",
            "Look for log(0), division by zero or sqrt of a negative in the loss; add a "
            "small epsilon where one is missing.",
            "Under fp16, switch to bf16 or check that the dynamic loss scaler is enabled.",
            "Check the input data for NaN/Inf values and for unnormalised features.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.nan
        self._calibration_records = thresholds.loss_scale_collapse.calibration_records
        self._free_fall = thresholds.loss_scale_collapse.free_fall_scale
        self._healthy: Record | None = None  # last record with everything finite
        self._first: Record | None = None  # first bad record of the open episode
        self._last: Record | None = None
        self._count = 0
        self._loss_bad = False  # the loss itself went non-finite in this episode
        self._said_skipped = False  # ... on a line that said its step overflowed (skipped)
        self._announced = False
        self._stepped = False  # a finite grad norm was printed: a step succeeded
        self._calibrating = False  # the open episode began before any step succeeded
        self._loss_seen = False  # a finite loss was printed
        self._leading = False  # the open episode's loss had printed no finite value before
        self._aborted = False  # the run stopped itself over the open episode
        # The loss scale before the open episode, and the lowest it printed in it: a scale
        # that fell is a mixed-precision scaler skipping the steps that overflow.
        self._scale_before: float | None = None
        self._scale_low: float | None = None
        self._bad_rows: Flags | None = None  # the block's records with a non-finite value
        # A run that has printed no watched series yet (a GAN's ``D_A``, ``G_A``, RL
        # returns): the names it printed finite so far, and those of the open episode.
        self._lossless = True
        self._steady: set[str] = set()
        self._orphans: list[str] = []

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        # Screen first: a sum is finite only if every term is (NaN and Inf never cancel
        # back to a finite number), and then nothing is non-finite, the loss included.
        # A finite sum is the common case; an overflowing one just takes the long way.
        orphans: list[str] = []
        if self._lossless:
            orphans = self._orphaned(record)
        stepped = self._stepped
        if not stepped:
            grad = record.metrics.get(GRAD_NORM)
            self._stepped = grad is not None and math.isfinite(grad)
        loss_seen = self._loss_seen
        if not loss_seen:
            loss = record.metrics.get(LOSS)
            self._loss_seen = loss is not None and math.isfinite(loss)
        if math.isfinite(sum(record.metrics.values())):
            done = [] if self._first is None else self._close()
            self._healthy = record
            return done
        bad = _bad(record) or ([LOSS] if loss_is_nan(record) else []) or orphans
        if bad == [VAL_LOSS] and _placeholder(record, loss_seen):
            bad = []  # (an evaluation's best or last loss set to inf before training)
        if not bad:
            done = self._close()
            self._healthy = record
            return done
        if self._first is None:
            self._first, self._count, self._loss_bad, self._announced = record, 0, False, False
            self._said_skipped = False
            self._orphans = orphans
            self._calibrating = not stepped and not past_calibration(
                record, self._calibration_records
            )
            self._leading = not loss_seen and (LOSS in bad or loss_is_nan(record))
            self._aborted = False
            before = None if self._healthy is None else self._healthy.get(LOSS_SCALE)
            self._scale_before = before if before is not None and math.isfinite(before) else None
            self._scale_low = None
        scale = record.get(LOSS_SCALE)
        if scale is not None and math.isfinite(scale):
            self._scale_low = scale if self._scale_low is None else min(scale, self._scale_low)
        self._last = record
        self._count += 1
        self._aborted = self._aborted or bool(record.get(ABORTED))
        # A line that says the step overflowed and was skipped (Jukebox's ``Overflow in
        # forward. Loss tensor(inf)``) prints the skipped step's values: the scaler at
        # work, as a non-finite grad norm beside a finite loss is.
        skip = bool(record.get(OVERFLOW))
        self._said_skipped = self._said_skipped or (
            skip and (loss_is_nan(record) or _nonfinite(record.get(LOSS)))
        )
        self._loss_bad = (
            self._loss_bad
            or bool(orphans)
            or (
                not skip
                and (
                    loss_is_nan(record)
                    or _nonfinite(record.get(VAL_LOSS))
                    or any(family(m) in (LOSS, VAL_LOSS) for m in bad)  # another loss of it
                )
            )
            or bool(record.get(ABORTED))  # the run stopped itself over it: never benign
        )
        if not self._announced and self._due():
            self._announced = True
            return [self._report(open_=True)]
        return []

    def _due(self) -> bool:
        """Whether the open episode is an error already (then told at once)."""
        if self._leading and not self._aborted:  # (a loss with no value yet, perhaps)
            return self._count > self._limits.max_leading_records
        return self._loss_bad or (self._count > self._allowance() and not self._scaled())

    def _scaled(self) -> bool:
        """Whether the loss scale fell during the open episode: the scaler is at work,
        skipping each step that overflows (``loss_scale_collapse`` judges the scaler)."""
        before, low = self._scale_before, self._scale_low
        if low is not None and low <= self._free_fall:
            return True  # (fallen already: a scale that multiplies by under 1/1000)
        return before is not None and low is not None and low < before

    def _waited(self, ended: bool) -> bool:
        """Whether the closed episode was a loss with no value yet: from before its first
        finite value, which came within the allowance (see the class's text). (An episode
        told open is past it already: ``_due``.)"""
        return (
            self._leading
            and not (ended or self._aborted)
            and self._count <= self._limits.max_leading_records
        )

    def _allowance(self) -> int:
        """Skipped steps in a row that are a loss scaler at work, in the open episode."""
        limits = self._limits
        return limits.max_calibration_steps if self._calibrating else limits.max_skipped_steps

    def _orphaned(self, record: Record) -> list[str]:
        """In a run that has printed no watched series yet: the series of ``record`` that
        were finite before and are not now, when there are two or more (every value of a
        GAN's ``D_A: nan G_A: nan ..``; one stray NaN statistic is not enough); the
        record's finite series are noted, and a watched one ends the search for good."""
        metrics = record.metrics
        if any(map(_is_watched, metrics)):
            self._watching()
            return []
        steady = self._steady
        gone = [n for n, v in metrics.items() if not math.isfinite(v) and n in steady]
        steady.update(n for n, v in metrics.items() if math.isfinite(v))
        return gone if len(gone) >= 2 else []

    def _watched_from(self, block: Block) -> int:
        """In a run that has printed no watched series yet: the first record of ``block``
        that prints one (``len(block)`` if none does); from the block's first, none will
        be looked for again."""
        names = [name for name in block.names if _is_watched(name)]
        starts = [int(np.argmax(present)) for n in names if (present := block.present(n)).any()]
        first = min(starts, default=len(block))
        if first == 0:
            self._watching()
        return first

    def _watching(self) -> None:
        """The run printed a watched series: it is judged by those from now on."""
        self._lossless = False
        self._steady.clear()

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        """``observe`` only the records with a non-finite watched value and the one after
        each (it may close the episode); the others just become the last healthy record.

        A record is bad exactly when a watched series is non-finite in it: a hidden NaN
        loss is a 0.0 beside a non-finite grad norm, which is watched too. The records of
        a run before its first watched series are observed one by one (``_orphaned``)."""
        records = block.records
        if len(records) < SMALL_BLOCK:
            return super().observe_block(block)  # numpy costs more than it saves here
        lossless = self._watched_from(block) if self._lossless else 0
        bad = block.nonfinite(_is_watched)
        flagged = bad.copy()
        flagged[1:] |= bad[:-1]
        flagged[0] |= self._first is not None  # an episode open from before the block
        flagged[:lossless] = True  # (before the run's first watched series: one by one)
        self._bad_rows = bad
        try:
            return self.replay(block, self._flags(block, flagged), self._advance)
        finally:
            self._bad_rows = None

    def _flags(self, block: Block, flagged: Flags) -> Iterator[int]:
        """The ``flagged`` records to observe, but inside an episode already told with its
        loss non-finite: there a run of bad records only makes it longer (nothing is told
        before the record after it, which may close it), so the run is counted in bulk."""
        from gradlog.detectors.small_block import run_end

        bad = self._bad_rows
        assert bad is not None
        indexes: list[int] = np.flatnonzero(flagged).tolist()
        breaks: list[int] = np.flatnonzero(~bad).tolist()  # (where each run of bad ends)
        at = 0
        while at < len(indexes):
            index = indexes[at]
            if self._first is not None and self._announced and self._loss_bad and bad[index]:
                stop = run_end(breaks, index, len(bad))
                if stop - index > 1:
                    self._count += stop - index
                    self._last = block.records[stop - 1]
                    at = bisect.bisect_left(indexes, stop)
                    continue
            yield index
            at += 1

    def _advance(self, block: Block, start: int, end: int) -> None:
        """Records not observed: those with every watched value finite (no episode open:
        the last becomes the last healthy one), and runs of bad ones counted by
        ``_flags``."""
        self._stepped = self._stepped or self._finite_in(block, GRAD_NORM, start, end)
        self._loss_seen = self._loss_seen or self._finite_in(block, LOSS, start, end)
        bad = self._bad_rows
        if bad is None or not bad[end - 1]:
            self._healthy = block.records[end - 1]
            return
        good = np.flatnonzero(~bad[start:end])
        if len(good):
            self._healthy = block.records[start + int(good[-1])]

    @staticmethod
    def _finite_in(block: Block, name: str, start: int, end: int) -> bool:
        """Whether series ``name`` has a finite value in records ``start:end`` of ``block``."""
        if name not in block.names:
            return False
        values = block.values(name)[start:end]
        return bool((block.present(name)[start:end] & np.isfinite(values)).any())

    def finish(self) -> Iterable[Diagnosis]:
        return self._close(ended=True)

    def _close(self, ended: bool = False) -> list[Diagnosis]:
        if self._first is None:
            return []
        diagnosis = self._report(open_=False, ended=ended)
        self._first = None
        return [diagnosis]

    def _report(self, open_: bool, ended: bool = False) -> Diagnosis:
        first, last = self._first, self._last
        assert first is not None and last is not None
        waited = self._waited(ended)
        scaled = self._scaled()
        skipped = waited or (not self._loss_bad and (self._count <= self._allowance() or scaled))
        bad = _bad(first) or self._orphans
        hidden = loss_is_nan(first) and LOSS not in bad
        what = ", ".join(bad) if bad else LOSS
        message = f"{what} became non-finite at {where(first)}"
        if hidden:
            message = (
                f"loss printed as 0.0 beside grad_norm {fmt(first.metrics[GRAD_NORM])} at "
                f"{where(first)}: a NaN loss hidden by the logger"
            )
        duration = "so far" if open_ else ""
        message += f" and stayed so for {plural(self._count, 'record')} {duration}".rstrip()
        if self._healthy is not None:
            values = ", ".join(
                f"{m} {fmt(v)}" for m, v in self._healthy.metrics.items() if m in WATCHED
            )
            if values:
                message += f"; last finite values at {where(self._healthy)}: {values}"
        if bad == [VAL_LOSS]:
            message += (
                "; only the validation loss: check the validation data and the evaluation "
                "code (a division by an empty batch, a log of zero)"
            )
        if waited:
            message += (
                "; the loss had printed no finite value before and turned finite after, "
                "so no NaN reached the weights: a statistic with nothing to report yet, "
                "as an RL agent's average loss before its first update"
            )
        elif skipped and self._said_skipped:
            message += (
                "; the line says the step overflowed and was skipped: a mixed-precision "
                "loss scaler at work (see loss_scale_collapse for the scaler itself)"
            )
        elif skipped and scaled:
            before, low = self._scale_before, self._scale_low or 0.0
            fell = (
                f"fell from {fmt(before)} to" if before is not None and low < before else "sat at"
            )
            message += (
                f"; the loss stayed finite while the loss scale {fell} {fmt(low)}: a "
                "mixed-precision loss scaler skipping the steps that overflow (see "
                "loss_scale_collapse for the scaler itself)"
            )
        elif skipped and self._calibrating:
            message += (
                "; the loss stayed finite and no step had succeeded yet, as when a "
                "mixed-precision loss scaler skips the steps that overflow while it lowers "
                "its starting scale"
            )
        elif skipped:
            message += (
                "; the loss stayed finite, as when a mixed-precision loss scaler skips an "
                "overflowed step"
            )
        pairs = [(self._healthy, m) for m in WATCHED] if self._healthy else []
        pairs += [(first, m) for m in WATCHED]
        return self.diagnose(
            message,
            first,
            last,
            severity=Severity.INFO if skipped else Severity.ERROR,
            confidence=Confidence.MEDIUM if skipped else Confidence.HIGH,
            metric=bad[0] if bad else LOSS,
            count=self._count,
            evidence=evidence_of(pairs),
        )


def _bad(record: Record) -> list[str]:
    """The watched series that are not finite in a record: the canonical ones first, then
    any other member of the loss or grad-norm families (``smooth_l1``, ``box_grad_norm``)."""
    bad = [m for m in WATCHED if _nonfinite(record.get(m))]
    for name, value in record.metrics.items():
        if not math.isfinite(value) and name not in WATCHED and watched(name):
            bad.append(name)
    return bad


@lru_cache(maxsize=4096)
def _is_watched(name: str) -> bool:
    """Whether ``_bad`` looks at series ``name`` (cached: a block asks for every name)."""
    return name in WATCHED or watched(name)


def _nonfinite(value: float | None) -> bool:
    return value is not None and not math.isfinite(value)
