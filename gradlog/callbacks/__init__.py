"""gradlog inside the training process: callbacks for HF Trainer, Keras 3 and Lightning,
and a helper for hand-written PyTorch loops.

Each lives in its own module, which imports its framework when it is imported (and
only then): ``gradlog.callbacks.hf``, ``gradlog.callbacks.keras``,
``gradlog.callbacks.lightning``, ``gradlog.callbacks.torch``. All of them share
``Guard``: the same engine and rules as ``gradlog diagnose``, an alert through the
framework's logger for every diagnosis that is new or worse, a stop on the ids given
in ``stop_on``, and the report at the end of training.
"""

from __future__ import annotations

from gradlog.callbacks.guard import Guard

__all__ = ["Guard"]
