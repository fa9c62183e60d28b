"""Never hang, bounded everything: special files, binary and compressed input, huge lines.

Each case runs the real CLI in a wrapper process that measures it: the wrapper's
``RUSAGE_CHILDREN`` after the child exits is gradlog's own peak memory (``ru_maxrss``,
KiB on Linux). Every case must end within ``SECONDS`` and ``MEBIBYTES``; the files are
sized so that the quadratic or unbounded code this replaced took minutes or gigabytes.
"""

from __future__ import annotations

import base64
import bz2
import codecs
import contextlib
import gzip
import json
import lzma
import os
import random
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradlog.parse.line import NAMES_KEPT, NUMBERS_KEPT, PARSE_LIMIT, LineParser
from gradlog.sources import (
    BINARY,
    FollowReader,
    InputError,
    LineSplitter,
    Sniffer,
    open_input,
)
from tests.helpers import SAMPLES

SECONDS = 10.0
MEBIBYTES = 200
GRADLOG = [sys.executable, "-m", "gradlog"]
EXPLODING = SAMPLES / "exploding.log"  # its report has a NaN diagnosis

# Runs one command and reports its exit code, time and peak memory as JSON.
_WRAPPER = """
import json, resource, subprocess, sys, time
spec = json.loads(sys.argv[1])
stdin = open(spec["stdin"], "rb") if spec["stdin"] else subprocess.DEVNULL
producer = None
if spec["producer"]:
    producer = subprocess.Popen(spec["producer"], stdout=subprocess.PIPE)
    stdin = producer.stdout
start = time.monotonic()
try:
    done = subprocess.run(spec["args"], stdin=stdin, capture_output=True, timeout=spec["timeout"])
    code, out, err = done.returncode, done.stdout, done.stderr
except subprocess.TimeoutExpired as exc:
    code, out, err = None, exc.stdout or b"", exc.stderr or b""
seconds = time.monotonic() - start
if producer is not None:
    producer.stdout.close()
    producer.kill()
    producer.wait()
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
text = {"stdout": out.decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace")}
print(json.dumps({"code": code, "seconds": seconds, "kib": rss, **text}))
"""


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None: killed at the time limit
    seconds: float
    mebibytes: float
    stdout: str
    stderr: str

    def bounded(self) -> Outcome:
        """Assert the run ended in time and memory; return self to chain checks."""
        assert self.code is not None, f"still running after {SECONDS}s: {self.stderr[-300:]!r}"
        assert self.seconds < SECONDS, f"took {self.seconds:.1f}s"
        assert self.mebibytes < MEBIBYTES, f"peak memory {self.mebibytes:.0f} MiB"
        return self

    def refused(self, reason: str = BINARY) -> Outcome:
        """Assert exit 2 with one line on stderr naming ``reason``."""
        self.bounded()
        lines = self.stderr.strip().splitlines()
        assert self.code == 2, self.stderr
        assert len(lines) == 1 and lines[0].startswith("gradlog: error: "), self.stderr
        assert reason in lines[0], lines[0]
        assert "Traceback" not in self.stderr
        return self

    def report(self) -> dict[str, Any]:
        """The JSON report on stdout, after checking the run was bounded and not refused."""
        self.bounded()
        assert self.code in (0, 1), self.stderr[-500:]
        data: dict[str, Any] = json.loads(self.stdout)
        return data["reports"][0]  # type: ignore[no-any-return]


