"""Line shapes -> canonical fields: one case per shape or quirk."""

from __future__ import annotations

import math
import random

import pytest

from gradlog.parse.compiled import to_float
from gradlog.parse.grammar import DIGITS, mask_digits
from gradlog.parse.line import LineParser
from gradlog.parse.names import NameTable, normalise, parse_mapping

NAN = math.nan

CASES = [
    ("Epoch 7/50", {}, None, 7),
    ("Train Loss: 0.5123, Train Acc: 0.7900", {"loss": 0.5123, "acc": 0.79}, None, None),
    ("Val   Loss: nan,    Val Acc: 0.5000", {"val_loss": NAN, "val_acc": 0.5}, None, None),
    (
        "grad_norm= 812.54  param_norm=1508.21",
        {"grad_norm": 812.54, "param_norm": 1508.21},
        None,
        None,
    ),
    (
        "grad_norm=inf      param_norm=inf",
        {"grad_norm": math.inf, "param_norm": math.inf},
        None,
        None,
    ),
    (
        "step 120 | loss 2.3133 | grad_norm 0.812 | lr 3.0e-04",
        {"loss": 2.3133, "grad_norm": 0.812, "lr": 3e-4},
        120,
        None,
    ),
    ("[epoch 3] loss=0.69 acc=0.50", {"loss": 0.69, "acc": 0.5}, None, 3),
    ("iter 7, loss: -0.5, lr: 7.1E+00", {"loss": -0.5, "lr": 7.1}, 7, None),
    ("step 3 loss -nan", {"loss": NAN}, 3, None),
    ("step 4 loss NaN grad_norm -inf", {"loss": NAN, "grad_norm": -math.inf}, 4, None),
    ("step 5 loss Infinity", {"loss": math.inf}, 5, None),
    ("step 6 loss 1e-3", {"loss": 1e-3}, 6, None),
    ("global_step: 9, total_loss: 0.25", {"loss": 0.25}, 9, None),
    ("step 2 my_custom_metric 4.5", {"my_custom_metric": 4.5}, 2, None),
]


@pytest.mark.parametrize(("line", "metrics", "step", "epoch"), CASES)
def test_line_fields(
    line: str, metrics: dict[str, float], step: float | None, epoch: float | None
) -> None:
    fields = LineParser().parse(line)
    assert fields is not None
    assert fields.step == step
    assert fields.epoch == epoch
    assert fields.metrics.keys() == metrics.keys()
    for name, expected in metrics.items():
        got = fields.metrics[name]
        assert (math.isnan(got) and math.isnan(expected)) or got == expected, name


@pytest.mark.parametrize(
    "line",
    ["", "Starting training on 8 GPUs", "version 1.2.3 loaded", "saving checkpoint to out"],
)
def test_lines_without_pairs(line: str) -> None:
    assert LineParser().parse(line) is None


def test_same_shape_is_parsed_once_and_read_with_new_numbers() -> None:
    parser = LineParser()
    first = parser.parse("step 1 | loss 2.5")
    second = parser.parse("step 2 | loss nan")
    assert first is not None and second is not None
    assert first.metrics["loss"] == 2.5 and math.isnan(second.metrics["loss"])
    assert second.step == 2


def test_words_that_contain_nan_are_not_numbers() -> None:
    fields = LineParser().parse("nanoGPT step 3 loss 1.5")
    assert fields is not None and fields.metrics == {"loss": 1.5}


@pytest.mark.parametrize(
    ("token", "value"), [("nan.0", NAN), ("-infxx", -math.inf), ("4.2ms", 4.2), ("1E+2", 100.0)]
)
def test_to_float(token: str, value: float) -> None:
    got = to_float(token)
    assert (math.isnan(got) and math.isnan(value)) or got == value


@pytest.mark.parametrize(
    ("printed", "snake"),
    [
        ("Train Loss", "train_loss"),
        ("lm loss", "lm_loss"),
        ("'eval_loss'", "eval_loss"),
        ("gradNorm", "grad_norm"),
        ("elapsed time (ms)", "elapsed_time_ms"),
    ],
)
def test_normalise(printed: str, snake: str) -> None:
    assert normalise(printed) == snake


def test_user_mapping_overrides_and_extends() -> None:
    table = NameTable(parse_mapping(["loss=my_loss", "grad_norm=G"]))
    assert table.canonical("my_loss") == "loss"
    assert table.canonical("G") == "grad_norm"
    assert table.canonical("Train Loss") == "loss"


def test_bad_mapping_is_rejected() -> None:
    with pytest.raises(ValueError, match="CANONICAL=PRINTED_NAME"):
        parse_mapping(["loss"])


@pytest.mark.parametrize("seed", range(5))
def test_mask_digits_makes_every_ascii_digit_zero_and_nothing_else(seed: int) -> None:
    """ASCII text is masked through bytes; any text reads as ``str.translate`` does."""
    rng = random.Random(seed)
    alphabet = "0123456789 .eE+-:|=,{}'abc\t\u00b5\u0663\u2014\U0001f525\udcff"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        if rng.random() < 0.5:
            text = text.encode("ascii", "ignore").decode("ascii")
        assert mask_digits(text) == text.translate(DIGITS)
        assert all(c == "0" or not "1" <= c <= "9" for c in mask_digits(text))
