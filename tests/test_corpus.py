"""The shared corpus of real framework logs, when it is present beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradlog.engine import analyze
from gradlog.sources import read_file
from tests.helpers import CORPUS

LOGS = (
    sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix != ".md" and p.name != "labels.json"
    )
    if CORPUS.is_dir()
    else []
)


@pytest.mark.skipif(not LOGS, reason="../shared/corpus is not present")
@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_corpus_log_does_not_crash(path: Path) -> None:
    report = analyze(read_file(str(path)), path.name)
    assert report.input.lines == len(path.read_bytes().split(b"\n")) - path.read_bytes().endswith(
        b"\n"
    )
