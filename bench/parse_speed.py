"""Throughput and memory of `gradlog diagnose` on generated logs of several shapes.

Usage: python bench/parse_speed.py [--lines N]

Writes logs of N lines (default 200,000) in four printing styles to a temporary folder,
runs `python -m gradlog diagnose --format json` on each in a fresh process, and prints
lines per second and the peak resident memory of that process.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _loss(i: int, rng: random.Random) -> float:
    return 0.4 + 2.0 * math.exp(-i / 20000) + rng.uniform(-0.02, 0.02)


def key_value(i: int, rng: random.Random) -> str:
    return (
        f"step {i:7d} | loss {_loss(i, rng):.4f} | grad_norm {1 + rng.random():.3f} "
        f"| lr 3.0e-04 | 171.23 ms\n"
    )


def hf_trainer(i: int, rng: random.Random) -> str:
    return (
        f"{{'loss': {_loss(i, rng):.4f}, 'grad_norm': {1 + rng.random()!r}, "
        f"'learning_rate': 4.9e-05, 'epoch': {i / 1000:.2f}}}\n"
    )


def megatron(i: int, rng: random.Random) -> str:
    return (
        f" [2025-06-02 10:14:33.128374] iteration {i:8d}/ 9000000 | consumed samples: "
        f"{i * 512:12d} | elapsed time per iteration (ms): 1432.8 | learning rate: "
        f"1.800000E-04 | global batch size:   512 | lm loss: {_loss(i, rng):.6E} | "
        f"loss scale: 1.0 | grad norm: {rng.random():.3f} | number of skipped iterations:"
        f"   0 | number of nan iterations:   0 |\n"
    )


def keras(i: int, rng: random.Random) -> str:
    epoch, batch = divmod(i, 469)
    head = f"Epoch {epoch + 1}/1000\n" if batch == 0 else ""
    return head + (
        f"{batch + 1:3d}/469 [==============================] - ETA: 3s - loss: "
        f"{_loss(i, rng):.4f} - accuracy: 0.9087\n"
    )


STYLES: dict[str, Callable[[int, random.Random], str]] = {
    "key_value": key_value,
    "hf_trainer": hf_trainer,
    "megatron": megatron,
    "keras": keras,
}

_RUN = (
    "import resource, runpy, sys; sys.argv = ['gradlog', 'diagnose', '--format', 'json', "
    "'--exit-zero', sys.argv[1]]\n"
    "try:\n    runpy.run_module('gradlog', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def run(path: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of one diagnose run in a fresh interpreter."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(path)], capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - start
    return elapsed, int(done.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'style':<12} {'lines':>9} {'seconds':>8} {'lines/s':>9} {'peak RSS':>9}")
        for name, style in STYLES.items():
            path = Path(folder) / f"{name}.log"
            with path.open("w") as out:
                for i in range(args.lines):
                    out.write(style(i, rng))
            lines = sum(1 for _ in path.open())
            seconds, rss = run(path)
            print(
                f"{name:<12} {lines:>9,} {seconds:>8.2f} {lines / seconds:>9,.0f} "
                f"{rss / 1024:>7.0f} MB"
            )


if __name__ == "__main__":
    main()
