"""What the reader saw in a log: line shapes, series, first records and lines not read."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradlog.escape import inert, visible
from gradlog.export import records_of
from gradlog.formatters.terminal import string_console
from gradlog.model import Record, Step
from gradlog.parse.line import ShapeStats
from gradlog.parse.names import EPOCH, STEP, NameTable
from gradlog.parse.reader import LogReader
from gradlog.report import finite_or_text, plural

SCHEMA_VERSION = 1
SHAPES_SHOWN = 20  # a log repeats a handful of shapes; beyond 20 it is free text
AXES = frozenset({STEP, EPOCH})


@dataclass
class SeriesStats:
    """A running summary of one series; min and max are over its finite values only."""

    count: int = 0
    first: float = math.nan
    last: float = math.nan
    minimum: float | None = None
    maximum: float | None = None
    nonfinite: int = 0

    def add(self, value: float) -> None:
        if not self.count:
            self.first = value
        self.count += 1
        self.last = value
        if not math.isfinite(value):
            self.nonfinite += 1
            return
        self.minimum = value if self.minimum is None else min(self.minimum, value)
        self.maximum = value if self.maximum is None else max(self.maximum, value)


@dataclass
class Inspection:
    """Everything ``gradlog inspect`` shows about one input."""

    name: str
    lines: int = 0
    parsed: int = 0
    records: int = 0
    dialects: tuple[str, ...] = ()
    numbered: bool = False
    kinds: dict[str, int] = field(default_factory=dict)
    shapes: list[ShapeStats] = field(default_factory=list)  # the most frequent few
    shapes_omitted: int = 0
    series: dict[str, SeriesStats] = field(default_factory=dict)
    first_records: list[Record] = field(default_factory=list)
    unread_numeric: int = 0
    unread_examples: list[str] = field(default_factory=list)
    # Each family's series and the printed name(s) it was made of (a sum when several).
    families: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Counted:
    """Lines passed through, counted on the way."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines, self.count = lines, 0

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            self.count += 1
            yield line


def inspect_lines(
    lines: Iterable[str], name: str, metric_names: dict[str, str] | None = None, keep: int = 10
) -> Inspection:
    """Read ``lines`` and describe what was read; keeps only the first ``keep`` records."""
    reader = LogReader(NameTable(metric_names), name)
    counted = _Counted(lines)
    found = Inspection(name)
    for record in records_of(reader, counted):
        found.records += 1
        if len(found.first_records) < keep:
            found.first_records.append(record)
        for metric, value in record.metrics.items():
            found.series.setdefault(metric, SeriesStats()).add(value)
    shapes = reader.shapes
    found.lines, found.parsed = counted.count, reader.parsed
    found.dialects, found.numbered = reader.dialects, reader.mostly_numbered(found.records)
    found.kinds = dict(reader.kinds.most_common())
    found.shapes, found.shapes_omitted = shapes[:SHAPES_SHOWN], max(0, len(shapes) - SHAPES_SHOWN)
    found.series = dict(sorted(found.series.items()))
    found.unread_numeric = reader.unread_numeric
    found.unread_examples = list(reader.unread_examples)
    found.families = {fam: names for fam, names in reader.families.primary.items() if fam != "log"}
    return found


def metric_columns(records: Iterable[Record]) -> list[str]:
    """The metric names of ``records``, in order of first appearance."""
    return list(dict.fromkeys(name for record in records for name in record.metrics))


# JSON


def _optional(value: float | None) -> float | str | None:
    return None if value is None else finite_or_text(value)


def _step(value: Step | None) -> Step | str | None:
    return finite_or_text(value) if isinstance(value, float) else value


def _shape_object(shape: ShapeStats) -> dict[str, Any]:
    return {
        "count": shape.count,
        "shape": shape.shape,
        "names": [{"printed": printed, "series": series} for printed, series in shape.names],
        "dialect": shape.dialect,
        "example": shape.example,
    }


def _series_object(stats: SeriesStats) -> dict[str, Any]:
    return {
        "count": stats.count,
        "first": finite_or_text(stats.first),
        "last": finite_or_text(stats.last),
        "min": _optional(stats.minimum),
        "max": _optional(stats.maximum),
        "nonfinite": stats.nonfinite,
    }


def _record_object(record: Record) -> dict[str, Any]:
    return {
        "step": _step(record.step),
        "epoch": _step(record.epoch),
        "line": record.line,
        "metrics": {name: finite_or_text(value) for name, value in record.metrics.items()},
    }


def inspection_object(found: Inspection) -> dict[str, Any]:
    """One input's inspection as a JSON-ready dict (non-finite numbers as strings)."""
    return {
        "name": found.name,
        "lines": found.lines,
        "parsed_lines": found.parsed,
        "records": found.records,
        "dialects": list(found.dialects),
        "numbered_steps": found.numbered,
        "kinds": found.kinds,
        "shapes": [_shape_object(shape) for shape in found.shapes],
        "shapes_omitted": found.shapes_omitted,
        "series": {name: _series_object(s) for name, s in found.series.items()},
        "first_records": [_record_object(record) for record in found.first_records],
        "unread": {"count": found.unread_numeric, "examples": found.unread_examples},
        "families": {fam: list(names) for fam, names in found.families.items()},
    }


