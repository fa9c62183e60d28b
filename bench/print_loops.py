"""Printers for hand-written loops and vision-style frameworks.

Plain ``step N | loss X | ...`` lines, ``Epoch N/M`` blocks, Keras 2 piped progress bars,
Lightning tqdm bars and mmengine ``Epoch(train)`` lines, each following the printing rules
of ``shared/FORMATS.md``.
"""

from __future__ import annotations

import math
import random

from printing import (
    ACC,
    GRAD,
    LR,
    PARAM,
    VAL,
    Clock,
    Printed,
    Printer,
    apex_events,
    clock_text,
    deepspeed_events,
    keras_number,
    lightning_number,
    stopped,
    tqdm_bar,
)
from simulate import Run


def plain(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """``step N | loss X | grad_norm Y | lr Z`` from a custom loop, with optional columns."""
    shape = run.shape
    columns = {
        ACC: shape.classes >= 2 and (ACC in needs or rng.random() < 0.4),
        GRAD: GRAD in needs or rng.random() < 0.8,
        LR: LR in needs or rng.random() < 0.85,
        PARAM: PARAM in needs or rng.random() < 0.15,
    }
    prefixed, zero = rng.random() < 0.3, rng.random() < 0.5
    width = len(str(run.total_steps))
    clock = Clock(rng, rng.uniform(0.05, 0.6))
    lines = ["Starting training", f"  total steps: {run.total_steps}"]
    for i in range(run.records):
        if stopped(run, i):
            break
        clock.advance(shape.interval)
        if run.scaler == "deepspeed":
            lines += deepspeed_events(run, i, clock, zero)
        elif run.scaler == "apex":
            lines += apex_events(run, i)
        if run.stop == i and run.scaler:
            break  # the scaler gave up during this record
        parts = [f"step {run.steps[i]:>{width}}", f"loss {run.loss[i]:.4f}"]
        if columns[ACC]:
            parts.append(f"acc {run.acc[i]:.4f}")
        if columns[GRAD]:
            parts.append(f"grad_norm {run.grad[i]:.3f}")
        if columns[LR]:
            parts.append(f"lr {run.lr[i]:.1e}")
        if columns[PARAM]:
            parts.append(f"param_norm {run.param[i]:.2f}")
        text = " | ".join(parts)
        lines.append(f"{clock.millis()} - INFO - train - {text}" if prefixed else text)
        if i in run.val:
            extra = f" val_acc={run.val_acc[i]:.4f}" if columns[ACC] else ""
            lines.append(f"[eval] step {run.steps[i]} val_loss={run.val[i]:.4f}{extra}")
        if rng.random() < 0.01:
            lines.append(f"Saving checkpoint to checkpoints/step_{run.steps[i]}.pt")
    shows = {name for name, shown in columns.items() if shown} | {"loss"}
    if run.val:
        shows.add(VAL)
    return Printed(lines, [float(s) for s in run.steps], shows, "plain step lines")


def _block_number(value: float) -> str:
    return f"{value:.4f},".ljust(7)


def epoch_block(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """``Epoch N/M`` headers, each followed by train, validation and norm lines."""
    shape = run.shape
    has_acc = shape.classes >= 2
    norms = GRAD in needs or PARAM in needs or rng.random() < 0.4
    lines: list[str] = []
    for i in range(run.records):
        if stopped(run, i):
            break
        lines.append(f"Epoch {i + 1}/{run.planned}")
        acc = f" Train Acc: {run.acc[i]:.4f}" if has_acc else ""
        lines.append(f"Train Loss: {_block_number(run.loss[i])}{acc}".rstrip(", "))
        if i in run.val:
            acc = f" Val Acc: {run.val_acc[i]:.4f}" if has_acc else ""
            lines.append(f"Val   Loss: {_block_number(run.val[i])}{acc}".rstrip(", "))
        if norms:
            lines.append(f"grad_norm={run.grad[i]:7.2f}  param_norm={run.param[i]:.2f}")
    shows = {"loss"} | ({ACC} if has_acc else set()) | ({VAL} if run.val else set())
    if norms:
        shows |= {GRAD, PARAM}
    return Printed(lines, [float(i + 1) for i in range(run.records)], shows, "Epoch N/M blocks")


def _keras_bar(done: int, total: int) -> str:
    filled = int(30 * done / total)
    if done >= total:
        return "=" * 30
    return ("=" * max(filled - 1, 0) + (">" if filled else "")).ljust(30, ".")


def _running(prev: float, cur: float, fraction: float, rng: random.Random) -> float:
    """The epoch-to-date mean part-way through an epoch that ends at ``cur``."""
    if prev <= 0 or cur <= 0 or not math.isfinite(prev):
        return cur
    weight = math.sqrt(fraction)
    mean = float(prev ** (1 - weight) * cur**weight)  # geometric path from prev to cur
    return mean * math.exp(rng.gauss(0, 0.04 * (1 - fraction)))  # early means are noisier


def _keras_metrics(loss: float, acc: float | None) -> str:
    text = f" - loss: {keras_number(loss)}"
    return text if acc is None else f"{text} - accuracy: {acc:.4f}"


def _keras_refreshes(
    run: Run, i: int, before: tuple[float, float], rng: random.Random
) -> tuple[list[str], float]:
    """The bar lines inside epoch ``i`` (means from the last epoch's level to this one's).

    A NaN epoch turns ``nan`` at a random batch; with TerminateOnNaN (``run.stop``) that
    batch's bar ends with Keras' ``Batch B: Invalid loss`` note and the epoch stops there.
    Returns the lines and the seconds one step takes.
    """
    total, classes = run.shape.steps_per_epoch, run.shape.classes
    (prev, prev_acc), cur = before, run.loss[i]
    bad_from, per_step = rng.uniform(0.05, 0.9), rng.uniform(0.005, 0.05)
    marks = sorted({1, *rng.sample(range(2, total), min(4, total - 2))})
    if run.stop == i:
        marks = sorted({*[m for m in marks if m / total < bad_from], int(bad_from * total) + 1})
    lines = []
    for done in marks:
        fraction = done / total
        if not math.isfinite(cur) and fraction >= bad_from:
            value = math.nan
        else:
            value = _running(prev, cur if math.isfinite(cur) else prev * 1.5, fraction, rng)
        acc = prev_acc + (run.acc[i] - prev_acc) * math.sqrt(fraction) if classes >= 2 else None
        eta = math.ceil((total - done) * per_step)
        head = f"{done:>{len(str(total))}}/{total} [{_keras_bar(done, total)}] - ETA: {eta}s"
        lines.append(head + _keras_metrics(value, acc))
        if run.stop == i and not math.isfinite(value):
            lines[-1] += f"Batch {done - 1}: Invalid loss, terminating training"
            break
    return lines, per_step


def keras(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """Keras 2 ``fit`` piped to a file: one bar line per refresh, epoch-to-date means."""
    shape = run.shape
    total, has_acc = shape.steps_per_epoch, shape.classes >= 2
    lines: list[str] = []
    before = (shape.start, 1 / max(shape.classes, 1))
    for i in range(run.records):
        if stopped(run, i):
            break
        refreshes, per_step = _keras_refreshes(run, i, before, rng)
        lines += [f"Epoch {i + 1}/{run.planned}", "", *refreshes]
        if run.stop == i:
            break
        tail = _keras_metrics(run.loss[i], run.acc[i] if has_acc else None)
        if i in run.val:
            tail += f" - val_loss: {keras_number(run.val[i])}"
            tail += f" - val_accuracy: {run.val_acc[i]:.4f}" if has_acc else ""
        seconds = max(1, round(total * per_step))
        bar = f"{total}/{total} [{'=' * 30}]"
        lines.append(f"{bar} - {seconds}s {1000 * seconds // total}ms/step{tail}")
        if math.isfinite(run.loss[i]):
            before = (run.loss[i], run.acc[i])
    shows = {"loss"} | ({ACC} if has_acc else set()) | ({VAL} if run.val else set())
    return Printed(lines, [float(i + 1) for i in range(run.records)], shows, "Keras 2 piped")


def lightning(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """PyTorch Lightning's tqdm bar, one pasted state per line; metrics in the postfix."""
    shape = run.shape
    total = shape.steps_per_epoch
    old = rng.random() < 0.25  # 1.x: a running ``loss=`` before ``v_num``
    keep_val = rng.random() < 0.5  # logged val metrics stay in the postfix afterwards
    version, rate = rng.randint(0, 40), rng.uniform(2.0, 30.0)
    lines = ["GPU available: True (cuda), used: True", "TPU available: False, using: 0 TPU cores"]
    val_text = ""
    for i in range(run.records):
        if stopped(run, i):
            break
        epoch, done = divmod(run.steps[i] - 1, total)
        done += 1  # gradlog reads the step back as epoch * N + done
        loss = lightning_number(run.loss[i])
        postfix = f"loss={loss}, v_num={version}" if old else f"v_num={version}, train_loss={loss}"
        elapsed = done / rate
        head = (
            f"Epoch {epoch}: {int(100 * done / total):3d}%|{tqdm_bar(done, total)}| "
            f"{done}/{total} [{clock_text(elapsed)}<{clock_text((total - done) / rate)}, "
            f"{rate:.2f}it/s, "
        )
        lines.append(f"{head}{postfix}{val_text if keep_val else ''}]")
        if i in run.val:
            lines += [
                "Validation: |          | 0/? [00:00<?, ?it/s]",
                f"Validation DataLoader 0: 100%|{tqdm_bar(1, 1)}| 40/40 [00:02<00:00, 18.41it/s]",
            ]
            val_text = f", val_loss={lightning_number(run.val[i])}"
            lines.append(f"{head}{postfix}{val_text}]")
    shows = {"loss"} | ({VAL} if run.val else set())
    steps = [float(s) for s in run.steps]
    return Printed(lines, steps, shows, "Lightning bar" + (" 1.x" if old else ""))


def _eta(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    text = clock_text(rest) if rest >= 3600 else "0:" + clock_text(rest)
    return f"{days} day{'s' if days > 1 else ''}, {text}" if days else text


def mmengine(run: Run, rng: random.Random, needs: frozenset[str]) -> Printed:
    """OpenMMLab 2.x runner lines: ``Epoch(train) [e][i/N]`` or ``Iter(train) [i/N]``."""
    shape = run.shape
    total = shape.steps_per_epoch
    by_iter = rng.random() < 0.3
    show_grad = GRAD in needs or rng.random() < 0.75
    detection = shape.classes < 2
    share = rng.uniform(0.3, 0.45)
    epochs = math.ceil(run.total_steps / total)
    clock = Clock(rng, rng.uniform(0.2, 0.6))
    date = "%Y/%m/%d %H:%M:%S" if rng.random() < 0.5 else "%m/%d %H:%M:%S"
    memory = rng.randint(2000, 20000)
    lines = []
    for i in range(run.records):
        step = run.steps[i]
        epoch, done = divmod(step - 1, total)  # gradlog reads (epoch - 1) * N + done back
        if stopped(run, i):
            break
        clock.advance(shape.interval)
        if by_iter:
            where = f"Iter(train) [{step:>{len(str(run.total_steps))}}/{run.total_steps}]"
        else:
            # mmengine pads "[epoch]" outside its brackets, the iteration inside them.
            where = (
                f"Epoch(train){f'[{epoch + 1}]'.rjust(len(str(epochs)) + 3)}"
                f"[{done + 1:>{len(str(total))}}/{total}]"
            )
        remaining = (run.total_steps - step) * clock.per_step
        fields = [
            f"lr: {run.lr[i]:.4e}",
            f"eta: {_eta(remaining)}",
            f"time: {clock.per_step * rng.uniform(0.95, 1.05):.4f}",
            f"data_time: {rng.uniform(0.003, 0.02):.4f}",
            f"memory: {memory}",
        ]
        if show_grad:
            fields.append(f"grad_norm: {run.grad[i]:.4f}")
        fields.append(f"loss: {run.loss[i]:.4f}")
        if detection:
            fields += [
                f"loss_cls: {run.loss[i] * share:.4f}",
                f"loss_bbox: {run.loss[i] * (1 - share):.4f}",
            ]
        lines.append(f"{clock.stamp(date)} - mmengine - INFO - {where}  " + "  ".join(fields))
        if not by_iter and done + shape.interval >= total:
            saving = f"Saving checkpoint at {epoch + 1} epochs"
            lines.append(f"{clock.stamp(date)} - mmengine - INFO - {saving}")
    steps = [float(s) for s in run.steps]
    shows = {"loss", LR} | ({GRAD} if show_grad else set())
    return Printed(lines, steps, shows, "mmengine " + ("Iter" if by_iter else "Epoch"))


PRINTERS: dict[str, Printer] = {
    "plain": plain,
    "epoch": epoch_block,
    "keras": keras,
    "lightning": lightning,
    "mmengine": mmengine,
}
