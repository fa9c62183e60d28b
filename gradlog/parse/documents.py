"""Whole JSON documents, such as HF's ``trainer_state.json``: read at once, not by line.

Python's json module accepts the bare ``NaN`` and ``Infinity`` these files contain.
An input is a document only when it is one JSON value from start to end, in any layout
(pretty-printed, minified on one line, with a BOM or CRLF line ends); ``nesting`` lets
the reader tell, line by line, when the value closes or that the text cannot be JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gradlog import lazy
from gradlog.parse.names import EPOCH, STEP, NameTable

_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "total_flos")
# One token of a line of JSON: a string (JSON strings never span lines), punctuation, a
# bare word (a number or a literal), or an unterminated string's lone quote.
_TOKEN = lazy.regex(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s"{}\[\],:]+|"')
_BARE = lazy.regex(r"-?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|Infinity)|NaN|true|false|null")
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


# A log's events exported as one JSON value (CloudWatch's ``get-log-events``, ``gcloud
# logging read --format=json``, Kaggle's kernel output, journald's fields as an array):
# a list of objects, each holding a line of the log under one of these names (matched
# without case, at any depth: ``jsonPayload.message``), and maybe a time.
_TEXT_NAMES = frozenset(
    ("message", "msg", "log", "data", "text", "textpayload", "line", "body", "content")
)
_TIME_NAMES = frozenset(
    ("timestamp", "time", "ts", "@timestamp", "__realtime_timestamp", "datetime", "date")
)
_SAMPLED = 64  # events looked at to find where their text is


def event_texts(data: Any) -> list[tuple[int, str]] | None:
    """The text of each event of an export of a log's events (see ``_TEXT_NAMES``),
    oldest first, each with its index in the export; None when ``data`` is no such
    export (a document of metrics, such as ``trainer_state.json``)."""
    events = data
    if isinstance(data, dict):  # the list of events under a key (``{"events": [..]}``)
        lists = [value for value in data.values() if isinstance(value, list)]
        events = max(lists, key=len, default=None)
    if not isinstance(events, list) or not events:
        return None
    if not all(isinstance(event, dict) for event in events):
        return None
    text = _path(events, _TEXT_NAMES, str)
    if text is None:
        return None
    found = [(index, _at(event, text)) for index, event in enumerate(events)]
    texts = [(index, value) for index, value in found if isinstance(value, str)]
    if 2 * len(texts) < len(events):
        return None
    time = _path(events, _TIME_NAMES, (int, float, str))
    if time is not None:  # newest first (gcloud), or shuffled: put back in order
        times = [_at(events[index], time) for index, _ in texts]
        kinds = {type(value) for value in times}
        if len(kinds) == 1 and kinds <= {int, float, str}:
            order = sorted(range(len(texts)), key=times.__getitem__)
            texts = [texts[i] for i in order]
    return texts


def _path(events: list[dict[str, Any]], names: frozenset[str], kind: Any) -> tuple[str, ...] | None:
    """The path to a value of ``kind`` whose last key is one of ``names`` that most of
    the first events hold, if any holds one."""
    counts: dict[tuple[str, ...], int] = {}
    for event in events[:_SAMPLED]:
        for path, value in _leaves(event, ()):
            if path[-1].lower() in names and isinstance(value, kind):
                counts[path] = counts.get(path, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def _leaves(
    entry: dict[str, Any], within: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in entry.items():
        path = (*within, str(key))
        if isinstance(value, dict):
            if len(path) <= _NESTED_DEPTH:
                yield from _leaves(value, path)
        elif not isinstance(value, bool):
            yield path, value


def _at(event: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
