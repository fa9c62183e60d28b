"""`exploding_gradient`: the gradient norm is far above healthy or its own early level."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from gradlog.config import Thresholds
from gradlog.detectors.base import (
    Detector,
    Rule,
    evidence_of,
    factor,
    fmt,
    loss_is_nan,
    median,
    where,
)
from gradlog.detectors.window import SortedWindow
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, PARAM_NORM
from gradlog.report import plural

if TYPE_CHECKING:
    from gradlog.detectors.block import Block


class ExplodingGradientDetector(Detector):
    """
    ## What it detects
    A gradient norm that is above 100, or 10x or more above its own early level, or
    above the parameter norm, for an episode of consecutive records. It is an error
    at once when the episode also shows a NaN, a loss jump of 3x or more or a parameter
    norm growing 1.5x or more, or when one value is extreme; otherwise when it persists
    for 3 records (2 strong ones when the log ends) while the loss does not improve; a
    warning when the only sign is a grad norm above the parameter norm.

    ## Why it matters
    An update proportional to a huge gradient throws the weights far from where the
    loss was low; the loss spikes, then overflows to NaN.

    ## Example
    ```
    Epoch 9/50
    Train Loss: nan
    grad_norm=1783.42  param_norm=965.10      <- flagged
    ```

    ## Thresholds
    - `absolute` 100: a healthy L2 grad norm usually lies between 1e-2 and 1e1; above
      1e2 deserves a look (practitioners' rule of thumb).
    - `growth` 10x over the median of the first `early_records` (5) grad norms.
    - grad norm above param norm for `persist_records` (3) records: warning only.
    - `param_growth` 1.5x within the episode corroborates an explosion.
    - a single value `extreme` (10x) past `absolute`, or 10x the parameter norm, is an
      error on its own, even as the only record of the episode.
    - after `blips` (2) one-record jumps that settled at once, the growth sign is the
      run's noise: only `absolute` and the parameter norm count.
    - an episode with no corroboration during which the loss fell by `progress` (20%)
      or more, from the record before it, is the optimizer making progress: not
      reported.
    - a reported episode goes on through up to `gap_records` (2) healthy norms in a row.
    - an episode with no corroboration that opens the run at its highest norm, which
      has fallen since, is the first updates settling from initialisation: not reported
      while it falls, even when that first norm is past `extreme` x `absolute` (such a
      first norm waits one record to tell); not when it is 10x the parameter norm.
    """

    rule = Rule(
        id="exploding_gradient",
        min_records=4,
        title="Exploding gradient",
        severity=Severity.ERROR,
        summary="The gradient norm is far above a healthy level or its own early level.",
        why=(
            "Updates proportional to a huge gradient throw the weights far from where the loss was"
            " low; the loss spikes, then overflows to NaN."
        ),
        remedies=(
            "{clip}",
            "{lower_lr}, and add warm-up if there is none.",
            "Switch to an adaptive optimizer such as Adam if plain SGD is used.",
            "Add an L2 (weight decay) or L1 penalty on the weights.",
            "Add batch normalisation (or layer normalisation) between layers.",
            "Initialise weights for the activation: He for ReLU, Xavier/Glorot for "
            "tanh or sigmoid.",
            "Use fewer layers, or residual connections around deep stacks.",
            "For recurrent models use LSTM or GRU cells instead of a plain RNN.",
            "Normalise inputs to zero mean and unit variance.",
        ),
    )

    RECENT: ClassVar[int] = 16  # healthy grad norms in the recent level

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._blips = 0  # one-record episodes that settled at once, unreported
        self._loss_before: float | None = None  # the loss just before the episode
        self._limits = thresholds.exploding_gradient
        self._early: list[float] = []
        self._early_level = 0.0  # their median, once there are 3
        # The settled level: warm-up inflates the first grad norms, so an explosion is
        # measured against the lower of the early level and the recent healthy one.
        self._recent = SortedWindow(self.RECENT)
        self._recent_sorted = self._recent.ordered  # the same list, read on every record
        self._previous_loss: float | None = None
        self._reset()

    def _reset(self) -> None:
        self._first: Record | None = None
        self._last: Record | None = None
        self._peak: Record | None = None
        self._count = 0
        self._strong = 0  # records above the absolute level or the growth level
        self._corroboration: str | None = None
        # The only corroboration is a loss jump: the episode must persist as any other
        # does, since a grad norm that jumps with the loss for a record or two and settles
        # at once is the loss spike's (``loss_spike`` tells of both), not an explosion.
        self._jumped = False
        self._param_start: float | None = None
        self._reported: Severity | None = None
        self._misses = 0  # healthy grad norms in a row since its last record
        self._gap: list[float] = []  # ... their values
        self._opening = False  # the episode opened at the run's first grad norm

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        metrics = record.metrics
        grad = metrics.get(GRAD_NORM)
        loss = metrics.get(LOSS)
        # The loss to measure the next jump from: finite, and not a NaN hidden as 0.0
        # beside a non-finite grad norm (loss_is_nan, from the values at hand).
        kept: float | None
        if (
            loss is not None
            and math.isfinite(loss)
            and not (loss == 0.0 and grad is not None and not math.isfinite(grad))
        ):
            kept = loss
        else:
            kept = self._previous_loss
        if grad is None:
            found = []
            if self._jumped and loss_is_nan(record):
                # (The NaN after a jump, on a line that prints no grad norm: fairseq's.)
                self._corroborate(record)
                found = self._maybe_report()
            self._previous_loss = kept
            return found
        strong = weak = False
        if math.isfinite(grad):
            # Strong: above the absolute level, or grown over the healthy one; weak: above
            # the parameter norm.
            strong = grad > self._limits.absolute or self._grown(grad)
            param = metrics.get(PARAM_NORM)
            weak = param is not None and math.isfinite(param) and grad > param
            if not (strong or weak):
                self._previous_loss = kept
                if self._reported is not None and self._misses < self._limits.gap_records:
                    # A reported episode goes on through a short gap; the gap's norms join
                    # the healthy level only if it ends there (the level is the one before
                    # the episode).
                    self._misses += 1
                    self._gap.append(grad)
                    return []
                gap = self._gap
                done = [] if self._first is None else self._close()  # nothing open to close
                for value in (*gap, grad):
                    self._healthy(value)
                return done
        elif self._first is None:
            self._previous_loss = kept  # a non-finite norm opens nothing by itself
            return []
        if self._first is None:
            self._first, self._param_start = record, record.get(PARAM_NORM)
            self._loss_before = self._previous_loss or record.get(LOSS)
            self._opening = not self._early and not self._recent_sorted
        self._last, self._count, self._misses = record, self._count + 1, 0
        if self._gap:
            self._gap = []  # (dips inside the episode)
        self._strong += strong
        if math.isfinite(grad) and (self._peak is None or grad > self._peak.metrics[GRAD_NORM]):
            self._peak = record
        self._corroborate(record)
        found = self._maybe_report()
        self._previous_loss = kept
        return found

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.exploding_block import ExplodingScreen

        # Screened with arrays (exploding_block): ``observe`` runs only where a grad norm
        # can open an episode, and inside one on every record until it is reported as
        # an error, then only where it may end or be corroborated.
        if not block.records:
            return []
        return ExplodingScreen(self, block).run()

    def finish(self) -> Iterable[Diagnosis]:
        if self._reported is None and self._first is not None:
            self._reported = self._severity(ended=True)  # cut by the end of the log
        return self._close()

    def _healthy(self, grad: float) -> None:
        """A healthy norm: part of the early and recent levels."""
        early = self._early
        if len(early) < self._limits.early_records:
            early.append(grad)
            if len(early) >= 3:
                self._early_level = median(early)
        self._recent.append(grad)

    def _grown(self, grad: float) -> bool:
        """A finite grad norm grew `growth` times over the healthy level."""
        # Growth from a tiny level to a still-small one (0.001 -> 0.05) is not an explosion:
        # the grown norm must also be above 1, the top of the usual healthy range's middle.
        # A spiky run's jumps are its noise. (Cheap tests first: most norms are below 1.)
        if grad <= 1.0 or self._blips >= self._limits.blips:
            return False
        level = self._level()
        return level > 0 and grad >= self._limits.growth * level

    def _level(self) -> float:
        """The healthy grad norm level before the episode; 0 while it is unknown."""
        if len(self._early) < 3:
            return 0.0
        level = self._early_level
        ordered = self._recent_sorted
        size = len(ordered)
        if size >= 8:
            # min(level, median of the recent window), inlined: this runs on most records.
            mid = size >> 1
            recent = ordered[mid] if size & 1 else (ordered[mid - 1] + ordered[mid]) / 2
            level = recent if recent < level else level
        return level

    def _corroborate(self, record: Record) -> None:
        loss, param = record.get(LOSS), record.get(PARAM_NORM)
        nan = loss_is_nan(record) or (param is not None and not math.isfinite(param))
        if self._jumped:  # (a NaN settles it; the jump stays what the message tells)
            self._jumped = not nan
            return
        if self._corroboration is not None:
            return
        if nan:
            self._corroboration = f"the loss or weights went non-finite at {where(record)}"
        elif (
            loss is not None
            and self._previous_loss is not None
            and self._previous_loss > 0  # a tripling means nothing at or below zero
            and loss >= 3 * self._previous_loss
        ):
            self._corroboration = (
                f"the loss jumped {factor(loss / self._previous_loss)} at {where(record)}"
            )
            self._jumped = True
        elif (
            param is not None
            and self._param_start
            and param >= self._limits.param_growth * self._param_start
        ):
            self._corroboration = (
                f"param_norm grew {fmt(self._param_start)} -> {fmt(param)} by {where(record)}"
            )

    def _extreme(self, absolute: bool = True) -> bool:
        """One value settles it: far past `absolute` (unless not ``absolute``), or far
        above the weights' norm."""
        peak = self._peak
        if peak is None:
            return False
        grad, param = peak.metrics[GRAD_NORM], peak.get(PARAM_NORM)
        big = absolute and grad >= self._limits.extreme * self._limits.absolute
        return big or (param is not None and grad >= self._limits.extreme * param > 0)

    def _progressing(self) -> bool:
        """The loss fell by `progress` or more from just before the episode to its latest
        record: learning, not damage."""
        first = self._loss_before
        last = self._last.get(LOSS) if self._last is not None else None
        if first is None or last is None or not (math.isfinite(first) and math.isfinite(last)):
            return False
        return last <= (1 - self._limits.progress) * first

    def _settling(self) -> bool:
        """The episode opened the run, at its highest norm, and the norm has fallen since:
        the large gradients of the first updates from initialisation settling (FFJORD's
        grad norm of 179 at iteration 0, 5 by iteration 1000), not an explosion."""
        first, last = self._first, self._last
        if not self._opening or first is None or last is None or self._peak is not first:
            return False
        return last.metrics[GRAD_NORM] < first.metrics[GRAD_NORM]

    def _severity(self, ended: bool = False) -> Severity | None:
        """How bad the open episode is, or None while it is not (yet) a problem.

        Corroborated or extreme episodes are reported at once; the others must persist
        for `persist_records` (or be cut by the end of the log after two strong records)
        and must not be the optimizer making progress.
        """
        # A first norm of the run extreme by its size alone waits for the next: one
        # falling from it is the first updates settling too (LeRobot's ``grdn:1741`` at
        # step 0, 185 after). Ten times the weights' own norm is an explosion at once.
        waits = (
            self._opening
            and self._peak is self._first
            and ((self._count == 1 and not ended) or self._settling())
        )
        # (A jump the log ends on, or a crash: never seen to settle.)
        corroborated = self._strong and self._corroboration and (not self._jumped or ended)
        if self._extreme(absolute=not waits) or corroborated:
            return Severity.ERROR
        persisted = self._count >= self._limits.persist_records
        if (
            not (persisted or (ended and self._strong >= 2))
            or self._progressing()
            or self._settling()
        ):
            return None
        return Severity.ERROR if self._strong else Severity.WARNING

    def _maybe_report(self) -> list[Diagnosis]:
        severity = self._severity()
        if severity is None or (self._reported is not None and severity <= self._reported):
            return []
        self._reported = severity
        return [self._report(severity)]

    def _close(self) -> list[Diagnosis]:
        found = [self._report(self._reported)] if self._reported is not None else []
        if self._reported is None and self._count == 1:
            self._blips += 1  # up for one record, settled at once
        self._reset()
        return found

    def _report(self, severity: Severity) -> Diagnosis:
        first, last = self._first, self._last
        assert first is not None and last is not None
        peak = self._peak or first
        grad = first.metrics[GRAD_NORM]
        message = f"grad_norm reached {fmt(grad)} at {where(first)}"
        param = first.get(PARAM_NORM)
        if param is not None:
            message += f" (param_norm {fmt(param)})"
        if self._level():
            message += f", against a healthy level of {fmt(self._level())}"
        if peak is not first:
            message += f"; peak {fmt(peak.metrics[GRAD_NORM])} at {where(peak)}"
        message += f"; {plural(self._count, 'record')} above a healthy level"
        if self._corroboration:
            message += f"; {self._corroboration}"
        pairs = [(first, GRAD_NORM), (first, PARAM_NORM), (peak, GRAD_NORM), (first, LOSS)]
        return self.diagnose(
            message,
            first,
            last,
            severity=severity,
            confidence=Confidence.HIGH if self._corroboration else Confidence.MEDIUM,
            metric=GRAD_NORM,
            count=self._count,
            evidence=evidence_of(pairs),
        )
