"""A fleet scan: many inputs diagnosed on a Dask cluster, gathered into one table.

    rows = gradlog.scan(["runs/", "s3://bucket/sweep/a.log"])          # a LocalCluster
    rows = gradlog.scan(paths, address="tcp://scheduler:8786")         # an existing one

Each input (a log, a saved run, a folder of them, a remote log) is diagnosed by a Dask
worker, exactly as ``gradlog diagnose`` would, and comes back as one row of ``FIELDS``:
the input, its worst severity, the verdict, the ids found, the first step of a warning
or error, the records read, and the reason it could not be read (``error``). Workers
need gradlog (and fsspec for remote inputs) installed, and must see the same paths.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable
from typing import Any

from gradlog.config import Config
from gradlog.model import Severity
from gradlog.report import Report

FIELDS = ("input", "worst", "verdict", "ids", "first_bad_step", "records", "error")
Row = dict[str, Any]


def summary(report: Report) -> Row:
    """One input's row: what the report found, in a line."""
    from gradlog.incidents import verdict

    worst = report.worst()
    bad = [d.first_step for d in report.diagnoses if d.severity >= Severity.WARNING]
    steps = [step for step in bad if step is not None]
    return {
        "input": report.input.name,
        "worst": str(worst) if worst is not None else "none",
        "verdict": verdict(report) or "No problem found.",
        "ids": " ".join(dict.fromkeys(d.id for d in report.diagnoses)),
        "first_bad_step": min(steps) if steps else None,
        "records": report.input.records,
        "error": "",
    }


def scan_one(item: Any, config: Config) -> Row:
    """The row of one input (``saved.Input``), on a worker: an input that cannot be read
    gives a row that says why, not a failed scan."""
    from gradlog.cli.common import GradlogError, diagnose_one

    try:
        return summary(diagnose_one(item, config, quiet=True))
    except GradlogError as error:
        row: Row = dict.fromkeys(FIELDS, "")
        row.update(input=item.path, worst="", first_bad_step=None, records=None)
        row["error"] = error.message
        return row


def inputs(paths: Iterable[str]) -> list[Any]:
    """The inputs ``paths`` name: globs expanded, folders searched (as ``diagnose``); a
    file that cannot be read is left for its row to say so."""
    from gradlog.cli.common import expand_inputs, find_inputs

    return find_inputs(expand_inputs(tuple(paths)), check=False)


def scan(
    paths: Iterable[str],
    *,
    address: str | None = None,
    workers: int | None = None,
    config: Config | None = None,
) -> list[Row]:
    """Diagnose every input on a Dask cluster: the scheduler at ``address``, or a
    ``LocalCluster`` of ``workers`` processes (one per CPU by default); the rows in the
    order of the inputs."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("gradlog scan needs Dask: pip install 'gradlog[scan]'") from None
    from gradlog.cli.common import default_jobs

    config = config or Config()
    items = inputs(paths)
    cluster = None
    if address is None:
        cluster = LocalCluster(
            n_workers=workers or default_jobs(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    client = Client(address if cluster is None else cluster)
    try:
        futures = client.map(scan_one, items, config=config, pure=False)
        rows: list[Row] = client.gather(futures)
        return rows
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def render(rows: list[Row], fmt: str) -> str:
    """The rows as CSV (a header, then a row per input) or as a JSON list."""
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def exit_code(rows: list[Row], fail_on: Severity) -> int:
    """2 when an input could not be read, else 1 when one reached ``fail_on``, else 0."""
    if any(row["error"] for row in rows):
        return 2
    worst = [Severity.parse(row["worst"]) for row in rows if row["worst"] not in ("", "none")]
    return int(any(severity >= fail_on for severity in worst))
