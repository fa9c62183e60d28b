"""Sudden failures: an explosion to NaN, a NaN hidden by HF Trainer, spikes that recover
(a large one, and a language model's), and an fp16 loss-scale collapse.

Each starts from a healthy simulated run and breaks it at a chosen record; its label says
what a careful practitioner would expect from the printed log (see ``labels.py``).
"""

from __future__ import annotations

import math
import random

from labels import Label, Need, cut, median, onset, refresh
from printing import GRAD, LOSS, SCALE
from profiles import VOCAB, draw, loguniform
from simulate import NAN, Run, add_scaler, fitting_scale, healthy, lognormal

# A grad norm that jumps with the loss is an exploding gradient for that step: acceptable.
_SPIKE_ALLOWED: list[tuple[str, str, Need]] = [("exploding_gradient", "error", GRAD)]


def nan_explosion(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """Grad norm rises 10-1000x over a few records, the loss jumps, then NaN."""
    run = healthy(draw(rng, style, limit), rng)
    ramp = rng.choice((0, 1, 2, 3, 3))
    bad = onset(rng, run, 0.3, 0.85, tail=ramp + 1)
    loss0, grad0 = median(run.loss[bad - 8 : bad]), median(run.grad[bad - 8 : bad])
    # The loss before NaN may pass chance (confidently wrong) but stays under 5x the start.
    jump = loguniform(rng, 4, max(4.0, min(30.0, 5 * run.shape.start / loss0)))
    growth = loguniform(rng, 10, 1000)
    for j in range(ramp):
        share = (j + 1) / ramp
        run.level[bad + j] = loss0 * jump**share
        run.loss[bad + j] = run.level[bad + j] * lognormal(rng, 0.05)
        run.grad[bad + j] = grad0 * growth**share
    start = bad + ramp
    for i in range(start, run.records):
        run.loss[i] = run.level[i] = run.grad[i] = run.param[i] = NAN
    refresh(run, bad, rng)
    cut(run, min(run.records, start + rng.randint(1, 40)))
    aborts = {"keras": 0.4, "fairseq": 0.5}.get(style, 0.0)  # TerminateOnNaN, fp32 fairseq
    if rng.random() < aborts:
        run.stop = start
        cut(run, start + 1)
    # HF prints a NaN loss as 0.0: only a NaN grad norm beside it tells (FORMATS.md, traps).
    needs = frozenset({GRAD}) if style == "hf" else frozenset()
    if ramp:
        expected: list[tuple[str, Need]] = [
            ("nan", None),
            ("loss_spike", LOSS),
            ("exploding_gradient", GRAD),
        ]
        describe = (
            f"from step {{bad}} the loss rises {jump:.0f}x and grad_norm {growth:.0f}x over "
            f"{ramp} record(s), then NaN"
        )
        # A loss climbing 5-10x over several records before the NaN is a divergence too.
        ramped: list[tuple[str, str, Need]] = [("divergence", "error", LOSS)]
        return run, Label(expected, bad, describe, ramped, needs=needs)
    describe = "NaN from step {bad} with no warning in the records before"
    allowed: list[tuple[str, str, Need]] = [("exploding_gradient", "error", GRAD)]
    return run, Label([("nan", None)], bad, describe, allowed, needs)


def hidden_nan(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """HF Trainer: the loss turns NaN and is printed as 0.0 beside a NaN grad norm."""
    run = healthy(draw(rng, style, limit), rng)
    bad = onset(rng, run, 0.3, 0.8, tail=3)
    mixed = rng.random() < 0.5  # the first window still averages some finite losses
    for i in range(bad, run.records):
        run.grad[i] = NAN
        if i > bad or not mixed:
            run.loss[i] = NAN
    run.loss[bad] *= 0.97 if mixed else 1.0
    for i in [k for k in run.val if k >= bad]:
        run.val[i] = NAN
    cut(run, min(run.records, bad + rng.randint(3, 40)))
    window = "a normal-looking mean beside grad_norm nan, then " if mixed else ""
    describe = f"from step {{bad}}: {window}'loss': 0.0 beside 'grad_norm': nan (hidden NaN)"
    return run, Label([("nan", None)], bad, describe)


def loss_spike(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """One large spike (12-50x) that recovers within a few records."""
    for _ in range(20):
        shape = draw(rng, style, limit)
        shape.floor = shape.start * rng.uniform(0.01, 0.06)  # low enough for a 12x+ spike
        run = healthy(shape, rng)
        n = run.records
        # Where 12x the level stays under 4x the starting loss (a confidently wrong model).
        room = [
            i
            for i in range(max(10, int(0.3 * n)), int(0.85 * n) - 6)
            if median(run.loss[i - 8 : i]) * 3 <= shape.start
        ]
        if room:
            break
    else:
        raise RuntimeError(f"no run low enough for a large spike in {style}")
    bad = rng.choice(room)
    level = median(run.loss[bad - 8 : bad])
    factor = min(loguniform(rng, 12, 50), 4 * shape.start / level)
    run.loss[bad] = level * factor
    wide = rng.random() < 0.4
    if wide:
        run.loss[bad + 1] = level * factor * rng.uniform(0.15, 0.35)
    for j in range(2 if wide else 1, 6):
        run.loss[bad + j] *= 1 + 0.3 * math.exp(-j / 1.5)  # the damage fades
    kick = loguniform(rng, 5, 100)
    run.grad[bad] *= kick
    refresh(run, bad, rng)
    describe = (
        f"the loss jumps {factor:.0f}x at step {{bad}} and recovers within a few records; "
        f"grad_norm x{kick:.0f} at the spike"
    )
    return run, Label([("loss_spike", LOSS)], bad, describe, _SPIKE_ALLOWED)


def lm_spike(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """A language model's spike: 2.4-3.2x its level (near ln V at most), then recovery."""
    run = healthy(draw(rng, style, limit), rng)
    bad = onset(rng, run, 0.5, 0.9, tail=6)
    level = median(run.loss[bad - 8 : bad])
    peak = min(level * rng.uniform(2.4, 3.2), math.log(VOCAB) * rng.uniform(1.0, 1.15))
    width = rng.choice((1, 2, 3))
    for j in range(width):
        run.loss[bad + j] = run.level[bad + j] = level * (peak / level) ** (0.5**j)
    kick = loguniform(rng, 5, 50)
    run.grad[bad] *= kick
    describe = (
        f"the loss jumps {peak / level:.1f}x ({level:.2f} -> {peak:.2f}) at step {{bad}} for "
        f"{width} record(s), then recovers; grad_norm x{kick:.0f}"
    )
    return run, Label([("loss_spike", LOSS)], bad, describe, _SPIKE_ALLOWED)


_SCALER_OF = {"hf": "deepspeed", "fairseq": "fairseq", "megatron": "megatron"}


def scale_collapse(rng: random.Random, style: str, limit: int | None) -> tuple[Run, Label]:
    """fp16: from a chosen record the gradients overflow ever more often; the scale falls to 1."""
    shape = draw(rng, style, limit)
    shape.records = min(shape.records, max(60, 200_000 // shape.interval))
    run = healthy(shape, rng)
    kind = _SCALER_OF.get(style) or rng.choice(("deepspeed", "apex"))
    fit = fitting_scale(rng, kind)
    bad = onset(rng, run, 0.4, 0.75, tail=8)
    # Fast enough to reach the floor before the log ends: log2(fit) halvings and a few more.
    room = (run.records - bad - 4) * shape.interval / (math.log2(fit) + 16)
    add_scaler(run, rng, kind, fit, collapse=bad, halving=min(rng.uniform(2, 12), room))
    for i in range(bad, run.records):  # skipped updates: the model stops changing
        run.level[i] = run.level[bad]
        run.loss[i] = run.level[i] * lognormal(rng, shape.noise)
        run.grad[i] *= 1 + 2 * (i - bad) / max(1, run.records - bad)
    refresh(run, bad, rng)
    low = next((i for i, s in enumerate(run.scale) if i >= bad and s <= 1), run.records - 1)
    gives_up = kind == "fairseq" or (kind == "deepspeed" and rng.random() < 0.5)
    if gives_up and run.at_minimum:
        run.stop = min(i for i in run.at_minimum if i >= bad)
        cut(run, run.stop + 1)
    else:
        cut(run, min(run.records, low + rng.randint(3, 30)))
    describe = (
        f"{kind} loss scale settled near {fit:g}; from step {{bad}} overflows recur and the "
        "scale halves down to its floor"
    )
    return run, Label([("loss_scale_collapse", SCALE)], bad, describe)
