"""Pathological runs with a known first bad record, and the registry of all scenarios.

Each scenario starts from a healthy simulated run and changes it from a chosen record on
(see ``labels.py`` for what a label promises). The slow failures live here: vanishing
gradients at chance, a zero learning rate, oscillation, divergence, weight growth,
overfitting, updates too large for the weights; the sudden ones in ``sudden.py``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from labels import Label, Need, flat_at_chance, median, onset, refresh
from printing import GRAD, LOSS, LR, PARAM, VAL
from profiles import STYLES, VOCAB, draw, loguniform
from simulate import Run, healthy, lognormal
from sudden import hidden_nan, lm_spike, loss_spike, nan_explosion, scale_collapse

Build = Callable[[random.Random, str, "int | None"], tuple[Run, Label]]


@dataclass(frozen=True)
class Scenario:
    """A pathology, the printing styles that can show it, and what they must print."""

    name: str
    styles: tuple[str, ...]
    build: Build
    needs: frozenset[str] = frozenset()


def _k_way(rng: random.Random, style: str, limit: int | None) -> Run:
    """A healthy run of a K-way classifier or language model in ``style``."""
    shape = draw(rng, style, limit)
    if shape.classes < 2:
        shape.classes = rng.choice((2, 10)) if style == "hf" else rng.choice((100, 1000))
        shape.start = math.log(shape.classes)
    return healthy(shape, rng)


def vanishing(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """Saturated units: grad norm 1e-5..1e-3, loss frozen at ln K from the first record."""
    run = _k_way(rng, style, limit)
    flat_at_chance(run, rng, rng.uniform(0.0, 0.002), rng.uniform(0.0005, 0.002))
    tiny = 10 ** rng.uniform(-5, -3.2)
    for i in range(run.records):
        run.grad[i] = tiny * lognormal(rng, 0.1)
        run.param[i] = run.shape.param0 * (1 + 1e-6 * i)
    describe = (
        f"loss frozen at ln({run.shape.classes}) from step {{bad}}, grad_norm ~{tiny:.1e}, "
        "weights not moving"
    )
    expected: list[tuple[str, Need]] = [("vanishing_gradient", GRAD), ("chance_plateau", LOSS)]
    return run, Label(expected, 0, describe)


def zero_lr(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """A scheduler bug: the learning rate is 0 throughout and the loss stays at chance."""
    run = _k_way(rng, style, limit)
    lm = run.shape.classes == VOCAB
    above = rng.uniform(0.005, 0.02) if lm else rng.uniform(0.0, 0.004)  # LMs init above ln V
    flat_at_chance(run, rng, above, rng.uniform(0.001, 0.006))
    for i in range(run.records):
        run.lr[i] = 0.0
        run.grad[i] = run.shape.grad_level * lognormal(rng, run.shape.grad_noise)
        run.param[i] = run.shape.param0
    describe = (
        f"learning rate 0 from step {{bad}}: the loss sits at {above:.1%} above "
        f"ln({run.shape.classes}) with normal gradients"
    )
    # A zero learning rate is also `stalled`, where the log prints the learning rate.
    return run, Label([("chance_plateau", LOSS), ("stalled", LR)], 0, describe)


def oscillation(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """Period-2 alternation with large swings and no progress, from a chosen record on."""
    shape = draw(rng, style, limit)
    shape.noise = rng.uniform(0.004, 0.02)
    run = healthy(shape, rng)
    bad = onset(rng, run, 0.3, 0.6, tail=12)
    level = median(run.loss[bad - 3 : bad])
    swing = rng.uniform(0.15, 0.35)
    for i in range(bad, run.records):
        sign = 1 if (i - bad) % 2 == 0 else -1
        run.level[i] = level * (1 + sign * swing)
        run.loss[i] = run.level[i] * lognormal(rng, 0.01)
        run.grad[i] *= 2.0 + 0.5 * sign
    refresh(run, bad, rng)
    describe = (
        f"from step {{bad}} the loss alternates between {level * (1 - swing):.3g} and "
        f"{level * (1 + swing):.3g} every record, with no progress"
    )
    return run, Label([("oscillation", LOSS)], bad, describe)


def divergence(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """After its best, the loss climbs steadily to 3-6x that level and stays there."""
    shape = draw(rng, style, limit)
    shape.floor = max(shape.floor, shape.start * rng.uniform(0.2, 0.35))
    shape.noisy_batches = 0.0
    run = healthy(shape, rng)
    bad = onset(rng, run, 0.35, 0.65, tail=10)
    best = run.level[bad]
    # Sometimes the model is thrown back to uniform predictions (ln K), if that is far enough.
    collapse = shape.classes >= 2 and rng.random() < 0.2 and best * 2.5 <= math.log(shape.classes)
    top = math.log(shape.classes) if collapse else best * rng.uniform(3.0, 6.0)
    ramp = max(5, int((run.records - bad) * rng.uniform(0.3, 0.7)))
    lift = rng.uniform(1.2, 2.5)
    for i in range(bad + 1, run.records):
        share = min(1.0, (i - bad) / ramp)
        run.level[i] = best * (top / best) ** share
        run.loss[i] = run.level[i] * lognormal(rng, shape.noise)
        run.grad[i] *= 1 + (lift - 1) * share
    refresh(run, bad, rng)
    describe = (
        f"best level {best:.3g} at step {{bad}}, then a steady climb to {top:.3g} "
        f"({top / best:.1f}x) over {ramp} records, staying there"
    )
    # A classifier pushed back to (or past) ln K predicts at chance: that is a fair reading too.
    near_chance = shape.classes >= 2 and top >= 0.9 * math.log(shape.classes)
    allowed: list[tuple[str, str, Need]] = [("chance_plateau", "error", LOSS)]
    return run, Label([("divergence", LOSS)], bad, describe, allowed if near_chance else [])


def weight_growth(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """The weight norm grows geometrically, 15-300x by the end, while the loss looks fine."""
    run = healthy(draw(rng, style, limit), rng)
    bad = onset(rng, run, 0.2, 0.5, tail=12)
    growth = loguniform(rng, 15, 300)
    rate = math.log(growth) / (run.records - 1 - bad)
    base = run.param[bad]
    for i in range(bad, run.records):
        run.param[i] = base * math.exp(rate * (i - bad)) * (1 + rng.gauss(0, 1e-3))
    describe = f"param_norm grows geometrically from step {{bad}}, {growth:.0f}x by the end"
    return run, Label([("weight_growth", PARAM)], bad, describe)


def _evaluated(rng: random.Random, style: str, limit: int | None) -> Run:
    """A run that learns far (its floor is low) with 10-30 evaluations along the way."""
    shape = draw(rng, style, limit)
    shape.floor = shape.start * rng.uniform(0.005, 0.1)
    shape.noisy_batches = 0.0
    if style in ("lightning", "fairseq"):  # these evaluate at the end of each epoch
        shape.steps_per_epoch = shape.interval * max(2, shape.records // rng.randint(10, 25))
        shape.eval_every = shape.steps_per_epoch // shape.interval
    elif style in ("keras", "epoch"):
        shape.eval_every = 1
    else:
        shape.eval_every = max(1, shape.records // rng.randint(10, 30))
    return healthy(shape, rng)


def overfitting(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """Validation turns up at its best evaluation while training keeps falling."""
    for _ in range(20):
        run = _evaluated(rng, style, limit)
        evals, end = sorted(run.val), run.level[-1]
        # Turning points: the training loss still has 30% to fall, 3+ evaluations before.
        turns = [e for e in evals[3:] if run.level[e] >= 1.3 * end]
        if len(evals) >= 8 and turns and len(evals) - evals.index(turns[-1]) >= 5:
            break
    else:
        raise RuntimeError(f"no run with room to overfit in {style}")
    best = turns[min(len(turns) - 1, rng.randint(0, max(0, len(turns) // 2)))]
    rise, bend = rng.uniform(0.25, 1.0), rng.uniform(0.8, 1.5)
    floor = run.val[best]
    for e in evals:
        if e > best:  # already 6% up at the next evaluation, then a smooth climb
            share = (e - best) / max(1, run.records - 1 - best)
            run.val[e] = floor * (1 + 0.06 + rise * share**bend) * lognormal(rng, 0.01)
    describe = (
        f"val_loss is lowest at step {{bad}} and then rises to about {1 + rise:.2f}x that "
        "while the training loss keeps falling"
    )
    return run, Label([("overfitting", VAL)], best, describe)


def large_update(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """SGD at a high rate: lr x grad_norm / param_norm stays at 0.15-0.45 after warm-up."""
    shape = draw(rng, style, limit)
    shape.schedule, shape.peak_lr = "constant", rng.uniform(0.5, 1.0)
    shape.warmup = max(3, int(shape.records * rng.uniform(0.03, 0.1)))
    shape.param0, shape.param_gain = rng.uniform(8, 40), 0.05
    ratio = rng.uniform(0.15, 0.6 * shape.peak_lr)  # the grad norm stays below the weights'
    shape.grad_level, shape.grad_warm = ratio * shape.param0 / shape.peak_lr, 1.2
    shape.grad_noise = 0.1
    shape.noise = rng.uniform(0.05, 0.15)
    run = healthy(shape, rng)
    bad = next(i for i in range(run.records) if run.lr[i] * run.grad[i] / run.param[i] > 0.1)
    describe = f"from step {{bad}} each update is about {ratio:.2f} of the weight norm"
    return run, Label([("large_update", GRAD)], bad, describe)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "nan_explosion",
            STYLES,
            nan_explosion,
        ),
        Scenario("hidden_nan", ("hf",), hidden_nan, frozenset({GRAD})),
        Scenario("loss_spike", ("plain", "hf", "mmengine", "lightning"), loss_spike),
        Scenario("lm_spike", ("nanogpt", "llmc", "megatron"), lm_spike),
        Scenario(
            "vanishing",
            ("plain", "epoch", "hf", "megatron", "llmc", "fairseq", "mmengine"),
            vanishing,
            frozenset({GRAD}),
        ),
        Scenario(
            "zero_lr",
            (
                "plain",
                "hf",
                "megatron",
                "llmc",
                "mmengine",
                "epoch",
                "keras",
                "lightning",
                "nanogpt",
            ),
            zero_lr,
            frozenset({LR}),
        ),
        Scenario("oscillation", ("epoch", "keras", "plain", "hf", "mmengine"), oscillation),
        Scenario(
            "divergence",
            STYLES,
            divergence,
        ),
        Scenario("scale_collapse", ("plain", "fairseq", "megatron", "hf"), scale_collapse),
        Scenario(
            "weight_growth", ("plain", "epoch", "megatron"), weight_growth, frozenset({PARAM})
        ),
        Scenario(
            "overfitting",
            (
                "keras",
                "epoch",
                "hf",
                "lightning",
                "nanogpt",
                "fairseq",
                "plain",
                "llmc",
                "megatron",
            ),
            overfitting,
        ),
        Scenario("large_update", ("plain",), large_update, frozenset({LR, GRAD, PARAM})),
    )
}
