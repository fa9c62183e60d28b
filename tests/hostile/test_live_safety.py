"""Live and process safety: the copy survives the engine, descriptors are checked, a stop
reaches every process of the job.

Every case runs real processes through real pipes, ``/dev/full`` and closed descriptors.
A fault in the engine is a real exception raised inside a real gradlog process: a small
``python -c`` program patches one piece of gradlog to raise, then runs the command line
as ``python -m gradlog`` would. Each test is bounded by subprocess timeouts and kills
what it started, even when it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

GRADLOG = [sys.executable, "-m", "gradlog"]
PIPE = subprocess.PIPE
TIMEOUT = 60

# A producer that writes ~2 MB of training lines (a NaN early, so the alert comes soon)
# through its stdout in pieces, then says on stderr whether every write went through.
PRODUCER = textwrap.dedent(
    """
    import sys
    out = sys.stdout.buffer
    for i in range(60_000):
        loss = "nan" if i == 100 else f"{2.0 - i * 1e-6:.6f}"
        out.write(f"step {i} | loss {loss} | grad_norm 0.5\\n".encode())
        if i % 1000 == 0:
            out.flush()
    out.flush()
    sys.stderr.write("producer wrote everything\\n")
    """
)

# Runs gradlog's command line with one piece of it made to fail: ``detector`` (a rule
# raises after 50 records), ``start`` (the engine cannot even be built) or ``alert``
# (printing an alert raises). argv: the fault, then gradlog's arguments.
FAULTY = textwrap.dedent(
    """
    import sys
    fault, sys.argv = sys.argv[1], ["gradlog", *sys.argv[2:]]
    from gradlog.detectors import DETECTORS
    from gradlog.engine import Engine
    from gradlog.formatters import alert

    def fail(*args, **kwargs):
        raise RuntimeError("injected fault \\x1b[31m")

    if fault == "detector":
        detector, seen = DETECTORS[0], [0]
        real = detector.observe_block
        def observe_block(self, block):
            seen[0] += len(block)
            if seen[0] > 50:
                fail()
            return real(self, block)
        detector.observe_block = observe_block
    elif fault == "start":
        Engine.__init__ = fail
    else:
        alert.render_one = fail
    from gradlog.cli import main
    main()
    """
)


def faulty(fault: str, *args: str) -> list[str]:
    return [sys.executable, "-c", FAULTY, fault, *args]


# The producer with its NaN late (line 50,000, 1.7 MB in): a fault after the first 50
# records comes before it whatever the pieces the pipe hands over (a read takes 64 KiB
# at most), so ``--stop-on nan`` never gets to stop the job first.
LATE_NAN = PRODUCER.replace("i == 100", "i == 50_000")


def producer_output(producer: str = PRODUCER) -> bytes:
    return subprocess.run(
        [sys.executable, "-c", producer], capture_output=True, timeout=TIMEOUT, check=True
    ).stdout


@contextlib.contextmanager
def reaped(*processes: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill the process groups of ``processes`` on the way out, whatever happened."""
    try:
        yield
    finally:
        for process in processes:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


def fault_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "internal error" in line]


# The copy survives the engine.


@pytest.mark.parametrize("fault", ["detector", "start", "alert"])
def test_watch_copies_every_byte_past_an_internal_error(fault: str) -> None:
    expected = producer_output()
    source = subprocess.Popen(
        [sys.executable, "-c", PRODUCER], stdout=PIPE, stderr=PIPE, start_new_session=True
    )
    watcher = subprocess.Popen(
        faulty(fault, "watch"),
        stdin=source.stdout,
        stdout=PIPE,
        stderr=PIPE,
        start_new_session=True,
    )
    assert source.stdout is not None
    source.stdout.close()  # gradlog holds the only read end
    with reaped(source, watcher):
        out, err = watcher.communicate(timeout=TIMEOUT)
        _, told = source.communicate(timeout=TIMEOUT)
    assert out == expected  # every byte, in order, past the fault
    assert source.returncode == 0, "the producer must not die of SIGPIPE"
    assert told == b"producer wrote everything\n"
    text = err.decode()
    assert "Traceback" not in text
    [line] = fault_lines(text)
    assert line.startswith("gradlog: internal error: RuntimeError: injected fault \\x1b[31m")
    assert line.endswith("; diagnosis disabled, passthrough continues")
    assert watcher.returncode == 2


def test_run_keeps_the_job_and_its_copy_past_an_internal_error(tmp_path: Path) -> None:
    done = tmp_path / "done"
    job = LATE_NAN + f"open({str(done)!r}, 'w').close()\n"
    runner = subprocess.Popen(
        [*faulty("detector", "run", "--stop-on", "nan", "--"), sys.executable, "-c", job],
        stdout=PIPE,
        stderr=PIPE,
        start_new_session=True,
    )
    with reaped(runner):
        out, err = runner.communicate(timeout=TIMEOUT)
    text = err.decode()
    assert done.exists(), "the job must run to its end"
    assert out == producer_output(LATE_NAN) + b"producer wrote everything\n"  # (merged)
    [line] = fault_lines(text)
    assert line.endswith("diagnosis disabled, passthrough continues; --stop-on no longer applies")
    assert "the job exited with status 0; gradlog exits with status 2" in text
    assert runner.returncode == 2  # --exit-zero could not hide it either


