"""gradlog: diagnose exploding, vanishing and unstable training from its log."""

from __future__ import annotations

from gradlog.engine import Engine, analyze
from gradlog.model import Confidence, Diagnosis, Evidence, Record, Severity
from gradlog.report import Report, ReportSet

__version__ = "0.1.0"

__all__ = [
    "Confidence",
    "Diagnosis",
    "Engine",
    "Evidence",
    "Record",
    "Report",
    "ReportSet",
    "Severity",
    "__version__",
    "analyze",
]
