"""The streaming loop shared by every mode: lines -> records -> detectors -> diagnoses."""

from __future__ import annotations

import copy
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from gradlog import lazy
from gradlog.columns import Parts
from gradlog.config import Config
from gradlog.curves import CHARTED, Curve
from gradlog.detectors import DETECTORS, Detector
from gradlog.model import Diagnosis, EpisodeKey, Record, Step
from gradlog.parse.names import LOSS, STEP, NameTable
from gradlog.parse.reader import LogReader
from gradlog.remedies import History, personalise
from gradlog.report import LIMITS, InputSummary, Report, SeriesSummary
from gradlog.restarts import Restarts

if TYPE_CHECKING:
    import numpy as np

    from gradlog.detectors.block import Floats
else:
    from gradlog.lazy import numpy as np

_STEP_NAME = lazy.regex(r"[A-Za-z_][A-Za-z0-9_]{2,23}")
_ORDER = {detector.rule.id: index for index, detector in enumerate(DETECTORS)}


class _Series:
    """Running summary of one metric: bounded, whatever the length of the run."""

    def __init__(self, value: float) -> None:
        self.count, self.first, self.last = 0, value, value
        self.minimum, self.maximum, self.nonfinite = math.inf, -math.inf, 0

    def add_one(self, value: float) -> None:
        """Take in the next value."""
        self.count += 1
        self.last = value
        if value - value != 0.0:  # NaN or an infinity, without a call
            self.nonfinite += 1
            return
        if self.first - self.first != 0.0:
            self.first = value
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value

    def add(self, values: Floats) -> None:
        """Take in the next values (a column of the records that have this metric)."""
        self.count += len(values)
        self.last = values[-1].item()
        finite = np.isfinite(values)
        good = values[finite]
        self.nonfinite += len(values) - len(good)
        if not len(good):
            return
        if self.first - self.first != 0.0:  # NaN or an infinity: the first finite one
            self.first = good[0].item()
        self.minimum = min(self.minimum, good.min().item())
        self.maximum = max(self.maximum, good.max().item())

    def freeze(self) -> SeriesSummary:
        return SeriesSummary(
            self.count, self.first, self.last, self.minimum, self.maximum, self.nonfinite
        )


# analyze() reads a block of this many lines, or fewer making this many characters, at a
# time, and reports progress after each. Every block costs each rule a few numpy calls:
# blocks of 16k lines read step lines a fifth faster than blocks of 4k, and 24k HF dicts
# 7% faster than 16k (peak memory 74 MB, from 64); 32k gain little more and cost memory
# on wide records (86 MB).
PROGRESS_EVERY = 24576
BLOCK_CHARS = 3 << 20
_BY_EPOCH_CHECKED = 8  # first records that tell a log numbered by epoch
SMALL_BLOCK = 256  # fewer records are read one by one, more as a block of columns
# Rules that judge a loss by its level, its rise or its swings: none judges a GAN's loss,
# the sum of two players' that each minimise against the other (its generator's loss
# climbs as its discriminator learns, in a healthy run).
_BY_LEVEL = frozenset(
    {"divergence", "loss_spike", "oscillation", "stalled", "chance_plateau", "overfitting"}
)
EAGER_EVERY = 64  # records between two early judgements of a non-finite open record


