"""Live commands with real processes and pipes: `watch`, `watch --follow`, `run`, `diagnose -`.

Timings are generous: an alert must come while the producer still sleeps, not within a
benchmark figure (that is bench/live_latency.py's job).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from gradlog.formatters import alert, jsonl
from gradlog.model import Confidence, Diagnosis, Evidence, Severity
from gradlog.process import parse_duration
from gradlog.sources import GATHER, GATHER_SAVED, FdReader, FollowReader, LineSplitter
from tests import fake_train

FAKE = str(Path(__file__).with_name("fake_train.py"))
GRADLOG = [sys.executable, "-m", "gradlog"]
PIPE = subprocess.PIPE


def fake(*args: str) -> list[str]:
    return [sys.executable, FAKE, *args]


def fake_output(*args: str) -> bytes:
    """Exactly what the fake job writes with these options."""
    return b"".join(fake_train.lines(fake_train.options(list(args))))


def strict_json(text: str | bytes) -> Any:
    def reject(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=reject)


class Collector:
    """Reads a pipe in a thread, keeping each line with the time it arrived."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        self.lines: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self.lines.append((time.monotonic(), line))

    def wait_for(self, needle: bytes, timeout: float = 15.0) -> float:
        """When the first line holding ``needle`` arrived (waiting up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arrived, line in list(self.lines):
                if needle in line:
                    return arrived
            time.sleep(0.01)
        raise AssertionError(f"{needle!r} not seen within {timeout}s in {self.text()!r}")

    def text(self) -> bytes:
        return b"".join(line for _, line in self.lines)

    def finish(self) -> str:
        self._thread.join(timeout=15)
        return self.text().decode()


def pipeline(producer: list[str], *args: str) -> tuple[subprocess.Popen[bytes], ...]:
    """``producer | gradlog args``, gradlog's stdout and stderr as pipes."""
    source = subprocess.Popen(producer, stdout=PIPE)
    watcher = subprocess.Popen([*GRADLOG, *args], stdin=source.stdout, stdout=PIPE, stderr=PIPE)
    assert source.stdout is not None
    source.stdout.close()  # gradlog holds the only read end now
    return source, watcher


def gradlog(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*GRADLOG, *args], capture_output=True, timeout=60)


# Library pieces that need no process.


