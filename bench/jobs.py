"""``diagnose --jobs``: wall time on many logs, one worker against several.

    python bench/jobs.py [--logs 200] [--jobs 2] [--seed 0]

Writes ``--logs`` step-line logs of 200 to 3,000 lines (a third of them going NaN) into
a temporary folder, diagnoses the folder with ``--jobs 1`` and with ``--jobs N`` (best
of 3 runs each, wall time: the point is to use more CPUs), checks the two JSON reports
are identical, and prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_logs(folder: Path, count: int, seed: int) -> None:
    for index in range(count):
        rng = random.Random(seed * 100_003 + index)
        steps = rng.randint(200, 3000)
        nan_at = rng.randint(100, steps) if rng.random() < 1 / 3 else None
        with (folder / f"run{index:04d}.log").open("w") as out:
            for step in range(1, steps + 1):
                loss = 2.3 * math.exp(-step / 300) + 0.3 + rng.uniform(-0.02, 0.02)
                if nan_at is not None and step >= nan_at:
                    loss = math.nan
                out.write(f"step {step} | loss {loss:.4f} | grad_norm {1 + rng.random():.3f}\n")


def run(folder: Path, jobs: int) -> tuple[float, str]:
    best, text = math.inf, ""
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gradlog",
                "diagnose",
                "--format",
                "json",
                "-j",
                str(jobs),
                str(folder),
            ],
            capture_output=True,
            text=True,
        )
        best = min(best, time.perf_counter() - start)
        if done.returncode not in (0, 1):
            sys.exit(f"gradlog failed: {done.stderr.strip()}")
        text = done.stdout
    return best, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_logs(folder, options.logs, options.seed)
        one, serial = run(folder, 1)
        many, parallel = run(folder, options.jobs)
    same = "identical" if serial == parallel else "DIFFERENT"
    print(
        f"{options.logs} logs: --jobs 1 {one:.2f} s, --jobs {options.jobs} {many:.2f} s "
        f"wall ({one / many:.2f}x faster); reports {same}"
    )


if __name__ == "__main__":
    main()
