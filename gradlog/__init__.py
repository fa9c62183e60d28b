"""gradlog: diagnose exploding, vanishing and unstable training from its log."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The library's names are imported on first use, so `gradlog --version` stays quick.
_LAZY = {
    "Monitor": "gradlog.api",
    "diagnose": "gradlog.api",
    "scan": "gradlog.fleet",
    "Config": "gradlog.config",
    "Engine": "gradlog.engine",
    "analyze": "gradlog.engine",
    "Confidence": "gradlog.model",
    "Diagnosis": "gradlog.model",
    "Evidence": "gradlog.model",
    "Record": "gradlog.model",
    "Severity": "gradlog.model",
    "Report": "gradlog.report",
    "ReportSet": "gradlog.report",
}

if TYPE_CHECKING:
    from gradlog.api import Monitor, diagnose
    from gradlog.config import Config
    from gradlog.engine import Engine, analyze
    from gradlog.fleet import scan
    from gradlog.model import Confidence, Diagnosis, Evidence, Record, Severity
    from gradlog.report import Report, ReportSet


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gradlog' has no attribute {name!r}")


__all__ = [
    "Confidence",
    "Config",
    "Diagnosis",
    "Engine",
    "Evidence",
    "Monitor",
    "Record",
    "Report",
    "ReportSet",
    "Severity",
    "__version__",
    "analyze",
    "diagnose",
    "scan",
]
