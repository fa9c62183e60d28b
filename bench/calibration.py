"""gradlog's accuracy on a generated, labelled corpus of training logs.

Usage: python bench/calibration.py [--out DIR] [--seeds N]

Simulates training runs (healthy ones, and ones that go wrong in a known way from a known
step), prints each in the style of a framework (HF Trainer, Keras 2, Lightning, nanoGPT,
llm.c, Megatron-LM, fairseq, mmengine, plain ``step N | loss X`` lines, ``Epoch N/M``
blocks), writes the logs and a ``labels.json`` into DIR (default: a temporary folder that
is removed afterwards), scores them with ``gradlog.eval`` and prints the accuracy table,
then every false alarm on a healthy log, every miss and every unexpected diagnosis on a
pathological log, with the message gradlog gave. Seeds 1..N make the corpus; the same
seeds give the same logs and the same report on every run (timings go to stderr).

Each seed gives 36 logs: 22 healthy runs (two or three per style) and one of each
pathology (the explosion to NaN twice); see ``corpus.py``, ``scenarios.py`` and
``profiles.py``, ``sudden.py``. The modules beside this one: ``simulate.py`` (the metric series),
``printing.py``, ``print_loops.py`` and ``print_lm.py`` (the framework styles),
``labels.py`` (what a log is labelled with).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from corpus import Case, cases, write

from gradlog.engine import analyze
from gradlog.eval import Tally, load_labels, score, table
from gradlog.model import Diagnosis, Severity
from gradlog.sources import read_file

DEFAULT_SEEDS = 8  # 288 logs: about 30 s of diagnosis on one core


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the corpus here and keep it")
    parser.add_argument(
        "--seeds", type=int, default=DEFAULT_SEEDS, help=f"seeds 1..N (default {DEFAULT_SEEDS})"
    )
    return parser.parse_args(argv)


def _header(corpus: list[Case], seeds: int) -> str:
    healthy = sum(case.scenario == "healthy" for case in corpus)
    styles = Counter(case.style for case in corpus)
    records = sum(case.records for case in corpus)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(styles.items()))
    return (
        f"gradlog calibration: {len(corpus)} generated logs from seeds 1-{seeds} "
        f"({healthy} healthy, {len(corpus) - healthy} pathological; {records:,} simulated "
        f"records)\nstyles: {counts}"
    )


def _by_scenario(corpus: list[Case], wrong: set[str]) -> str:
    """Logs per scenario and how many of them gradlog got exactly right."""
    total = Counter(case.scenario for case in corpus)
    right = Counter(case.scenario for case in corpus if case.name not in wrong)
    rows = ["| scenario | logs | exactly right |", "|---|---:|---:|"]
    rows += [f"| {name} | {total[name]} | {right[name]} |" for name in sorted(total)]
    return "\n".join(rows)


def _describe(diagnosis: Diagnosis) -> str:
    return (
        f"{diagnosis.id} {diagnosis.severity.name.lower()} from step {diagnosis.first_step}: "
        f"{diagnosis.message}"
    )


def _details(tally: Tally, corpus: list[Case], folder: Path) -> list[str]:
    """Each false alarm and miss, with gradlog's own message or the label's notes."""
    by_name = {case.name: case for case in corpus}
    problems: dict[str, list[tuple[str, str]]] = {}
    for miss in tally.misses:  # gradlog.eval writes "<log>: missed <id>" or "<log>: false <id>"
        name, _, what = miss.partition(": ")
        kind, _, rule = what.partition(" ")
        problems.setdefault(name, []).append((kind, rule))
    sections: dict[str, list[str]] = {"healthy": [], "missed": [], "false": []}
    for name, found in problems.items():
        case = by_name[name]
        report = analyze(read_file(str(folder / name)), name)
        where = f"{name} ({case.records} records)"
        for kind, rule in sorted(found):  # gradlog.eval lists them in set order
            if kind == "missed":
                text = f"{where}: missed {rule}; label: {case.label['notes']}"
                sections["missed"].append(text)
                continue
            hits = [d for d in report.diagnoses if d.id == rule and d.severity >= Severity.WARNING]
            text = f"{where}: " + " | ".join(_describe(d) for d in hits[:2])
            sections["healthy" if case.scenario == "healthy" else "false"].append(text)
    titles = {
        "healthy": "False alarms on healthy logs (warning or above)",
        "missed": "Misses (expected diagnoses gradlog did not give)",
        "false": "Unexpected diagnoses on pathological logs",
    }
    lines = []
    for key, title in titles.items():
        lines += ["", f"{title}: {len(sections[key])}"]
        lines += [f"  {text}" for text in sections[key]]
    return lines


def run(seeds: int, folder: Path) -> int:
    """Generate, write, score and report; return how many logs were not exactly right."""
    started = time.perf_counter()
    corpus = [case for seed in range(1, seeds + 1) for case in cases(seed)]
    labels = write(corpus, folder)
    generated = time.perf_counter()
    tally = Tally()
    for log, label in load_labels(labels):
        score(tally, log, label)
    scored = time.perf_counter()
    wrong = {miss.partition(": ")[0] for miss in tally.misses}
    print(_header(corpus, seeds))
    print()
    print(table(tally))
    print()
    print(_by_scenario(corpus, wrong))
    print("\n".join(_details(tally, corpus, folder)))
    print(
        f"generation {generated - started:.1f} s, diagnosis {scored - generated:.1f} s, "
        f"total {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return len(wrong)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.seeds < 1:
        print("--seeds must be at least 1", file=sys.stderr)
        return 2
    if args.out is not None:
        run(args.seeds, args.out)
        return 0
    with tempfile.TemporaryDirectory(prefix="gradlog-calibration-") as folder:
        run(args.seeds, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
