"""How fast `gradlog watch` alerts, whether its passthrough is exact, and whether its memory
stays flat on a long stream. Prints figures; it sets no thresholds.

    python bench/live_latency.py [--runs 10] [--lines 1000000]

1. Latency: a child process writes a healthy log slowly (a line every 20-50 ms, some in
   small pieces) and then a NaN line into a pipe to ``python -m gradlog watch``; the time
   from the NaN line's last byte to the alert's arrival on gradlog's stderr is measured
   (CLOCK_MONOTONIC is shared by all processes). gradlog's stdout is compared byte for
   byte with what the child wrote.
2. Memory: a long log, generated as fast as gradlog reads it, goes through
   ``gradlog watch --quiet``; VmRSS and VmHWM of gradlog are read from /proc along the way,
   and at the end a 4 MiB line with no newline checks the cap on partial lines.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
GRADLOG = [sys.executable, "-m", "gradlog", "watch"]
AFTER_NAN = 0.6  # s the producer sleeps after the NaN line, so the alert cannot wait for EOF

Piece = tuple[bytes, float, bool]  # bytes, seconds to sleep after them, ends the NaN line


def plan(seed: int) -> list[Piece]:
    """The producer's writes for one run: healthy steps, the NaN line, a few more lines."""
    rng = random.Random(seed)
    pieces: list[Piece] = []
    healthy = rng.randint(20, 40)
    for step in range(1, healthy + 4):
        nan = step == healthy + 1
        loss = "nan" if nan else f"{2.3 * 0.99**step + rng.uniform(-0.02, 0.02):.4f}"
        line = f"step {step} | loss {loss} | grad_norm {rng.uniform(0.5, 1.5):.3f}\n".encode()
        if step == healthy + 3 and seed % 2:
            line = line.rstrip(b"\n")  # odd runs end without a final newline
        pieces += split(line, rng, nan or rng.random() < 0.3)
        pieces[-1] = (pieces[-1][0], AFTER_NAN if nan else rng.uniform(0.02, 0.05), nan)
    return pieces


def split(line: bytes, rng: random.Random, in_pieces: bool) -> list[Piece]:
    if not in_pieces:
        return [(line, 0.0, False)]
    cuts = sorted(rng.sample(range(1, len(line) - 1), 2))
    parts = [line[: cuts[0]], line[cuts[0] : cuts[1]], line[cuts[1] :]]
    return [(part, rng.uniform(0.002, 0.01), False) for part in parts]


def produce(seed: int) -> None:
    """The child: write the plan to stdout; tell stderr when the NaN line was complete."""
    for data, pause, ends_nan in plan(seed):
        os.write(1, data)
        if ends_nan:
            os.write(2, f"{time.monotonic()!r}\n".encode())
        time.sleep(pause)