def measured(
    *args: str,
    stdin: str | Path | None = None,
    producer: list[str] | None = None,
    timeout: float = SECONDS + 5,
) -> Outcome:
    """Run ``gradlog args`` under the measuring wrapper."""
    spec = {
        "args": [*GRADLOG, *args],
        "stdin": str(stdin) if stdin else None,
        "producer": producer,
        "timeout": timeout,
    }
    wrapper = subprocess.run(
        [sys.executable, "-c", _WRAPPER, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )
    assert wrapper.returncode == 0, wrapper.stderr
    data = json.loads(wrapper.stdout)
    mebibytes = data["kib"] / 1024
    return Outcome(data["code"], data["seconds"], mebibytes, data["stdout"], data["stderr"])


def ids_and_steps(report: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(d["id"], d["first_step"]) for d in report["diagnoses"]]


def steps_log(path: Path, count: int, extra: Any = lambda i: "") -> Path:
    """A healthy-looking log of ``count`` steps with ``extra(i)`` appended to each line,
    and a NaN at the last step, so a missed line is a missed diagnosis."""
    with path.open("w") as out:
        for i in range(1, count):
            out.write(f"step {i} | loss {2.0 + (i % 7) / 100:.4f}{extra(i)}\n")
        out.write(f"step {count} | loss nan{extra(count)}\n")
    return path


# Binary input: refused from its first block, whatever its size.


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_at_once(device: str) -> None:
    measured("diagnose", device).refused()


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_on_standard_input_is_refused_at_once(device: str) -> None:
    measured("diagnose", "-", stdin=device).refused()


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    blob = tmp_path / "model.bin"
    blob.write_bytes(random.Random(1).randbytes(1 << 20))
    measured("diagnose", str(blob)).refused()


def test_an_archive_is_refused_with_a_hint(tmp_path: Path) -> None:
    archive = tmp_path / "logs.zip"
    archive.write_bytes(b"PK\x03\x04" + random.Random(2).randbytes(4096))
    measured("diagnose", str(archive)).refused("zip archive")


def test_binary_bytes_piped_to_diagnose_are_refused() -> None:
    measured("diagnose", "-", producer=["head", "-c", "1000000", "/dev/urandom"]).refused()


# Compressed logs: read as they decompress, never whole.


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
)
def test_a_compressed_log_is_read_like_the_plain_one(
    tmp_path: Path, suffix: str, compress: Any
) -> None:
    packed = tmp_path / f"exploding.log{suffix}"
    packed.write_bytes(compress(EXPLODING.read_bytes()))
    plain = measured("diagnose", "--format", "json", str(EXPLODING)).report()
    read = measured("diagnose", "--format", "json", str(packed)).report()
    assert ids_and_steps(read) == ids_and_steps(plain) != []
    assert read["input"]["records"] == plain["input"]["records"]


def test_a_compressed_log_on_standard_input_is_read(tmp_path: Path) -> None:
    packed = tmp_path / "exploding.log.gz"
    packed.write_bytes(gzip.compress(EXPLODING.read_bytes()))
    plain = measured("diagnose", "--format", "json", str(EXPLODING)).report()
    read = measured("diagnose", "--format", "json", "-", stdin=packed).report()
    assert ids_and_steps(read) == ids_and_steps(plain)


def test_a_truncated_compressed_log_is_refused(tmp_path: Path) -> None:
    packed = gzip.compress(EXPLODING.read_bytes())
    cut = tmp_path / "exploding.log.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    measured("diagnose", str(cut)).refused("truncated gzip data")


def test_zstd_is_read_or_refused_with_a_hint(tmp_path: Path) -> None:
    packed = tmp_path / "exploding.log.zst"
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        packed.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(64))
        measured("diagnose", str(packed)).refused("zstandard")
        return
    packed.write_bytes(zstandard.ZstdCompressor().compress(EXPLODING.read_bytes()))
    assert measured("diagnose", "--format", "json", str(packed)).report()["diagnoses"]


def test_a_gzip_bomb_of_zeros_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.log.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as out:
        block = bytes(1 << 20)
        for _ in range(64):
            out.write(block)
    measured("diagnose", str(bomb)).refused("NUL bytes only")


# Text in odd encodings and with a hole of NULs is still text.


def test_a_utf16_log_with_a_bom_is_read(tmp_path: Path) -> None:
    utf16 = tmp_path / "powershell.log"
    utf16.write_bytes(codecs.BOM_UTF16_LE + EXPLODING.read_text().encode("utf-16-le"))
    plain = measured("diagnose", "--format", "json", str(EXPLODING)).report()
    assert ids_and_steps(measured("diagnose", "--format", "json", str(utf16)).report()) == (
        ids_and_steps(plain)
    )


