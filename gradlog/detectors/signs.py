"""The signs the stalled rule reads: a dead learning rate, a frozen value, an error rate
pinned at its maximum and skipped optimizer steps. Each follows its series record by
record and says when it stands."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache

from gradlog.config import PlateauThresholds, StalledThresholds
from gradlog.detectors.base import fmt, median, where
from gradlog.detectors.plateau import chance_classes
from gradlog.model import Record
from gradlog.parse.events import OVERFLOW, SKIPPED_STEP
from gradlog.parse.families import words
from gradlog.parse.names import LOSS, LR


def significant_digits(value: float) -> int:
    """Significant digits of a value as printed: 0.0994 -> 3, 1e-04 -> 1, 2.28e-06 -> 3."""
    digits = repr(abs(value)).split("e")[0].replace(".", "").strip("0")
    return len(digits)


def quantum(value: float) -> float:
    """The last decimal place of a value as printed: 0.0994 -> 1e-4, 5e-27 -> 1e-27."""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    decimals = len(mantissa.partition(".")[2].rstrip("0")) - int(exponent or 0)
    return 10.0**-decimals


def improved(early: Sequence[float], recent: Sequence[float], drop: float) -> bool:
    """The loss has made progress: its recent median is ``drop`` below its early one."""
    if len(early) < 3 or len(recent) < 3:  # a median of fewer than 3 is one value
        return False
    before = median(early)
    return before > 0 and median(recent) < (1 - drop) * before


def moved(early: Sequence[float], recent: Sequence[float], drop: float, rise: float) -> bool:
    """The loss moved: it improved (``improved``), or its recent median rose ``rise``
    above its early one. Either way the weights are being updated."""
    if improved(early, recent, drop):
        return True
    if len(early) < 3 or len(recent) < 3:
        return False
    before = median(early)
    return before > 0 and median(recent) > (1 + rise) * before


def cycling(losses: Sequence[float], length: int) -> bool:
    """The last ``length`` losses alternate exactly between two values: the weights swing
    between two states (full-batch training at too high a rate), they are not frozen."""
    last = list(losses)[-length:]
    return len(last) == length and all(
        last[i] == last[i - 2] != last[i - 1] for i in range(2, length)
    )


class Sign(ABC):
    """One sign of no learning, followed record by record over an open stretch."""

    metric = LOSS

    def __init__(self, limits: StalledThresholds) -> None:
        self.limits = limits
        self.first: Record | None = None  # where the current stretch began
        self.last: Record | None = None
        self.confirmed = False  # the stretch is long enough to report
        self.early: list[float] = []  # the first losses of the stretch
        self.span = 0  # records since the stretch began, this one included

    @property
    def standing(self) -> bool:
        return self.confirmed and self.first is not None

    def start(self, record: Record) -> None:
        self.first, self.last, self.confirmed, self.early = record, record, False, []
        self.span = 0

    def tick(self) -> None:
        """Count one more record of the open stretch, whatever it printed."""
        if self.first is not None:
            self.span += 1

    def end(self) -> None:
        self.first, self.last, self.confirmed, self.early = None, None, False, []

    def note_loss(self, record: Record) -> None:
        """Keep the first losses of the stretch, to tell whether it is making progress."""
        loss = record.get(LOSS)
        room = len(self.early) < self.limits.progress_records
        if room and loss is not None and math.isfinite(loss):
            self.early.append(loss)

    @abstractmethod
    def observe(self, record: Record, recent: Sequence[float]) -> None:
        """Follow one record; ``recent`` holds the last few finite losses."""

    @abstractmethod
    def describe(self) -> str:
        """The sign's facts for the message, while it stands."""


