"""Tables: a header row of names over rows of numbers, and ``| name | value |`` blocks.

A header is a row of column names (split on runs of spaces, on ``|`` or on commas) that
includes a loss-family or an epoch/step column; the rows under it are read by position
until a line that is not a row of numbers. Column names go through the same name table
and families as any key, so ``train_loss`` is ``loss`` here too. spaCy, fastai and
ultralytics consoles, CSV metric files and markdown tables are all of this kind.

A cell that lists numbers (DeepXDE's loss terms, ``[2.1e-02, 3.2e-04]``) is their sum,
the total; an empty list (``[]``) is no value.

A block prints one record as rows of ``| name | value |`` between dashed rules, with
``| section/ |  |`` rows naming a section (Stable-Baselines3's logger); each row is read
as ``name: value``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gradlog import lazy
from gradlog.parse import families
from gradlog.parse.compiled import to_float
from gradlog.parse.grammar import NUMBER_RE
from gradlog.parse.names import EPOCH, LOSS, STEP, NameTable, normalise

# The rule under a header: spaCy's dashes, MATLAB's underscores.
_RULE = lazy.regex(r"^\s*(?:-{2,}|_{2,})(?:\s+(?:-{2,}|_{2,}))+\s*$")
_SPLIT = lazy.regex(r"\s{2,}")
_HEADER_CELL = lazy.regex(r"\S+(?: \S+)*")  # a column's name: words one space apart
_TOKEN = lazy.regex(r"\S+")  # a row's cell, split on blanks
_FRACTION = lazy.regex(r"^(\d+)/(\d+)$")  # ultralytics' 14/100 epoch column
_CLOCK = lazy.regex(r"^\d+:\d{2}(?::\d{2})?$")  # fastai's mm:ss time column
# (A question's mark: ``Saved?``; a colon inside: FedNova's ``avg:Loss``, ``train:loss``.)
_NAME = lazy.regex(r"^[A-Za-z_#][\w/#().@ -]*(?::[\w/#().@-][\w/#().@ -]*)*\??$")
_DEBRIS = lazy.regex(r"^[\s\u2580-\u259f\u2500-\u257f]+")  # a bar's leftover blocks
# A markdown table's rule (``|---|:--:|``), and a box of ``|====|`` (MATLAB's).
_MARKDOWN_RULE = lazy.regex(
    r"^\s*\|?\s*:?(?:-{3,}|={3,}):?\s*(?:\|\s*:?(?:-{3,}|={3,}):?\s*)*\|?\s*$"
)
# Cells are stripped after the match: lazy cells with ``\s*`` around them would try the
# spaces of a long cell again at each of its characters.
_BLOCK_ROW = lazy.regex(r"^\s*\|(?P<name>[^|]*)\|(?P<value>[^|]*)\|\s*$")
_COLUMNS_KEPT = 256  # a header with more cells names no metric table
# A cell that lists numbers (DeepXDE's ``[2.09e-02, 3.20e-04, 3.26e-03]``, one per loss
# term), one number (its ``Test metric`` column: ``[1.22e+00]``) or none (``[]``): the
# list, empty, with a comma or of one plain number.
_LISTED = lazy.regex(
    r"\[\s*(?:[^\[\],]*,[^\[\]]*"
    r"|[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|(?i:nan|inf))\s*)?\]"
)
# A box-drawn table's rules (rich's ``┃ Step ┃ Loss ┃`` and ``│ 25 │ 2.40 │``) are its pipes.
_BOX = str.maketrans(dict.fromkeys("\u2502\u2503\u2551\u2506\u2507\u250a\u250b", "|"))
# A cell that says "no value here" (an evaluation column between evaluations).
_NO_VALUE = frozenset({"", "-", "--", "\u2013", "\u2014", "n/a", "na", "none", "null", "."})
_YOLO_PARTS = {"box": "box_loss", "obj": "obj_loss", "cls": "cls_loss", "total": "loss"}
_MARKS = frozenset({"+", "*", "\u2713", "\u2714"})  # a mark in a column (skorch's cp: saved)
# A table of names over their values (DI-engine's ``| Name | total_loss_avg | ..`` over
# ``| Value | 9.77 | ..``): the label column's head, and the label of the values' row.
_LABEL_HEADS = frozenset({"name", "names", "metric", "metrics", "key", "keys", "item", "field"})
_VALUE_ROWS = frozenset({"value", "values"})
# A column of booleans (bpnet-lite's ``Saved?``: ``True``), or of lists of numbers joined
# by commas (taiyaki's per-layer ``gradientmax``): no value of the row's, and no reason to
# refuse the row.
_FLAGS = frozenset({"true", "false", "yes", "no"})
_NUMBER_LIST = lazy.regex(r"[-+.\deE]+(?:,[-+.\deE]+)+")
_AXES = ("step", "epoch", "global_step", "iteration", "iter", "#", "e")


def block_row(text: str, names: NameTable, section: str) -> tuple[str | None, str]:
    """A ``| name | value |`` row as ``name: value`` text, and the section it opens.

    Returns ``(None, section)`` for a row that is not of this kind. A section's name is
    prefixed when that makes a known name (``train/`` + ``loss``), else the bare name is
    used when it is known (``time/`` + ``iterations``), else the prefixed one.
    """
    match = _BLOCK_ROW.match(text)
    if match is None:
        return None, section
    name, value = match["name"].strip(), match["value"].strip()
    if not value:
        return "", name if name.endswith("/") else section
    if not name or not NUMBER_RE.fullmatch(value):
        return None, section
    prefixed = f"{section}{name.strip()}"
    if not names.known(prefixed) and names.known(name):
        prefixed = name
    return f"{normalise(prefixed)}: {value}", section


# A CSV row of plain numbers or empty cells: every cell one ``float()`` reads as the
# pattern does, and nothing ``clean`` would cut (no prefix, no code). Rows of a table
# open are read a block at a time when they are so printed (``Table.plan``).
_PLAIN_CELL = r"(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)?"
_PATTERNS_KEPT = 256  # which cells rows leave empty, per table


@dataclass(frozen=True)
class RowCells:
    """What ``Table.row`` makes of a row of plain numbers with some cells empty, by
    column: the metrics, in the order its record holds them, each with the column of its
    value; the column of its step (failing one, its epoch), and of its epoch."""

    names: tuple[str, ...]
    picks: tuple[int, ...]
    step: int | None
    epoch: int | None


class RowPlan:
    """How rows of the open CSV table that print only plain numbers and empty cells read
    (``Table.row`` on each of them), by the cells they print."""

    def __init__(self, columns: list[str], names: NameTable) -> None:
        self.width = len(columns)
        # The first line of a text that is no such row (its lines each searched once).
        self.rows = re.compile(
            rf"^(?!{_PLAIN_CELL}(?:,{_PLAIN_CELL}){{{self.width - 1}}}\r?$)", re.M
        )
        self._columns = [(cell, names.canonical(cell)) for cell in columns]
        self._cells: dict[bytes, RowCells] = {}

    def cells(self, printed: bytes) -> RowCells:
        """Rows that print the cells ``printed`` marks (a byte per column, 1: printed)."""
        found = self._cells.get(printed)
        if found is None:
            found = self._plan(printed)
            if len(self._cells) < _PATTERNS_KEPT:
                self._cells[printed] = found
        return found

    def _plan(self, printed: bytes) -> RowCells:
        """``Table._record`` by column (``_role``), for the printed columns."""
        picks: dict[str, int] = {}
        step = epoch = None
        for column, (cell, name) in enumerate(self._columns):
            if not printed[column]:
                continue
            role = _role(cell, name)
            if role == STEP:
                step = column
            elif role == EPOCH:
                epoch = column
            elif role == LOSS:
                picks[name] = column
            else:
                picks.setdefault(name, column)
        return RowCells(
            tuple(picks), tuple(picks.values()), step if step is not None else epoch, epoch
        )


@dataclass
class Row:
    """One table row: canonical metrics and, if a column names it, step and epoch."""

    dialect: str
    metrics: dict[str, float]
    step: float | None
    epoch: float | None


class Table:
    """The table currently being read, if any. ``source``: the input's name, which names
    the values of TensorBoard's export of one chart (see ``header``)."""

    def __init__(self, names: NameTable, source: str = "-") -> None:
        self.names = names
        self._source = source
        self.columns: list[str] = []
        self.dialect = ""
        self.comma = False
        self.piped = False
        self._previous_step: float | None = None
        self._plan: RowPlan | None = None
        self._planned = False  # whether ``_plan`` is the open table's
        self._rows = 0
        self._spans: list[tuple[int, int]] = []
        self._right: bool | None = None  # the rows' numbers are set right (learned)
        self._above: list[str] | None = None  # a piped row of names just before, no header
        self._header = ""  # the open table's header row, as read
        self._total: str | None = None  # its ``total`` column, when it is the loss (``_total``)

    def header(self, text: str) -> bool:
        """Start a table if ``text`` is a header row; return whether it was one."""
        text = _DEBRIS.sub("", text.translate(_BOX))
        comma = "," in text and not text.lstrip().startswith(("{", "["))
        piped = text.strip().startswith("|") and text.count("|") >= 3
        if not (piped or comma) and text.count(" | ") >= 2 and NUMBER_RE.search(text) is None:
            # Names between bars, none outside (DeepCpG's ``progress (%) | time (min) |
            # loss | ..``): a piped header, its rows ``0.1 |  0.1 | 0.6931 | ..``. (With a
            # number in it, the line is values: ``step 10 | loss 0.5``.)
            piped = True
        cells = _cells(text, comma, piped)
        if not 2 <= len(cells) <= _COLUMNS_KEPT:
            return False
        exported = False  # a chart's export: its header is one whatever its names
        if comma:
            cells, exported = _charted(list(map(_unquoted, cells)), self._source)
        above, self._above = self._above, None
        if piped and above is not None and len(above) == len(cells) and all(map(_named, cells)):
            # A header in two rows, each column's name split over them (MATLAB's
            # ``|  Mini-batch  |`` over ``|     Loss     |``).
            cells = [f"{top} {bottom}".strip() for top, bottom in zip(above, cells, strict=True)]
        if not all(cell == SKIPPED or (cell and _named(cell)) for cell in cells):
            if piped and all(map(_named, cells)):
                self._above = cells  # (maybe the first row of a header in two)
                self.close()
            return False  # a header names its columns: no cell is a value
        lowered = [c.lower() for c in cells]
        dialect = _dialect(lowered, comma) if len(cells) >= 3 else None
        if exported:
            dialect = "csv"  # TensorBoard's export of a chart, whatever its tag
        wide = piped or len(cells) >= 3 or (not comma and _axis(cells))
        if dialect is None and wide and _metric_header(cells):
            dialect = "table"  # (two columns: a step's or an epoch's, and a loss's)
        if dialect is None and len(cells) >= 3 and _axis(cells) and not piped:
            # Columns of metrics after an axis's, none named a loss (JDE's ``Epoch  Batch
            # box  conf  id  total``): a table all the same (see ``_record``). (A piped
            # row may be the first of a header in two: MATLAB's, below.)
            dialect = "table"
        if dialect is None and piped and lowered[0] in _LABEL_HEADS:
            dialect = "table"  # names over their values, whatever they name
        if dialect is None:
            if piped:
                # A row of names between bars that heads no table of ours: the rows after
                # it are its names' (DI-engine prints a table of names over values after
                # another), none of the open table's.
                self._above = cells
                self.close()
            return False
        if dialect == "ultralytics":  # (YOLOv7's ``box obj cls total``: the parts and the sum)
            cells = [_YOLO_PARTS.get(cell.lower(), cell) for cell in cells]
        self.columns, self.dialect, self.comma, self.piped = cells, dialect, comma, piped
        self._header = text
        self._total = _total(cells, self.names) if dialect == "table" else None
        # Where each column's name is: a row with empty cells is read by these places.
        spans = [found.span() for found in _HEADER_CELL.finditer(text)]
        self._spans = spans if len(spans) == len(cells) and not (comma or piped) else []
        self._right = None
        self._rows = 0  # rows read under it
        self._previous_step = None
        self._plan, self._planned = None, False
        self._index: str | None = None  # pandas' index's name, on its own line under it
        return True

    def row(self, text: str) -> Row | None:
        """Read ``text`` as a row of the open table; None when it is not one."""
        if not self.columns or _RULE.match(text) or _MARKDOWN_RULE.match(text):
            return None
        if "[" in text:
            text = _LISTED.sub(_summed, text)
        if self.piped:
            cells = _cells(text.translate(_BOX), self.comma, self.piped)
        elif self.comma:
            cells = text.split(",")
            if '"' in text:
                cells = list(map(_unquoted, cells))
        else:
            cells = text.split()
        if self.columns[0] == "#" and len(cells) == len(self.columns) - 1 and not self._rows:
            # ``#  step  rmse_val ..`` over rows one cell short: the ``#`` marks the
            # header as a comment (numpy's savetxt, DeePMD's lcurve.out, gnuplot data),
            # it heads no column of numbers.
            self.columns, self._spans, self._right = self.columns[1:], self._spans[1:], None
        if len(cells) == 1 and not (self._rows or self.comma or self.piped):
            name = cells[0]
            if _named(name) and _role(name, self.names.canonical(name)) in (STEP, EPOCH):
                # pandas prints a named index's name on a line of its own under the
                # header (``epoch``), and its values first in each row: a column.
                self._index = name
            return None
        if self._index is not None and len(cells) > len(self.columns):
            self.columns, self._spans, self._right = [self._index, *self.columns], [], None
            self._index = None
        if len(cells) > len(self.columns) and not (self._rows or self.comma or self.piped):
            self._one_word_names(len(cells))
        if len(cells) < len(self.columns) - (1 if self.comma else 0):
            placed = self._placed(text) if self._spans else None
            if placed is None:
                return None
            cells = placed
        elif self._spans and self._right is None and len(cells) == len(self.columns):
            self._right = self._aligned_right(text)
        if (
            len(cells) == len(self.columns) + 1
            and not (self.comma or self.piped)
            and cells[0] == str(self._rows)
        ):
            del cells[0]  # pandas' unnamed index column: 0, 1, 2.. before each row
        values: dict[str, float] = {}
        evaluation = False
        if cells and (section := families.section_of(cells[0].strip())) is not None:
            # A row labelled by its data set (DeepCpG's ``split | loss | ..`` over ``train
            # | 0.58 | ..`` and ``val | 0.49 | ..``): an evaluation's row holds its values.
            evaluation, cells = section, ["", *cells[1:]]
        for column, cell in zip(self.columns, cells, strict=False):
            if column == SKIPPED:
                continue
            bare = cell.strip()
            value = _cell(bare.removesuffix(":"))  # (``640:`` before a bar)
            if value is None:
                lowered = bare.lower()
                if (
                    self.comma
                    or _CLOCK.match(bare)
                    or lowered in _NO_VALUE
                    or bare in _MARKS
                    or lowered in _FLAGS
                    or (lowered in _VALUE_ROWS and column.lower() in _LABEL_HEADS)
                    or _NUMBER_LIST.fullmatch(bare)
                ):
                    continue
                return None
            values[column] = value
        if not values:
            return None
        self._rows += 1
        return self._record(values, evaluation)

    def _one_word_names(self, count: int) -> None:
        """Over rows of more cells than its columns, a header whose names are one word
        each, one blank apart, where there are as many words as cells (NequIP's ``#
        Epoch batch  loss ..``: not one column named ``Epoch batch``): those columns."""
        words = [found for found in _TOKEN.finditer(self._header) if found.group() != "#"]
        if len(words) == count and all(_named(word.group()) for word in words):
            self.columns = [word.group() for word in words]
            self._spans, self._right = [word.span() for word in words], None

    def _aligned_right(self, text: str) -> bool:
        """Whether a full row's cells end where the columns' names end (numbers set
        right: skorch, pandas) rather than start where they start (Chainer). Lines
        reach here without their indent, so the row is first set so that its first
        cell ends (or starts) where the first name does."""
        found = [m.span() for m in _TOKEN.finditer(text)]
        shift = self._spans[0][1] - found[0][1]
        ends, starts = {end for _, end in self._spans}, {start for start, _ in self._spans}
        right = sum(end + shift in ends for _, end in found)
        left = sum(start in starts for start, _ in found)
        return right > left

    def _placed(self, text: str) -> list[str] | None:
        """The cells of a row printed with some left empty (Chainer's PrintReport leaves
        the validation columns blank between evaluations, skorch its checkpoint mark),
        each put in the column whose name's place it overlaps most, the cells set as
        the table's full rows are (left, or right: see ``_aligned_right``); None when a
        cell overlaps none, or two one."""
        cells = [""] * len(self._spans)
        tokens = list(_TOKEN.finditer(text))
        if not tokens:
            return None
        # (Before a full row showed how the rows are set, this row tells: MATLAB's first
        # rows leave the validation columns blank.)
        set_right = self._right if self._right is not None else self._aligned_right(text)
        shift = self._spans[0][1] - tokens[0].end() if set_right else 0
        for found in tokens:
            start, end = found.start() + shift, found.end() + shift
            overlaps = [min(end, right) - max(start, left) for left, right in self._spans]
            best = max(range(len(overlaps)), key=overlaps.__getitem__)
            if overlaps[best] <= 0 or cells[best]:
                return None
            cells[best] = found.group()
        return cells

    @property
    def labelled(self) -> bool:
        """Whether the open table's first column labels its rows (``| Name | ..``), as
        its row of values does (``| Value | 1.2 |``, no ``| name | value |`` row)."""
        return bool(self.columns) and self.columns[0].lower() in _LABEL_HEADS

    def close(self) -> None:
        self.columns = []
        self._plan, self._planned = None, False

    def plan(self) -> RowPlan | None:
        """The ``RowPlan`` of the open table, when it is a CSV one whose rows are each
        read by column (not a table whose loss is a sum of columns); else None."""
        if not self._planned:
            self._planned = True
            csv = self.comma and not self.piped and self.dialect in ("csv", "table")
            unique = len(set(self.columns)) == len(self.columns)  # (else the last is read)
            if csv and unique and SKIPPED not in self.columns:
                self._plan = RowPlan(self.columns, self.names)
        return self._plan

    def _record(self, values: dict[str, float], evaluation: bool = False) -> Row:
        metrics: dict[str, float] = {}
        step = epoch = None
        loss_columns: list[float] = []
        for column, value in values.items():
            name = self.names.canonical(column)
            if evaluation:
                name = self.names.canonical(families.in_context(name, True, False))
            role = _role(column, name)
            if role == STEP:
                step = value
            elif role == EPOCH:
                epoch = value
            elif role == LOSS:
                metrics[name] = value
                loss_columns.append(value)
            else:
                metrics.setdefault(name, value)
        if self._total is not None and (total := values.get(self._total)) is not None:
            # Parts of a loss printed under their own names, then their sum as ``total``
            # (JDE's ``box  conf  id  total``): where no column names a loss, a total
            # after two other metrics' columns is the loss.
            metrics[LOSS] = total
        if LOSS not in metrics and loss_columns and self.dialect in ("ultralytics", "spacy"):
            total = sum(loss_columns)
            if self.dialect == "spacy" and step is not None and self._previous_step is not None:
                total /= max(step - self._previous_step, 1)  # spaCy prints interval sums
            metrics[LOSS] = total
        self._previous_step = step
        return Row(self.dialect, metrics, step if step is not None else epoch, epoch)


