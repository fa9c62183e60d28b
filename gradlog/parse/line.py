"""One cleaned line -> the metric fields it holds, parsing each line shape only once."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TYPE_CHECKING, Final, NamedTuple, TypeVar

from gradlog import lazy
from gradlog.parse import families, grammar
from gradlog.parse.compiled import (
    IN_EPOCH,
    Compiled,
    Roles,
    compile_shape,
    plan_roles,
    read_roles,
    to_float,
)
from gradlog.parse.dialects import GENERIC, Dialect, LineFields, recognise
from gradlog.parse.names import (
    _CANONICAL,
    ACC,
    EPOCH,
    IGNORED,
    RANKS,
    STEP,
    VAL_ACC,
    NameTable,
    normalise,
)

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

# What one line may cost. Real metric lines are a few hundred characters with a dozen
# numbers; these caps sit far above them and bound a hostile line (a 50 MB blob, 100k
# numbers) to a few milliseconds.
PARSE_LIMIT = 16 << 10  # characters of a line read for metrics; the rest is ignored
NUMBERS_KEPT = 64  # numbers read per line; the rest of the line after them is ignored
NAMES_KEPT = 1024  # distinct metric names read per input (canonical names always are)
_KEY_LIMIT = 200  # characters of a key; a longer "name" is no metric's
# Caches, each dropping its least recently used (or oldest) entries when full, so a log
# that makes a new shape per line never makes them grow, nor re-learn all at once.
_PLANS_KEPT = 4096  # line shapes; the corpus's busiest log has 42
_SCANS_KEPT = 4096  # grammar scans, by shape without digits
_STATS_KEPT = 1024  # shapes counted for `gradlog inspect`
_FAST_KEPT = 1024  # compiled layouts (each compiles to a regex as long as its line)
_FAST_TEXT = 2048  # longer lines are read without one
_SHAPE_TEXT = 4096  # longer shapes are not counted for `gradlog inspect`
_KEYS_KEPT = 4096  # printed keys and the names they were read as
_SEEN_KEPT = 1 << 16  # hashes remembered of layouts and shapes not learned yet
# A layout gets its compiled reader (about a millisecond to compile, ten microseconds
# saved per line) once seen this often: metric lines repeat for ever, free text rarely.
_COMPILE_AFTER = 8
_BATCH_KINDS = 16  # kinds of within-epoch counters tallied
# Scanning a new shape with the grammar costs about a millisecond. A log gets _CREDIT
# scans at once (the corpus needs 42 at most) and one more every _REFILL lines; a shape
# seen again before it is scanned may borrow _RESERVE ahead. A new shape on every line
# then costs a scan on one line in _REFILL, and the others are skipped (``rare_shapes``).
_CREDIT = 256
_REFILL = 128
_RESERVE = 128


@dataclass(frozen=True)
class Fields:
    """What one line says: metrics by canonical name and, if printed, its step and epoch."""

    metrics: dict[str, float] = field(default_factory=dict)
    step: float | None = None
    epoch: float | None = None
    dialect: str = GENERIC.name
    marker: bool = True  # False: the line continues the open record, whatever it prints
    event: bool = False  # an event sentence: its values belong to the record being filled
    bits: bool = False  # the line's losses are in bits (base 2), as fairseq prints them
    # A bar's bare ``i/N`` on a line with no step or epoch (Keras's ``1875/1875 [===]``,
    # tqdm's ``|  79/79 [..]``): where a loop over batches is (``Assembler.loop``).
    count: tuple[float, float] | None = None
    told: bool = False  # a header whose step a sentence tells (``Evaluating at step 40``)

    @property
    def is_header(self) -> bool:
        """A line that only names a step or epoch (``Epoch 9/50``) and opens a block."""
        return not self.metrics and (self.step is not None or self.epoch is not None)


@dataclass(frozen=True)
class _Slot:
    key: str  # normalised printed key
    canonical: str  # canonical name by the shared table (a dialect may rename it)
    index: int  # which number token of the line holds the value


# Counters printed without a name before a line's first pair: ``[1]  train-rmse:..``
# (xgboost), ``[  1]    1440 || B: ..`` (YOLACT): one is the step; two are epoch, step.
_LEADING = lazy.regex(r"[\s\[(#]*\x00[\])]?(?:[\s,|:\-\[(]*\x00[\])]?)?[\s,|:\-]*")
# A line that opens with ``i/N`` printed without a name (char-rnn's ``2460/21150 (epoch``),
# and a bar's count opening a line, maybe after tqdm's bar (cut to ``|``): ``79/79 [..``.
_OPENED = r"\x00\s*/\s*\x00(?![\w.])"
_OPENING_FRACTION = lazy.regex(rf"\s*{_OPENED}")
_LOOP_COUNT = lazy.regex(rf"[\s|]*{_OPENED}")
# A loop's count in brackets after a line's first value: ``loss: 2.30  [ 6464/60000]``.
_BRACKETED_LOOP = lazy.regex(r"(?<=\S)\s*\[\s*\x00\s*/\s*\x00\s*\]")
# A tqdm bar's count after its bar (cut to ``|``) and before its clock: ``| 1/79 [00:00<``.
_BAR_COUNT = lazy.regex(r"\|\s*\x00/\x00\s+\[")
# A share done in parentheses, its percent sign read with its number: ``(  1%)``.
_SHARE = lazy.regex(r"\s*\(\s*\x00\s*%?\s*\)")
# A bare number in brackets right after the epoch (``Epoch 06 [030] |``, SwAV's ``Epoch:
# [3][450]``): its batch.
_BRACKETED = lazy.regex(r"\s*\]?\s*\[\s*\x00\s*\]")
# A line that opens with its epoch and batch, each of its total, without a name
# (crnn.pytorch's ``[0/25][100/112810] Loss: 21.1``).
_LEADING_EPOCH_BATCH = lazy.regex(r"\s*\[\x00\s*/\s*\x00\]\s*\[\x00\s*/\s*\x00\][\s,|:\-]*")
# ``i/N`` printed without a name (``Epoch  2, 52600/733817; acc: ..``): the step.
_FRACTION = lazy.regex(r"\x00\s*/\s*\x00")
# A training section's word, then its count of steps: ``[Train](1000/100000)``.
_TRAIN_COUNT = lazy.regex(
    r"[\s\[(]*(?:train|training)[\])]?\s*[\[(]?\s*\x00\s*/\s*\x00[\])]?[\s,|:\-]*", re.IGNORECASE
)
# A progress bar named for the steps, its bar cut (``Steps: | 201/2000 [..]``, diffusers'
# and kohya's scripts): its count is the global step; one named for the epochs (Rasa's
# ``Epochs:  1%| | 1/100 [.., t_loss=3.8]``), the epoch, so a bar that starts again at 1
# trains another model.
_AXIS_BAR = lazy.regex(
    r"\s*(?:(?P<steps>(?:global[ _])?steps?)|epochs?)\s*:?\s*\|\s*(?=\x00\s*/\s*\x00)",
    re.IGNORECASE,
)
# A name of one to three words, as sentences print it.
_SAID_NAME = r"[A-Za-z][\w.\-]*(?: [A-Za-z][\w.\-]*){0,2}"
# ``Score at iteration 10 is 0.69``: the value named before the step it belongs to.
# Two axes may follow (SASRec's ``loss in epoch 1 iteration 0: 1.39``); a colon may join
# the value (gensim's ``epoch 12: 3.1``).
_AT_STEP = lazy.regex(
    rf"(?P<name>{_SAID_NAME}) (?:at|for|after|in|on) (?P<axis>[A-Za-z]+) \x00"
    r"(?:,? (?P<axis2>[A-Za-z]+) \x00)?,?(?: is| was| ?=| ?:) ?(?=\x00)"
    # or the count before its axis's word: ``Current loss after 50 iterations: 127.1``
    # (Optimization.jl's callback)
    rf"|(?P<named>{_SAID_NAME}) (?:at|after) \x00 (?P<counted>[A-Za-z]+?)s?"
    r"(?: is| ?=| ?:) ?(?=\x00)"
)
# What every ``_AT_STEP`` holds, found without trying a name at each place in the line
# (a line of prose with `` in `` took ~45 us a shape in it).
_AT_STEP_HINT = lazy.regex(r" (?:(?:at|for|after|in|on) [A-Za-z]+ \x00|(?:at|after) \x00 [A-Za-z])")
# A line or a bracket opening with a count before its axis's word, maybe after
# ``after`` or ``at`` (``85000 iteration, loss: 0.61``, ``After 200 iterations, cost =
# 0.69``, ``[3 epochs] loss 0.5``): the axis's word first, as most loops print it.
_COUNT_FIRST = lazy.regex(
    r"^(\W*)(?i:(?:after|at) )?\x00 (?P<axis>(?i:step|iter|iteration|epoch|batch|update"
    r"|round))s?(?=\s*[,:;|\])]|\s*-+\s)"
)
# An axis's word, then dots or a colon, and its number in parentheses or brackets: HF's
# Flax examples' ``Step... (500 | Loss: 3.42, ..)``, ``Epoch: (3)``, ``Step... 500``.
_AXIS_OPENED = lazy.regex(
    r"(?<![\w.])(?P<axis>(?i:step|iter|iteration|epoch|batch|update|round))(?P<dots>\.{2,}"
    r"|\u2026)? *:? *(?:[(\[](?P<number>\x00)(?:[)\]](?! *:))?(?=[\s/|,;]|$))?"
)
# A plural axis word before a position out of a total: GroupNet's ``Epochs: 08/100``,
# ``Steps 300/1000``: the epoch or step the line is at, not how many there are.
_PLURAL_AXIS = lazy.regex(
    r"(?<![\w.])(?P<axis>(?i:epoch|step|iter|iteration|batch))s(?= *:? *\x00 */ *\x00)"
)
# ``Validation loss 6312: 0.1499`` and ``Train loss 1200 0.412130 Grad Norm ..``
# (Tacotron 2's and WaveGlow's scripts): a loss's name, the iteration it was measured
# at, then the value after a colon, or one blank apart.
_LOSS_AT = lazy.regex(
    rf"(?P<name>(?<![\w.]){_SAID_NAME}[ _](?i:loss|error))"
    r" \x00(?::\s*| (?=\x00(?![\w.])))(?=\x00)"
)
# A key in angle brackets or braces before its separator (SageMaker's ``<loss>=0.52``,
# nnabla's ``{Training loss}=2.07``).
_ANGLED = lazy.regex(r"<([A-Za-z]\w*)>(?=\s*[=:])|\{([A-Za-z][\w ]*)\}(?=\s*[=:])")
# A possessive: ``valid_0's auc``, ``model's loss`` (not a quoted key's ``'s'``).
_POSSESSIVE = lazy.regex(r"(?<=\w)'s(?= )")
# A mark before a value, after a blank or a separator: hippynn's ``Loss :  *  0.76  *
# 0.83`` (improved on its best), ``loss: *0.5``; the value is the value.
_MARKED = lazy.regex(r"(?<=[ :=|])\*+ *(?=\x00)")
# A verb before a colon: Arraymancer's ``Loss is:  1.3416`` (the colon is the separator).
_VERB_COLON = lazy.regex(r"(?<=\w) +(?:is|was|are|were) *:(?= *\[?\x00)")
# A summary's row of a metric's count and range (Comet's ``train_loss [12000]  : (0.0457,
# 244.46)``): no reading of it, and no record at the count.
_RANGED = lazy.regex(r"(?P<name>\w+) \[\x00\]\s*:\s*\(\x00,\s*\x00\)")
# The words that name a data set's section: training's, and an evaluation's.
TRAIN_WORDS = ("train", "training")
EVALUATION_WORDS = (
    *("val", "vali", "vald", "valid", "validation", "eval", "evaluation", "test", "testing", "dev"),
    *("validate", "evaluate"),  # DJL's ``Validate: Accuracy: 0.68, ..``
)
_SECTION_WORDS = frozenset((*EVALUATION_WORDS, *TRAIN_WORDS))
_SECTION_WORD = "|".join((*EVALUATION_WORDS, *TRAIN_WORDS))  # (one alternation of them)
_EVALUATION_WORD = "|".join(EVALUATION_WORDS)
# One name over values each named by its split: ``Loss: train=0.0043, val=0.2026;
# logMAE: train=-5.52, val=-1.66`` (DimeNet), ``Loss - train: 0.50, valid: 0.61``: each
# value the name of its split's series (``_grouped``). Without a separator after the name
# the splits may be other things (LitGPT's ``loss train: 2.107, val: 1.987`` repeats the
# last evaluation on every step's line; its own line, ``iter 400: val loss 1.8012``, is
# the step's).
_SPLIT_WORDS = f"(?:{_SECTION_WORD})"
_GROUPED = lazy.regex(
    r"(?<![\w.])(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*[:=\-]\s*"
    rf"(?P<body>(?:{_SPLIT_WORDS}\s*[:=]?\s*\x00\s*[,;|]?\s*){{2,}})",
    re.IGNORECASE,
)
_SPLIT_WORD = lazy.regex(rf"\b{_SPLIT_WORDS}\b", re.IGNORECASE)
# What steps are counted within, before a plural axis word: a section, or a span of the
# run (``episode steps: 12``, ``epoch iters: 469``): a count, not the position.
_SPANS = _SECTION_WORDS | {"episode", "ep", "epoch", "rollout", "trajectory", "game"}
# A section label inside a line: a set's name, then ``:`` or in brackets, before a name;
# or a dict's key whose value is a dict of the set's values (``"val": {"loss": 0.6}``);
# or a set's name before its pairs grouped in parentheses or braces, with or without a
# colon (Flux's ``Train: (loss = 0.21, acc = 94.1)   Test: (loss = 0.16, acc = 94.6)``,
# ``Test {loss: 0.16}``).
_SECTION = lazy.regex(
    rf"(?<![\w.])(?:\[|(?P<quote>['\"]))?(?P<word>{_SECTION_WORD})"
    r"(?:\]|(?(quote)(?P=quote)\s*:\s*\{\s*['\"]|:))(?=\s*\[?[A-Za-z]|\s*\[\x00\]\s*\[\x00\s*/)"
    rf"|(?<![\w.])(?P<grouped>{_SECTION_WORD})(?=(?::\s*|\s+)[({{]\s*[A-Za-z][\w.]*\s*[:=])",
    re.IGNORECASE,
)
# A section's word, then its epoch and batch in brackets (CenterNet's ``val: [5][0/5000]``,
# GNMT's ``TRAIN [0][10/1241]``), the hole of the epoch matched.
_SECTION_EPOCH = lazy.regex(r"\s*\]\s*\[\s*\x00\s*/\s*\x00\s*\]")
# A section's word before the word of its own counter (NNI's ``Epoch [1/50] Validation Step
# [1/157]  acc1 .. loss ..``, ``Val Iter 5/100``, ``Test batch [3/50]``): what follows is
# the section's, its counter no step of the run.
_SECTION_AXIS = lazy.regex(
    rf"(?<![\w.])(?P<word>{_SECTION_WORD})(?=\s+(?:step|iter|iteration|batch|it)\b)",
    re.IGNORECASE,
)
# A section's word alone in a column of ``|`` (Coqui STT's ``Epoch 3 | Validation | ..``).
_SECTION_CELL = lazy.regex(rf"(?<=\|)\s*(?P<word>{_SECTION_WORD})\s*(?=\|)", re.IGNORECASE)
# A dict whose string value names an evaluation (fast.ai's miniai ``MetricsCB``: ``{..,
# 'loss': '0.600', 'epoch': 0, 'train': 'eval'}``): its values are the evaluation's.
_EVALUATED_DICT = lazy.regex(rf"['\"]\s*:\s*['\"](?:{_EVALUATION_WORD})['\"]", re.IGNORECASE)
# The same said by a key that names the set, its value bare or made into an object:
# ``phase: val |``, dm-haiku's ``'split': Split('test')``.
_EVALUATED_KEY = lazy.regex(
    r"(?<![\w.])(?:split|phase|mode|stage|subset)['\"]?\s*[:=]\s*(?:[A-Za-z_.]+\()?['\"]?"
    rf"(?:{_EVALUATION_WORD})(?![\w.])",
    re.IGNORECASE,
)
# An evaluation's summary line, a bullet before its top-k accuracies, maybe after a time
# or a logger's prefix (the PyTorch ImageNet example's `` * Acc@1 76.1 Acc@5 92.9``, its
# ``* Prec@1``; DeiT's and MAE's ``* Acc@1 81.2 Acc@5 95.3 loss 0.913``): its loss is the
# evaluation's, not training's.
_TOP_K_SUMMARY = lazy.regex(r"(?:^|\s)\* +(?:acc|prec|top)[ @-]?1\b", re.IGNORECASE)
# An evaluation's word alone in parentheses, or in brackets before a colon (a tqdm bar's
# description, ``Epoch 3 [valid]: 40%|..| 8/20 [.., loss=1.2]``): what follows is the
# evaluation's, its bar's count its own batches.
_PAREN_SECTION = lazy.regex(
    rf"\((?:{_EVALUATION_WORD})\)|\[(?:{_EVALUATION_WORD})\]:", re.IGNORECASE
)
# An evaluation's section word between an epoch and its batch counter.
_EVALUATED = lazy.regex(rf"(?<![\w.])(?:{_EVALUATION_WORD})(?![\w.])", re.IGNORECASE)
_BEST = frozenset(("best", "lowest", "highest"))  # a running best's words
# A running best's section inside a line, or the run's final results (GraphGPS's ``> Epoch
# 249: took 17.8s | Best so far: epoch 91  train_loss: 0.2875 ..``, ``loss 0.5 (best:
# 0.41)``): what follows it is the best reading so far and where it was, not this one.
_BEST_SECTION = lazy.regex(
    r"\bbest(?:\s+so\s+far|\s+results?)?\s*:"
    # the run's results when it ends (Spektral's ``Final results - Loss: 1.635 - Acc:
    # 0.717``: its test set's, after the last epoch)
    r"|\bfinal\s+(?:results?|metrics|scores?)\s*[:\-]"
    # a leaderboard's place and an arrow (lsq-net's ``Scoreboard best 1 ==> Epoch [0][Top1:
    # 21.574 ..]``: the best epochs so far, in order)
    r"|\bbest\s+\x00\s*(?:=+>|-+>)",
    re.IGNORECASE,
)
COUNTER = "(counter)"  # the key of a step counter printed without a name
EPOCH_COUNTER = "(epoch counter)"


@dataclass
class ShapeStats:
    """One line shape as the reader saw it: for ``gradlog inspect``.

    ``shape`` is the line with each number replaced by ``#``; ``names`` pairs each
    printed key with the series it fed (``step`` and ``epoch`` included).
    """

    shape: str
    example: str
    names: tuple[tuple[str, str], ...]
    dialect: str | None
    count: int = 0


@dataclass(frozen=True)
class _Plan:
    slots: tuple[_Slot, ...]
    dialect: Dialect | None  # None: the line shows no framework's signature
    is_dict: bool
    # Accuracies printed as a count of a total (``Accuracy: 9801/10000``): each slot's
    # key, canonical name and the token of its total; the value is their ratio.
    fractions: tuple[tuple[str, str, int], ...] = ()
    # The token of a bar's bare ``i/N`` that opens a line with no step or epoch (its
    # ``N`` is the next token), if any: the count of a loop over batches.
    count: int | None = None
    # Keys of the step's family printed as ``i/N`` (``[batch=10/2000]``): counters.
    counted: frozenset[str] = frozenset()
    # Only a step, told by the last word of a sentence (``Evaluating at step 40``,
    # ``Training resuming from step 0``): a header whose block takes an evaluation's
    # values, but not a training loss printed again (``Assembler.take``).
    told: bool = False
    # What each number is, by dialect name (renames differ): filled on first use.
    roles: dict[str, Roles] = field(default_factory=dict, compare=False, hash=False)


class _Pair(NamedTuple):
    """A key-value pair the grammar found in a shape, by position: the same for every
    shape that differs only in its digits."""

    start: int  # where the pair starts
    quoted: int  # 1 when the key is quoted (it starts one character later)
    length: int  # the key's length
    sep: bool  # printed with ``:``, ``=`` or a verb
    value: int  # which hole holds the value
    total: int  # which hole holds the total of an ``i/N``, or -1


@dataclass
class Limits:
    """How often one input reached each of the parser's caps (for the report)."""

    long_lines: int = 0  # lines longer than PARSE_LIMIT, read in their first part
    many_numbers: int = 0  # lines with more than NUMBERS_KEPT numbers, read up to there
    rare_shapes: int = 0  # lines skipped: a new shape when too many were being learned
    names_dropped: int = 0  # metric names past NAMES_KEPT not read (once per line shape)

    def total(self) -> int:
        """All caps reached, together: counts only grow, so a change shows one reached."""
        return self.long_lines + self.many_numbers + self.rare_shapes + self.names_dropped


