"""Array screens for `loss_spike`: which records of a block need the full per-record look.

The rule's per-record work is mostly bookkeeping: push the loss and grad norm into
their windows, age a pending candidate, forget a language-model jump. It does anything
more only where the loss rose over its recent level (``_check``), where the grad norm
jumped 10x without the loss (the quiet-jump counter), on its first few finite losses
(the run's starting level) and on a NaN that may confirm a pending candidate. This
module finds those records with numpy over the whole block, so that the detector can
``observe`` just them and bring its windows up to date over the rest in one go.

A cheap bound comes first: the minimum of a window is a lower bound of its median, and
both per-record tests only get easier to pass as the level falls, so a record that is
quiet against the minimum is quiet against the median. The few records that fail the
bound are then tested against their exact median, computed as ``SortedWindow`` does
(same floats, same arithmetic), so a noisy run is not flagged wholesale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gradlog.config import SpikeThresholds
from gradlog.detectors.base import median
from gradlog.detectors.block import Block, Flags, Floats, window_extremes
from gradlog.detectors.window import SortedWindow
from gradlog.parse.names import GRAD_NORM, LOSS

Indexes = npt.NDArray[np.intp]

# The detector keeps its first this many finite losses as the run's starting level
# (``_start`` in spike.py); until it has them, every finite loss moves that level.
START = 5

INF = np.inf


@dataclass(frozen=True)
class Layout:
    """Where a block's loss-bearing records are, for the bulk update between flags."""

    present: Indexes  # block indexes of the records that print a loss (NaN included)
    good: Indexes  # ... of those whose loss is finite and not a hidden NaN


@dataclass(frozen=True)
class State:
    """What the screen needs of the detector's state at the start of the block."""

    recent: Sequence[float | None]  # the loss window's slots, oldest first
    grads: Sequence[float | None]  # the grad-norm window's slots, oldest first
    start: Sequence[float]  # the first finite losses seen so far
    start_level: float
    signed: bool  # a finite loss below zero was seen: no ratio measures a jump
    candidate_age: int | None  # records a pending NaN candidate has aged; None: none


def screenable(limits: SpikeThresholds) -> bool:
    """Whether the bounds hold for these thresholds: a positive window, a rise test that
    only gets easier as the level falls and a jump test that scales with it."""
    return limits.window > 0 and limits.min_rise_fraction >= 0 and limits.grad_jump > 0


def _padded(tail: Sequence[float | None], values: Floats, size: int) -> Floats:
    """The window's slots before the block, then ``values``, behind enough +inf that
    every value has ``size`` slots before it; None and non-finite slots count as +inf."""
    before = np.full(size, INF)
    if tail:
        kept = [INF if v is None else v for v in tail[-size:]]
        before[size - len(kept) :] = kept
    found = np.concatenate((before, values))
    found[size:][~np.isfinite(values)] = INF
    return found


