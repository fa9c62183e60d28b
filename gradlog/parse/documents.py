"""Whole JSON documents, such as HF's ``trainer_state.json``: read at once, not by line.

Python's json module accepts the bare ``NaN`` and ``Infinity`` these files contain.
An input is a document only when it is one JSON value from start to end, in any layout
(pretty-printed, minified on one line, with a BOM or CRLF line ends); ``nesting`` lets
the reader tell, line by line, when the value closes or that the text cannot be JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gradlog.parse.names import EPOCH, STEP, NameTable

_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "total_flos")
# One token of a line of JSON: a string (JSON strings never span lines), punctuation, a
# bare word (a number or a literal), or an unterminated string's lone quote.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s"{}\[\],:]+|"')
_BARE = re.compile(r"-?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|Infinity)|NaN|true|false|null")
_OPENS = {"{": 1, "[": 1, "}": -1, "]": -1}


def load(text: str) -> Any:
    """The JSON value of ``text``; ValueError when it is not one JSON value."""
    import json  # a log holds a JSON document now and then: not on every start

    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def nesting(line: str) -> int | None:
    """How many brackets ``line`` opens (or closes, negative) as a line of a JSON document;
    None when it cannot be one (a bare word, an unterminated string)."""
    depth = 0
    for match in _TOKEN.finditer(line):
        token = match.group()
        if token[0] == '"':
            if len(token) == 1:
                return None
        elif token in _OPENS:
            depth += _OPENS[token]
        elif token not in ",:" and not _BARE.fullmatch(token):
            return None
    return depth


def entries(data: Any) -> Iterator[tuple[dict[str, Any], int]]:
    """Metric entries of a parsed JSON document, each with its index."""
    if isinstance(data, dict):
        data = data.get("log_history", data.get("history", [data]))
    if not isinstance(data, list):
        return
    for index, entry in enumerate(data):
        if isinstance(entry, dict) and not any(key in entry for key in _SUMMARY_KEYS):
            yield entry, index


def metrics_of(
    entry: dict[str, Any], names: NameTable
) -> tuple[dict[str, float], float | None, float | None]:
    """Canonical numeric metrics of one entry, and its step and epoch if it has them."""
    metrics: dict[str, float] = {}
    step = epoch = None
    for key, raw in _flattened(entry):
        value = _number(raw)
        if value is None:
            continue
        name = names.canonical(key)
        if name == STEP:
            step = value
        elif name == EPOCH:
            epoch = value
        else:
            metrics.setdefault(name, value)
    return metrics, step, epoch


def _flattened(
    entry: dict[str, Any], within: str = "", depth: int = 0
) -> Iterator[tuple[str, Any]]:
    """An entry's keys and values, a nested dict's keys named after the key it is under
    (``{"val": {"loss": 0.6}}``: ``val_loss``), a few levels deep."""
    for key, raw in entry.items():
        name = f"{within}_{key}" if within else str(key)
        if isinstance(raw, dict):
            if depth < _NESTED_DEPTH:
                yield from _flattened(raw, name, depth + 1)
        else:
            yield name, raw


_NESTED_DEPTH = 3  # dicts in dicts read, below an entry


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            return None
    return None