_HOLES = lazy.regex(grammar.HOLE)
_CLOCK = ":" + grammar.HOLE  # a number followed by this is hours or minutes of a clock
_PER = grammar.HOLE + "/"  # a word right after this is the number's unit (``2ms/step``)
_SKIPPED: Final = _Plan((), None, False)  # a shape not planned, for want of credit
_ALWAYS = frozenset(_CANONICAL.values()) | {STEP, EPOCH}
_AXES = (STEP, EPOCH)
_SCALED = frozenset({"loss", "grad", "gradient", "amp", "dynamic", "current", "fp16"})
# Words shortened with a period inside a name (``Val. Loss``, ``Avg. acc``), which ends
# no sentence.
_ABBREVIATED = frozenset({"val", "valid", "avg", "ave", "tr", "train", "test", "eval", "no", "num"})
# Words that make a key ending in an axis's name a count, a limit or a rate of it, or
# another step than the record's (``Loss for final step: 0.1332``, ``best epoch: 7``).
# Axis words in the plural: a section's word before one makes a count (``Val steps: 313``).
_COUNTED_AXES = frozenset({"steps", "iters", "iterations", "batches", "epochs"})
_COUNTING = frozenset(
    {"total", "num", "number", "max", "maximum", "min", "minimum", "count", "warmup", "per"}
    | {"accumulation", "remaining", "planned"}
    | {"final", "last", "best", "first", "next", "previous", "prev"}
    # a setting's (NCRF++'s ``Hyperpara  iteration: 100``, the iterations it will run)
    | {"hyperpara", "hyperparam", "hyperparams", "hyperparameter", "hyperparameters"}
    | {"hparam", "hparams", "config", "cfg", "setting", "settings"}
)
# A word that names nothing: the number after it belongs to the prose around it
# (``Epoch 0 of 30``, ``with 10,740,096 parameters``, ``(after 10 iterations)``). Not
# ``a`` (YOLACT's ``A: 1.25`` is a loss part) nor ``it`` (``it 10``: the iteration).
_FUNCTION_WORDS = frozenset(
    {"of", "with", "without", "after", "before", "for", "the", "an", "in", "on", "at"}
    | {"to", "from", "by", "and", "or", "than", "over", "into", "about", "is", "was", "are"}
    | {"were", "be", "been", "has", "have", "had", "this", "that", "these", "those"}
)
# Ids and other high-entropy tokens are masked out of shapes: a trace id, UUID, hash or
# blob per line would otherwise make every line a new shape (and a UUID's ``123e4567``
# a number). Hex ids need 8+ hex digits with a letter and a digit (``12345678e9`` is a
# float, ``deadbeef`` a word); base64 needs 24+ characters of upper, lower and digits.
# A token of 256+ characters is no key either (a key is tried at each of its letters).
# torch's ``device='cuda:0'`` is masked so ``cuda`` is not a metric. A date (and time)
# inside a line (logfmt's ``ts=2026-12-04T10:41:41.501Z``, a dict's ``'time':
# '2024-05-01 10:00:00'``) is one too: its parts are no metrics (``ts`` 2026, ``t10``).
# So is a place in a source file (``cpu_feature_guard.cc:182``, ``../src/learner.cc:767``,
# ``[INFO|trainer.py:1813]``): its line number is no value of a metric named for the file.
ID = "\x01"
_SOURCE = r"py|pyx|c|cc|cpp|cxx|h|hpp|cu|cuh|java|scala|kt|rs|go|js|ts|jl|rb|lua|swift"
# A source file's name before a number is the line of code that logged (SlowFast's
# ``logging.py:  95: json_stats: {..}``), not a metric.
_SOURCE_FILE = lazy.regex(rf"\w\.(?:{_SOURCE})$")
MASK = lazy.regex(
    r"(?<![\w+/\-.@])(?:"
    rf"@?[\w./\-]*?\.(?:{_SOURCE})(?::\d+)+"  # (tensorpack's ``[0305 14:02 @base.py:272]``)
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|_\d{2}[-:]\d{2}(?:[-:]\d{2})?)?"  # (``2024-05-21_10-03-11``, a run's stamp)
    # a date by the month's name with its time (``time.ctime()``: Swin-UNETR's ``0 Tue Jun
    # 14 10:11:32 2022 Epoch: 1``): no series ``jun`` = 14
    r"|(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" +\d{1,2} +\d{2}:\d{2}:\d{2}(?: +\d{4})?"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?!\d+[eE][-+]?\d+(?![\w+/\-.@]))(?:0[xX])?"
    r"(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}"
    r"|(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])"
    r"[A-Za-z0-9+/]{24,}={0,2}"
    r"|[\w+/\-.@]{256,}"
    # A version (``v7.0-294-gdb125a20``, ``torch-2.1.0+cu121``, ``Python-3.10.12``) and a
    # device (``CUDA:0``) in a banner: no metric ``v7.0`` = 294, no ``cu121_cuda`` = 0.
    r"|v\d+(?:\.\d+)+(?:[-+][\w.]+)*|[A-Za-z][\w]*-\d+\.\d+\.\d+(?:[-+.][\w]+)*"
    r"|(?:cuda|CUDA|gpu|GPU|npu|NPU|xpu|XPU|mps|xla|XLA|tpu|TPU|hpu|HPU):\d+(?:/\d+)?"
    # A path or URL (``/ckpt/best_dev-1172``, ``gs://bucket/checkpoint_5000.tmp``): its
    # numbers are parts of names, no metric's values.
    r"|(?:[A-Za-z][\w+.\-]*:/|\.{1,2}/|~/|/)[\w.\-/]*[\w\-]"
    r")(?![\w+/\-.@])"
    r"|device=(?:'[^']*'|\"[^\"]*\")|device\(type=[^)]*\)"
)
_K = TypeVar("_K")
_V = TypeVar("_V")


