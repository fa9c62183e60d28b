"""Saved runs: metrics a framework stored rather than printed, read as records.

An input may be a log (text, as ever), a TensorBoard run (its event files), an MLflow
run folder (a file store's ``meta.yaml`` and ``metrics/``) or a W&B run folder (its
logged history, from its ``.wandb`` file, else its console capture,
``files/output.log``). ``inputs`` finds what a path holds: itself, or for a folder every
log and run under it (``gradlog diagnose runs/``). A run
becomes records, one per step with every metric logged at it, under the names a log
would give them (``train/loss`` is ``loss``, ``epoch`` is the record's epoch), and goes
through the same engine as a log: the same numbers give the same diagnoses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from gradlog.config import Config
from gradlog.model import Record, step_value
from gradlog.parse.families import Families
from gradlog.parse.names import EPOCH, STEP, NameTable
from gradlog.report import Report
from gradlog.saved import mlflow, tensorboard, wandb
from gradlog.saved.wire import WireError

EVENTS = "events.out.tfevents."
CONSOLE = "wandb-console"  # a W&B run read through its console capture (no history)
# Files in a folder read as logs: by the end of their name (compressed ones too).
LOG_SUFFIXES = (".log", ".txt", ".out", ".err", ".jsonl", ".csv")
COMPRESSED = ("", ".gz", ".bz2", ".xz", ".zst")
_BLOCK = 4096  # records judged together


class Input(NamedTuple):
    """One thing to diagnose: a log, or a saved run of some ``kind``."""

    path: str
    # "log", "tensorboard", "mlflow" (a file store's run folder), "mlflow-db" (a run of a
    # database: path is ``database#run_id``), "wandb" (its history), CONSOLE
    kind: str = "log"
    files: tuple[str, ...] = ()  # a TensorBoard run's event files; a W&B run's capture
    # A TensorBoard run split in folders (Keras: train/ and validation/): the files of
    # held-out splits, whose tags are validation series (``val_`` + tag).
    held_out: tuple[str, ...] = ()

    @property
    def log(self) -> str | None:
        """The text file this input is read from, if it is read as a log."""
        if self.kind == "log":
            return self.path
        return self.files[0] if self.kind == CONSOLE else None


class RunError(ValueError):
    """A saved run that cannot be read."""


def inputs(path: str) -> list[Input]:
    """What ``path`` holds: itself as a log, one saved run, or, for a folder, every log
    and run under it (in order of their paths). RunError for a folder with none."""
    if path == "-" or ("://" in path and not os.path.exists(path)):
        return [Input(path)]  # standard input, or a remote log (only logs are read remotely)
    if not os.path.isdir(path):
        if os.path.basename(path).startswith(EVENTS) or _sniffed(path):
            return [Input(path, "tensorboard", (path,))]
        if os.path.isfile(path) and mlflow.is_database(path):
            return _database(path)
        return [Input(path)]
    found = list(_folder(path))
    if not found:
        raise RunError(f"{path}: no logs or saved runs in this folder")
    return found


def _database(path: str) -> list[Input]:
    """Each run of an MLflow database, named ``path#run_id``."""
    import sqlite3

    try:
        runs = mlflow.database_runs(path)
    except sqlite3.Error as error:
        raise RunError(f"{path}: cannot read this MLflow database ({error})") from None
    return [Input(f"{path}#{run}", "mlflow-db", (path,)) for run in runs]