def collect(stream: IO[bytes], into: list[tuple[float, bytes]]) -> threading.Thread:
    """Read ``stream`` line by line in a thread, stamping each line on arrival."""

    def read() -> None:
        for line in iter(stream.readline, b""):
            into.append((time.monotonic(), line))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def latency_run(seed: int) -> tuple[float, bool]:
    """One run: (seconds from the NaN line to its alert, passthrough identical)."""
    producer = subprocess.Popen(
        [sys.executable, __file__, "--produce", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    watcher = subprocess.Popen(
        GRADLOG, stdin=producer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    assert producer.stdout and producer.stderr and watcher.stdout and watcher.stderr
    producer.stdout.close()
    out: list[tuple[float, bytes]] = []
    err: list[tuple[float, bytes]] = []
    threads = [collect(watcher.stdout, out), collect(watcher.stderr, err)]
    written = float(producer.stderr.read())
    producer.wait()
    watcher.wait(timeout=60)
    for thread in threads:
        thread.join()
    alerted = next(t for t, line in err if b"ERROR nan at step" in line)
    expected = b"".join(data for data, _, _ in plan(seed))
    return alerted - written, b"".join(line for _, line in out) == expected


def latency(runs: int) -> None:
    print(f"1. Alert latency, NaN line written -> alert on stderr ({runs} runs)")
    figures, identical = [], 0
    for seed in range(runs):
        seconds, same = latency_run(seed)
        figures.append(seconds)
        identical += same
        status = "passthrough identical" if same else "passthrough DIFFERS"
        print(f"   run {seed + 1:2d}: {seconds * 1000:6.1f} ms   {status}")
    median, worst = statistics.median(figures) * 1000, max(figures) * 1000
    print(f"   median {median:.1f} ms, worst {worst:.1f} ms")
    verdict = "PASS" if identical == runs else "FAIL"
    print(f"   passthrough byte-identical in {identical}/{runs} runs: {verdict}")


def memory_status(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MiB, or NaN where /proc cannot tell."""
    values = {"VmRSS": float("nan"), "VmHWM": float("nan")}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for row in status:
                key, _, rest = row.partition(":")
                if key in values:
                    values[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def sampler(process: subprocess.Popen[bytes]) -> list[tuple[float, float]]:
    """Sample ``process``'s memory every 20 ms until it exits; the list ends with the last."""
    samples = [memory_status(process.pid)]

    def sample() -> None:
        while process.poll() is None:
            figures = memory_status(process.pid)
            if figures[1] == figures[1]:  # not NaN: the process still had a /proc entry
                samples.append(figures)
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    return samples


def log_block(rng: random.Random, start: int, count: int) -> bytes:
    """``count`` lines of a long run: mostly healthy, a NaN episode every 250k steps."""
    rows = []
    for step in range(start, start + count):
        loss = "nan" if step % 250_000 == 0 else f"{1.5 + rng.random() * 0.1:.4f}"
        rows.append(f"step {step} | loss {loss} | grad_norm {rng.random() + 0.5:.3f} | lr 3e-4\n")
    return "".join(rows).encode()


def memory(lines: int) -> None:
    print(f"\n2. Memory, {lines:,} lines through `gradlog watch --quiet`")
    watcher = subprocess.Popen(
        [*GRADLOG, "--quiet"], stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    assert watcher.stdin and watcher.stderr
    alerts: list[tuple[float, bytes]] = []
    reader = collect(watcher.stderr, alerts)
    rng, block, written = random.Random(0), 10_000, 0
    marks = {m for m in (100_000, 250_000, 500_000, 1_000_000, 2_000_000) if m <= lines}
    started = time.monotonic()
    print(f"   {'lines':>12}  {'VmRSS':>9}  {'VmHWM':>9}")
    while written < lines:
        count = min(block, lines - written)
        watcher.stdin.write(log_block(rng, written + 1, count))
        watcher.stdin.flush()
        written += count
        if written in marks or written == lines:
            rss, hwm = memory_status(watcher.pid)
            print(f"   {written:>12,}  {rss:>5.1f} MiB  {hwm:>5.1f} MiB", flush=True)
    elapsed = time.monotonic() - started
    for _ in range(4):  # 4 MiB with no newline: cut at 1 MiB, never held whole
        watcher.stdin.write(b"data " * (1 << 18))
    watcher.stdin.flush()
    last = sampler(watcher)
    watcher.stdin.close()
    watcher.wait()
    reader.join()
    rss, hwm = last[-1]
    print(f"   {'end':>12}  {rss:>5.1f} MiB  {hwm:>5.1f} MiB  (last sample, after a 4 MiB line)")
    print(
        f"   throughput {written / elapsed:,.0f} lines/s; exit status {watcher.returncode}; "
        f"{sum(b'ERROR nan at step' in line for _, line in alerts)} NaN alerts"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--produce", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce is not None:
        produce(args.produce)
        return
    print(
        f"gradlog live benchmark: Python {platform.python_version()}, {platform.system()}, "
        f"{os.cpu_count()} CPUs\n"
    )
    latency(args.runs)
    memory(args.lines)


if __name__ == "__main__":
    main()