def _total(columns: list[str], names: NameTable) -> str | None:
    """A header's ``total`` column when it is the loss (``Table._record``): no column
    names a loss, and at least two columns of other metrics come before it."""
    roles = [_role(column, names.canonical(column)) for column in columns]
    if LOSS in roles or any(names.canonical(column) == LOSS for column in columns):
        return None
    for at, column in enumerate(columns):
        if column.lower() == "total":
            return column if sum(role is None for role in roles[:at]) >= 2 else None
    return None


def _role(column: str, name: str) -> str | None:
    """What a column (its header ``column``, read as ``name``) is to a row's record: its
    step, its epoch, a loss (a later such column replaces an earlier one of the same
    name), or None for another metric (the first column of a name is kept)."""
    if column == "#" or name == STEP:
        return STEP
    if column == "E" or name == EPOCH:
        return EPOCH
    if name.endswith("_loss") or name.startswith("loss_"):
        return LOSS
    return None


# A column that is no series (a chart's band of minima, its wall clock): no header's name
# (a line holds no NUL).
SKIPPED = "\x00"
_TENSORBOARD = ["wall time", "step", "value"]  # the header of TensorBoard's export of a chart
_BAND = ("__MIN", "__MAX")  # W&B's export: the least and greatest value a point stands for
_TAGGED = lazy.regex(r"-tag-(.+)$")  # TensorBoard names its export run-<run>-tag-<tag>.csv


