"""One cleaned line -> the metric fields it holds, parsing each line shape only once."""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass, field

import pyparsing as pp

from gradlog.parse import grammar
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

    @property
    def is_header(self) -> bool:
        """A line that only names a step or epoch (``Epoch 9/50``) and opens a block."""
        return not self.metrics and (self.step is not None or self.epoch is not None)


@dataclass(frozen=True)
class _Slot:
    key: str  # normalised printed key
    canonical: str  # canonical name by the shared table (a dialect may rename it)
    index: int  # which number token of the line holds the value


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


_NUMBER_CORE = r"[-+]?(?:[\d.]+(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?)(?:\.0)?)"


def to_float(token: str) -> float:
    """Read a number token, ignoring a stuck unit: ``nan.0``, ``-infxx``, ``4.2ms`` -> float."""
    try:
        return float(token)
    except ValueError:
        pass
    match = grammar.NUMBER_RE.fullmatch(token)
    text = match.group("num") if match else token
    if "n" in text or "N" in text:
        text = text.lower().removesuffix(".0")
    return float(text)


class LineParser:
    """Parses lines into ``Fields``; the pyparsing grammar runs once per line shape."""

    def __init__(self, names: NameTable | None = None) -> None:
        self.names = names or NameTable()
        self.dialect: Dialect = GENERIC  # the document's dialect so far
        self._plans: dict[str, _Plan | None] = {}
        # Lines with the same characters but for their digits have the same shape: a
        # regex anchored on that text reads their numbers far faster than tokenising.
        self._fast: dict[str, tuple[re.Pattern[str], _Plan | None]] = {}

    def parse(self, text: str) -> Fields | None:
        """Fields of ``text``, or None when it holds no key-value pair."""
        masked = text.translate(_DIGITS)
        fast = self._fast.get(masked)
        if fast is not None:
            match = fast[0].fullmatch(text)
            if match is not None:
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
        if len(self._fast) >= _CACHE_LIMIT:
            self._fast.clear()
        self._fast[masked] = (_anchored(text), plan)
        return self._use(plan, tokens, text)

    def _use(self, plan: _Plan | None, tokens: list[str], text: str) -> Fields | None:
        if plan is None:
            return None
        if plan.dialect is not None and (self.dialect.generic or not plan.dialect.generic):
            self.dialect = plan.dialect
        return self._read(plan, tokens, text)

    def _plan(self, shape: str, text: str) -> _Plan | None:
        holes = [i for i, ch in enumerate(shape) if ch == grammar.HOLE]
        slots: list[_Slot] = []
        trusted = False  # prose like "on 8 GPUs" is not a metric line
        for tokens, _start, _end in grammar.pair.scan_string(shape):
            found = tokens[0]
            key = self._key(found)
            snake = normalise(key)
            if not snake or snake in IGNORED:
                continue
            trusted = trusted or "sep" in found or self.names.known(key)
            slots.append(
                _Slot(snake, self.names.canonical(key), bisect_left(holes, found["value"]))
            )
        if not slots or not trusted:
            return None
        is_dict = bool(grammar.dict_open.search_string(shape, max_matches=1))
        return _Plan(tuple(slots), recognise(text), is_dict)

    def _key(self, found: pp.ParseResults) -> str:
        """The key of a pair: a known multi-word name, else its last word if that is known.

        ``train loss 3.81`` is a known name; in ``Starting training on 8 GPUs`` only the last
        word could name the number, so prose does not become a metric name. With ``:`` or
        ``=`` an unknown multi-word name is kept whole (``consumed samples: 614400``).
        """
        key: str = found["key"]
        if " " not in key.strip() or self.names.known(key):
            return key
        last = key.split()[-1]
        if "sep" in found and not self.names.known(last):
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
        return Fields(fields.metrics, fields.step, fields.epoch, name, fields.marker)
