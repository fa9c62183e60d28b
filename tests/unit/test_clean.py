"""Cleaning: text in, text out."""

from __future__ import annotations

import pytest

from gradlog.parse.clean import clean_line

CASES = [
    ("plain line", "plain line"),
    ("windows ending\r\n", "windows ending"),
    (" 10/100 [=>...] loss: 0.9\r 20/100 [==>..] loss: 0.5", " 20/100 [==>..] loss: 0.5"),
    ("bar\r", "bar"),
    ("\x1b[1m469/469\x1b[0m \x1b[32mloss\x1b[0m: 0.5", "469/469 loss: 0.5"),
    ("\x1b[38;2;180;60;0mgrad_norm:\x1b[39m 3.8", "grad_norm: 3.8"),
    ("[1m469/469[0m loss", "469/469 loss"),
    ("> > Epoch 3/4", "Epoch 3/4"),
    ("12345\b\b\b\b\bloss: 1.0", "loss: 1.0"),
    ("a\tb", "a  b"),
]


@pytest.mark.parametrize(("raw", "clean"), CASES)
def test_clean_line(raw: str, clean: str) -> None:
    assert clean_line(raw) == clean
