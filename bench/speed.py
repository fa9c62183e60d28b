"""Speed and memory of gradlog, each figure as a ratio to a baseline measured beside it.

    python bench/speed.py [--lines 1000000] [--rss-lines 4000000] [--runs 10] [--seed 0]
    python bench/speed.py --quick     # 100k lines, 400k RSS lines, 3 runs: a few minutes

The machine is shared and noisy, so absolute times alone mean little: every gradlog
figure is printed beside a trivial program doing the least possible work on the same
input, measured in the same minute, and as the ratio of the two. Times are CPU times
(user + sys of the child, from ``os.wait4``), not wall times. Per-1M-line figures are a
command's fixed cost (on a 10-line log) plus the rest of its cost scaled to 1M lines:
the plain measurement at the default size, and startup is not multiplied at --quick.
Baselines are the fastest of 5 runs, and ``diagnose`` on each style the fastest of 3
(noise only ever adds time: one run alone read 20-25% slow now and then).

1. ``diagnose --format json FILE > /dev/null``, CPU seconds per 1M lines, on five styles:
   step lines, HF Trainer dicts, a mix (step lines, HF dicts, Keras bars, warnings,
   timestamps, setup chatter: three runs interleaved), one run printed in mixed
   formats, and Lightning bars redrawn with ``\\r`` (there a "line" is
   one redraw, one progress state, as it would be in a piped log; a ``\\n`` ends each
   epoch). Beside it: ``awk '{print $3}' FILE`` and a bare Python loop over the file's
   lines in binary; gradlog's lines per CPU second. awk's records end at ``\\n`` only, so
   on the Lightning log it splits 1,000 long lines, not the 1M redraws: a third baseline,
   ``awk -v RS='\\r'``, splits the same redraws gradlog reads (shown; the target is
   judged against the first).
   Then ``diagnose`` on step lines whose curves make the rules work record by record
   unless they are carried in bulk: an LM's loss wandering across chance levels, a run
   that diverged and trained on, a run whose gradients vanished, 30% batch noise, a run
   that went NaN and printed on (beside awk; shown, with no target of their own).
2. Peak RSS (``ru_maxrss``) of ``diagnose`` on a long step-lines log, beside the loop's.
3. ``watch``: throughput from a file on stdin with stdout to /dev/null, beside a Python
   loop copying stdin to stdout; then the NaN alert latency: a producer writes healthy
   lines as fast as the pipe takes them for a while, then a NaN line; the time from that
   write to the alert on gradlog's stderr (CLOCK_MONOTONIC is shared by processes),
   beside a 3-line Python watcher that alerts on ``nan``. Since the pipe is full when the
   NaN line goes in, the latency includes reading the backlog ahead of it (64 KiB).
4. Startup: CPU time of ``--version`` and of ``diagnose`` on a 100-line log, beside
   ``python -c "import click"`` (medians of --runs runs, interleaved). gradlog's modules
   are compiled to bytecode first, as ``pip install`` does and as Python's first run
   does unless PYTHONDONTWRITEBYTECODE is set: click's bytecode was compiled when it was
   installed, and without gradlog's every run would time Python's compiler (80 ms).

Targets are printed beside the figures and marked met / not met; nothing is asserted.
A full run (1M lines of each style and curve three times, and 4M for memory) takes
about four minutes; use --quick for a run of about a minute. Logs are
generated once per run into a temporary folder, deterministically from --seed.
"""

from __future__ import annotations

import argparse
import compileall
import itertools
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADLOG = [sys.executable, "-m", "gradlog"]
PY_LOOP = "import sys\nwith open(sys.argv[1], 'rb') as f:\n    for _ in f:\n        pass\n"
PY_COPY = "import sys\nw = sys.stdout.buffer.write\nfor line in sys.stdin.buffer:\n    w(line)\n"
PY_WATCH = (
    "import sys\nw, e = sys.stdout.buffer.write, sys.stderr\nfor line in sys.stdin.buffer:\n"
    "    w(line)\n    if b'loss nan' in line:\n        e.write('ERROR nan at step\\n')\n"
    "        e.flush()\n"
)
HEALTHY_SECONDS = 1.0  # the producer writes healthy lines this long before the NaN line
AFTER_NAN = 1.0  # s the producer waits after the NaN line, so the alert cannot wait for EOF
LIGHTNING_BATCHES = 1000  # redraws per epoch: Lightning's bar redraws every batch
CHECK_UNITS = 3000  # lines per style in the check that gradlog understands the style
SMALL_UNITS = 10  # lines of the log that measures a command's fixed (startup) cost
BASE_RUNS = 5  # baselines are cheap: the fastest of this many runs
DIAGNOSE_RUNS = 3  # diagnose on each style's 1M lines: the fastest of this many runs


