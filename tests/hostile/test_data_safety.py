"""Never destroy data: an output never replaces an input, a link or a special file.

Real files, links, FIFOs and devices, and real gradlog processes: ``--output`` naming an
input (by any path: symlink, hard link, ``/proc/self/fd/0``) is refused with exit 2 and
the input untouched; a regular file is replaced atomically, through symlinks to their
target; ``/dev/null``, FIFOs, character devices and ``/dev/stdout`` are written in
place; no temporary file is left behind by any failure, SIGTERM included.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import SAMPLES

HEALTHY = SAMPLES / "healthy.log"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, /dev writes)")
TIMEOUT = 30


def gradlog(
    *args: str, cwd: Path, stdin: object = None, stdout: object = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog", *args],
        cwd=cwd,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=TIMEOUT,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temporaries(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir() if p.name.startswith(".gradlog")]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradlog: error: "), result.stderr
    return lines[0]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "train.log"
    path.write_bytes(HEALTHY.read_bytes())
    return path


@pytest.fixture
def devices_kept() -> Iterator[None]:
    """Puts /dev/null and /dev/stdout back should a regression replace them (as root)."""
    yield
    if os.geteuid() != 0:
        return
    if not stat.S_ISCHR(os.lstat("/dev/null").st_mode):
        os.unlink("/dev/null")
        os.mknod("/dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod("/dev/null", 0o666)
    if not os.path.islink("/dev/stdout"):
        os.unlink("/dev/stdout")
        os.symlink("/proc/self/fd/1", "/dev/stdout")


# --- an output that is an input ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "spelling"),
    [
        ("diagnose", "same"),
        ("diagnose", "dot"),
        ("diagnose", "symlink"),
        ("diagnose", "fd0"),
        ("series", "hardlink"),
        ("series", "symlink"),
    ],
)
def test_output_naming_an_input_is_refused(
    tmp_path: Path, log: Path, command: str, spelling: str
) -> None:
    before = digest(log)
    output = {
        "same": "train.log",
        "dot": "./sub/../train.log",
        "symlink": "link.log",
        "hardlink": "hard.log",
        "fd0": "/proc/self/fd/0",
    }[spelling]
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.log").symlink_to("train.log")
    os.link(log, tmp_path / "hard.log")
    with log.open("rb") as stdin:  # for fd0: standard input is the log itself
        result = gradlog(command, "train.log", "-o", output, cwd=tmp_path, stdin=stdin)
    assert "is the input train.log" in one_error_line(result)
    assert digest(log) == before and (tmp_path / "link.log").is_symlink()
    assert not temporaries(tmp_path)


def test_output_naming_standard_input_is_refused(tmp_path: Path, log: Path) -> None:
    before = digest(log)
    with log.open("rb") as stdin:
        result = gradlog("diagnose", "-", "-o", "train.log", cwd=tmp_path, stdin=stdin)
    assert "is the input standard input" in one_error_line(result)
    assert digest(log) == before


def test_one_of_several_inputs_is_refused(tmp_path: Path, log: Path) -> None:
    other = tmp_path / "other.log"
    other.write_bytes(log.read_bytes())
    before = digest(other)
    result = gradlog("diagnose", "train.log", "*.log", "-o", "other.log", cwd=tmp_path)
    assert "is the input other.log" in one_error_line(result)
    assert digest(other) == before


# --- regular files: atomic, through symlinks, keeping the mode ----------------------------


@pytest.mark.parametrize("command", ["diagnose", "series"])
def test_output_through_a_symlink_writes_its_target(
    tmp_path: Path, log: Path, command: str
) -> None:
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "latest.txt"
    target.write_text("old report\n")
    link = tmp_path / "latest"
    link.symlink_to("reports/latest.txt")
    result = gradlog(command, "train.log", "-o", "latest", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "reports/latest.txt"
    text = target.read_text()
    assert text != "old report\n" and ("train.log" in text or text.startswith("step,"))
    assert not temporaries(tmp_path, tmp_path / "reports")


def test_dangling_symlink_creates_its_target(tmp_path: Path, log: Path) -> None:
    (tmp_path / "out").symlink_to("made.json")
    result = gradlog("diagnose", "train.log", "--format", "json", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out").is_symlink()
    assert '"schema_version"' in (tmp_path / "made.json").read_text()


def test_replaced_file_keeps_its_mode(tmp_path: Path, log: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("old\n")
    report.chmod(0o640)
    result = gradlog("diagnose", "train.log", "-o", "report.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(report.stat().st_mode) == 0o640 and "train.log" in report.read_text()


# --- special files: written in place, never replaced --------------------------------------


def test_fifo_output_is_written_in_place(tmp_path: Path, log: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        args = ("diagnose", "train.log", "--format", "plain", "-o", str(fifo))
        result = gradlog(*args, cwd=tmp_path)
        received, _ = reader.communicate(timeout=10)
    finally:
        if reader.poll() is None:  # never opened for writing: free the reader
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.kill()
            reader.wait()
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert b"No problems found in 40 records" in received


@ROOT_ONLY
def test_character_device_output_stays_a_device(tmp_path: Path, log: Path) -> None:
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    result = gradlog("diagnose", "train.log", "-o", str(device), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert not temporaries(tmp_path)


@pytest.mark.usefixtures("devices_kept")
@pytest.mark.parametrize(("device", "code"), [("/dev/null", 0), ("/dev/full", 2)])
def test_dev_null_and_dev_full_stay_devices(
    tmp_path: Path, log: Path, device: str, code: int
) -> None:
    before = os.lstat(device)
    result = gradlog("diagnose", "train.log", "-o", device, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    if code:
        assert "No space left on device" in one_error_line(result)
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert not [name for name in os.listdir("/dev") if name.startswith(".gradlog")]


@ROOT_ONLY
def test_block_device_is_refused(tmp_path: Path, log: Path) -> None:
    device = tmp_path / "disk"
    os.mknod(device, 0o600 | stat.S_IFBLK, os.makedev(7, 250))  # a loop device, unbound
    result = gradlog("diagnose", "train.log", "-o", str(device), cwd=tmp_path)
    assert "block device" in one_error_line(result)
    assert stat.S_ISBLK(os.lstat(device).st_mode)


@pytest.mark.usefixtures("devices_kept")
@pytest.mark.parametrize("path", ["/dev/fd/1", "/dev/stdout"])
def test_standard_output_paths_write_to_the_descriptor(
    tmp_path: Path, log: Path, path: str
) -> None:
    """``-o /dev/stdout`` with stdout appended to a file: appended, nothing replaced."""
    collected = tmp_path / "collected.txt"
    collected.write_text("earlier output\n")
    with collected.open("a") as stdout:
        result = gradlog(
            "diagnose", "train.log", "--format", "plain", "-o", path, cwd=tmp_path, stdout=stdout
        )
    assert result.returncode == 0, result.stderr
    text = collected.read_text()
    assert text.startswith("earlier output\n") and "No problems found" in text
    assert os.path.islink("/dev/stdout") and os.readlink("/dev/stdout") == "/proc/self/fd/1"
    assert not [name for name in os.listdir("/dev") if name.startswith(".gradlog")]


# --- failures leave nothing behind --------------------------------------------------------


@pytest.mark.parametrize("target", ["a_directory", "a_file/below", "missing/below"])
def test_failed_write_leaves_no_temporary_file(tmp_path: Path, log: Path, target: str) -> None:
    (tmp_path / "a_directory").mkdir()
    (tmp_path / "a_file").write_text("keep\n")
    result = gradlog("diagnose", "train.log", "-o", target, cwd=tmp_path)
    assert "cannot write" in one_error_line(result)
    assert not temporaries(tmp_path, tmp_path / "a_directory")
    assert (tmp_path / "a_file").read_text() == "keep\n" and digest(log) == digest(HEALTHY)


def test_series_without_records_keeps_the_old_output(tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_text("hello\nno numbers here\n")
    (tmp_path / "out.csv").write_text("previous export\n")
    result = gradlog("series", "empty.log", "-o", "out.csv", cwd=tmp_path)
    assert "no metric records" in one_error_line(result)
    assert (tmp_path / "out.csv").read_text() == "previous export\n"
    assert not temporaries(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_while_writing_leaves_no_temporary_file(
    tmp_path: Path, log: Path, signum: int
) -> None:
    """`series - -o` streams into its temporary file while the input is still open.

    The child starts with the signal's default action, as from a shell: a test run under
    ``nohup`` would hand it SIGHUP ignored, which gradlog leaves ignored (by design)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gradlog", "series", "-", "-o", "out.csv"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL),
    )
    assert process.stdin is not None
    try:
        process.stdin.write(log.read_bytes())
        process.stdin.flush()
        deadline = time.monotonic() + TIMEOUT
        while not temporaries(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert temporaries(tmp_path), "the export never started"
        process.send_signal(signum)
        process.wait(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
        process.stdin.close()
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 128 + signum
    assert not temporaries(tmp_path) and not (tmp_path / "out.csv").exists()