def _keep(cache: OrderedDict[_K, _V], key: _K, value: _V, limit: int) -> None:
    """Store in a least-recently-used cache, dropping the least recent when full."""
    cache[key] = value
    if len(cache) > limit:
        cache.popitem(last=False)


def _shortened(text: str) -> str:
    """The first ``PARSE_LIMIT`` characters of a line, cut at a space when one is near."""
    cut = text.rfind(" ", PARSE_LIMIT // 2, PARSE_LIMIT)
    return text[: cut if cut > 0 else PARSE_LIMIT]


# Full-width punctuation (Chinese and Japanese text: ``损失：0.5，``) as its ASCII form,
# and every space of Unicode as a blank: a log pasted through a chat or a word processor
# has no-break and thin spaces (``loss\u202f0.41``, ``step\u00a01350``).
_UNICODE_SPACES = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
)
_FULL_WIDTH = str.maketrans(
    "：，；（）【】｜／＝、　" + _UNICODE_SPACES, ":,;()[]|/=, " + " " * len(_UNICODE_SPACES)
)
# ``第 N 轮`` (the N-th epoch), ``第N步``, ``第 N 次迭代``: the counter after its number.
_ORDINAL = lazy.regex(
    r"第\s*\x00\s*(?:个|個|次)?\s*(?P<unit>轮次|輪次|轮|輪|回合|エポック|迭代|步|批次?"
    r"|(?i:epoch|step|iter(?:ation)?|batch)(?![A-Za-z]))"
)


# (name, value) pairs printed as Python tuples (PFRL's ``statistics:[('average_q',
# 0.022), ('average_loss', nan)]``, an ``OrderedDict``'s repr): each the name's value,
# where there are two or more (one alone may be anything: mmcv's ``workflow: [('train',
# 1)]`` is a setting).
_TUPLE_PAIR = lazy.regex(r"""\(\s*(['"])([^'"\x00()]{1,64})\1\s*,\s*(?=\x00\s*\))""")
# A value before its name in a list of such (tinygrad's ``  3   24.63 ms run,  1.71 ms
# python, 1181.89 loss, 0.000118 LR, 1.31 GB used``): each item a number, maybe a short
# unit, then a word, between commas (the first after a counter); the name's value, where
# there are two or more (not a value's unit: ``cost: 0.38 s, eta: 1 day``) and one of
# them names a training series (``_values_first``).
_VALUE_FIRST = lazy.regex(
    r"(?:(?<=,)|^)(\s*(?:\x00\s+)?)\x00((?: [A-Za-z%]{1,3})?) ([A-Za-z]\w+)(?=\s*(?:,|$))"
)


# A step a line opens with, out of its total or not (``_plan``'s evaluation line).
_OPENING_STEP = lazy.regex(r"^\W*step \x00(?:/\x00)?[,:]?")
# A training step's line: its step or learning rate named (``_plan``'s gradient context).
_STEP_LINE = lazy.regex(r"\b(?:step|iter|iteration|it|lr|learning rate)\b")
# A tensor printed bare, with a loss's gradient function (``print(loss)``: ``tensor(2.30,
# grad_fn=<NllLossBackward0>)``), opening the line or after its step (``print(epoch,
# loss)``: ``3 tensor(..)``): the loss, named by its autograd node.
_LOSS_TENSOR = lazy.regex(
    r"(^\s*|\x00[\s,:|]*)((?:torch\.)?tensor\(\x00"
    # (a long node's name is masked as an id: ``CrossEntropyLossBackward0``)
    r"(?=[^()]*grad_fn=<(?:\w*(?:Loss|Entropy)\w*Backward|\x01>)))"
)
# A name between bars, a norm's notation (simple-nmt's ``|param|=6.01e+02
# |g_param|=2.10e+00``, ``||grad||: 1.3``): the norm of what it names, the gradients'
# when it opens with ``g_`` or ``grad`` (``_barred``).
_BARRED = lazy.regex(r"(?<![\w|])\|{1,2}([A-Za-z][\w.]*)\|{1,2}(?=\s*[:=])")
# A line's one bar between a name and its last value, the bar as the pair's separator
# (Trax: ``Step 100: train CrossEntropyLoss |  9.69``): a colon. A table's row has bars
# between every cell (Lightning's ``1 | loss_fn | CrossEntropyLoss | 0``), so only a
# line with a single bar.
_PIPED = lazy.regex(r"(?<=[A-Za-z\d)\]]) +\| +(?=\x00\s*$)")


_NORM_WORDS = frozenset(("norm", "total", "global", "l2"))


def _unnamed_norm(printed: str) -> bool:
    """Whether a name is a norm of nothing it names (``norm``, ``total_norm``)."""
    named = set(families.words(normalise(printed)))
    return "norm" in named and named <= _NORM_WORDS


def _barred(found: re.Match[str]) -> str:
    name = found[1]
    lowered = name.lower()
    if lowered in ("g", "grad", "grads", "gradient") or lowered.startswith(("g_", "grad_")):
        return "grad_norm"
    return f"{name}_norm"


# A value's running mean in parentheses right after it (an AverageMeter's ``32(31.82)``).
_METER = lazy.regex(r" ?\(\x00\)")
# Two names over two values, each pair split by a slash: ``Train/Valid loss: 0.51/0.63``
# (a shared last word), ``train_loss/val_loss = 0.51/0.63``, ``loss (train/val): 0.51 /
# 0.63``; each name the value in its place (``_slashed``), where both name series.
_SLASH_PAIR = lazy.regex(
    r"(?<![\w/.])(?P<a>[A-Za-z][\w.]*)\s*/\s*(?P<b>[A-Za-z][\w.]*)"
    r"(?P<tail>(?: [A-Za-z][\w.]*){0,2})(?P<sep>\s*[:=]\s*|\s+)\x00\s*/\s*\x00"
)
_SLASH_SECTIONS = lazy.regex(
    r"(?<![\w/.])(?P<tail>[A-Za-z]\w*(?: [A-Za-z]\w*)?)\s*\(\s*(?P<a>[A-Za-z]\w*)\s*/\s*"
    r"(?P<b>[A-Za-z]\w*)\s*\)(?P<sep>\s*[:=]\s*|\s+)\x00\s*/\s*\x00"
)


