"""Typical runs per printing style: what each framework is usually used to train.

Each style gets a ``Shape`` drawn from ranges that match the runs its logs come from:
nanoGPT, llm.c and Megatron pretrain language models from ln(50257); HF Trainer
fine-tunes (starting far below chance) or trains small classifiers; Keras and ``Epoch N/M``
loops print one smooth record per epoch; fairseq prints interval means in bits.
"""

from __future__ import annotations

import math
import random

from simulate import Shape

VOCAB = 50257  # GPT-2's vocabulary: ln 50257 = 10.825 is an untrained LM's loss
CLASS_COUNTS = (2, 10, 10, 100, 1000)
PER_EPOCH = ("epoch", "keras")  # styles with one record per epoch
STYLES = (
    "plain",
    "epoch",
    "keras",
    "lightning",
    "mmengine",
    "hf",
    "nanogpt",
    "llmc",
    "megatron",
    "fairseq",
)


def loguniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def records(rng: random.Random, low: int, high: int, limit: int | None) -> int:
    """A log length, log-uniform (most logs are short, a few very long), under ``limit``."""
    count = round(loguniform(rng, low, high))
    return min(count, limit) if limit else count


def chance_start(classes: int, rng: random.Random, above: float = 0.004) -> float:
    """An untrained K-way classifier's loss: ln K, or a little above it."""
    return math.log(classes) * (1 + rng.uniform(0.0, above))


def _decay(shape: Shape, rng: random.Random, power_law: float) -> None:
    if rng.random() < power_law:
        shape.power = rng.uniform(0.4, 1.0)
        shape.tau = shape.records * rng.uniform(0.005, 0.05)
    else:
        shape.tau = shape.records * rng.uniform(0.08, 0.3)


def _per_epoch(rng: random.Random, style: str, limit: int | None) -> Shape:
    n = min(rng.randint(30, 150), limit or 10**9)
    classes = rng.choice((2, 10, 10, 100))
    per_epoch = rng.choice((79, 157, 235, 391, 469, 938, 1563))
    shape = Shape(
        records=n,
        interval=per_epoch,
        classes=classes,
        start=chance_start(classes, rng),
        floor=math.log(classes) * rng.uniform(0.02, 0.35),
        noise=rng.uniform(0.004, 0.02),
        schedule=rng.choice(("constant", "step", "cosine")),
        peak_lr=1e-3 if style == "keras" else rng.choice((0.1, 0.05, 1e-3)),
        grad_level=rng.uniform(0.5, 5.0),
        grad_warm=rng.uniform(1.5, 4.0),
        grad_noise=0.05,
        param0=rng.uniform(10, 200),
        param_gain=rng.uniform(0.05, 0.5),
        eval_every=1 if rng.random() < 0.85 else 0,
        val_gap=rng.uniform(0.03, 0.15),
        val_noise=rng.uniform(0.005, 0.015),
        batch=10000,
        steps_per_epoch=per_epoch,
    )
    _decay(shape, rng, 0.2)
    return shape


