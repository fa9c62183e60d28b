"""Simulated training runs: the metric series a framework would print, record by record.

A run is simulated at the level of log records (one printed step, interval or epoch), not
of single batches: each record holds what the framework would print for it (a step loss,
an interval mean or an epoch mean). The model is phenomenological, not a network:

- progress is driven by the learning rate (a record at the peak rate moves the run one
  unit of "training time", a record in warm-up or after a decay less), and the loss falls
  exponentially or by a power law from its start towards a floor;
- the floor is lifted in proportion to the learning rate (the noise floor of SGD), so a
  step decay of the rate makes the loss fall in a step;
- batch noise is multiplicative and log-normal; grad norms start a few times above
  their level and settle; the weight norm drifts up and saturates;
- validation follows the training level with a gap that opens as training proceeds;
- fp16 runs carry a dynamic loss scaler simulated step by step.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

NAN = math.nan


@dataclass
class Shape:
    """What a run looks like; every field is drawn per log by the scenarios."""

    records: int
    interval: int = 1  # optimizer steps between two records
    classes: int = 10  # K: the chance loss is ln K; 0 for losses that are not K-way
    start: float = 2.3  # loss at the first record
    floor: float = 0.2  # loss the run tends to (lifted by ``lr_bump`` while the rate is high)
    power: float = 0.0  # 0: exponential decay; else the exponent of a power law
    tau: float = 50.0  # records of peak-rate training per e-fold (or the power law's scale)
    noise: float = 0.05  # sigma of the log-normal noise of one record
    schedule: str = "cosine"  # cosine | step | constant | linear
    peak_lr: float = 3e-4
    warmup: int = 0  # records of linear warm-up from zero
    lr_bump: float = 0.1  # how far the peak rate lifts the floor (relative)
    grad_level: float = 1.0  # the settled grad norm
    grad_warm: float = 4.0  # the first grad norm as a multiple of the settled one
    grad_noise: float = 0.1
    param0: float = 50.0  # the initial weight norm
    param_gain: float = 0.2  # how much the weight norm grows before it saturates
    eval_every: int = 0  # records between evaluations; 0: no evaluation
    val_gap: float = 0.05  # validation sits this much above training at the end
    val_noise: float = 0.01
    slow_start: int = 0  # records spent at the starting loss before learning begins
    noisy_batches: float = 0.0  # chance per record of one batch 2-3x the level
    wobble: float = 0.0  # extra log-noise once the loss is close to zero
    batch: int = 64  # examples behind one printed accuracy (its binomial noise)
    steps_per_epoch: int = 100  # optimizer steps in one epoch


@dataclass
class Run:
    """The series of one simulated run; index i is the i-th printed record."""

    shape: Shape
    steps: list[int]  # optimizer step at the end of each record (1-based)
    level: list[float]  # noise-free training loss
    loss: list[float]
    grad: list[float]
    lr: list[float]
    param: list[float]
    acc: list[float]
    val: dict[int, float] = field(default_factory=dict)  # record -> validation loss
    val_acc: dict[int, float] = field(default_factory=dict)
    scaler: str = ""  # fp16 loss scaler: deepspeed | apex | fairseq | megatron; "" none
    scale: list[float] = field(default_factory=list)  # loss scale at the end of each record
    skipped: list[int] = field(default_factory=list)  # overflow-skipped steps per record
    overflows: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    at_minimum: set[int] = field(default_factory=set)  # records where the scaler hit its floor
    stop: int | None = None  # the run aborted in this record (a NaN guard, a fatal error)
    planned: int = 0  # records the run was meant to have (logs print totals from the plan)

    @property
    def records(self) -> int:
        return len(self.loss)

    @property
    def total_steps(self) -> int:
        """The optimizer steps the run was planned for."""
        return self.planned * self.shape.interval


def lognormal(rng: random.Random, sigma: float) -> float:
    """A multiplicative noise factor with median 1."""
    return math.exp(rng.gauss(0.0, sigma)) if sigma > 0 else 1.0


def learning_rates(shape: Shape) -> list[float]:
    """Linear warm-up from zero, then cosine, step, linear decay or a constant rate."""
    n, warm, peak = shape.records, shape.warmup, shape.peak_lr
    rates = []
    for i in range(n):
        if i < warm:
            rates.append(peak * (i + 1) / warm)
            continue
        t = (i - warm) / max(1, n - warm)
        if shape.schedule == "cosine":
            rate = peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))
        elif shape.schedule == "step":  # x0.1 at half and at three quarters of the run
            rate = peak * (0.1 ** ((t >= 0.5) + (t >= 0.75)))
        elif shape.schedule == "linear":
            rate = peak * max(0.02, 1 - t)
        else:
            rate = peak
        rates.append(rate)
    return rates


def _progress(shape: Shape, rates: list[float]) -> list[float]:
    """How far the loss has fallen from start to floor (0..1) after each record."""
    done, time, peak = [], 0.0, rates_peak(rates)
    for i, rate in enumerate(rates):
        # Adaptive optimizers move the weights more than in proportion to a small rate.
        time += math.sqrt(rate / peak) if i >= shape.slow_start else 0.0
        if shape.power:
            done.append(1 - (1 + time / shape.tau) ** -shape.power)
        else:
            done.append(1 - math.exp(-time / shape.tau))
    return done


def rates_peak(rates: list[float]) -> float:
    """The highest rate of a schedule (never zero, so it can divide)."""
    return max(max(rates), 1e-30)


def healthy(shape: Shape, rng: random.Random) -> Run:
    """A run that learns normally: the base every scenario starts from."""
    rates = learning_rates(shape)
    peak = rates_peak(rates)
    progress = _progress(shape, rates)
    steps = [(i + 1) * shape.interval for i in range(shape.records)]
    level, loss, grad, param, acc = [], [], [], [], []
    settle = max(3.0, shape.records * 0.04)  # early grad norms fade over ~4% of the run
    for i, (rate, done) in enumerate(zip(rates, progress, strict=True)):
        floor = shape.floor * (1 + shape.lr_bump * rate / peak)
        base = shape.start if i < shape.slow_start else floor + (shape.start - floor) * (1 - done)
        level.append(base)
        sigma = 0.002 if i < shape.slow_start else shape.noise
        if shape.wobble and base < 0.05:
            sigma += shape.wobble * (1 - base / 0.05)
        value = base * lognormal(rng, sigma)
        if shape.noisy_batches and rng.random() < shape.noisy_batches:
            value = base * rng.uniform(2.0, 3.0)  # one unlucky batch
        loss.append(value)
        warm = 1 + (shape.grad_warm - 1) * math.exp(-i / settle)
        grad.append(shape.grad_level * warm * lognormal(rng, shape.grad_noise))
        param.append(shape.param0 * (1 + shape.param_gain * done) * (1 + rng.gauss(0, 2e-4)))
        acc.append(accuracy(value, shape.classes, shape.batch, rng))
    run = Run(shape, steps, level, loss, grad, rates, param, acc, planned=shape.records)
    add_validation(run, rng)
    return run


def accuracy(loss: float, classes: int, batch: int, rng: random.Random) -> float:
    """A plausible accuracy for a cross-entropy loss over K classes, with batch noise."""
    if classes < 2 or not math.isfinite(loss):
        return NAN
    chance = math.log(classes)
    learned = float(min(1.0, max(0.0, 1 - loss / chance)) ** 0.6)  # saturates near zero loss
    p = 1 / classes + (1 - 1 / classes) * learned
    spread = math.sqrt(max(p * (1 - p), 1e-4) / batch)
    return min(1.0, max(0.0, p + rng.gauss(0, spread)))


def add_validation(run: Run, rng: random.Random) -> None:
    """Evaluations every ``eval_every`` records, a little above the training level."""
    shape = run.shape
    if not shape.eval_every:
        return
    span = max(1e-9, shape.start - min(run.level))
    for i in range(shape.eval_every - 1, run.records, shape.eval_every):
        opened = (shape.start - run.level[i]) / span  # the gap opens as training proceeds
        value = run.level[i] * (1 + shape.val_gap * opened) * lognormal(rng, shape.val_noise)
        run.val[i] = value
        run.val_acc[i] = accuracy(value, shape.classes, 5000, rng)


@dataclass(frozen=True)
class Scaler:
    """An fp16 dynamic loss scaler's settings, as the framework's defaults have them."""

    init: float
    window: int  # clean steps before the scale doubles
    minimum: float


# The frameworks' defaults: DeepSpeed initial_scale_power 16, loss_scale_window 1000,
# min_loss_scale 1; apex amp 2**16 and scale_window 2000, no floor; fairseq
# --fp16-init-scale 128, a window of 2**14 / 8 GPUs, --min-loss-scale 1e-4; Megatron-LM
# --initial-loss-scale 2**32, --loss-scale-window 1000, --min-loss-scale 1.
SCALERS = {
    "deepspeed": Scaler(2.0**16, 1000, 1.0),
    "apex": Scaler(2.0**16, 2000, 0.0),
    "fairseq": Scaler(128.0, 2048, 1e-4),
    "megatron": Scaler(2.0**32, 1000, 1.0),
}


def fitting_scale(rng: random.Random, kind: str) -> float:
    """A scale a healthy run's gradients fit under: fairseq settles low (it starts at 128,
    8-128 is common), the others in the thousands (2^11-2^16)."""
    return 2.0 ** (rng.randint(3, 7) if kind == "fairseq" else rng.randint(11, 16))


def add_scaler(
    run: Run,
    rng: random.Random,
    kind: str,
    fit: float,
    collapse: int | None = None,
    halving: float = 8.0,
) -> None:
    """Simulate the loss scaler step by step.

    ``fit`` is the largest scale at which the gradients do not overflow: the scaler
    halves down to it at the start (calibration), then doubles after every clean window
    and overflows once right after (probing upward). From record ``collapse`` on, the
    fitting scale halves every ``halving`` steps: the gradients themselves are blowing up.
    """
    scaler = SCALERS[kind]
    run.scaler = kind
    scale, since = scaler.init, 0
    start = None if collapse is None else run.steps[collapse] - run.shape.interval
    step = 0
    for i in range(run.records):
        skipped = 0
        for _ in range(run.shape.interval):
            step += 1
            limit = fit
            if start is not None and step > start:
                limit = fit * 0.5 ** ((step - start) / halving)
            if scale > limit or rng.random() < 2e-5:  # or one freak batch per ~50,000 steps
                reduced = max(scale / 2, scaler.minimum)
                if scale <= scaler.minimum:
                    run.at_minimum.add(i)
                run.overflows.setdefault(i, []).append((scale, reduced))
                scale, since, skipped = reduced, 0, skipped + 1
                continue
            since += 1
            if since >= scaler.window:
                scale, since = scale * 2, 0
        run.scale.append(scale)
        run.skipped.append(skipped)
