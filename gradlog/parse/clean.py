"""Text in, text out: undo terminal redraws and strip decoration; knows nothing of metrics."""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves, erase) and other two-byte escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# Pasted logs that lost their ESC byte keep bare SGR codes such as ``[1m`` or ``[0m``.
_BARE_SGR = re.compile(r"\[\d{1,3}(?:;\d{1,3})*m")
_QUOTE = re.compile(r"^(?:\s{0,3}>)+ ?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def apply_backspaces(text: str) -> str:
    """Apply ``\\b`` as a terminal does: each one removes the character before it."""
    if "\b" not in text:
        return text
    out: list[str] = []
    for ch in text:
        if ch == "\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


def last_redraw(text: str) -> str:
    """Keep the last state of a line redrawn with ``\\r`` (a progress bar).

    A terminal would overlay the states, leaving stray characters of a longer earlier
    state after a shorter later one; those strays are bar debris, never data, so the
    last non-empty state is kept whole instead.
    """
    if "\r" not in text:
        return text
    segments = [segment for segment in text.split("\r") if segment.strip()]
    return segments[-1] if segments else ""


def clean_line(text: str) -> str:
    """One physical line of a log -> the text a parser should read."""
    text = text.rstrip("\n").removesuffix("\r")
    text = _ANSI.sub("", text)
    text = apply_backspaces(text)
    text = last_redraw(text)
    text = _CONTROL.sub("", text.replace("\t", "  "))
    text = _BARE_SGR.sub("", text)
    return _QUOTE.sub("", text)
