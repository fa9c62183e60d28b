"""`vanishing_gradient`: gradients too small to move the weights while nothing is learned."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, median, where
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, LOSS_SCALE, PARAM_NORM

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from gradlog.detectors.block import Block, Flags, Floats

    Ints = npt.NDArray[np.intp]
else:
    from gradlog.lazy import numpy as np


class VanishingGradientDetector(Detector):
    """
    ## What it detects
    A gradient norm around 1e-3 or below (or below 1e-4 of the parameter norm) for
    several records in a row, while the loss barely moves, the parameter norm stays
    flat and the loss is still near where the run started.

    ## Why it matters
    With gradients this small the weights do not change, so the network has stopped
    learning; more epochs will not help. It is typical of saturated sigmoid/tanh units,
    deep stacks without normalisation or residual paths, and poor initialisation.

    ## Example
    ```
    Epoch 20/50
    Train Loss: 0.6932, Train Acc: 0.5067
    grad_norm=0.0009   param_norm=3.10      <- flagged
    ```

    ## Thresholds
    - `absolute` 2e-3 ("around 1e-3 or below") or grad/param below `relative` 1e-4,
      from practitioners' rule that a healthy grad norm lies between 1e-2 and 1e1.
    - for `min_records` (3) records, with the loss range within `flat_loss` (2%) and the
      param_norm range within `flat_param` (2%) of their levels.
    - the loss still above `unlearned_fraction` (0.5) of its starting value: small
      gradients after a run has converged are expected.
    - a reported episode goes on through up to `gap_records` (2) records in a row whose
      grad norm is not tiny.
    - a reported episode whose loss stops being flat while the grad norm stays tiny is
      resumed, not told again, by the next flat run: batch noise on a loss frozen at its
      level breaks a 2% band every few records, and each break is not a new episode. It
      ends when the grad norm is not tiny for more than `gap_records` records.
    - a record whose fp16 loss scale is below `error_scale` (1, from
      `loss_scale_collapse`) is no sign of its own: a scale that amplifies nothing lets
      small gradients underflow to 0, and the scale is the problem to tell (VideoMAE's
      grad norm fell to 0 as its scale halved from 1 to 1e-3).
    """

    rule = Rule(
        id="vanishing_gradient",
        min_records=5,
        title="Vanishing gradient",
        severity=Severity.ERROR,
        summary="Gradients are too small to move the weights, and the loss is flat.",
        why=(
            "With gradients this small the weights do not change: the network has stopped learning"
            " and more epochs will not help."
        ),
        remedies=(
            "Use ReLU, LeakyReLU, PReLU or ELU activations instead of sigmoid or tanh in "
            "hidden layers.",
            "Add batch normalisation (or layer normalisation) between layers.",
            "Add residual (skip) connections around deep stacks of layers.",
            "Initialise weights for the activation: He for ReLU, Xavier/Glorot for "
            "tanh or sigmoid.",
            "For recurrent models use LSTM or GRU cells instead of a plain RNN.",
            "Check that the learning rate is not tiny or zero, and that no layer is "
            "frozen by mistake.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.vanishing_gradient
        self._underflow = thresholds.loss_scale_collapse.error_scale  # (a scale below: `_tiny`)
        self._start_loss: float | None = None
        self._run: list[Record] = []  # the run's first record and its latest 63
        self._length = 0  # records in the run
        self._misses = 0  # records in a row since its last, whose grad norm is not tiny
        self._reported = False
        # A reported episode whose run lost its flatness, the grad norm still tiny: its
        # first record and its records so far, resumed by the next run that reports.
        self._episode: tuple[Record, int] | None = None
        self._gap = 0  # records in a row whose grad norm is not tiny

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        metrics = record.metrics
        loss = metrics.get(LOSS)
        if self._start_loss is None and loss is not None and math.isfinite(loss):
            self._start_loss = loss
        if GRAD_NORM not in metrics:
            return []  # (no grad norm printed: the record neither extends a run nor breaks it)
        if not self._tiny(metrics, loss):
            self._gap += 1
            over = self._gap > self._limits.gap_records  # the gradients left the tiny zone
            if over:
                self._episode = None
            if not self._run:
                return []  # no run open: nothing to close
            self._misses += 1
            if self._reported and self._misses <= self._limits.gap_records:
                return []  # (a reported episode goes on through a short gap)
            done = self._close()
            if over:
                self._episode = None
            return done
        self._misses = self._gap = 0
        self._run.append(record)
        self._length += 1
        if len(self._run) > _KEPT:  # keep the state bounded; the ends are what matter
            del self._run[1]
        if not self._flat():  # the run ends at the record before; this one opens the next
            self._run.pop()
            self._length -= 1
            done = self._close()
            self._run, self._length = [record], 1
            return done
        if self._length >= self._limits.min_records and not self._reported:
            self._reported = True
            return [self._report()]
        return []

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.small_block import with_next

        # A record does anything beyond noting the first loss only when its grad norm is
        # tiny, or when it ends a run of tiny ones. The screen leaves out the loss tests
        # of _tiny (it may flag more, never fewer); `observe` settles them.
        names = block.names
        if GRAD_NORM not in names:  # (records without a grad norm change no run)
            return self.replay(block, (), self._advance)
        limits = self._limits
        grad = block.values(GRAD_NORM)
        tiny = grad <= limits.absolute
        if PARAM_NORM in names:
            param = block.values(PARAM_NORM)
            with np.errstate(divide="ignore", invalid="ignore"):
                tiny |= (param > 0) & (grad / param < limits.relative)
        tiny &= np.isfinite(grad)
        if LOSS_SCALE in names:  # (as `_tiny`: beside a scale below 1, the scaler's doing)
            tiny &= ~(block.present(LOSS_SCALE) & (block.values(LOSS_SCALE) < self._underflow))
        # (A run closes on the record after it, or after its gap when it was reported; an
        # episode a flat run may resume ends after the gap too. Records that print no grad
        # norm are passed over: the gap counts those that print one.)
        printed = block.present(GRAD_NORM)
        at = np.flatnonzero(printed)
        open_before = bool(self._run) or self._episode is not None
        near = with_next(tiny[at], open_before, self._limits.gap_records + 1)
        flagged: list[int] = at[near].tolist()
        return self.replay(block, self._flags(block, tiny, printed, flagged), self._advance)

    def _flags(
        self, block: Block, tiny: Flags, printed: Flags, flagged: list[int]
    ) -> Iterator[int]:
        """The ``flagged`` records to observe, but for a reported run that goes on: the
        records with a tiny grad norm after it that keep it tiny and flat are carried in
        bulk (``_carry``), up to the first that may not (``printed``: the records that
        print a grad norm), through the gaps it goes on through (``gap_records`` or fewer
        records in a row whose grad norm is not tiny, then a tiny one)."""
        from gradlog.detectors.small_block import long_gaps, run_end

        at = 0
        # A carried stretch ends where a long gap starts (more than ``gap_records``
        # printed records in a row whose grad norm is not tiny, or one that runs to the
        # block's end).
        shown = np.flatnonzero(printed)
        breaks: list[int] = shown[long_gaps(~tiny[shown], self._limits.gap_records)].tolist()
        while at < len(flagged):
            index = flagged[at]
            if self._reported and self._run and tiny[index]:
                stop = run_end(breaks, index, len(tiny))
                if stop - index >= _CARRIED:
                    index = self._carry(block, index, stop, printed, tiny)
                    at = bisect.bisect_left(flagged, index)
                    if index >= stop:
                        continue
            yield index
            at += 1

    def _carry(self, block: Block, start: int, stop: int, printed: Flags, tiny: Flags) -> int:
        """The records ``start`` to ``stop`` that print a grad norm (``printed``) have a
        tiny, finite one (the block's screen, ``tiny``) but for short gaps, each followed
        by a tiny one, and the run is open and reported: take into it those that keep it
        so, as ``observe`` would (each is tiny by its loss too, and the run's losses and
        parameter norms stay flat: the run's first record and its latest 63, as
        ``observe`` keeps them); return the first that does not, or ``stop``. A gap's
        records only count the gap, which the next tiny record ends; the others are
        passed over, as ``observe`` does."""
        limits = self._limits
        records = block.records
        run = self._run
        shown = start + np.flatnonzero(printed[start:stop])
        at = shown[tiny[shown]]
        count = len(at)
        loss = block.values(LOSS)[at] if LOSS in block.names else np.full(count, np.nan)
        flat = np.isfinite(loss)
        if self._start_loss:
            flat &= ~(loss < limits.unlearned_fraction * self._start_loss)
        for metric, most in ((LOSS, limits.flat_loss), (PARAM_NORM, limits.flat_param)):
            if metric in block.names:
                flat &= _flat_rows(run, metric, block.values(metric)[at], most)
        taken = int(np.argmin(flat)) if not flat.all() else count
        if taken:
            kept_at = at[max(0, taken - (_KEPT - 1)) : taken]
            if len(kept_at) and kept_at[-1] - kept_at[0] == len(kept_at) - 1:
                latest = records[int(kept_at[0]) : int(kept_at[-1]) + 1]  # (made together)
            else:
                latest = [records[i] for i in kept_at.tolist()]
            kept = [*run[1:], *latest][-(_KEPT - 1) :]
            self._run = [run[0], *kept]
            self._length += taken
        end = int(at[taken]) if taken < count else stop
        if taken:
            # (a gap before the record returned is under way: its records are counted)
            after = int(np.searchsorted(shown, at[taken - 1], side="right"))
            self._misses = self._gap = int(np.searchsorted(shown, end)) - after
        return end

    def _advance(self, block: Block, start: int, end: int) -> None:
        """Records with a grad norm that is not tiny and no run open (after more than
        ``gap_records`` of them, observed, which ended any episode), or records a
        reported run took in bulk (``_carry``): only the first finite loss of the run is
        kept."""
        if self._start_loss is None and LOSS in block.names:
            where = np.flatnonzero(block.finite(LOSS)[start:end])
            if len(where):
                self._start_loss = block.records[start + int(where[0])].metrics[LOSS]

    def finish(self) -> Iterable[Diagnosis]:
        return self._close()

    def _tiny(self, metrics: dict[str, float], loss: float | None) -> bool:
        """The record's grad norm is tiny, absolutely or beside the weights, while its loss
        (``loss``) is still near where the run started."""
        grad = metrics.get(GRAD_NORM)
        if grad is None or not math.isfinite(grad) or loss is None or not math.isfinite(loss):
            return False
        limits = self._limits
        if self._start_loss and loss < limits.unlearned_fraction * self._start_loss:
            return False
        scale = metrics.get(LOSS_SCALE)
        if scale is not None and scale < self._underflow:
            return False  # (the scaler's underflow: `loss_scale_collapse` tells it)
        if grad <= limits.absolute:
            return True
        param = metrics.get(PARAM_NORM)
        return param is not None and param > 0 and grad / param < limits.relative

    def _flat(self) -> bool:
        return _spread(self._run, LOSS) <= self._limits.flat_loss and (
            _spread(self._run, PARAM_NORM) <= self._limits.flat_param
        )

    def _close(self) -> list[Diagnosis]:
        found = []
        if self._reported:
            found = [self._report()]
            first, length = self._episode or (self._run[0], 0)
            self._episode = (first, length + self._length)  # (resumed by a flat run)
        elif self._episode is not None:  # a run of tiny gradients within the episode
            self._episode = (self._episode[0], self._episode[1] + self._length)
        self._run, self._length, self._misses, self._reported = [], 0, 0, False
        return found

    def _report(self) -> Diagnosis:
        """The episode: the run open, after the episode it resumes, if any."""
        first, length = self._episode or (self._run[0], 0)
        length += self._length
        last = self._run[-1]
        grads = [r.metrics[GRAD_NORM] for r in self._run]
        message = (
            f"grad_norm stayed at {fmt(median(grads))} (max {fmt(max(grads))}) from "
            f"{where(first)} to {where(last)} while the loss stayed at "
            f"{fmt(first.metrics[LOSS])}"
        )
        if first.get(PARAM_NORM) is not None and last.get(PARAM_NORM) is not None:
            message += (
                f" and param_norm at {fmt(first.metrics[PARAM_NORM])}"
                f" -> {fmt(last.metrics[PARAM_NORM])}"
            )
        message += f" ({length} records): the weights are not being updated"
        pairs = [
            (first, GRAD_NORM),
            (first, PARAM_NORM),
            (first, LOSS),
            (last, GRAD_NORM),
            (last, LOSS),
        ]
        return self.diagnose(
            message,
            first,
            last,
            confidence=Confidence.HIGH if length >= 5 else Confidence.MEDIUM,
            metric=GRAD_NORM,
            count=length,
            evidence=evidence_of(pairs),
        )


_KEPT = 64  # records of a run kept: its first and its latest


_CARRIED = 16  # records with a tiny grad norm worth carrying in bulk


def _flat_rows(run: list[Record], metric: str, values: Floats, most: float) -> Flags:
    """Whether ``_spread`` of the run is at most ``most`` as it stands after each of
    ``values`` (of the records that join it, in order) is added.

    Where the values are all positive, the median is at least the least of them, so a
    spread at most ``most`` times the least is at most ``most`` times the median (IEEE
    division keeps that order): such rows need no median. The rest are taken exactly
    (``_spreads``)."""
    from gradlog.detectors.block import window_extremes

    head, series, skip = _series(run, metric, values)
    lows = np.fmin(window_extremes(series, _KEPT - 1, np.fmin)[skip:], head)  # (NaN-blind)
    highs = np.fmax(window_extremes(series, _KEPT - 1, np.fmax)[skip:], head)
    with np.errstate(divide="ignore", invalid="ignore"):
        flat: Flags = (lows > 0) & ((highs - lows) / lows <= most)
    rest = np.flatnonzero(~flat)
    if len(rest):
        flat[rest] = _spreads(head, series, skip, rest) <= most
    return flat


def _series(run: list[Record], metric: str, values: Floats) -> tuple[float, Floats, int]:
    """The run's first record's value (NaN if none), and the values of its latest 63
    then ``values``, behind 63 NaN (non-finite ones as NaN); window ``i`` of 63 of the
    series from ``skip`` on ends at ``values[i]``."""
    first = run[0].get(metric)
    head = math.nan if first is None or not math.isfinite(first) else first
    before = [
        v if (v := r.get(metric)) is not None and math.isfinite(v) else math.nan for r in run[1:]
    ]
    values = np.where(np.isfinite(values), values, math.nan)
    series = np.concatenate((np.full(_KEPT - 1, math.nan), before, values))
    return head, series, len(before) + 1


def _spreads(head: float, series: Floats, skip: int, rows_at: Ints) -> Floats:
    """``_spread`` over ``head`` and each window of 63 of ``series`` (``_series``) at
    ``rows_at``, the finite values; by the same float operations (the median of an even
    count is the mean of the middle two)."""
    width = _KEPT - 1
    windows = np.lib.stride_tricks.sliding_window_view(series, width)[skip:][rows_at]
    rows = np.concatenate((np.full((len(rows_at), 1), head), windows), axis=1)
    rows.sort(axis=1)  # (NaN last)
    n = np.count_nonzero(~np.isnan(rows), axis=1)
    at = np.arange(len(rows))
    low, high = rows[at, np.maximum(n - 1, 0) // 2], rows[at, np.maximum(n, 1) // 2]
    middle = np.where(n % 2 == 1, rows[at, np.maximum(n - 1, 0) // 2], (low + high) / 2)
    level = np.abs(middle)
    spread = rows[at, np.maximum(n - 1, 0)] - rows[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        found = np.where(level != 0, spread / level, math.inf)
    found[n < 2] = 0.0
    return found


def _spread(records: list[Record], metric: str) -> float:
    """(max - min) / median of a metric over records that have it; 0 when absent."""
    values = [v for r in records if (v := r.get(metric)) is not None and math.isfinite(v)]
    if len(values) < 2:
        return 0.0
    level = abs(median(values))
    return (max(values) - min(values)) / level if level else math.inf