def _vision(rng: random.Random, style: str, limit: int | None) -> Shape:
    """Custom loops, Lightning and mmengine: classifiers or detectors, per step or interval."""
    detect = style == "mmengine" and rng.random() < 0.6
    classes = 0 if detect else rng.choice(CLASS_COUNTS)
    interval = {
        "plain": rng.choice((1, 1, 10, 50, 100)),
        "lightning": rng.choice((10, 20, 50)),
        "mmengine": rng.choice((10, 20, 50, 50)),
    }[style]
    n = records(rng, 40 if style != "plain" else 30, 2500, limit)
    start = rng.uniform(2.0, 4.5) if detect else chance_start(classes, rng)
    per_step = interval == 1 or style == "lightning"
    shape = Shape(
        records=n,
        interval=interval,
        classes=classes,
        start=start,
        floor=start * rng.uniform(0.05, 0.35),
        noise=rng.uniform(0.05, 0.25) if per_step else rng.uniform(0.02, 0.08),
        schedule=rng.choice(("cosine", "step", "constant")),
        peak_lr=rng.choice((0.1, 0.02, 1e-3, 3e-4)),
        warmup=int(n * rng.uniform(0.0, 0.05)),
        grad_level=rng.uniform(2, 15) if detect else rng.uniform(0.5, 5.0),
        grad_warm=rng.uniform(1.5, 4.0) if detect else rng.uniform(2.0, 6.0),
        grad_noise=rng.uniform(0.1, 0.3) if per_step else rng.uniform(0.05, 0.12),
        param0=rng.uniform(20, 300),
        param_gain=rng.uniform(0.02, 0.4),
        val_gap=rng.uniform(0.03, 0.12),
        val_noise=rng.uniform(0.005, 0.02),
        batch=rng.choice((32, 64, 128, 256)) * (1 if per_step else interval),
        steps_per_epoch=interval * rng.randint(6, 40),
    )
    if style == "lightning" and rng.random() < 0.7:
        shape.eval_every = shape.steps_per_epoch // interval  # validation at epoch end
    elif style == "plain" and rng.random() < 0.4:
        shape.eval_every = max(1, n // rng.randint(8, 30))
    _decay(shape, rng, 0.3)
    return shape


def _language(rng: random.Random, style: str, limit: int | None) -> Shape:
    """HF fine-tunes and classifiers; nanoGPT, llm.c, Megatron and fairseq pretraining."""
    finetune = style == "hf" and rng.random() < 0.7
    classes = rng.choice((2, 10)) if style == "hf" and not finetune else VOCAB
    if finetune:
        classes = 0
    interval = {
        "hf": rng.choice((5, 10, 10, 25, 50)),
        "nanogpt": rng.choice((1, 10, 10)),
        "llmc": 1,
        "megatron": rng.choice((1, 10, 10, 100)),
        "fairseq": rng.choice((50, 100, 100)),
    }[style]
    low, high = {"llmc": (100, 5000), "megatron": (50, 2000)}.get(style, (30, 1500))
    n = records(rng, low, high, limit)
    if finetune:
        start = rng.uniform(1.5, 3.5)
        floor = start * rng.uniform(0.1, 0.5)
    elif classes == VOCAB:
        start = chance_start(classes, rng, above=0.02)  # untrained LMs start at ln V or a bit up
        floor = rng.uniform(2.6, 4.0)
    else:
        start = chance_start(classes, rng)
        floor = start * rng.uniform(0.05, 0.4)
    per_step = interval == 1 or style == "nanogpt"
    shape = Shape(
        records=n,
        interval=interval,
        classes=classes,
        start=start,
        floor=floor,
        noise=rng.uniform(0.015, 0.05) if per_step else rng.uniform(0.008, 0.04),
        schedule="linear" if style == "hf" else rng.choice(("cosine", "cosine", "linear")),
        peak_lr=rng.uniform(1e-5, 5e-5) if style == "hf" else rng.uniform(1.5e-4, 6e-4),
        warmup=int(n * rng.uniform(0.0, 0.1)),
        grad_level=rng.uniform(0.2, 1.0) if classes == VOCAB else rng.uniform(0.5, 8.0),
        grad_warm=rng.uniform(2.0, 10.0),
        grad_noise=rng.uniform(0.05, 0.2),
        param0=rng.uniform(200, 2000),
        param_gain=rng.uniform(0.02, 0.2),
        val_gap=rng.uniform(0.01, 0.08),
        val_noise=rng.uniform(0.003, 0.01),
        batch=512,
        steps_per_epoch=interval * rng.randint(8, 200),
    )
    if style == "fairseq":
        shape.eval_every = shape.steps_per_epoch // interval
    elif rng.random() < 0.7:
        shape.eval_every = max(1, n // rng.randint(5, 30))
    _decay(shape, rng, 0.7 if classes == VOCAB else 0.3)
    return shape


def draw(rng: random.Random, style: str, limit: int | None = None) -> Shape:
    """A healthy run's shape for logs printed in ``style``; ``limit`` caps the length."""
    if style in PER_EPOCH:
        shape = _per_epoch(rng, style, limit)
    elif style in ("plain", "lightning", "mmengine"):
        shape = _vision(rng, style, limit)
    else:
        shape = _language(rng, style, limit)
    shape.lr_bump = rng.uniform(0.05, 0.3)
    # Weights outweigh gradients by an order of magnitude or more in real networks.
    shape.param0 = max(shape.param0, 12 * shape.grad_level * shape.grad_warm)
    return shape


def benign(shape: Shape, rng: random.Random, style: str) -> list[str]:
    """Add harmless events a healthy run may show; return a note for each."""
    notes = []
    k_way = shape.classes >= 2
    if k_way and rng.random() < 0.15:
        shape.slow_start = rng.randint(3, max(3, min(15, shape.records // 6)))
        shape.start = math.log(shape.classes) * 1.001
        notes.append(f"slow start: {shape.slow_start} records at ln K before learning")
    per_step = shape.interval == 1 or style in ("nanogpt", "lightning")
    if per_step and rng.random() < 0.3:
        shape.noisy_batches = rng.uniform(0.002, 0.01)
        notes.append("rare single noisy batches 2-3x the level")
    if style in ("hf", "keras", "lightning", "plain", "epoch") and rng.random() < 0.12:
        shape.floor = rng.uniform(0.0005, 0.004)
        shape.wobble = rng.uniform(0.3, 0.8)
        shape.power, shape.tau = 0.0, shape.records * 0.1
        shape.lr_bump = 0.0
        notes.append("converges near zero, where the loss wobbles by large factors")
    if shape.schedule == "step":
        notes.append("step decay of the learning rate (the loss falls in steps)")
    if shape.eval_every:
        notes.append("periodic evaluation slightly above the training loss")
    return notes
