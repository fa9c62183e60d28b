"""Lines whose text ``clean`` changes within it, not only at its ends: colour codes
between the fields (rich, loguru, torchtitan's metrics line, Keras 3's bar), tabs
between them (mmcv's ``Epoch [1][50/1466]\\tlr: ..``), other control characters.
``clean.flat`` makes the line what ``clean`` reads, alike for every line of one layout,
so the text's place in it is learned and its lines are read by a compiled shape; both
give what reading line by line gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gradlog.columns import RecordRun
from gradlog.parse.reader import LogReader
from tests.test_layouts import assert_read_as_line_by_line
from tests.test_stretches import _fed

# Codes as terminals and libraries print them: SGR of 1-3 digits, 256 colours, true
# colour (its digits change the layout's width only when their count does), a
# hyperlink (OSC 8), and a bell.
_CODES = (
    "\x1b[{c}m",
    "\x1b[1;{c}m",
    "\x1b[38;5;{k}m",
    "\x1b[38;2;{k};{k};{k}m",
    "\x1b]8;;https://example.com/run/{k}\x07",
    "\x07",
    "\t",
    "",
)
_PREFIXES = ("", "2024-05-01 10:00:{t:02d},500 - mmdet - INFO - ", "[titan] ", "[rank0]:")


def _code(rng: random.Random) -> str:
    return rng.choice(_CODES).format(c=rng.choice((0, 1, 31, 32, 33, 36)), k=rng.randrange(256))


def _styled_log(rng: random.Random) -> list[str]:
    """Step lines with a code (or a tab) before and after each field, in runs of one
    layout; now and then a line whose codes have other digits (often the same layout),
    a bar, a backspace, a code that lost its ESC, a line of chatter."""
    lines: list[str] = []
    step = 0
    for _ in range(rng.randrange(4, 10)):
        prefix = rng.choice(_PREFIXES)
        fields = ["step {s}", "loss {v:.4f}", "grad_norm {g:.3f}", "lr 3.0e-04"]
        if rng.random() < 0.5:
            fields = ["Epoch [1][{s}/9999]", "lr: 2.000e-02", "loss: {v:.4f}", "grad_norm: {g:.3f}"]
        joiners = [rng.choice((" | ", "  ", ", ", "\t")) for _ in fields]
        codes = [(_code(rng), _code(rng)) for _ in fields]
        for _ in range(rng.randrange(20, 400)):
            step += 1
            if rng.random() < 0.05:  # the same fields in other colours
                codes[rng.randrange(len(codes))] = (_code(rng), _code(rng))
            text = "".join(
                f"{a}{field}{b}{joiner}"
                for field, (a, b), joiner in zip(fields, codes, joiners, strict=True)
            ).rstrip(" ,|\t")
            line = prefix.format(t=step % 60) + text.format(
                s=step, v=rng.random() * 3, g=rng.random()
            )
            odd = rng.random()
            if odd < 0.01:
                line = " 50%|\x1b[32m█████\x1b[0m     | " + line
            elif odd < 0.02:
                line += "\b\b\b9.9"
            elif odd < 0.03:
                line = line.replace("\x1b", "")
            elif odd < 0.04:
                line = f"\x1b[33mWARNING\x1b[0m\tdataloader {step} slow"
            lines.append(line + ("\r" if rng.random() < 0.1 else ""))
    return lines


@pytest.mark.parametrize("seed", range(8))
def test_styled_lines_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "styled.log", _styled_log(random.Random(seed)), (7, 97, 4096)
    )


def test_styled_lines_are_read_by_a_compiled_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """Colour codes within the text and a tab between fields: once learned, no line
    goes through ``feed``, and runs of them are read in columns."""
    lines = [
        f"\x1b[1m\x1b[32mstep {s}\x1b[0m | \x1b[33mloss {1 / s:.4f}\x1b[0m\tlr 3.0e-04"
        for s in range(1000, 5000)
    ]
    reader = LogReader()
    reader.read_lines(1, lines[:1000])
    fed = _fed(monkeypatch)
    parts = reader.read_lines(1001, lines[1000:])
    assert fed[0] == 0
    assert sum(len(part) for part in parts if isinstance(part, RecordRun)) > 2900
