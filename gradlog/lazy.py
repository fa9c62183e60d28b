"""numpy, imported on its first use.

Importing numpy costs more CPU than reading a small log, so a log read in small pieces
(a short file, a live job printing a line at a time) is read without it; the block and
column code that needs it imports it the first time it runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Deferred(ModuleType):
    """A stand-in for a module that imports it when one of its names is first read."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        # From now on every name is found in this object's own namespace, with no call.
        self.__dict__.update({k: v for k, v in vars(module).items() if k != "__name__"})
        return getattr(module, attr)


def deferred(name: str) -> Any:
    """Module ``name``, imported when one of its names is first read."""
    return _Deferred(name)


numpy: Any = deferred("numpy")
