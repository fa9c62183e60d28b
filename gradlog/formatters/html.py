"""One self-contained HTML page: readable offline, attachable to a CI run.

No network access: the styles and the few lines of script are inline, the charts are
SVG drawn here. Each input gets its verdict, its curves (the band between the lowest and
highest value of each bucket, so spikes are never averaged away; NaN marked in red;
incidents shaded, each mark with its story as a tooltip; every bucket's values shown on
hover) and its incidents with their evidence and remedies. Several inputs open with a
summary table. Every text that comes from a log is escaped (``escape.html_text``).
"""

from __future__ import annotations

import math

from gradlog import __version__
from gradlog.chart import axis_of, share, span_of
from gradlog.curves import CurvePoints
from gradlog.escape import html_text
from gradlog.formatters.terminal import describe_input, number, verdict, where
from gradlog.incidents import Incident, incidents
from gradlog.incidents import verdict as incident_verdict
from gradlog.parse.names import GRAD_NORM, LOSS, LR, VAL_LOSS
from gradlog.report import InputSummary, Report, ReportSet, told

WIDTH, HEIGHT = 900, 220  # a chart's drawing box
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 12, 28  # its margins
CHARTS = (LOSS, VAL_LOSS, GRAD_NORM, LR)
DOTTED = 200  # buckets: a chart of fewer marks each with a dot

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 980px;
       color: #1d2430; background: #fff; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 32px; }