# ---------------------------------------------------------------------------------------
# Logs. Each style is an endless iterator of lines (Lightning: of redraws).


def _loss(i: int, rng: random.Random) -> float:
    return 0.4 + 2.0 * math.exp(-i / 20000) + rng.uniform(-0.02, 0.02)


def step_lines(rng: random.Random) -> Iterator[str]:
    for i in itertools.count(1):
        yield (
            f"step {i} | loss {_loss(i, rng):.4f} | grad_norm {0.8 + rng.random():.3f} "
            f"| lr 3.0e-04 | {170 + rng.random() * 4:.2f} ms\n"
        )


def hf_lines(rng: random.Random) -> Iterator[str]:
    for i in itertools.count(1):
        grad, lr = 0.8 + rng.random() * 2, 5e-05 * (1 - (i % 100_000) / 100_000)
        yield (
            f"{{'loss': {round(_loss(i, rng), 4)!r}, 'grad_norm': {grad!r}, "
            f"'learning_rate': {lr!r}, 'epoch': {round(i / 1200, 2)!r}}}\n"
        )


def keras_lines(rng: random.Random, batches: int = 469) -> Iterator[str]:
    """Keras 2 piped: ``Epoch k/K``, a bar per batch, the epoch's last bar with val_*."""
    for epoch in itertools.count(1):
        yield f"Epoch {epoch}/1000\n"
        for batch in range(1, batches + 1):
            done = batch * 30 // batches
            bar = "=" * 30 if batch == batches else "=" * done + ">" + "." * (29 - done)
            loss, acc = _loss(epoch * batches + batch, rng), 0.85 + rng.random() * 0.1
            head = f"{batch:3d}/{batches} [{bar}] - "
            if batch < batches:
                eta = (batches - batch) // 150
                yield f"{head}ETA: {eta}s - loss: {loss:.4f} - accuracy: {acc:.4f}\n"
            else:
                yield (
                    f"{head}4s 8ms/step - loss: {loss:.4f} - accuracy: {acc:.4f} - "
                    f"val_loss: {loss * 1.1:.4f} - val_accuracy: {acc - 0.01:.4f}\n"
                )


def _stamp(i: int) -> str:
    seconds = 36_000 + i * 37 // 100
    hours, rest = divmod(seconds, 3600)
    return f"2024-05-01 {hours % 24:02d}:{rest // 60:02d}:{rest % 60:02d},{i * 7 % 1000:03d}"


NOISE = (
    "{t} - __main__ - INFO - Saving model checkpoint to out/checkpoint-{i}\n",
    "{t} - __main__ - WARNING - Tokenizer has no pad token, using eos\n",
    "/usr/lib/python3.10/site-packages/torch/utils/data/dataloader.py:558: UserWarning: "
    "This DataLoader will create 8 worker processes in total.\n",
    "[{t}] [INFO] [real_accelerator.py:161:get_accelerator] Setting ds_accelerator to cuda\n",
    "  Num examples = 1,920\n",
    "  Total optimization steps = {i}\n",
    "GPU available: True (cuda), used: True\n",
    "I0318 09:41:22.517338 140235 train.py:705] Evaluating at step {i}\n",
    "wandb: Syncing run fresh-sky-{i}\n",
    "\n",
)


def noise_lines(rng: random.Random) -> Iterator[str]:
    for i in itertools.count(1):
        yield rng.choice(NOISE).format(t=_stamp(i), i=i)