def test_a_log_after_a_hole_of_nuls_is_read(tmp_path: Path) -> None:
    """copytruncate with a writer that kept its offset leaves NULs before the new lines."""
    holed = tmp_path / "rotated.log"
    holed.write_bytes(bytes(3 << 20) + EXPLODING.read_bytes())
    plain = measured("diagnose", "--format", "json", str(EXPLODING)).report()
    report = measured("diagnose", "--format", "json", str(holed)).report()
    assert ids_and_steps(report) == ids_and_steps(plain)


# Special files: FIFOs and sockets are opened once and read to their end.


@contextlib.contextmanager
def fifo(path: Path, data: bytes) -> Iterator[Path]:
    """A FIFO at ``path`` and a process that opens it, writes ``data`` and closes it."""
    os.mkfifo(path)
    writer = subprocess.Popen(
        [sys.executable, "-c", _FIFO_WRITER, str(path)], stdin=subprocess.PIPE
    )
    assert writer.stdin is not None
    writer.stdin.write(data)
    writer.stdin.close()
    try:
        yield path
    finally:
        writer.kill()
        writer.wait()


# Reads all it is to write first: opening the FIFO blocks until a reader comes.
_FIFO_WRITER = "import sys; data = sys.stdin.buffer.read(); open(sys.argv[1], 'wb').write(data)"


@contextlib.contextmanager
def unix_socket(data: bytes) -> Iterator[Path]:
    """A Unix stream socket that sends ``data`` to each client, then closes."""
    folder = Path(tempfile.mkdtemp(prefix="gl", dir="/tmp"))  # a socket path is short
    path = folder / "s"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    server.settimeout(SECONDS)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = server.accept()
                with client:
                    client.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield path
    finally:
        server.close()
        path.unlink()
        folder.rmdir()


def test_diagnose_reads_a_fifo(tmp_path: Path) -> None:
    # More than a pipe holds: a reader that opens, closes and opens again (to check the
    # input exists) kills the writer with SIGPIPE and then waits for ever.
    filler = (b"#" * 999 + b"\n") * 1100
    with fifo(tmp_path / "fifo", filler + EXPLODING.read_bytes()) as path:
        outcome = measured("diagnose", "--format", "json", str(path), timeout=3)
    assert "nan" in [d["id"] for d in outcome.report()["diagnoses"]]


def test_diagnose_reads_a_socket() -> None:
    with unix_socket(EXPLODING.read_bytes()) as path:
        outcome = measured("diagnose", "--format", "json", str(path), timeout=3)
    assert "nan" in [d["id"] for d in outcome.report()["diagnoses"]]


def test_watch_follow_reads_a_fifo_to_its_end(tmp_path: Path) -> None:
    with fifo(tmp_path / "fifo", EXPLODING.read_bytes()) as path:
        outcome = measured("watch", "--follow", "-q", "--format", "jsonl", str(path)).bounded()
    assert outcome.code == 1, outcome.stderr
    assert '"id": "nan"' in outcome.stderr


def test_watch_follow_reads_a_socket_to_its_end() -> None:
    with unix_socket(EXPLODING.read_bytes()) as path:
        outcome = measured("watch", "--follow", "-q", "--format", "jsonl", str(path)).bounded()
    assert outcome.code == 1, outcome.stderr
    assert '"id": "nan"' in outcome.stderr


def test_watch_reads_a_socket_without_follow() -> None:
    with unix_socket(EXPLODING.read_bytes()) as path:
        outcome = measured("watch", "-q", "--format", "jsonl", str(path)).bounded()
    assert outcome.code == 1, outcome.stderr
    assert '"id": "nan"' in outcome.stderr


