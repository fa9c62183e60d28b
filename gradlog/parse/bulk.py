"""Reading a block of lines at once: the fast ways of ``LogReader.read_lines``.

A block's lines are looked at together: a line redrawn with ``\r`` becomes its states,
each line gets its skeleton, and stretches of lines whose skeletons share a token plan
are found (``runs.Stretch``: their numbers are cut out at once, no line is matched), and
spans of short runs of several such plans in turn (``weaves.Weave``). The lines between
them, and a log's first lines (which learn its layouts), are read one by one; all of it
goes into records by ``runreader.RunReader`` and ``weaves.WeaveReader``.
``LogReader.feed``, the general way, is the oracle all of this is tested against
(``tests/test_layouts.py``, ``tests/test_stretches.py``).
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gradlog import lazy
from gradlog.model import Record
from gradlog.parse import grammar
from gradlog.parse.clean import Fences, redrawn
from gradlog.parse.runreader import SPAN_LONGEST, SPANS_KEPT
from gradlog.parse.runs import (
    Item,
    Lines,
    Listed,
    Stretch,
    TokenPlan,
    skeletons,
    token_plan,
)
from gradlog.parse.weaves import Weave, WeaveReader, WeaveTable

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np

# A block with stretches covering less than 1 / _STRETCHED_SHARE of its lines (chatter,
# runs of a few lines of several kinds) is not worth skeletons: the next few have none.
_STRETCHED_SHARE = 4
_UNSTRETCHED_SKIPPED = 3
_LEARNED_FROM = 1024  # lines of a log's first block read one by one to learn its layouts
_STRETCH_SHORTEST = 16  # lines of one token plan cut out together: fewer are matched each
_WEAVE_SHORTEST = 24  # lines of several plans in turn read together (``WeaveReader._weave``)
_INNER_CR = lazy.regex(r"\r(?=[^\n])")  # a redraw inside a line, not its CRLF end


def stretches(
    codes: np.ndarray, plans: Sequence[TokenPlan | None], shortest: int
) -> list[tuple[int, int, TokenPlan]]:
    """The stretches of at least ``shortest`` consecutive lines of one plan: (first,
    end, plan). ``codes``: each line's plan, as its index in ``plans``."""
    starts, ends = runs_of(codes)
    long = ends - starts >= shortest
    starts, ends = starts[long], ends[long]
    found = zip(starts.tolist(), ends.tolist(), codes[starts].tolist(), strict=True)
    return [(start, end, plan) for start, end, code in found if (plan := plans[code]) is not None]