class DeadRate(Sign):
    """A learning rate of exactly zero, or collapsed far below its peak, that persists."""

    metric = LR

    def __init__(self, limits: StalledThresholds) -> None:
        super().__init__(limits)
        self.records = 0
        self.started: int | None = None  # records seen when lr was first positive
        self.peak = 0.0
        self.latest = 0.0  # the last positive lr printed
        self.count = 0
        self.needed: float = 0
        self.value = 0.0
        self._floor = 0.0  # peak / lr_collapse_factor: a positive lr above it is alive

    def dead(self, lr: float) -> bool:
        if lr == 0:  # after 1.2e-07 a zero; after 0.0002, 0.0001 a small rate rounded away
            digits = self.limits.lr_zero_digits
            return self.started is None or significant_digits(self.latest) >= digits
        return 0 < lr <= self._floor

    def observe(self, record: Record, recent: Sequence[float]) -> None:
        self.records += 1
        lr = record.metrics.get(LR)
        if lr is None or not math.isfinite(lr) or lr < 0:
            if self.first is not None:
                self.note_loss(record)
            return
        if lr > self._floor or not self.dead(lr):  # (a positive lr above the floor lives)
            if lr > 0 and self.started is None:
                self.started = self.records
            if lr > self.peak:  # max(), and the floor with it
                self.peak = lr
                self._floor = lr / self.limits.lr_collapse_factor
            self.latest = lr or self.latest
            if self.first is not None:  # (ended, there is nothing to end)
                self.end()
            return
        limits = self.limits
        if self.first is None:
            self.start(record)
            self.count = 0
            before = self.records - (self.started or self.records)
            self.needed = (
                limits.lr_zero_start_records
                if self.started is None
                else max(limits.lr_zero_records, limits.lr_zero_fraction * before)
            )
        self.last, self.count, self.value = record, self.count + 1, lr
        self.note_loss(record)
        # A loss that moves either way shows the weights move: the rate printed as 0 is
        # a small one rounded away by a fixed-decimal format (`lr: 0.000`).
        if self.count >= self.needed and not moved(
            self.early, recent, limits.progress_drop, limits.flat_rise
        ):
            self.confirmed = True

    def describe(self) -> str:
        assert self.first is not None and self.last is not None
        span = f"from {where(self.first)} to {where(self.last)} ({self.count} records)"
        if self.value == 0:
            since = f"after reaching {fmt(self.peak)}"
            if self.started is None:
                since = "it has never been positive"
            return f"the learning rate is 0 {span}, {since}"
        return (
            f"the learning rate is {fmt(self.value)} at {where(self.last)}, "
            f"{fmt(self.peak / self.value)} times below its peak {fmt(self.peak)}, and under "
            f"a millionth of it {span}: updates that small are lost to float32 rounding"
        )


class FrozenValue(Sign):
    """A loss printed identically on several epochs in a row, far from zero and chance."""

    def __init__(self, limits: StalledThresholds, chance: PlateauThresholds, name: str) -> None:
        super().__init__(limits)
        self.metric, self.chance = name, chance
        self.value: float | None = None
        self.previous: float | None = None  # the value before this one, for its precision
        self.units = 0  # epochs (or records) in a row the value was printed on
        self.total = 0  # epochs (or records) the series was printed on
        self.unit: tuple[bool, float] | None = None
        self.carried = False  # the display repeats the value within an epoch (a bar)
        self.completed = False  # a hold ended: the series does change
        self.longest = 0  # epochs crossed by the longest hold that ended: the cadence

    def observe(self, record: Record, recent: Sequence[float]) -> None:
        value = record.metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        epoch = record.epoch
        unit = (True, record.line) if epoch is None else (False, epoch)
        new_unit, self.unit = unit != self.unit, unit
        self.total += new_unit
        if value == self.value:
            self.units += new_unit
            self.carried |= not new_unit
            self.last = record
        else:
            if self.value is not None:
                if self.units - 1 > self.longest:  # max(), without the call
                    self.longest = self.units - 1
                self.completed = True
            self.previous, self.value, self.units = self.value, value, 1
            # start(), inlined: the loss changes on most records. (`early` stays empty:
            # this sign never notes losses.)
            self.first = self.last = record
            self.confirmed, self.span = False, 0
        # frozen() holds only after `repeat_records` units (its `held` never exceeds them).
        if not self.confirmed and self.units >= self.limits.repeat_records:
            self.confirmed = self.frozen(value, recent)

    def frozen(self, value: float, recent: Sequence[float]) -> bool:
        """Whether the value has held long enough, far enough from zero and from chance."""
        limits = self.limits
        held = self.units
        if self.carried:  # a bar shows the value from one evaluation to the next
            if not self.completed:
                return False
            held = (self.units - 1) // max(self.longest, 1)  # evaluations, at most
        return (
            held >= limits.repeat_records
            and self.units >= limits.repeat_fraction * self.total
            and self.distinct(value, self.previous)
            and not cycling(recent, limits.repeat_records)  # one phase of a cycle each time
        )

    def distinct(self, value: float, previous: float | None) -> bool:
        """Whether a held value could be a frozen one at all: printed with enough digits
        at the series' precision, and away from every chance level. It depends only on
        the value and the one printed before it, so the block screen asks it once for a
        whole hold instead of once per record."""
        precision = min(quantum(value), quantum(previous or value))
        return (
            abs(value) >= 10 ** (self.limits.repeat_digits - 1) * precision
            and chance_classes(value, self.chance) is None  # that is chance_plateau
        )

    def describe(self) -> str:
        assert self.first is not None and self.last is not None and self.value is not None
        name = "the loss" if self.metric == LOSS else "the validation loss"
        unit = "epochs" if self.first.epoch is not None else "records"
        return (
            f"{name} is {fmt(self.value)} on {self.units} {unit} in a row, "
            f"{where(self.first)} to {where(self.last)}"
        )


