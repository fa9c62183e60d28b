"""Live and saved give the same answer: every corpus log, sample and format fixture fed to
the live watcher in random pieces, with idle pauses between many of them, must end with
the very report `diagnose` gives on the saved file (records, diagnoses, messages and
evidence), and pass every byte through unchanged."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from gradlog.engine import Engine, analyze
from gradlog.formatters.json import dumps, report_object
from gradlog.live import Watcher
from gradlog.model import Diagnosis, EpisodeKey, Severity
from gradlog.report import Report
from gradlog.sources import Lines, read_file
from tests.helpers import CopySink, every_log


def _logs() -> list[Any]:
    return [pytest.param(path, id=path.name) for path in every_log()]


def _document(report: Report | None) -> dict[str, Any]:
    assert report is not None
    data: dict[str, Any] = json.loads(dumps(report_object(report)))
    return data


@pytest.mark.parametrize("path", _logs())
def test_live_with_pauses_ends_with_the_saved_report(path: Path) -> None:
    """... and no alert said worse than the report says of its episode in the end: a
    live warning the report calls info was a false alarm."""
    saved = _document(analyze(read_file(str(path)), str(path)))
    copy = CopySink()
    said: dict[EpisodeKey, Severity] = {}

    def alert(diagnosis: Diagnosis, previous: Severity | None) -> None:
        said[diagnosis.key] = max(diagnosis.severity, said.get(diagnosis.key, Severity.INFO))

    watcher = Watcher(Engine(str(path)), alert, [copy])
    data = path.read_bytes()
    rng = random.Random(path.name)
    start = 0
    while start < len(data):
        size = rng.randint(1, 4096)
        watcher.feed(data[start : start + size])
        start += size
        if rng.random() < 0.3:
            watcher.idle()
    report = watcher.finish()
    assert _document(report) == saved
    assert bytes(copy.data) == data
    assert report is not None
    final: dict[EpisodeKey, Severity] = {}
    for diagnosis in report.diagnoses:
        final[diagnosis.key] = max(diagnosis.severity, final.get(diagnosis.key, Severity.INFO))
    worse = {key: (severity, final.get(key)) for key, severity in said.items()}
    assert {key: pair for key, pair in worse.items() if pair[1] is None or pair[1] < pair[0]} == {}


def _bar_log(epochs: int, batches: int, nan_at: int) -> bytes:
    """Lightning bars piped: one line per epoch, a ``\\r`` redraw per batch."""
    lines = []
    for epoch in range(epochs):
        states = []
        for n in range(1, batches + 1):
            step = epoch * batches + n
            loss = "nan" if step >= nan_at else f"{2.4 - step / 1000:.3f}"
            states.append(
                f"\rEpoch {epoch}: {n * 100 // batches:3d}%|{'█' * (n * 10 // batches):<10}| "
                f"{n}/{batches} [00:01<00:02, 37.3it/s, loss={loss}, v_num=0]"
            )
        lines.append("".join(states) + "\n")
    return "".join(lines).encode()


@pytest.mark.parametrize("max_line", [1 << 20, 3000, 701])
def test_redraws_are_read_before_their_line_ends(max_line: int) -> None:
    """A progress bar ends its line only when its epoch ends: its states are read as
    they arrive, so the NaN alert comes with the NaN state, not an epoch later; and the
    report is the saved one, also for lines longer than the longest read whole."""
    data = _bar_log(epochs=3, batches=200, nan_at=450)
    saved = _document(analyze(Lines(io.BytesIO(data), max_line=max_line), "bars"))
    alerts: list[int] = []
    watcher = Watcher(
        Engine("bars"),
        lambda d, p: alerts.append(fed) if d.id == "nan" else None,
        [],
        max_line=max_line,
    )
    rng = random.Random(max_line)
    fed = start = 0
    while start < len(data):
        size = rng.randint(1, 700)
        fed = start + size
        watcher.feed(data[start:fed])
        start = fed
    assert _document(watcher.finish()) == saved
    nan_state = data.index(b"loss=nan")
    assert alerts and alerts[0] < data.index(b"\n", nan_state)  # before its line ended