class Engine:
    """Feeds one input through cleaning, parsing, assembly and every enabled detector.

    ``feed`` takes one raw line and returns the diagnoses that are new or got worse, so
    a live caller can alert at once; ``finish`` returns the full ``Report``.
    """

    def __init__(self, name: str = "-", config: Config | None = None) -> None:
        self.name = name
        self.config = config or Config()
        self._reader = LogReader(NameTable(self.config.metric_names), name)
        self._detectors = self._fresh()
        self._restarts = Restarts()
        self._found: dict[EpisodeKey, Diagnosis] = {}
        self._lines = self._records = 0
        self._series: dict[str, _Series] = {}
        self._curves: dict[str, Curve] = {name: Curve() for name in CHARTED}
        self._history = History()
        self._first_step: Step | None = None
        self._by_epoch = False  # the records are numbered by epoch
        self._epoch_checked = 0  # records looked at for it
        self._last_step: Step | None = None
        self._interrupted: int | None = None
        # Live callers set ``eager``: see feed(). The open record turned non-finite and
        # was judged; the records completed when that was last done.
        self.eager = False
        self._judged_early = False
        self._judged_at = -1
        self._limits: Counter[str] = Counter()

    @property
    def lines(self) -> int:
        """Lines read so far."""
        return self._lines

    @property
    def records(self) -> int:
        """Records completed so far."""
        return self._records

    def feed(self, raw: str) -> list[Diagnosis]:
        """Read one line of the log; return diagnoses that are new or more severe."""
        return self.feed_lines((raw,))

    def feed_lines(self, lines: Iterable[str]) -> list[Diagnosis]:
        """Read lines of the log (a block of a file, or what a live input delivered) and
        judge the records they complete together; return diagnoses that are new or more
        severe."""
        if not isinstance(lines, Sequence):
            lines = list(lines)
        # A read as short as a live line, or a short log, is read without columns.
        parts = self._reader.read_lines(self._lines + 1, lines, SMALL_BLOCK)
        self._lines += len(lines)
        return self._judge(parts)

    def feed_redraws(self, redraws: str) -> list[Diagnosis]:
        """Live: read the redraws a line still being written holds so far (a progress
        bar's states, up to and with its last ``\\r``), under that line's number; the
        line, when it ends, holds only the rest. A line read so is read as it would be
        whole, since each of its states is read as a line of its own either way."""
        return self._judge(self._reader.read_lines(self._lines + 1, [redraws], SMALL_BLOCK))

    def _judge(self, parts: list[Sequence[Record]]) -> list[Diagnosis]:
        """Judge the records a read completed (see ``feed_lines``)."""
        announced = self._observe(Parts(parts))  # lists of records, and runs in columns
        # Live, a record that turns non-finite is judged at once, as at a pause, so a NaN
        # is announced the moment its line arrives, not when the next line completes it.
        # Once per run of such records, and at most once in EAGER_EVERY records (a metric
        # that is NaN on every other line must not cost a judgement each time); this
        # changes no state, only what is announced.
        if not self.eager:
            return announced
        if self._reader.open_nonfinite():
            since = self._records - self._judged_at
            if not self._judged_early and (self._judged_at < 0 or since >= EAGER_EVERY):
                self._judged_early, self._judged_at = True, self._records
                announced += self.idle()
        else:
            self._judged_early = False
        return announced

    def observe(self, records: Sequence[Record]) -> list[Diagnosis]:
        """Judge records made elsewhere than from a log's lines (``api.Monitor``): each a
        whole step, judged at once; return diagnoses that are new or more severe."""
        self._lines += len(records)
        return self._observe(records)

    def idle(self) -> list[Diagnosis]:
        """The input paused: judge the open record as it stands, so a live alert is not
        held back, without completing it.

        The rules see it on copies of their state, and what they find is only announced:
        the open record stays open for lines still to come, so the engine's own state,
        and the final report, are exactly those of the same log read whole, however the
        input was timed. The same diagnosis found again when the record completes is
        not new, so it is not announced twice."""
        records = self._reader.peek()
        if not records:
            return []
        shared = {id(self.config): self.config}  # settings are read-only: never copied
        detectors = copy.deepcopy(self._detectors, shared)
        found, history = dict(self._found), self._history.fork()
        # (A record that begins a new run is judged by fresh rules, as it will be.)
        restarts = copy.deepcopy(self._restarts)
        cuts = [i for i, record in enumerate(records) if restarts.at(record)]
        announced: list[Diagnosis] = []
        for new, start, end in _pieces(cuts, len(records)):
            if new:
                detectors = self._fresh()
            announced += self._each(records[start:end], detectors, found, history)
        return announced

    def interrupt(self, signum: int) -> None:
        """Signal ``signum`` cut the input short: the report will say it is incomplete."""
        if self._interrupted is None:
            self._interrupted = signum

    def note_limits(self, source: object) -> None:
        """Count the caps the input's reader reached before the lines came here: lines cut
        at ``MAX_LINE`` and skipped NUL bytes (``source``: a ``Lines`` or a splitter)."""
        for name, attr in (("cut_lines", "cut"), ("nul_bytes", "nuls")):
            self._limits[name] += int(getattr(source, attr, 0) or 0)

    def finish(self) -> Report:
        """The input ended: close every detector and return the report."""
        self._observe(self._reader.flush())
        for detector in self._detectors:
            self._collect(detector.finish())
        diagnoses = sorted(self._found.values(), key=lambda d: (_ORDER.get(d.id, 99), d.line or 0))
        summary = InputSummary(
            name=self.name,
            lines=self._lines,
            parsed_lines=self._reader.parsed,
            records=self._records,
            dialects=self._reader.dialects,
            metrics=tuple(sorted(self._series)),
            first_step=self._first_step,
            last_step=self._last_step,
            numbered_steps=self._reader.mostly_numbered(self._records),
            unparsed=tuple(self._reader.unparsed) if not self._records else (),
            series={name: s.freeze() for name, s in sorted(self._series.items())},
            curves={name: c.freeze() for name, c in self._curves.items() if c.count},
            step_name=self._step_name(),
            batches=self._reader.batches,
            restarts=tuple(self._restarts.lines),
            unread_numeric=self._reader.unread_numeric,
            unread_examples=tuple(self._reader.unread_examples[:2]),
            unjudged=tuple(
                (d.rule.id, d.rule.min_records)
                for d in self._detectors
                if 0 < self._records < d.rule.min_records
            ),
            interrupted=self._interrupted,
            limits={
                name: n
                for name in LIMITS
                if (n := self._limits[name] + self._reader.limits.get(name, 0))
            },
        )
        rules = tuple(detector.rule.id for detector in self._detectors)
        return Report(summary, tuple(diagnoses), rules)

    def _step_name(self) -> str:
        """What the log calls its steps: the name its most printed shape gives the step
        (a word of 3 to 24 letters, digits or underscores), ``epoch`` when the records are
        numbered by epoch, else ``step``."""
        if self._by_epoch:
            return "epoch"
        if not self._reader.mostly_numbered(self._records):
            for shape in self._reader.shapes:
                for key, canonical in shape.names:
                    if canonical == STEP:
                        return key if _STEP_NAME.fullmatch(key) else "step"
        return "step"

    def _observe(self, records: Sequence[Record] | Parts) -> list[Diagnosis]:
        """Give every rule the completed ``records``: a few one at a time, more as one
        block. Either way what the rules find is kept in the order of the records (and
        of the rules for one record), as if each rule had seen them one at a time."""
        if not records:
            return []
        unjudged = self._unjudged()
        if unjudged and any(d.rule.id in unjudged for d in self._detectors):
            self._detectors = [d for d in self._detectors if d.rule.id not in unjudged]
        self._records += len(records)
        if self._first_step is None:
            self._first_step = records[0].step
        if self._epoch_checked < _BY_EPOCH_CHECKED:
            # Numbered by epoch when the first records all are: a header's record (fairseq's
            # ``| epoch 001 | loading train data``) may open a log counted in updates.
            seen = list(itertools.islice(records, _BY_EPOCH_CHECKED - self._epoch_checked))
            by_epoch = all(r.epoch is not None and r.epoch == r.step for r in seen)
            self._by_epoch = by_epoch and (self._by_epoch or not self._epoch_checked)
            self._epoch_checked += len(seen)
        self._last_step = records[-1].step
        if len(records) < SMALL_BLOCK:
            return self._one_by_one(records)
        return self._block(records)

    def _fresh(self) -> list[Detector]:
        """A new instance of every enabled rule."""
        return [
            cls(self.config.thresholds)
            for cls in DETECTORS
            if self.config.enabled(cls.rule.id, cls.rule.default_enabled)
            and cls.rule.id not in self._unjudged()
        ]

    def _unjudged(self) -> frozenset[str]:
        """The rules that may not judge this log: those by the loss's level where the
        loss is a GAN's (``Families.adversarial``)."""
        return _BY_LEVEL if self._reader.families.adversarial else frozenset()

    def _runs(self, records: Sequence[Record], cuts: list[int], taken: int) -> list[Diagnosis]:
        """Records in which new runs begin at ``cuts`` (see ``restarts``): each run's
        records judged by rules fresh at its start, as a log of its own would be (what
        the runs before found stays found). The first ``taken`` records were looked at
        for restarts already; those after them are still to be."""
        announced: list[Diagnosis] = []
        for new, start, end in _pieces(cuts, len(records)):
            if new:
                self._detectors = self._fresh()
            part, look = records[start:end], end > taken
            if len(part) < SMALL_BLOCK:
                announced += self._one_by_one(part, look)
            else:
                announced += self._block(part, look)
        return announced

    def _one_by_one(self, records: Sequence[Record], look: bool = True) -> list[Diagnosis]:
        """A few records (a short log, a live job's last line): each through every rule's
        ``observe``, with no arrays to set up (nor numpy to import). ``look``: whether
        new runs beginning among them (``restarts``) are still to be looked for."""
        if look and (cuts := [i for i, r in enumerate(records) if self._restarts.at(r)]):
            return self._runs(records, cuts, len(records))
        series = self._series
        curves = self._curves
        for record in records:
            for name, value in record.metrics.items():
                known = series.get(name)
                if known is None:
                    known = series[name] = _Series(value)
                known.add_one(value)
                curve = curves.get(name)
                if curve is not None:
                    curve.add_one(record.step, record.line, value)
        return self._each(records, self._detectors, self._found, self._history)

    def _each(
        self,
        records: Sequence[Record],
        detectors: list[Detector],
        found: dict[EpisodeKey, Diagnosis],
        history: History,
    ) -> list[Diagnosis]:
        """Each record into ``history``, then through each rule's ``observe``; what they
        find is kept in ``found``. Returns the diagnoses new or more severe there."""
        announced: list[Diagnosis] = []
        for record in records:
            history.add(record)
            for detector in detectors:
                diagnoses = detector.observe(record)
                if diagnoses:  # most records give none: skip the call
                    announced += self._keep(diagnoses, found, history)
        return announced

    def _block(self, records: Sequence[Record] | Parts, look: bool = True) -> list[Diagnosis]:
        """Many records: one ``Block`` of columns through every rule's ``observe_block``
        (``look``: as ``_one_by_one``)."""
        from gradlog.detectors.block import Block

        block = Block(records)
        if look:
            losses, printed = block.values(LOSS), block.present(LOSS)
            cut = self._restarts.first(block.records, block.steps, block.epochs, losses, printed)
            if cut is not None:  # (rare: the block is made again, in two)
                return self._runs(records, [cut], cut)
        series = self._series
        for name, values in block.printed().items():
            known = series.get(name)
            if known is None:
                known = series[name] = _Series(values[0].item())
            known.add(values)
            curve = self._curves.get(name)
            if curve is not None:
                present = block.present(name)
                curve.add(block.steps[present], block.lines[present], values)
        found: list[tuple[int, int, Diagnosis]] = []
        for rank, detector in enumerate(self._detectors):
            for index, diagnosis in detector.observe_block(block):
                found.append((index, rank, diagnosis))
        history = self._history
        if not found:
            history.add_block(block, 0, len(records))
            return []
        found.sort(key=lambda item: (item[0], item[1]))  # stable: a rule's own order stays
        announced: list[Diagnosis] = []
        done = 0  # records the history has taken in
        for index, _, diagnosis in found:
            if index >= done:  # the history as it was when the rule saw this record
                history.add_block(block, done, index + 1)
                done = index + 1
            announced += self._collect((diagnosis,))
        history.add_block(block, done, len(records))
        return announced

    def _collect(self, diagnoses: Iterable[Diagnosis]) -> list[Diagnosis]:
        """Keep the latest version of each episode; return those new or more severe."""
        return self._keep(diagnoses, self._found, self._history)

    def _keep(
        self,
        diagnoses: Iterable[Diagnosis],
        found: dict[EpisodeKey, Diagnosis],
        history: History,
    ) -> list[Diagnosis]:
        """Personalise each diagnosis from ``history`` and keep it in ``found``; return
        those new or more severe there."""
        announced = []
        dialects = self._reader.dialects
        framework = dialects[0] if dialects else None
        for diagnosis in diagnoses:
            diagnosis = personalise(diagnosis, history.context(diagnosis, framework))
            before = found.get(diagnosis.key)
            found[diagnosis.key] = diagnosis
            if before is None or diagnosis.severity > before.severity:
                announced.append(diagnosis)
        return announced


def _pieces(cuts: list[int], count: int) -> Iterator[tuple[bool, int, int]]:
    """The pieces of ``count`` records that new runs begin in at ``cuts``: whether each
    begins a new run, its first record and its end (empty pieces left out)."""
    for index, (start, end) in enumerate(itertools.pairwise([0, *cuts, count])):
        if end > start:
            yield index > 0, start, end


def analyze(
    lines: Iterable[str],
    name: str = "-",
    config: Config | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Diagnose a whole log given as an iterable of lines; ``progress`` is told the lines
    read and records found after each block read (``PROGRESS_EVERY``, ``BLOCK_CHARS``)."""
    engine = Engine(name, config)
    chunk: list[str] = []
    size = 0
    # An input that reads in lists of lines (``sources.Lines``) is taken a list at a time.
    reads = getattr(lines, "blocks", None)
    for read in reads() if reads is not None else ([line] for line in lines):
        chunk += read
        size += sum(map(len, read))
        if len(chunk) >= PROGRESS_EVERY or size >= BLOCK_CHARS:
            engine.feed_lines(chunk)
            chunk, size = [], 0
            if progress is not None:
                progress(engine.lines, engine.records)
    engine.feed_lines(chunk)
    engine.note_limits(lines)
    return engine.finish()