def test_splitter_holds_partial_lines_and_caps_them() -> None:
    splitter = LineSplitter(max_line=16)
    assert splitter.push(b"step 1 lo") == []
    assert splitter.push(b"ss 2.0\nstep 2") == ["step 1 loss 2.0"]
    assert splitter.push(b" loss nan") == []
    assert splitter.flush() == "step 2 loss nan"
    assert splitter.flush() is None
    assert splitter.push(b"\r 10%|#\r 20%|##\r 30%|###") == ["\r 10%|#\r 20%|##\r"]
    # A line past the cap keeps its head and drops the rest, counted in ``cut``.
    assert splitter.push(b"x" * 40) == [" 30%|###" + "x" * 8]
    assert splitter.cut == 1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("2m", 120.0), ("500ms", 0.5), ("1.5", 1.5), ("1h", 3600.0), (" 2 s", 2.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "3x", "-1s", "1e3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_alert_prints_log_text_as_itself() -> None:
    diagnosis = Diagnosis(
        id="nan",
        title="NaN or Inf in training",
        severity=Severity.ERROR,
        confidence=Confidence.HIGH,
        message="loss nan in [bold]epoch[/bold] [1][50/100] [/]",
        metric="loss",
        first_step=7,
        last_step=7,
        line=9,
        evidence=(Evidence(6, 8, "loss", 2.0), Evidence(7, 9, "loss", math.nan)),
        remedies=("Lower the [red]learning rate[/red].", "Clip gradients."),
    )
    text = alert.render_one(diagnosis, Severity.WARNING)
    assert text == (
        "gradlog: ERROR nan at step 7 (line 9) (worse: was warning): "
        "loss nan in [bold]epoch[/bold] [1][50/100] [/]\n"
        "  first remedy: Lower the [red]learning rate[/red].\n"
    )
    assert alert.rollback_step(diagnosis) == 6
    line = strict_json(jsonl.render_one(diagnosis, "run.log"))
    assert line["input"] == "run.log" and line["evidence"][1]["value"] == "nan"


# gradlog watch


def test_passthrough_is_byte_identical() -> None:
    options = ("--steps", "6", "--progress", "--pieces", "--no-final-newline")
    source, watcher = pipeline(fake(*options, "--delay", "0.01"), "watch")
    out, err = watcher.communicate(timeout=30)
    assert out == fake_output(*options)
    assert source.wait(timeout=10) == 0
    assert watcher.returncode == 0, err
    assert b"No problem seen in 6 records (steps 1-6), but too few to judge" in err


def test_nan_alert_comes_while_the_producer_still_runs() -> None:
    producer = fake("--steps", "6", "--nan-at", "3", "--after-nan", "10", "--delay", "0.05")
    source, watcher = pipeline(producer, "watch")
    out, err = Collector(watcher.stdout), Collector(watcher.stderr)
    printed = out.wait_for(b"loss nan")
    alerted = err.wait_for(b"ERROR nan at step 3")
    assert source.poll() is None, "the alert must not wait for the end of the input"
    assert alerted - printed < 2.0
    source.kill()
    assert watcher.wait(timeout=15) == 1
    text = err.finish()
    assert "first remedy: " in text
    assert text.count("ERROR nan at step 3") == 1  # announced once, then the report
    assert "Traceback" not in text


def test_jsonl_alerts_and_report_are_strict_json() -> None:
    source, watcher = pipeline(
        fake("--steps", "6", "--nan-at", "3"), "watch", "-q", "--format", "jsonl"
    )
    out, err = watcher.communicate(timeout=30)
    assert source.wait(timeout=10) == 0
    assert out == b""
    lines = err.decode().splitlines(keepends=True)
    alerts = [strict_json(line) for line in lines if line.startswith('{"')]
    assert [(a["id"], a["first_step"], a["input"]) for a in alerts] == [("nan", 3, "-")]
    assert "nan" in [e["value"] for e in alerts[0]["evidence"]]
    report = strict_json("".join(line for line in lines if not line.startswith('{"')))
    assert report["summary"]["exit_code"] == watcher.returncode == 1


def test_follow_survives_growth_truncation_and_rotation(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("".join(f"step {i} | loss 2.{i}\n" for i in range(1, 4)))
    watcher = subprocess.Popen(
        [*GRADLOG, "watch", "--follow", str(log), "--format", "jsonl"], stdout=PIPE, stderr=PIPE
    )
    out, err = Collector(watcher.stdout), Collector(watcher.stderr)
    out.wait_for(b"step 3")
    with log.open("a") as stream:
        stream.write("step 4 | loss nan\n")
    err.wait_for(b'"first_step": 4')
    log.write_text("")  # truncated, as logrotate's copytruncate does
    err.wait_for(b"truncated")
    log.write_text("step 10 | loss 2.0\nstep 11 | loss inf\n")
    err.wait_for(b'"first_step": 11')
    log.rename(tmp_path / "train.log.1")  # rotated: a new file takes the name
    log.write_text("step 20 | loss 1.0\nstep 21 | loss nan\n")
    err.wait_for(b'"first_step": 21')
    watcher.send_signal(signal.SIGINT)  # Ctrl-C ends a followed file: report, status
    assert watcher.wait(timeout=15) == 1
    assert out.finish().endswith("step 20 | loss 1.0\nstep 21 | loss nan\n")
    text = err.finish()
    report = strict_json(text[text.index("\n{\n") :])
    steps = [d["first_step"] for d in report["reports"][0]["diagnoses"]]
    assert steps == [4, 11, 21]


def test_watch_reads_a_file_to_its_end(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(fake_output("--steps", "5", "--nan-at", "4", "--no-final-newline"))
    result = gradlog("watch", str(log))
    assert result.returncode == 1
    assert result.stdout == log.read_bytes()
    assert b"ERROR nan at step 4" in result.stderr


def test_closed_stdout_stops_the_copy_not_the_watch() -> None:
    source, watcher = pipeline(fake("--steps", "3000", "--delay", "0"), "watch")
    assert watcher.stdout is not None
    watcher.stdout.readline()
    watcher.stdout.close()  # like `| head -1`
    assert watcher.wait(timeout=30) == 0
    assert watcher.stderr is not None
    err = watcher.stderr.read().decode()
    assert "Traceback" not in err
    assert "3,000 records" in err  # it went on watching to the end
    assert source.wait(timeout=10) == 0  # and the job was not killed by SIGPIPE


# gradlog diagnose - on a pipe


def test_diagnose_stdin_alerts_before_the_input_ends() -> None:
    producer = fake("--steps", "4", "--nan-at", "2", "--after-nan", "10")
    source, watcher = pipeline(producer, "diagnose", "-", "--format", "json")
    out, err = Collector(watcher.stdout), Collector(watcher.stderr)
    err.wait_for(b"ERROR nan at step 2")
    assert source.poll() is None
    source.kill()
    assert watcher.wait(timeout=15) == 1
    assert strict_json(out.finish())["summary"]["exit_code"] == 1


# gradlog run


@pytest.mark.parametrize(
    ("job", "options", "code"),
    [
        (("--steps", "3"), (), 0),
        (("--steps", "3", "--exit-code", "7"), (), 7),
        (("--steps", "4", "--nan-at", "3"), (), 1),
        (("--steps", "4", "--nan-at", "3"), ("--exit-zero",), 0),
    ],
)
def test_run_returns_the_job_status(
    job: tuple[str, ...], options: tuple[str, ...], code: int
) -> None:
    result = gradlog("run", *options, "--", *fake(*job, "--delay", "0"))
    assert result.returncode == code, result.stderr
    assert result.stdout == fake_output(*job)
    assert f"the job exited with status {code if code == 7 else 0}".encode() in result.stderr


def test_stop_on_nan_sends_sigint_and_exits_3() -> None:
    job = fake("--steps", "200", "--nan-at", "5", "--on-sigint", "checkpoint", "--delay", "0.05")
    result = gradlog("run", "--stop-on", "nan,loss_spike", "--grace", "2s", "--", *job)
    assert result.returncode == 3, result.stderr
    assert b"got SIGINT, saving checkpoint" in result.stdout
    assert b"step 200" not in result.stdout
    err = result.stderr.decode()
    assert "stopping the job" in err and "because of nan at step 5" in err
    assert "roll back to: step 4 or earlier" in err
    assert "first remedy:" in err
    assert err.rstrip().endswith(
        "status 130 after gradlog stopped it because of nan at step 5; gradlog exits with status 3"
    )


def test_a_job_ignoring_sigint_gets_sigterm_after_the_grace() -> None:
    job = fake("--steps", "400", "--nan-at", "3", "--on-sigint", "ignore", "--delay", "0.02")
    started = time.monotonic()
    result = gradlog("run", "--stop-on", "nan", "--grace", "500ms", "--", *job)
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert b"got SIGTERM" in result.stdout
    assert b"sent SIGTERM" in result.stderr
    assert 0.5 <= elapsed < 7.0  # the job alone would take 8 s


def test_ctrl_c_on_run_is_forwarded_to_the_job() -> None:
    job = fake("--steps", "500", "--on-sigint", "checkpoint", "--delay", "0.02")
    runner = subprocess.Popen([*GRADLOG, "run", "--", *job], stdout=PIPE, stderr=PIPE)
    out, err = Collector(runner.stdout), Collector(runner.stderr)
    out.wait_for(b"step 3 ")
    runner.send_signal(signal.SIGINT)
    assert runner.wait(timeout=15) == 130  # the job's own status
    assert "got SIGINT, saving checkpoint" in out.finish()
    text = err.finish()
    assert "Ctrl-C: sent SIGINT to the job" in text
    assert "No problem seen" in text and "Traceback" not in text


def test_tee_saves_the_raw_output(tmp_path: Path) -> None:
    options = ("--steps", "3", "--progress", "--no-final-newline")
    target = tmp_path / "run.log"
    result = gradlog("run", "-q", "--tee", str(target), "--", *fake(*options, "--delay", "0"))
    assert result.returncode == 0
    assert result.stdout == b""
    assert target.read_bytes() == fake_output(*options)


def test_run_with_stdout_closed_has_no_traceback() -> None:
    job = fake("--steps", "3000", "--delay", "0")
    runner = subprocess.Popen([*GRADLOG, "run", "--", *job], stdout=PIPE, stderr=PIPE)
    assert runner.stdout is not None and runner.stderr is not None
    runner.stdout.readline()
    runner.stdout.close()
    assert runner.wait(timeout=30) == 0
    err = runner.stderr.read()
    assert b"Traceback" not in err and b"the job exited with status 0" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--", "gradlog-no-such-command"), "gradlog-no-such-command: command not found"),
        (("run", "--stop-on", "nan,bogus", "--", "true"), "unknown diagnosis id bogus"),
        (("run", "--grace", "soon", "--", "true"), "invalid duration 'soon'"),
        (("watch", "--follow"), "--follow needs a FILE"),
        (("watch", "no-such.log"), "no-such.log: no such file"),
    ],
)
def test_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = gradlog(*args)
    err = result.stderr.decode()
    assert result.returncode == 2
    assert err.startswith("gradlog: error: ") and err.count("\n") == 1
    assert message in err


# A reader ahead of which the writer got: what is waiting is read in one go, up to a cap.


def _piped(data: bytes) -> tuple[int, int, threading.Thread]:
    """The two ends of a pipe, and a thread (to start) that writes ``data`` into it and
    closes its end."""
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=write)
    return read_fd, write_fd, writer


