"""A series drawn in the terminal: each column the lowest-to-highest range of the values
it covers, incidents shaded and labelled under it.

Drawn with rich's text and styles (already a dependency, nothing more to import): a
charting library would add its import time to every report for what is a few dozen
lines here. A column is never an average: it spans the lowest and highest value of its
records, so a spike of one record in a million still reaches its height. NaN and
infinite values are marked with a red ``x`` on the top row. A series whose finite values
are all positive and span more than ``LOG_RANGE`` is drawn on a log scale.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import groupby, pairwise

from rich.text import Text

from gradlog.curves import CurvePoints
from gradlog.incidents import Incident
from gradlog.model import Severity

LOG_RANGE = 100.0  # highest / lowest finite value past which the scale is logarithmic
_LABEL = 10  # columns of the y-axis labels
_SHADES = {Severity.ERROR: "on grey23", Severity.WARNING: "on grey19", Severity.INFO: ""}
_MARKS = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _short(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.2e}"
    return f"{value:.4g}"


def axis_of(points: CurvePoints) -> tuple[float, float, bool] | None:
    """A series' vertical axis: its lowest and highest finite value, and whether it is
    drawn on a log scale; None when it has no finite value."""
    finite = [v for v in (*points.lows, *points.highs) if v == v]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    return low, high, low > 0 and high / low > LOG_RANGE


def share(value: float, low: float, high: float) -> float:
    """Where ``value`` lies from ``low`` (0) to ``high`` (1), clamped; the middle when
    the range is a single value. Computed in halves: a range from -1e308 to 1e308 is
    wider than a float holds."""
    if not high > low:
        return 0.5
    found = (value / 2 - low / 2) / (high / 2 - low / 2)
    return min(1.0, max(0.0, found)) if found == found else 0.0


def place(index: int, count: int, width: int) -> int:
    """The column of bucket ``index`` of ``count``, spread over ``width`` columns in the
    order of the log (steps may repeat or go back: a resumed run)."""
    if count <= 1:
        return 0
    if count <= width:
        return round(index * (width - 1) / (count - 1))
    return index * width // count


def columns(points: CurvePoints, width: int) -> tuple[list[float], list[float], list[int]]:
    """The buckets gathered into ``width`` columns: each column's lowest and highest
    value (NaN for a column with none) and its count of non-finite values."""
    lows = [math.nan] * width
    highs = [math.nan] * width
    bad = [0] * width
    count = len(points.steps)
    for index, (low, high, nonfinite) in enumerate(
        zip(points.lows, points.highs, points.nonfinite, strict=True)
    ):
        at = place(index, count, width)
        if low == low:
            lows[at] = low if lows[at] != lows[at] else min(lows[at], low)
            highs[at] = high if highs[at] != highs[at] else max(highs[at], high)
        bad[at] += nonfinite
    return lows, highs, bad


def draw(
    name: str,
    points: CurvePoints,
    width: int,
    height: int,
    incidents: Sequence[Incident] = (),
) -> list[Text]:
    """The chart of one series, ``width`` columns wide and ``height`` rows of plot (plus a
    title, the incidents' labels and the step axis)."""
    plot = max(8, width - _LABEL - 1)
    lows, highs, bad = columns(points, plot)
    first, last = points.steps[0], points.steps[-1]
    bounds = axis_of(points)
    if bounds is None:
        return [Text(f"{name}: no finite value to chart", style="dim")]
    bottom, top, log = bounds
    span = f"steps {_short(first)}-{_short(last)}"
    if bottom == top and not any(bad):  # a flat line says less than one line of text
        return [Text(f"{name}, {span}: {_short(top)} at every step", style="dim")]
    scale = math.log10 if log else (lambda v: v)
    low_end, high_end = scale(bottom), scale(top)

    def level(value: float) -> int:
        """A value's half-row: 0 at the bottom, 2 * height - 1 at the top."""
        return int(share(scale(value), low_end, high_end) * (2 * height - 1) + 0.5)

    shade = [""] * plot
    for incident in incidents:
        start, end = span_of(incident, points, plot)
        if start is not None and end is not None:
            for at in range(start, end + 1):
                shade[at] = _SHADES[incident.severity]
    rows: list[Text] = []
    title = f"{name}" + (" (log scale)" if log else "") + f", {span}"
    rows.append(Text(title, style="bold"))
    spans = _joined(
        [(level(lo), level(hi)) if lo == lo else None for lo, hi in zip(lows, highs, strict=True)]
    )
    for row in range(height - 1, -1, -1):
        label = _short(top) if row == height - 1 else _short(bottom) if row == 0 else ""
        line = Text(label.rjust(_LABEL) + " ", style="dim")
        cells: list[tuple[str, str]] = []
        for at in range(plot):
            cell = " "
            style = "green"
            if row == height - 1 and bad[at]:
                cell, style = "x", "bold red"
            elif spans[at] is not None:
                low, high = spans[at]  # type: ignore[misc]
                has_upper, has_lower = low <= 2 * row + 1 <= high, low <= 2 * row <= high
                if has_upper or has_lower:
                    cell = "█" if has_upper and has_lower else "▀" if has_upper else "▄"
            cells.append((cell, f"{style} {shade[at]}".strip() if cell != " " else shade[at]))
        # One span of text per run of cells of one style: rich's cost is per span.
        for style, run in groupby(cells, key=lambda item: item[1]):
            line.append("".join(cell for cell, _ in run), style=style or None)
        rows.append(line)
    if incidents:
        marks = Text(" " * (_LABEL + 1))
        for incident in incidents:
            start, end = span_of(incident, points, plot)
            if start is None:
                continue
            label = f"^{incident.number}"
            start = min(start, plot - len(label))  # a label at the right edge stays whole
            if len(marks) < _LABEL + 1 + start:
                marks.append(" " * (_LABEL + 1 + start - len(marks)))
            reach = max(len(label), (end or start) - start + 1)
            marks.append(label.ljust(reach, "-"), style=_MARKS[incident.severity])
        rows.append(marks)
    axis = f"{_short(first)}".ljust(plot // 2) + f"{_short(last)}".rjust(plot - plot // 2)
    rows.append(Text(" " * (_LABEL + 1) + axis, style="dim"))
    return rows


def _joined(spans: list[tuple[int, int] | None]) -> list[tuple[int, int] | None]:
    """Columns as one line: a column between two with values gets the levels between
    theirs (a run with fewer records than columns), and a column's range reaches its
    left neighbour's, so a jump is drawn as a stroke rather than two dots."""
    known = [at for at, span in enumerate(spans) if span is not None]
    out = list(spans)
    for left, right in pairwise(known):
        (low_a, high_a), (low_b, high_b) = spans[left], spans[right]  # type: ignore[misc]
        for at in range(left + 1, right):
            share = (at - left) / (right - left)
            low = round(low_a + share * (low_b - low_a))
            high = round(high_a + share * (high_b - high_a))
            out[at] = (low, high)
    for at in range(1, len(out)):
        before, here = out[at - 1], out[at]
        if before is None or here is None:
            continue
        low, high = here
        if before[1] < low:
            low = before[1] + 1
        elif before[0] > high:
            high = before[0] - 1
        out[at] = (min(low, high), max(low, high))
    return out


def span_of(incident: Incident, points: CurvePoints, plot: int) -> tuple[int | None, int | None]:
    """The columns an incident covers: from the bucket holding its first line to the
    first bucket after it at or past its last step."""
    if incident.line is None:
        return None, None
    count = len(points.lines)
    start = max(0, bisect_right(points.lines, incident.line) - 1)
    end = start
    last = incident.last_step
    if last is not None and last == last:
        while end + 1 < count and not (float(points.steps[end]) >= float(last)):
            end += 1
    return place(start, count, plot), place(end, count, plot)
