"""Parsed line fields -> one Record per step or epoch, streaming."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gradlog.model import Record, Step, step_value
from gradlog.parse.events import OVERFLOW, SKIPPED_STEP
from gradlog.parse.families import MEASURED, family, holds_loss, in_context
from gradlog.parse.line import Fields
from gradlog.parse.names import LOSS, VAL_LOSS

if TYPE_CHECKING:
    import numpy as np
else:
    from gradlog.lazy import numpy as np


@dataclass
class _Pending:
    """The record being filled: opened by a header, a marked line, or an unmarked line."""

    step: float
    line: int
    epoch: float | None
    numbered: bool  # True when gradlog numbered the step itself (no step was printed)
    header: bool  # True when opened by a line that only named the step (``Epoch 9/50``)
    metrics: dict[str, float] = field(default_factory=dict)
    by_step: bool = False  # opened by a line that printed a step (not only an epoch)
    bits: bool = False  # its losses are in bits
    # In a block: the last loop count seen (``Assembler.loop``), and the names values of
    # an earlier loop set, once another loop began (None: still the block's first loop).
    count: tuple[float, float] | None = None
    earlier: frozenset[str] | None = None
    shown: frozenset[str] | None = None  # the names the last line with a count printed
    # The physical line of the last epoch summary taken, and the names its bar's states
    # set (``summarise``).
    summarised: tuple[int, set[str]] = field(default_factory=lambda: (-1, set()))
    told: bool = False  # a header whose step a sentence told (``Evaluating at step 40``)
    # A record no step opened: the line that last gave it values, the bar count printed
    # on it, and how many lines since have printed its values again
    # (``Assembler._printed_again``).
    last: int = 0
    seen: tuple[float, float] | None = None
    copies: int = 0
    # In a block: the names of the lines it took that printed no loop count, the line
    # each was last on, and how many times they changed (``changes``).
    lines: dict[frozenset[str], tuple[int, int]] = field(default_factory=dict)

    def takes(self, metrics: dict[str, float], epoch: float | None = None) -> bool:
        """Whether values without a step belong here rather than to a new record."""
        if epoch is not None and self.epoch is not None and epoch != self.epoch:
            return False  # values at another epoch (HF dicts): another record
        if self.header:
            # A block takes every value; later ones overwrite (Keras averages). Under a
            # step a sentence told (``Training resuming from step 0``), a training loss
            # printed again is the run gone on: the lines print no step of their own.
            return not (self.told and self.moved_on(metrics))
        return all(
            name not in self.metrics or _same(self.metrics[name], value)
            for name, value in metrics.items()
        )

    def changes(self, line_no: int, metrics: dict[str, float]) -> int:
        """In a block an epoch's header opened: how many lines of these names it took,
        each on a line of its own (not a bar's redraw) and with another value than the
        one before, this line among them when it is so; 0 when it is not (``Assembler``:
        lines of a loss that change again and again are the epoch's records)."""
        names = frozenset(metrics)
        seen = self.lines.get(names)
        if (
            self.by_step  # (a step's block is one record: its lines its parts)
            or seen is None
            or seen[0] == line_no
            or not (LOSS in names or VAL_LOSS in names)
            or all(_same(self.metrics[name], value) for name, value in metrics.items())
        ):
            return 0
        return seen[1] + 1

    def summarise(self, line_no: int, metrics: dict[str, float]) -> None:
        """Take an epoch's summary line (``Assembler._summarises``): its means never
        replace the steps' values, but a later state of a bar replaces the values its
        state before set: a summary on the same line (redrawn with ``\\r``) or on the
        line after it (a bar that writes each state on a line of its own), as a
        validation bar's running loss goes from its first state's ``Loss: 0.000000`` to
        its last."""
        last, names = self.summarised
        if not last <= line_no <= last + 1:
            names = set()
        for name, value in metrics.items():
            if name not in self.metrics or name in names:
                self.metrics[name] = value
                names.add(name)
        self.summarised = (line_no, names)

    def moved_on(self, metrics: dict[str, float]) -> bool:
        """Whether ``metrics`` hold another training loss than the record's."""
        loss = metrics.get(LOSS)
        held = self.metrics.get(LOSS)
        return loss is not None and held is not None and not _same(loss, held)

    def fill(self, metrics: dict[str, float]) -> None:
        """Take a line's values (``takes`` said they belong here). In a block, a loop
        after its first is an evaluation (Keras's ``model.evaluate`` bar after the last
        epoch, a validation bar after the training one): its losses and accuracies are
        the evaluation's, and it never replaces a value an earlier loop set."""
        earlier = self.earlier
        if earlier is None:
            self.metrics.update(metrics)
            return
        for name, value in metrics.items():
            name = in_context(name, True, False)
            if name not in earlier:
                self.metrics[name] = value


def new_loop(index: Any, total: Any, last_index: Any, last_total: Any) -> Any:
    """Whether a bar's count ``index/total`` after ``last_index/last_total`` begins
    another loop over batches: it went back, or counts to another total. Of numbers, or
    elementwise of arrays."""
    return (index < last_index) | (total != last_total)


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)  # NaN equals NaN here: a repeated line


def _marker(step: float | None, epoch: float | None, marker: bool) -> float | None:
    """Where a line starts a record: its step, else its epoch; None when it marks none."""
    if not marker:
        return None
    return step if step is not None else epoch


# Lines that print a record's values again, one after another, before the log is taken
# to print them once each (a loss frozen from its first line): no handler or rank prints
# a line so many times over.
_MOST_COPIES = 8
_CHANGES = 2  # a block's lines of a loss that change this often are records (``take``)

# Event values that count occurrences: two overflow lines in one record are two skipped
# steps (and, for a loss scaler, two halvings), not one.
_COUNTED = (OVERFLOW, SKIPPED_STEP)


def _count_events(metrics: dict[str, float], event: dict[str, float]) -> None:
    """Add an event's values to a record: counts add up, other values replace."""
    for name, value in event.items():
        if name in _COUNTED and name in metrics:
            metrics[name] += value
        else:
            metrics[name] = value


def went_back(steps: np.ndarray, epochs: np.ndarray) -> np.ndarray:
    """The positions whose step is lower than the one before at a later epoch: where a
    step counter that starts again each epoch did (``Assembler._counted_on``)."""
    found: np.ndarray = np.flatnonzero((np.diff(epochs) > 0) & (np.diff(steps) < 0)) + 1
    return found


class Assembler:
    """Groups line fields into records.

    - A line that prints a step (or, failing that, an epoch) starts a new record, unless
      it repeats the step of the record being filled (a progress-bar refresh, another
      rank), in which case its values update that record.
    - A line without a step fills the open record: a block opened by a header takes every
      value; any other record takes values it does not have yet (or has with the same
      value: a duplicated line), and a new value for a name it has starts a new record,
      numbered in order.
    """

    def __init__(self) -> None:
        self._pending: _Pending | None = None
        self._carry: dict[str, float] = {}  # event values seen before any record opened
        self._carry_line = 0
        self._last: Record | None = None
        self.numbered = False  # some steps were numbered by gradlog, not read from the log
        self.numbered_records = 0  # how many
        # A step counter that starts again with each epoch (``Epoch 2, batch 100``):
        # the last printed epoch and step, and what is added to the steps since the
        # counter first went back (``_counted_on``).
        self._counter: tuple[float, float] | None = None
        self.offset = 0.0
        # The epoch of the last header that named only an epoch (``Epoch: 0003``), and
        # for the step lines after such headers that print no epoch (``_headed``): the
        # first step after the header before (where the counter starts), whether none
        # came after the last header yet, and the last step.
        self.header_epoch: float | None = None
        self._headed_start: float | None = None
        self._headed_first = False
        self._headed_last: float | None = None
        self._headed_rose = False  # the last header's epoch is past the one's before
        # Lines that print only their epoch are numbered: an epoch printed several
        # records, each with its own training loss (``_within_epoch``).
        self._in_epoch = False
        # A header's block whose lines (no step, no loop count) were records of their
        # own: every block after it is numbered too (``_Pending.changes``).
        self._in_block = False
        # How the log prints records no step opens: once each (``_single``), or each so
        # many times over (``_copies``: two handlers, ranks), as its first such record
        # showed; and the bar count of the line being taken (``loop``).
        self._single = False
        self._copies = 0
        self._count: tuple[float, float] | None = None
        # A line that printed no step, with a training loss, after a record a printed
        # step opened: taken as that record's summary (``_summary``), until a second
        # such line shows they are records. Its line, values, bits, and the names it
        # added to the open record.
        self._held: tuple[int, dict[str, float], bool, list[str]] | None = None

    def feed(self, line_no: int, fields: Fields) -> list[Record]:
        """Take one line's fields; return the records this completes (zero or one)."""
        if fields.event and _marker(fields.step, fields.epoch, fields.marker) is None:
            pending = self._pending
            if pending is not None:
                pending.bits = pending.bits or fields.bits
                _count_events(pending.metrics, fields.metrics)
                return []
            # A second event before any record: the events are the records (a log made
            # only of overflow lines), numbered in order.
            done = self._carried() if self._carry.keys() & fields.metrics.keys() else []
            self._carry_line = self._carry_line if self._carry else line_no
            self._carry.update(fields.metrics)
            return done
        if fields.count is not None:
            self.loop(*fields.count)
        return self.take(
            line_no,
            fields.metrics,
            fields.step,
            fields.epoch,
            fields.marker,
            fields.is_header,
            fields.bits,
            fields.told,
        )

    def take(
        self,
        line_no: int,
        metrics: dict[str, float],
        step: float | None,
        epoch: float | None,
        marker: bool = True,
        header: bool = False,
        bits: bool = False,
        told: bool = False,
    ) -> list[Record]:
        """Take the values of a line that is not an event (``feed`` without the
        dataclass: the reader's fast way calls this directly)."""
        pending = self._pending
        count, self._count = self._count, None
        if count is not None and pending is not None and pending.header:
            self._dropped(pending, metrics)
        if bits and pending is not None:
            pending.bits = True  # the open record's losses are in bits too
        if header and step is None and epoch is not None and not metrics:
            self._headed_rose = self.header_epoch is not None and epoch > self.header_epoch
            self.header_epoch, self._headed_first = epoch, True
        if step is not None and marker:
            if epoch is not None:
                step = self._counted_on(step, epoch, metrics)
            elif self.header_epoch is not None:
                step = self._headed(step)
        at = _marker(step, epoch, marker)
        if at is not None and header and step is None and self._in_block:
            # An epoch's header once its block's lines were records of their own: its
            # block is the next record, numbered in order (the epoch would put it back).
            return self._numbered(line_no, metrics, epoch, bits, block=True)
        if at is not None and step is None and self._within_epoch(line_no, epoch, header, metrics):
            # A line that prints only its epoch, again, with a training loss that has
            # moved on (a loop that prints ``Epoch [1/100] Loss: 3.30`` every 20 batches):
            # the next record of the epoch, numbered in order, as are all epoch-only
            # records from then on (the epochs would put them back).
            assert pending is not None
            if self._in_epoch and pending.epoch == epoch and not pending.moved_on(metrics):
                pending.metrics.update(metrics)  # its evaluation, or a repeated line
                return []
            self._in_epoch = True
            return self._numbered(line_no, metrics, epoch, bits)
        if (
            at is not None
            and header
            and step is None
            and pending is not None
            and pending.by_step
            and pending.epoch is None
            and at <= pending.step
        ):
            # An epoch's header among lines that print steps but no epoch (``Epoch: 15``
            # after ``Validation loss 7890: ..``): its block comes after the last step,
            # not back at step 15.
            at = pending.step + 1
        if at is not None:
            if pending is not None and not pending.numbered and pending.step == at:
                pending.metrics.update(metrics)
                return []
            if self._summarises(pending, step, epoch, header):
                assert pending is not None
                pending.summarise(line_no, metrics)
                return []
            if self._preamble(pending, at):
                # The counts of a banner before the log's first step (LightGBM's ``Number
                # of positive: 3913``, HF's ``Num examples = 3,668``) join its first
                # record, instead of making a record of their own at a numbered step 1.
                assert pending is not None
                self._carry = {**pending.metrics, **self._carry}
                self._pending, done = None, []
                self.numbered_records -= pending.numbered
                self.numbered = self.numbered_records > 0
            else:
                done = self.flush()
            self._pending = _Pending(
                at,
                line_no,
                epoch,
                False,
                header,
                self._take(metrics),
                by_step=step is not None,
                bits=bits,
                told=told and header,
            )
            return done
        if not metrics:
            return []
        done = []
        changes = 0
        if pending is not None and pending.header and count is None:
            changes = pending.changes(line_no, metrics)
            if changes >= (1 if self._in_block else _CHANGES):
                # Lines of a loss the block took that change again and again, with no
                # step or loop count of their own: the epoch's records, numbered in
                # order, and so are the blocks after it (once the log showed the way,
                # their first change is a record). Twice is not enough: an epoch's
                # training and validation lines of the same names (robomimic's JSON
                # after ``Train Epoch 2`` and after ``Validation Epoch 2``).
                self._in_block = True
                return self._numbered(line_no, metrics, pending.epoch, bits, block=True)
        if pending is not None and pending.takes(metrics, epoch):
            # (A line of all its names at the same values: its values printed again.)
            again = (
                pending.numbered and not pending.header and metrics.keys() == pending.metrics.keys()
            )
            if again and self._printed_again(pending, line_no, count):
                done = self._numbered(line_no, metrics, epoch, bits)
            else:
                pending.copies += again
                pending.fill(metrics)
                if pending.header and count is None and len(pending.lines) < _MOST_COPIES:
                    pending.lines[frozenset(metrics)] = (line_no, changes)
                if pending.epoch is None:
                    pending.epoch = epoch
        elif pending is not None and self._held is not None:
            # A second line of values that printed no step: the one held as a summary
            # was a record, numbered in order, as this one is.
            held_line, held, held_bits, added = self._held
            self._held = None
            for name in added:
                del pending.metrics[name]
            done = self._numbered(held_line, held, None, held_bits)  # (it printed no epoch)
            self._count = count
            return done + self.take(line_no, metrics, step, epoch, marker, header, bits, told)
        elif pending is not None and count is None and self._summary(pending, metrics, step, epoch):
            # Its means never replace the step's values, nor stand beside those of
            # their series (its mean loss beside the step's loss terms).
            held_families = {family(name) for name in pending.metrics}
            added = [name for name in metrics if family(name) not in held_families]
            for name in added:
                pending.metrics[name] = metrics[name]
            self._held = (line_no, metrics, bits, added)
            return []
        else:
            done = self._numbered(line_no, metrics, epoch, bits)
        taking = self._pending
        assert taking is not None
        taking.last, taking.seen = line_no, count  # (for ``_printed_again``)
        return done

    def _printed_again(
        self, pending: _Pending, line_no: int, count: tuple[float, float] | None
    ) -> bool:
        """Whether a line that prints no step, only the open record's values again (all of
        its names, each at the same value), is the next record (the run printed the same
        numbers: a loss frozen at 0.6931, an optimiser's iterations that moved it below the
        printed digits) rather than the same record printed twice (a logger's two
        handlers, ranks that each print the reduced loss).

        Where both lines print a bar's count, it is the next record when the count
        changed (``89/600`` after ``88/600``, or a new loop's ``1/600``). Else only the
        very next line can be, and it is when the log prints each record once (its first
        record no step opened was printed once), or each so many times over and this one
        has been printed that often; before the log shows which, a record printed again
        and again (``_MOST_COPIES``) is a frozen one."""
        if count is not None and pending.seen is not None:
            return count != pending.seen  # (the same count: the bar drawn again)
        if line_no != pending.last + 1:
            return False
        if self._copies:
            return pending.copies + 1 >= self._copies
        return self._single or pending.copies + 1 >= _MOST_COPIES

    def _numbered(
        self,
        line_no: int,
        metrics: dict[str, float],
        epoch: float | None,
        bits: bool,
        block: bool = False,
    ) -> list[Record]:
        """Complete the open record and open one for ``metrics`` at the next step after
        the last record's, numbered by gradlog; return what that completes. ``block``:
        the record is an epoch's block (``_Pending.changes``), its line one it took."""
        done = self.flush()
        self.numbered = True
        self.numbered_records += 1
        number = (self._last.step if self._last is not None else 0) + 1
        self._pending = _Pending(
            float(number), line_no, epoch, True, block, self._take(metrics), bits=bits
        )
        if block and metrics:
            self._pending.lines[frozenset(metrics)] = (line_no, 0)
        return done

    def _within_epoch(
        self, line_no: int, epoch: float | None, header: bool, metrics: dict[str, float]
    ) -> bool:
        """Whether a line that prints its epoch but no step is a record of its own within
        the epoch (``take``): its epoch's lines have been numbered so far, or it repeats
        the open record's epoch, on another line (not a bar's redraw), with another
        training loss. (A block's bar, which counts its loop, refreshes the block's
        values: Keras's running means.)"""
        pending = self._pending
        if pending is None or epoch is None or header:
            return False
        if self._in_epoch:
            return pending.numbered and pending.epoch is not None
        return (
            not pending.numbered
            and not pending.by_step
            and not pending.header
            and pending.count is None
            and pending.step == epoch
            and pending.epoch == epoch
            and line_no != pending.line
            and pending.moved_on(metrics)
        )

    def loop(self, index: float, total: float) -> None:
        """Note a bar's count ``index/total`` on the line about to be taken (it prints no
        step or epoch). In a block a header opened, a count that goes back or changes its
        total begins another loop over batches than the one before (``_Pending.fill``)."""
        self._count = (index, total)
        pending = self._pending
        if pending is None or not pending.header:
            return
        last = pending.count
        if last is not None and new_loop(index, total, *last):
            pending.earlier = frozenset(pending.metrics)
        pending.count = (index, total)

    @staticmethod
    def _dropped(pending: _Pending, metrics: dict[str, float]) -> None:
        """Note the names of a block's line that prints a loop's count. A bar's later
        state shows every name its earlier one did (Keras adds ``val_`` ones at the end);
        a line of the same count that shows fewer is another loop: Keras's
        ``model.evaluate`` bar (``1/1 [===] - loss: 1.65``) after the last epoch of a
        full-batch run, its count the same as each epoch's."""
        shown, pending.shown = pending.shown, frozenset(metrics)
        if shown is not None and not shown <= pending.shown:
            pending.earlier = frozenset(pending.metrics)

    def _carried(self) -> list[Record]:
        """The carried event values as a record of their own, numbered in order."""
        number = (self._last.step if self._last is not None else 0) + 1
        record = Record(step_value(number), self._carry_line, self._carry)
        self._carry, self._last, self.numbered = {}, record, True
        self.numbered_records += 1
        return [record]

    def _counted_on(self, step: float, epoch: float, metrics: dict[str, float]) -> float:
        """A printed step made global when the counter starts again with each epoch: a
        step lower than the last one at a later epoch (``Epoch 1, batch 1800`` then
        ``Epoch 2, batch 0``) continues from the last one (2001), and so on from there;
        so does the same step at a later epoch with a training loss of its own
        (``metrics``), beside the open record's (a loop that prints once an epoch, at its last
        batch, ``Epoch 2 Iter 600 loss ..``, or its steps an epoch, OpenSTL's ``Epoch:
        19, Steps: 1134 | ..``; the same loss too, a frozen one), where the same step
        with no training loss is the epoch's evaluation, made after its count went up.
        A step counted within the epoch with its total (``i/N``) is global already and
        never goes back."""
        last = self._counter
        if (
            last is not None
            and epoch > last[0]
            and (step < last[1] or (step == last[1] and self._again(metrics)))
            and math.isfinite(step)
        ):
            self.offset += last[1] - step + max(step, 1.0)
        if math.isfinite(step) and math.isfinite(epoch):
            self._counter = (epoch, step)
        return step + self.offset

    def _again(self, metrics: dict[str, float]) -> bool:
        """Whether a line prints a training loss beside the open record's (a record of
        its own, not the open one's evaluation)."""
        pending = self._pending
        return pending is not None and LOSS in metrics and LOSS in pending.metrics

    def _headed(self, step: float) -> float:
        """A step printed without its epoch after a header that named only the epoch
        (GraphSAGE's ``Epoch: 0002`` then ``Iter: 0000 ..``), made global when its counter
        starts again under each header: the first step after a header of a later epoch
        goes back to the very step the first after the header before was (``0`` again;
        under the same epoch, it is a resume), and the steps go on from the last one.
        Any other step after a header (another run's, one that goes on over the headers)
        is as printed, plus what was added before."""
        if not math.isfinite(step):
            return step + self.offset
        if self._headed_first:
            self._headed_first = False
            start, last = self._headed_start, self._headed_last
            self._headed_start = step
            if (
                self._headed_rose
                and start is not None
                and last is not None
                and start == step < last
            ):
                self.offset += last - step + max(step, 1.0)
        self._headed_last = step
        return step + self.offset

    def restarts(self, steps: np.ndarray, epochs: np.ndarray | None) -> bool:
        """Whether lines read in bulk would need ``_counted_on``: its counter went back
        before, or does within them (a later epoch at a lower step)."""
        if self.offset:
            return True
        return epochs is not None and len(went_back(steps, epochs)) > 0

    def _preamble(self, pending: _Pending | None, at: float | None = None) -> bool:
        """Whether the open record is the log's first, numbered by gradlog (no step was
        printed yet) or at a step or epoch past the one that now opens a record (``at``:
        Chainer's ``# epoch: 20`` is the epochs to run, before epoch 1), and holds no
        series a rule measures (``families.MEASURED``: no loss, accuracy, grad norm or
        loss scale; a learning rate is the one set): the settings and counts a log
        prints before it trains (nvdiffrec's flags, ``iter 5000`` among them, the steps
        to run, and ``learning_rate [0.03, 0.01]``; a command line's ``--lr 0.0005``)."""
        return (
            pending is not None
            and (pending.numbered or (at is not None and at < pending.step))
            and self._last is None
            and not any(family(name) in MEASURED for name in pending.metrics)
        )

    def _summarises(
        self, pending: _Pending | None, step: float | None, epoch: float | None, header: bool
    ) -> bool:
        """An epoch-only line (``epoch 3 | train_loss .. | val_loss ..``) after step lines
        of that epoch, of a later one, or of the one before (the loop counts its epochs
        from 0, its evaluation from 1): a summary of an epoch that has run, not a record
        of its own numbered by the epoch (which would send the steps backwards). After
        step lines that print no epoch, an epoch no later than the step is one that has
        run (an epoch has a step at least): ``step 2480 | loss ..`` then ``epoch 1 |
        val_loss ..``; but a header (``Epoch: 12``) opens the epoch's block."""
        if pending is None or not pending.by_step or step is not None or epoch is None:
            return False
        if pending.epoch is None:
            return not header and epoch <= pending.step
        return epoch <= pending.epoch + 1

    @staticmethod
    def _summary(
        pending: _Pending, metrics: dict[str, float], step: float | None, epoch: float | None
    ) -> bool:
        """A line that prints neither step nor epoch, with a finite training loss,
        values the open record holds already and a name it does not, when a printed step
        opened that record with its loss (DBNet's ``[2/1200], train_loss: 3.62, time:
        36.5`` after step lines of ``loss_all`` and its terms): the mean of the steps
        that ran, not a record of its own numbered after them (in a loss that alternates
        step by step, it would break the alternation). A line of the record's own names
        is the next record printed in another style, and a bar's line (its count) a state
        of the bar.

        It is held as such until a second line of values that prints no step comes
        before the next step (``Assembler._held``): a log that prints its step on some
        lines only."""
        return (
            step is None
            and epoch is None
            and pending.by_step
            and not pending.numbered
            and not pending.header
            and holds_loss(metrics)
            and holds_loss(pending.metrics)
            and not metrics.keys() <= pending.metrics.keys()  # (else: the same, restyled)
            and all(map(math.isfinite, metrics.values()))  # (a NaN is news, never a mean)
        )

    def _take(self, metrics: dict[str, float]) -> dict[str, float]:
        """A new record's values: any event values carried so far, then the line's."""
        if not self._carry:
            return dict(metrics)
        taken, self._carry = {**self._carry, **metrics}, {}
        return taken

    def open_step(self) -> float | None:
        """The step of the open record, if a printed step opened it."""
        pending = self._pending
        return None if pending is None or pending.numbered else pending.step

    def open_header(self, names: tuple[str, ...] = ()) -> bool:
        """Whether the open record is a block a header opened that takes lines of
        ``names`` (every value but a line's of another epoch, or a training loss under a
        step a sentence told: ``_Pending.takes``)."""
        pending = self._pending
        return pending is not None and pending.header and not (pending.told and LOSS in names)

    def numbers_block(self, names: tuple[str, ...]) -> bool:
        """Whether lines of ``names`` that print no loop count may each be a record of
        their own in the open block (an epoch's header opened it, and they hold a loss:
        ``_Pending.changes``), so that they are read one by one, not only the last."""
        pending = self._pending
        return (
            pending is not None
            and pending.header
            and not pending.by_step
            and (LOSS in names or VAL_LOSS in names)
        )

    def holding(
        self, names: tuple[str, ...], values: list[float], epoch: float | None
    ) -> tuple[float, bool] | None:
        """The step of the open record, and whether gradlog numbered it, when it holds
        exactly ``values`` for ``names`` (NaN the same as NaN) at ``epoch`` (None or NaN:
        at none) and is no header's block: then a line of those names with other values,
        or at another epoch, opens the next record, numbered from this one; else None."""
        pending = self._pending
        if pending is None or pending.header or self._held is not None:
            return None  # (a line held as a summary may yet be a record: line by line)
        if pending.epoch != (None if epoch is None or epoch != epoch else epoch):
            return None
        held = pending.metrics
        for name, value in zip(names, values, strict=True):
            if name not in held or not _same(held[name], value):
                return None
        return pending.step, pending.numbered

    def ran(self, last: Record, numbered: int = 0) -> None:
        """Records were completed in bulk (``RecordRun``): ``last`` is the latest, and
        ``numbered`` of them were numbered by gradlog."""
        self._last = last
        if numbered:
            self.numbered = True
            self.numbered_records += numbered
            self._single = self._single or not self._copies  # (each line a record)

    def open_nonfinite(self) -> bool:
        """Whether the open record holds a NaN or an infinity (one sum, no loop)."""
        pending = self._pending
        if pending is None:
            return False
        total = sum(pending.metrics.values())
        return total - total != 0.0

    def flush(self, idle: bool = False) -> list[Record]:
        """Complete the open record, if it holds any value.

        ``idle`` means a live input paused rather than ended. A block opened by a header
        (``Epoch 3/50``) usually has more lines to come, so it stays open, unless it
        already holds a non-finite value: that is emitted at once so a live alert is not
        held back, and the block reopens, empty, for the rest of its lines.
        """
        pending = self._pending
        self._held = None  # (a summary held in the open record is one now)
        if pending is None and self._carry and not idle:
            return self._carried()  # the input ended on events no record took
        if idle and pending is not None and pending.header:
            if all(math.isfinite(v) for v in pending.metrics.values()):
                return []
            self._pending = _Pending(pending.step, pending.line, pending.epoch, False, True)
            self._pending.count, self._pending.earlier = pending.count, pending.earlier
            self._pending.shown = pending.shown
        else:
            self._pending = None
        if pending is None or not pending.metrics:
            return []
        if pending.numbered and not (self._single or self._copies):
            # The log's first record no step opened shows how it prints them.
            if 0 < pending.copies < _MOST_COPIES - 1:
                self._copies = pending.copies + 1
            else:
                self._single = True
        epoch: Step | None = None if pending.epoch is None else step_value(pending.epoch)
        record = Record(
            step_value(pending.step), pending.line, pending.metrics, epoch, bits=pending.bits
        )
        self._last = record
        return [record]

    def add(self, record: Record) -> list[Record]:
        """Emit a record built elsewhere (a JSON document entry), after the open one."""
        done = self.flush()
        self._last = record
        return [*done, record]
