"""`loss_spike`: the training loss jumps far above its recent level."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING

from gradlog.config import Thresholds
from gradlog.detectors.base import (
    Detector,
    Rule,
    evidence_of,
    factor,
    finite,
    fmt,
    median,
    where,
)
from gradlog.detectors.window import SortedWindow
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import GRAD_NORM, LOSS, LR

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block
    from gradlog.detectors.spike_block import Layout
else:
    from gradlog.lazy import numpy as np

# Below this many records a block goes through ``observe`` one by one: the screen's
# fixed cost (a few dozen numpy calls, some 45 us) is what ``observe`` takes on about
# this many records (small blocks come from a live input).
SMALL_BLOCK = 40


class _Pending:
    """A record of a block, made from its columns only when asked for."""

    __slots__ = ("_index", "_records")

    def __init__(self, records: Sequence[Record], index: int) -> None:
        self._records, self._index = records, index

    def record(self) -> Record:
        return self._records[self._index]


class LossSpikeDetector(Detector):
    """
    ## What it detects
    The training loss jumping 10x or more above its recent level (the median of the
    previous 8 finite losses). A smaller jump counts when something confirms it: 3x or
    more when the loss turns NaN within the next 3 records, since the explosion shows
    where it began; 2x or more when the grad norm jumped 10x at the same time.

    ## Why it matters
    A spike means one update moved the weights far off course: usually a learning rate
    too high for the current curvature, a bad batch, or fp16 overflow. Runs often
    recover partly and carry the damage, or go on to NaN.

    ## Example
    ```
    Epoch 7/50
    Train Loss: 0.5123
    Epoch 8/50
    Train Loss: 1.9375      <- flagged (3.8x, NaN follows)
    Epoch 9/50
    Train Loss: nan
    ```

    ## Thresholds
    - `factor` 10 (warning) and `severe_factor` 100 (error), from practitioners' rule
      of thumb that a 10-100x jump is a spike; an error too when NaN follows.
    - `nan_confirmed_factor` 3 within `nan_horizon` 3 records of a NaN.
    - `min_rise_fraction` 0.1: the rise must be at least a tenth of the run's starting
      loss, so near-zero losses that wobble (0.001 -> 0.02) are not spikes; but for a
      jump of `factor` over the highest of the last 8 losses, or of `quiet_factor` over a
      quiet window (below): a loss that fell by orders of magnitude and sits there (a
      PINN's 1e-3) is not wobbling.
    - `min_history` 3 finite losses before an unconfirmed spike can fire.
    - `quiet_factor` 5 when the previous 8 losses all lie within `quiet_spread` (1.5x)
      of the least of them: in a run that quiet, a 5x jump is far beyond its noise.
    - `grad_confirmed_factor` 2 when the grad norm jumped `grad_jump` (10x) over its
      recent level at the same time: language-model losses are bounded near
      ln(vocabulary), so their spikes are 2-3x; noise moves the loss, not the gradient
      by an order of magnitude. Not once the run's grad norm has jumped 10x
      `quiet_grad_jumps` (2) times with no loss jump beside it: then such jumps are the
      run's own noise (single-batch norms of a small data set) and confirm nothing.
    - or, when no grad norm is printed, 2x followed by a record still `lm_held` (1.5x)
      above the level before the jump (`lm_persist` 2 records in all), in a run whose
      loss started at `lm_start` (6.9 = ln 1000) or more: a language model's loss is
      bounded near ln(vocabulary), so 2-5x is as far as its spikes go.
    - or, once it held `lm_persist` (2) records (3 unless the window was still to
      `calm_spread`, 1.1x), a jump of `calm_factor` (2x) and `calm_margin` (1.5) times
      the spread (most over least) of the window before it, its last `calm_ramp` (2)
      losses left out (a jump may climb through them, but no longer: 2x over the last
      loss before them, or it is a steady climb, `divergence`'s): a diffusion model's loss averaged
      to 0.149 +- 1% that jumps to 0.41 and decays back over 30 records. Not while the
      learning rate is above its least in the window (a warm restart), nor once
      `calm_misses` (2) such jumps fell straight back, or 2x jumps came out of windows
      as wide as the margin asks (a heavy-tailed per-batch loss).
    - None once the loss has gone below zero: a signed loss (a policy gradient's
      surrogate, an ELBO) has no positive level for a jump to be a multiple of.
    """

    rule = Rule(
        id="loss_spike",
        min_records=4,
        title="Loss spike",
        severity=Severity.WARNING,
        summary="The training loss jumped 10x or more above its recent level.",
        why=(
            "A spike means one update threw the weights far off course; runs often carry the "
            "damage or go on to NaN."
        ),
        remedies=(
            "{clip}",
            "{lower_lr}, or lengthen warm-up.",
            "Resume from a checkpoint saved {rollback} and skip the batches that caused the spike.",
            "Check the batches at the spike for corrupt or extreme examples.",
            "With Adam, raise epsilon (1e-8 -> 1e-6) or lower beta2 (0.999 -> 0.95).",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = thresholds.loss_spike
        # The last finite losses, sorted as they come: their median is the recent level.
        self._recent = SortedWindow(self._limits.window)
        self._recent_sorted = self._recent.ordered  # the same list, read on every record
        self._start: list[float] = []  # the first finite losses: the run's scale
        self._start_level = 0.0  # their median, set with each of them
        self._signed = False  # a finite loss below zero was seen: no ratio measures a jump
        # The record before (or where it is in its block, ``_Pending``: ``_before``).
        self._previous: Record | _Pending | None = None
        self._candidate: tuple[Record, Record | None, float, float] | None = None
        self._since_candidate = 0
        self._episode: Diagnosis | None = None
        self._episode_base = 0.0
        # For causes: the last records (or where they are in their block, ``_Pending``).
        self._window: deque[Record | _Pending] = deque(maxlen=self._limits.window)
        # The finite grad norms of the same records (None where a record has none).
        self._grads = SortedWindow(self._limits.window)
        self._grads_sorted = self._grads.ordered
        self._quiet_jumps = 0  # grad-norm jumps of 10x with no loss jump beside them
        # A language model's 2x jump waiting for persistence: first record, the one before,
        # its ratio and base, and how many records held it.
        self._lm: tuple[Record, Record | None, float, float, int] | None = None
        self._lm_held: tuple[Record, Record | None, float, float, int] | None = None
        self._calm_misses = 0  # calm jumps (``_calm``) that fell back before they held

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        metrics = record.metrics
        loss = metrics.get(LOSS)
        if loss is None:
            return []
        grad = metrics.get(GRAD_NORM)
        finite_grad = grad if grad is not None and math.isfinite(grad) else None
        # loss_is_nan(record), from the values at hand: this runs on every record.
        if not math.isfinite(loss) or (loss == 0.0 and grad is not None and finite_grad is None):
            found = self._confirm(record)
            self._episode = None
        else:
            # A language model's jump waits for the very next record: held, or forgotten.
            self._lm, self._lm_held = None, self._lm
            found = []
            recent = self._recent_sorted
            if recent:  # else nothing to measure a jump against yet
                # The recent level: SortedWindow.median inlined, as for every record here.
                size = len(recent)
                mid = size >> 1
                base = recent[mid] if size & 1 else (recent[mid - 1] + recent[mid]) / 2
                start = self._start_level
                scale = base if base > start else start  # max(start, base), the same on ties
                # A jump is a ratio to a positive level: a loss that lives at or below
                # zero (an ELBO, a policy loss, a perfect fit) has none to measure, nor
                # has one that has gone below zero before (a signed loss: a policy
                # gradient's surrogate hovering around 0 changes sign).
                if (
                    scale <= 0
                    or self._signed
                    or (
                        loss - base < self._limits.min_rise_fraction * scale
                        and not self._dwarfs(loss, base)
                    )
                ):
                    self._episode = None  # no rise worth a look: the common case
                else:
                    found = self._check(record, loss, base)
                if finite_grad is not None and len(self._grads_sorted) >= 3:
                    self._note_quiet_jump(loss, finite_grad, base)
            if self._candidate is not None:
                self._age_candidate()
            self._recent.append(loss)
            if loss < 0:
                self._signed = True
            if len(self._start) < 5:
                self._start.append(loss)
                self._start_level = median(self._start)
        self._previous = record
        self._window.append(record)
        self._grads.append(finite_grad)
        return found

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.spike_block import State, screen, screenable, slots

        """``observe`` only the records the screen (spike_block.py) flags; over the
        stretches between them the windows and counters move in bulk."""
        if len(block) < SMALL_BLOCK or not screenable(self._limits):
            return super().observe_block(block)  # numpy costs more than it saves here
        state = State(
            recent=slots(self._recent),
            grads=slots(self._grads),
            start=self._start,
            start_level=self._start_level,
            signed=self._signed,
            candidate_age=None if self._candidate is None else self._since_candidate,
        )
        flagged, small, layout = screen(block, self._limits, state)

        def advance(block: Block, start: int, end: int) -> None:
            self._advance(layout, block, start, end)

        def wanted() -> Iterator[int]:
            # A small rise is left to ``advance`` while nothing is open: no spike told
            # (which a loss still high above its level keeps open), no jump waiting to
            # hold. Taken as ``observe`` reaches each: ``advance`` opens neither.
            for index, only_small in zip(flagged, small, strict=True):
                if not (only_small and self._episode is None and self._lm is None):
                    yield index

        return self.replay(block, wanted(), advance)

    def _advance(self, layout: Layout, block: Block, start: int, end: int) -> None:
        from gradlog.detectors.spike_block import refill

        """What ``observe`` does on records the screen let pass: their loss rose too
        little to check, their grad norm did not jump and no candidate waits for a NaN,
        so they only fill the windows, age the candidate and clear the open episode."""
        present = layout.present
        first, last = np.searchsorted(present, (start, end)).tolist()
        if first == last:
            return  # no record here prints a loss: observe ignores them
        size = self._limits.window
        records = block.records
        taken = present[max(first, last - size) : last]
        self._previous = _Pending(records, int(taken[-1]))
        # (Records are made from the block's columns only if a report names them.)
        self._window.extend(_Pending(records, index) for index in taken.tolist())
        grads = block.values(GRAD_NORM)[taken]
        refill(self._grads, [g if math.isfinite(g) else None for g in grads.tolist()])
        good = layout.good
        good_first, good_last = np.searchsorted(good, (start, end)).tolist()
        kept = good[max(good_first, good_last - size) : good_last]
        refill(self._recent, block.values(LOSS)[kept].tolist())
        if not self._signed:
            self._signed = bool((block.values(LOSS)[good[good_first:good_last]] < 0).any())
        self._episode = None  # as every record with a loss does, outside a spike
        count = good_last - good_first  # finite losses: each ages the candidate
        if count:
            self._lm, self._lm_held = None, (self._lm if count == 1 else None)
            if self._candidate is not None:
                since = self._since_candidate + count
                if since > self._limits.nan_horizon:  # aged out on the way
                    self._candidate = None
                    since = max(self._since_candidate + 1, self._limits.nan_horizon + 1)
                self._since_candidate = since

    def _check(self, record: Record, loss: float, base: float) -> list[Diagnosis]:
        """Judge a finite loss that rose by enough over the recent level ``base``."""
        ratio = loss / base if base > 0 else math.inf
        if self._episode is not None and loss >= self._limits.calm_factor * self._episode_base:
            return []  # still inside the reported spike (above the least jump that counts)
        self._episode = None
        if ratio >= self._limits.nan_confirmed_factor and (
            self._candidate is None or self._candidate[0].step != record.step
        ):
            self._candidate, self._since_candidate = (record, self._before(), ratio, base), 0
        if len(self._recent) < self._limits.min_history:
            return []
        informative = self._quiet_jumps < self._limits.quiet_grad_jumps
        small = ratio >= self._limits.grad_confirmed_factor
        if ratio < self._limits.factor and not (
            (small and informative and self._grad_jumped(record)) or self._quiet(ratio)
        ):
            held = self._lm_held is not None and ratio >= self._limits.lm_held
            return self._persisted(record, ratio, base) if small or held else []
        severe = ratio >= self._limits.severe_factor
        diagnosis = self._report(record, self._before(), ratio, base, None, severe)
        self._episode, self._episode_base = diagnosis, base
        return [diagnosis]

    def _before(self) -> Record | None:
        """The record before the one observed, made now if it was left in its block."""
        previous = self._previous
        if isinstance(previous, _Pending):
            previous = self._previous = previous.record()
        return previous

    def _dwarfs(self, loss: float, base: float) -> bool:
        """Whether a jump dwarfs what the recent window did, so a near-zero level is no
        wobble: `factor` over the highest of its losses, or `quiet_factor` over a quiet
        one (a loss that fell by orders of magnitude and sits still there)."""
        recent = self._recent_sorted
        return base > 0 and (
            (len(recent) >= self._limits.window and loss >= self._limits.factor * recent[-1])
            or self._quiet(loss / base)
        )

    def _quiet(self, ratio: float) -> bool:
        """A jump of ``quiet_factor`` over a full recent window whose losses all lie within
        ``quiet_spread`` of its least one: far beyond what this run's noise does."""
        recent, limits = self._recent_sorted, self._limits
        return (
            ratio >= limits.quiet_factor
            and len(recent) >= limits.window
            and recent[0] > 0
            and recent[-1] <= limits.quiet_spread * recent[0]
        )

    def _calm(self, ratio: float, record: Record) -> int | None:
        """Whether a jump is far beyond the noise of a full recent window: ``calm_margin``
        times the spread (most to least) of its losses but its last ``calm_ramp`` (the
        jump's climb), and ``calm_factor`` at least; None if not, else how many records
        more than ``lm_persist`` it must hold (one more where the window was not still to
        ``calm_spread``). Never while the learning rate is above its least in the window
        (a warm restart's jump is the schedule's), nor once ``calm_misses`` such jumps
        fell straight back, or jumps of ``calm_factor`` came out of windows too wide for
        the margin (a heavy-tailed loss: a diffusion model's per-batch loss, which
        depends on the sampled noise level, jumps 5x and back all run long; a loss of
        one image a batch, printed unaveraged)."""
        limits = self._limits
        slots = self._recent._slots
        if ratio < limits.calm_factor or len(slots) < limits.window:
            return None
        if self._calm_misses >= limits.calm_misses:
            return None  # this run's loss jumps and falls straight back: heavy-tailed
        before = max(0, len(slots) - limits.calm_ramp)
        held = [v for v in islice(slots, before) if v is not None]
        least = min(held, default=0.0)
        if least <= 0:
            return None
        if record.metrics[LOSS] < limits.calm_factor * held[-1]:
            return None  # it rose over more records than a jump climbs: a steady climb
        if ratio < limits.calm_margin * max(held) / least:
            # A 2x jump out of a window that was itself that wide: the loss's own noise
            # (a per-batch loss printed unaveraged), which counts as a miss too.
            self._calm_misses += 1
            return None
        lr = record.metrics.get(LR)
        rates = [r.metrics[LR] for r in self._records() if finite(r.metrics.get(LR))]
        if lr is not None and rates and lr > min(rates):
            return None  # (it rose within the window: a restart, or still the warm-up)
        return 0 if max(held) <= limits.calm_spread * least else 1

    @property
    def _grads_printed(self) -> bool:
        """The run prints a grad norm: it, not persistence, confirms a small jump."""
        return len(self._grads) > 0

    def _persisted(self, record: Record, ratio: float, base: float) -> list[Diagnosis]:
        """A language model's 2-5x jump, or a calm run's (``_calm``), counts once it
        held for `lm_persist` records (a single unlucky batch falls straight back)."""
        if self._lm_held is None:
            language = self._start_level >= self._limits.lm_start and not self._grads_printed
            more = 0 if language else self._calm(ratio, record)
            if more is None:
                return []
            if not language:
                self._calm_misses += 1  # (until it holds: see below)
            self._lm = (record, self._before(), ratio, base, 1 - more)
        else:
            first, before, first_ratio, first_base, held = self._lm_held
            if record.metrics[LOSS] < self._limits.lm_held * first_base:
                return []  # measured against the level before the jump
            self._lm = (first, before, first_ratio, first_base, held + 1)
        first, before, first_ratio, first_base, held = self._lm
        if held < self._limits.lm_persist:
            return []
        self._lm = None
        if self._calm_misses:
            self._calm_misses -= 1  # a jump that held: no miss (none start in a language model)
        diagnosis = self._report(first, before, first_ratio, first_base, None, False)
        self._episode, self._episode_base = diagnosis, first_base
        return [diagnosis]

    def _age_candidate(self) -> None:
        if self._candidate is not None:
            self._since_candidate += 1
            if self._since_candidate > self._limits.nan_horizon:
                self._candidate = None

    def _confirm(self, nan_record: Record) -> list[Diagnosis]:
        if self._candidate is None:
            return []
        record, before, ratio, base = self._candidate
        self._candidate = None
        return [self._report(record, before, ratio, base, nan_record, True)]

    def _note_quiet_jump(self, loss: float, now: float, base: float) -> None:
        """Count a 10x grad-norm jump (``now``, finite, with 3 or more grad norms before it)
        that came with no loss jump over the recent level ``base``: the run's own noise."""
        jumped = now >= self._limits.grad_jump * self._grads.median() > 0
        if jumped and loss < self._limits.grad_confirmed_factor * base:
            self._quiet_jumps += 1

    def _records(self) -> list[Record]:
        """The window's records, made now where they were left in their block."""
        window = self._window
        if any(isinstance(item, _Pending) for item in window):
            made = [item.record() if isinstance(item, _Pending) else item for item in window]
            window.clear()
            window.extend(made)
        return list(window)  # type: ignore[arg-type]

    def _grad_jumped(self, record: Record) -> bool:
        """The grad norm, here or one record before, is 10x its level before that."""
        # (The window's finite grad norms, in order: the slots of ``_grads``.)
        grads = [g for g in self._grads._slots if g is not None]
        now = record.get(GRAD_NORM)
        if now is None or not math.isfinite(now):
            return False
        candidates = [now, *grads[-1:]]
        earlier = grads[:-1]
        if len(earlier) < 3:
            return False
        level = median(earlier)
        return level > 0 and max(candidates) >= self._limits.grad_jump * level

    def _causes(self, record: Record) -> str:
        """What the grad norm and learning rate did around the jump, as message text."""
        text = ""
        window = self._records()
        grads = [(r, r.metrics[GRAD_NORM]) for r in (*window, record) if finite(r.get(GRAD_NORM))]
        for i, (at, grad) in enumerate(grads[-4:], start=max(len(grads) - 4, 0)):
            earlier = [g for _, g in grads[:i]]
            if len(earlier) >= 3 and grad >= 10 * median(earlier) > 0:
                lag = (
                    "at the same step"
                    if at.step == record.step
                    else (f"before the loss jumped at {where(record)}")
                )
                text = f"; grad_norm jumped {factor(grad / median(earlier))} at {where(at)}, {lag}"
                break
        lrs = [r.metrics[LR] for r in window if finite(r.get(LR))]
        lr = record.get(LR)
        if lr is not None and lrs and lr > 1.05 * lrs[0]:
            text += f"; the learning rate was still rising (warm-up): {fmt(lrs[0])} -> {fmt(lr)}"
        elif lr is not None:
            text += f" (lr {fmt(lr)})"
        return text

    def _report(
        self,
        record: Record,
        before: Record | None,
        ratio: float,
        base: float,
        nan_record: Record | None,
        severe: bool,
    ) -> Diagnosis:
        loss = record.metrics[LOSS]
        message = (
            f"loss jumped {factor(ratio)} at {where(record)}: {fmt(loss)} against a recent "
            f"level of {fmt(base)}"
        )
        if nan_record is not None:
            message += f", then became NaN at {where(nan_record)}"
        message += self._causes(record)
        pairs = [(before, LOSS)] if before else []
        pairs += [(record, LOSS), (record, GRAD_NORM)]
        if nan_record is not None:
            pairs.append((nan_record, LOSS))
        return self.diagnose(
            message,
            record,
            nan_record or record,
            severity=Severity.ERROR if severe else Severity.WARNING,
            confidence=Confidence.HIGH if nan_record or ratio >= 10 else Confidence.MEDIUM,
            metric=LOSS,
            evidence=evidence_of(pairs),
        )
