"""Printers for language-model stacks: HF Trainer, nanoGPT, llm.c, Megatron-LM, fairseq.

Each follows the printing rules of ``shared/FORMATS.md``, including how it hides or shows
a NaN: HF swaps a NaN loss for ``0.0`` beside a ``nan`` grad norm, Megatron leaves the
loss out, fairseq leaves the grad norm out.
"""

from __future__ import annotations

import math
import random
from collections import deque

from printing import (
    GRAD,
    LR,
    PARAM,
    SCALE,
    VAL,
    Clock,
    Printed,
    Printer,
    clock_text,
    deepspeed_events,
    float32,
    stopped,
    tqdm_bar,
)
from simulate import Run

_HF_HEADER = (
    "***** Running training *****",
    "  Num examples = {examples:,}",
    "  Num Epochs = {epochs}",
    "  Instantaneous batch size per device = 8",
    "  Gradient Accumulation steps = 4",
    "  Total optimization steps = {steps:,}",
    "  Number of trainable parameters = {params:,}",
)


def _hf_value(value: float, quoted: bool, digits: int | None = None) -> str:
    if quoted:
        return f"'{value:.4g}'"
    if digits is not None and math.isfinite(value):
        value = round(value, digits)
    return repr(value)


def _hf_dict(items: list[tuple[str, float, int | None]], quoted: bool) -> str:
    body = ", ".join(f"'{key}': {_hf_value(v, quoted, d)}" for key, v, d in items)
    return "{" + body + "}"


def _hf_record(run: Run, i: int, show_grad: bool, quoted: bool) -> str:
    """One logging interval; HF's logging_nan_inf_filter turns a NaN loss into 0.0."""
    loss = run.loss[i] if math.isfinite(run.loss[i]) else 0.0
    items: list[tuple[str, float, int | None]] = [("loss", loss, 4)]
    if show_grad:
        items.append(("grad_norm", float32(run.grad[i]), None))
    epoch = run.steps[i] / run.shape.steps_per_epoch
    items += [("learning_rate", run.lr[i], None), ("epoch", epoch, 2)]
    return _hf_dict(items, quoted)


def _hf_eval(run: Run, i: int, quoted: bool, rng: random.Random) -> str:
    speed = rng.uniform(50, 300)  # samples per second
    items: list[tuple[str, float, int | None]] = [
        ("eval_loss", float32(run.val[i]), None),
        ("eval_runtime", 400 / speed, 4),
        ("eval_samples_per_second", speed, 3),
        ("eval_steps_per_second", speed / 8, 3),
        ("epoch", run.steps[i] / run.shape.steps_per_epoch, 2),
    ]
    return _hf_dict(items, quoted)


def _hf_summary(run: Run, rate: float, quoted: bool) -> str:
    """The closing whole-run figures (``train_loss`` is a mean over the run)."""
    finite = [v for v in run.loss if math.isfinite(v)]
    items: list[tuple[str, float, int | None]] = [
        ("train_runtime", run.total_steps / rate, 4),
        ("train_samples_per_second", rate * 32, 3),
        ("train_steps_per_second", rate, 3),
        ("train_loss", sum(finite) / max(len(finite), 1), None),
        ("epoch", run.total_steps / run.shape.steps_per_epoch, 2),
    ]
    return _hf_dict(items, quoted)