def test_an_input_is_opened_once_whatever_it_is(tmp_path: Path) -> None:
    expected = EXPLODING.read_text().splitlines()
    with fifo(tmp_path / "fifo", EXPLODING.read_bytes()) as path:
        assert list(open_input(str(path))) == expected
    with unix_socket(EXPLODING.read_bytes()) as path:
        assert list(open_input(str(path))) == expected
    with pytest.raises(IsADirectoryError):
        open_input(str(tmp_path))


# Huge lines and hostile line shapes: linear work, bounded memory, the NaN still found.


def test_a_50_mb_line_is_cut_not_loaded(tmp_path: Path) -> None:
    log = tmp_path / "blob.log"
    with log.open("w") as out:
        out.write("step 1 | loss 2.0\nstep 2 | loss 2.0 ")
        out.write("x" * (50 << 20))
        out.write("\nstep 3 | loss nan\n")
    report = measured("diagnose", "--format", "json", str(log)).report()
    assert ("nan", 3) in ids_and_steps(report)
    assert report["input"]["limits"] == {"cut_lines": 1, "long_lines": 1}
    said = measured("diagnose", str(log)).bounded().stdout
    assert "limits reached: lines longer than 1 MiB, cut there (1)" in said


def test_a_long_word_after_a_number(tmp_path: Path) -> None:
    rng = random.Random(3)
    word = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(100_000))
    log = steps_log(tmp_path / "word.log", 3, lambda i: f" note 7 {word}")
    assert ("nan", 3) in ids_and_steps(measured("diagnose", "--format", "json", str(log)).report())


def test_a_long_blank_run_in_a_summary_block(tmp_path: Path) -> None:
    # A ``key = value`` block (HF's ``***** train metrics *****``) is matched line by line:
    # a run of blanks between two words must not make that match quadratic.
    log = tmp_path / "summary.log"
    log.write_text(
        "***** train metrics *****\n  epoch = 3.0\n"
        + "a"
        + " " * 900_000
        + "b\n"
        + "".join(f"step {i} | loss {2.0 if i < 5 else 'nan'}\n" for i in range(1, 6))
    )
    assert ("nan", 5) in ids_and_steps(measured("diagnose", "--format", "json", str(log)).report())


def test_a_line_of_100k_numbers(tmp_path: Path) -> None:
    numbers = " ".join(f"{i * 0.5}" for i in range(100_000))
    log = steps_log(tmp_path / "numbers.log", 5, lambda i: f" values {numbers}")
    report = measured("diagnose", "--format", "json", str(log)).report()
    assert ("nan", 5) in ids_and_steps(report)
    assert set(report["input"]["limits"]) == {"long_lines", "many_numbers"}


def test_a_new_line_shape_on_every_line(tmp_path: Path) -> None:
    rng = random.Random(4)
    log = tmp_path / "shapes.log"
    with log.open("w") as out:
        for i in range(50_000):
            word = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))
            out.write(f"worker {word} finished batch {i} in {rng.randint(1, 99)} ms\n")
        for i in range(1, 40):  # a metric line first seen after all that: still read
            out.write(f"step {i} | loss {2.0 + (i % 3) / 100}\n")
        out.write("step 40 | loss nan\n")
    report = measured("diagnose", "--format", "json", str(log)).report()
    assert ("nan", 40) in ids_and_steps(report)


def test_a_new_id_on_every_line(tmp_path: Path) -> None:
    rng = random.Random(5)

    def ids(i: int) -> str:
        return f" trace={uuid.UUID(int=rng.getrandbits(128))} span={rng.getrandbits(64):016x}"

    log = steps_log(tmp_path / "ids.log", 20_000, ids)
    report = measured("diagnose", "--format", "json", str(log)).report()
    assert ("nan", 20_000) in ids_and_steps(report)
    assert report["input"]["records"] == 20_000


