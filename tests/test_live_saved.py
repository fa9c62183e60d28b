"""Live and saved give the same answer: every corpus log, sample and format fixture fed to
the live watcher in random pieces, with idle pauses between many of them, must end with
the very report `diagnose` gives on the saved file (records, diagnoses, messages and
evidence), and pass every byte through unchanged."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from gradlog.engine import Engine, analyze
from gradlog.formatters.json import dumps, report_object
from gradlog.live import Watcher
from gradlog.report import Report
from gradlog.sources import read_file
from tests.helpers import CopySink, every_log


def _logs() -> list[Any]:
    return [pytest.param(path, id=path.name) for path in every_log()]


def _document(report: Report | None) -> dict[str, Any]:
    assert report is not None
    data: dict[str, Any] = json.loads(dumps(report_object(report)))
    return data


@pytest.mark.parametrize("path", _logs())
def test_live_with_pauses_ends_with_the_saved_report(path: Path) -> None:
    saved = _document(analyze(read_file(str(path)), str(path)))
    copy = CopySink()
    watcher = Watcher(Engine(str(path)), lambda diagnosis, previous: None, [copy])
    data = path.read_bytes()
    rng = random.Random(path.name)
    start = 0
    while start < len(data):
        size = rng.randint(1, 4096)
        watcher.feed(data[start : start + size])
        start += size
        if rng.random() < 0.3:
            watcher.idle()
    assert _document(watcher.finish()) == saved
    assert bytes(copy.data) == data
