"""Accuracy on labelled logs: ``python -m gradlog.eval labels.json [...]``.

A labels file (or a folder of ``<case>.expected.json`` samples) maps each log, a path
relative to the labels file, to what it should yield: ``{"expected": [ids] or
["healthy"], "first_bad_step": N, "notes": "...", "select": [ids]}`` (``select``
runs only those rules, for rules that are off by default); a list of such objects with a
``file`` (or ``path``/``log``) key is read too. Prints, per diagnosis, recall and
precision at warning or above (``acceptable`` ids are neither misses nor false
alarms; ``plateau_chance`` and ``other:<id>`` name the rules ``chance_plateau`` and
``<id>``); false alarms on healthy logs; how many logs yielded a
loss series; and how many steps after the labelled first bad step each expected
diagnosis began.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradlog.config import Config
from gradlog.engine import analyze
from gradlog.model import Severity
from gradlog.sources import read_file


@dataclass
class Tally:
    """Counts over all labelled logs."""

    logs: int = 0
    with_loss: int = 0
    healthy: int = 0
    false_alarms: int = 0
    exact: int = 0
    true_pos: Counter[str] = field(default_factory=Counter)
    false_neg: Counter[str] = field(default_factory=Counter)
    false_pos: Counter[str] = field(default_factory=Counter)
    offsets: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


# Label ids of the shared corpus that name a rule by another id.
_LABEL_IDS = {"plateau_chance": "chance_plateau"}


def rule_id(label: str) -> str:
    """The rule id a label names: ``other:divergence`` -> ``divergence``."""
    label = label.removeprefix("other:")
    return _LABEL_IDS.get(label, label)


def load_labels(path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The (log path, label) pairs of a labels file, or of a folder of samples."""
    if path.is_dir():  # samples/<case>.log beside samples/<case>.expected.json
        return [
            (p.with_name(p.name.replace(".expected.json", ".log")), json.loads(p.read_text()))
            for p in sorted(path.glob("*.expected.json"))
        ]
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("logs"), (list, dict)):
        data = data["logs"]
    items = (
        data.items()
        if isinstance(data, dict)
        else ((entry.get("file") or entry.get("path") or entry.get("log"), entry) for entry in data)
    )
    return [(path.parent / name, label) for name, label in items if isinstance(label, dict)]


def score(tally: Tally, log: Path, label: dict[str, Any]) -> None:
    """Diagnose one labelled log and add it to the tally."""
    config = Config(select=tuple(label.get("select", ())))  # rules off by default, if named
    report = analyze(read_file(str(log)), str(log), config)
    tally.logs += 1
    tally.with_loss += "loss" in report.input.metrics
    expected = {rule_id(x) for x in label.get("expected", [])} - {"healthy"}
    acceptable = {rule_id(x) for x in label.get("acceptable", [])}
    allowed = {item["id"]: Severity.parse(item["severity"]) for item in label.get("allowed", [])}
    found = {
        d.id
        for d in report.diagnoses
        if d.severity >= Severity.WARNING
        and not (d.id not in expected and d.severity <= allowed.get(d.id, Severity.INFO))
    }
    found -= acceptable - expected  # arguably shown: neither a miss nor a false alarm
    if not expected:
        tally.healthy += 1
        tally.false_alarms += bool(found)
    tally.exact += found == expected
    for rule in expected & found:
        tally.true_pos[rule] += 1
    for rule in expected - found:
        tally.false_neg[rule] += 1
        tally.misses.append(f"{log.name}: missed {rule}")
    for rule in found - expected:
        tally.false_pos[rule] += 1
        tally.misses.append(f"{log.name}: false {rule}")
    bad = label.get("first_bad_step")
    starts = [
        d.first_step for d in report.diagnoses if d.id in expected and d.first_step is not None
    ]
    if isinstance(bad, (int, float)) and starts:
        tally.offsets.append(float(min(starts)) - bad)


def table(tally: Tally) -> str:
    """The tally as a Markdown table plus summary lines."""
    rows = [
        "| diagnosis | labelled | found | recall | false alarms | precision |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule in sorted(set(tally.true_pos) | set(tally.false_neg) | set(tally.false_pos)):
        tp, fn, fp = tally.true_pos[rule], tally.false_neg[rule], tally.false_pos[rule]
        recall = f"{tp / (tp + fn):.2f}" if tp + fn else "-"
        precision = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
        rows.append(f"| `{rule}` | {tp + fn} | {tp} | {recall} | {fp} | {precision} |")
    offsets = sorted(tally.offsets)
    lines = [
        *rows,
        "",
        f"logs: {tally.logs}; with a loss series: {tally.with_loss}; exactly right: {tally.exact}",
        f"healthy logs: {tally.healthy}; with a false alarm (warning or above): "
        f"{tally.false_alarms}",
    ]
    if offsets:
        lines.append(
            f"first-bad-step error (diagnosed minus labelled, in steps): median "
            f"{offsets[len(offsets) // 2]:g}, worst {max(offsets, key=abs):g}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m gradlog.eval LABELS.json|SAMPLES_DIR [...]", file=sys.stderr)
        return 2
    tally = Tally()
    for name in args:
        for log, label in load_labels(Path(name)):
            score(tally, log, label)
    print(table(tally))
    for miss in tally.misses:
        print(f"  {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
