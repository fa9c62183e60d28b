"""Compiled shapes: a learned line shape turned into a plan a line can be read by with
one match and no general-path objects (the reader's fast way, ``LogReader.read_lines``).

What each number of a shape's line is (``Roles``) is the same for every line of it, and
so is what a layout-only dialect adjustment does to it (``_trace``): both are worked
out once, from the shape's plan, and kept. ``read_roles`` reads a line's numbers by
them, from its number tokens, and ``read_picked`` from numbers read already (a column
at a time, for a stretch of lines).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

from gradlog.parse import grammar
from gradlog.parse.dialects import Dialect, LineFields
from gradlog.parse.names import EPOCH, STEP

if TYPE_CHECKING:
    from gradlog.parse.line import ShapeStats, _Plan

# A line's numbers by their roles: its metrics, step and epoch (as printed, maybe
# non-finite) and, for a step counted within the epoch, the batch (``read_roles``).
LineNumbers = tuple[dict[str, float], float | None, float | None, tuple[float, float, int] | None]
IN_EPOCH = "(i/N of epoch)"  # ``i/N`` after an epoch: the step is epoch * N + i
# When a line prints several step counters, the most specific one is the step:
# LitGPT's ``iter 320 step 80`` counts optimizer steps in ``step``.
_STEP_PRIORITY = (
    "global_step",
    "num_updates",
    "current_steps",
    "step",
    "steps",
    "train_step",
    "iteration",
    "iter",
    "s",
    "batch",
)


class Roles(NamedTuple):
    """What each number of a plan's line is: the step, the epoch, or a metric (by index
    into the line's number tokens); the same for every line of the plan."""

    step: int | None
    epoch: int | None
    metrics: tuple[tuple[str, int], ...]
    # A step counted within the epoch (``i/N``): the token of ``N``, and the number of
    # the first epoch; the step is then (epoch - first) * N + i.
    total: int | None = None
    first: int = 0
    # A bar's bare ``i/N`` on a line with no step or epoch: the token of ``i`` (``N`` is
    # the next), the count of a loop over batches (``_Plan.count``).
    loop: int | None = None

    def picked(self) -> list[int]:
        """The tokens a compiled shape picks (``Compiled.pick``), in order: the step, the
        epoch and the batches per epoch (each if any), each metric, then a loop's count
        and its total (if any)."""
        counters = [i for i in (self.step, self.epoch, self.total) if i is not None]
        loop = [] if self.loop is None else [self.loop, self.loop + 1]
        return counters + [index for _, index in self.metrics] + loop


def plan_roles(plan: _Plan, dialect: Dialect, first: int = 0) -> Roles:
    """A plan's roles under ``dialect`` (whose renames apply), kept on the plan; for a
    step counted within the epoch, ``first`` is the number of the log's first epoch."""
    found = plan.roles.get(dialect.name)
    if found is not None and (found.total is None or found.first == first):
        return found
    steps: dict[str, int] = {}
    metrics: dict[str, int] = {}
    epoch = None
    for slot in plan.slots:
        name = dialect.renames.get(slot.key, slot.canonical)
        if name == STEP:
            steps.setdefault(slot.key, slot.index)
        elif name == EPOCH:
            epoch = slot.index if epoch is None else epoch
        else:
            metrics.setdefault(name, slot.index)
    if "batch" in steps and epoch is None and "batch" not in plan.counted:
        # ``batch=50`` alone is a batch size; ``batch=10/2000`` counts batches
        metrics.setdefault("batch", steps.pop("batch"))
    key = next((k for k in _STEP_PRIORITY if k in steps), None)
    if key is None and steps:
        key = next(iter(steps))
    step = None if key is None else steps[key]
    total = None if key != IN_EPOCH or step is None else step + 1
    count = plan.count if step is None and epoch is None else None
    found = Roles(step, epoch, tuple(metrics.items()), total, first, count)
    plan.roles[dialect.name] = found
    return found


