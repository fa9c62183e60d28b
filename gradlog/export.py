"""The parsed series of one log as data: records streamed out as JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from gradlog.model import Record, Step
from gradlog.parse.reader import LogReader
from gradlog.report import finite_or_text

AXES = ("step", "epoch", "line")
_SPOOL_MEMORY = 8 << 20  # characters kept in memory before the spool moves to disk


def records_of(reader: LogReader, lines: Iterable[str]) -> Iterator[Record]:
    """The records ``reader`` reads from ``lines``, as each one completes."""
    for line_no, raw in enumerate(lines, 1):
        yield from reader.feed(line_no, raw)
    yield from reader.flush()


def column(metric: str) -> str:
    """The column of a metric; one printed as ``step``, ``epoch`` or ``line`` is renamed
    ``metric:<name>`` so it never overwrites an axis (``:`` is in no normalised name)."""
    return f"metric:{metric}" if metric in AXES else metric


def _axis(value: Step | None) -> Step | str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return finite_or_text(value)
    return value


def record_object(record: Record) -> dict[str, Any]:
    """One record as a JSON-ready dict: the axes, then each metric under its column."""
    found: dict[str, Any] = {
        "step": _axis(record.step),
        "epoch": _axis(record.epoch),
        "line": record.line,
    }
    for name, value in record.metrics.items():
        found[column(name)] = finite_or_text(value)
    return found


def _line(record: Record) -> str:
    return json.dumps(record_object(record), allow_nan=False, ensure_ascii=False) + "\n"


def write_jsonl(records: Iterable[Record], stream: TextIO) -> int:
    """Write one JSON object per record as it arrives; return how many were written."""
    count = 0
    for record in records:
        stream.write(_line(record))
        count += 1
    return count


def write_csv(records: Iterable[Record], stream: TextIO) -> int:
    """Write a CSV with one column per metric (sorted); return how many rows were written.

    The columns are known only at the end, so records are spooled as JSON Lines first
    (in memory while small, on disk beyond): memory does not grow with the run.
    Nothing is written when there is no record.
    """
    with tempfile.SpooledTemporaryFile(_SPOOL_MEMORY, mode="w+", encoding="utf-8") as spool:
        columns: dict[str, None] = {}
        count = 0
        for record in records:
            columns.update(dict.fromkeys(map(column, record.metrics)))
            spool.write(_line(record))
            count += 1
        if count:
            spool.seek(0)
            _write_rows(spool, [*AXES, *sorted(columns)], stream)
    return count


def _write_rows(spool: Iterable[str], header: list[str], stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for line in spool:
        found = json.loads(line)
        writer.writerow([_cell(found.get(name)) for name in header])


def _cell(value: object) -> str:
    """A CSV cell: empty when absent; nan/inf/-inf spelled as pandas reads them back."""
    if value is None:
        return ""
    return str(value)