_UNIT = lazy.regex(r"\([^()]*\)")  # a unit in brackets after a column's name


def _named(cell: str) -> bool:
    """Whether a header's cell is a column's name, or no name (empty), its unit in
    brackets aside (MATLAB's ``Time Elapsed (hh:mm:ss)``)."""
    bare = _UNIT.sub("", cell).strip()
    return not bare or _NAME.match(bare) is not None


def _unquoted(cell: str) -> str:
    """A CSV cell without the double quotes around it (``"10"``), a doubled one inside
    made single."""
    bare = cell.strip()
    if len(bare) >= 2 and bare[0] == bare[-1] == '"':
        return bare[1:-1].replace('""', '"')
    return cell


def _charted(cells: list[str], source: str) -> tuple[list[str], bool]:
    """The columns of a CSV header as a chart's export names them, and whether it is
    TensorBoard's (a header whatever its tag).

    TensorBoard's ``Wall time,Step,Value`` prints no name for the value: it is the
    chart's tag, which the file's name holds (``run-<run>-tag-train_loss.csv``; failing a
    tag, its name without the extension), and the wall clock is no series. W&B's names
    each column ``<run> - <key>``, with ``<key>__MIN`` and ``<key>__MAX`` beside it (the
    band of values each point stands for): one run's columns are its keys, the band none."""
    if [cell.strip().lower() for cell in cells] == _TENSORBOARD:
        stem = source.replace("\\", "/").rsplit("/", 1)[-1]
        stem = stem[: -len(".csv")] if stem.lower().endswith(".csv") else stem
        tagged = _TAGGED.search(stem)
        tag = tagged.group(1) if tagged else stem
        return [SKIPPED, cells[1], tag if _NAME.match(tag) else "value"], True
    runs = {cell.partition(" - ")[0] for cell in cells if " - " in cell}
    if len(runs) != 1:
        return cells, False
    found = [cell.partition(" - ")[2] or cell for cell in cells]
    return [SKIPPED if cell.endswith(_BAND) else cell for cell in found], False


