"""Whole JSON documents, such as HF's ``trainer_state.json``: read at once, not by line.

Python's json module accepts the bare ``NaN`` and ``Infinity`` these files contain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from gradlog.parse.names import EPOCH, STEP, NameTable

_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "total_flos")


def entries(text: str) -> Iterator[tuple[dict[str, Any], int]]:
    """Metric entries of a JSON document, each with its index; nothing if it is not JSON."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return
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
    for key, raw in entry.items():
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
