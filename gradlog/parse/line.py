"""One cleaned line -> the metric fields it holds, parsing each line shape only once."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field

import pyparsing as pp

from gradlog.parse import grammar
from gradlog.parse.names import EPOCH, STEP, NameTable

_CACHE_LIMIT = 4096  # line shapes kept; logs repeat a handful, free text makes many


@dataclass(frozen=True)
class Fields:
    """What one line says: metrics by canonical name and, if printed, its step and epoch."""

    metrics: dict[str, float] = field(default_factory=dict)
    step: float | None = None
    epoch: float | None = None
    dialect: str = "key_value"

    @property
    def is_header(self) -> bool:
        """A line that only names a step or epoch (``Epoch 9/50``) and opens a block."""
        return not self.metrics and (self.step is not None or self.epoch is not None)


@dataclass(frozen=True)
class _Plan:
    """How to read a shape: (canonical name, token index) pairs, first spelling wins."""

    slots: tuple[tuple[str, int], ...]
    dialect: str


def to_float(token: str) -> float:
    """Read a number token, ignoring a stuck unit: ``nan.0``, ``-infxx``, ``4.2ms`` -> float."""
    match = grammar.NUMBER_RE.fullmatch(token)
    text = match.group("num") if match else token
    lowered = text.lower().removesuffix(".0") if "n" in text.lower() else text
    return float(lowered)


class LineParser:
    """Parses lines into ``Fields``; the pyparsing grammar runs once per line shape."""

    def __init__(self, names: NameTable | None = None) -> None:
        self.names = names or NameTable()
        self._plans: dict[str, _Plan | None] = {}

    def parse(self, text: str) -> Fields | None:
        """Fields of ``text``, or None when it holds no key-value pair."""
        tokens: list[str] = []

        def hole(match: object) -> str:
            tokens.append(match.group(0))  # type: ignore[attr-defined]
            return grammar.HOLE

        shape = grammar.NUMBER_RE.sub(hole, text)
        if not tokens:
            return None
        plan = self._plans.get(shape)
        if plan is None and shape not in self._plans:
            if len(self._plans) >= _CACHE_LIMIT:
                self._plans.clear()
            plan = self._plans[shape] = self._plan(shape)
        if plan is None:
            return None
        return self._read(plan, tokens)

    def _plan(self, shape: str) -> _Plan | None:
        holes = [i for i, ch in enumerate(shape) if ch == grammar.HOLE]
        slots: list[tuple[str, int]] = []
        seen: set[str] = set()
        trusted = False  # prose like "on 8 GPUs" is not a metric line
        for tokens, _start, _end in grammar.pair.scan_string(shape):
            found = tokens[0]
            key = self._key(found)
            name = self.names.canonical(key)
            if not name or name in seen:
                continue
            trusted = trusted or "sep" in found or self.names.known(key)
            seen.add(name)
            slots.append((name, bisect_left(holes, found["value"])))
        if not slots or not trusted:
            return None
        dialect = (
            "python_dict" if grammar.dict_open.matches(shape, parse_all=False) else "key_value"
        )
        return _Plan(tuple(slots), dialect)

    def _key(self, found: pp.ParseResults) -> str:
        """The key of a pair; without ``:`` or ``=`` only a known multi-word name is a key.

        ``train loss 3.81`` is a known name, but in ``Starting training on 8 GPUs`` only the
        last word could name the number, so prose does not become a metric name.
        """
        key: str = found["key"]
        if "sep" in found or " " not in key.strip() or self.names.known(key):
            return key
        return key.split()[-1]

    def _read(self, plan: _Plan, tokens: list[str]) -> Fields:
        metrics: dict[str, float] = {}
        step = epoch = None
        for name, index in plan.slots:
            value = to_float(tokens[index])
            if name == STEP:
                step = value
            elif name == EPOCH:
                epoch = value
            else:
                metrics[name] = value
        if plan.dialect == "key_value" and epoch is not None and not metrics and step is None:
            return Fields(metrics, None, epoch, "epoch_block")
        if epoch is not None and not math.isfinite(epoch):
            epoch = None
        return Fields(metrics, step, epoch, plan.dialect)
