"""A labelled corpus: simulated runs printed in framework styles, with honest labels.

``cases(seed)`` returns the same logs for the same seed on every machine: every random
choice comes from one ``random.Random(seed)``. ``write`` puts them in a folder with a
``labels.json`` that ``python -m gradlog.eval`` reads.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from labels import Label, Need
from print_lm import PRINTERS as LM_PRINTERS
from print_loops import PRINTERS as LOOP_PRINTERS
from printing import GRAD, PARAM, SCALE, Printed, Printer, clock_text, tqdm_bar
from profiles import STYLES, benign, draw
from scenarios import SCENARIOS
from simulate import Run, add_scaler, fitting_scale, healthy

PRINTERS: dict[str, Printer] = {**LOOP_PRINTERS, **LM_PRINTERS}
HEALTHY_PER_SEED = 22  # with 14 pathological logs per seed, 61% of the corpus is healthy
# Pathological logs per seed; the explosion to NaN comes twice, being the commonest failure.
PATHOLOGIES = (
    "nan_explosion",
    "nan_explosion",
    "hidden_nan",
    "loss_spike",
    "lm_spike",
    "vanishing",
    "zero_lr",
    "oscillation",
    "divergence",
    "scale_collapse",
    "weight_growth",
    "overfitting",
    "large_update",
    "no_metrics",
)
_SCALER_STYLES = {
    "plain": ("deepspeed", "apex"),
    "hf": ("deepspeed",),
    "fairseq": ("fairseq",),
    "megatron": ("megatron",),
}


@dataclass
class Case:
    """One generated log and its label, as written to ``labels.json``."""

    name: str
    scenario: str
    style: str
    text: str
    label: dict[str, object]
    records: int


def _healthy(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    shape = draw(rng, style, limit)
    notes = benign(shape, rng, style)
    run = healthy(shape, rng)
    kinds = _SCALER_STYLES.get(style)
    if kinds and rng.random() < 0.4 and run.records * shape.interval <= 300_000:
        kind = rng.choice(kinds)
        add_scaler(run, rng, kind, fitting_scale(rng, kind))
        notes.append(f"fp16 ({kind}): scaler calibration overflows at the start, rare later")
    elif style in ("hf", "mmengine") and rng.random() < 0.25:
        for i in rng.sample(range(1, 6), rng.randint(1, 2)):
            run.grad[i] = math.inf  # AMP skipped an overflowed step; the loss is finite
        notes.append("AMP: one or two early records with an infinite grad norm")
    return run, Label([], None, "; ".join(["healthy", *notes]))


def _resolve(label: Label, printed: Printed, scenario: str) -> dict[str, object]:
    """The label as the printed log supports it: ids whose evidence it shows."""

    def shown(metric: Need) -> bool:
        return metric is None or metric in printed.shows

    expected = [rule for rule, metric in label.expected if shown(metric)]
    if label.expected and not expected:
        raise ValueError(f"{scenario}: nothing expected is visible in {printed.style}")
    bad = None if label.first_bad is None else printed.steps[label.first_bad]
    step = None if bad is None else int(bad) if bad == int(bad) else bad
    notes = label.describe.replace("{bad}", str(step))
    result: dict[str, object] = {
        "expected": expected or ["healthy"],
        "first_bad_step": step,
        "notes": f"{scenario} ({printed.style}): {notes}",
    }
    allowed = [
        {"id": rule, "severity": severity}
        for rule, severity, metric in label.allowed
        if shown(metric) and rule not in expected
    ]
    if allowed:
        result["allowed"] = allowed
    return result


def _no_metrics(rng: random.Random) -> tuple[list[str], dict[str, object]]:
    """sentence-transformers 2.x ``fit``: progress bars only, not one metric."""
    epochs, batches = rng.randint(1, 4), rng.choice((125, 250, 500))
    rate = rng.uniform(4, 12)
    lines = ["Some weights of the model checkpoint were not used when initializing BertModel"]
    for epoch in range(epochs):
        lines.append(
            f"Epoch: {int(100 * epoch / epochs):3d}%|{tqdm_bar(epoch, epochs)}| "
            f"{epoch}/{epochs} [00:00<?, ?it/s]"
        )
        for done in sorted(rng.sample(range(1, batches + 1), 5)):
            lines.append(
                f"Iteration: {int(100 * done / batches):3d}%|{tqdm_bar(done, batches)}|"
                f" {done}/{batches} [{clock_text(done / rate)}<"
                f"{clock_text((batches - done) / rate)}, {rate:.2f}it/s]"
            )
    label: dict[str, object] = {
        "expected": ["no_metrics"],
        "first_bad_step": None,
        "notes": "no_metrics (sentence-transformers 2.x): progress bars and no metric at all",
    }
    return lines, label


def _case(
    rng: random.Random, seed: int, index: int, scenario: str, style: str, limit: int | None
) -> Case:
    name = f"s{seed}-{index:02d}-{scenario}-{style}.log"
    if scenario == "no_metrics":
        lines, label = _no_metrics(rng)
        return Case(name, scenario, style, "\n".join(lines) + "\n", label, 0)
    needs: frozenset[str] = frozenset()
    if scenario == "healthy":
        run, raw = _healthy(rng, style, limit)
    else:
        run, raw = SCENARIOS[scenario].build(rng, style, limit)
        needs = SCENARIOS[scenario].needs | raw.needs
    printed = PRINTERS[style](run, rng, needs)
    if run.scaler and style in ("plain", "hf"):
        printed.shows.add(SCALE)  # the scaler speaks through DeepSpeed or apex lines
    missing = (needs & {GRAD, PARAM}) - printed.shows  # what the label relies on
    if missing:
        raise ValueError(f"{style} cannot print {sorted(missing)}")
    text = "\n".join(printed.lines) + "\n"
    return Case(name, scenario, style, text, _resolve(raw, printed, scenario), run.records)


def cases(seed: int, limit: int | None = None) -> list[Case]:
    """Every log of one seed: each pathology once (NaN twice), then healthy runs."""
    rng = random.Random(seed)
    plan: list[tuple[str, str]] = []
    for k, scenario in enumerate(PATHOLOGIES):
        styles = SCENARIOS[scenario].styles if scenario in SCENARIOS else ("sbert",)
        repeat = PATHOLOGIES[:k].count(scenario)  # a second log of a scenario: another style
        plan.append((scenario, styles[(seed - 1 + repeat * (len(styles) // 2)) % len(styles)]))
    for k in range(HEALTHY_PER_SEED):
        plan.append(("healthy", STYLES[(seed + k) % len(STYLES)]))
    return [
        _case(rng, seed, index, scenario, style, limit)
        for index, (scenario, style) in enumerate(plan, 1)
    ]


def write(corpus: list[Case], folder: Path) -> Path:
    """Write each log and a ``labels.json`` beside them; return the labels file."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in corpus:
        (folder / case.name).write_text(case.text, encoding="utf-8")
    labels = folder / "labels.json"
    labels.write_text(
        json.dumps({case.name: case.label for case in corpus}, indent=1) + "\n", encoding="utf-8"
    )
    return labels
