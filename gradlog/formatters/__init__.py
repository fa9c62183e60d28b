"""Output formats: each a pure ``render(reports) -> str``."""

from __future__ import annotations

from collections.abc import Callable

from gradlog.formatters import json as json_format
from gradlog.formatters import terminal
from gradlog.report import ReportSet

Renderer = Callable[[ReportSet], str]

FORMATTERS: dict[str, Renderer] = {
    "terminal": terminal.render,
    "plain": terminal.render_plain,
    "json": json_format.render,
}
