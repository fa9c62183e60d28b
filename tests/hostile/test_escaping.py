"""Input that is data, never commands: log text and file names escaped for every destination.

Hostile text (terminal escape sequences, OSC title sets, U+009B, bidi overrides, CI
workflow commands, Markdown and HTML, rich markup) reaches the output through file
names, lines quoted from a log, metric names and messages. Each format is parsed back
with a real parser (json, xml.etree, markdown-it) and read the way the GitHub Actions
runner reads a log (actions/runner ActionCommand.cs: a line starting with ``::`` after
blanks, or ``##[`` anywhere).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import unicodedata
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from gradlog.escape import (
    inert,
    json_inert,
    markdown_code,
    markdown_text,
    visible,
    workflow_data,
    workflow_property,
    xml_inert,
    xml_text,
)
from gradlog.formatters import FORMATTERS, alert, terminal
from gradlog.inspect import inspect_lines
from gradlog.inspect import render as render_inspection
from gradlog.model import Confidence, Diagnosis, Evidence, Severity
from gradlog.report import InputSummary, Report, ReportSet
from tests.helpers import run_gradlog

HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
MINE = ("terminal", "plain", "github", "markdown", "junit", "sarif")
# Text a log (or a file name) can carry: escape and control sequences, a one-character
# CSI, bidi overrides and isolates, workflow commands, Markdown, HTML and rich markup.
HOSTILE = (
    "\x1b[31mred\x1b[0m \x1b]0;pwned\x07 \x9b31m \u202eevil\u202c \u2066iso\u2069 "
    "bell\x07 back\bspace cr\rover zw\u200bsp\nnext line\n::error::injected\n"
    "  ::warning title=x::indented ##[error]legacy ##[stop-commands]tok "
    "| pipe | `tick` ``two`` <script>alert(1)</script> <img src=x onerror=alert(1)> "
    "[bold]markup[/bold] *star* _under_ $x$ 100% a,b:c"
)
NAME = "runs/\x1b]0;t\x07ev\u202eil|`x`\x9b1m\n::error::n ##[error]<i>x</i>.log"
METRIC = "evil\x1b]0;pwned\x07[red]x"
MARKUP = "[bold]markup[/bold]"


# --- helpers -----------------------------------------------------------------------


def hidden(text: str, allow: str = "\n") -> set[str]:
    """The controls, format and bidi characters in ``text`` (other than ``allow``)."""
    return {c for c in text if c not in allow and unicodedata.category(c) in HIDDEN}


def runner_lines(output: str) -> list[str]:
    """``output`` split into lines as the runner reads them (LF, CR or CRLF)."""
    return re.split(r"\r\n|\r|\n", output)


def command_lines(output: str) -> list[str]:
    """The lines the GitHub Actions runner would try as workflow commands."""
    return [
        line for line in runner_lines(output) if line.lstrip().startswith("::") or "##[" in line
    ]


def unescape(text: str, codes: tuple[tuple[str, str], ...]) -> str:
    for code, char in codes:
        text = text.replace(code, char)
    return text


DATA_CODES = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
PROPERTY_CODES = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner parses it (TryParseV2), unescaped."""
    line = line.lstrip()
    assert line.startswith("::"), line
    end = line.index("::", 2)
    info, data = line[2:end], line[end + 2 :]
    name, _, props = info.partition(" ")
    pairs = [p.split("=", 1) for p in props.split(",") if p]
    properties = {key: unescape(value, PROPERTY_CODES) for key, value in pairs}
    return name, properties, unescape(data, DATA_CODES)


def hostile_reports() -> ReportSet:
    """A hand-built report carrying hostile text in every field that can hold log text."""
    summary = InputSummary(
        NAME, 12, 10, 10, ("key_value",), ("loss", METRIC), 1, 10,
        unparsed=(HOSTILE, "##[error]boom", MARKUP),
        unread_numeric=2, unread_examples=(HOSTILE, "\x9b2J 1 2"),
    )  # fmt: skip
    error = Diagnosis(
        "nan", "NaN", Severity.ERROR, Confidence.HIGH, HOSTILE, METRIC, 3, 5, 4,
        evidence=(Evidence(3, 4, METRIC, float("nan")),), remedies=(HOSTILE,),
    )  # fmt: skip
    warning = Diagnosis(
        "loss_spike", "Loss spike", Severity.WARNING, Confidence.LOW, "::error::" + HOSTILE,
        "loss", None, None, None,
    )  # fmt: skip
    report = Report(summary, (error, warning), ("nan", "loss_spike"))
    return ReportSet((report,), Severity.WARNING)


