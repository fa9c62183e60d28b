"""What every framework printer shares: the printed result, number formats, clocks, events.

Number formats follow ``shared/FORMATS.md``: Keras switches to e-notation at 1e-3,
Lightning pads three significant digits to five characters and prints NaN as ``nan.0``,
HF prints float32 grad norms through a double's repr, and so on.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulate import Run

# Metric names used to say what a printed log shows (they match gradlog's canonical names).
LOSS, GRAD, LR, PARAM, ACC, VAL, SCALE = (
    "loss",
    "grad_norm",
    "lr",
    "param_norm",
    "acc",
    "val_loss",
    "loss_scale",
)
FULL_BLOCK = "\u2588"
PARTIAL_BLOCKS = " \u258f\u258e\u258d\u258c\u258b\u258a\u2589"


@dataclass
class Printed:
    """A rendered log: its lines, the step gradlog reads for each record, what it shows."""

    lines: list[str]
    steps: list[float]  # the step each simulated record is printed (or numbered) as
    shows: set[str] = field(default_factory=set)
    style: str = ""  # a short description for the labels' notes


# A printer renders a run; ``needs`` names metrics the scenario requires it to print.
Printer = Callable[[Run, random.Random, frozenset[str]], Printed]


def finite(value: float) -> bool:
    return math.isfinite(value)


def keras_number(value: float) -> str:
    """Keras 2 progress-bar values: ``.4f``, or ``.4e`` at 1e-3 and below."""
    return f"{value:.4f}" if not finite(value) or abs(value) > 1e-3 else f"{value:.4e}"


def lightning_number(value: float) -> str:
    """Lightning's bar: 3 significant digits padded to 5 characters; NaN as ``nan.0``."""
    if not finite(value):
        return ("nan" if math.isnan(value) else "inf" if value > 0 else "-inf") + ".0"
    text = f"{value:.3g}"
    if "e" in text:
        return text.replace("e-0", "e-").replace("e+0", "e+")
    if text.startswith("-0."):
        text = "-" + text[2:]
    elif text.startswith("0.") and len(text) > 5:
        return text
    if "." not in text:
        text += "."
    return text.ljust(5, "0")


def float32(value: float) -> float:
    """A value as PyTorch holds it (float32), seen through Python's repr of a double."""
    if not finite(value):
        return value
    packed: float = struct.unpack("f", struct.pack("f", value))[0]
    return packed


def scale_text(scale: float, integer: bool) -> str:
    """A loss scale as DeepSpeed prints it: integers from fused optimizers, floats from ZeRO."""
    if integer and scale >= 1 and scale == int(scale):
        return str(int(scale))
    return repr(float(scale))


def tqdm_bar(done: int, total: int, width: int = 10) -> str:
    """A tqdm bar of ``width`` cells with eighth-block resolution."""
    eighths = int(width * 8 * done / max(total, 1))
    full, part = divmod(eighths, 8)
    text = FULL_BLOCK * full + (PARTIAL_BLOCKS[part] if part and full < width else "")
    return text.ljust(width)


def clock_text(seconds: float) -> str:
    """tqdm's elapsed/remaining time: ``MM:SS`` or ``H:MM:SS``."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Clock:
    """Wall time of a simulated run: a fixed invented start, a drifting seconds per step."""

    def __init__(self, rng: random.Random, per_step: float) -> None:
        day = datetime(2024, 1, 8, 9, 0, 0) + timedelta(days=rng.randrange(600))
        self.now = day + timedelta(seconds=rng.randrange(30000))
        self.per_step = per_step
        self._rng = rng

    def advance(self, steps: int) -> datetime:
        self.now += timedelta(seconds=steps * self.per_step * self._rng.uniform(0.97, 1.03))
        return self.now

    def stamp(self, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        return self.now.strftime(fmt)

    def millis(self) -> str:
        """``YYYY-mm-dd HH:MM:SS,mmm`` as Python's logging and DeepSpeed print it."""
        return f"{self.now:%Y-%m-%d %H:%M:%S},{self.now.microsecond // 1000:03d}"


def deepspeed_events(run: Run, i: int, clock: Clock, zero: bool) -> list[str]:
    """DeepSpeed's overflow lines for record ``i``; a floor it cannot go below ends the run."""
    lines = []
    where = "[stage_1_and_2.py:1798:step]" if zero else "[loss_scaler.py:183:update_scale]"
    for attempted, reduced in run.overflows.get(i, []):
        lines.append(
            f"[{clock.millis()}] [INFO] {where} [deepspeed] OVERFLOW! Rank 0 Skipping step. "
            f"Attempted loss scale: {scale_text(attempted, not zero)}, reducing to "
            f"{scale_text(reduced, not zero)}"
        )
    if i in run.at_minimum and run.stop == i:  # newer releases give up at the floor
        lines += [
            "Traceback (most recent call last):",
            '  File "train.py", line 212, in <module>',
            "    model_engine.step()",
            "Exception: Current loss scale already at minimum - cannot decrease scale anymore. "
            "Exiting run.",
        ]
    return lines


def apex_events(run: Run, i: int) -> list[str]:
    """apex AMP's overflow lines for record ``i`` (it prints every reduction)."""
    return [
        f"Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to {reduced!r}"
        for _, reduced in run.overflows.get(i, [])
    ]


def stopped(run: Run, i: int) -> bool:
    """Whether the run ended before printing record ``i``."""
    return run.stop is not None and i > run.stop
