"""The HTML report in a real browser (Debian's ``chromium``, headless).

Each page is opened by the browser; the page notes on ``<body>`` what it drew (charts,
bands and incident marks with a size), and the browser's console must stay silent: an
error in the page's script, or a resource it could not load, is printed there. The
check of every corpus log is marked ``slow`` (``pytest -m slow``, which CI runs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gradlog.engine import analyze
from gradlog.formatters import html
from gradlog.incidents import incidents
from gradlog.model import Confidence, Diagnosis, Evidence, Severity
from gradlog.report import ReportSet
from gradlog.sources import open_input
from tests.helpers import CORPUS, ROOT, SAMPLES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)"
)
SEED = ROOT.parent / "shared" / "seed-logs" / "exploding.log"


def _open(page: Path, screenshot: Path | None = None) -> tuple[dict[str, int], list[str]]:
    """Open ``page`` headless: what its <body> says was drawn, and the console's lines."""
    assert CHROMIUM is not None
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += ["--enable-logging=stderr", "--v=0", "--window-size=1000,1500"]
    run = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    body = re.search(r"<body([^>]*)>", run.stdout)
    assert body is not None, run.stderr[-2000:]
    drawn = {k: int(v) for k, v in re.findall(r'data-([a-z-]+)="(\d+)"', body.group(1))}
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    if screenshot is not None:
        subprocess.run(
            [*flags, f"--screenshot={screenshot}", page.as_uri()],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return drawn, console


def _page(log: Path, folder: Path) -> tuple[Path, int, int]:
    """The log's HTML page, with the charts and incident marks it should draw."""
    report = analyze(open_input(str(log)), log.name)
    page = folder / f"{log.stem}.html"
    page.write_text(html.render(ReportSet((report,))), encoding="utf-8")
    points = [report.input.curves[n] for n in html.CHARTS if n in report.input.curves]
    charts = sum(1 for p in points if any(v == v for v in p.lows))
    marks = sum(1 for p in points if any(v == v for v in p.lows)) * len(
        [i for i in incidents(report) if i.line is not None]
    )
    return page, charts, marks


def test_the_console_check_catches_a_script_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>notDefined();</script></body></html>")
    _, console = _open(page)
    assert any("Uncaught ReferenceError" in line for line in console)


def test_the_exploding_sample_renders_its_charts_and_incident(tmp_path: Path) -> None:
    log = SEED if SEED.exists() else SAMPLES / "exploding.log"
    page, charts, marks = _page(log, tmp_path)
    artefacts = ROOT / "tests" / "artefacts"
    artefacts.mkdir(exist_ok=True)
    drawn, console = _open(page, screenshot=artefacts / "exploding.png")
    assert console == []
    assert drawn["charts"] == charts >= 2
    assert drawn["marks-drawn"] == marks >= 2
    assert drawn["bands-drawn"] == page.read_text().count('class="band"')
    assert (artefacts / "exploding.png").stat().st_size > 10_000


def test_log_text_is_escaped_in_the_page(tmp_path: Path) -> None:
    hostile = '</title><script>alert(1)</script><img src=x onerror="fetch(1)">'
    diagnosis = Diagnosis(
        "nan",
        "NaN or Inf in training",
        Severity.ERROR,
        Confidence.HIGH,
        f"loss became {hostile}",
        hostile,
        5,
        5,
        5,
        evidence=(Evidence(5, 5, hostile, float("nan")),),
        remedies=(hostile,),
    )
    report = analyze(open_input(str(SAMPLES / "healthy.log")), hostile)
    report = type(report)(report.input, (diagnosis,), report.rules)
    text = html.render(ReportSet((report,)))
    assert "<script>alert" not in text and "<img src=x" not in text
    page = tmp_path / "hostile.html"
    page.write_text(text, encoding="utf-8")
    drawn, console = _open(page)
    assert console == [] and drawn["charts"] >= 1


def test_html_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    logs = [str(SAMPLES / "healthy.log"), str(SAMPLES / "exploding.log")]
    run = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", "--format", "html", "-o", str(out), *logs],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stderr  # the exploding sample has errors
    drawn, console = _open(out)
    assert console == [] and drawn["charts"] >= 4
    assert "<th>input</th>" in out.read_text()  # several inputs: a summary table first


def _corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.log")) + sorted((CORPUS / "real").glob("*.log"))


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.exists(), reason="the corpus is not beside the checkout")
def test_every_corpus_log_renders_without_console_errors(tmp_path: Path) -> None:
    pages = [_page(log, tmp_path) for log in _corpus()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        opened = list(pool.map(lambda item: _open(item[0]), pages))
    failures = []
    for (page, charts, marks), (drawn, console) in zip(pages, opened, strict=True):
        if console or drawn.get("charts") != charts or drawn.get("marks-drawn") != marks:
            failures.append((page.name, charts, marks, drawn, console[:2]))
    assert not failures