def gradlog(
    *args: str, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The gradlog of this working tree, run as a user would."""
    return run_gradlog(*args, cwd=cwd, stdin=stdin, text=False, NO_COLOR="1")


def nan_log(steps: int = 12) -> str:
    lines = [f"step {i} loss {2.0 - i / 100} grad_norm 1.0" for i in range(1, steps)]
    return "\n".join([*lines, f"step {steps} loss nan grad_norm 1.0"]) + "\n"


# --- the escaping functions ----------------------------------------------------------

EVERY_HIDDEN = (
    [chr(c) for c in range(0x20)]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u00ad", "\u061c", "\u200b", "\u200e", "\u200f", "\u2028", "\u2029", "\ufeff"]
    + ["\U000e0041", "\udcff"]
)


@pytest.mark.parametrize("char", EVERY_HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_visible_shows_every_hidden_character_as_an_escape(char: str) -> None:
    shown = visible(f"a{char}b")
    assert shown.startswith("a\\") and shown.endswith("b")
    assert all(0x20 <= ord(c) < 0x7F for c in shown), shown


def test_visible_spells_escapes_as_python_does_and_leaves_printable_text() -> None:
    assert visible("\x1b]0;t\x07\x9b\u202e\U000e0041\n\t\r") == (
        "\\x1b]0;t\\x07\\x9b\\u202e\\U000e0041\\n\\t\\r"
    )
    assert visible("b\udcffd") == "b\\xffd"  # a file name byte that is not UTF-8
    printable = "loss: 1.5e-3 \u2013 naïve 日本語 ✓ [bold] <b> | ` C:\\run.log"
    assert visible(printable) == printable
    assert visible("a\nb\rc\x1b", keep="\n\r") == "a\nb\rc\\x1b"


def test_inert_defuses_workflow_commands_wherever_a_line_starts() -> None:
    text = "::error::a\n  ::warning::b\rx ##[error]c\r\n\t::notice::d\nstd::vector ok::"
    defused = inert(text)
    assert command_lines(defused) == []
    assert defused == (
        "\\x3a:error::a\n  \\x3a:warning::b\rx #\\x23[error]c\r\n\t\\x3a:notice::d\n"
        "std::vector ok::"
    )


def test_markdown_escapes_and_code_spans() -> None:
    assert markdown_text("a|b\n<x>&`$") == "a\\|b &lt;x&gt;&amp;\\`\\$"
    assert markdown_code("a`b``c") == "```a`b``c```"
    assert markdown_code("`x") == "`` `x ``"
    assert markdown_code("a|b", in_table=True) == "`a\\|b`"


def test_workflow_escaping_as_github_documents() -> None:
    assert workflow_data("50%\r\n::x ##[y") == "50%25%0D%0A::x #\\x23[y"
    assert workflow_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert workflow_data("\x1b[31m") == "\\x1b[31m"


def test_xml_and_json_helpers_keep_the_data() -> None:
    assert xml_text("a\x00b\x1b\x9b\u202e\n") == "a\ufffdb\ufffd\\x9b\\u202e\n"
    document = xml_inert('<a b="x">\n::error::y ##[z]\r</a>')
    assert command_lines(document) == []
    assert ET.fromstring(document).text == "\n::error::y ##[z]\r"
    value = {"k\u202e": ["##[error]", "\x1b\x7f\x9b\u202e\udcff\U000e0041 日本"]}
    document = json_inert(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(document) == value
    assert hidden(document) == set() and command_lines(document) == []
    assert "\\udb40\\udc41 日本" in document  # U+E0041 as a surrogate pair; text stays


# --- every format, from a hand-built hostile report --------------------------------


@pytest.mark.parametrize("fmt", MINE)
def test_no_format_carries_a_workflow_command_or_a_raw_control(fmt: str) -> None:
    output = FORMATTERS[fmt](hostile_reports())
    assert hidden(output) == set()
    if fmt == "github":
        assert [line for line in command_lines(output) if not line.startswith("::")] == []
    else:
        assert command_lines(output) == []


@pytest.mark.parametrize("width", [30, 100, 400])
def test_terminal_shows_escapes_and_markup_literally(width: int) -> None:
    output = terminal.render(hostile_reports(), width=width)
    assert hidden(output) == set() and command_lines(output) == []
    if width == 400:  # wide enough for nothing to wrap
        assert "\\x1b]0;pwned\\x07" in output and "\\x9b31m" in output
        assert "\\u202eevil\\u202c" in output and "next line\\n::error::injected" in output
        assert MARKUP in output and "evil\\x1b]0;pwned\\x07[red]x" in output


def test_plain_quotes_every_line_on_one_line() -> None:
    output = FORMATTERS["plain"](hostile_reports())
    name = visible(NAME).replace("##[", "#\\x23[")
    lines = output.splitlines()
    assert all(line.startswith(name) or line.startswith("    remedy") for line in lines)
    assert f"{name}: not read: {MARKUP}" in lines


def test_github_commands_carry_the_escaped_text() -> None:
    output = FORMATTERS["github"](hostile_reports())
    lines = output.splitlines()
    assert len(lines) == 2 and command_lines(output) == lines
    commands = [parse_command(line) for line in lines]
    assert [(name, props["title"]) for name, props, _ in commands] == [
        ("error", "gradlog nan"),
        ("warning", "gradlog loss_spike"),
    ]
    for _, props, message in commands:
        assert hidden(props["file"], allow="\n") == set() and "\\x1b]0;t\\x07" in props["file"]
        assert props["file"].endswith("\n::error::n #\\x23[error]<i>x</i>.log")
        assert hidden(message, allow="\r\n") == set()
        assert "next line\n::error::injected" in message and "##[" not in message
    assert commands[0][1]["line"] == "4" and "line" not in commands[1][1]


class _Html(HTMLParser):
    """The tags of an HTML fragment and the text of each table row's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rendered_markdown(text: str) -> _Html:
    parser = _Html()
    parser.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))
    return parser


