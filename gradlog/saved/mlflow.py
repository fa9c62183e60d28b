"""MLflow runs: in a file store (``mlruns/<experiment>/<run>/``) or in its database
(``mlflow.db``, MLflow 3's default store, read with sqlite3).

A run folder holds ``meta.yaml`` and ``metrics/``, one file per metric (a name with a
``/`` is a path under it), each line ``timestamp value step`` (older stores: no step,
read as 0). A database holds every run of every experiment: its ``metrics`` table has a
row per value logged (``key, value, timestamp, run_uuid, step, is_nan``; a NaN is stored
as 0 with ``is_nan``, an infinity as the largest float). The records are the run's
steps in order, each with the value last logged for each metric at that step.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

_SQLITE = b"SQLite format 3\x00"


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
    return _by_step(points(folder))


def _connect(path: str) -> sqlite3.Connection:
    """A read-only connection: reading a run never changes its store."""
    import sqlite3

    return sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)


def is_database(path: str) -> bool:
    """Whether a file is an MLflow database (SQLite, with runs and metrics tables)."""
    try:
        with open(path, "rb") as stream:
            if stream.read(16) != _SQLITE:
                return False
    except OSError:
        return False
    import sqlite3  # only for a SQLite file: the module costs a log's start 2-3 ms

    try:
        connection = _connect(path)
        try:
            names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        finally:
            connection.close()
    except (OSError, sqlite3.Error):
        return False
    return {"runs", "metrics", "experiments"} <= names


def database_runs(path: str) -> list[str]:
    """The ids of a database's runs that were not deleted, in order of their start."""
    connection = _connect(path)
    try:
        rows = connection.execute(
            "SELECT run_uuid FROM runs WHERE lifecycle_stage IS NOT 'deleted' "
            "ORDER BY start_time, run_uuid"
        ).fetchall()
    finally:
        connection.close()
    return [str(row[0]) for row in rows]


def database_steps(path: str, run: str) -> list[tuple[float, dict[str, float]]]:
    """A database run's steps in order, as ``steps``."""
    connection = _connect(path)
    try:
        rows = connection.execute(
            "SELECT step, timestamp, key, value, is_nan FROM metrics WHERE run_uuid = ?",
            (run,),
        ).fetchall()
    finally:
        connection.close()
    return _by_step(
        (float(step), int(stamp), str(key), _stored(float(value), bool(nan)))
        for step, stamp, key, value, nan in rows
        if step is not None and math.isfinite(float(step))
    )


def _stored(value: float, nan: bool) -> float:
    """A value as logged: the store writes a NaN as 0 with a flag, an infinity as the
    largest float."""
    if nan:
        return math.nan
    if abs(value) == sys.float_info.max:
        return math.copysign(math.inf, value)
    return value


def _by_step(
    points: Iterable[tuple[float, int, str, float]],
) -> list[tuple[float, dict[str, float]]]:
    by_step: dict[float, dict[str, tuple[int, float]]] = {}
    for step, stamp, metric, value in points:
        held = by_step.setdefault(step, {})
        if metric not in held or stamp >= held[metric][0]:
            held[metric] = (stamp, value)
    return [
        (step, {metric: value for metric, (_, value) in sorted(held.items())})
        for step, held in sorted(by_step.items())
    ]