def _slashed(found: re.Match[str], sections: bool = False) -> str:
    """``_SLASH_PAIR``'s two names and values as two pairs (``sections``:
    ``_SLASH_SECTIONS``'s, the words in parentheses qualifying the name before them),
    when each name (with the shared word, if any) is a series' and they differ; else as
    printed (``global_step/max_steps: 5/400`` is a step of its total)."""
    a, b, tail = found["a"], found["b"], found["tail"]
    # The section's word before the name; or the shared last word after each, or after
    # the second only.
    shared = [(a + tail, b + tail), (a, b + tail)]
    tried = [(f"{a} {tail}", f"{b} {tail}")] if sections else shared
    for first, second in tried:
        named = [_CANONICAL.get(normalise(name)) for name in (first, second)]
        if None not in named and named[0] != named[1] and not set(_AXES) & set(named):
            return f"{first}: {grammar.HOLE}, {second}: {grammar.HOLE}"
    return found[0]


# A dict inside a dict, and a key in it that names no quantity of its own but a summary
# of its owner's (``"grad_norm": {"total": 2.66, "attn": 0.99}``): named with its owner
# (``grad_norm_total``), as a flattened key is.
_NESTED = lazy.regex(r"""(['"])([\w.\-/]{1,64})\1\s*:\s*\{([^{}]*)\}""")
_SUMMARY_KEY = lazy.regex(
    r"""(['"])(total|sum|all|overall|global|mean|avg|average|value)\1(?=\s*:)"""
)


def _owned(found: re.Match[str]) -> str:
    """A nested dict (``_NESTED``) with its summary keys named with their owner."""
    quote, owner, body = found[1], found[2], found[3]
    body = _SUMMARY_KEY.sub(lambda key: f"{key[1]}{owner}_{key[2]}{key[1]}", body)
    return f"{quote}{owner}{quote}: {{{body}}}"


# A count of the run's steps opening a line, before a colon (keras-rl's ``   25/40000:
# episode: 2, ...``) or its share of the total (ELECTRA's ``1000/1000000 = 0.1%, SPS:
# 11.9``): the step, out of the total.
_LEADING_COUNT = lazy.regex(r"^(\s*)\x00/\x00(?::(?=\s)| = (\x00)(?=,))")
# The same in brackets or parentheses before the line's names (``[4000/300000] Loss:
# 0.51``, PSENet's ``(21/62) LR: 0.001 | Loss: 0.912``), and a
# count named for the steps after it, in parentheses or not (a tqdm description's
# ``Training (300 / 2000 Steps) (loss=2.55)``, UER's ``|   100/  500000 steps|``; not a
# rate's ``steps/s``): the step, out of the total.
_BRACKETED_COUNT = lazy.regex(
    r"^\s*(?:\[\s*\x00\s*/\s*\x00\s*\]|\(\s*\x00\s*/\s*\x00\s*\))(?=\s+[A-Za-z])"
)
_COUNTED_STEPS = lazy.regex(
    r"\(\s*\x00\s*/\s*\x00\s+(?i:steps|iters|iterations)\s*\)"
    r"|(?<![\w./])\x00\s*/\s*\x00\s+(?i:steps|iters|iterations)(?![\w/])"
)
# A count, then a colon and one bare value, the whole line (makemore's ``  45000/ 200000:
# 3.2958``, ``step 400: 2.07``, ``Epoch 3/10: 0.41``): the one number a loop prints at
# each step is its loss.
_BARE_LOSS = lazy.regex(
    r"^\s*(?:(?P<axis>(?i:step|iter|iteration|it|epoch|batch)\s*)?"
    r"\x00(?P<total>\s*/\s*\x00)?\s*:"
    # (without the colon after an axis's word: ``print("epoch", epoch, loss.item())``)
    r"|(?P<named>(?i:step|iter|iteration|epoch|batch))\s*\x00(?P<of>\s*/\s*\x00)?)"
    # (and the time it took, in parentheses: ``Epoch 3: 2.303 (12.1 sec)``)
    r"\s*\x00(?P<took>\s*[(\[]\s*\x00\s+(?i:s|sec|secs|seconds|ms|min|mins)\.?\s*[)\]])?\s*$"
)

# A count, a colon and one bare value, then named values after a bar (the diffuser
# Trainer's ``64000:   2.0170 | a0_loss:   3.9100 | t: 7217.8``): the step and its loss.
_BARE_THEN_PAIRS = lazy.regex(r"^\s*\x00\s*:\s*\x00(?=\s*\|)")


# A loop's progress as PyTorch's tutorials print it: the time taken (``timeSince``'s
# ``1m 5s``, maybe with the time left, ``(- 26m 22s)``), the iteration and its share of
# all (``(3000 4%)``, or ``3000 4%`` first), then one bare value, the loss, maybe with
# words after it (the classifier's ``2.8953 Vu / Greek ✗ (Vietnamese)``). Matched on a
# line's layout (its digits 0), where the units show.
_TIME_TAKEN = r"0+[hms](?: 0+[ms])*(?: \(- 0+[hms](?: 0+[ms])*\))?"
_PROGRESS_LOSS = lazy.regex(
    rf"\s*(?:(?P<clock>{_TIME_TAKEN}) \(0+ 0+%\)|0+ 0+% \((?P<after>{_TIME_TAKEN})\)) "
    r"0+\.0+(?P<rest>\s[^0-9]*|)"
)
_ZEROS = lazy.regex(r"0+[hms]")  # a number of a clock's layout, with its unit


def _progress_loss(found: re.Match[str]) -> str:
    """The shape of a tutorial's progress line (``_PROGRESS_LOSS``): its iteration the
    step, its bare value the loss."""
    hole = grammar.HOLE
    if found["clock"]:
        head = f"{_holes(found['clock'])} (step {hole} {hole})"
    else:
        head = f"step {hole} {hole} ({_holes(found['after'])})"
    return f"{head}, loss: {hole},{found['rest']}"


def _holes(clock: str) -> str:
    """A clock's layout (``0m 00s (- 00m 00s)``) with its numbers as holes."""
    return _ZEROS.sub(grammar.HOLE, clock)


def _at_step(found: re.Match[str]) -> str:
    """``x at step N is V`` (``_AT_STEP``) as ``step N, x: V``; ``x after N steps: V``
    the same way."""
    hole = grammar.HOLE
    if found["named"]:
        return f"{found['counted']} {hole}, {found['named']}: "
    more = f"{found['axis2']} {hole}, " if found["axis2"] else ""
    return f"{found['axis']} {hole}, {more}{found['name']}: "


def _grouped(found: re.Match[str]) -> str:
    """A name over its splits' values (``_GROUPED``): each split word as the split's
    series of that name (``Loss: train=V, val=W`` as ``train_Loss=V, val_Loss=W``).
    An axis's name groups nothing (``Epoch 3 train 0.5 val 0.6`` has no name of theirs)."""
    name = found["name"]
    if _CANONICAL.get(normalise(name)) in _AXES:
        return found[0]
    return _SPLIT_WORD.sub(lambda split: f"{split[0]}_{name}", found["body"])


_INDEX_NAMES = frozenset({"i", "idx", "index", "n"})


def _ranged(found: re.Match[str]) -> str:
    """A summary's ``name [count] : (min, max)`` as names no series takes."""
    name = found["name"]
    return f"num_{name}: {grammar.HOLE}, min_{name}: {grammar.HOLE}, max_{name}: {grammar.HOLE}"


def _leading_count(found: re.Match[str]) -> str:
    """``N/T:`` (``_LEADING_COUNT``) as ``step N/T,``; ``N/T = S`` as ``step N/T (S)``."""
    share = f" ({found[2]})" if found[2] else ","
    return f"{found[1]}step {grammar.HOLE}/{grammar.HOLE}{share}"


def _bare_loss(found: re.Match[str]) -> str:
    axis = (found["axis"] or found["named"] or "step").strip()
    total = f"/{grammar.HOLE}" if found["total"] or found["of"] else ""
    took = f", elapsed: {grammar.HOLE}" if found["took"] else ""
    return f"{axis} {grammar.HOLE}{total}, loss: {grammar.HOLE}{took}"


def _axis_opened(found: re.Match[str]) -> str:
    """An axis's word as ``_AXIS_OPENED`` finds it, before its number: without the dots
    after it or the parentheses around the number."""
    if not (found["dots"] or found["number"]):
        return found[0]
    return f"{found['axis']} {found['number'] or ''}"


def _prepare(shape: str) -> str:
    """A shape as the grammar reads it: tabs as spaces (pyparsing expands tabs, which would
    shift the holes), a mark before a value cut (``loss: *0.5``), a possessive's ``'s``
    cut (LightGBM's ``valid_0's binary_logloss`` names the validation set's loss:
    ``valid_0 binary_logloss``) and a verb before a colon (``Loss is: V``); ``x at step
    N is V`` and ``x loss N: V`` (or ``x loss N V``) turned into ``step N, x: V``, a
    leading ``N/T:`` into ``step N/T,`` (and a line of only ``[step] N[/T]: V``, maybe
    with the time it took, into ``step N[/T], loss: V``), tuples ``('x', V)`` into
    ``'x': V``, values before their names (``V x, W y``) into ``x: V, y: W``, a nested
    summary's key named with its owner (``_NESTED``); full-width punctuation and
    Unicode's spaces as ASCII, and ``第 N 轮`` (the N-th epoch) as ``轮 N``."""
    shape = shape.replace("\t", " ")
    if "*" in shape:
        shape = _MARKED.sub("", shape)
    if "/" in shape:
        shape = _PLURAL_AXIS.sub(lambda found: found["axis"], shape)
    if "(\x00" in shape or "[\x00" in shape or ".. " in shape or "\u2026" in shape:
        shape = _AXIS_OPENED.sub(_axis_opened, shape)
    if not shape.isascii():
        shape = shape.translate(_FULL_WIDTH)
        if "第" in shape:
            shape = _ORDINAL.sub(lambda found: f"{found['unit']} {grammar.HOLE} ", shape)
    if ">" in shape or "}" in shape:  # a key in angles or braces: the key
        shape = _ANGLED.sub(lambda found: found[1] or found[2], shape)
    if "'s " in shape:
        shape = _POSSESSIVE.sub("", shape)
    if "s:" in shape or "e:" in shape:
        shape = _VERB_COLON.sub(":", shape)
    if shape[:16].lstrip(" [(").startswith(("\x00 ", "After \x00", "after \x00", "At \x00")):
        shape = _COUNT_FIRST.sub(lambda found: f"{found[1]}{found['axis']} {grammar.HOLE}", shape)
    if (
        " at " in shape or " for " in shape or " after " in shape or " in " in shape
    ) and _AT_STEP_HINT.search(shape):
        shape = _AT_STEP.sub(_at_step, shape)
    if "\x00:" in shape or " \x00 \x00" in shape:
        shape = _LOSS_AT.sub(lambda m: f"step {grammar.HOLE}, {m['name']}: ", shape)
    bare = _BARE_LOSS.match(shape) if shape.count(grammar.HOLE) <= 4 else None
    if bare is not None:
        shape = _bare_loss(bare)  # (the whole line)
    elif shape[:12].lstrip().startswith("\x00") and (paired := _BARE_THEN_PAIRS.match(shape)):
        shape = f"step {grammar.HOLE}, loss: {grammar.HOLE}{shape[paired.end() :]}"
    elif shape[:12].lstrip().startswith("\x00/\x00"):
        shape = _LEADING_COUNT.sub(_leading_count, shape)
    elif shape[:12].lstrip().startswith(("[", "(")):
        shape = _BRACKETED_COUNT.sub(f"step {grammar.HOLE}/{grammar.HOLE},", shape)
    if "/" in shape:
        shape = _COUNTED_STEPS.sub(f"(step {grammar.HOLE}/{grammar.HOLE})", shape)
    if "] " in shape and ": (" in shape:
        shape = _RANGED.sub(_ranged, shape)
    if ("('" in shape or '("' in shape) and len(_TUPLE_PAIR.findall(shape)) >= 2:
        shape = _TUPLE_PAIR.sub(lambda m: f"{m[1]}{m[2]}{m[1]}: ", shape)
    if shape.count("{") >= 2 and _SUMMARY_KEY.search(shape):
        shape = _NESTED.sub(_owned, shape)
    if _SPLIT_WORD.search(shape):
        shape = _GROUPED.sub(_grouped, shape)
    if "|" in shape:
        shape = _BARRED.sub(_barred, shape)
        if shape.count("|") == 1:
            shape = _PIPED.sub(": ", shape)
    if "grad_fn=<" in shape and "tensor(" in shape:
        shape = _LOSS_TENSOR.sub(lambda found: f"{found[1]}loss: {found[2]}", shape, count=1)
    if "/" in shape and ("\x00/" in shape or "\x00 /" in shape):
        shape = _SLASH_PAIR.sub(_slashed, shape)
        shape = _SLASH_SECTIONS.sub(lambda found: _slashed(found, sections=True), shape)
    if shape.count(",") >= 2 and _values_first(shape):
        shape = _VALUE_FIRST.sub(lambda m: f"{m[1]}{m[3]}: {grammar.HOLE}{m[2]}", shape)
    if "\x00" in shape and ("):" in shape or ") :" in shape or ")=" in shape):
        shape = _QUALIFIED.sub(_qualified, shape)
    return shape


