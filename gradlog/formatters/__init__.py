"""Output formats: each a pure ``render(reports) -> str``.

A formatter's module is imported when it is first used: a JSON report never loads the
XML, SARIF or rich machinery.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from gradlog.report import ReportSet

Renderer = Callable[[ReportSet], str]

# Format name -> (module, function).
_WHERE = {
    "terminal": ("gradlog.formatters.terminal", "render"),
    "plain": ("gradlog.formatters.terminal", "render_plain"),
    "json": ("gradlog.formatters.json", "render"),
    "jsonl": ("gradlog.formatters.jsonl", "render"),
    "github": ("gradlog.formatters.github", "render"),
    "markdown": ("gradlog.formatters.markdown", "render"),
    "junit": ("gradlog.formatters.junit", "render"),
    "sarif": ("gradlog.formatters.sarif", "render"),
    "html": ("gradlog.formatters.html", "render"),
}


class _Formatters(Mapping[str, Renderer]):
    """Format names to renderers, each imported on first use."""

    def __getitem__(self, name: str) -> Renderer:
        module, function = _WHERE[name]
        renderer: Renderer = getattr(importlib.import_module(module), function)
        return renderer

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


FORMATTERS: Mapping[str, Renderer] = _Formatters()
