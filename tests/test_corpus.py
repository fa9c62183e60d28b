"""The shared corpus of real framework logs, when it is present beside the checkout.

It is read in place, never copied. Every log must be read without a crash, and every log
not labelled ``no_metrics`` must yield a loss series from a recognised format. Accuracy
on its labels is measured by ``python -m gradlog.eval ../shared/corpus/labels.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradlog.engine import analyze
from gradlog.sources import read_file
from tests.helpers import CORPUS

LABELS = CORPUS / "labels.json"
LOGS = (
    sorted(
        p for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix.lower() not in (".md", ".txt") and p != LABELS
    )
    if CORPUS.is_dir()
    else []
)


def _expected(path: Path) -> list[str]:
    if not LABELS.is_file():
        return []
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    if isinstance(labels, dict):
        entry = labels.get(str(path.relative_to(CORPUS)), labels.get(path.name, {}))
    else:
        entry = next((e for e in labels if Path(str(e.get("file", ""))).name == path.name), {})
    return list(entry.get("expected", [])) if isinstance(entry, dict) else []


@pytest.mark.skipif(not LOGS, reason="../shared/corpus is not present")
@pytest.mark.parametrize("path", LOGS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_log_yields_its_loss_series(path: Path) -> None:
    report = analyze(read_file(str(path)), path.name)
    if "no_metrics" in _expected(path):
        return
    assert report.input.dialects, "no format recognised"
    assert "loss" in report.input.metrics or "val_loss" in report.input.metrics
