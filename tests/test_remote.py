"""Remote inputs through fsspec: a log served over HTTP (a real server on localhost)
reads as the same file on disk, streamed; a missing one is a one-line error."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def served() -> Iterator[str]:
    pytest.importorskip("fsspec", reason="the remote extra is not installed")
    pytest.importorskip("aiohttp", reason="the remote extra is not installed")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(SAMPLES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _diagnose(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _found(text: str) -> list[tuple[str, object, str]]:
    (report,) = json.loads(text)["reports"]
    return [(d["id"], d["first_step"], d["severity"]) for d in report["diagnoses"]]


@pytest.mark.parametrize("name", ["exploding.log", "vanishing.log", "healthy.log"])
def test_a_served_log_reads_as_the_file(served: str, name: str) -> None:
    remote = _diagnose("--format", "json", f"{served}/{name}")
    local = _diagnose("--format", "json", str(SAMPLES / name))
    assert remote.returncode == local.returncode
    assert _found(remote.stdout) == _found(local.stdout)
    assert json.loads(remote.stdout)["reports"][0]["input"]["name"] == f"{served}/{name}"


def test_a_missing_remote_log_is_a_one_line_error(served: str) -> None:
    done = _diagnose(f"{served}/missing.log")
    assert done.returncode == 2
    assert done.stderr.strip() == f"gradlog: error: {served}/missing.log: no such file"