def runs_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values starts and ends."""
    changes = np.flatnonzero(values[1:] != values[:-1]) + 1
    return np.concatenate(([0], changes)), np.append(changes, len(values))


def _first(span: tuple[int, int, TokenPlan | Weave]) -> int:
    return span[0]


class BulkReader(WeaveReader):
    """The block-reading half of ``LogReader``: the state it reads is ``LogReader``'s;
    the lines, runs and weaves it finds are read by ``RunReader`` and ``WeaveReader``."""

    _plans: dict[bytes, TokenPlan | None]
    fences: Fences
    _skeletons: dict[bytes, bytes]  # layouts seen in stretches, with their skeletons
    _shared: dict[tuple[object, ...], TokenPlan]
    _planned: int
    _unstretched: int
    _covered: int

    def read_lines(
        self, first: int, lines: Iterable[str], shortest: int = 0
    ) -> list[Sequence[Record]]:
        """Read physical lines numbered from ``first``; return the records they complete,
        in order, in parts: lists of records, and ``RecordRun`` columns.

        The same as ``feed`` on each line, faster. A line of a learned layout whose shape
        was compiled (``LineParser.compiled``) is read by one match and handed to the
        assembler without the general path's objects; a run of lines that each print a
        whole record of the same metrics is read into columns at once (``_run``); and a
        long stretch of lines whose layouts share a ``TokenPlan`` is not even matched
        line by line, its numbers are cut out of it at once (``runs.Stretch``). Every
        other line goes through ``feed``, which also learns the layouts. A read of fewer
        than ``shortest`` lines (a redrawn line's states each count) reads no run into
        columns: a short read is not worth numpy."""
        if not isinstance(lines, list):
            lines = list(lines)
        parts: list[Sequence[Record]] = []
        loose: list[Record] = []  # records since the last run of columns
        started = 0
        while started < len(lines) and not (self._started and self._document is None):
            loose += self.feed(first + started, lines[started])  # a JSON document, maybe
            started += 1
        if started:
            parts.append(loose)
            if started == len(lines):
                return parts
            loose = []
        lines, numbers, joined = self._redrawn(
            first + started, lines[started:] if started else lines
        )
        columns = len(lines) >= shortest
        run: list[Item] = []
        if columns:
            run = self._span(numbers, lines, joined, 0, len(lines), run, loose, parts, True)
        done = len(lines) if columns else 0
        run = self._each(numbers, lines, done, len(lines), run, loose, parts, columns)
        if run:
            self._run(Listed(run), loose, parts)
        if loose:
            parts.append(loose)
        return parts

    def _redrawn(self, first: int, lines: list[str]) -> tuple[list[str], Sequence[int], str | None]:
        """The lines numbered from ``first``, each redrawn one (a progress bar's ``\\r``
        states) as its states (``clean.redrawn``), each a line with the line's number;
        the number of each line; and, when no line was redrawn, the lines joined by
        newlines (for their skeletons). Read alone, a state gives what it gives as part
        of its line (``feed`` cleans each state alike), and its layout can be learned."""
        numbers = range(first, first + len(lines))
        joined = "\n".join(lines)
        fences = self.fences
        if fences.touches(joined):
            lines = list(map(fences.read, lines))
            joined = "\n".join(lines)
        if "\r" not in joined or _INNER_CR.search(joined) is None:  # (one character: 20x faster)
            return lines, numbers, joined
        expanded: list[str] = []
        numbered: list[int] = []
        for number, raw in zip(numbers, lines, strict=True):
            states = redrawn(raw) if "\r" in raw else None
            if states is None:
                expanded.append(raw)
                numbered.append(number)
            else:
                expanded += states
                numbered += [number] * len(states)
        return expanded, numbered, None

    def _span(
        self,
        numbers: Sequence[int],
        lines: list[str],
        joined: str | None,
        low: int,
        high: int,
        run: list[Item],
        loose: list[Record],
        parts: list[Sequence[Record]],
        whole: bool,
    ) -> list[Item]:
        """Read lines ``low`` to ``high`` of the block: its stretches at once, the lines
        between them one by one. In a long gap between stretches (the log's first lines,
        when no layout is compiled yet; a new layout: an epoch's number gained a digit),
        the first ``_LEARNED_FROM`` lines are read one by one, which compiles their
        layouts, and the rest is looked at again when they did. ``whole``: the span is
        the block (it alone decides whether the next blocks look for stretches)."""
        if whole:
            self._covered = 0  # lines of the block read in stretches and weaves, so far
        block, found = self._stretches(
            numbers[low:high], lines[low:high], joined if whole else None, whole
        )
        self._covered += sum(end - start for start, end, _ in found)
        done = low
        for span in [*found, None]:
            start, end = (high, high) if span is None else (low + span[0], low + span[1])
            if start - done >= 2 * _LEARNED_FROM:
                compiled = len(self._compiled)
                run = self._each(
                    numbers, lines, done, done + _LEARNED_FROM, run, loose, parts, True
                )
                done += _LEARNED_FROM
                if len(self._compiled) > compiled:  # it learned: look at the rest again
                    run = self._span(numbers, lines, None, done, start, run, loose, parts, False)
                    done = start
            run = self._each(numbers, lines, done, start, run, loose, parts, True)
            if span is None:
                break
            plan = span[2]
            assert block is not None  # stretches come with their block
            if isinstance(plan, Weave):
                if run:
                    self._run(Listed(run), loose, parts)
                    run = []
                self._weave(plan, loose, parts)
            elif self._ready() and self._current(plan.shape):
                if run:
                    self._run(Listed(run), loose, parts)
                    run = []
                self._run(Stretch(block, start - low, end - low, plan), loose, parts)
            else:
                for key in set(block.keys[start - low : end - low]):  # a stale plan
                    self._plans.pop(key, None)
                run = self._each(numbers, lines, start, end, run, loose, parts, True)
            done = end
        if whole and self._unstretched and self._covered * _STRETCHED_SHARE >= high - low:
            # (Few stretches at first sight, but a new layout, learned from the block's
            # lines, stretched the rest: the next blocks look for stretches again.)
            self._unstretched = 0
        return run

    def _stretches(
        self,
        numbers: Sequence[int],
        lines: list[str],
        joined: str | None = None,
        whole: bool = True,
    ) -> tuple[Lines | None, list[tuple[int, int, TokenPlan | Weave]]]:
        """The stretches of at least ``_STRETCH_SHORTEST`` lines of skeletons that share
        a token plan, as the layouts compiled now know them, and the weaves in the place
        of the stretches in them (``_weaves``). ``whole``: the lines are a block, whose
        share of stretched lines decides whether the next blocks look."""
        if not (self.layouts and self._compiled) or len(lines) < _STRETCH_SHORTEST:
            return None, []
        if whole and self._unstretched:  # the last block had few: look again in a few
            self._unstretched -= 1
            return None, []
        if len(self._skeletons) >= SPANS_KEPT:
            self._skeletons.clear()  # (a log of ever new layouts: start again)
        # (Until a rank's line was read, no layout keeps a tag: none to look for.)
        tagged = self._rank is not None
        found = skeletons(lines, joined, self._skeletons, SPAN_LONGEST, SPANS_KEPT, tagged)
        if found is None:
            return None, []
        data, keys, masked, layouts = found
        plans = self._plans
        if self._planned != self._parser.evictions:  # every plan's shape is stale
            plans.clear()
            self._shared.clear()
            self._planned = self._parser.evictions
        new = set(keys).difference(plans)
        if new:
            # Lines of one skeleton may differ in their count of digits, so in layout:
            # the plan comes from the last or the first, whichever layout is compiled.
            # (Found by scans: a key whose layout is not compiled yet is new each block.)
            backwards = keys[::-1]
            for key in new:
                if not self._plan(key, lines[len(keys) - 1 - backwards.index(key)]):
                    self._plan(key, lines[keys.index(key)])
        planned = list(map(plans.get, keys))
        block = Lines(numbers, lines, data, keys, masked, planned)
        codes, coded = block.codes()
        spans: list[tuple[int, int, TokenPlan | Weave]] = []
        spans += stretches(codes, list(coded), _STRETCH_SHORTEST)
        weaves, woven, quiet = self._weaves(codes, list(coded), layouts)
        if weaves:  # (a stretch is in a weave or clear of every one)
            starts = [start for start, _ in weaves]
            spans = [
                span
                for span in spans
                if (at := bisect.bisect_right(starts, span[0]) - 1) < 0 or span[0] >= weaves[at][1]
            ]
            plain = [self.families.plain(plan.shape.run_key[0]) for plan in woven]
            if quiet is None:
                table = WeaveTable.read(block, woven, plain, None)
                spans += [(start, end, Weave(block, table, start, end)) for start, end in weaves]
            else:  # the weaves' rows: their lines but the quiet ones
                rows = np.flatnonzero(~quiet)
                table = WeaveTable.read(block, woven, plain, rows)
                for start, end in weaves:
                    low, high = np.searchsorted(rows, (start, end)).tolist()
                    among = np.flatnonzero(quiet[start:end]) + start
                    counts = Counter(map(layouts.__getitem__, among.tolist()))
                    spans.append((start, end, Weave(block, table, low, high, rows, counts)))
            spans.sort(key=_first)
        if whole and sum(end - start for start, end, _ in spans) * _STRETCHED_SHARE < len(lines):
            self._unstretched = _UNSTRETCHED_SKIPPED
        return (block if spans else None), spans

    def _weaves(
        self, codes: np.ndarray, plans: list[TokenPlan | None], layouts: list[bytes]
    ) -> tuple[list[tuple[int, int]], list[TokenPlan], np.ndarray | None]:
        """Where at least ``_WEAVE_SHORTEST`` lines in a row are of plans whose lines each
        open a record or join the one before (``WeaveReader._weavable``), or of layouts
        that yield nothing (quiet), starting and ending with one of a plan, of several
        plans or with quiet lines between: (first, end); those plans, in order of first
        sight; and which lines are quiet, when any are. ``codes``: each line's plan, as
        its index in ``plans``; ``layouts``: each line's layout."""
        known = [plan for plan in plans if plan is not None]
        fits, dialects = self._weavable([plan.shape for plan in known])
        woven = list(itertools.compress(known, fits))
        if not woven:
            return [], [], None
        weavable = np.isin(codes, [plans.index(plan) for plan in woven])
        quiet = self._quiet_lines(codes, plans, layouts, dialects)
        if quiet is None and len(woven) < 2:
            return [], [], None  # (no weave of one plan)
        if quiet is not None:
            weavable |= quiet
        starts, ends = runs_of(weavable)
        long = weavable[starts] & (ends - starts >= _WEAVE_SHORTEST)
        found = []
        for start, end in zip(starts[long].tolist(), ends[long].tolist(), strict=True):
            if quiet is not None:  # (it starts and ends with a line of a plan)
                kept = np.flatnonzero(~quiet[start:end])
                if len(kept) < 2:
                    continue
                start, end = start + int(kept[0]), start + int(kept[-1]) + 1
                if end - start < _WEAVE_SHORTEST:
                    continue
            if (codes[start:end] != codes[start]).any():  # (several plans, or quiet lines)
                found.append((start, end))
        return found, woven, quiet if found else None

    def _quiet_lines(
        self,
        codes: np.ndarray,
        plans: list[TokenPlan | None],
        layouts: list[bytes],
        dialects: set[str],
    ) -> np.ndarray | None:
        """Which lines of no plan are of a layout that yields nothing under each of
        ``dialects`` alike (``WeaveReader._quiet_under``); None when none is."""
        if not self._quiet or None not in plans:
            return None
        planless = np.flatnonzero(codes == plans.index(None))
        chosen = planless.tolist()
        numeric = self._quiet_under(set(map(layouts.__getitem__, chosen)), dialects)
        if not numeric:
            return None
        mask = np.zeros(len(codes), np.bool_)
        mask[[line for line in chosen if layouts[line] in numeric]] = True
        return mask

    def _plan(self, key: bytes, raw: str) -> bool:
        """Plan the lines of skeleton ``key`` from ``raw``, one of them, when its layout
        is compiled (else later: it may be compiled by then); whether it was."""
        if len(raw) > SPAN_LONGEST:
            return False
        layout = grammar.layout(raw.encode("utf-8", "surrogatepass"))
        if layout not in self._compiled:
            return False
        if len(self._plans) >= SPANS_KEPT:
            self._plans.clear()
        entry = self._compiled[layout]
        plan = None if entry is None else token_plan(raw, entry)
        if plan is not None:
            plan = self._shared.setdefault(plan.key(), plan)
        self._plans[key] = plan
        return True
