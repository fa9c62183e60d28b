"""Live output: a diagnosis the moment it appears, and the notices of ``gradlog run``.

Each renderer returns a string ending in a newline, for stderr; the terminal forms are
one logical line per fact (no wrapping, so they survive ``grep``) and build every piece
of log text as rich ``Text``, never as markup, with its hidden characters shown as
escapes; no line of them can be read as a CI workflow command (see ``gradlog.escape``).
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.text import Text

from gradlog.escape import inert, visible
from gradlog.formatters.json import diagnosis_object
from gradlog.formatters.terminal import STYLES, where
from gradlog.model import Diagnosis, Severity, Step

_STEPS = {
    "interrupt": "Ctrl-C: sent {signal} to the job (pid {pid}); press Ctrl-C again to hurry it",
    "grace": "the job (pid {pid}) is still running; sent {signal}",
    "again": "sent {signal} to the job (pid {pid})",
    "forward": "forwarded {signal} to the job (pid {pid})",
}


def to_string(text: Text, *, color: bool = False) -> str:
    """Render ``text`` as one logical line per line of it, coloured only when asked."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
        soft_wrap=True,
    )
    console.print(text)
    return inert(buffer.getvalue())


def alert_text(diagnosis: Diagnosis, previous: Severity | None = None) -> Text:
    """``gradlog: ERROR nan at step 6 (line 7): <message>`` and the first remedy."""
    severity = str(diagnosis.severity).upper()
    text = Text("gradlog: ", style="bold")
    text.append(severity, style=STYLES[diagnosis.severity])
    text.append(" ")
    text.append(visible(diagnosis.id), style="bold")
    text.append(f" at {where(diagnosis.first_step, diagnosis.line)}")
    if previous is not None:
        text.append(f" (worse: was {previous})", style=STYLES[diagnosis.severity])
    text.append(": ")
    text.append(visible(diagnosis.message))
    if diagnosis.remedies:
        text.append("\n  first remedy: ", style="bold")
        text.append(visible(diagnosis.remedies[0]))
    return text


def render_one(
    diagnosis: Diagnosis, previous: Severity | None = None, *, color: bool = False
) -> str:
    """One alert for a terminal or a log."""
    return to_string(alert_text(diagnosis, previous), color=color)


def rollback_step(diagnosis: Diagnosis) -> Step | None:
    """The last step before the trouble that the evidence shows, if it shows one."""
    if diagnosis.first_step is None:
        return None
    first = diagnosis.first_step
    return max((e.step for e in diagnosis.evidence if e.step < first), default=None)


def seconds(value: float) -> str:
    """``30s``, ``0.5s``."""
    return f"{value:g}s"


def stop_text(diagnosis: Diagnosis, pid: int, grace: float, kill_after: float) -> Text:
    """Why gradlog is stopping the job, how, and what to do next."""
    text = Text(f"gradlog: stopping the job (pid {pid}) because of ", style="bold")
    text.append(visible(diagnosis.id), style=f"bold {STYLES[diagnosis.severity]}")
    text.append(f" at {where(diagnosis.first_step, diagnosis.line)}", style="bold")
    text.append("\n  why: ")
    text.append(visible(diagnosis.message))
    text.append(
        f"\n  sent SIGINT so it can save a checkpoint; SIGTERM follows after {seconds(grace)} "
        f"if it is still running, SIGKILL {seconds(kill_after)} after that"
    )
    healthy = rollback_step(diagnosis)
    if healthy is not None:
        text.append(f"\n  roll back to: step {healthy} or earlier (the last healthy step seen)")
    elif diagnosis.first_step is not None:
        text.append(f"\n  roll back to: a checkpoint from before step {diagnosis.first_step}")
    if diagnosis.remedies:
        text.append("\n  first remedy: ", style="bold")
        text.append(visible(diagnosis.remedies[0]))
    return text


def stop_object(diagnosis: Diagnosis, name: str, pid: int, grace: float) -> dict[str, Any]:
    """The stop notice as JSON: the diagnosis that caused it and what was done."""
    return {
        "event": "stop",
        "input": name,
        "pid": pid,
        "signal": "SIGINT",
        "grace_seconds": grace,
        "rollback_step": rollback_step(diagnosis),
        "diagnosis": diagnosis_object(diagnosis),
    }


def signal_note(signal: str, why: str, pid: int) -> str:
    """One sentence on a signal sent to the job (``why`` as ``process.Notify`` says)."""
    return _STEPS[why].format(signal=signal, pid=pid)


def exit_note(status: int, stopped_for: Diagnosis | None, final: int) -> str:
    """The last line of ``gradlog run``: how the job ended and gradlog's exit status."""
    note = f"the job exited with status {status}"
    if stopped_for is not None:
        note += (
            f" after gradlog stopped it because of {visible(stopped_for.id)} at "
            f"{where(stopped_for.first_step, None)}"
        )
    return note + f"; gradlog exits with status {final}"


def note_text(note: str) -> Text:
    return Text(f"gradlog: {visible(note)}", style="bold")
