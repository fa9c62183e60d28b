"""The progress display: on a real terminal (a pty) for a log that takes a while, never
when stderr is a pipe or a file, and never with -q. The report on stdout is untouched."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

FAST = {**os.environ, "GRADLOG_PROGRESS_DELAY": "0", "COLUMNS": "120"}


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "long.log"
    with path.open("w") as out:
        for i in range(1, 30_001):
            out.write(f"step {i} | loss {1 + 1 / i:.4f} | grad_norm {0.5 + (i % 7) / 10:.2f}\n")
    return path


def _on_a_terminal(*args: str) -> tuple[int, bytes, bytes]:
    """Run gradlog with stderr on a pty: (exit status, stdout, what the terminal got)."""
    main, child = pty.openpty()
    done = subprocess.Popen(
        [sys.executable, "-m", "gradlog", *args],
        stdout=subprocess.PIPE,
        stderr=child,
        env=FAST,
    )
    os.close(child)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out, _ = done.communicate(timeout=120)
    os.close(main)
    return done.returncode, out, bytes(shown)


def test_a_terminal_sees_the_progress_and_the_report_is_unchanged(log: Path) -> None:
    code, out, shown = _on_a_terminal("diagnose", "--format", "json", str(log))
    assert code == 0, shown[-500:]
    assert b"lines/s" in shown and b"records" in shown and b"long.log" in shown
    plain = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", "--format", "json", str(log)],
        capture_output=True,
        env=FAST,
    )
    assert plain.stdout == out and plain.stderr == b""  # stderr a pipe: no display


def test_quiet_turns_it_off(log: Path) -> None:
    code, _, shown = _on_a_terminal("diagnose", "-q", "--format", "json", str(log))
    assert code == 0 and b"lines/s" not in shown