# A series' name qualified in parentheses by words and a number, before its separator
# (ESRNN's ``Training loss (50 prc): 0.161``, ``Loss (avg over 100 steps): 0.5``).
_QUALIFIED = lazy.regex(
    r"(?P<name>(?<![\w.])[A-Za-z][\w.]*(?: [A-Za-z][\w.]*){0,3})\s*"
    r"\((?P<inside>[^()\x00]*\x00[^()\x00]*)\)(?P<sep>\s*[:=])"
)


def _qualified(found: re.Match[str]) -> str:
    """``_QUALIFIED``'s qualifier moved before the name, where its number names nothing
    and the name meets its value (the numbers stay in their order); as printed unless
    the name is a series' (by its last word) and the qualifier holds a word."""
    name, inside = found["name"], found["inside"]
    last = normalise(name.split()[-1])
    if last not in families.ENDINGS or not any(c.isalpha() for c in inside):
        return found[0]
    return f"({inside}) {name}{found['sep']}"


def _values_first(shape: str) -> bool:
    """Whether ``shape`` lists two or more values before their names, one of them a
    training series' (``1181.89 loss``): a banner's counts (YOLO's ``415 layers, 37207344
    parameters``, ``600 found, 0 missing``) are no record."""
    names = [found[2] for found in _VALUE_FIRST.findall(shape)]
    return len(names) >= 2 and any(normalise(name) in _CANONICAL for name in names)


def _scan(shape: str) -> tuple[_Pair, ...]:
    """The pairs the grammar finds in a prepared shape (the slow part: pyparsing)."""
    last = shape.rfind(grammar.HOLE)
    shape = shape[: last + 1]  # no pair starts after the last value
    holes = [match.start() for match in _HOLES.finditer(shape)]
    pairs = []
    for tokens, start, _end in grammar.pair.scan_string(shape):
        found = tokens[0]
        quoted = int(shape[start] in "'\"")
        total = bisect_left(holes, found["total"]) if "total" in found else -1
        value = bisect_left(holes, found["value"])
        pairs.append(_Pair(start, quoted, len(found["key"]), "sep" in found, value, total))
    return tuple(pairs)


def _anchored(view: str) -> re.Pattern[str]:
    """A regex matching a line laid out as ``view`` with any digits (and any ids where
    ``view`` has them masked), capturing each number as tokenised."""
    pattern, end = [], 0
    for match in grammar.NUMBER_RE.finditer(view):
        pattern.append(re.escape(view[end : match.start()]))
        pattern.append(f"({_NUMBER_CORE})")
        pattern.append(re.escape(match.group(0)[len(match.group("num")) :]))  # its unit
        end = match.end()
    pattern.append(re.escape(view[end:]))
    return re.compile("".join(pattern).replace(ID, f"(?:{MASK.pattern})"))


_NUMBER_CORE = (
    r"[-+]?(?:\d{1,3}(?:[,_]\d{3})+(?:\.\d+)?|\d\.#[A-Z]+\d*"
    r"|[\d.]+(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?)(?:\.0)?)"
)


def _counters(
    prefix: str,
    holes: list[int],
    covered: set[int],
    shape: str,
    epoch: int | None,
    totals: set[int],
) -> list[_Slot]:
    """Slots for step counters printed without a name: leading numbers, or an ``i/N``
    right after the epoch (and its total: tqdm's ``Epoch 3/800: 20%|██| 51/250``).
    ``totals``: the holes that hold a pair's total."""
    count = prefix.count(grammar.HOLE)
    if epoch is not None and epoch >= count and _SECTION_EPOCH.match(shape, holes[epoch] + 1):
        prefix = ""  # a section's ``[e][i/N]`` counts the steps, not a tag before it
    if prefix and _LEADING_EPOCH_BATCH.fullmatch(prefix):
        return [_Slot(EPOCH_COUNTER, EPOCH, 0), _Slot(IN_EPOCH, STEP, 2)]
    if prefix and _LEADING.fullmatch(prefix):
        keys = (COUNTER,) if count == 1 else (EPOCH_COUNTER, COUNTER)
        return [
            _Slot(key, EPOCH if key == EPOCH_COUNTER else STEP, index)
            for index, key in enumerate(keys)
        ]
    if prefix and _TRAIN_COUNT.fullmatch(prefix):  # DGL-KE's ``[Train](1000/100000) ..``
        return [_Slot(COUNTER, STEP, 0)]
    bar = _AXIS_BAR.match(shape)
    if bar is not None and bar["steps"]:  # ``Steps:  10%|█| 201/2000 [..]``: the steps
        return [_Slot(COUNTER, STEP, bisect_left(holes, bar.end()))]
    if bar is not None and epoch is None:  # ``Epochs:  1%| | 1/100 [..]``: the epochs
        return [_Slot(EPOCH_COUNTER, EPOCH, bisect_left(holes, bar.end()))]
    if epoch is None:  # a bare ``i/N`` is a batch of the epoch printed just before it
        return []
    batch = epoch + 2 if epoch + 1 in totals else epoch + 1
    if batch < len(holes) and _SHARE.match(shape, holes[batch - 1] + 1):
        batch += 1  # the epoch's share done between them (OpenPCDet's ``1/80 (  1%) [..``)
    for match in _FRACTION.finditer(shape):
        index = bisect_left(holes, match.start())
        if index == batch and index + 1 not in covered:
            if _EVALUATED.search(shape, holes[epoch], match.start()):
                return []  # an evaluation's batches (``Epoch 3/30 [valid]: 8/39``): no step
            return [_Slot(IN_EPOCH, STEP, index)]
    if (
        batch < len(holes)
        and batch not in covered
        and _BRACKETED.match(shape, holes[batch - 1] + 1)
    ):
        # ``Epoch 06 [030] | Train loss ..`` (MLX's examples): the batch in brackets after
        # the epoch (the hole the match holds is the next one), counted from 0 each epoch
        # (the assembler counts it on).
        return [_Slot(COUNTER, STEP, batch)]
    return []


def _unit(shape: str, start: int, end: int) -> bool:
    """Whether the word at ``start`` to ``end`` of ``shape`` is a number's unit: right
    after it and a ``/`` (Keras's ``712ms/epoch - 2ms/step``), and no ``=`` or ``:``
    after it (DeepSpeed's ``epoch=0/micro_step=10`` names a value)."""
    return start >= 2 and shape.startswith(_PER, start - 2) and shape[end:].lstrip()[:1] not in "=:"


_COMMA_AFTER = lazy.regex(r"\s*,")  # (after a section's epoch: ``Train 57, loss: ..``)
_NEXT_IN_LIST = lazy.regex(r"\s*,\s*\x00")
_LIST_BODY = lazy.regex(r"\[\s*\x00(?:\s*,\s*\x00)*\s*,?\s*\]")  # (its numbers, in a shape)


def _listed(shape: str, hole: int) -> bool:
    """Whether the number at ``hole`` of ``shape`` opens a list of numbers in brackets
    (``[400000, 450000]``)."""
    return shape[:hole].rstrip().endswith("[") and _NEXT_IN_LIST.match(shape, hole + 1) is not None


_EPISODE = "episode"


def _one_step(slots: list[_Slot], totals: set[int]) -> list[_Slot]:
    """The slots of a line without the steps' counters but its global step, where it
    prints one without a total beside others with theirs (EfficientDet's ``Step: 60.
    Epoch: 1/80. Iteration: 1/60.``: the iteration counts the epoch's batches); without
    its episode beside another step."""
    steps = [slot for slot in slots if slot.canonical == STEP]
    # An episode counts steps only where nothing else does (keras-rl's ``25/40000:
    # episode: 2, ..``: the environment's steps, and the episode they are in).
    episodes = [slot for slot in steps if slot.key == _EPISODE]
    if episodes and len(episodes) < len(steps):
        slots = [slot for slot in slots if slot not in episodes]
        steps = [slot for slot in steps if slot not in episodes]
    if len(steps) < 2:
        return slots
    counted = [slot for slot in steps if slot.index + 1 in totals]
    if len(steps) - len(counted) != 1 or not counted:
        return slots
    return [slot for slot in slots if slot not in counted]


def _bar_count(shape: str) -> int | None:
    """The number (its hole's index) of a tqdm bar's ``n`` in ``shape``, if it shows one."""
    bar = _BAR_COUNT.search(shape)
    return None if bar is None else shape.count(grammar.HOLE, 0, bar.start())


def _fraction(tokens: list[str], index: int) -> bool:
    """Whether number ``index`` of a line has a fraction (``0.698``; not ``100.0``)."""
    if index >= len(tokens):
        return False
    value = to_float(tokens[index])
    return math.isfinite(value) and not value.is_integer()


def _whole(tokens: list[str], index: int) -> bool:
    """Whether number ``index`` of a line is printed whole: an epoch counter, not the
    fraction of the data seen (HF's ``epoch 0.02``)."""
    return index >= len(tokens) or "." not in tokens[index]


