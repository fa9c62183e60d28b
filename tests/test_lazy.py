"""numpy loaded on first use, and set up for reading in blocks in the command line only;
regexes compiled on first use.

Each numpy case runs in a fresh interpreter, since numpy loads once per process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import NamedTuple

import pytest

from gradlog import lazy


def glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (AttributeError, OSError, ValueError):
        return False


# Allocates eight arrays of 4 MiB and frees them, 20 times, as the blocks of a log do, and
# prints the page faults that cost and the freed bytes glibc's heap keeps (-1 where its
# mallinfo2 is missing); then what OPENBLAS_NUM_THREADS holds and the process's threads.
PROBE = """
import ctypes, os, resource, sys
from gradlog import lazy
if sys.argv[1] == "cli":
    lazy.for_command_line()
np = lazy.numpy
np.zeros(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    arrays = [np.ones(1 << 19) for _ in range(8)]
    del arrays
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
try:
    info = ctypes.CDLL(None).mallinfo2
    info.restype = Info
    kept = info().fordblks
except (AttributeError, OSError):
    kept = -1
threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else -1
print(faults, kept, os.environ.get("OPENBLAS_NUM_THREADS"), threads)
"""


class Probe(NamedTuple):
    faults: int
    kept: int
    setting: str
    threads: int


def probe(mode: str, **env: str) -> Probe:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    faults, kept, setting, threads = done.stdout.split()
    return Probe(int(faults), int(kept), setting, int(threads))


@pytest.fixture(autouse=True)
def no_user_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)


@pytest.mark.skipif(not glibc(), reason="the allocator set-up is for glibc")
def test_command_line_keeps_freed_memory_for_the_next_block() -> None:
    tuned, untuned = probe("cli"), probe("library")
    if tuned.kept < 0:
        pytest.skip("this glibc has no mallinfo2")
    # The 32 MiB freed last stay in the heap for reuse; by default they are given back.
    assert tuned.kept >= 16 << 20
    assert untuned.kept < 16 << 20
    # (So the next round touches no fresh pages: 8,192 a round by default, where huge
    # pages do not take them.)
    assert tuned.faults <= untuned.faults


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_command_line_starts_no_blas_threads_and_leaves_no_setting() -> None:
    found = probe("cli")
    assert found.setting == "None"  # removed once numpy loaded: a job it starts has its own
    assert found.threads == 1


def test_a_users_setting_is_kept() -> None:
    assert probe("cli", OPENBLAS_NUM_THREADS="2").setting == "2"


def test_small_logs_load_no_numpy(tmp_path: pytest.TempPathFactory) -> None:
    log = os.path.join(str(tmp_path), "train.log")
    with open(log, "w", encoding="utf-8") as out:
        out.writelines(f"step {i} loss {2.0 / i:.4f}\n" for i in range(1, 101))
    code = (
        "import sys, runpy; sys.argv = ['gradlog', 'diagnose', sys.argv[1]]\n"
        "try:\n    runpy.run_module('gradlog', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('numpy' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, log], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "False"


def test_a_deferred_regex_answers_as_the_compiled_one() -> None:
    source, text = r"(?P<name>[a-z]+)=(\d+)", "loss=3 lr=12 x"
    deferred, compiled = lazy.regex(source), re.compile(source)
    assert deferred.pattern == source  # (before compiling: other regexes are built from it)
    assert deferred.search(text)[0] == compiled.search(text)[0]  # type: ignore[index]
    assert deferred.findall(text) == compiled.findall(text)
    assert [m.span() for m in deferred.finditer(text)] == [(0, 6), (7, 12)]
    assert deferred.sub(r"\1", text) == "loss lr x"
    assert deferred.fullmatch(text) is None and deferred.match(text) is not None
    assert deferred.groupindex == {"name": 1} and deferred.groups == 2
    flagged = lazy.regex(rb"LOSS", re.IGNORECASE)
    assert flagged.search(b"loss: 1") is not None
    assert flagged.flags & re.IGNORECASE


# Imports what a `diagnose` to the terminal imports, noting every regex a gradlog module
# compiles while doing so.
IMPORTS = """
import re, sys
compiled = []
real = re.compile
def noting(source, flags=0):
    caller = sys._getframe(1).f_code.co_filename
    if "gradlog" in caller:
        compiled.append(caller)
    return real(source, flags)
re.compile = noting
import gradlog.cli.common, gradlog.engine, gradlog.formatters.terminal
print(len(compiled), sorted(set(compiled)))
"""


def test_importing_gradlog_compiles_no_regex() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0 "), done.stdout
