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
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradlog.config import Config
from gradlog.engine import analyze
from gradlog.model import Severity, Step
from gradlog.parse.reader import LogReader
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
    offsets: list[int] = field(default_factory=list)
    incomparable: list[str] = field(default_factory=list)  # label step not found in the log
    late: list[str] = field(default_factory=list)  # first diagnoses more than 2 records off
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
        (d.line, d.first_step) for d in report.diagnoses if d.id in expected & found and d.line
    ]
    if isinstance(bad, (int, float)) and starts:
        offset = record_offset(log, min(starts), bad, label.get("step_unit"))
        if offset is None:
            tally.incomparable.append(log.name)
        else:
            tally.offsets.append(offset)
            if abs(offset) > 2:
                tally.late.append(f"{log.name}: first diagnosis {offset:+d} records off")


def record_offset(
    log: Path, start: tuple[int, Step | None], bad: float, unit: object
) -> int | None:
    """Records between the labelled first bad step and the first diagnosis (its line and
    step: a progress bar's redraws share one line).

    The label counts as the log prints: a step, an epoch or a global step. An ``epoch``
    label is compared in epochs. Otherwise its record is the first whose printed step
    equals it, else whose epoch does, else whose log line prints the number; None when
    no record matches (a log whose steps gradlog numbered itself).
    """
    reader = LogReader()
    records = []
    texts: dict[int, str] = {}
    for number, raw in enumerate(read_file(str(log)), 1):
        texts[number] = raw
        records += reader.feed(number, raw)
    records += reader.flush()
    if not records:
        return None
    line, step = start
    at = next(
        (i for i, r in enumerate(records) if r.line == line and r.step == step),
        next((i for i, r in enumerate(records) if r.line >= line), len(records) - 1),
    )
    epoch = records[at].epoch
    if unit == "epoch" and epoch is not None:
        epochs = list(dict.fromkeys(r.epoch for r in records if r.epoch is not None))
        return epochs.index(epoch) - epochs.index(bad) if bad in epochs else None
    # Steps gradlog numbered itself (the log prints none) are not the label's steps.
    numbered = reader.mostly_numbered(len(records))
    by_step = [] if numbered else [i for i, r in enumerate(records) if r.step == bad]
    by_epoch = (
        []
        if unit in ("step", "global_step")
        else [i for i, r in enumerate(records) if r.epoch == bad]
    )
    token = re.compile(rf"(?<![\d.]){int(bad)}(?![\d.])") if bad == int(bad) else None
    # A step label for a log without printed steps (HF: logging_steps x the line's
    # index) cannot be placed from the log alone.
    printed = not (numbered and unit in ("step", "global_step"))
    by_text = [
        i for i, r in enumerate(records) if printed and token and token.search(texts[r.line])
    ]
    matches = next((m for m in (by_step, by_epoch, by_text) if m), None)
    return None if matches is None else at - matches[0]


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
        near = sum(abs(o) <= 2 for o in offsets)
        lines.append(
            f"first diagnosis against the labelled first bad step, in records: "
            f"{near} of {len(offsets)} within 2 records ({near / len(offsets):.0%}); "
            f"median {offsets[len(offsets) // 2]:+g}, worst {max(offsets, key=abs):+g}"
        )
    if tally.incomparable:
        lines.append(
            f"not comparable (the log prints no step the label's matches): "
            f"{', '.join(tally.incomparable)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    usage = "usage: python -m gradlog.eval LABELS.json|SAMPLES_DIR [...]"
    if not args or args[0] in ("-h", "--help"):
        print(usage, file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    tally = Tally()
    for name in args:
        try:
            labelled = load_labels(Path(name))
        except (OSError, UnicodeDecodeError, ValueError) as error:  # (JSON errors too)
            print(f"gradlog.eval: cannot read labels {name!r}: {error}", file=sys.stderr)
            return 2
        for log, label in labelled:
            try:
                score(tally, log, label)
            except OSError as error:  # a labelled log that is missing or unreadable
                print(f"gradlog.eval: cannot read log {str(log)!r}: {error}", file=sys.stderr)
                return 2
    print(table(tally))
    for miss in [*tally.misses, *tally.late]:
        print(f"  {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