def _trace(
    dialect: Dialect, roles: Roles, marker: bool, text: str, tokens: dict[tuple[int, int], int]
) -> tuple[Roles, bool, bool] | None:
    """What a layout-only adjustment does to every line of a layout, found by running it
    once on stand-in values, one per number, that say where each result came from: the
    roles, marker and bits after it. ``tokens``: the index of the number token at each
    span of ``text``, for a step the adjustment counts within the epoch (``in_epoch``
    says where it read its parts). None when it drops the line or makes a value."""
    assert dialect.adjust is not None
    origin = {float(k + 1): index for k, (_, index) in enumerate(roles.metrics)}
    step = None if roles.step is None else -1.0
    epoch = None if roles.epoch is None else -2.0
    fields = LineFields(
        {name: float(k + 1) for k, (name, _) in enumerate(roles.metrics)}, step, epoch, marker
    )
    if not dialect.adjust(fields, text) or (roles.metrics and not fields.metrics):
        return None  # it drops the line, or all its values (a header has none to drop)
    metrics = []
    for name, value in fields.metrics.items():
        if value not in origin:
            return None
        metrics.append((name, origin[value]))
    if fields.counted is not None and fields.batch is not None:  # a step made in the epoch
        found = [tokens.get(span) for span in fields.counted]
        if None in found:
            return None  # a part is not exactly one number token
        at_epoch, at_step, at_total = found
        traced = Roles(at_step, at_epoch, tuple(metrics), at_total, fields.batch[2])
        return traced, fields.marker, fields.bits
    if fields.step not in (step, None) or fields.epoch not in (epoch, None):
        return None
    kept = fields.step is not None
    traced = Roles(
        roles.step if kept else None,
        None if fields.epoch is None else roles.epoch,
        tuple(metrics),
        roles.total if kept else None,
        roles.first,
        roles.loop,
    )
    return traced, fields.marker, fields.bits


@dataclass(frozen=True)
class Compiled:
    """A learned shape, ready to read a line of it without the general path."""

    pattern: re.Pattern[str]  # matches the line's text; its groups are its numbers
    plan_dialect: Dialect | None  # the dialect the shape shows, if any
    dialect: Dialect  # the dialect whose renames made ``roles``
    roles: Roles
    stats: ShapeStats | None  # the shape's sightings, counted for ``inspect``
    marker: bool  # a line of it starts a record at its step or epoch (see ``Fields``)
    bits: bool  # its losses are in bits
    evictions: int  # the parser's cache evictions when this was made: stale after one
    run: str | None  # "step", "numbered", "refresh", "header": how a run of its lines is read
    pick: Callable[[Sequence[str]], tuple[str, ...]]  # step, epoch (if any), metrics
    # Lines of shapes with the same run key can share columns: the metric names, whether
    # there is a step and an epoch, the dialect the shape shows, the kind of run, and
    # for a step counted within the epoch the first epoch's number (None: not so).
    # Last, whether its lines print a loop's count (``Roles.loop``): two more columns.
    run_key: tuple[tuple[str, ...], bool, bool, str | None, str | None, int | None, bool]
    # The dialects (by name) under which a line of it reads as by it: ``dialect``, and
    # each the log turned to since under which the shape compiled the same (``same_as``).
    readers: set[str] = field(default_factory=set, compare=False)
    told: bool = False  # a header whose step a sentence tells (``Fields.told``)

    def same_as(self, other: Compiled) -> bool:
        """Whether ``other`` (this layout compiled under another dialect) reads every
        line of it as this does."""
        return (
            self.pattern is other.pattern
            and self.plan_dialect is other.plan_dialect
            and self.roles == other.roles
            and self.stats is other.stats
            and (self.marker, self.bits, self.evictions, self.run, self.run_key, self.told)
            == (other.marker, other.bits, other.evictions, other.run, other.run_key, other.told)
        )


def _picker(*indices: int) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """A function taking the items at ``indices``, as a tuple even when there is one."""
    if len(indices) == 1:
        (index,) = indices
        return lambda items: (items[index],)
    return itemgetter(*indices)