def _cells(text: str, comma: bool, piped: bool) -> list[str]:
    if piped:
        return [c.strip() for c in text.strip().strip("|").split("|")]
    return [c.strip() for c in (text.split(",") if comma else _SPLIT.split(text.strip()))]


def _axis(cells: list[str]) -> bool:
    """Whether a header's first column is a step's or an epoch's (``Step  Training Loss``,
    HF Trainer's table in a notebook, two columns when no evaluation runs)."""
    return cells[0].lower() in _AXES


def _metric_header(cells: list[str]) -> bool:
    """A header of metric columns: a step or epoch column beside a loss-family one (the
    names as printed: MATLAB's ``TrainingLoss`` is ``training_loss``, not ``trainingloss``)."""
    axis = any(c.lower() in _AXES for c in cells)
    loss = any(families.family(normalise(c)) in (LOSS, "val_loss") for c in cells)
    return loss and (axis or len(cells) >= 3)


def _dialect(lowered: list[str], comma: bool) -> str | None:
    if comma:
        has_axis = any(c in ("step", "epoch", "global_step", "iteration") for c in lowered)
        return "csv" if has_axis and any("loss" in c or "acc" in c for c in lowered) else None
    if any(c in ("box_loss", "cls_loss", "dfl_loss", "seg_loss", "pose_loss") for c in lowered):
        return "ultralytics"
    if {"obj", "cls"} <= set(lowered):  # YOLOv5 before 6.1, YOLOv7: bare part names
        return "ultralytics"  # (YOLOv3's ``GIoU obj cls total``: its box part as GIoU)
    if "#" in lowered and any(c.startswith("loss ") for c in lowered):
        return "spacy"
    if "epoch" in lowered and "train_loss" in lowered and "time" in lowered:
        return "fastai"  # (its Learner.fit table ends with the epoch's mm:ss)
    return None


