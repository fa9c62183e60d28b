"""Builders shared by the tests: synthetic records and detector runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gradlog.config import Thresholds
from gradlog.detectors import DETECTORS
from gradlog.engine import Engine
from gradlog.model import Diagnosis, Record

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus"
NAN = math.nan


def records(**series: Sequence[float | None]) -> list[Record]:
    """Records numbered from 1, one per position: ``records(loss=[...], grad_norm=[...])``."""
    length = max(len(values) for values in series.values())
    out = []
    for i in range(length):
        metrics = {
            name: float(values[i])  # type: ignore[arg-type]
            for name, values in series.items()
            if i < len(values) and values[i] is not None
        }
        out.append(Record(step=i + 1, line=i + 1, metrics=metrics, epoch=i + 1))
    return out


def run(
    rule_id: str, recs: Sequence[Record], thresholds: Thresholds | None = None
) -> list[Diagnosis]:
    """Run one detector over records, keeping the latest version of each episode."""
    detector_type = next(d for d in DETECTORS if d.rule.id == rule_id)
    detector = detector_type(thresholds or Thresholds())
    found: dict[object, Diagnosis] = {}
    for record in recs:
        for diagnosis in detector.observe(record):
            found[diagnosis.key] = diagnosis
    for diagnosis in detector.finish():
        found[diagnosis.key] = diagnosis
    return list(found.values())


def analyze_text(text: str) -> list[Diagnosis]:
    """Diagnoses of a log given as text, through the whole engine."""
    engine = Engine("test")
    for line in text.split("\n"):
        engine.feed(line)
    return list(engine.finish().diagnoses)


def load_expected(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


class CopySink:
    """A passthrough sink that keeps what it was given."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.open = True

    def write(self, chunk: bytes) -> None:
        self.data += chunk


def every_log() -> list[Path]:
    """Every log the tests read whole: the labelled corpora (when present beside the
    checkout, through their ``labels.json``), the samples, the format fixtures and the
    test data."""
    found: list[Path] = []
    for folder in (CORPUS, CORPUS / "real"):
        labels = folder / "labels.json"
        if labels.is_file():
            entries = json.loads(labels.read_text(encoding="utf-8"))
            found += [folder / entry["file"] for entry in entries]
    found += sorted(SAMPLES.glob("*.log"))
    found += sorted((ROOT / "tests" / "fixtures").rglob("*.log"))
    found += sorted((ROOT / "tests" / "data").glob("*.log"))
    return found


def run_gradlog(
    *args: str,
    cwd: Path | None = None,
    stdin: str | bytes | None = None,
    text: bool = True,
    timeout: float = 60,
    **env: str,
) -> subprocess.CompletedProcess[Any]:
    """Run the gradlog of this working tree as a user would, in ``cwd``; ``env`` adds
    environment variables, ``text`` False gives bytes."""
    return subprocess.run(
        [sys.executable, "-m", "gradlog", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=text,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=timeout,
    )