# A full or closed stdout is said, never silent; the producer is never killed by it.


@pytest.mark.parametrize("command", ["watch", "run"])
def test_a_full_stdout_is_announced_and_fails_the_run(command: str, tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"".join(f"step {i} | loss 2.{i}\n".encode() for i in range(1, 200)))
    args = ["watch", str(log)] if command == "watch" else ["run", "--", "cat", str(log)]
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [*GRADLOG, *args], stdout=full, stderr=PIPE, timeout=TIMEOUT, check=False
        )
    err = result.stderr.decode()
    assert err.count("stdout: write failed (No space left on device) after 0 bytes") == 1
    assert "the copy stops there, watching goes on" in err
    assert "199 records" in err  # it read the whole log all the same
    assert "the copy to stdout is incomplete" in err
    assert result.returncode == 2


def test_a_full_tee_is_announced_and_fails_the_run() -> None:
    result = subprocess.run(
        [*GRADLOG, "run", "-q", "--tee", "/dev/full", "--", "echo", "step 1 | loss 2.0"],
        capture_output=True,
        timeout=TIMEOUT,
    )
    err = result.stderr.decode()
    assert "/dev/full: write failed (No space left on device)" in err
    assert result.returncode == 2


@pytest.mark.parametrize("command", ["watch", "run"])
def test_a_stdout_closed_by_its_reader_is_announced(command: str) -> None:
    lines = 'for i in range(1, 5_001): print(f"step {i} | loss 2.0")'
    producer = [sys.executable, "-c", lines]
    if command == "watch":
        source = subprocess.Popen(producer, stdout=PIPE, start_new_session=True)
        gradlog = subprocess.Popen(
            [*GRADLOG, "watch"], stdin=source.stdout, stdout=PIPE, stderr=PIPE
        )
        assert source.stdout is not None
        source.stdout.close()
    else:
        source = gradlog = subprocess.Popen(
            [*GRADLOG, "run", "--", *producer], stdout=PIPE, stderr=PIPE, start_new_session=True
        )
    assert gradlog.stdout is not None and gradlog.stderr is not None
    with reaped(source, gradlog):
        gradlog.stdout.readline()
        gradlog.stdout.close()  # like `| head -1`
        err = gradlog.stderr.read().decode()
        assert gradlog.wait(timeout=TIMEOUT) == 0
        assert source.wait(timeout=TIMEOUT) == 0  # the producer was not killed
    assert len(re.findall(r"stdout was closed by its reader after [\d,]+ bytes", err)) == 1
    assert "5,000 records" in err and "Traceback" not in err


def test_watch_with_stdout_closed_from_the_start_reads_on(tmp_path: Path) -> None:
    done = tmp_path / "done"
    script = f"""
        exec 1>&-
        {sys.executable} -c 'import sys
        for i in range(1, 5001): print(f"step {{i}} | loss 2.0")
        print("step 5001 | loss nan")
        sys.stdout.flush(); open("{done}", "w").close()' | {sys.executable} -m gradlog watch
    """
    result = subprocess.run(
        ["sh", "-c", textwrap.dedent(script)], capture_output=True, timeout=TIMEOUT
    )
    err = result.stderr.decode()
    assert "gradlog: stdout is closed: nothing is copied, watching goes on" in err
    assert "ERROR nan at step 5001" in err and "Traceback" not in err
    assert done.exists(), "the producer must not die of SIGPIPE"
    assert result.returncode == 1  # the status follows the diagnoses


# `run` checks its descriptors before it starts anything.