def folded(text: str) -> str:
    return visible(" ".join(text.split()))


def test_markdown_renders_no_html_and_keeps_every_table_row_whole() -> None:
    text = FORMATTERS["markdown"](hostile_reports())
    assert command_lines(text) == []
    html = rendered_markdown(text)
    allowed = {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "code"}
    # h4 and pre: an input's heading and its chart block (mermaid), both written by gradlog
    assert html.tags <= allowed | {"details", "summary", "b", "ol", "li", "h4", "pre"}
    inputs, diagnoses = html.rows[:2], html.rows[2:]
    assert [len(row) for row in inputs] == [4, 4]
    assert [len(row) for row in diagnoses] == [5, 5, 5]
    assert inputs[1][0] == folded(NAME)
    assert diagnoses[1][:3] == ["error", "nan", f"{folded(NAME)}:4"]
    assert diagnoses[1][4] == folded(HOSTILE)
    assert diagnoses[2][4] == folded("::error::" + HOSTILE)


def test_junit_parses_back_with_the_text_shown() -> None:
    output = FORMATTERS["junit"](hostile_reports())
    assert command_lines(output) == [] and hidden(output, allow="\n\t") == set()
    suite = ET.fromstring(output).find("testsuite")
    assert suite is not None
    # XML cannot carry ESC or BEL at all: U+FFFD; the others are shown as escapes.
    name = NAME.replace("\x1b", "\ufffd").replace("\x07", "\ufffd")
    assert suite.get("name") == visible(name, keep="\n")
    failure = suite.find("testcase[@name='nan']/failure")
    assert failure is not None
    message = failure.get("message") or ""
    assert "\\x9b31m" in message and "\\u202eevil" in message and "cr\rover" in message
    assert "\n::error::injected\n" in message and "##[stop-commands]tok" in message


def test_sarif_parses_back_with_messages_shown_and_uris_encoded() -> None:
    output = FORMATTERS["sarif"](hostile_reports())
    assert command_lines(output) == []
    doc = json.loads(output)
    first, second = doc["runs"][0]["results"]
    assert first["message"]["text"] == visible(HOSTILE, keep="\r\n")
    assert second["message"]["text"].startswith("::error::")
    assert first["properties"]["metric"] == visible(METRIC)
    uri = first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert re.fullmatch(r"[A-Za-z0-9%/._~-]+", uri) and "%1B%5D0%3Bt%07" in uri


def test_live_alerts_and_notices_show_escapes() -> None:
    (report,) = hostile_reports().reports
    diagnosis = report.diagnoses[0]
    texts = [
        alert.render_one(diagnosis),
        alert.to_string(alert.stop_text(diagnosis, 42, 30.0, 30.0)),
        alert.to_string(alert.note_text(f"{NAME} was truncated; reading it from the start")),
    ]
    for text in texts:
        assert hidden(text) == set() and command_lines(text) == []
    assert MARKUP in texts[0] and "\\x1b]0;pwned\\x07" in texts[1]
    assert "\\x1b]0;t\\x07" in texts[2]


def test_inspect_shows_hostile_keys_and_lines_as_escapes() -> None:
    row = {"step": 1, "loss": 1.5, "evil\x1b]0;pwned\x07": 2.0, "b\u202edi": 3.0, "::error::k": 4}
    lines = [json.dumps(row, ensure_ascii=False), HOSTILE.replace("\n", " ") + " 7 8"]
    found = inspect_lines(lines, NAME)
    for width in (40, 100):
        output = render_inspection([found], width=width)
        assert hidden(output) == set() and command_lines(output) == []
    assert "b\\u202edi" in render_inspection([found], width=400)


# --- the command line, with hostile files ------------------------------------------