def test_a_new_metric_name_on_every_line(tmp_path: Path) -> None:
    log = steps_log(tmp_path / "names.log", 15_000, lambda i: f" sample_{i}_loss: 0.5")
    report = measured("diagnose", "--format", "json", str(log)).report()
    assert ("nan", 15_000) in ids_and_steps(report)
    assert len(report["input"]["metrics"]) <= NAMES_KEPT + 8
    assert report["input"]["limits"]["names_dropped"] > 10_000


def test_a_base64_line_does_not_stall_a_live_watch(tmp_path: Path) -> None:
    blob = base64.b64encode(random.Random(6).randbytes(300_000)).decode()
    log = tmp_path / "live.log"
    log.write_text(f"step 1 | loss 2.0\nstep 2 | loss 2.0 data {blob}\nstep 3 | loss nan\n")
    outcome = measured("watch", "-q", "--format", "jsonl", producer=["cat", str(log)]).bounded()
    assert '"id": "nan"' in outcome.stderr


# The pieces, without processes.


def test_a_long_line_keeps_its_head_and_counts_the_cut() -> None:
    splitter = LineSplitter(max_line=16)
    assert splitter.push(b"step 1 loss 2.0 " + b"x" * 40) == ["step 1 loss 2.0 "]
    assert splitter.push(b"x" * 40) == []  # the rest of that line is dropped
    assert splitter.push(b"xx\nstep 2 loss nan\n") == ["step 2 loss nan"]
    assert splitter.cut == 1
    assert splitter.push(b"\r 10%|#\r 20%|##\r 30%|###") == ["\r 10%|#\r 20%|##\r"]
    assert splitter.push(b"\n") == [" 30%|###"]  # a redrawn bar is read in pieces, not cut
    assert splitter.cut == 1


def _split_as_specified(data: bytes, cap: int) -> tuple[list[str], int]:
    """What ``LineSplitter`` must give for ``data``, however it is chunked."""
    out, cut = [], 0
    *lines, last = data.split(b"\n")
    for line in [*lines, last] if last else lines:
        pieces, rest = False, line
        while len(rest) > cap:
            end = rest.rfind(b"\r", 0, cap) + 1
            if not end:
                out.append(rest[:cap].decode("utf-8", "replace"))
                cut += 1
                break
            out.append(rest[:end].decode("utf-8", "replace"))
            rest, pieces = rest[end:], True
        else:
            if rest or not pieces:
                out.append(rest.decode("utf-8", "replace"))
    return out, cut


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    data=st.binary(max_size=120).map(lambda b: bytes(b"ab\r\n\xc3"[x % 5] for x in b)),
    cap=st.integers(1, 24),
    cuts=st.lists(st.integers(1, 40), max_size=60),
)
def test_splitting_does_not_depend_on_where_the_chunks_end(
    data: bytes, cap: int, cuts: list[int]
) -> None:
    splitter, lines, start = LineSplitter(cap), [], 0
    for size in [*cuts, len(data)]:
        lines += splitter.push(data[start : start + size])
        start += size
    rest = splitter.flush()
    assert ([*lines, rest] if rest is not None else lines, splitter.cut) == (
        _split_as_specified(data, cap)
    )


def test_splitting_a_huge_line_is_linear() -> None:
    splitter = LineSplitter()
    chunk = b"x" * (1 << 16)
    start = time.monotonic()
    lines = [line for _ in range(800) for line in splitter.push(chunk)]  # 50 MB, no newline
    lines += splitter.push(b"\nstep 2\n")
    assert time.monotonic() - start < 2.0
    assert [len(line) for line in lines] == [1 << 20, 6]
    assert splitter.cut == 1


def test_text_in_a_legacy_encoding_is_text() -> None:
    sniffer = Sniffer()
    text = "эпоха 1 потеря 0.5 \u2013 très bien\r\n\x1b[1m\tok\b\n".encode("cp1251", "replace")
    assert sniffer.feed(text * 500) == text * 500
    sniffer.finish()