@pytest.mark.parametrize(
    ("redirect", "message"),
    [
        ("exec 2>&-", None),  # nobody to tell: the status alone says it
        ("exec 1>&-", "stdout is closed: nowhere to write the job's output"),
        ("exec 1</dev/null", "stdout is not open for writing"),
    ],
)
def test_run_refuses_to_start_a_job_it_cannot_watch(
    redirect: str, message: str | None, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    job = f'{sys.executable} -c \'open("{started}", "w").close()\''
    script = f"{redirect}; exec {sys.executable} -m gradlog run -- {job}"
    result = subprocess.run(["sh", "-c", script], capture_output=True, timeout=TIMEOUT)
    time.sleep(0.2)  # a job started by mistake would have made its file by now
    assert not started.exists(), "the job must not be started"
    assert result.returncode == 2
    if message is not None:
        err = result.stderr.decode()
        assert err.startswith("gradlog: error: ") and err.count("\n") == 1
        assert message in err and "job not started" in err


def test_run_quiet_needs_no_stdout(tmp_path: Path) -> None:
    script = f"exec 1>&-; exec {sys.executable} -m gradlog run -q -- echo 'step 1 | loss 2.0'"
    result = subprocess.run(["sh", "-c", script], capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert b"the job exited with status 0" in result.stderr


# Stopping reaches every process of the job.

# The job: a shell that starts two workers in the background and then prints a NaN.
# Worker "term" ignores SIGINT (as a shell's background job does anyway); worker "kill"
# leaves the session (setsid) and ignores SIGINT and SIGTERM. Each writes its pid to
# a file, then appends a byte to another every 50 ms for as long as it lives.
WORKER = textwrap.dedent(
    """
    import os, signal, sys, time
    kind, path = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if kind == "kill":
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(path + ".pid", "w") as stream:
        stream.write(str(os.getpid()))
    while True:
        with open(path, "a") as stream:
            stream.write("x")
        time.sleep(0.05)
    """
)


def is_gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for its (new) parent to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    return True


def test_stop_on_ends_background_workers_and_says_which_signal_each_needed(
    tmp_path: Path,
) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    files = {kind: tmp_path / kind for kind in ("term", "kill")}
    script = textwrap.dedent(
        f"""
        {sys.executable} {worker} term {files["term"]} &
        {sys.executable} {worker} kill {files["kill"]} &
        while [ ! -s {files["term"]} ] || [ ! -s {files["kill"]} ]; do sleep 0.05; done
        echo "step 1 | loss 2.0"
        echo "step 2 | loss nan"
        sleep 30
        """
    )
    runner = subprocess.Popen(
        [*GRADLOG, "run", "--stop-on", "nan", "--grace", "500ms", "--", "sh", "-c", script],
        stdout=PIPE,
        stderr=PIPE,
        start_new_session=True,
    )
    pids: dict[str, int] = {}
    try:
        started = time.monotonic()
        _, err = runner.communicate(timeout=TIMEOUT)
        elapsed = time.monotonic() - started
        pids = {kind: int(Path(f"{path}.pid").read_text()) for kind, path in files.items()}
        deadline = time.monotonic() + 5
        while not all(map(is_gone, pids.values())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(map(is_gone, pids.values())), "a worker outlived the stop"
        sizes = [path.stat().st_size for path in files.values()]
        time.sleep(0.3)
        assert [path.stat().st_size for path in files.values()] == sizes, "still writing"
    finally:
        for pid in pids.values():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(runner.pid, signal.SIGKILL)
    text = err.decode()
    assert runner.returncode == 3, text
    assert elapsed < 20  # 0.5 s grace, 5 s to SIGKILL, then at once
    [summary] = [line for line in text.splitlines() if "the job's processes:" in line]
    assert re.search(rf"\b{pids['term']} \(python3?[^)]*\)[^;]* needed SIGTERM", summary)
    assert re.search(rf"\b{pids['kill']} \(python3?[^)]*\)[^;]* needed SIGKILL", summary)
    assert "ended on SIGINT" in summary and summary.endswith("none is left")
    assert "outlived its main process" in text  # SIGTERM went to the workers alone


# Following a file that is truncated or rewritten under the reader.


def wait_for_size(stream_path: Path, size: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while stream_path.stat().st_size < size:
        assert time.monotonic() < deadline, f"{stream_path} never reached {size} bytes"
        time.sleep(0.02)


def followed_nan_steps(log: Path, tmp_path: Path, rewrite: Callable[[], None]) -> list[int]:
    """Follow ``log``, let ``rewrite`` change it once gradlog has read it all, then
    Ctrl-C; return the first steps of the NaN diagnoses of the report."""
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        watcher = subprocess.Popen(
            [*GRADLOG, "watch", "--follow", str(log), "--format", "jsonl"],
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    with reaped(watcher):
        wait_for_size(out_path, log.stat().st_size)  # the copy shows it read it all
        rewrite()
        time.sleep(1.0)  # ten polls of the followed file
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=TIMEOUT) in (0, 1)
    text = err_path.read_text()
    report = json.loads(text[text.index("\n{\n") :])
    return [d["first_step"] for d in report["reports"][0]["diagnoses"] if d["id"] == "nan"]


def test_a_partial_line_ends_where_the_followed_file_was_truncated(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"step 1 | loss 2.0\nstep 2 | loss 2.0\nstep 3 | loss")  # no "\n" yet

    def truncate_and_restart() -> None:
        log.write_bytes(b"step 1 | loss nan\n")  # copytruncate, then the job goes on

    assert followed_nan_steps(log, tmp_path, truncate_and_restart) == [1]


def test_a_followed_file_rewritten_past_the_offset_is_read_from_the_start(
    tmp_path: Path,
) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"".join(b"step %d | loss 2.0\n" % i for i in range(1, 4)))
    new = b"step 1 | loss nan\n" + b"".join(b"step %d | loss 1.0\n" % i for i in range(2, 20))

    def rewrite_in_place() -> None:
        # What copytruncate followed by a fast writer looks like between two polls: the
        # size never drops below the reader's offset, only the content tells.
        fd = os.open(log, os.O_WRONLY)
        try:
            os.pwrite(fd, new, 0)
        finally:
            os.close(fd)

    assert followed_nan_steps(log, tmp_path, rewrite_in_place) == [1]
