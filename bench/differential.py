"""Differential check: do two versions of gradlog give the same reports on the same logs?

    python bench/differential.py save DIR      # reports of this checkout, one JSON per log
    python bench/differential.py compare DIR   # this checkout against the saved ones
    python bench/differential.py compare --facts DIR   # only what was found, not its wording

The logs: every labelled log of the shared corpora (read in place, when present beside
the checkout), the samples, the format fixtures, the test data, and generated logs of
the speed benchmark's styles (20,000 lines each, with a NaN episode, a spike and a
plateau written in). Each is analysed twice, with the default rules and with every rule
enabled, and the whole JSON report (diagnoses with their ids, steps, lines, severities,
messages and evidence, and the input summary) must match exactly.

Use it before and after any change meant to make gradlog faster without changing what
it finds: save on the old version, compare on the new one. ``--facts`` compares what was
found and nothing of how it is told: each diagnosis without its title, message and
remedies, and the report without the keys the saved one lacks (a field added since).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradlog.config import Config  # noqa: E402
from gradlog.detectors import RULES  # noqa: E402
from gradlog.engine import analyze  # noqa: E402
from gradlog.formatters.json import dumps, report_object  # noqa: E402
from gradlog.sources import read_file  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
GENERATED_LINES = 20_000


def _labelled(folder: Path) -> Iterator[Path]:
    labels = folder / "labels.json"
    if labels.is_file():
        for entry in json.loads(labels.read_text(encoding="utf-8")):
            yield folder / entry["file"]


def _generated(folder: Path) -> Iterator[Path]:
    """The speed benchmark's styles, with trouble written in so every rule has work: a
    plateau at ln 10, a spike, then a NaN episode, and a late climb."""
    sys.path.insert(0, str(ROOT / "bench"))
    import parse_speed  # type: ignore[import-not-found]

    healthy = parse_speed._loss

    def troubled(i: int, rng: random.Random) -> float:
        value = float(healthy(i, rng))
        if 9_000 <= i < 9_400:
            return 2.3026 + rng.uniform(-0.001, 0.001)
        if i == 12_000:
            return 55.0
        if 15_000 <= i < 15_020:
            return math.nan
        return value * (1 + max(0, i - 18_000) / 200)

    parse_speed._loss = troubled
    try:
        for name, style in parse_speed.STYLES.items():
            rng = random.Random(7)
            path = folder / f"generated_{name}.log"
            with path.open("w") as out:
                for i in range(1, GENERATED_LINES + 1):
                    out.write(style(i, rng))
            yield path
    finally:
        parse_speed._loss = healthy


def inputs(scratch: Path) -> list[Path]:
    """Every log the check runs on, in a fixed order."""
    found: list[Path] = []
    for folder in (CORPUS, CORPUS / "real"):
        found += _labelled(folder)
    found += sorted((ROOT / "samples").glob("*.log"))
    found += sorted((ROOT / "tests" / "fixtures").rglob("*.log"))
    found += sorted((ROOT / "tests" / "data").glob("*.log"))
    found += _generated(scratch)
    return found


def _key(path: Path) -> str:
    for base in (CORPUS.parent, ROOT):
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return path.name


def reports(scratch: Path) -> dict[str, Any]:
    """Each input's reports under the default rules and under every rule."""
    every = Config(select=tuple(RULES))
    found: dict[str, Any] = {}
    for path in inputs(scratch):
        key = _key(path)
        for label, config in (("default", Config()), ("all", every)):
            report = analyze(read_file(str(path)), key, config)
            found[f"{key} [{label}]"] = json.loads(dumps(report_object(report)))
    return found


def _first_difference(old: Any, new: Any, where: str = "") -> str:
    if type(old) is not type(new):
        return f"{where}: {old!r} != {new!r}"
    if isinstance(old, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                return f"{where}.{key}: only in {'new' if key in new else 'saved'}"
            if old[key] != new[key]:
                return _first_difference(old[key], new[key], f"{where}.{key}")
    if isinstance(old, list):
        if len(old) != len(new):
            return f"{where}: {len(old)} items != {len(new)}"
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{where}[{i}]")
    if isinstance(old, float) and math.isclose(old, new):
        return ""
    return f"{where}: {old!r} != {new!r}"


_WORDING = ("title", "message", "remedies")


def facts(saved: Any, report: Any) -> Any:
    """``report`` as ``--facts`` compares it with ``saved``: only the keys ``saved`` has,
    and no diagnosis's wording (in both)."""
    if isinstance(saved, dict) and isinstance(report, dict):
        return {
            key: facts(saved[key], report[key])
            for key in saved
            if key in report and key not in _WORDING
        }
    if isinstance(saved, list) and isinstance(report, list) and len(saved) == len(report):
        return [facts(a, b) for a, b in zip(saved, report, strict=True)]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["save", "compare"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--facts", action="store_true", help="compare findings, not wording")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        found = reports(Path(scratch))
    saved = args.folder / "reports.json"
    if args.action == "save":
        args.folder.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(found, indent=1, sort_keys=True))
        print(f"saved the reports of {len(found)} runs to {saved}")
        return 0
    old = json.loads(saved.read_text())
    if args.facts:
        found = {
            key: facts(old[key], report) if key in old else report for key, report in found.items()
        }
        old = {key: facts(report, report) for key, report in old.items()}
    differ = [key for key in sorted(set(old) | set(found)) if old.get(key) != found.get(key)]
    for key in differ:
        print(f"DIFFERS {key}: {_first_difference(old.get(key), found.get(key))}")
    print(f"{len(found) - len(differ)} of {len(found)} runs give the saved report")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