def compile_shape(
    pattern: re.Pattern[str],
    plan: _Plan,
    dialect: Dialect,
    text: str,
    stats: ShapeStats | None,
    first: int = 0,
) -> Compiled | None:
    """The compiled form of a learned shape (``pattern``, ``plan``, read under
    ``dialect``; ``text`` is one of its lines), when reading a line of it by one match
    is exactly what the parser would do: its plan names some metrics and the dialect's
    adjustment (if any) depends only on the layout, or it only names a step or an epoch
    (a header: ``Evaluating at step 40``). Else None."""
    roles = plan_roles(plan, dialect, first)
    header = not roles.metrics
    if header and ((roles.step is None and roles.epoch is None) or plan.is_dict):
        return None
    if plan.fractions:
        return None  # an accuracy printed as a count of a total: read the general way
    marker = not (plan.is_dict and roles.step is None)
    bits = False
    if dialect.adjust is not None:
        if not dialect.reads_layouts(frozenset(name for name, _ in roles.metrics)):
            return None
        match = pattern.fullmatch(text)
        if match is None:
            return None
        tokens = {match.span(group): group - 1 for group in range(1, pattern.groups + 1)}
        traced = _trace(dialect, roles, marker, text, tokens)
        if traced is None:
            return None
        roles, marker, bits = traced
    if roles.total is not None and roles.total >= pattern.groups:
        return None  # ``i/N`` with no ``N``: read the general way
    # How a run of its lines may be read in bulk (the reader's ``_run``): each line a
    # record at its printed step, or each a record gradlog numbers (a dict with no step,
    # as HF Trainer prints), or each refreshing the block a header opened.
    run = None
    if header:
        run = "header"  # (it opens a block: its lines are read one at a time)
    elif not bits and marker and roles.step is not None:
        run = "step"
    elif not bits and not marker:
        run = "numbered"
    elif not bits and roles.epoch is None:  # no step, no epoch: it refreshes a block
        run = "refresh"
    return Compiled(
        pattern,
        plan.dialect,
        dialect,
        roles,
        stats,
        marker,
        bits,
        0,
        run,
        _picker(*roles.picked()),
        (
            tuple(name for name, _ in roles.metrics),
            roles.step is not None,
            roles.epoch is not None,
            None if plan.dialect is None else plan.dialect.name,
            run,
            None if roles.total is None else roles.first,
            roles.loop is not None,
        ),
        {dialect.name},
        plan.told,
    )


def to_float(token: str) -> float:
    """Read a number token, ignoring a stuck unit: ``nan.0``, ``-infxx``, ``4.2ms``,
    ``1,000.5``, ``1.#QNAN`` -> float."""
    try:
        return float(token)
    except ValueError:
        pass
    match = grammar.NUMBER_RE.fullmatch(token)
    text = match.group("num") if match else token
    if "#" in text:  # MSVC: 1.#INF is infinite, 1.#IND / 1.#QNAN are NaN
        return (
            math.copysign(math.inf, -1.0 if text.startswith("-") else 1.0)
            if ("INF" in text)
            else math.nan
        )
    if "," in text:
        text = text.replace(",", "")
    if "n" in text or "N" in text:
        text = text.lower().removesuffix(".0").replace(".", "")  # (YAML's ``.nan``, ``-.inf``)
    return float(text)


def read_roles(roles: Roles, tokens: Sequence[str]) -> LineNumbers:
    """The metrics, step and epoch (as printed, maybe non-finite) of a line's number
    ``tokens`` by their ``roles``, and for a step counted within the epoch the batch
    (index, batches per epoch, first epoch), the step then made global so that epochs
    stay apart."""
    try:  # plain numbers, as nearly always; to_float reads the odd ones
        metrics = {name: float(tokens[index]) for name, index in roles.metrics}
    except ValueError:
        metrics = {name: to_float(tokens[index]) for name, index in roles.metrics}
    step = None if roles.step is None else to_float(tokens[roles.step])
    epoch = None if roles.epoch is None else to_float(tokens[roles.epoch])
    total = None
    if roles.total is not None and step is not None:
        total = to_float(tokens[roles.total]) if roles.total < len(tokens) else 0.0
    return _counted(roles, metrics, step, epoch, total)


def read_picked(roles: Roles, values: Sequence[float]) -> LineNumbers:
    """``read_roles`` of a line whose picked numbers (``Roles.picked``, in that order)
    were read already, as floats."""
    at = 0
    counters: list[float | None] = []
    for index in (roles.step, roles.epoch, roles.total):
        counters.append(None if index is None else values[at])
        at += index is not None
    step, epoch, total = counters
    names = [name for name, _ in roles.metrics]
    metrics = dict(zip(names, values[at : at + len(names)], strict=True))
    return _counted(roles, metrics, step, epoch, None if step is None else total)


def _counted(
    roles: Roles,
    metrics: dict[str, float],
    step: float | None,
    epoch: float | None,
    total: float | None,
) -> LineNumbers:
    """The line's numbers with, for a step counted within the epoch (``total``: the
    batches per epoch), the batch, and the step made global."""
    if total is None or step is None:
        return metrics, step, epoch, None
    return metrics, ((epoch or 0.0) - roles.first) * total + step, epoch, (step, total, roles.first)
