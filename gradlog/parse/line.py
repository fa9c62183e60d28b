"""One cleaned line -> the metric fields it holds, parsing each line shape only once."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass, field

import pyparsing as pp

from gradlog.parse import families, grammar
from gradlog.parse.dialects import GENERIC, Dialect, LineFields, recognise
from gradlog.parse.names import EPOCH, IGNORED, STEP, NameTable, normalise

_CACHE_LIMIT = 4096  # line shapes kept; logs repeat a handful, free text makes many
# When a line prints several step counters, the most specific one is the step:
# LitGPT's ``iter 320 step 80`` counts optimizer steps in ``step``.
_STEP_PRIORITY = (
    "global_step",
    "num_updates",
    "current_steps",
    "step",
    "steps",
    "train_step",
    "iteration",
    "iter",
    "s",
    "batch",
)


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
_LEADING = re.compile(r"[\s\[(#]*\x00[\])]?(?:[\s,|:\-\[(]*\x00[\])]?)?[\s,|:\-]*")
# ``i/N`` printed without a name (``Epoch  2, 52600/733817; acc: ..``): the step.
_FRACTION = re.compile(r"\x00\s*/\s*\x00")
# ``Score at iteration 10 is 0.69``: the value named before the step it belongs to.
_AT_STEP = re.compile(
    r"(?P<name>[A-Za-z][\w.\-]*(?: [A-Za-z][\w.\-]*){0,2}) (?:at|for|after|in|on) "
    r"(?P<axis>[A-Za-z]+) \x00,? (?:is|was|=|:) ?(?=\x00)"
)
COUNTER = "(counter)"  # the key of a step counter printed without a name
IN_EPOCH = "(i/N of epoch)"  # ``i/N`` after an epoch: the step is epoch * N + i
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


_DIGITS = str.maketrans("123456789", "000000000")


def _anchored(text: str) -> re.Pattern[str]:
    """A regex matching ``text`` with any digits, capturing each number as tokenised."""
    pattern, end = [], 0
    for match in grammar.NUMBER_RE.finditer(text):
        pattern.append(re.escape(text[end : match.start()]))
        pattern.append(f"({_NUMBER_CORE})")
        pattern.append(re.escape(match.group(0)[len(match.group("num")) :]))  # its unit
        end = match.end()
    pattern.append(re.escape(text[end:]))
    return re.compile("".join(pattern))


_NUMBER_CORE = (
    r"[-+]?(?:\d{1,3}(?:[,_]\d{3})+(?:\.\d+)?|\d\.#[A-Z]+\d*"
    r"|[\d.]+(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?)(?:\.0)?)"
)


def to_float(token: str) -> float:
    """Read a number token, ignoring a stuck unit: ``nan.0``, ``-infxx``, ``4.2ms``,
    ``1,000.5``, ``1.#QNAN`` -> float."""
    try:
        return float(token)
    except ValueError:
        pass
    match = grammar.NUMBER_RE.fullmatch(token)
    text = match.group("num") if match else token
    if "#" in text:  # MSVC: 1.#INF is infinite, 1.#IND / 1.#QNAN are NaN
        return math.copysign(math.inf, -1.0 if text.startswith("-") else 1.0) if (
            "INF" in text
        ) else math.nan
    if "," in text:
        text = text.replace(",", "")
    if "n" in text or "N" in text:
        text = text.lower().removesuffix(".0")
    return float(text)


def _counters(
    prefix: str, holes: list[int], covered: set[int], shape: str, epoch: int | None
) -> list[_Slot]:
    """Slots for step counters printed without a name: leading numbers, or an ``i/N``."""
    if prefix and _LEADING.fullmatch(prefix):
        count = prefix.count(grammar.HOLE)
        keys = (COUNTER,) if count == 1 else (EPOCH_COUNTER, COUNTER)
        return [
            _Slot(key, EPOCH if key == EPOCH_COUNTER else STEP, index)
            for index, key in enumerate(keys)
        ]
    if epoch is None:  # a bare ``i/N`` is a batch of the epoch printed just before it
        return []
    for match in _FRACTION.finditer(shape):
        index = bisect_left(holes, match.start())
        if index == epoch + 1 and index + 1 not in covered:
            return [_Slot(IN_EPOCH, STEP, index)]
    return []


def _total_after(plan: _Plan, tokens: list[str]) -> float:
    """The ``N`` of an ``i/N`` counter: the number token after the counter's."""
    index = next(slot.index for slot in plan.slots if slot.key == IN_EPOCH)
    return to_float(tokens[index + 1]) if index + 1 < len(tokens) else 0.0