def _medians(padded: Floats, rows: Indexes, size: int) -> tuple[Floats, Indexes]:
    """The median of the finite slots among the ``size`` before ``padded[size + row]``
    for each row, as ``sorted_median`` reads it, and how many finite slots there were."""
    windows = np.sort(padded[rows[:, None] + np.arange(size)], axis=1)  # +inf go last
    counts = np.isfinite(windows).sum(axis=1)
    low = np.take_along_axis(windows, (np.maximum(counts - 1, 0) // 2)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(windows, np.minimum(counts // 2, size - 1)[:, None], axis=1)[:, 0]
    return np.where(counts % 2 == 1, low, (low + high) / 2), counts


def screen(
    block: Block, limits: SpikeThresholds, state: State
) -> tuple[list[int], list[bool], Layout]:
    """The block indexes ``observe`` must see (ascending); for each, whether it is only
    a small rise (``_judge``), which ``observe`` needs to see only while a reported spike
    or a jump waiting to hold is open; and the layout for the rest."""
    loss = block.values(LOSS)
    if np.isfinite(loss).all():
        present: Indexes = np.arange(len(loss))
    else:
        present = np.flatnonzero(block.present(LOSS))
        loss = loss[present]
    grad = block.values(GRAD_NORM)[present]
    good: Flags = np.isfinite(loss)
    hidden = good & (loss == 0.0) & ~np.isfinite(grad)  # HF's 0.0 beside a NaN grad norm
    if hidden.any():
        good &= ~(hidden & block.present(GRAD_NORM)[present])
    goods = np.flatnonzero(good)  # positions among the loss-bearing records
    layout = Layout(present, present[goods])
    if not len(goods):
        checked = flagged = small = np.zeros(0, np.bool_)
    else:
        with np.errstate(all="ignore"):  # inf - inf, 0 * inf: such a record is a suspect
            checked, flagged, small = _judge(block, limits, state, layout, loss[goods], grad, goods)
    if good.all():
        return layout.good[flagged].tolist(), small[flagged].tolist(), layout
    # A non-finite loss confirms a pending candidate: one set by a record ``_check`` saw
    # (or before the block), with fewer than ``nan_horizon`` finite losses after it (the
    # candidate ages on its own record too). Any other non-finite loss is bookkeeping.
    seen = np.cumsum(good)  # finite losses up to each loss-bearing record
    setter = np.full(len(good), -1)
    setter[goods[checked]] = goods[checked]
    setter = np.maximum.accumulate(setter)
    alive = (setter >= 0) & (seen - seen[np.maximum(setter, 0)] < limits.nan_horizon)
    if state.candidate_age is not None:
        alive |= seen <= limits.nan_horizon - state.candidate_age
    marked = ~good & alive
    marked[goods[flagged]] = True
    only_small = np.zeros(len(good), np.bool_)
    only_small[goods[small]] = True
    return present[marked].tolist(), only_small[marked].tolist(), layout


def _judge(
    block: Block,
    limits: SpikeThresholds,
    state: State,
    layout: Layout,
    values: Floats,
    grad: Floats,
    goods: Indexes,
) -> tuple[Flags, Flags, Flags]:
    """For each finite loss (``values``, at ``goods`` among the loss-bearing records with
    grad norms ``grad``): whether ``_check`` runs on it; whether ``observe`` must see it
    (those, and the grad-norm jumps that the quiet-jump counter may count); and whether
    it is flagged only as a small rise: under every ratio to the level that ``_check``
    acts on (``least_ratio``). ``_check`` then only ends a spike reported before (unless
    the loss is still high above that spike's level) or a jump waiting to hold; without
    either open, such a record is what ``_advance`` makes of it (in a noisy run, most
    rises are such)."""
    size = limits.window
    # The first finite losses set the starting level: the per-record path takes them.
    first = max(0, START - len(state.start))
    flagged = np.zeros(len(goods), np.bool_)
    flagged[:first] = True
    start_level = state.start_level
    if first:
        records = block.records
        taken = [records[i].metrics[LOSS] for i in layout.good[:first].tolist()]
        start_level = median([*state.start, *taken])

    levels = _padded(state.recent, values, size)
    floor = window_extremes(levels[:-1], size)
    rise = limits.min_rise_fraction
    # Quiet against the window's minimum is quiet against its median (rise >= 0).
    # After a loss below zero (the block's, or one before it) no rise is checked.
    signed = np.logical_or.accumulate(np.concatenate(([state.signed], values[:-1] < 0)))
    suspect = ~(values - floor < rise * np.maximum(start_level, floor)) & ~signed
    # (a jump that dwarfs the window waives the rise, ``_dwarfs``: at least the lesser
    # of ``factor`` and ``quiet_factor`` over its median, so over its minimum too)
    dwarfing = min(limits.factor, limits.quiet_factor)
    suspect |= (values >= dwarfing * floor) & (floor > 0) & ~signed
    norms = _padded(state.grads, grad, size)
    now = grad[goods]
    finite_now = np.isfinite(now)
    jump = limits.grad_jump
    # Likewise no 10x jump over the minimum is none over the median (jump > 0).
    suspect |= finite_now & (now > 0) & (now >= jump * window_extremes(norms[:-1], size)[goods])
    suspect &= ~flagged
    rows = np.flatnonzero(suspect)
    if not len(rows):
        return flagged, flagged, np.zeros(len(goods), np.bool_)
    base, count = _medians(levels, rows, size)
    mine = values[rows]
    rose = (count > 0) & ~(mine - base < rise * np.maximum(start_level, base)) & ~signed[rows]
    rose |= (count > 0) & (base > 0) & (mine >= dwarfing * base) & ~signed[rows]
    level, norms_count = _medians(norms, goods[rows], size)
    scaled = jump * level
    quiet_jump = (
        (count > 0)
        & finite_now[rows]
        & (norms_count >= 3)
        & (now[rows] >= scaled)
        & (scaled > 0)
        & (mine < limits.grad_confirmed_factor * base)
    )
    checked = flagged.copy()
    checked[rows[rose]] = True
    flagged = checked.copy()
    flagged[rows[quiet_jump]] = True
    small = np.zeros(len(goods), np.bool_)
    # ``_check``'s ratio (``loss / base``, the same division) under every one it tests.
    small[rows] = rose & ~quiet_jump & (base > 0) & (mine / base < least_ratio(limits))
    return checked, flagged, small


def least_ratio(limits: SpikeThresholds) -> float:
    """The least ratio of a loss to its level that ``_check`` does anything with beyond
    ending what is open: a NaN's candidate, a grad-confirmed or persisting jump, a quiet
    window's jump, a spike."""
    return min(
        limits.nan_confirmed_factor,
        limits.grad_confirmed_factor,
        limits.quiet_factor,
        limits.factor,
    )


def refill(window: SortedWindow, new: Sequence[float | None]) -> None:
    """Append ``new`` to ``window`` in bulk: keep the last slots and sort their numbers.

    A stable sort of the slots in arrival order is exactly the list that ``append`` keeps
    (it inserts after equals and removes the leftmost equal, which is the oldest), so
    even 0.0 and -0.0 end up in the same order."""
    size = window._size
    slots = window._slots
    kept = list(new[-size:]) if len(new) >= size else [*slots, *new][-size:]
    slots.clear()
    slots.extend(kept)
    window.ordered[:] = sorted([v for v in kept if v is not None])


def slots(window: SortedWindow) -> list[float | None]:
    """The window's slots, oldest first."""
    return list(window._slots)