def document(inspections: Iterable[Inspection]) -> dict[str, Any]:
    """The JSON document of ``gradlog inspect --format json``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "inputs": [inspection_object(found) for found in inspections],
    }


# Terminal


def value_text(value: float | Step | None) -> str:
    """A value exactly as read (``repr`` of a float is its shortest exact spelling)."""
    return "-" if value is None else repr(value)


def _table(*columns: str, text: tuple[str, ...] = ()) -> Table:
    """A plain table: numbers right-aligned, the ``text`` columns left-aligned."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in columns:
        header = Text(visible(name))
        table.add_column(header, justify="left" if name in text else "right", overflow="fold")
    return table


def _header(found: Inspection) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in found.kinds.items()) or "none"
    numbered = "yes: the log prints no step, gradlog numbered them" if found.numbered else "no"
    rows = (
        ("lines read", f"{found.lines:,}"),
        ("lines parsed", f"{found.parsed:,} logical lines with fields"),
        ("records", f"{found.records:,}"),
        ("dialects", visible(", ".join(found.dialects)) or "none recognised"),
        ("steps numbered", numbered),
        ("read as", kinds),
        ("families", _families(found)),
    )
    for label, value in rows:
        grid.add_row(label, Text(value))
    return Group(Text(visible(found.name), style="bold underline"), grid)


def _families(found: Inspection) -> str:
    """``loss <- cross_entropy + smooth_l1``: which printed names made each series."""
    parts = [f"{fam} <- {' + '.join(names)}" for fam, names in found.families.items()]
    return visible("; ".join(parts)) or "only names of the table (see the shapes)"


def _names(shape: ShapeStats) -> Text:
    text = Text()
    for index, (printed, series) in enumerate(shape.names):
        text.append("\n" if index else "")
        text.append(visible(printed))
        text.append(" -> ", style="dim")
        text.append(visible(series), style="bold" if series not in AXES else "")
        text.append(" (axis)" if series in AXES else "", style="dim")
    return text


def _shapes(found: Inspection) -> list[RenderableType]:
    if not found.shapes:
        return [Text("No key-value line shape was read.", style="dim")]
    texts = ("shape / example", "read as", "dialect")
    table = _table("count", *texts, text=texts)
    for shape in found.shapes:
        cell = Text(visible(shape.shape))
        cell.append("\n" + visible(shape.example), style="dim")
        dialect = Text(visible(shape.dialect or "-"))
        table.add_row(f"{shape.count:,}", cell, _names(shape), dialect)
    parts: list[RenderableType] = [table]
    if found.shapes_omitted:
        parts.append(Text(f"... and {plural(found.shapes_omitted, 'more shape')}", style="dim"))
    return parts


def _series(found: Inspection) -> list[RenderableType]:
    if not found.series:
        return [Text("No metric series was read.", style="dim")]
    table = _table("series", "count", "first", "last", "min", "max", "non-finite", text=("series",))
    for name, stats in found.series.items():
        values = (stats.first, stats.last, stats.minimum, stats.maximum)
        cells = [f"{stats.count:,}", *map(value_text, values), str(stats.nonfinite)]
        table.add_row(Text(visible(name)), *cells)
    return [table]


def _records(found: Inspection, width: int) -> list[RenderableType]:
    """One column per metric when they fit in ``width``, else the metrics in one column."""
    if not found.first_records:
        return [Text("No record was read.", style="dim")]
    metrics = metric_columns(found.first_records)
    rows = [_record_cells(record, metrics) for record in found.first_records]
    header = ["step", "epoch", "line", *map(visible, metrics)]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    if sum(widths) + 3 * (len(widths) - 1) <= width:
        table = _table(*header)
        for row in rows:
            table.add_row(*row)
        return [table]
    table = _table("step", "epoch", "line", "metrics", text=("metrics",))
    for row in rows:
        named = zip(header[3:], row[3:], strict=True)
        pairs = [f"{name}={value}" for name, value in named if value]
        table.add_row(*row[:3], Text("  ".join(pairs)))
    return [table]


def _record_cells(record: Record, metrics: list[str]) -> list[str]:
    values = [record.metrics.get(name) for name in metrics]
    cells = [value_text(record.step), value_text(record.epoch), str(record.line)]
    return cells + ["" if value is None else value_text(value) for value in values]


def _unread(found: Inspection) -> list[RenderableType]:
    count = plural(found.unread_numeric, "line")
    parts: list[RenderableType] = [Text(f"{count} holding a number yielded nothing.")]
    if found.unread_examples:
        parts.append(Text("For example:", style="dim"))
    parts += [Text(f"  {visible(example)}") for example in found.unread_examples]
    return parts


def render_to(console: Console, found: Inspection) -> None:
    """Print one input's inspection on ``console``."""
    console.print(_header(found))
    sections = (
        ("Line shapes", _shapes(found)),
        ("Series", _series(found)),
        (f"First {plural(len(found.first_records), 'record')}", _records(found, console.width)),
        ("Not read", _unread(found)),
    )
    for title, parts in sections:
        console.print()
        console.print(Text(title, style="bold"))
        for part in parts:
            console.print(part)
    console.print()


def render(inspections: Iterable[Inspection], *, color: bool = False, width: int = 100) -> str:
    """The inspections as rich text in a string; colours only when asked for."""
    buffer = io.StringIO()
    console = string_console(buffer, color=color, width=width)
    for found in inspections:
        render_to(console, found)
    return inert(buffer.getvalue())
