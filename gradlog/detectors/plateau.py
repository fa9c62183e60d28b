"""`chance_plateau`: the loss sits at the chance level ln(K) of a K-way classifier."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING

from gradlog import lazy
from gradlog.config import PlateauThresholds, Thresholds
from gradlog.detectors.base import Detector, Rule, evidence_of, fmt, median, where
from gradlog.model import Confidence, Diagnosis, Record, Severity
from gradlog.parse.names import ACC, GRAD_NORM, LOSS, LR, VAL_ACC, VAL_LOSS

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Block
else:
    from gradlog.lazy import numpy as np


def chance_classes(loss: float, limits: PlateauThresholds, tight: bool = False) -> int | None:
    """The class count K whose chance loss ln(K) is nearest this loss, if close enough
    (up to `tolerance` above ln(K), up to `below` under it; ``tight``: up to `tolerance`
    either side, where the rule needs no accuracy to confirm it)."""
    global _last
    if _last[0] is not limits:  # callers pass the same thresholds again and again
        _last = (limits, _chance(limits, limits.below), _chance(limits, limits.tolerance))
    return (_last[2] if tight else _last[1]).classes(loss)


class _Chance:
    """``chance_classes`` for fixed thresholds, with its table built once: each level
    ln(K), its K, and how far above and under it a loss may be (``exact`` class counts
    only to ``exact_tolerance`` either side)."""

    __slots__ = ("_below", "_ks", "_last", "_levels", "_tolerance")

    def __init__(
        self,
        classes: tuple[int, ...],
        tolerance: float,
        below: float,
        exact: tuple[int, ...] = (),
        exact_tolerance: float = 0.0,
    ) -> None:
        pairs = _levels(tuple(sorted({*classes, *exact})))
        self._levels = [level for level, _ in pairs]
        self._ks = [k for _, k in pairs]
        self._last = len(pairs) - 1
        loose = set(classes)
        self._tolerance = [tolerance if k in loose else exact_tolerance for k in self._ks]
        self._below = [below if k in loose else exact_tolerance for k in self._ks]

    def classes(self, loss: float) -> int | None:
        levels = self._levels
        # As bisecting the (ln K, K) pairs with (loss, 0), and taking the nearer of the
        # two neighbours (the lower on a tie, as min() does).
        i = bisect_left(levels, loss)
        if i > self._last:
            i = self._last
        elif i and not abs(loss - levels[i]) < abs(loss - levels[i - 1]):
            i -= 1
        level = levels[i]
        if loss >= level:
            return self._ks[i] if loss - level <= self._tolerance[i] * level else None
        return self._ks[i] if level - loss <= self._below[i] * level else None


@cache
def _levels(classes: tuple[int, ...]) -> list[tuple[float, int]]:
    return sorted((math.log(k), k) for k in classes)


def _chance(limits: PlateauThresholds, below: float, printed: tuple[int, ...] = ()) -> _Chance:
    return _Chance(
        (*limits.classes, *printed),
        limits.tolerance,
        below,
        limits.exact_classes,
        limits.exact_tolerance,
    )


# Names a log prints its class count or vocabulary by, with its settings (SlowFast's
# ``NUM_CLASSES: 400``, ``Namespace(num_classes=40, ..)``, ``vocab_size: 8000``): a K
# the loss may sit at the chance level of, though it is no common one.
CLASS_COUNTS = frozenset(
    {"num_classes", "n_classes", "nb_classes", "number_of_classes", "num_class", "n_class"}
    | {"class_num", "classes_num", "num_labels", "n_labels", "vocab_size", "n_vocab"}
)
_MOST_CLASSES = 10_000_000
# A uniform guess over K classes scores 1/K and costs ln(K): a loss at ln(K) beside an
# accuracy of 1/K names its K, whatever K is (a vocabulary of 390 MIDI events), when no
# setting printed it. An accuracy of 1/K for K up to ``_LEAST_IMPLIED`` is no news: those
# K are all in the table already. A run implies a few at most (its noise moves 1/acc).
_LEAST_IMPLIED = 21
_MOST_LEARNED = 16
_PAIRS = ((ACC, LOSS), (VAL_ACC, VAL_LOSS))  # an accuracy, and the loss beside it


def _implied_at(loss: np.ndarray, acc: np.ndarray, tolerance: float) -> list[int]:
    """The class counts records imply, in order: K where a record's accuracy is 1/K and
    its loss ln(K) (within ``tolerance`` of it), for a K above the table's small ones
    (a uniform guess's pair)."""
    usable = (acc > 0) & (acc <= 1 / _LEAST_IMPLIED) & np.isfinite(loss)
    k = np.rint(1 / np.where(usable, acc, 1.0))
    level = np.log(np.maximum(k, 1.0))
    near = usable & (np.abs(loss - level) <= tolerance * level)
    return [int(value) for value in k[near]]


_last: tuple[PlateauThresholds | None, _Chance, _Chance] = (
    None,
    _Chance((), 0.0, 0.0),
    _Chance((), 0.0, 0.0),
)


# The smallest vocabulary of a language model (a character-level one has ~100 symbols),
# and the names of a perplexity (``ppl``, ``val_ppl``, ``train_perplexity``).
_VOCABULARY = 100
_PERPLEXITY = lazy.regex(r"(?:^|_)(?:ppl|perplexity)(?:_|$)")


def accuracy(value: float) -> float:
    """An accuracy as a fraction (some frameworks print percentages)."""
    return value / 100 if value > 1 else value


def near_chance(limits: PlateauThresholds, k: int) -> float:
    """How far from 1/K an accuracy at chance may be: `acc_tolerance`, but at most half
    of 1/K (for K over 10 the tolerance would take in 0, no classifier's score)."""
    return min(limits.acc_tolerance, 0.5 / k)


class ChancePlateauDetector(Detector):
    """
    ## What it detects
    The training loss sitting at ln(K), the cross-entropy of a uniform guess over K
    classes (0.6931 for K=2, 2.3026 for K=10, ln(vocabulary) for a language model),
    for 5 or more records in a row, with accuracy near 1/K when accuracy is logged. K is
    inferred from the plateau value. A run that sits there for a while and then learns
    is a slow start: reported as info only.

    ## Why it matters
    At ln(K) the model predicts the same distribution for every input: it has learned
    nothing. The cause is usually dead or saturated units, vanishing gradients, a zero
    or tiny learning rate, or labels that do not match the inputs.

    ## Example
    ```
    Epoch 10/50
    Train Loss: 0.6931, Train Acc: 0.5067      <- flagged (ln 2, K=2)
    ```

    ## Thresholds
    - losses printed in bits (fairseq) are compared with log2(K).
    - up to `tolerance` (1%) above ln(K), or up to `below` (5%) under it (a model that
      learned only an imbalanced class prior sits at the prior's entropy, under ln(K)),
      for K in 2..20 and common class counts and vocabulary sizes (100, 1000, 32000,
      50257, ...); K above 20 are too densely spaced in ln(K) to infer from the loss,
      but for `exact_classes`, character vocabularies (26-29, 65), taken only to
      `exact_tolerance` (0.05%) either side: makemore's loss frozen at 3.2958 is ln 27.
      A class count the log prints with its settings (`num_classes`, `vocab_size`..) is
      one too, and so is one a record implies: an accuracy of 1/K, for K above 20,
      beside a loss within `tolerance` of ln(K) (training's or validation's pair: a
      uniform guess's score and cost).
    - `min_records` (5) records at chance, and the median of the stretch's last 15
      losses at chance too (noise that touches ln(K) is not a plateau): within
      `tolerance` either side, or under ln(K) down to `below` only when the accuracy
      confirms it (below); a log of only
      `thin_records` (3) or more
      records, every one within `tolerance` (1%) of ln(K) either side, is reported too
      (confidence medium).
    - a stretch whose loss moved the same way on `descent_share` (75%) of its steps
      (4 records or more), or whose level moved by more than twice `tolerance` of ln(K),
      is a slow descent or climb, not a plateau; so is a stretch entered from well above
      ln(K) (a loss that learned its way down) or from more than `below` under it (a
      loss climbing through), unless it stays there to the end of the log ...
    - ... or the printed accuracy (`acc`, else `val_acc`) confirms chance: its last
      `min_records` values all within `acc_tolerance` (0.05, at most half of 1/K) of
      1/K and within `acc_tolerance` of each other, or frozen at one rate other than 0
      and 1 (a model that predicts one class scores the majority rate; a value frozen at
      0, as Lingua's gradient-accumulation counter ``acc: 0``, is no classifier's). An
      accuracy that moves, far from 1/K, says the model predicts: no plateau.
    - a loss more than `left_fraction` (10%) below ln(K) afterwards: slow start (info);
      but a warning when the run began at chance and left it only after `slow_records`
      (20) records at chance (K under 100), or after `slow_share` (half) of all its
      records: that much compute went into learning nothing.
    - a run still on the plateau it began in is, so far, a slow start: announced live
      as info, and as a warning once it has `slow_records` records at chance (what the
      final report calls it even if it learns later); an error if the log ends there.
      Not at K of 100 or more (a vocabulary: a language model sits near ln(V) through
      its warm-up in healthy runs), where only the share of the run makes it long.
    """

    rule = Rule(
        id="chance_plateau",
        min_records=5,
        title="Loss stuck at chance level",
        severity=Severity.ERROR,
        summary="The loss sits at ln(K), the level of a uniform guess over K classes.",
        why=(
            "At ln(K) the model predicts the same distribution for every input: it has learned "
            "nothing yet."
        ),
        remedies=(
            "Check that the learning rate is not zero or tiny (warm-up from 0, a "
            "scheduler bug) and that the optimizer is given the model's parameters.",
            "Check the labels: shuffled or misaligned labels keep any model at chance.",
            "Use ReLU-family activations and He initialisation; watch for dead ReLUs "
            "(lower the learning rate, or use LeakyReLU).",
            "Add batch normalisation and residual connections for deep models.",
            "Try to overfit a single small batch: if even that fails, the bug is in the "
            "model or the loss, not the data.",
        ),
    )

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__(thresholds)
        self._limits = limits = thresholds.chance_plateau
        self._chance = _chance(limits, limits.below)
        self._printed: tuple[int, ...] = ()  # class counts the log printed (``_learn``)
        # Within `tolerance` either side (the `below` of _at_level and _track).
        self._tight_chance = _chance(limits, limits.tolerance)
        self._recent: deque[float] = deque(maxlen=3)  # the level is their median: noise-proof
        self._peak = -math.inf  # the highest loss level seen so far
        self._trough = math.inf  # ... and the lowest
        self._start: float | None = None  # the run's first loss level
        self._seen = 0  # records with a finite loss
        self._bits = False  # the log prints its losses in bits
        # A slow start from the run's first loss, and the records seen when it learned:
        # judged against the whole run at its end.
        self._slow: tuple[Diagnosis, int, int, int] | None = None  # (+ its lines' span)
        self._final_line = 0  # the line of the last record with a finite loss
        self._reset()

    def _reset(self) -> None:
        self._k: int | None = None
        self._low = self._high = 0.0  # the band around ln(K) that continues a plateau
        self._first: Record | None = None
        self._last: Record | None = None
        self._count = 0
        self._reported = False
        self._passing = False  # entered from above or below: passing through ln(K)
        self._from_start = False  # opened on the run's first loss
        self._previous: float | None = None  # the stretch's last loss, for its trend
        self._downs = 0  # records of the stretch whose loss fell
        window = self._limits.min_records
        self._accs: deque[float] = deque(maxlen=window)  # the stretch's latest accuracies
        self._acc_chance: deque[bool] = deque(maxlen=window)  # ... each near 1/K or not
        self._level: float | None = None  # the stretch's first level
        self._stretch: deque[float] = deque(maxlen=15)  # its latest losses, in band or not
        self._tight = True  # every record within `tolerance` of ln(K), either side
        self._ups = 0  # records of the stretch whose loss rose

    def observe(self, record: Record) -> Iterable[Diagnosis]:
        metrics = record.metrics
        if not CLASS_COUNTS.isdisjoint(metrics):
            self._learn(record)
        for acc_name, loss_name in _PAIRS:
            acc, paired = metrics.get(acc_name), metrics.get(loss_name)
            if acc is not None and paired is not None and 0 < acc <= 1 / _LEAST_IMPLIED:
                paired *= math.log(2) if record.bits else 1.0
                tolerance = self._limits.tolerance
                for implied in _implied_at(np.array([paired]), np.array([acc]), tolerance):
                    self._learn_classes(implied)
        loss = metrics.get(LOSS)
        if loss is None or not math.isfinite(loss):
            return []
        if record.bits:  # a loss printed in bits sits at log2(K): compare it in nats
            loss *= math.log(2)
            self._bits = True
        self._seen += 1
        self._final_line = record.line
        recent = self._recent
        recent.append(loss)
        ordered = sorted(recent)
        n = len(ordered)
        mid = n // 2  # the median, as base.median computes it
        level = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
        if self._start is None and n == recent.maxlen:
            self._start = level
        if self._reported:
            return self._watch_after(record, level)
        k = self._chance.classes(loss)  # counts only records themselves at chance
        if self._k is not None and self._low <= level <= self._high and k in (None, self._k):
            self._stretch.append(loss)
            if k == self._k:
                self._last, self._count = record, self._count + 1
                self._track(record, loss)
            if self._count >= self._limits.min_records and self._judged():
                self._reported = True
                return [self._report(None, ongoing=True)]
            return []
        if self._k is not None:  # (after a reset there is nothing to reset)
            self._reset()
        if k is not None:
            self._k, self._first, self._last, self._count = k, record, record, 1
            self._from_start = self._seen == 1  # the run's first loss: it began at chance
            self._low, self._high = self._band(k)
            self._stretch.append(loss)
            self._track(record, loss)
            # Came into this band from clearly above it (a descent) or from below it (a
            # climb): passing through, unless accuracy confirms or it stays to the end.
            self._passing = self._passes(k, self._peak, self._trough)
        if level > self._peak:  # max() and min(), without the calls
            self._peak = level
        if level < self._trough:
            self._trough = level
        return []

    def _learn(self, record: Record) -> None:
        """Take in the class counts a record of settings prints."""
        for name in CLASS_COUNTS.intersection(record.metrics):
            k = record.metrics[name]
            if k.is_integer() and 2 <= k <= _MOST_CLASSES:
                self._learn_classes(int(k))

    def _learn_classes(self, k: int) -> None:
        """Take in a class count: printed, or implied (``_implied_at``)."""
        if k not in self._printed and len(self._printed) < _MOST_LEARNED:
            self._printed += (k,)
            limits = self._limits
            self._chance = _chance(limits, limits.below, self._printed)
            self._tight_chance = _chance(limits, limits.tolerance, self._printed)

    def observe_block(self, block: Block) -> list[tuple[int, Diagnosis]]:
        from gradlog.detectors.plateau_block import PlateauScreen

        if not CLASS_COUNTS.isdisjoint(block.names) or self._implies(block):
            return super().observe_block(block)  # a setting read in order, record by record
        # Screened with arrays (plateau_block): ``observe`` runs only where a stretch
        # opens or ends, might be judged a plateau, or a reported one is left.
        return PlateauScreen(self, block).run()

    def _implies(self, block: Block) -> bool:
        """Whether a record of ``block`` implies a class count not yet learned
        (``_implied_at``, for each record at once)."""
        learned = set(self._printed)
        bits = block.bits
        for acc_name, loss_name in _PAIRS:
            if acc_name not in block.names or loss_name not in block.names:
                continue
            acc, loss = block.values(acc_name), block.values(loss_name)
            if bits is not None:
                loss = np.where(bits, loss * math.log(2), loss)
            with np.errstate(divide="ignore", invalid="ignore"):
                found = _implied_at(loss, acc, self._limits.tolerance)
            if any(k not in learned for k in found):
                return True
        return False

    def finish(self) -> Iterable[Diagnosis]:
        slow = self._slow_start()
        if self._reported:
            return [*slow, self._report(None)]  # it stayed there to the end
        return [*slow, *self._finish()]

    def _slow_start(self) -> list[Diagnosis]:
        """The run's slow start again, a warning, when it took ``slow_share`` or more of
        the run: of its records, and of its lines (a first epoch read batch by batch
        and the later ones epoch by epoch is many records, a few lines)."""
        if self._slow is None:
            return []
        found, stuck, first, learned = self._slow
        share = self._limits.slow_share
        lines = learned - first >= share * (self._final_line - first)
        if stuck < share * self._seen or not lines:
            return []
        message = f"{found.message} that took {stuck} of the run's {self._seen} records"
        return [replace(found, message=message, severity=Severity.WARNING)]

    def _language_model(self) -> bool:
        """Whether the stretch is a language model's loss at a few classes' chance level:
        its records print a perplexity (the loss's exponential), and a language model's
        chance is ln of its vocabulary, not of a handful of classes (an LM at ppl 6.0 has
        learned a lot)."""
        last, k = self._last, self._k
        if last is None or k is None or k >= _VOCABULARY:
            return False
        return any(_PERPLEXITY.search(name) for name in last.metrics)

    def _finish(self) -> Iterable[Diagnosis]:
        if self._language_model():
            return []
        enough = self._count >= self._limits.min_records
        stayed = self._passing and self._never_learned() and not self._trending()
        stayed = stayed and self._at_level()
        if enough and stayed and not self._predicting():
            return [self._report(None)]
        # A short excerpt at ln(K) on every record: the plateau is all there is to see.
        thin = self._limits.thin_records <= self._count == self._seen
        if thin and self._tight and not self._trending() and not self._predicting():
            return [self._report(None, thin=True)]
        return []

    def _track(self, record: Record, loss: float) -> None:
        """Follow the stretch's trend and its accuracy, the plateau's second witness."""
        self._level = loss if self._level is None else self._level
        if self._previous is not None and loss != self._previous:
            self._downs += loss < self._previous
            self._ups += loss > self._previous
        self._previous = loss
        acc = record.get(ACC)
        acc = record.get(VAL_ACC) if acc is None else acc
        if acc is not None and math.isfinite(acc) and self._k is not None:
            # Only the latest accuracies speak for the plateau: a first epoch may differ.
            self._accs.append(acc)
            chance = abs(accuracy(acc) - 1 / self._k) <= near_chance(self._limits, self._k)
            self._acc_chance.append(chance)
        if self._tight:
            self._tight = self._tight_chance.classes(loss) == self._k

    def _confirmed(self) -> bool:
        """The latest printed accuracies say chance: all near 1/K, or frozen at one rate
        (a model that predicts one class scores the majority rate, whatever K is; never
        0 or 1: a value frozen there is no classifier's, as a counter's ``acc: 0``)."""
        full = len(self._accs) == self._accs.maxlen
        level = max(self._accs, default=0) - min(self._accs, default=0)
        steady = level <= self._limits.acc_tolerance  # not an accuracy falling through 1/K
        frozen = len(set(self._accs)) == 1 and 0 < accuracy(self._accs[0]) < 1
        return full and (frozen or (all(self._acc_chance) and steady))

    def _trending(self) -> bool:
        """The stretch is a slow descent or climb, not a level: its loss moved the same way
        on most of its records (a sign test: noise around a level goes both ways)."""
        assert self._k is not None and self._previous is not None and self._level is not None
        if abs(self._previous - self._level) > 2 * self._limits.tolerance * math.log(self._k):
            return True  # the level itself moved: a climb or descent through ln(K)
        steps = self._count - 1
        if steps < 3:
            return False
        share = self._limits.descent_share * steps
        return self._downs >= share or self._ups >= share

    def _predicting(self) -> bool:
        """An accuracy that moves, far from 1/K: the model predicts; no coin flip."""
        return len(set(self._accs)) > 1 and not all(self._acc_chance)

    def _at_level(self) -> bool:
        """The stretch's own level (its median) is at chance, not only some records:
        within `tolerance` of ln(K), or under it down to `below` when the accuracy
        confirms a constant predictor (an imbalanced prior sits under ln(K))."""
        assert self._k is not None
        level = median(self._stretch)
        if self._tight_chance.classes(level) == self._k:
            return True
        return self._chance.classes(level) == self._k and self._confirmed()

    def _judged(self) -> bool:
        """Enough to call it a plateau now: accuracy confirms it; or no accuracy says
        otherwise and it is a level, not a descent from above or a trend."""
        if not self._at_level() or self._language_model():
            return False
        if self._confirmed():
            return True
        if self._predicting():
            return False
        return not self._passing and not self._trending()

    def _never_learned(self) -> bool:
        """A descent into ln(K) from a start not far above it: it came down to chance.

        A run that started well above and settled near some ln(K) learned its way there
        (a healthy loss converging near ln 3 = 1.0986 is no 3-way coin flip).
        """
        assert self._k is not None
        return self._start is None or self._start <= 1.5 * math.log(self._k)

    def _watch_after(self, record: Record, loss: float) -> list[Diagnosis]:
        """After a reported plateau: extend it, or turn it into a slow start if learned."""
        assert self._k is not None
        if loss < (1 - self._limits.left_fraction) * math.log(self._k):
            found = [self._report(record)]
            if self._from_start and self._slow is None:
                assert self._first is not None
                self._slow = (found[0], self._seen - 1, self._first.line, record.line)
            self._reset()
            return found
        if self._near(loss, self._k):
            self._last, self._count = record, self._count + 1
            if self._count == self._long_from():
                return [self._report(None, ongoing=True)]  # (a warning from now on)
        return []

    def _long_from(self) -> int | None:
        """The count at which the plateau the run began in is a long slow start (a
        warning, whatever comes next): `slow_records`; None for a plateau that opened
        later, or at a vocabulary's chance level (a language model sits near ln(V)
        through its warm-up, tens to hundreds of steps, in healthy runs)."""
        if not self._from_start or self._k is None or self._k >= _VOCABULARY:
            return None
        return self._limits.slow_records

    def _passes(self, k: int, peak: float, trough: float) -> bool:
        """Whether a stretch at ln(k) opened after levels as high as ``peak`` or as low
        as ``trough`` came into its band from clearly above or below it."""
        chance = math.log(k)
        return (
            peak > (1 + 5 * self._limits.tolerance) * chance
            or trough < (1 - self._limits.below) * chance
        )

    def _near(self, loss: float, k: int) -> bool:
        """Close enough to ln(K) to continue a plateau: noise does not end it."""
        low, high = self._band(k)
        return low <= loss <= high

    def _band(self, k: int) -> tuple[float, float]:
        """The band around ln(K) that continues a plateau (see ``_near``)."""
        low = (1 - 2 * self._limits.below) * math.log(k)
        return low, (1 + 3 * self._limits.tolerance) * math.log(k)

    def _report(
        self, learned: Record | None, thin: bool = False, ongoing: bool = False
    ) -> Diagnosis:
        """The plateau as it stands: ``learned`` is the record that left it (a slow start),
        ``ongoing`` that the run is still on it (a live judgement)."""
        first, last, k = self._first, self._last, self._k
        assert first is not None and last is not None and k is not None
        chance = (
            f"log2({k}) = {math.log2(k):.4f} bits"
            if self._bits
            else (f"ln({k}) = {math.log(k):.4f}")
        )
        message = (
            f"loss sat at {fmt(first.metrics[LOSS])} ~ {chance}, the "
            f"chance level of a {k}-way classifier, from {where(first)} to {where(last)} "
            f"({self._count} records{', every record of the log' if thin else ''})"
        )
        acc_name = ACC if first.get(ACC) is not None else VAL_ACC
        if first.get(acc_name) is not None:
            frozen = " (frozen)" if len(set(self._accs)) == 1 and len(self._accs) > 1 else ""
            message += (
                f"; {acc_name} {fmt(first.metrics[acc_name])}{frozen} against 1/K = {1 / k:.3g}"
            )
        grad, lr = last.get(GRAD_NORM), last.get(LR)
        if lr == 0:
            message += "; the learning rate is zero: nothing can be learned"
        elif grad is not None and grad < 1e-2:
            message += f"; grad_norm {fmt(grad)} ~ 0: saturated or dead units"
        severity = Severity.ERROR
        confidence = Confidence.MEDIUM if thin else Confidence.HIGH
        # Every classifier starts at chance: while the run is still on the plateau it
        # began in, it may yet be a slow start. Info, until it is a long one: a warning
        # from `slow_records` on, whatever comes next; an error if the log ends there.
        long_from = self._long_from()
        long = long_from is not None and self._count >= long_from
        if ongoing and self._from_start:
            message += "; so far: the run began at chance and has not left it yet"
            severity = Severity.WARNING if long else Severity.INFO
        if learned is not None:
            message += (
                f"; then it learned (loss {fmt(learned.metrics[LOSS])} at "
                f"{where(learned)}): a {'long ' if long else ''}slow start"
            )
            severity = Severity.WARNING if long else Severity.INFO
            confidence = Confidence.MEDIUM
        pairs = [(first, LOSS), (first, ACC), (last, LOSS), (last, GRAD_NORM)]
        return self.diagnose(
            message,
            first,
            learned or last,
            severity=severity,
            confidence=confidence,
            metric=LOSS,
            count=self._count,
            evidence=evidence_of(pairs),
        )
