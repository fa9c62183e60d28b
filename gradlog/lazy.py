"""What gradlog loads on its first use: numpy, and the regexes of its modules.

Importing numpy costs more CPU than reading a small log, so a log read in small pieces
(a short file, a live job printing a line at a time) is read without it; the block and
column code that needs it imports it the first time it runs.

In gradlog's own command-line process (``for_command_line``), loading numpy also sets
the process up for reading large inputs in blocks:

- OpenBLAS starts no worker threads. gradlog makes no BLAS call big enough to gain from
  them, and starting them costs about 60 ms of CPU. The setting is read when the library
  loads and removed from the environment right after, so a job that ``gradlog run``
  starts keeps its own threads.
- glibc keeps the memory freed between blocks for the next one. By default it gives
  every large array back to the system when freed, and the next block touches fresh
  pages: on a log of 1M lines, some 170,000 page faults, a sixth of the CPU time.
  Peak memory stays the same, since each block reuses what the last one freed.

A module's regexes are ``regex(...)`` objects, compiled when first used. Most of them
serve lines a given log never has (events, settings, one framework's dialect, CJK
names); compiling all ~100 up front cost every start ~12 ms of CPU, as much as reading
a short log.
"""

from __future__ import annotations

import importlib
import os
import re
from types import ModuleType
from typing import Any, AnyStr, cast

_THREADS = "OPENBLAS_NUM_THREADS"
# glibc's mallopt parameters, and what they are set to: freed memory is given back once
# the heap's free top exceeds 256 MiB; arrays up to 32 MiB (its largest) are heap memory.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT, _FROM_HEAP = 256 << 20, 32 << 20
_command_line = False


class _Deferred(ModuleType):
    """A stand-in for a module that imports it when one of its names is first read."""

    def __getattr__(self, attr: str) -> Any:
        module = _load(self.__name__)
        # From now on every name is found in this object's own namespace, with no call.
        self.__dict__.update({k: v for k, v in vars(module).items() if k != "__name__"})
        return getattr(module, attr)


def deferred(name: str) -> Any:
    """Module ``name``, imported when one of its names is first read."""
    return _Deferred(name)


# What code reads of a compiled regex; each is taken from it once, on the first read.
_PATTERN_NAMES = (
    *("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split"),
    *("scanner", "flags", "groups", "groupindex"),
)


class _DeferredPattern:
    """A stand-in for a compiled regex that compiles it when one of its names is first
    read. Its source, ``pattern``, is there from the start (other regexes are built
    from it)."""

    def __init__(self, source: str | bytes, flags: int) -> None:
        self.pattern, self._flags = source, flags

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # (copy, pickle and friends probing: not a method)
            raise AttributeError(attr)
        compiled = re.compile(self.pattern, self._flags)
        # From now on these are found in this object's own namespace, with no call.
        self.__dict__.update({name: getattr(compiled, name) for name in _PATTERN_NAMES})
        return getattr(compiled, attr)

    def __repr__(self) -> str:
        return f"regex({self.pattern!r})"


def regex(source: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """``re.compile(source, flags)``, compiled when first used."""
    return cast("re.Pattern[AnyStr]", _DeferredPattern(source, flags))


def for_command_line() -> None:
    """This process is gradlog's command line: numpy, when it loads, loads for reading
    large inputs in blocks (see the module's text). Not for a library user's process,
    whose threads and memory are its own."""
    global _command_line
    _command_line = True


def _load(name: str) -> ModuleType:
    """Import module ``name``; numpy, in the command line, as the module's text says."""
    if name != "numpy" or not _command_line:
        return importlib.import_module(name)
    ours = _THREADS not in os.environ  # a setting of the user's own stays as it is
    if ours:
        os.environ[_THREADS] = "1"
    try:
        module = importlib.import_module(name)
    finally:
        if ours:
            del os.environ[_THREADS]
    _keep_freed_memory()
    return module


def _keep_freed_memory() -> None:
    """Ask glibc's allocator to keep freed memory for reuse (nothing elsewhere)."""
    try:
        os.confstr("CS_GNU_LIBC_VERSION")  # raises where the C library is not glibc
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEPT)
        libc.mallopt(_M_MMAP_THRESHOLD, _FROM_HEAP)
    except (AttributeError, OSError, ValueError):
        pass


numpy: Any = deferred("numpy")