# Error rates: the share of wrong outputs, 1 (or 100%) when every output is wrong.
# Character, word, phone, token and sentence error rates, and ``err``/``error`` qualified
# as a rate or a top-k error; a bare ``mean_squared_error`` is a distance, not a rate.
_RATES = frozenset({"cer", "wer", "per", "ter", "ser", "err"})
_QUALIFIED = frozenset({"rate", "top1", "top5", "top"})
_KEYS_KEPT = 256  # distinct sets of metric names remembered with their error rates


@lru_cache(maxsize=1024)
def error_rate(name: str) -> bool:
    """Whether a metric name is an error rate (``val.cer``, ``wer``, ``top1_err``)."""
    parts = set(words(name))
    return bool(parts & _RATES) or ("error" in parts and bool(parts & _QUALIFIED))


class PinnedError(Sign):
    """An error rate printed at exactly its maximum, 1 (or 100 in percent), on several
    records in a row while the loss does not fall: every output is wrong (a model that
    emits blanks or one token), and nothing is being learned. A falling loss disproves
    it: a CTC model prints blanks, at an error rate of exactly 1, while it starts."""

    def __init__(self, limits: StalledThresholds) -> None:
        super().__init__(limits)
        self.metric = LOSS  # the pinned rate's name, once one is
        self.value = 1.0
        self.runs: dict[str, int] = {}  # records in a row each rate printed its maximum
        self.printed: dict[str, int] = {}  # records each rate was printed on
        self._rates: dict[tuple[str, ...], tuple[str, ...]] = {}

    def observe(self, record: Record, recent: Sequence[float]) -> None:
        metrics = record.metrics
        keys = tuple(metrics)
        names = self._rates.get(keys)
        if names is None:
            names = tuple(name for name in keys if error_rate(name))
            if len(self._rates) < _KEYS_KEPT:
                self._rates[keys] = names
        if not names:
            if self.first is not None:
                self.note_loss(record)
            return
        pinned: str | None = None
        for name in names:
            value = metrics[name]
            self.printed[name] = self.printed.get(name, 0) + 1
            run = self.runs[name] = self.runs.get(name, 0) + 1 if value in (1.0, 100.0) else 0
            if run and (pinned is None or run > self.runs[pinned]):
                pinned = name
        if pinned is None:
            if self.first is not None:
                self.end()
            return
        if self.first is None:
            self.start(record)
        self.last, self.metric, self.value = record, pinned, metrics[pinned]
        self.note_loss(record)
        run, limits = self.runs[pinned], self.limits
        self.confirmed = (
            run >= limits.repeat_records
            and run >= limits.repeat_fraction * self.printed[pinned]
            and not self._falling(recent)
        )

    def _falling(self, recent: Sequence[float]) -> bool:
        """The loss fell over the stretch: the median of its last 3 losses is
        ``progress_drop`` below that of its first 3 (the stretch is short, so its ends
        are compared, not two windows that would be the same records)."""
        if len(self.early) < 3 or len(recent) < 3:
            return False
        before = median(self.early[:3])
        return before > 0 and median(list(recent)[-3:]) < (1 - self.limits.progress_drop) * before

    def describe(self) -> str:
        assert self.first is not None and self.last is not None
        run = self.runs[self.metric]
        return (
            f"{self.metric} is {fmt(self.value)} (every output wrong) on {run} records in "
            f"a row to {where(self.last)}, while the loss does not fall"
        )


class SkippedSteps(Sign):
    """Optimizer steps skipped (not for an fp16 overflow) on most records."""

    metric = SKIPPED_STEP

    def __init__(self, limits: StalledThresholds) -> None:
        super().__init__(limits)
        self.records = 0
        self.skips = 0

    def observe(self, record: Record, recent: Sequence[float]) -> None:
        skip = record.metrics.get(SKIPPED_STEP)
        if self.first is None and (skip is None or not skip >= 1):
            return  # (no stretch, and this record does not open one)
        skipped = (skip or 0) >= 1 and not record.get(OVERFLOW)
        if self.first is None:
            if not skipped:
                return
            self.start(record)
            self.records = self.skips = 0
        self.last, self.records, self.skips = record, self.records + 1, self.skips + skipped
        if self.skips < self.limits.skip_fraction * self.records:
            self.end()
            return
        self.note_loss(record)
        if self.skips >= self.limits.skip_records and not improved(
            self.early, recent, self.limits.progress_drop
        ):
            self.confirmed = True

    def describe(self) -> str:
        assert self.first is not None and self.last is not None
        return (
            f"an optimizer step was skipped on {self.skips} of the {self.records} records "
            f"from {where(self.first)} to {where(self.last)}"
        )