class LineParser:
    """Parses lines into ``Fields``; the pyparsing grammar runs once per line shape."""

    def __init__(self, names: NameTable | None = None) -> None:
        self.names = names or NameTable()
        self.dialect: Dialect = GENERIC  # the document's dialect so far
        self._plans: dict[str, _Plan | None] = {}
        # Lines with the same characters but for their digits have the same shape: a
        # regex anchored on that text reads their numbers far faster than tokenising.
        self._fast: dict[str, tuple[re.Pattern[str], _Plan | None, ShapeStats | None]] = {}
        self.shapes: dict[str, ShapeStats] = {}  # read shapes, by shape, capped

    def parse(self, text: str) -> Fields | None:
        """Fields of ``text``, or None when it holds no key-value pair."""
        masked = text.translate(_DIGITS)
        fast = self._fast.get(masked)
        if fast is not None:
            match = fast[0].fullmatch(text)
            if match is not None:
                if fast[2] is not None:
                    fast[2].count += 1
                return self._use(fast[1], list(match.groups()), text)
        parts = grammar.NUMBER_RE.split(text)  # text, number, text, number, ..., text
        if len(parts) == 1:
            return None
        tokens = parts[1::2]  # the number part of each token, without its unit
        shape = grammar.HOLE.join(parts[0::2])
        if shape in self._plans:
            plan = self._plans[shape]
        else:
            if len(self._plans) >= _CACHE_LIMIT:
                self._plans.clear()
            plan = self._plans[shape] = self._plan(shape, text)
        stats = self._stats(shape, plan, text)
        if stats is not None:
            stats.count += 1
        if len(self._fast) >= _CACHE_LIMIT:
            self._fast.clear()
        self._fast[masked] = (_anchored(text), plan, stats)
        return self._use(plan, tokens, text)

    def _stats(self, shape: str, plan: _Plan | None, text: str) -> ShapeStats | None:
        if plan is None:
            return None
        stats = self.shapes.get(shape)
        if stats is None and len(self.shapes) < _CACHE_LIMIT:
            dialect = plan.dialect or self.dialect
            names = tuple(
                (slot.key, dialect.renames.get(slot.key, slot.canonical)) for slot in plan.slots
            )
            stats = ShapeStats(
                shape.replace(grammar.HOLE, "#"), text[:200], names, dialect.name
            )
            self.shapes[shape] = stats
        return stats

    def _use(self, plan: _Plan | None, tokens: list[str], text: str) -> Fields | None:
        if plan is None:
            return None
        if plan.dialect is not None and (self.dialect.generic or not plan.dialect.generic):
            self.dialect = plan.dialect
        return self._read(plan, tokens, text)

    def _plan(self, shape: str, text: str) -> _Plan | None:
        # pyparsing expands tabs, which would shift the positions of the holes.
        shape = shape.replace("\t", " ")
        if " at " in shape or " for " in shape or " after " in shape:
            shape = _AT_STEP.sub(lambda m: f"{m['axis']} {grammar.HOLE}, {m['name']}: ", shape)
        holes = [i for i, ch in enumerate(shape) if ch == grammar.HOLE]
        pairs: list[tuple[str, int]] = []
        covered: set[int] = set()
        first = len(shape)
        trusted = False  # prose like "on 8 GPUs" is not a metric line
        grad = "grad" in text.lower()
        for tokens, start, _end in grammar.pair.scan_string(shape):
            found = tokens[0]
            if "total" in found:
                covered.add(bisect_left(holes, found["total"]))
            key = self._key(found, grad)
            snake = normalise(key)
            if not snake or snake in IGNORED:
                continue
            first = min(first, start)
            trusted = trusted or "sep" in found or self._known(key, grad)
            pairs.append((snake, bisect_left(holes, found["value"])))
            covered.add(pairs[-1][1])
        if not pairs or not trusted:
            return None
        val_line = bool(families.VAL_LINE.match(shape))
        slots = [
            _Slot(snake, self._name(snake, val_line, grad), index)
            for snake, index in pairs
        ]
        named = {slot.canonical: slot.index for slot in slots}
        if STEP not in named:
            slots += _counters(shape[:first], holes, covered, shape, named.get(EPOCH))
        is_dict = bool(grammar.dict_open.search_string(shape, max_matches=1))
        return _Plan(tuple(slots), recognise(text), is_dict)

    def _name(self, snake: str, val_line: bool, grad: bool) -> str:
        if self.names.known(snake):
            return self.names.canonical(snake)
        return self.names.canonical(families.in_context(snake, val_line, grad))

    def _known(self, key: str, grad: bool) -> bool:
        return self.names.known(key) or families.member(normalise(key), grad)

    def _key(self, found: pp.ParseResults, grad: bool = False) -> str:
        """The key of a pair: a known multi-word name, else its last word if that is known.

        ``train loss 3.81`` is a known name; in ``Starting training on 8 GPUs`` only the last
        word could name the number, so prose does not become a metric name. With ``:`` or
        ``=`` an unknown multi-word name is kept whole (``consumed samples: 614400``).
        """
        key: str = found["key"]
        if " " not in key.strip() or self._known(key, grad):
            return key
        last = key.split()[-1]
        if "sep" in found and not self._known(last, grad):
            return key  # ``consumed samples: 614400``
        return last  # ``eval  val_loss=1.2`` names val_loss

    def _read(self, plan: _Plan, tokens: list[str], text: str) -> Fields | None:
        dialect = plan.dialect or self.dialect
        metrics: dict[str, float] = {}
        steps: dict[str, float] = {}
        epoch = None
        for slot in plan.slots:
            name = dialect.renames.get(slot.key, slot.canonical)
            value = to_float(tokens[slot.index])
            if name == STEP:
                steps.setdefault(slot.key, value)
            elif name == EPOCH:
                epoch = value if epoch is None else epoch
            else:
                metrics.setdefault(name, value)
        if IN_EPOCH in steps:  # a count within the epoch, made global so epochs stay apart
            steps[IN_EPOCH] = (epoch or 0.0) * _total_after(plan, tokens) + steps[IN_EPOCH]
        if "batch" in steps and epoch is None:  # ``batch=50`` alone is a batch size
            metrics.setdefault("batch", steps.pop("batch"))
        step = next((steps[k] for k in _STEP_PRIORITY if k in steps), None)
        if step is None and steps:
            step = next(iter(steps.values()))
        if epoch is not None and not math.isfinite(epoch):
            epoch = None
        fields = LineFields(metrics, step, epoch, marker=not (plan.is_dict and step is None))
        if dialect.adjust is not None and not dialect.adjust(fields, text):
            return None
        name = dialect.name
        if (
            name == GENERIC.name
            and fields.epoch is not None
            and fields.step is None
            and (not fields.metrics)
        ):
            name = "epoch_block"
        return Fields(
            fields.metrics, fields.step, fields.epoch, name, fields.marker, bits=fields.bits
        )