def test_a_short_binary_input_is_refused_at_its_end() -> None:
    sniffer = Sniffer()
    sniffer.feed(b"step 1 \x01\x02\x03\x04\x05\x06\x07\x0e\x0f\x10")
    with pytest.raises(InputError, match=BINARY):
        sniffer.finish()


def test_leading_nuls_are_skipped_up_to_a_limit() -> None:
    sniffer = Sniffer()
    assert sniffer.feed(bytes(1000)) == b""
    assert sniffer.feed(bytes(10) + b"step 1\n") == b"step 1\n"
    with pytest.raises(InputError, match="NUL bytes only"):
        zero = Sniffer()
        for _ in range(300):
            zero.feed(bytes(1 << 16))


def test_a_line_is_read_in_its_first_part_and_first_numbers() -> None:
    parser = LineParser()
    numbers = " ".join(f"v{i}={i}" for i in range(200))
    fields = parser.parse(f"step 3 loss 2.5 {numbers} lr 0.1")
    assert fields is not None and fields.step == 3 and fields.metrics["loss"] == 2.5
    assert "lr" not in fields.metrics and len(fields.metrics) == NUMBERS_KEPT - 1
    assert parser.limits.many_numbers == 1
    fields = parser.parse("step 4 loss 2.0 " + "word " * PARSE_LIMIT)
    assert fields is not None and fields.metrics == {"loss": 2.0}
    assert parser.limits.long_lines == 1


def test_ids_make_no_new_shapes() -> None:
    parser = LineParser()
    rng = random.Random(7)
    for i in range(1, 200):
        trace = uuid.UUID(int=rng.getrandbits(128))
        blob = base64.b64encode(rng.randbytes(30)).decode()
        line = f"step {i} loss 0.5 id={rng.getrandbits(64):x} run {trace} key {blob}"
        fields = parser.parse(line)
        assert fields is not None and fields.step == i and fields.metrics == {"loss": 0.5}
    assert len(parser.shapes) == 1


def test_metric_names_are_capped_but_canonical_ones_are_read() -> None:
    parser = LineParser()
    for i in range(NAMES_KEPT + 100):
        parser.parse(f"step {i} custom_{i}_loss: 0.5")
    fields = parser.parse("step 9 loss: nan custom_999999_loss: 0.5")
    assert fields is not None and set(fields.metrics) == {"loss"}
    assert parser.limits.names_dropped >= 100


def test_new_shapes_on_every_line_are_bounded_and_a_repeated_one_is_learned() -> None:
    parser = LineParser()
    rng = random.Random(8)
    start = time.monotonic()
    for i in range(20_000):
        word = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))
        parser.parse(f"{word} took {i} ms")
    assert time.monotonic() - start < 5.0
    assert parser.limits.rare_shapes > 10_000
    assert max(len(parser._plans), len(parser._scans), len(parser._fast)) <= 4096
    seen = [parser.parse(f"step {i} | loss 2.5 | gnorm 1.0") for i in range(3)]
    assert seen[-1] is not None and seen[-1].metrics["loss"] == 2.5  # by its 2nd sighting


def test_follow_reads_a_fifo_as_a_stream(tmp_path: Path) -> None:
    with fifo(tmp_path / "fifo", b"step 1\nstep 2\n") as path:
        reader = FollowReader(str(path))
        data = b""
        deadline = time.monotonic() + SECONDS
        while (chunk := reader.read(0.1)) is not None:
            data += chunk
            assert time.monotonic() < deadline
        reader.close()
    assert data == b"step 1\nstep 2\n"


def test_follow_notices_a_file_rewritten_past_its_offset(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"step 1 | loss 2.0\n")
    events: list[str] = []
    reader = FollowReader(str(log), events.append)
    assert reader.read(0.0) == b"step 1 | loss 2.0\n"
    log.write_bytes(b"step 1 | loss nan\nstep 2 | loss 1.0\n")  # same inode, longer
    assert reader.read(0.0) == b"step 1 | loss nan\nstep 2 | loss 1.0\n"
    assert events and "rewritten" in events[0]
    reader.close()
