"""MLflow runs in a file store (``mlruns/<experiment>/<run>/``).

A run folder holds ``meta.yaml`` and ``metrics/``, one file per metric (a name with a
``/`` is a path under it), each line ``timestamp value step`` (older stores: no step,
read as 0). The records are the run's steps in order, each with the value last logged
for each metric at that step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator


def is_run(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "meta.yaml")) and os.path.isdir(
        os.path.join(folder, "metrics")
    )


def points(folder: str) -> Iterator[tuple[float, int, str, float]]:
    """(step, timestamp, metric, value) of every line of every metric file."""
    root = os.path.join(folder, "metrics")
    for where, folders, files in os.walk(root):
        folders.sort()
        for name in sorted(files):
            path = os.path.join(where, name)
            metric = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    parts = line.split()
                    if len(parts) not in (2, 3):
                        continue
                    try:
                        stamp, value = int(parts[0]), float(parts[1])
                        step = float(parts[2]) if len(parts) == 3 else 0.0
                    except ValueError:
                        continue
                    if math.isfinite(step):
                        yield step, stamp, metric, value


def steps(folder: str) -> list[tuple[float, dict[str, float]]]:
    """The run's steps in order, each with its metrics (the last logged at that step)."""
    by_step: dict[float, dict[str, tuple[int, float]]] = {}
    for step, stamp, metric, value in points(folder):
        held = by_step.setdefault(step, {})
        if metric not in held or stamp >= held[metric][0]:
            held[metric] = (stamp, value)
    return [
        (step, {metric: value for metric, (_, value) in sorted(held.items())})
        for step, held in sorted(by_step.items())
    ]