# A file name with every kind of trouble; a file name cannot hold "/" or NUL.
FILE_NAME = "r\x1b]0;pwned\x07\u202eun\x9b2J|`x`<script>\n::error::pwn ##[error]x.log"


FILE_SHOWN = "r\\x1b]0;pwned\\x07\\u202eun\\x9b2J|`x`<script>\n::error::pwn #\\x23[error]x.log"


def check_output(fmt: str, output: str, diagnoses: int, file: str) -> None:
    """No raw control anywhere; no workflow command but gradlog's own, naming ``file``."""
    assert hidden(output) == set(), fmt
    commands = command_lines(output)
    if fmt != "github":
        assert commands == [], fmt
        return
    assert len(commands) == diagnoses == len(output.splitlines())
    for name, props, _ in map(parse_command, commands):
        assert name in {"error", "warning", "notice"} and props["file"] == file


def test_hostile_file_name_in_every_format(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text(nan_log(), encoding="utf-8")
    started = time.monotonic()
    for fmt in MINE:
        result = gradlog("diagnose", "--format", fmt, FILE_NAME, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, b""), (fmt, result.stderr)
        output = result.stdout.decode("utf-8")
        check_output(fmt, output, diagnoses=1, file=FILE_SHOWN)
        if fmt == "junit":
            suite = ET.fromstring(output).find("testsuite")
            assert suite is not None and (suite.get("name") or "").startswith("r\ufffd]0;")
        if fmt == "sarif":
            assert json.loads(output)["runs"][0]["results"][0]["ruleId"] == "nan"
    assert time.monotonic() - started < 30


# The first five lines are quoted when nothing is read; the rest feed the examples of
# lines with numbers that were not read.
UNREAD = (
    "::error file=train.py::injected\n"
    "##[stop-commands]token\n"
    "\x1b]0;pwned\x07 title \x9b2J csi\n"
    "hello \u202eevil\u202c\n"
    "[bold red]markup[/] 9\n"
    "##[error]legacy 1\n"
    "| a | b | <script>alert(1)</script> `x` 10\n"
)


@pytest.mark.parametrize("fmt", ["terminal", "plain"])
def test_unreadable_log_quoted_as_data(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "job.log").write_text(UNREAD, encoding="utf-8")
    result = gradlog("diagnose", "--format", fmt, "job.log", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    output = result.stdout.decode("utf-8")
    check_output(fmt, output, diagnoses=1, file="job.log")
    if fmt in ("terminal", "plain"):
        assert "[bold red]markup[/] 9" in output and "\\u202eevil\\u202c" in output
        assert "#\\x23[stop-commands]token" in output
    if fmt == "terminal":  # quoted at the start of a line, after blanks
        assert "\n  \\x3a:error file=train.py::injected\n" in output


def test_hostile_text_from_standard_input(tmp_path: Path) -> None:
    result = gradlog("diagnose", "--format", "plain", "-", cwd=tmp_path, stdin=UNREAD.encode())
    assert result.returncode == 1
    check_output("plain", result.stdout.decode("utf-8"), diagnoses=1, file="-")


@pytest.mark.parametrize("fmt", MINE)
def test_file_name_that_is_not_utf8_is_written_to_a_file(tmp_path: Path, fmt: str) -> None:
    name = os.fsdecode(b"run\xff\xfe.log")
    (tmp_path / name).write_text(nan_log(), encoding="utf-8")
    target = tmp_path / f"report.{fmt}"
    result = gradlog("diagnose", "--format", fmt, "-o", str(target), name, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    written = target.read_text(encoding="utf-8")
    shown = {"sarif": "run%FF%FE.log", "junit": "run\ufffd\ufffd.log"}
    assert shown.get(fmt, "run\\xff\\xfe.log") in written


def test_inspect_from_the_command_line(tmp_path: Path) -> None:
    row = {"step": 1, "loss": 1.5, "evil\x1b]0;pwned\x07": 2.0, "::error::k": 4.0}
    lines = [json.dumps(row, ensure_ascii=False)] * 3 + ["##[error]x \x9b2J 1 2"]
    (tmp_path / FILE_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = gradlog("inspect", FILE_NAME, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = result.stdout.decode("utf-8")
    assert hidden(output) == set() and command_lines(output) == []


def test_watch_report_on_stderr_is_escaped(tmp_path: Path) -> None:
    """The passthrough is the job's own bytes; what gradlog adds on stderr is data only."""
    result = gradlog("watch", cwd=tmp_path, stdin=UNREAD.encode())
    assert result.stdout == UNREAD.encode()  # copied byte for byte, by design
    report = result.stderr.decode("utf-8")
    assert hidden(report) == set() and command_lines(report) == []
    assert "[bold red]markup[/] 9" in report