class LineParser:
    """Parses lines into ``Fields``; the pyparsing grammar runs once per line shape.

    Everything it keeps is bounded, and so is the work per line: a line is read in its
    first ``PARSE_LIMIT`` characters and first ``NUMBERS_KEPT`` numbers, ids are masked
    out of shapes, the caches drop their least recent entries, a log that makes a new
    shape on every line has only so many of them learned (``Limits.rare_shapes``), and
    metric names past ``NAMES_KEPT`` are not read. ``limits`` counts each cap reached.
    """

    def __init__(self, names: NameTable | None = None) -> None:
        self.names = names or NameTable()
        self.dialect: Dialect = GENERIC  # the document's dialect so far
        self.limits = Limits()
        self._plans: OrderedDict[str, _Plan | None] = OrderedDict()
        self._scans: OrderedDict[str, tuple[_Pair, ...]] = OrderedDict()
        # The length each list of numbers had the last time its line's layout was printed
        # (by the shape with every list's numbers taken out, and the list's place in it),
        # or -1 once it grew: a history (``_latest``).
        self._lists: OrderedDict[tuple[str, int], int] = OrderedDict()
        # Lines with the same characters but for their digits have the same shape: a
        # regex anchored on that text reads their numbers far faster than tokenising.
        self._fast: dict[str, tuple[re.Pattern[str], _Plan | None, ShapeStats | None]] = {}
        self.evictions = 0  # times old shapes were dropped from ``_fast``
        self._seen: dict[int, int] = {}  # sightings of layouts not compiled yet
        self._unlearned: set[int] = set()  # shapes not scanned for want of credit
        self._credit = float(_CREDIT)
        # The number of the line being read, when the caller says (``LogReader``): the
        # credit comes back by lines of the log, however they were read; else by lines
        # parsed here.
        self.line: int | None = None
        self._credited = 0  # the line the credit was last brought up to date at
        self.sightings = 0  # lines counted in ``shapes``, of any shape
        # Steps counted within the epoch: lines by (batches per epoch, first epoch), and
        # the lowest batch seen (0 or 1: how batches are counted).
        self.batches: dict[tuple[float, int], int] = {}
        self.first_batch = math.inf
        # The last step counted within its epoch, as (epoch, batch, batches), and the
        # counts of batches whose counter went on over an epoch's change (``batch_step``).
        self._batch_at: tuple[float, float, float] | None = None
        self.whole_run_totals: set[float] = set()
        self.first_epoch: int | None = None  # ``_epochs_from``
        self._keys: dict[tuple[str, bool, bool, bool], tuple[str, str, bool] | None] = {}
        self._names: set[str] = set()
        self._dialects: dict[str, Dialect | None] = {}
        self.shapes: dict[str, ShapeStats] = {}  # read shapes, by shape, capped

    def parse(self, text: str, masked: str | None = None) -> Fields | None:
        """Fields of ``text``, or None when it holds no key-value pair; ``masked``: the
        text with every digit made 0 (``mask_digits``), when the caller has it."""
        if len(text) > PARSE_LIMIT:
            text = _shortened(text)
            self.limits.long_lines += 1
            masked = None
        if masked is None:
            masked = text.translate(grammar.DIGITS)
        fast = self._fast.get(masked)
        key, ids = masked, 0
        if fast is None:
            key, ids = MASK.subn(ID, masked)
            fast = self._fast.get(key) if ids else None
        if fast is not None:
            match = fast[0].fullmatch(text)
            if match is not None:
                if fast[2] is not None:
                    fast[2].count += 1
                    self.sightings += 1
                return self._use(fast[1], list(match.groups()), text)
        return self._slow(text, key, MASK.sub(ID, text) if ids else text)

    def _slow(self, text: str, key: str, view: str) -> Fields | None:
        """Tokenise ``view`` (``text`` with its ids masked) and plan its shape."""
        gained = 1
        if self.line is not None:
            gained, self._credited = max(0, self.line - self._credited), self.line
        self._credit = min(_CREDIT, self._credit + gained / _REFILL)
        parts = grammar.NUMBER_RE.split(view, NUMBERS_KEPT)  # text, number, ..., text
        if len(parts) == 1:
            return None
        capped = len(parts) > 2 * NUMBERS_KEPT and bool(grammar.NUMBER_RE.search(parts[-1]))
        if capped:
            parts[-1] = ""  # numbers past the cap and everything after them
            self.limits.many_numbers += 1
        tokens = parts[1::2]  # the number part of each token, without its unit
        shape = grammar.HOLE.join(parts[0::2])
        plan = self._plan_for(shape, text, key, tokens)
        if plan is _SKIPPED:
            return None
        stats = self._stats(shape, plan, text)
        if stats is not None:
            stats.count += 1
            self.sightings += 1
        if not capped and len(view) <= _FAST_TEXT:
            self._learn(key, view, plan, stats)
        return self._use(plan, tokens, text)

    def _learn(self, key: str, view: str, plan: _Plan | None, stats: ShapeStats | None) -> None:
        """Compile a fast reader for a layout seen ``_COMPILE_AFTER`` times: one seen
        once or twice (free text) would cost a compile and never pay it back."""
        if key in self._fast:
            return
        seen = hash(key)
        count = self._seen.get(seen, 0) + 1
        if count < _COMPILE_AFTER:
            if len(self._seen) >= _SEEN_KEPT:
                self._seen.clear()
            self._seen[seen] = count
            return
        self._seen.pop(seen, None)
        if len(self._fast) >= _FAST_KEPT:
            for old in list(islice(self._fast, _FAST_KEPT // 4)):  # the oldest quarter
                del self._fast[old]
            self.evictions += 1
        self._fast[key] = (_anchored(view), plan, stats)

    def _plan_for(self, shape: str, text: str, key: str, tokens: list[str]) -> _Plan | None:
        """The plan of a shape: cached, else made from its scan (cached by the shape
        without digits, as the grammar reads every digit alike), else ``_SKIPPED``."""
        if shape in self._plans:
            self._plans.move_to_end(shape)
            return self._plans[shape]
        # (A tutorial's progress line is told by its units: the shape has none.)
        progress = _PROGRESS_LOSS.fullmatch(key) if "%" in key else None
        prepared = _prepare(shape) if progress is None else _progress_loss(progress)
        digitless = prepared.translate(grammar.DIGITS)
        pairs = self._scans.get(digitless)
        if pairs is not None:
            self._scans.move_to_end(digitless)
        elif self._afford(digitless):
            pairs = _scan(digitless)
            _keep(self._scans, digitless, pairs, _SCANS_KEPT)
        else:
            self.limits.rare_shapes += 1
            return _SKIPPED
        plan = self._plan(prepared, pairs, text, key, tokens)
        _keep(self._plans, shape, plan, _PLANS_KEPT)
        return plan

    def _recognise(self, key: str) -> Dialect | None:
        """The dialect of a line, by its layout ``key``: signatures read digits alike."""
        if key not in self._dialects:
            if len(self._dialects) >= _KEYS_KEPT:
                self._dialects.clear()
            self._dialects[key] = recognise(key)
        return self._dialects[key]

    def _afford(self, digitless: str) -> bool:
        """Whether a new shape may be scanned now: a credit is spent per scan (more for a
        long shape) and one comes back every ``_REFILL`` lines; a shape seen before but
        not scanned may borrow ahead, since a shape that repeats is worth learning."""
        cost = 1 + len(digitless) // 1024
        seen = hash(digitless)
        if self._credit >= cost or (seen in self._unlearned and self._credit > -_RESERVE):
            self._credit -= cost
            self._unlearned.discard(seen)
            return True
        if len(self._unlearned) >= _SEEN_KEPT:
            self._unlearned.clear()
        self._unlearned.add(seen)
        return False

    def _stats(self, shape: str, plan: _Plan | None, text: str) -> ShapeStats | None:
        if plan is None:
            return None
        stats = self.shapes.get(shape)
        if stats is None and len(self.shapes) < _STATS_KEPT and len(shape) <= _SHAPE_TEXT:
            dialect = plan.dialect or self.dialect
            names = tuple(
                (slot.key, dialect.renames.get(slot.key, slot.canonical)) for slot in plan.slots
            )
            shown = shape.replace(grammar.HOLE, "#").replace(ID, "<id>")
            stats = ShapeStats(shown, text[:200], names, dialect.name)
            self.shapes[shape] = stats
        return stats

    def _use(self, plan: _Plan | None, tokens: list[str], text: str) -> Fields | None:
        if plan is None:
            return None
        self.adopt(plan.dialect)
        return self._read(plan, tokens, text)

    def adopt(self, dialect: Dialect | None) -> None:
        """A line showed ``dialect``'s signature: it becomes the document's dialect,
        unless that is a framework and this only a generic shape."""
        if dialect is not None and (self.dialect.generic or not dialect.generic):
            self.dialect = dialect

    def _plan(
        self, shape: str, scan: tuple[_Pair, ...], text: str, key: str, tokens: list[str]
    ) -> _Plan | None:
        """Read the pairs a scan found in ``shape`` (prepared): keys to names, slots
        (``tokens``: the numbers of the line the shape was first seen in)."""
        pairs: list[_Slot] = []
        covered: set[int] = set()
        first = len(shape)
        trusted = False  # prose like "on 8 GPUs" is not a metric line
        lowered = text.lower()
        # A line about gradients: a bare ``norm`` on it is their norm; on a training
        # step's line (a loss and its learning rate or step), only a norm of nothing
        # named, the one the loop clipped (Karpathy's build-nanogpt: ``step 10 | loss:
        # 3.97 | lr 6.0e-04 | norm: 6.54 | dt: ..``), not ``emb_norm``.
        grad = "grad" in lowered
        stepped = not grad and "loss" in lowered and _STEP_LINE.search(lowered) is not None
        # (After the step it opens with: ``step 400, valid loss: ..``, ``[400/9000] valid ..``.)
        opened = _OPENING_STEP.sub("", shape, count=1)
        val_line = bool(
            families.VAL_LINE.match(opened)
            or _EVALUATED_DICT.search(shape)
            or (("=" in shape or ":" in shape) and _EVALUATED_KEY.search(shape))
            or ("* " in shape and _TOP_K_SUMMARY.search(shape, 0, 48) is not None)
        )
        val_from = len(shape) - len(opened)  # (where the evaluation's pairs begin)
        if (
            not val_line
            and ("(" in shape or "]:" in shape)
            and (marked := _PAREN_SECTION.search(shape))
        ):
            # An evaluation's word in parentheses (``Epoch 3 (val): loss ..``, GGNN's
            # ``Running epoch 63 (validation), batch 1 ..``), or in brackets before a
            # colon (``Epoch 3 [valid]: ..``): the pairs after it are its.
            val_line, val_from = True, marked.end()
        # Sections inside the line (icefall's ``Epoch 2, validation: loss=0.88``, ESPnet2's
        # ``[train] loss=1.3, .. [valid] loss=0.66``): a pair is the last one's before it.
        # (A section's counter, ``Validation Step [1/157]``, is the section's too: its
        # name begins with the word.)
        axes = list(_SECTION_AXIS.finditer(shape))
        sections = sorted(
            [
                (m.start(), (m["word"] or m["grouped"]).lower() not in TRAIN_WORDS)
                for pattern in (_SECTION, _SECTION_CELL)
                for m in pattern.finditer(shape)
            ]
            + [(m.start() - 1, m["word"].lower() not in TRAIN_WORDS) for m in axes]
        )
        # Where a section's own counter is named: the key opens with the section's word
        # (``Validation iteration``) or follows it.
        own_counts = {
            at
            for m in axes
            if m["word"].lower() not in TRAIN_WORDS
            for at in (m.start(), len(shape) - len(shape[m.end() :].lstrip()))
        }
        best = _BEST_SECTION.search(shape) if "est" in shape or "inal" in lowered else None
        bests = best.start() if best is not None else len(shape)
        fractions = []
        told = False  # a step named by a sentence's last word
        counted: set[str] = set()  # step keys printed as ``i/N`` (``batch=10/2000``)
        holes = [match.start() for match in _HOLES.finditer(shape)]
        first_key = min((found.start for found in scan), default=-1)
        for found in scan:
            if found.total >= 0:
                covered.add(found.total)
            if found.length > _KEY_LIMIT or found.start >= bests:
                continue  # no metric has such a name; a running best's
            if shape.startswith(_CLOCK, holes[found.value] + 1):
                continue  # a time of day or a duration (``training takes 0:10:14``)
            start = found.start + found.quoted
            if _unit(shape, start, start + found.length):
                continue  # a number's unit (Keras's ``712ms/epoch``), not a name
            val = val_line and found.start >= val_from  # (not its step)
            for at, evaluated in sections:
                if at >= found.start:
                    break
                val = evaluated
            printed = shape[start : start + found.length]
            if found.total >= 0 and "/" in printed:
                # Two names over a value and its total (ms-swift's ``'global_step/max_steps':
                # '5/400'``): the first names the value.
                printed = printed.split("/", 1)[0]
            read = self._named(
                printed, found.sep, grad or (stepped and _unnamed_norm(printed)), val
            )
            if (
                read is not None
                and found.total >= 0
                and read[1] not in _AXES
                and normalise(printed) in _INDEX_NAMES
                and _whole(tokens, found.value)
            ):
                # An index's name counting to a total (torch-rnn's ``Epoch 5.32 / 50, i =
                # 1733 / 20050, loss = 36.84``): the step, out of the run's.
                read = (read[0], STEP, True)
            elif read is not None and found.total >= 0 and read[0] in _SECTION_WORDS:
                # A section's word counting ``i/N`` is no metric (Swin's ``Train: [3/300]
                # [100/1251]``): a training line's epoch, an evaluation's batch counter.
                read = (read[0], EPOCH, True) if read[0] in TRAIN_WORDS else None
            elif (
                read is not None
                and read[0] in _SECTION_WORDS
                and not found.sep
                and found.total < 0
                and found.start == first_key
                and _whole(tokens, found.value)
                and _COMMA_AFTER.match(shape, holes[found.value] + 1)
            ):
                # A section's word opening the line with a bare whole number, then a comma
                # (DGCNN's ``Train 57, loss: 1.213, train acc: ..`` and ``Test 57, ..``):
                # the epoch the section ran at, no metric.
                read = (read[0], EPOCH, True)
            elif (
                read is not None
                and read[0] in _SECTION_WORDS
                and _SECTION_EPOCH.match(shape, holes[found.value] + 1)
            ):
                # ``val: [5][0/5000]``: the section's epoch, then its batch of the epoch (a
                # step for training; an evaluation's own count, no step, for the others).
                if read[0] not in TRAIN_WORDS:
                    covered.update((found.value + 1, found.value + 2))
                read = (read[0], EPOCH, True)
            elif (
                read is not None
                and val
                and read[1] == STEP
                and (
                    read[0] in _COUNTED_AXES
                    or found.total >= 0
                    or (found.start in own_counts and not found.sep)
                )
            ):
                # An evaluation's ``Steps: 181``, Composer's ``[Eval batch=79/79]``, its
                # word's own counter printed without a separator (pytorch-3dunet's
                # ``Validation iteration 7``, from 0 at each evaluation; ``eval step=40``
                # names the training step it ran at): its own count, not the step.
                read = None
            if (
                read is None
                or (read[1] == STEP and _fraction(tokens, found.value))
                or (read[1] in _AXES and _METER.match(shape, holes[found.value] + 1))
                or (read[1] in _AXES and _listed(shape, holes[found.value]))
            ):
                # (A step's word before a number with a fraction is no step: semseg's
                # AverageMeter ``Batch 0.698 (0.693)``, a batch's time; nor one with its
                # running mean after it, FFJORD's ``Steps 32(31.82)``, the solver's steps
                # beside ``Iter 20``: a counter has no mean; fairseq's
                # ``"update": 2.1``, the epoch's progress. Nor is an axis's list of
                # numbers: pytorch-YOLOv4's milestones ``Steps: [400000, 450000]``.)
                continue
            first = min(first, found.start)
            trusted = trusted or found.sep or read[2]
            if read[1] == STEP and " " in printed.strip():
                told = told or normalise(printed) != read[0]  # (the sentence's last word)
            at = found.value
            if shape[: holes[at]].rstrip().endswith("["):
                at = self._latest(shape, holes, at)
            pairs.append(_Slot(read[0], read[1], at))
            covered.update((found.value, at))
            if found.total >= 0 and read[1] == STEP:
                counted.add(read[0])
            if (
                found.total >= 0
                and families.family(read[1]) in (ACC, VAL_ACC)
                and _whole(tokens, found.value)
                and _whole(tokens, found.total)
            ):
                # ``Acc: 9500/10000``: the share right of all; ``Acc: 0.812/0.789``
                # prints two accuracies, not counts (the first is the value).
                fractions.append((read[0], read[1], found.total))
        if not pairs or not trusted:
            return None
        values = [slot for slot in pairs if slot.canonical not in _AXES]
        if values and all(_BEST.intersection(families.words(slot.key)) for slot in values):
            # ``best mean dice: 0.37 at epoch: 2``: running bests only, and the step or
            # epoch the best was reached at, not the one the log is at.
            return None
        dialect = self._recognise(key)
        totals = {found.total for found in scan if found.total >= 0}
        pairs = _one_step(pairs, totals)
        slots = self._capped(self._plainest(pairs), (dialect or self.dialect).renames)
        named = {slot.canonical: slot.index for slot in slots}
        if STEP not in named:
            # A counter is whole and bare: not ``278.91 iters/sec``, nor TF.js's ``229ms
            # 72us/step`` (durations).
            # (and so is one after the epoch: ``Epoch 0 [60.4s]:`` is the epoch's time)
            bare = [
                number.group("num").isdigit() and number.end() == number.end("num")
                for number in grammar.NUMBER_RE.finditer(text)
            ]
            whole = bare[:1] == [True]
            prefix = shape[:first] if whole else ""
            if whole and bare[1:2] == [False] and prefix.count(grammar.HOLE) == 2:
                prefix = prefix[: prefix.index(grammar.HOLE) + 1]  # (``[100] 2.3s ..``)
            slots += [
                slot
                for slot in _counters(prefix, holes, covered, shape, named.get(EPOCH), totals)
                if slot.key != COUNTER or slot.index >= len(bare) or bare[slot.index]
            ]
            if (
                EPOCH in named
                and not _whole(tokens, named[EPOCH])
                and _OPENING_FRACTION.match(shape)
            ):
                # char-rnn's ``2460/21150 (epoch 5.816), train_loss = ..``: beside the
                # fraction of the data seen, the count of all steps the line opens with.
                slots = [slot for slot in slots if slot.canonical != STEP]
                slots.append(_Slot(COUNTER, STEP, 0))
            elif (
                EPOCH in named
                and not val_line  # (an evaluation's bar counts its own batches)
                and not any(slot.canonical == STEP for slot in slots)
                and _whole(tokens, named[EPOCH])
                and (batch := _bar_count(shape)) is not None
                and batch > named[EPOCH]  # (HF's bar before its dict counts the whole run)
            ):
                # A tqdm bar's ``n/N`` after a description that names the epoch (VQ-VAE-2's
                # ``epoch: 1; mse: 0.09; ..:  1%|▏| 1/79 [..]``): the epoch's batch,
                # counted globally as epoch x N + n, as ``Epoch [2/20] Step [100/600]`` is.
                slots.append(_Slot(IN_EPOCH, STEP, batch))
        elif EPOCH in named and named[STEP] + 1 in totals and _whole(tokens, named[EPOCH]):
            # ``Epoch [2/20] Step [100/600]``: a step printed with its total beside the
            # epoch counts the epoch's batches (it starts again each epoch), counted
            # globally as epoch x N + i, as an unnamed ``i/N`` after the epoch is.
            slots = [
                _Slot(IN_EPOCH, STEP, slot.index) if slot.canonical == STEP else slot
                for slot in slots
            ]
        is_dict = bool(grammar.DICT_OPEN.search(shape))
        count = None
        counters = {STEP, EPOCH}.intersection(slot.canonical for slot in slots)
        if not counters and _LOOP_COUNT.match(shape) and not {0, 1} & covered:
            count = 0  # (the line's first number and its second)
        elif not counters and "[" in shape and (bracket := _BRACKETED_LOOP.search(shape)):
            # A loop's ``[i/N]`` after the values (the PyTorch quickstart's ``loss: 2.30
            # [ 6464/60000]``, torcheeg's ``loss: 0.72 [   47/  233] Accuracy: 63.4``).
            at = shape.count(grammar.HOLE, 0, bracket.start())
            count = at if not {at, at + 1} & covered else None
        told = told and {slot.canonical for slot in slots} == {STEP}
        return _Plan(
            tuple(slots), dialect, is_dict, tuple(fractions), count, frozenset(counted), told
        )

    def _latest(self, shape: str, holes: list[int], at: int) -> int:
        """The number a name opening a list of numbers in brackets reads: the first, or
        the last when the list has grown since its line was printed before. A history
        printed whole every epoch (``Validation losses: [0.91, 0.84, 0.80]``, one value
        more each time) ends in the latest value; a list that keeps its length (a value
        per head, class or parameter group) is read by its first, as before."""
        lists = list(_LIST_BODY.finditer(shape))
        place = next((n for n, m in enumerate(lists) if m.start() < holes[at] < m.end()), None)
        if place is None:
            return at  # (no list: ``[3/100] loss ..`` is a count, ``[0.5 0.3 ..`` unread)
        key = (_LIST_BODY.sub("[]", shape), place)
        length, before = lists[place][0].count(grammar.HOLE), self._lists.get(key)
        grown = before is not None and (before < 0 or length > before)
        _keep(self._lists, key, -1 if grown else length, _PLANS_KEPT)
        return at + length - 1 if grown else at

    def _named(
        self, printed: str, sep: bool, grad: bool, val_line: bool
    ) -> tuple[str, str, bool] | None:
        """A printed key's normalised key, canonical name and whether the name is known;
        None for a key that names no metric. Cached: every line of a shape that differs
        only in one name (``layer_7_loss``) reads the others again."""
        cache_key = (printed, sep, grad, val_line)
        if cache_key in self._keys:
            return self._keys[cache_key]
        key = self._key(printed, sep, grad)
        snake = normalise(key)
        named = None
        if (
            snake
            and snake not in IGNORED
            and snake not in _FUNCTION_WORDS
            and not ("." in snake and _SOURCE_FILE.search(snake))
        ):
            named = (snake, self._name(snake, val_line, grad), self._known(key, grad))
        if len(self._keys) >= _KEYS_KEPT:
            self._keys.clear()  # cheap to fill again: a dict lookup per key
        self._keys[cache_key] = named
        return named

    def _plainest(self, slots: list[_Slot]) -> list[_Slot]:
        """The slots of a line, where two spell one metric (AllenNLP's ``batch_loss: 0.72,
        loss: 0.66``) the plainer spelling (``NameTable.rank``) named so and the other kept
        under its own name: a series of its own, not a value the line's metric drops."""
        spelled: dict[str, list[_Slot]] = {}
        for slot in slots:
            if slot.canonical not in _AXES:
                spelled.setdefault(slot.canonical, []).append(slot)
        if all(len(alike) == 1 for alike in spelled.values()):
            return slots
        renamed: dict[int, _Slot] = {}
        for alike in spelled.values():
            plainest = min(alike, key=lambda slot: self.names.rank(slot.key))
            for slot in alike:
                if slot.key != plainest.key:
                    renamed[id(slot)] = _Slot(slot.key, slot.key, slot.index)
        return [renamed.get(id(slot), slot) for slot in slots]

    def _capped(self, slots: list[_Slot], renames: dict[str, str]) -> list[_Slot]:
        """Slots whose series is kept: a run's first ``NAMES_KEPT`` metric names (the
        canonical ones, step and epoch always), so one new name per line stays bounded."""
        kept = []
        for slot in slots:
            name = renames.get(slot.key, slot.canonical)
            if name not in self._names and name not in _ALWAYS:
                if len(self._names) >= NAMES_KEPT:
                    self.limits.names_dropped += 1
                    continue
                self._names.add(name)
            kept.append(slot)
        return kept

    def _name(self, snake: str, val_line: bool, grad: bool) -> str:
        if self.names.known(snake) and not val_line:
            return self.names.canonical(snake)
        return self.names.canonical(families.in_context(snake, val_line, grad))

    def _known(self, key: str, grad: bool) -> bool:
        snake = normalise(key)
        return (
            self.names.known(key)
            or families.member(snake, grad)
            or families.trained_stand_in(snake)
            or (" " not in key.strip() and families.loss_term(snake))  # (one identifier)
        )

    def _key(self, key: str, sep: bool, grad: bool = False) -> str:
        """The key of a pair: a known multi-word name, else its last word if that is known.

        ``train loss 3.81`` is a known name; in ``Starting training on 8 GPUs`` only the last
        word could name the number, so prose does not become a metric name. With ``:`` or
        ``=`` (``sep``) an unknown multi-word name is kept whole (``consumed samples: 614400``).
        A sentence's end in it ends what came before (ML-Agents' ``Time Elapsed: 64.5 s.
        Mean Reward: 0.5``: the name is ``Mean Reward``), but an abbreviation's period
        (``Val. Loss``, ``(i.e. iters)``) ends none.
        """
        if " " not in key.strip():
            return key
        if ". " in key:
            head, _, tail = key.rpartition(". ")
            last = (head.split() or [""])[-1]
            if tail[:1].isupper() and last.isalpha() and last.lower() not in _ABBREVIATED:
                key = tail
        if self._known(key, grad) or families.ratio(normalise(key)):
            return key
        *before, last = key.split()
        if sep and not self._known(last, grad):
            return key  # ``consumed samples: 614400``
        if last.lower() == "scale" and not _SCALED.issuperset(map(str.lower, before)):
            return key  # OpenCLIP's ``Logit Scale: 100.0`` is no loss scale
        lowered = [word.lower() for word in before]
        if self.names.canonical(last) in _AXES and (
            _COUNTING.intersection(lowered) or families.timed(lowered)
        ):
            # ``Total optimization steps = 720``, ``Number of epochs: 3``, ``steps per
            # epoch: 469``: a count or a setting of the axis, printed with the settings,
            # not the step or epoch the lines after it belong to; pylearn2's ``Time this
            # epoch: 12.86 seconds``, a duration.
            return key
        if _BEST.intersection(lowered):
            return key  # a running best's name (``Best loss: 0.0616``), not the loss's
        if families.timed(lowered[-1:]):
            return key  # Qlib's ``Time cost: 4.087s``: how long it took, not a loss
        if last.lower() in _COUNTED_AXES and _SPANS.intersection(lowered):
            # Poutyne's ``Train steps: 1875 Val steps: 313``: how many steps each section
            # took, not the step the line is at (``Train step: 100`` is); keras-rl's
            # ``episode steps: 12``, the length of an episode (of an epoch, a rollout).
            return key
        if last.startswith("(") and before:
            # A word in parentheses qualifies the name before it (Pytorch-UNet's tqdm
            # ``loss (batch)=0.52``: the loss, of one batch), and is no name of its own.
            return self._key(" ".join(before), sep, grad)
        if lowered and lowered[-1] in _SECTION_WORDS and self.names.canonical(last) not in _AXES:
            return f"{before[-1]} {last}"  # a section's word names whose it is: ``val ppl``
        return last  # ``eval  val_loss=1.2`` names val_loss

    def _read(self, plan: _Plan, tokens: list[str], text: str) -> Fields | None:
        dialect = plan.dialect or self.dialect
        first = self.first_epoch
        roles = plan_roles(plan, dialect, first or 0)
        if first is None and roles.total is not None and roles.epoch is not None:
            roles = plan_roles(plan, dialect, self._epochs_from(tokens[roles.epoch]))
        metrics, step, epoch, batch = read_roles(roles, tokens)
        for key, canonical, total in plan.fractions:
            name = dialect.renames.get(key, canonical)
            whole = to_float(tokens[total]) if total < len(tokens) else 0.0
            if name in metrics and whole > 0:
                metrics[name] /= whole  # (``compile_shape`` leaves such a shape to this)
        if epoch is not None and not math.isfinite(epoch):
            epoch = None
        fields = LineFields(metrics, step, epoch, marker=not (plan.is_dict and step is None))
        fields.batch = batch
        if dialect.adjust is not None and not dialect.adjust(fields, text):
            return None
        if fields.batch is not None:
            assert fields.step is not None
            fields.step = self.batch_step(fields.step, fields.epoch, fields.batch)
        name = dialect.name
        if (
            name == GENERIC.name
            and fields.epoch is not None
            and fields.step is None
            and (not fields.metrics)
        ):
            name = "epoch_block"
        count = None
        if plan.count is not None and fields.step is None and fields.epoch is None:
            count = (to_float(tokens[plan.count]), to_float(tokens[plan.count + 1]))
        return Fields(
            fields.metrics,
            fields.step,
            fields.epoch,
            name,
            fields.marker,
            bits=fields.bits,
            count=count,
            told=plan.told,
        )

    def _epochs_from(self, printed: str) -> int:
        """The number of a log's first epoch (``first_epoch``), for steps counted within
        the epoch (``Epoch [1/5], Step [100/600]``: the step is (epoch - first) x 600 +
        100): 0 when the first such line prints epoch 0, else 1 (a log printing ``Epoch
        [1/5]`` first counts from 1; one resumed at epoch 7 keeps its place in the run).
        Decided by the first such line (``printed``: its epoch), kept for the whole log."""
        try:
            value = to_float(printed)
        except ValueError:
            return 0
        if math.isfinite(value):
            self.first_epoch = 0 if value == 0 else 1
        return self.first_epoch or 0

    def count_batches(self, batch: tuple[float, float, int]) -> None:
        """Note a step counted within its epoch: its batches per epoch and first epoch,
        and whether batches count from 0 or 1 (a bounded tally)."""
        index, total, first = batch
        key = (total, first)
        if key in self.batches or len(self.batches) < _BATCH_KINDS:
            self.batches[key] = self.batches.get(key, 0) + 1
        if index < self.first_batch:
            self.first_batch = index

    def batch_step(
        self, step: float, epoch: float | None, batch: tuple[float, float, int]
    ) -> float:
        """The step of a line whose ``i/N`` beside the epoch was taken as counted within
        the epoch (``step``: made global as (epoch - first) x N + i): ``i`` itself once
        the count went on over a change of epoch, as a count of the whole run's steps does
        (accelerate's ``epoch 1 | step 760/1506``, after ``epoch 0 | step 750/1506``).
        One that starts again each epoch (``Epoch [2/20], Step [100/600]``) stays so. The
        line's batch is counted too (``count_batches``)."""
        self.count_batches(batch)
        index, total, _ = batch
        if total in self.whole_run_totals:
            return index
        last = self._batch_at
        self.batch_at(epoch, index, total)
        if last is None or epoch is None or not (epoch > last[0] and total == last[2]):
            return step
        if index > last[1] and len(self.whole_run_totals) < _BATCH_KINDS:
            self.whole_run_totals.add(total)
            return index
        return step

    def batch_at(self, epoch: float | None, index: float, total: float) -> None:
        """Note the last of many lines read at once (``batch_step``'s last line)."""
        self._batch_at = (math.nan if epoch is None else float(epoch), float(index), float(total))

    def count_many(self, indices: np.ndarray, totals: np.ndarray, first: int) -> None:
        """``count_batches`` of many lines at once: their batches and batches per epoch."""
        if not (np.isfinite(indices).all() and np.isfinite(totals).all()):
            for index, total in zip(indices.tolist(), totals.tolist(), strict=True):
                self.count_batches((index, total, first))
            return
        if len(totals) and (totals == totals[0]).all():  # one count of batches, as nearly always
            tallies = [(float(totals[0]), len(totals))]
        else:
            kinds, where, counts = np.unique(totals, return_index=True, return_counts=True)
            order = np.argsort(where, kind="stable")  # as first seen, as one by one
            tallies = list(zip(kinds[order].tolist(), counts[order].tolist(), strict=True))
        for total, count in tallies:
            key = (total, first)
            if key in self.batches or len(self.batches) < _BATCH_KINDS:
                self.batches[key] = self.batches.get(key, 0) + count
        self.first_batch = min(self.first_batch, float(indices.min()))

    def compiled(self, text: str, masked: str) -> Compiled | bool:
        """How to read every text that masks to ``masked`` (``text`` is one) in a few
        steps, when that is exactly what ``parse`` would do (``compiled.compile_shape``).
        False when the shape needs the general way; True when it is not learned yet (ask
        again later)."""
        fast = self._fast.get(masked)
        if fast is None:
            key, ids = MASK.subn(ID, masked)
            fast = self._fast.get(key) if ids else None
        if fast is None:
            return True
        pattern, plan, stats = fast
        if plan is None or pattern.fullmatch(text) is None:
            return False
        if any(slot.canonical in RANKS for slot in plan.slots):
            return False  # ranks share the shape, and one is read (``LogReader._assemble``)
        dialect = plan.dialect or self.dialect
        shape = compile_shape(pattern, plan, dialect, text, stats, self.first_epoch or 0)
        return False if shape is None else replace(shape, evictions=self.evictions)