def _summed(listed: re.Match[str]) -> str:
    """A cell that lists numbers as their sum (the terms of a loss make its total), an
    empty list as no value; a list of anything else as it is."""
    terms = [term.strip() for term in listed[0][1:-1].split(",")]
    if terms == [""]:
        return "-"
    values = [_cell(term) for term in terms]
    if None in values:
        return listed[0]
    return repr(math.fsum(v for v in values if v is not None))


def _cell(cell: str) -> float | None:
    """A cell's number: plain, with a unit (``6.21G``), ``14/100``, or empty/None."""
    if cell and "_" not in cell:  # (float() reads ``1_0`` too: the pattern does not)
        try:
            return float(cell)  # a plain number, as nearly always: what the pattern reads
        except ValueError:
            pass
    return _cell_by_pattern(cell)


def _cell_by_pattern(cell: str) -> float | None:
    """``_cell`` of a cell ``float`` does not read."""
    if not cell:
        return None
    fraction = _FRACTION.match(cell)
    if fraction:
        return float(fraction.group(1))
    match = NUMBER_RE.fullmatch(cell.rstrip(":"))
    if not match:
        return None
    value = to_float(match.group("num"))  # (``1,000`` and ``1.#INF`` as the parser reads them)
    return value if not math.isnan(value) or "nan" in cell.lower() else None