.verdict { font-weight: 600; padding: 8px 12px; border-radius: 6px; background: #eef6ee; }
.verdict.error { background: #fdecec; } .verdict.warning { background: #fff6e0; }
.read { color: #5b6472; font-size: 13px; }
svg.chart { width: 100%; height: auto; display: block; margin: 6px 0 2px; }
svg .band { fill: #3b82f6; fill-opacity: 0.35; stroke: #2563eb; stroke-width: 1; }
svg .axis { stroke: #9aa3af; stroke-width: 1; } svg .dot { fill: #2563eb; }
svg text { font: 11px system-ui, sans-serif; fill: #5b6472; }
svg .nan { stroke: #dc2626; stroke-width: 2; }
svg .incident { fill-opacity: 0.18; } svg .incident.error { fill: #dc2626; }
svg .incident.warning { fill: #d97706; } svg .incident.info { fill: #0891b2; }
svg .hover { fill: transparent; } svg .hover:hover { fill: #1d2430; fill-opacity: 0.08; }
.readout { font-size: 12px; color: #5b6472; min-height: 1.4em; }
section.incident { border-left: 4px solid #9aa3af; padding: 2px 14px; margin: 14px 0; }
section.incident.error { border-color: #dc2626; }
section.incident.warning { border-color: #d97706; }
section.incident.info { border-color: #0891b2; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #e5e7eb; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""

# Hovering a bucket shows its values under the chart (the tooltips say it too). The page
# also notes on <body> what the browser drew (charts, bands and incident marks with a
# size): the browser test reads it, and a person never sees it.
_SCRIPT = """
(function () {
  var charts = document.querySelectorAll("svg.chart"), bands = 0, marks = 0;
  charts.forEach(function (svg) {
    svg.querySelectorAll("polygon.band").forEach(function (band) {
      var box = band.getBBox();
      if (box.width > 0 || box.height > 0) { bands += 1; }
    });
    svg.querySelectorAll("rect.incident").forEach(function (mark) {
      var box = mark.getBoundingClientRect();
      if (box.width > 0 && box.height > 0) { marks += 1; }
    });
  });
  document.body.setAttribute("data-charts", String(charts.length));
  document.body.setAttribute("data-bands-drawn", String(bands));
  document.body.setAttribute("data-marks-drawn", String(marks));
})();
document.querySelectorAll("svg.chart").forEach(function (svg) {
  var out = svg.nextElementSibling;
  svg.querySelectorAll("rect.hover").forEach(function (cell) {
    cell.addEventListener("mouseenter", function () {
      out.textContent = cell.querySelector("title").textContent;
    });
  });
});
"""


def chart(name: str, points: CurvePoints, found: tuple[Incident, ...]) -> str:
    """The SVG chart of one series."""
    bounds = axis_of(points)
    if bounds is None:
        return f'<p class="read">{html_text(name)}: no finite value to chart</p>'
    bottom, top, log = bounds
    low, high = (math.log10(bottom), math.log10(top)) if log else (bottom, top)
    count = len(points.steps)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: float) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value: float) -> float:
        value = math.log10(value) if log else value
        return TOP + plot_h * (1 - share(value, low, high))

    parts = [
        f'<svg class="chart" data-series="{html_text(name)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{html_text(name)}">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
    ]
    for incident in found:
        span = _columns(incident, points)
        if span is None:
            continue
        start, end = x(span[0]) - 2, x(span[1]) + 2
        label = f"incident {incident.number}: {incident.story}"
        parts.append(
            f'<rect class="incident {incident.severity}" data-incident="{incident.number}" '
            f'x="{start:.1f}" y="{TOP}" width="{max(4.0, end - start):.1f}" height="{plot_h}">'
            f"<title>{html_text(label)}</title></rect>"
            f'<text x="{start + 3:.1f}" y="{TOP + 11}">{incident.number}</text>'
        )
    for run in _finite_runs(points):
        upper = [f"{x(i):.1f},{y(points.highs[i]):.1f}" for i in run]
        lower = [f"{x(i):.1f},{y(points.lows[i]):.1f}" for i in reversed(run)]
        if len(run) == 1:  # one bucket: a short stroke
            i = run[0]
            upper = [
                f"{x(i) - 1:.1f},{y(points.highs[i]):.1f}",
                f"{x(i) + 1:.1f},{y(points.highs[i]):.1f}",
            ]
        parts.append(f'<polygon class="band" points="{" ".join(upper + lower)}"/>')
    if count <= DOTTED:  # few records: each one a dot on its band
        parts += [
            f'<circle class="dot" cx="{x(i):.1f}" cy="{y(points.highs[i]):.1f}" r="2.5"/>'
            for run in _finite_runs(points)
            for i in run
        ]
    for i, bad in enumerate(points.nonfinite):
        if bad:
            parts.append(
                f'<line class="nan" x1="{x(i):.1f}" y1="{TOP}" x2="{x(i):.1f}" y2="{TOP + 8}">'
                f"<title>{bad} NaN/Inf at step {html_text(str(points.steps[i]))}</title></line>"
            )
    cell = plot_w / max(1, count)
    for i in range(count):
        values = (
            "no finite value"
            if points.lows[i] != points.lows[i]
            else f"{number(points.lows[i])}"
            + ("" if points.highs[i] == points.lows[i] else f" to {number(points.highs[i])}")
        )
        tip = f"{name} at step {points.steps[i]} (line {points.lines[i]}): {values}"
        parts.append(
            f'<rect class="hover" x="{x(i) - cell / 2:.1f}" y="{TOP}" width="{cell:.2f}" '
            f'height="{plot_h}"><title>{html_text(tip)}</title></rect>'
        )
    parts += [
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{number(top)}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">{number(bottom)}</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 8}">step {html_text(str(points.steps[0]))}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end">'
        f"step {html_text(str(points.steps[-1]))}</text>",
        f'<text x="{LEFT}" y="{TOP - 2}">{html_text(name)}{" (log scale)" if log else ""}</text>',
        "</svg>",
        '<div class="readout"></div>',
    ]
    return "\n".join(parts)


def _finite_runs(points: CurvePoints) -> list[list[int]]:
    """Consecutive buckets with a finite value, each run drawn as one band."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, low in enumerate(points.lows):
        if low == low:
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _columns(incident: Incident, points: CurvePoints) -> tuple[int, int] | None:
    """The buckets an incident covers (see ``chart._span``)."""
    start, end = span_of(incident, points, len(points.steps))
    return None if start is None or end is None else (start, end)


def _incident(incident: Incident, whys: dict[str, str], read: InputSummary) -> str:
    rows = []
    for d in incident.diagnoses:
        rows.append(
            f"<tr><td>{html_text(where(d.first_step, d.line, read))}</td>"
            f"<td><code>{html_text(d.id)}</code></td>"
            f"<td>{html_text(told(d.message, read))}</td></tr>"
        )
    evidence = [
        f'<tr><td class="num">{html_text(str(item.step))}</td>'
        f'<td class="num">{item.line}</td><td>{html_text(item.metric)}</td>'
        f'<td class="num">{html_text(number(item.value))}</td></tr>'
        for item in incident.evidence
    ]
    remedies = list(incident.remedies)
    why = incident.why(whys)
    return "\n".join(
        [
            f'<section class="incident {incident.severity}" data-incident="{incident.number}">',
            f"<h3>Incident {incident.number} ({incident.severity}): "
            f"{html_text(incident.story)}</h3>",
            f"<table>{''.join(rows)}</table>",
            "<h4>Evidence</h4><table><tr><th>step</th><th>line</th><th>metric</th>"
            f"<th>value</th></tr>{''.join(evidence)}</table>"
            if evidence
            else "",
            f"<p><b>Why it matters:</b> {html_text(why)}</p>" if why else "",
            "<h4>Remedies</h4><ol>"
            + "".join(f"<li>{html_text(r)}</li>" for r in remedies)
            + "</ol>"
            if remedies
            else "",
            "</section>",
        ]
    )


def _input(report: Report, whys: dict[str, str]) -> str:
    found = incidents(report)
    worst = max((i.severity for i in found), default=None)
    said = incident_verdict(report, found) or verdict(report)
    parts = [
        f"<h2>{html_text(report.input.name)}</h2>",
        f'<p class="verdict {worst or "ok"}">{html_text(said)}</p>',
        f'<p class="read">{html_text(describe_input(report.input))}</p>',
    ]
    curves = report.input.curves
    for name in CHARTS:
        if name in curves:
            parts.append(chart(name, curves[name], found))
    parts += [_incident(incident, whys, report.input) for incident in found]
    if found:
        parts.append(f'<p class="read">{html_text(verdict(report))}</p>')
    return "\n".join(parts)


def render(reports: ReportSet) -> str:
    from gradlog.detectors import RULES

    whys = {rule_id: rule.why for rule_id, rule in RULES.items()}
    body = []
    if len(reports.reports) > 1:
        rows = "".join(
            f"<tr><td>{html_text(r.input.name)}</td>"
            f"<td>{html_text(incident_verdict(r) or verdict(r))}</td>"
            + "".join(f'<td class="num">{n}</td>' for n in r.summary.values())
            + "</tr>"
            for r in reports.reports
        )
        heads = "".join(f"<th>{name}</th>" for name in reports.summary)
        body.append(f"<table><tr><th>input</th><th>verdict</th>{heads}</tr>{rows}</table>")
    body += [_input(report, whys) for report in reports.reports]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>gradlog report</title><style>{_STYLE}</style></head><body>",
            f"<h1>gradlog {html_text(__version__)}</h1>",
            *body,
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )
