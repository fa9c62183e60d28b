"""Output formats: each a pure ``render(reports) -> str``."""

from __future__ import annotations

from collections.abc import Callable

from gradlog.formatters import github, jsonl, junit, markdown, sarif, terminal
from gradlog.formatters import json as json_format
from gradlog.report import ReportSet

Renderer = Callable[[ReportSet], str]

FORMATTERS: dict[str, Renderer] = {
    "terminal": terminal.render,
    "plain": terminal.render_plain,
    "json": json_format.render,
    "jsonl": jsonl.render,
    "github": github.render,
    "markdown": markdown.render,
    "junit": junit.render,
    "sarif": sarif.render,
}
