"""Property-based tests: whatever the log says, the engine reads it without an error, every
format renders it and parses back, and the answer does not depend on how it was cut.

The examples are derandomised and bounded so CI runs the same fixed budget every time;
``bench/fuzz.py`` runs the same properties with a larger budget.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradlog.engine import Engine, analyze
from gradlog.formatters import FORMATTERS
from gradlog.live import Watcher
from gradlog.report import ReportSet
from tests.helpers import CopySink

BUDGET = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["nan", "-nan", "NaN%", "inf", "-Infinity", "1.#QNAN", "1,000.5", "nan.0"]),
)
NAMES = st.sampled_from(
    [
        "loss",
        "val_loss",
        "grad_norm",
        "lr",
        "acc",
        "step",
        "epoch",
        "Train Loss",
        "gnorm",
        "model_loss",
        "scale",
        "x",
        "::error::",
        "[bold]",
        "\x1b[31m",
        "\u202e",
        "|",
        "<b>",
    ]
)
SEPARATORS = st.sampled_from([" ", "=", ": ", " | ", ", ", "\t", " is ", "->"])
# Characters a hostile log may hold: controls, C1, bidi overrides, markup, workflow syntax.
NOISE = st.text(
    alphabet=st.sampled_from(list("ab01 .:|[]{}<>'\"\\#%`-\t\r\x1b\x00\x07\x9b\u202e\u2066")),
    max_size=30,
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    """A log line: a few (name, number) pairs in some shape, with noise around them."""
    pairs = draw(st.lists(st.tuples(NAMES, SEPARATORS, NUMBERS), min_size=0, max_size=5))
    body = " ".join(f"{name}{sep}{number}" for name, sep, number in pairs)
    return draw(NOISE) + body + draw(NOISE)


LOGS = st.lists(lines(), min_size=0, max_size=40)


def strict(text: str) -> object:
    """JSON parsed strictly: a bare NaN or Infinity is a bug."""
    return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def check_render(log: list[str]) -> None:
    """The engine reads anything, and every format renders it and parses back."""
    report = analyze(log, "hostile\x1b.log")
    reports = ReportSet((report,))
    for name, render in FORMATTERS.items():
        text = render(reports)
        assert isinstance(text, str), name
    strict(FORMATTERS["json"](reports))
    for line in FORMATTERS["jsonl"](reports).splitlines():
        strict(line)
    strict(FORMATTERS["sarif"](reports))
    ET.fromstring(FORMATTERS["junit"](reports).encode("utf-8"))
    for line in FORMATTERS["github"](reports).splitlines():
        assert line.startswith(("::error", "::warning", "::notice")) or not line.startswith("::")


def check_chunks(log: list[str], cuts: list[int]) -> None:
    """The log fed live as bytes cut at arbitrary places gives the saved log's diagnoses,
    and the passthrough is byte-identical."""
    data = "\n".join(log).encode("utf-8", "surrogatepass")
    saved = analyze(data.decode("utf-8", "replace").split("\n"), "x")
    copy = CopySink()
    watcher = Watcher(Engine("x"), lambda *_: None, sinks=(copy,))  # type: ignore[arg-type]
    start = 0
    for size in [*cuts, len(data)]:
        watcher.feed(data[start : start + size])
        start += size
        if start >= len(data):
            break
    live = watcher.finish()
    assert bytes(copy.data) == data
    assert live is not None and _ids(live) == _ids(saved)


def check_pauses(log: list[str], cuts: list[int]) -> None:
    """Idle pauses anywhere change nothing: a pause lets the rules judge the open record
    on copies of their state, and the record stays open, so the final report is the one
    of the same log read whole, records and all, with or without printed steps."""
    for lines in (log, [f"step {number} {line}" for number, line in enumerate(log, 1)]):
        saved = analyze(lines, "x")
        engine = Engine("x")
        pauses = {sum(cuts[: i + 1]) for i in range(len(cuts))}
        for number, line in enumerate(lines, 1):
            engine.feed(line)
            if number in pauses:
                engine.idle()
        live = engine.finish()
        assert _ids(live) == _ids(saved)
        assert live.input.records == saved.input.records


CUTS = st.lists(st.integers(1, 50), min_size=1, max_size=10)


@BUDGET
@given(LOGS)
def test_the_engine_reads_anything_and_every_format_renders_it(log: list[str]) -> None:
    check_render(log)


@BUDGET
@given(LOGS, CUTS)
def test_live_input_cut_anywhere_gives_the_saved_answer(log: list[str], cuts: list[int]) -> None:
    check_chunks(log, cuts)


@BUDGET
@given(LOGS, CUTS)
def test_idle_pauses_anywhere_change_nothing(log: list[str], cuts: list[int]) -> None:
    check_pauses(log, cuts)


def _ids(report: object) -> list[tuple[str, object]]:
    diagnoses = getattr(report, "diagnoses", ())
    return sorted(((d.id, _finite(d.first_step)) for d in diagnoses), key=repr)


def _finite(step: object) -> object:
    return "nan" if isinstance(step, float) and not math.isfinite(step) else step
