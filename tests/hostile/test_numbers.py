"""Numbers as frameworks and platforms print them, and huge ones as messages show them.

Thousands separators are read whole or not at all (``1,000.5`` is never 1.0); MSVC's
``1.#QNAN``/``1.#IND``/``1.#INF``, torch's ``tensor(nan, device='cuda:0')``, numpy's
``np.float32(nan)`` and JAX's ``Array(nan, dtype=float32)`` are values, and the words
around them are not metrics. A factor of 1e308 prints as ``1.5e+308x``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gradlog.detectors.base import factor, fmt
from gradlog.parse.line import LineParser

NAN, INF = math.nan, math.inf


def read(line: str) -> dict[str, float]:
    fields = LineParser().parse(line)
    assert fields is not None, line
    assert fields.step == 3, line
    return fields.metrics


def same(found: dict[str, float], expected: dict[str, float]) -> bool:
    """Equal, NaN included (NaN == NaN here) and with the same sign of infinity."""
    if set(found) != set(expected):
        return False
    return all(
        (math.isnan(v) and math.isnan(expected[k])) or v == expected[k] for k, v in found.items()
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("step 3 loss: 1,000.5", {"loss": 1000.5}),
        ("step 3 loss: 12,345,678.25 acc: 0.5", {"loss": 12345678.25, "acc": 0.5}),
        ("step 3 loss: 1,000", {"loss": 1000.0}),
        ("step 3 loss 1_000", {"loss": 1000.0}),
        ("step=3 loss=1_000.5", {"loss": 1000.5}),
        ("step 3, loss: 12, acc: 3", {"loss": 12.0, "acc": 3.0}),  # a list, not a group
        ("step 3 loss: 1.#QNAN", {"loss": NAN}),
        ("step 3 loss: 1.#QNAN0", {"loss": NAN}),
        ("step 3 loss: -1.#IND", {"loss": NAN}),
        ("step 3 loss: -1.#IND00", {"loss": NAN}),
        ("step 3 loss: 1.#INF", {"loss": INF}),
        ("step 3 loss=-1.#INF00", {"loss": -INF}),
        ("step 3 loss: 1.#SNAN", {"loss": NAN}),
        ("step 3 loss: tensor(nan, device='cuda:0')", {"loss": NAN}),
        ("step 3 loss: tensor(2.5, device='cuda:0', grad_fn=<AddBackward0>)", {"loss": 2.5}),
        ("step 3 loss: tensor([0.52], device='cuda:1')", {"loss": 0.52}),
        ("step 3 loss: tensor(inf, device=device(type='cuda', index=0))", {"loss": INF}),
        ("step 3 loss: torch.tensor(nan)", {"loss": NAN}),
        ("step 3 loss=np.float32(nan)", {"loss": NAN}),
        ("step 3 loss=numpy.float64(-inf)", {"loss": -INF}),
        (
            "{'loss': np.float32(0.25), 'grad_norm': np.float32(nan), 'step': 3}",
            {"loss": 0.25, "grad_norm": NAN},
        ),
        ("step 3 loss: Array(nan, dtype=float32)", {"loss": NAN}),
        ("step 3 loss: tf.Tensor(0.5, shape=(), dtype=float32)", {"loss": 0.5}),
        ("step 3 loss: 1.5e+308", {"loss": 1.5e308}),
        ("step 3 loss: NaN", {"loss": NAN}),
        ("step 3 loss: -nan", {"loss": NAN}),
        ("step 3 loss: nan.0", {"loss": NAN}),
    ],
)
def test_a_spelling_is_read_as_its_value(line: str, expected: dict[str, float]) -> None:
    assert same(read(line), expected), read(line)


@pytest.mark.parametrize(
    "line",
    [
        "step 3 loss: 1,5",  # a decimal comma, or a list: never 1.0 glued to the loss
        "step 3 loss: 1,0000",  # not a group of three
        "step 3 loss: 1,000,00",
    ],
)
def test_a_broken_group_is_never_read_as_its_first_digits(line: str) -> None:
    assert read(line).get("loss") != 1.0


def test_a_thousands_group_is_read_whole_through_the_fast_path() -> None:
    parser = LineParser()
    values = [parser.parse(f"step {i} loss: {i},{i:03d}.5") for i in range(1, 40)]
    assert [v.metrics["loss"] if v else None for v in values] == [
        i * 1000 + i + 0.5 for i in range(1, 40)
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5e308, "1.5e+308x"),
        (2.5e5, "2.5e+05x"),
        (12.345, "12.3x"),
        (99999.4, "99999x"),
        (256.0, "256x"),
        (INF, "infx"),
    ],
)
def test_a_factor_prints_compactly(value: float, text: str) -> None:
    assert factor(value) == text


@pytest.mark.parametrize("value", [1.5e308, -1.7e308, 5e-324, 1e300, 123456789.0])
def test_a_huge_or_tiny_number_prints_compactly(value: float) -> None:
    assert len(fmt(value)) <= 10 and float(fmt(value)) == pytest.approx(value, rel=0.01)


def test_a_huge_jump_prints_as_a_short_factor(tmp_path: Path) -> None:
    log = tmp_path / "huge.log"
    lines = [f"step {i} loss {2.0 - 0.01 * i + 0.01 * math.sin(i):.4f}" for i in range(1, 60)]
    lines += ["step 60 loss 1.5e+308", *(f"step {i} loss 1.5" for i in range(61, 70))]
    log.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", "--format", "json", str(log)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    messages = [d["message"] for d in json.loads(done.stdout)["reports"][0]["diagnoses"]]
    assert messages and all(len(message) < 300 for message in messages), messages