@pytest.mark.parametrize("gather", [GATHER, GATHER_SAVED])
def test_a_reader_takes_what_waits_in_a_pipe_in_one_read(gather: int) -> None:
    """The pipe is widened to hold a gathered read (``watch``'s, or ``diagnose -``'s,
    as far as the user's pipe limit lets it); once the writer filled it, a read returns
    all of it (not one 64 KiB buffer), and every byte comes once, in order."""
    data = bytes(range(256)) * (3 * gather // 256)  # three gathered reads' worth
    read_fd, write_fd, writer = _piped(data)
    reader = FdReader(read_fd, gather=gather)
    held = fcntl.fcntl(read_fd, fcntl.F_GETPIPE_SZ)
    if held < GATHER:  # (a machine whose pipe limits forbid it: checked where they allow)
        os.close(read_fd)
        os.close(write_fd)
        pytest.skip(f"pipes are limited to {held} bytes here")
    writer.start()
    time.sleep(0.2)  # the writer fills the pipe and waits
    pieces = []
    while (piece := reader.read(1.0)) is not None:
        pieces.append(piece)
    writer.join()
    reader.close()
    os.close(read_fd)
    assert b"".join(pieces) == data
    assert min(held, gather) <= len(pieces[0]) <= gather
    assert max(map(len, pieces)) <= gather


def test_a_reader_reads_a_file_in_gathered_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    data = b"step 1 | loss 2.3\n" * (GATHER // 9)
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    reader = FdReader(fd)
    pieces = []
    while (piece := reader.read(0.1)) is not None:
        pieces.append(piece)
    os.close(fd)
    assert b"".join(pieces) == data
    assert [len(piece) for piece in pieces] == [GATHER, len(data) - GATHER]


def test_an_error_after_a_read_keeps_what_was_read() -> None:
    """A terminal whose other end closed: its bytes come first, then the error (EIO) is
    met by the next read, as without gathering."""
    main, other = pty.openpty()
    os.write(other, b"loss 2.3\n" * 10)
    os.close(other)
    reader = FdReader(main)
    got = b""
    with pytest.raises(OSError):
        while (piece := reader.read(0.5)) is not None:
            got += piece
    reader.close()
    os.close(main)
    assert got.replace(b"\r\n", b"\n") == b"loss 2.3\n" * 10


def test_a_followed_file_far_ahead_is_read_in_gathered_blocks(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    data = b"step 1 | loss 2.3\n" * (GATHER // 9)
    path.write_bytes(data)
    reader = FollowReader(str(path))
    pieces = [reader.read(0.01) for _ in range(3)]
    reader.close()
    assert [len(piece) for piece in pieces] == [GATHER, len(data) - GATHER, 0]
    assert b"".join(pieces) == data