def _sniffed(path: str) -> bool:
    """Whether a regular file is an event file by its content (renamed, or a copy). A
    FIFO or socket is never opened here: its data would be lost to the real reading."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as stream:
            return tensorboard.is_event_file(stream.read(256))
    except OSError:
        return False


def _run_here(folder: str, names: list[str]) -> Input | None:
    """The run a folder is itself (MLflow, W&B), if it is one."""
    if mlflow.is_run(folder):
        return Input(folder, "mlflow")
    capture = os.path.join(folder, "files", "output.log")
    runs = [os.path.join(folder, n) for n in names if n.endswith(".wandb")]
    if runs and wandb.has_history(runs[0]):
        return Input(folder, "wandb", (runs[0],))
    if os.path.isfile(capture) and (
        runs or os.path.isfile(os.path.join(folder, "files", "wandb-metadata.json"))
    ):
        return Input(folder, CONSOLE, (capture,))
    return None


def _inside(path: str, root: str) -> bool:
    """Whether a symlink ``path`` leads into ``root``: a second name for an input there."""
    target, top = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath((target, top)) == top


# Folders a run's event files are split into by the data they were computed on (Keras's
# TensorBoard callback writes train/ and validation/ with the same tags).
TRAIN_SPLITS = frozenset({"train", "training"})
HELD_OUT_SPLITS = frozenset({"validation", "val", "valid", "eval", "evaluation", "test"})


def _folder(root: str) -> Iterator[Input]:
    """Every log and run under ``root`` (a run split in folders is one run)."""
    found = list(_walk(root))
    splits: dict[str, list[Input]] = {}
    for item in found:
        name = os.path.basename(item.path)
        if item.kind == "tensorboard" and name in TRAIN_SPLITS | HELD_OUT_SPLITS:
            splits.setdefault(os.path.dirname(item.path), []).append(item)
    merged = {}
    for parent, parts in splits.items():
        names = {os.path.basename(p.path) for p in parts}
        if names & TRAIN_SPLITS and names & HELD_OUT_SPLITS:
            train = [f for p in parts if os.path.basename(p.path) in TRAIN_SPLITS for f in p.files]
            held = [
                f for p in parts if os.path.basename(p.path) in HELD_OUT_SPLITS for f in p.files
            ]
            run = Input(parent, "tensorboard", tuple(train + held), tuple(held))
            merged.update({p.path: run for p in parts})
    yield from dict.fromkeys(merged.get(item.path, item) for item in found)


def _walk(root: str) -> Iterator[Input]:
    """Every log and run under ``root``. Linked folders are not entered (no loops), and
    a linked file that leads back into ``root`` is not read twice (W&B links its latest
    run's logs)."""
    for where, folders, files in os.walk(root):
        folders[:] = sorted(
            f
            for f in folders
            if not f.startswith((".", "__")) and not os.path.islink(os.path.join(where, f))
        )
        names = sorted(
            f
            for f in files
            if not (
                os.path.islink(os.path.join(where, f)) and _inside(os.path.join(where, f), root)
            )
        )
        run = _run_here(where, names + folders)
        if run is not None:
            folders.clear()  # a run's own files are not more inputs
            yield run
            continue
        events = tuple(os.path.join(where, n) for n in names if n.startswith(EVENTS))
        if events:
            yield Input(where, "tensorboard", events)
        for name in names:
            if any(name.endswith(s + c) for s in LOG_SUFFIXES for c in COMPRESSED):
                yield Input(os.path.join(where, name))
            elif name.endswith(".db") and mlflow.is_database(os.path.join(where, name)):
                yield from _database(os.path.join(where, name))


def _tensorboard_steps(
    files: Iterable[str], held_out: tuple[str, ...] = ()
) -> Iterator[tuple[float, dict[str, float]]]:
    """Each step's scalars, in the order they were written: the events of one step, one
    after another, make one step (a tag seen again starts the next). A run split in
    folders is read whole and its steps put in order, the held-out splits' tags as
    validation series."""
    if held_out:
        yield from _split_steps(files, held_out)
        return
    plugins: dict[str, str] = {}
    step: float | None = None
    held: dict[str, float] = {}
    for path in files:
        try:
            with open(path, "rb") as stream:
                for data in tensorboard.records(stream):
                    at, scalars = tensorboard.scalars(data, plugins)
                    if not scalars or at is None:
                        continue
                    if at != step or any(tag in held for tag, _ in scalars):
                        if held and step is not None:
                            yield step, held
                        step, held = float(at), {}
                    held.update(scalars)
        except WireError as error:  # an event file is protobuf records
            raise RunError(f"{path}: not a TensorBoard event file ({error})") from None
    if held and step is not None:
        yield step, held


def _split_steps(
    files: Iterable[str], held_out: tuple[str, ...]
) -> list[tuple[float, dict[str, float]]]:
    """The steps of a run split in folders, in order, held-out tags as ``val_`` + tag."""
    by_step: dict[float, dict[str, float]] = {}
    for path in files:
        prefix = "val_" if path in held_out else ""
        for at, scalars in _tensorboard_steps((path,)):
            found = by_step.setdefault(at, {})
            found.update((prefix + tag, value) for tag, value in scalars.items())
    return sorted(by_step.items())


def _wandb_steps(path: str) -> Iterator[tuple[float, dict[str, float]]]:
    try:
        with open(path, "rb") as stream:
            yield from wandb.history(stream)
    except ValueError as error:
        raise RunError(f"{path}: not a readable W&B run file ({error})") from None


def steps(run: Input) -> Iterator[tuple[float, dict[str, float]]]:
    """A saved run's steps, each with its metrics as logged."""
    if run.kind == "tensorboard":
        return _tensorboard_steps(run.files, run.held_out)
    if run.kind == "mlflow":
        return iter(mlflow.steps(run.path))
    if run.kind == "wandb":
        return _wandb_steps(run.files[0])
    if run.kind == "mlflow-db":
        import sqlite3

        try:
            return iter(mlflow.database_steps(run.files[0], run.path.rsplit("#", 1)[1]))
        except sqlite3.Error as error:
            raise RunError(f"{run.files[0]}: cannot read this MLflow database ({error})") from None
    raise RunError(f"{run.path}: a {run.kind} run is read as a log")


def records(run: Input, names: NameTable) -> Iterator[Record]:
    """A saved run's steps as records, with the metrics under their canonical names and
    each family's series (``optim/lr`` is the lr), as a log's lines would give them."""
    families = Families()
    for count, (step, logged) in enumerate(steps(run), 1):
        metrics: dict[str, float] = {}
        epoch = None
        for name, value in logged.items():
            canonical = names.canonical(name)
            if canonical == EPOCH:
                epoch = step_value(value)
            elif canonical != STEP:
                metrics[canonical] = value
        if metrics:
            families.resolve(metrics)
            yield Record(step_value(step), count, metrics, epoch)


def analyze_run(run: Input, config: Config) -> Report:
    """The report of a saved run (not a log)."""
    from gradlog.engine import Engine

    engine = Engine(run.path, config)
    block: list[Record] = []
    for record in records(run, NameTable(config.metric_names)):
        block.append(record)
        if len(block) >= _BLOCK:
            engine.observe(block)
            block = []
    engine.observe(block)
    return engine.finish()