def hf_trainer(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """HF Trainer: a dict per logging interval above the tqdm bar; a NaN loss shows as 0.0."""
    quoted = rng.random() < 0.2  # releases from late 2025 quote 4 significant digits
    show_grad = GRAD in needs or rng.random() < 0.85  # logged since about v4.38
    mode = rng.choice(("line", "glued", "refresh"))  # how the dict meets the bar
    total, per_epoch, rate = run.total_steps, run.shape.steps_per_epoch, rng.uniform(0.5, 6.0)
    sizes = {"examples": per_epoch * 32, "epochs": math.ceil(total / per_epoch), "steps": total}
    lines = [text.format(**sizes, params=rng.randint(10**6, 10**9)) for text in _HF_HEADER]
    clock = Clock(rng, 1 / rate)
    shows = {"loss", LR} | ({GRAD} if show_grad else set()) | ({VAL} if run.val else set())
    printed = Printed(lines, [float(i + 1) for i in range(run.records)], shows)
    printed.style = "HF Trainer" + (" quoted" if quoted else "")  # no step: dicts are counted
    for i in range(run.records):
        if stopped(run, i):
            break
        clock.advance(run.shape.interval)
        if run.scaler == "deepspeed":
            lines += deepspeed_events(run, i, clock, zero=True)
        if run.stop == i and run.scaler:
            return printed  # DeepSpeed gave up: no closing summary
        n = run.steps[i]
        bar = (
            f"{int(100 * n / total):3d}%|{tqdm_bar(n, total)}| {n}/{total} "
            f"[{clock_text(n / rate)}<{clock_text((total - n) / rate)}, {rate:.2f}it/s]"
        )
        record = _hf_record(run, i, show_grad, quoted)
        if mode == "line":
            lines += [bar, record]
        elif mode == "glued":
            lines.append(f"{bar}  {record}  ")
        else:
            lines.append(f"\r{bar}\r{' ' * 50}\r{record}")
        if i in run.val:
            lines.append(_hf_eval(run, i, quoted, rng))
    if run.records == run.planned:  # a run stopped by hand prints no closing summary
        lines.append(_hf_summary(run, rate, quoted))
    return printed


def nanogpt(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """nanoGPT's ``iter N: loss ...`` lines and ``step N: train loss ..., val loss ...``."""
    shape = run.shape
    lines = [
        "Initializing a new model from scratch",
        f"number of parameters: {rng.uniform(10, 350):.2f}M",
        "using fused AdamW: True",
        "compiling the model... (takes a ~minute)",
    ]
    mfu, best = rng.uniform(15, 45), math.inf
    for i in range(run.records):
        if stopped(run, i):
            break
        it = i * shape.interval
        slow = i == 0
        if i in run.val:
            train = run.level[i] * rng.uniform(0.99, 1.01)
            lines.append(f"step {it}: train loss {train:.4f}, val loss {run.val[i]:.4f}")
            if run.val[i] < best:
                best = run.val[i]
                lines.append("saving checkpoint to out")
                slow = True
        ms = 14523.08 if i == 0 else rng.uniform(1650, 1750) if slow else rng.uniform(405, 420)
        shown = -100.0 if it < 5 else mfu * rng.uniform(0.98, 1.02)
        lines.append(f"iter {it}: loss {run.loss[i]:.4f}, time {ms:.2f}ms, mfu {shown:.2f}%")
    steps = [float(i * shape.interval) for i in range(run.records)]
    return Printed(lines, steps, {"loss"} | ({VAL} if run.val else set()), "nanoGPT")


def _zscore(window: deque[float], value: float) -> str:
    if len(window) < (window.maxlen or 0) or not math.isfinite(value):
        return "+nanz"
    mean = sum(window) / len(window)
    spread = math.sqrt(sum((v - mean) ** 2 for v in window) / len(window)) or 1.0
    return f"{(value - mean) / spread:+.2f}z"


def _c_float(value: float, width: int, digits: int, minus_nan: bool) -> str:
    """printf's ``%{width}.{digits}f``: glibc prints a NaN with its sign bit as ``-nan``."""
    text = f"{value:{width}.{digits}f}"
    return text.strip().replace("nan", "-nan").rjust(width) if minus_nan and "nan" in text else text


def _track(window: deque[float], value: float) -> None:
    if math.isfinite(value):
        window.append(value)
    else:
        window.clear()  # a NaN poisons the window until it refills


def llmc(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """llm.c's ``step N/M | loss ... | norm ...`` lines with z-scores and ``val loss``."""
    total = run.total_steps
    unknown_gpu = rng.random() < 0.2
    minus_nan = rng.random() < 0.5
    lines = [
        "+-----------------------+----------------------------------------------------+",
        "| Parameter             | Value                                              |",
        "+-----------------------+----------------------------------------------------+",
        "| train data pattern    | dev/data/fineweb10B/fineweb_train_*.bin            |",
        "| micro batch size B    | 64                                                 |",
        "| sequence length T     | 1024                                               |",
        "+-----------------------+----------------------------------------------------+",
    ]
    losses: deque[float] = deque(maxlen=128)
    norms: deque[float] = deque(maxlen=128)
    ms = rng.uniform(120, 400)
    for i in range(run.records):
        if stopped(run, i):
            break
        loss, norm = run.loss[i], run.grad[i]
        mfu = -100.0 if unknown_gpu else 45 + rng.uniform(-2, 2)
        took = ms * rng.uniform(0.99, 1.01)
        lines.append(
            f"step {run.steps[i]:4d}/{total} | loss {_c_float(loss, 7, 6, minus_nan)} "
            f"({_zscore(losses, loss)})| norm {_c_float(norm, 6, 4, minus_nan)} "
            f"({_zscore(norms, norm)})| lr {run.lr[i]:.2e} | "
            f"{took:.2f} ms | {mfu:.1f}% bf16 MFU | {int(524288 / took * 1000)} tok/s"
        )
        _track(losses, loss)
        _track(norms, norm)
        if i in run.val:
            lines.append(f"val loss {run.val[i]:.6f}")
    shows = {"loss", GRAD, LR} | ({VAL} if run.val else set())
    return Printed(lines, [float(s) for s in run.steps], shows, "llm.c")


def _megatron_fields(run: Run, i: int, show_param: bool) -> list[str]:
    shape = run.shape
    skipped = run.skipped[i] if run.skipped else 0
    all_skipped = skipped >= shape.interval
    fields = [
        f"learning rate: {0.0 if all_skipped and i == 0 else run.lr[i]:.6E}",
        "global batch size:   512",
    ]
    loss = run.loss[i]
    if not all_skipped and math.isfinite(loss) and loss > 0:  # NaN is not printed
        fields.append(f"lm loss: {loss:.6E}")
    fields.append(f"loss scale: {run.scale[i] if run.scale else 1.0:.1f}")
    if not all_skipped:
        fields.append(f"grad norm: {run.grad[i]:.3f}")
    if show_param:
        fields.append(f"params norm: {run.param[i]:.3f}")
    nan_count = shape.interval if not math.isfinite(loss) else 0
    fields += [
        f"number of skipped iterations: {skipped:3d}",
        f"number of nan iterations: {nan_count:3d}",
    ]
    return fields


def megatron(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """Megatron-LM's ``iteration N/ M | ... |`` lines and dashed validation blocks."""
    total = run.total_steps * rng.choice((1, 2, 10))  # runs are often stopped before the plan
    show_param = PARAM in needs or rng.random() < 0.5
    stamped, timers = rng.random() < 0.5, rng.random() < 0.3
    clock = Clock(rng, rng.uniform(0.8, 3.0))
    dashes = "-" * 95
    lines = []
    for i in range(run.records):
        if stopped(run, i):
            break
        clock.advance(run.shape.interval)
        it = run.steps[i]
        head = f" [{clock.now:%Y-%m-%d %H:%M:%S.%f}]" if stamped else ""
        fields = [
            f"iteration {it:8d}/{total:8d}",
            f"consumed samples: {it * 512:12d}",
            f"elapsed time per iteration (ms): {clock.per_step * 1000:.1f}",
            *_megatron_fields(run, i, show_param),
        ]
        lines.append(head + " " + " | ".join(fields) + " |")
        if timers and rng.random() < 0.2:
            lines.append(
                f"time (ms) | forward-compute: {rng.uniform(400, 600):.2f} | backward-compute: "
                f"{rng.uniform(800, 1000):.2f} | optimizer: {rng.uniform(20, 40):.2f}"
            )
        if i in run.val:
            value = run.val[i]
            lines += [
                dashes,
                f" validation loss at iteration {it} | lm loss value: {value:.6E} | "
                f"lm loss PPL: {math.exp(min(20.0, value)):.6E} | ",
                dashes,
            ]
    shows = {"loss", GRAD, LR} | ({PARAM} if show_param else set()) | ({VAL} if run.val else set())
    if run.scaler:
        shows.add(SCALE)
    return Printed(lines, [float(s) for s in run.steps], shows, "Megatron-LM")


_BITS = math.log(2)  # fairseq reports cross-entropy in bits


def _g(value: float, digits: int) -> str:
    """fairseq's number format: rounded, then ``{:g}`` (``5.112``, ``16``, ``1.7e+18``)."""
    return f"{round(value, digits) if math.isfinite(value) else value:g}"


def _ppl(bits: float) -> str:
    return _g(2 ** min(bits, 1023), 2)  # 2**x, kept below a float's overflow


class _Fairseq:
    """fairseq's ``simple`` log format, one method per kind of line."""

    def __init__(self, run: Run, rng: random.Random) -> None:
        self.run, self.rng = run, rng
        self.clock = Clock(rng, rng.uniform(0.2, 0.5))
        self.lines: list[str] = []
        self.epoch_losses: list[float] = []
        self.best = math.inf

    def log(self, logger: str, text: str) -> None:
        self.lines.append(f"{self.clock.stamp()} | INFO | {logger} | {text}")

    def abort(self, i: int) -> None:
        """fp32 stops at a NaN gradient; fp16 stops when the scale reaches its floor."""
        self.lines += [
            "Traceback (most recent call last):",
            '  File "fairseq_cli/train.py", line 557, in <module>',
        ]
        if self.run.scaler and i in self.run.at_minimum:
            self.lines.append(
                "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably "
                "exploding. Try lowering the learning rate, using gradient clipping or "
                "increasing the batch size."
            )
        else:
            self.lines.append("FloatingPointError: gradients are Nan/Inf")

    def inner(self, i: int, epoch: int, done: int) -> None:
        run, step = self.run, self.run.steps[i]
        loss = run.loss[i] / _BITS
        self.epoch_losses.append(loss)
        fields = [
            f"loss={_g(loss, 3)}",
            f"nll_loss={_g(loss * 0.9, 3)}",  # label smoothing keeps nll under the loss
            f"ppl={_ppl(loss * 0.9)}",
            f"wps={_g(self.rng.uniform(40000, 50000), 1)}",
            "ups=3.1",
            "wpb=14788.2",
            "bsz=512",
            f"num_updates={step}",
            f"lr={run.lr[i]:.6g}",
        ]
        if math.isfinite(run.grad[i]):  # a non-finite norm is left out, with its clip share
            fields += [f"gnorm={_g(run.grad[i], 3)}", "clip=0"]
        if run.scaler:
            fields.append(f"loss_scale={run.scale[i]:g}")
        fields += [f"train_wall={self.rng.randint(25, 40)}", "gb_free=11.2", f"wall={step // 3}"]
        total = run.shape.steps_per_epoch
        self.log("train_inner", f"epoch {epoch:03d}: {done:>6} / {total} " + ", ".join(fields))

    def epoch_end(self, i: int, epoch: int) -> None:
        """Validation, then the epoch's average statistics under the same update count."""
        step, lr = self.run.steps[i], self.run.lr[i]
        if i in self.run.val:
            value = self.run.val[i] / _BITS
            self.best = min(self.best, value)
            self.log(
                "valid",
                f"epoch {epoch:03d} | valid on 'valid' subset | loss {_g(value, 3)} | nll_loss "
                f"{_g(value * 0.9, 3)} | ppl {_ppl(value * 0.9)} | wps 98211.4 | wpb 3412.7 | "
                f"bsz 118.2 | num_updates {step} | best_loss {_g(self.best, 3)}",
            )
        mean = sum(self.epoch_losses) / len(self.epoch_losses)
        self.epoch_losses = []
        self.log("fairseq_cli.train", f"end of epoch {epoch} (average epoch stats below)")
        self.log(
            "train",
            f"epoch {epoch:03d} | loss {_g(mean, 3)} | nll_loss {_g(mean * 0.9, 3)} | ppl "
            f"{_ppl(mean * 0.9)} | wps 45872.3 | ups 3.1 | wpb 14788.2 | bsz 512 | "
            f"num_updates {step} | lr {lr:.6g} | train_wall 1203",
        )


def fairseq(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """fairseq's ``train_inner`` lines; losses in bits; no ``gnorm`` when it is not finite."""
    out, interval = _Fairseq(run, rng), run.shape.interval
    for i in range(run.records):
        if stopped(run, i):
            break
        epoch, done = divmod(run.steps[i] - 1, run.shape.steps_per_epoch)
        epoch, done = epoch + 1, done + 1
        if done <= interval:
            out.log("fairseq.trainer", f"begin training epoch {epoch}")
            out.log("fairseq_cli.train", "Start iterating over samples")
        out.clock.advance(interval)
        for _, reduced in run.overflows.get(i, []):
            note = "NOTE: gradient overflow detected, ignoring gradient, setting loss scale to"
            out.log("fairseq.trainer", f"{note}: {reduced!r}")
        if run.stop == i:
            out.abort(i)
            break
        out.inner(i, epoch, done)
        if done + interval > run.shape.steps_per_epoch or i == run.planned - 1:
            out.epoch_end(i, epoch)
    shows = {"loss", GRAD, LR} | ({VAL} if run.val else set())
    if run.scaler:
        shows.add(SCALE)
    return Printed(out.lines, [float(s) for s in run.steps], shows, "fairseq simple")


PRINTERS: dict[str, Printer] = {
    "hf": hf_trainer,
    "nanogpt": nanogpt,
    "llmc": llmc,
    "megatron": megatron,
    "fairseq": fairseq,
}