def mixed_lines(rng: random.Random) -> Iterator[str]:
    """Runs of 1-40 lines of each kind; a third of the step runs behind a logging prefix.
    Each kind counts its own steps and follows its own loss curve, so the records make
    three runs interleaved: the rules see a loss that jumps between levels and steps that
    go back every few lines, the worst case for their screens (``one_run_lines`` is one
    run)."""
    kinds = [step_lines(rng), hf_lines(rng), keras_lines(rng), noise_lines(rng)]
    weights = [4, 2.5, 2.5, 1]
    for run in itertools.count():
        kind = rng.choices(range(4), weights)[0]
        prefixed = kind == 0 and rng.random() < 1 / 3
        for line in itertools.islice(kinds[kind], rng.randint(1, 40)):
            yield f"{_stamp(run)} - __main__ - INFO - {line}" if prefixed else line


def _lightning_number(value: float) -> str:
    """Lightning's tqdm postfix: 3 significant digits padded with zeros to 5 characters."""
    text = f"{value:.3g}"
    if "e" in text:
        return text
    return (text if "." in text else text + ".").ljust(5, "0")


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


def lightning_pieces(rng: random.Random) -> Iterator[str]:
    """One ``\\r``-led redraw per batch; the epoch's last one carries val_loss and ``\\n``."""
    blocks, total = " ▏▎▍▌▋▊▉", LIGHTNING_BATCHES
    for epoch in itertools.count():
        rate = 36.5 + rng.random()
        for n in range(1, total + 1):
            eighths = n * 80 // total
            bar = ("█" * (eighths // 8) + blocks[eighths % 8].strip()).ljust(10)
            loss = _lightning_number(_loss(epoch * total + n, rng))
            last = n == total
            tail = f", val_loss={_lightning_number(0.5 + rng.random() * 0.1)}]\n" if last else "]"
            yield (
                f"\rEpoch {epoch}: {n * 100 // total:3d}%|{bar}| {n}/{total} "
                f"[{_clock(n / rate)}<{_clock((total - n) / rate)}, {rate:.1f}it/s, "
                f"loss={loss}, v_num=0{tail}"
            )


def one_run_lines(rng: random.Random) -> Iterator[str]:
    """One run printed in mixed formats: runs of 1-40 step lines (a third behind a logging
    prefix), HF dicts and chatter, every record from one step counter and loss curve."""
    steps = itertools.count(1)

    def step_line(i: int) -> str:
        return (
            f"step {i} | loss {_loss(i, rng):.4f} | grad_norm {0.8 + rng.random():.3f} "
            f"| lr 3.0e-04 | {170 + rng.random() * 4:.2f} ms\n"
        )

    def hf_line(i: int) -> str:
        grad, lr = 0.8 + rng.random() * 2, 5e-05 * (1 - (i % 100_000) / 100_000)
        return (
            f"{{'loss': {round(_loss(i, rng), 4)!r}, 'grad_norm': {grad!r}, "
            f"'learning_rate': {lr!r}, 'epoch': {round(i / 1200, 2)!r}}}\n"
        )

    chatter = noise_lines(rng)
    for run in itertools.count():
        kind = rng.choices(range(3), (5, 3, 1.2))[0]
        prefixed = kind == 0 and rng.random() < 1 / 3
        for _ in range(rng.randint(1, 40)):
            line = next(chatter) if kind == 2 else (step_line, hf_line)[kind](next(steps))
            yield f"{_stamp(run)} - __main__ - INFO - {line}" if prefixed else line


def curve_lines(loss: Callable[[int, random.Random], tuple[float, float]]) -> Style:
    """Step lines whose loss and grad norm follow ``loss(i, rng)``: the curves below make
    the rules do more than screen (a loss wandering across chance levels, a climb that
    stays reported, a run of tiny gradients, heavy batch noise, a long NaN tail)."""

    def lines(rng: random.Random) -> Iterator[str]:
        for i in itertools.count(1):
            value, grad = loss(i, rng)
            yield (
                f"step {i} | loss {value:.4f} | grad_norm {grad:.4f} | lr 3.0e-04 "
                f"| {170 + rng.random() * 4:.2f} ms\n"
            )

    return lines


def _batch(rng: random.Random, spread: float) -> float:
    return math.exp(spread * rng.gauss(0, 1))


CURVES: dict[str, Callable[[random.Random], Iterator[str]]] = {
    # An LM's loss near 2.2, 3% batch noise: ln 8, ln 9 and ln 10 lie a few percent apart.
    "LM loss near 2.2": curve_lines(
        lambda i, r: ((2.2 + 8 * math.exp(-i / 3000)) * _batch(r, 0.03), _batch(r, 0.3))
    ),
    # Diverged a fifth of the way in (4x its best) and trained on.
    "diverged, trains on": curve_lines(
        lambda i, r: (
            (0.4 + 2 * math.exp(-i / 20000))
            * (1 + 3 * min(1.0, max(0, i - 200_000) / 100_000))
            * _batch(r, 0.05),
            _batch(r, 0.3),
        )
    ),
    # Vanished: the loss frozen at ln 2, grad norms near 1e-3 (30% noise).
    "vanishing at ln 2": curve_lines(
        lambda i, r: (0.6931 + r.choice((0.0, 1e-4)), 1e-3 * _batch(r, 0.3))
    ),
    # A small batch: 30% noise on every step's loss.
    "30% batch noise": curve_lines(
        lambda i, r: ((0.5 + 2 * math.exp(-i / 5000)) * _batch(r, 0.3), _batch(r, 0.3))
    ),
    # Went NaN a fifth of the way in, and printed NaN from then on.
    "NaN from a fifth on": curve_lines(
        lambda i, r: (
            (0.5 + 2 * math.exp(-i / 5000)) * _batch(r, 0.05) if i < 200_000 else math.nan,
            _batch(r, 0.3) if i < 200_000 else math.nan,
        )
    ),
}

Style = Callable[[random.Random], Iterator[str]]
STYLES: dict[str, Style] = {
    "step lines": step_lines,
    "HF dicts": hf_lines,
    "mixed": mixed_lines,
    "mixed, one run": one_run_lines,
    "Lightning \\r": lightning_pieces,
}


def write_log(path: Path, style: Style, units: int, seed: int) -> Path:
    """``units`` lines (Lightning: redraws) of ``style``, ending in a newline."""
    with path.open("w", encoding="utf-8", newline="") as out:
        lines = itertools.islice(style(random.Random(seed)), units)
        chunks = iter(lambda: "".join(itertools.islice(lines, 10_000)), "")
        last = ""
        for last in chunks:
            out.write(last)
        if not last.endswith("\n"):
            out.write("\n")
    return path


# ---------------------------------------------------------------------------------------
# Measuring child processes.


@dataclass(frozen=True)
class Usage:
    cpu: float  # user + sys seconds of the child
    wall: float
    rss_mb: float  # peak resident set (ru_maxrss), in MB
    status: int


def measure(argv: list[str], stdin: Path | None = None) -> Usage:
    """Run ``argv`` with stdout to /dev/null and return its own resource usage."""
    with open(stdin or os.devnull, "rb") as source:
        started = time.monotonic()
        child = subprocess.Popen(
            argv, stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return Usage(
        usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss * 1024 / 1e6, child.returncode
    )


def best_of(argv: list[str], runs: int = BASE_RUNS, stdin: Path | None = None) -> Usage:
    """The fastest of ``runs`` runs: noise on a shared machine only ever adds time."""
    return min((measure(argv, stdin) for _ in range(runs)), key=lambda usage: usage.cpu)


def per_million(
    argv: Callable[[Path], list[str]],
    log: Path,
    small: Path,
    runs: int = BASE_RUNS,
    piped: bool = False,
) -> Usage:
    """What ``argv`` costs on a 1M-line log: its fixed cost (on ``small``, a few lines of
    the same style) plus the rest of its cost on ``log`` scaled to 1M lines. This is the
    measured cost when ``log`` has 1M lines; at --quick sizes startup is not multiplied by
    10. ``piped``: the log goes to stdin, not to ``argv``."""
    fixed = best_of(argv(small), stdin=small if piped else None).cpu
    usage = best_of(argv(log), runs, log if piped else None)
    cpu = fixed + max(usage.cpu - fixed, 0.0) * 1_000_000 / count_lines(log)
    return Usage(cpu, usage.wall, usage.rss_mb, usage.status)


def count_lines(log: Path) -> int:
    """Lines, or Lightning redraws: ``\\r`` at a line's start is one more, not a new one."""
    with log.open("rb") as data:
        return sum(line.count(b"\r") or 1 for line in data)


def diagnose(path: Path) -> list[str]:
    return [*GRADLOG, "diagnose", "--format", "json", str(path)]


def check_failed(name: str, usage: Usage) -> None:
    if usage.status not in (0, 1):  # 1 means diagnoses were found: normal here
        sys.exit(f"gradlog failed on {name} with exit status {usage.status}")


# ---------------------------------------------------------------------------------------
# Table rows: figure, gradlog, baseline, ratio, target, status.

Row = tuple[str, str, str, str, str, str]


def verdict(met: bool, stretch: bool | None = None) -> str:
    if stretch:
        return "**met** (stretch met)"
    return "**met**" if met else "not met"


def ratio(value: float, base: float) -> str:
    if base <= 0:
        return "n/a"
    return f"{value / base:,.0f}x" if value >= 100 * base else f"{value / base:.1f}x"


def understood(folder: Path, seed: int) -> list[str]:
    """How gradlog reads the first lines of each style: a figure on a misread log is void."""
    notes = []
    for name, style in STYLES.items():
        path = write_log(folder / "check.log", style, CHECK_UNITS, seed)
        done = subprocess.run(diagnose(path), capture_output=True, cwd=ROOT, check=False)
        report = json.loads(done.stdout)["reports"][0]["input"]
        dialects = ", ".join(report["dialects"]) or "none"
        notes.append(f"{name}: {report['records']:,} records, dialect {dialects}")
    return notes


def cpu_rows(folder: Path, lines: int, seed: int, awk: str) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    sizes = []
    for name, style in STYLES.items():
        log = write_log(folder / "style.log", style, lines, seed)
        small = write_log(folder / "small.log", style, SMALL_UNITS, seed)
        sizes.append(f"{name} {log.stat().st_size / lines:.0f}")
        base_awk = per_million(lambda p: [awk, "{print $3}", str(p)], log, small)
        base_py = per_million(
            lambda p: [sys.executable, "-c", PY_LOOP, str(p)], log, small, BASE_RUNS
        )
        usage = per_million(diagnose, log, small, runs=DIAGNOSE_RUNS)
        check_failed(name, usage)
        cost, awk_cost = usage.cpu, base_awk.cpu
        rows.append(
            (
                f"diagnose CPU / 1M lines, {name}",
                f"{cost:.2f} s ({1e6 / cost:,.0f} lines/s)",
                f"awk {awk_cost:.2f} s",
                ratio(cost, awk_cost),
                "<= 10x awk (stretch 6x)",
                verdict(cost <= 10 * awk_cost, cost <= 6 * awk_cost),
            )
        )
        rows.append(("", "", f"Python loop {base_py.cpu:.2f} s", ratio(cost, base_py.cpu), "", ""))
        if style is lightning_pieces:
            # awk's own records end at \n only: 1,000 lines of 1,000 redraws each. Beside
            # the named baseline, awk splitting the same 1M redraws gradlog reads.
            redrawn = per_million(lambda p: [awk, "-v", "RS=\r", "{print $3}", str(p)], log, small)
            rows.append(
                ("", "", f"awk, RS=\\r {redrawn.cpu:.2f} s", ratio(cost, redrawn.cpu), "", "")
            )
    return rows, sizes


def curve_rows(folder: Path, lines: int, seed: int, awk: str) -> list[Row]:
    """``diagnose`` on step lines of each curve of ``CURVES``, beside awk: no target of
    its own, the figures show what the rules' sequential work costs."""
    rows: list[Row] = []
    for name, style in CURVES.items():
        log = write_log(folder / "curve.log", style, lines, seed)
        small = write_log(folder / "small.log", style, SMALL_UNITS, seed)
        base_awk = per_million(lambda p: [awk, "{print $3}", str(p)], log, small)
        usage = per_million(diagnose, log, small, runs=DIAGNOSE_RUNS)
        check_failed(name, usage)
        rows.append(
            (
                f"diagnose CPU / 1M step lines, {name}",
                f"{usage.cpu:.2f} s ({1e6 / usage.cpu:,.0f} lines/s)",
                f"awk {base_awk.cpu:.2f} s",
                ratio(usage.cpu, base_awk.cpu),
                "(shown)",
                "",
            )
        )
    return rows


def rss_row(folder: Path, lines: int, seed: int) -> Row:
    path = write_log(folder / "rss.log", step_lines, lines, seed)
    base = best_of([sys.executable, "-c", PY_LOOP, str(path)], runs=1)
    usage = measure(diagnose(path))
    check_failed("the RSS log", usage)
    return (
        f"diagnose peak RSS, {lines:,} step lines",
        f"{usage.rss_mb:.0f} MB",
        f"Python loop {base.rss_mb:.0f} MB",
        ratio(usage.rss_mb, base.rss_mb),
        "< 100 MB at 4M lines",
        verdict(usage.rss_mb < 100),
    )


def watch_throughput(folder: Path, lines: int, seed: int) -> tuple[Row, str]:
    log = write_log(folder / "style.log", step_lines, lines, seed)
    small = write_log(folder / "small.log", step_lines, SMALL_UNITS, seed)
    base = per_million(lambda _: [sys.executable, "-c", PY_COPY], log, small, piped=True)
    usage = per_million(lambda _: [*GRADLOG, "watch"], log, small, runs=1, piped=True)
    check_failed("watch", usage)
    rate = 1e6 / usage.cpu
    row: Row = (
        "watch throughput, step lines, stdout to /dev/null",
        f"{rate:,.0f} lines/CPU s",
        f"Python copy {1e6 / base.cpu:,.0f} lines/s",
        ratio(usage.cpu, base.cpu),
        ">= 200,000 lines/s",
        verdict(rate >= 200_000),
    )
    return row, f"watch took {usage.wall:.1f} s wall for {lines:,} lines (startup included)"


# ---------------------------------------------------------------------------------------
# NaN alert latency under load.


def produce(seed: int) -> None:
    """The producer child: healthy lines as fast as the pipe takes them, then a NaN line
    (its write time on stderr), a pause, a few more lines."""
    lines, out = step_lines(random.Random(seed)), sys.stdout.buffer
    step, end = 0, time.monotonic() + HEALTHY_SECONDS
    while time.monotonic() < end:
        out.write("".join(itertools.islice(lines, 200)).encode())
        out.flush()
        step += 200
    out.write(f"step {step + 1} | loss nan | grad_norm 1.234 | lr 3.0e-04 | 171.23 ms\n".encode())
    out.flush()
    os.write(2, f"{time.monotonic()!r}\n".encode())
    time.sleep(AFTER_NAN)
    out.write("".join(itertools.islice(lines, 5)).encode())
    out.flush()


def alert_latency(watcher_argv: list[str], seed: int) -> float:
    """Seconds from the NaN line's write to the first stderr line of ``watcher_argv`` that
    tells of it."""
    producer = subprocess.Popen(
        [sys.executable, __file__, "--produce", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    watcher = subprocess.Popen(
        watcher_argv,
        stdin=producer.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert producer.stdout and producer.stderr and watcher.stderr
    producer.stdout.close()
    alerts: list[float] = []
    stderr = watcher.stderr

    def read() -> None:
        for line in iter(stderr.readline, b""):
            if b"ERROR nan at step" in line:
                alerts.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    written = float(producer.stderr.read())
    producer.wait()
    watcher.wait(timeout=600)
    reader.join()
    if not alerts:
        sys.exit(f"no NaN alert from {' '.join(watcher_argv)}")
    return alerts[0] - written


def latency_rows(runs: int) -> tuple[list[Row], str]:
    gradlog: list[float] = []
    base: list[float] = []
    for seed in range(runs):
        gradlog.append(alert_latency([*GRADLOG, "watch"], seed))
        base.append(alert_latency([sys.executable, "-c", PY_WATCH], seed))
    rows: list[Row] = []
    for label, pick in (("median", statistics.median), ("worst", max)):
        ours, theirs = pick(gradlog) * 1000, pick(base) * 1000
        rows.append(
            (
                f"watch NaN alert latency, {label} of {runs}",
                f"{ours:.1f} ms",
                f"Python watcher {theirs:.1f} ms",
                ratio(ours, theirs),
                "< 50 ms",
                verdict(ours < 50),
            )
        )
    each = ", ".join(f"{value * 1000:.0f}" for value in gradlog)
    return rows, f"NaN alert latency of each run (ms): {each}"


# ---------------------------------------------------------------------------------------
# Startup.


def startup_rows(folder: Path, runs: int, seed: int) -> list[Row]:
    small = write_log(folder / "small.log", step_lines, 100, seed)
    commands = {
        "click": [sys.executable, "-c", "import click"],
        "version": [*GRADLOG, "--version"],
        "diagnose": [*GRADLOG, "diagnose", str(small)],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # interleaved, so a busy moment hits all three alike
        for name, argv in commands.items():
            usage = measure(argv)
            check_failed(name, usage)
            times[name].append(usage.cpu)
    click, version, small_run = (statistics.median(times[name]) for name in commands)
    return [
        (
            "startup CPU, `--version`",
            f"{version * 1000:.0f} ms",
            f"import click {click * 1000:.0f} ms",
            ratio(version, click),
            "< 2.5x import click",
            verdict(version < 2.5 * click),
        ),
        (
            "startup CPU, `diagnose` on 100 lines (terminal format)",
            f"{small_run * 1000:.0f} ms",
            f"import click {click * 1000:.0f} ms",
            ratio(small_run, click),
            "< 4x import click",
            verdict(small_run < 4 * click),
        ),
    ]


# ---------------------------------------------------------------------------------------


def table(rows: Iterable[Row]) -> str:
    head: Row = ("figure", "gradlog", "baseline", "ratio", "target", "status")
    lines = [head, ("---",) * 6, *rows]
    return "\n".join("| " + " | ".join(row) + " |" for row in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rss-lines", type=int, default=4_000_000)
    parser.add_argument("--runs", type=int, default=10, help="latency and startup repeats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100k lines, 400k RSS, 3 runs")
    parser.add_argument("--produce", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce is not None:
        produce(args.produce)
        return
    if args.quick:
        args.lines, args.rss_lines, args.runs = 100_000, 400_000, 3
    awk = shutil.which("awk") or sys.exit("awk not found")
    print(
        f"gradlog speed: Python {platform.python_version()}, {platform.system()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, awk = "
        f"{Path(awk).resolve().name}; {args.lines:,} lines per style, "
        f"{args.rss_lines:,} for RSS, {args.runs} runs, seed {args.seed}\n",
        flush=True,
    )
    started = time.monotonic()
    compileall.compile_dir(ROOT / "gradlog", quiet=1)  # as installed: see 4. above
    with tempfile.TemporaryDirectory(prefix="gradlog-speed-") as name:
        folder = Path(name)
        notes = understood(folder, args.seed)
        rows, sizes = cpu_rows(folder, args.lines, args.seed, awk)
        rows += curve_rows(folder, args.lines, args.seed, awk)
        rows.append(rss_row(folder, args.rss_lines, args.seed))
        watch, wall = watch_throughput(folder, args.lines, args.seed)
        latency, each = latency_rows(args.runs)
        rows += [watch, *latency, *startup_rows(folder, args.runs, args.seed)]
    print(table(rows))
    print(
        f"\nRatios are gradlog's cost over the baseline's (CPU time, or peak RSS): lower is "
        f"better. Baselines are the fastest of {BASE_RUNS} runs, diagnose on each style of "
        f"{DIAGNOSE_RUNS}.\n"
        f"Per-1M figures: fixed cost (on {SMALL_UNITS} lines) + the rest scaled to 1M lines.\n"
        f"Bytes per line: " + ", ".join(sizes) + f". Lightning: a line is one \\r redraw, "
        f"{LIGHTNING_BATCHES} redraws per \\n line.\n"
        f"gradlog reads the first {CHECK_UNITS:,} lines as: " + "; ".join(notes) + ".\n"
        f"{wall}.\n{each}.\n"
        f"Latency: {HEALTHY_SECONDS:.0f} s of healthy lines written as fast as the pipe "
        f"takes them, then the NaN line.\n"
        f"Finished in {time.monotonic() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
