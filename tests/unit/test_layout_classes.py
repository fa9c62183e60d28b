"""Classes of layouts met in real logs, each by its rule: a name qualified in parentheses,
arrows and dashes between a name and its value, names in other languages and their word
order, tutorials' bare progress lines, data sets' errors printed without a colon, an
evaluation's perplexity, a section's ``[epoch][i/N]``, a global step beside the
epoch's batch counter, a GAN's loss and a scaler's ``new scale``, and how several members
of one family make its series."""

from __future__ import annotations

import math
import random

import pytest

from gradlog.columns import RecordRun
from gradlog.parse.events import event as find_event
from gradlog.parse.families import Families, family
from gradlog.parse.grammar import NUMBER_RE
from gradlog.parse.line import LineParser
from gradlog.parse.names import NameTable, normalise
from gradlog.parse.tables import Table
from tests.helpers import analyze_text
from tests.unit.test_general_reader import read, read_blocks, read_numbered


def _fields(line: str) -> tuple[dict[str, float], float | None, float | None]:
    fields = LineParser().parse(line)
    assert fields is not None, line
    return fields.metrics, fields.step, fields.epoch


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("Epoch 1/5: | 460/4580 [00:28<04:15, 16.15img/s, loss (batch)=0.378]", 460),
        ("step 7 train loss (batch)=0.378", 7),
        ("step 7 Loss (epoch): 0.378", 7),
    ],
)
def test_a_word_in_parentheses_qualifies_the_name_before_it(line: str, step: int) -> None:
    """Even an axis's word (``loss (batch)``: the loss of one batch) names no axis."""
    metrics, read_step, _ = _fields(line)
    assert metrics == {"loss": 0.378}
    assert read_step == step


def test_a_unit_in_parentheses_stays_part_of_an_unknown_name() -> None:
    assert _fields("time (ms): 12.5, loss: 0.3")[0] == {"time_ms": 12.5, "loss": 0.3}


@pytest.mark.parametrize("arrow", ["->", "-->", "=>", "\u2192"])
def test_an_arrow_joins_a_name_to_its_value(arrow: str) -> None:
    line = f"[train] Step 100 out of 900 | Loss {arrow} 4.25 | Grad_l2 {arrow} 1.5 |"
    metrics, step, _ = _fields(line)
    assert step == 100
    assert metrics["loss"] == 4.25 and metrics["grad_l2"] == 1.5


def test_a_dash_between_blanks_joins_a_name_to_the_value_after_it() -> None:
    metrics, _, _ = _fields("dice_loss - 0.985, iou_score - 0.1708")
    assert metrics == {"dice_loss": 0.985, "iou_score": 0.1708}
    # Keras's dashes separate pairs, a name after each: unchanged.
    keras = _fields("469/469 - 2s 4ms/step - accuracy: 0.8 - loss: 0.5")[0]
    assert keras == {"acc": 0.8, "loss": 0.5}
    # Nor is a number's unit after ``/`` a name (``712ms/epoch - 2ms/step``: no epoch 2).
    metrics, _, epoch = _fields("313/313 - 1s - loss: 0.07 - acc: 0.97 - 712ms/epoch - 2ms/step")
    assert (metrics, epoch) == ({"loss": 0.07, "acc": 0.97}, None)
    # DeepSpeed's ``/`` separates pairs: each is a name.
    assert _fields("epoch=0/micro_step=10/global_step=10, loss=0.5")[1] == 10


@pytest.mark.parametrize(
    ("printed", "name"),
    [
        ("\u043f\u043e\u0442\u0435\u0440\u044f", "loss"),  # Russian
        (
            "\u043f\u043e\u0442\u0435\u0440\u044f "
            "\u0432\u0430\u043b\u0438\u0434\u0430\u0446\u0438\u0438",
            "val_loss",
        ),
        (
            "\u043d\u043e\u0440\u043c\u0430 \u0433\u0440\u0430\u0434\u0438\u0435\u043d\u0442\u0430",
            "grad_norm",
        ),
        ("\u043c\u0430\u0441\u0448\u0442\u0430\u0431", "scale"),
        ("perte de validation", "validation_loss"),  # French: the head first
        ("perdita di validazione", "val_loss"),  # Italian
        ("pérdida de entrenamiento", "train_loss"),  # Spanish
        ("precisión de validación", "val_accuracy"),
        ("verlies", "loss"),  # Dutch
        ("\uae30\uc6b8\uae30 \ub178\ub984", "grad_norm"),  # Korean
        ("\u68af\u5ea6", "grad"),  # Chinese
    ],
)
def test_names_in_other_languages_in_english_order(printed: str, name: str) -> None:
    assert normalise(printed) == name


def test_a_russian_loop_with_a_loss_scale() -> None:
    line = (
        "[21:03:19] \u044d\u043f\u043e\u0445\u0430 1 | \u0448\u0430\u0433 10/6000 | "
        "\u043f\u043e\u0442\u0435\u0440\u044f 11.55 | lr 6.00e-06 | "
        "\u043c\u0430\u0441\u0448\u0442\u0430\u0431 6.554e+04"
    )
    metrics, step, epoch = _fields(line)
    assert (step, epoch) == (10, 1)
    assert metrics == {"loss": 11.55, "lr": 6e-06, "loss_scale": 65540.0}


@pytest.mark.parametrize(
    "line",
    [
        "0m 22s (- 27m 38s) (1000 1%) 4.8435",  # the translation tutorial: time left too
        "0m 9s (1000 5%) 4.8435",  # the name generator
        "1000 1% (0m 1s) 4.8435 Vu / Greek \u2717 (Vietnamese)",  # the classifier
        "1h 2m (1000 5%) 4.8435",
    ],
)
def test_a_tutorials_progress_line_is_its_step_and_loss(line: str) -> None:
    assert _fields(line) == ({"loss": 4.8435}, 1000, None)


def test_a_line_like_a_tutorials_without_its_clock_is_not_read_so() -> None:
    fields = LineParser().parse("1000 1% 4.8435")
    assert fields is None or "loss" not in fields.metrics


def test_trainings_error_printed_without_a_colon_is_a_name() -> None:
    assert _fields("Meta Train Error 1.6095")[0] == {"meta_train_error": 1.6095}
    assert _fields("Training Error 0.5")[0] == {"training_error": 0.5}
    assert LineParser().parse("HTTP Error 503") is None  # (no training's word)


def test_trainings_error_stands_in_for_the_loss() -> None:
    text = "\n".join(
        f"Iteration {i}\nMeta Train Error {1.6 + 0.01 * (i % 3):.4f}\nMeta Train Accuracy {0.2:.4f}"
        for i in range(1, 6)
    )
    records = read(text)
    assert [r.metrics.get("loss") for r in records] == [1.61, 1.62, 1.6, 1.61, 1.62]


def test_an_evaluations_perplexity_is_the_validation_loss_where_none_is_printed() -> None:
    text = "\n".join(
        [
            "Epoch 1 ; Iteration 50/400 ; Perplexity 1234.5",
            "Epoch 1 ; Iteration 100/400 ; Perplexity 800.5",
            "Validation perplexity: 624.21",
            "Epoch 2 ; Iteration 50/400 ; Perplexity 500.5",
            "Validation perplexity: 318.05",
        ]
    )
    val = [r.metrics["val_loss"] for r in read(text) if "val_loss" in r.metrics]
    assert val == pytest.approx([math.log(624.21), math.log(318.05)])


def test_a_printed_validation_loss_leaves_the_perplexity_as_it_is() -> None:
    text = "\n".join(
        [
            "step 1 loss 3.0",
            "step 2 loss 2.9 val_loss 3.1 val_ppl 22.2",
            "step 3 loss 2.8 val_loss 3.0 val_ppl 20.1",
        ]
    )
    val = [r.metrics["val_loss"] for r in read(text) if "val_loss" in r.metrics]
    assert val == [3.1, 3.0]


@pytest.mark.parametrize(
    ("line", "epoch", "step", "val"),
    [
        ("exp| train: [3][200/3696]|Tot: 0:02:21 |loss 12.05 |hm_loss 10.4", 3, 200, False),
        ("exp| val: [3][200/5000]|Tot: 0:00:08 |loss 2.94 |hm_loss 2.3", 3, None, True),
        ("0: TRAIN [0][10/1241]\tTime 0.284 (0.284)\tLoss/tok 10.73 (10.73)", 0, 10, False),
    ],
)
def test_a_sections_epoch_and_batch_in_brackets(
    line: str, epoch: int, step: int | None, val: bool
) -> None:
    metrics, read_step, read_epoch = _fields(line)
    assert read_epoch == epoch
    assert (read_step is None) == (step is None)
    assert ("val_loss" in metrics) == val
    assert not {"train", "val"} & metrics.keys()


def test_a_global_step_beside_the_epochs_batch_counter_is_the_step() -> None:
    lines, step = [], 0
    for epoch in range(3):
        for batch in range(1, 31):
            lines.append(f"Step: {step}. Epoch: {epoch}/80. Iteration: {batch}/30. Total loss: 1.5")
            step += 1
        lines.append(f"Val. Epoch: {epoch}/80. Total loss: 1.2")
    steps = [r.step for r in read("\n".join(lines)) if "loss" in r.metrics]
    assert steps == list(range(90))


def _gan(seed: int, count: int = 400) -> str:
    """A healthy DCGAN's see-saw: the generator's loss climbs from 0.4 as its
    discriminator learns, then both wander."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        g = min(0.4 + i * 0.01, 1.8) * rng.uniform(0.6, 1.6)
        d = 1.2 * rng.uniform(0.5, 1.4)
        lines.append(
            f"Epoch: [{i // 100:2d}/25] [{i % 100:4d}/ 100] d_loss: {d:.8f}, g_loss: {g:.8f}"
        )
    return "\n".join(lines)


def test_a_gans_loss_is_judged_for_nan_but_not_by_its_level() -> None:
    assert analyze_text(_gan(1)) == []
    broken = _gan(2) + "\nEpoch: [ 4/25] [   0/ 100] d_loss: nan, g_loss: nan"
    assert {d.id for d in analyze_text(broken)} == {"nan"}


def test_a_scalers_new_scale_is_the_loss_scale() -> None:
    assert _fields("0: Skipped batch, new scale: 4096.0")[0] == {"loss_scale": 4096.0}


def test_a_value_named_before_two_axes() -> None:
    """SASRec's ``loss in epoch 1 iteration 0: 1.39``: the epoch, then its iteration."""
    assert _fields("loss in epoch 1 iteration 0: 1.3898") == ({"loss": 1.3898}, 0, 1)
    assert _fields("loss in epoch 2: 0.5") == ({"loss": 0.5}, None, 2)


def test_a_loss_named_by_its_function_stands_in_when_no_loss_is_printed() -> None:
    """EDSR's ``[L1: 22.95]`` is its loss; U-2-Net's ``l1`` beside its loss is not."""
    edsr = read(
        "\n".join(f"[{i * 3200}/16000]\t[L1: {20 - i:.4f}]\t35.5+0.6s" for i in range(1, 5))
    )
    assert [r.metrics.get("loss") for r in edsr] == [19.0, 18.0, 17.0, 16.0]
    u2net = read(
        "\n".join(
            f"[epoch: 1/100, batch: {12 * i}/1000, ite: {i}] train loss: {6.8 - i / 10:.4f}\n"
            f"l0: 0.68, l1: {1.0 + i / 100:.2f}, l2: 0.97"
            for i in range(1, 5)
        )
    )
    assert [r.step for r in u2net] == [1, 2, 3, 4]  # (``ite`` is the step, not the batch)
    assert [r.metrics["loss"] for r in u2net] == [6.7, 6.6, 6.5, 6.4]


@pytest.mark.parametrize(
    ("line", "cut"),
    [
        ("EPOCH[1/1000] loss0.504-|Sample:8.76|", "loss 0.504-"),
        ("Train step_20: loss : 2582.68", "step 20:"),
        ("val_loss0.5 acc0.91", "val_loss 0.5 acc 0.91"),
    ],
)
def test_a_name_glued_to_its_number_is_cut_from_it(line: str, cut: str) -> None:
    from gradlog.parse.clean import clean

    assert cut in clean(line)[0].text


@pytest.mark.parametrize("line", ["saved model_epoch_3.pth", "global_step_20 = 5", "resnet50"])
def test_names_that_end_in_digits_stay_whole(line: str) -> None:
    from gradlog.parse.clean import clean

    assert clean(line)[0].text == line


def test_an_axiss_list_of_numbers_is_a_setting_not_the_axis() -> None:
    assert LineParser().parse("Steps: [400000, 450000]") is None  # milestones, no step
    assert _fields("lr=[1.9e-05], loss=0.3")[0] == {"lr": 1.9e-05, "loss": 0.3}
    # A metric's list is its readings (per-class losses): the first is read, as before.
    assert _fields("it 25 total 5.76 per-class [0.56, 1.63]")[0]["per_class"] == 0.56


@pytest.mark.parametrize(
    ("printed", "name"),
    [
        ("norma del gradiente", "grad_norm"),
        ("tasa de aprendizaje", "learning_rate"),
        ("taux d'apprentissage", "learning_rate"),
        ("Escala da perda", "loss_scale"),
        ("Iteración", "iteration"),
    ],
)
def test_romance_phrases_for_the_axes_rates_and_scales(printed: str, name: str) -> None:
    assert normalise(printed) == name


@pytest.mark.parametrize(
    ("line", "step", "epoch"),
    [
        ("Epoch: [0][50]\tTime 0.607 (0.613)\tLoss 7.9345 (7.9556)", 50, 0),  # SwAV
        ("[0/25][100/112810] Loss: 21.102129", 100, 0),  # crnn.pytorch
        ("1000/1000000 = 0.1%, SPS: 11.9, ELAP: 1:25 - loss: 37.0544", 1000, None),  # ELECTRA
    ],
)
def test_counters_printed_without_a_name(line: str, step: int, epoch: int | None) -> None:
    _, read_step, read_epoch = _fields(line)
    assert (read_step, read_epoch) == (step, epoch)


def test_a_step_word_before_a_fraction_is_no_step() -> None:
    """semseg's ``Batch 0.698 (0.693)`` is a batch's time; the batch is ``[10/371]``."""
    line = "Epoch: [1/200][10/371] Data 0.000 (0.012) Batch 0.698 (0.693) Loss 3.7157"
    metrics, step, epoch = _fields(line)
    assert (step, epoch, metrics) == (10, 1, {"data": 0.0, "loss": 3.7157})
    assert _fields("step: 100.0, loss: 0.5")[1] == 100  # (a whole value printed so)


def test_a_loss_received_non_finite_is_a_nan() -> None:
    text = "\n".join(
        [
            *(f"Epoch: [1][{i}/100]\tLoss {2 - i / 100:.4f} (avg)" for i in range(1, 40)),
            "WARNING: received a nan loss, setting loss value to 0",
            *(f"Epoch: [1][{i}/100]\tLoss 0.0000 (avg)" for i in range(40, 60)),
        ]
    )
    assert "nan" in {d.id for d in analyze_text(text)}


@pytest.mark.parametrize(
    ("printed", "name"),
    [
        ("\u0432\u0442\u0440\u0430\u0442\u0430", "loss"),  # Ukrainian
        (
            "\u043d\u043e\u0440\u043c\u0430 \u0433\u0440\u0430\u0434\u0456\u0454\u043d\u0442\u0430",
            "grad_norm",
        ),
        ("Kay\u0131p", "loss"),  # Turkish
        ("Ad\u0131m", "step"),
        ("Gradyan normu", "grad_norm"),
        ("kerugian latih", "train_loss"),  # Indonesian
        ("\u0627\u0644\u062e\u0633\u0627\u0631\u0629", "loss"),  # Arabic
        ("\u0645\u0639\u064a\u0627\u0631 \u0627\u0644\u062a\u062f\u0631\u062c", "grad_norm"),
        ("\u0632\u06cc\u0627\u0646 \u0622\u0645\u0648\u0632\u0634", "train_loss"),  # Persian
        ("m\u1ea5t m\u00e1t", "loss"),  # Vietnamese: two syllables
        ("Ki\u1ec3m \u0111\u1ecbnh - m\u1ea5t m\u00e1t", "val_loss"),
    ],
)
def test_names_in_more_languages(printed: str, name: str) -> None:
    assert normalise(printed) == name


def test_an_ellipsis_after_a_number_leaves_it_a_number() -> None:
    """Udacity's char-RNN: ``Step: 10... Loss: 3.5495... Val Loss: 3.5312``."""
    line = "Epoch: 1/20... Step: 10... Loss: 3.5495... Val Loss: 3.5312"
    assert _fields(line) == ({"loss": 3.5495, "val_loss": 3.5312}, 10, 1)
    assert _fields("version 1.2.3 loss 0.5")[0] == {"loss": 0.5}  # (a version stays none)


def test_markdowns_bold_or_code_around_a_value() -> None:
    assert _fields("- train loss: **0.4123**, acc: 0.5")[0] == {"loss": 0.4123, "acc": 0.5}
    assert _fields("loss: `0.41`")[0] == {"loss": 0.41}


def test_itr_is_the_step() -> None:
    """BigGAN's ``itr: 502``: each line is a step of its own, even after an epoch's header
    (``Beginning training at epoch 0...``) that would otherwise gather them."""
    lines = ["Beginning training at epoch 0..."] + [
        f"{i}/5004 ({i / 50:6.2f}%) itr: {i}, G_loss : +0.5{i % 7}, D_loss_real : +0.6{i % 5}"
        for i in range(1, 30)
    ]
    assert [r.step for r in read("\n".join(lines))] == list(range(1, 30))


def test_a_dicts_string_value_naming_an_evaluation_makes_its_values_the_evaluations() -> None:
    """fast.ai miniai's ``MetricsCB``: ``'train': 'eval'`` marks the evaluation's dict."""
    text = "\n".join(
        f"{{'accuracy': '0.{50 + e}', 'loss': '{1.2 - e / 20:.3f}', 'epoch': {e}, "
        f"'train': 'train'}}\n{{'accuracy': '0.{70 + e}', 'loss': '{0.6 + e / 50:.3f}', "
        f"'epoch': {e}, 'train': 'eval'}}"
        for e in range(4)
    )
    records = read(text)
    assert [r.metrics.get("loss") for r in records] == [1.2, 1.15, 1.1, 1.05]
    assert [r.metrics.get("val_loss") for r in records] == [0.6, 0.62, 0.64, 0.66]


def test_an_hf_evaluation_dict_keeps_its_accuracy() -> None:
    """The Trainer's ``eval_accuracy`` is validation's accuracy; the evaluation's other
    values keep their ``eval_`` names, and the training values stay with training."""
    text = "\n".join(
        f"{{'loss': {0.7 - e / 20:.3f}, 'grad_norm': 1.5, 'epoch': {e + 0.5}}}\n"
        f"{{'eval_loss': {0.65 - e / 25:.3f}, 'eval_accuracy': 0.{60 + e}, "
        f"'eval_f1': 0.{50 + e}, 'eval_runtime': 1.2, 'epoch': {e + 1.0}}}"
        for e in range(4)
    )
    records = read(text)
    names = ("val_acc", "eval_f1", "loss", "val_loss", "grad_norm")
    values = {name: [r.metrics[name] for r in records if name in r.metrics] for name in names}
    assert values == {
        "val_acc": [0.6, 0.61, 0.62, 0.63],
        "eval_f1": [0.5, 0.51, 0.52, 0.53],
        "loss": [0.7, 0.65, 0.6, 0.55],
        "val_loss": [0.65, 0.61, 0.57, 0.53],
        "grad_norm": [1.5] * 4,
    }


@pytest.mark.parametrize("value", ["2.2604", "[2.2604]"])
def test_a_verb_before_a_colon_joins_a_name_to_a_bracketed_value(value: str) -> None:
    """PaddlePaddle's tutorials print ``loss is: [2.2604]`` (a one-element array)."""
    metrics, step, epoch = _fields(f"epoch: 0, batch_id: 100, acc is: [0.5], loss is: {value}")
    assert metrics == {"acc": 0.5, "loss": 2.2604}
    assert (step, epoch) == (100, 0)


@pytest.mark.parametrize(
    ("printed", "name"),
    [("L.r.", "lr"), ("Ep.", "epoch"), ("Up.", "step"), ("Val. Loss", "val_loss")],
)
def test_an_abbreviations_periods_leave_its_letters(printed: str, name: str) -> None:
    assert NameTable().canonical(printed) == name


def test_periods_between_digits_or_words_stay() -> None:
    assert normalise("grad_2.0_norm") == "grad_2.0_norm"
    assert normalise("decode.loss_ce") == "decode.loss_ce"


def test_a_line_of_abbreviated_names_between_colons() -> None:
    """Marian: ``Ep. 1 : Up. 500 : ... : Cost 8.98 : ... : gNorm 2.21 : L.r. 9.37e-06``."""
    line = (
        "[2023-03-14 10:05:13] Ep. 1 : Up. 500 : Sen. 395,599 : Cost 8.98947548 : "
        "Time 132.45s : 80571.99 words/s : gNorm 2.2122 : L.r. 9.3750e-06"
    )
    metrics, step, epoch = _fields(line)
    assert (step, epoch) == (500, 1)
    assert metrics["grad_norm"] == 2.2122 and metrics["lr"] == 9.375e-06


@pytest.mark.parametrize(
    ("line", "scale"),
    [
        ("Seen NaN/Inf in gradient, skipping update, reducing cost-scaling factor to 16384", 16384),
        ("No NaN/Inf seen for 1000 updates. Increasing cost-scaling factor to 65536", 65536),
        ("Increasing cost-scaling factor to 65536", 65536),
        ("overflow: decreased loss_scale to 512.0", 512),
    ],
)
def test_a_scale_factor_set_is_the_loss_scale(line: str, scale: float) -> None:
    event = find_event(line)
    assert event is not None and event.metrics["loss_scale"] == scale
    assert (event.metrics.get("overflow") == 1.0) == ("skipping" in line)


def test_itrs_is_the_step() -> None:
    metrics, step, epoch = _fields("Epoch 1, Itrs 430/3000, Loss=2.611234")
    assert (metrics, step, epoch) == ({"loss": 2.611234}, 430, 1)


def test_an_error_rate_is_no_accuracy() -> None:
    """SlowFast's ``top1_err`` (percent wrong) beside a ``top1_acc``."""
    text = "\n".join(
        f'{{"loss": 5.99, "top1_err": 99.{i}, "top1_acc": 0.8{i}, "step": {i}}}' for i in (1, 2)
    )
    assert [r.metrics for r in read(text)] == [
        {"loss": 5.99, "top1_err": 99.1, "acc": 0.81},
        {"loss": 5.99, "top1_err": 99.2, "acc": 0.82},
    ]


def test_a_source_files_line_number_is_no_metric() -> None:
    """SlowFast logs through ``logging.py:  95: json_stats: {..}``."""
    line = '[03/12 10:11:19][INFO] logging.py:  95: json_stats: {"iter": "10/1870", "loss": 5.99}'
    metrics, step, _ = _fields(line)
    assert (metrics, step) == ({"loss": 5.99}, 10)


def test_a_programs_output_among_its_fenced_code_is_read() -> None:
    """knitr and reprex print R's output as ``#>`` lines inside the code's fence; a
    Python console shows its output between prompts. The code itself stays unread."""
    epochs = [
        f"#> Epoch {e}/3\n#> Train metrics: Loss: {1 - e / 10:.2f} - Acc: 0.8" for e in (1, 2, 3)
    ]
    text = "\n".join(
        ["``` r", "fitted <- model %>% fit(dl, epochs = 3, loss = 0.5)", *epochs, "```"]
    )
    assert [r.metrics.get("loss") for r in read(text)] == [0.9, 0.8, 0.7]
    _, records = read_blocks(text.split("\n"), 3)  # the bulk reader, a few lines at a time
    assert [r.metrics.get("loss") for r in records] == [0.9, 0.8, 0.7]
    # In Python's code ``##`` opens a comment, not output.
    assert read("\n".join(["```python", "## step 1 loss 0.5", "x = 1", "```"])) == []
    console = [">>> for step in range(3):", "...     train(step, loss=1.5)"]
    console += [f"step {s} loss {2 - s / 10:.1f}" for s in (1, 2)]
    assert [r.metrics["loss"] for r in read("\n".join(["```pycon", *console, "```"]))] == [1.9, 1.8]


def test_darknets_classifier_line_gives_the_epoch_after_the_batch() -> None:
    """pjreddie's classifier: batch, epoch: loss, its running average, rate, time."""
    form = "6061{i}, 6.05{i}: 3.{i}7, 4.761034 avg, 0.000149 rate, 1.97 seconds, 7758336 images"
    records = read_numbered(form)
    assert [(r.step, r.epoch, r.metrics["loss"]) for r in records] == [
        (60611, 6.051, 3.17),
        (60612, 6.052, 3.27),
        (60613, 6.053, 3.37),
    ]


def test_a_value_that_is_the_sum_of_the_others_is_their_total() -> None:
    """ParallelWaveGAN prints its generator's loss beside the two parts it adds up."""
    lines = []
    for step in range(1, 6):
        sc, mag = 0.35 - step / 100, 0.59 - step / 100
        lines += [
            f"(Steps: {step}00) train/spectral_convergence_loss = {sc:.4f}.",
            f"(Steps: {step}00) train/log_stft_magnitude_loss = {mag:.4f}.",
            f"(Steps: {step}00) train/generator_loss = {sc + mag:.4f}.",
        ]
    assert [r.metrics["loss"] for r in read("\n".join(lines))] == [0.92, 0.9, 0.88, 0.86, 0.84]


def test_a_setting_in_a_configuration_dump_is_no_loss() -> None:
    """Settings and thresholds are no loss's stand-in, total or part of one: the run's
    first loss is the first its training lines print, not a setting before them."""
    # PaddleOCR's YAML dump: 0.4 + 0.3 = 0.7, by chance (a name printed again splits
    # the dump into two records)
    dump = ["  size : 0.5", "  size : 960", "  shrink_ratio : 0.4", "  thresh_min : 0.3"]
    lines = ["Config:", *dump, "  thresh_max : 0.7", ""]
    lines += [f"epoch: [1/10], global_step: {s}0, loss: {7 - s / 10:.4f}" for s in range(1, 6)]
    losses = [r.metrics["loss"] for r in read("\n".join(lines)) if "loss" in r.metrics]
    assert losses == [6.9, 6.8, 6.7, 6.6, 6.5]
    # SlowFast's config: a threshold on a score is no score; a score still stands in,
    # and DBNet's loss on its threshold map is a loss.
    for metrics, loss in [
        ({"detection_score_thresh": 0.9, "num_splits": 1.0}, None),
        ({"score_threshold": 0.5}, None),
        ({"score": 0.9, "num_splits": 1.0}, 0.9),
    ]:
        Families().resolve(metrics)
        assert metrics.get("loss") == loss
    assert family("loss_threshold_maps") == "loss"


def test_a_discriminator_that_joins_later_makes_the_run_a_gans() -> None:
    """Its generator's loss rises when the discriminator starts: by design, no spike."""
    lines = [f"step {s} | generator_loss {0.9 + 0.001 * (s % 3):.4f}" for s in range(1, 101)]
    lines += [
        f"step {s} | generator_loss {2.9 + 0.001 * (s % 3):.4f} | discriminator_loss 0.25"
        for s in range(101, 201)
    ]
    assert analyze_text("\n".join(lines)) == []


def test_rs_optimizer_trace_reads_its_value_as_the_loss() -> None:
    """nnet's trace: ``iter  10 value ..``, the count overflowing into ``iter1000``."""
    lines = ["# weights:  1181", "initial  value 2418.457380 "]
    lines += [f"iter{i:4d} value {3000 / (1 + i / 100):.6f}" for i in range(980, 1030, 10)]
    records = read("\n".join(lines))
    assert [(r.step, r.metrics["loss"]) for r in records] == [
        (i, round(3000 / (1 + i / 100), 6)) for i in range(980, 1030, 10)
    ]


@pytest.mark.parametrize("line", ["     Hyperpara  iteration: 100", "config steps: 5000"])
def test_an_axis_named_as_a_setting_is_no_step(line: str) -> None:
    metrics, step, _ = _fields(line)
    assert step is None and len(metrics) == 1


def test_a_bars_count_after_a_description_naming_the_epoch_is_its_batch() -> None:
    """``pbar.set_description(f"epoch: {e}; mse: ..")``: each redraw is a batch."""
    states = [
        f"epoch: {e}; mse: {0.09 - n / 1000:.5f}; lr: 0.00030: {n * 100 // 4:3d}%|##  | "
        f"{n}/4 [00:0{n}<00:04,  1.74it/s]"
        for e in (1, 2)
        for n in (1, 2, 3, 4)
    ]
    records = read("\n".join(states))
    assert [(r.step, r.epoch) for r in records] == [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 2),
        (6, 2),
        (7, 2),
        (8, 2),
    ]
    assert records[5].metrics["loss"] == 0.088


def test_a_value_before_two_dots_is_a_number() -> None:
    """Udacity's course loops: ``Train loss: 4.419.. Validation loss: 3.596..``."""
    line = "Epoch 1/8.. Train loss: 4.419.. Validation loss: 3.596.. Validation accuracy: 0.030"
    metrics, _, epoch = _fields(line)
    assert metrics == {"loss": 4.419, "val_loss": 3.596, "val_acc": 0.03}
    assert epoch == 1


def test_a_running_bests_name_is_not_the_series() -> None:
    line = "90\tValidation loss: 0.065510\tBest loss: 0.061581\tAccuracy: 98.20%"
    metrics, step, _ = _fields(line)
    assert metrics["val_loss"] == 0.06551 and metrics["best_loss"] == 0.061581
    assert step == 90


def test_pandas_index_name_on_its_own_line_heads_the_first_column() -> None:
    """``df.set_index('epoch')`` printed: the index's name under the header, its values
    first in each row."""
    table = Table(NameTable())
    assert table.header("       Training Loss  Valid. Loss  Valid. Accur.")
    assert table.row("epoch                                          ") is None
    row = table.row("1                0.50         0.44           0.80")
    assert row is not None
    assert (row.epoch, row.metrics["loss"], row.metrics["val_loss"]) == (1, 0.5, 0.44)


def test_determineds_envelope_is_a_prefix_with_a_rank() -> None:
    from gradlog.parse.clean import clean

    line = "[2024-02-13T21:40:57.539712Z] 6b5a3bc1 [rank=1] || Test set: Average loss: 0.4623"
    assert [(s.text, s.rank) for s in clean(line)] == [("Test set: Average loss: 0.4623", 1)]


def test_a_summarys_count_and_range_are_no_reading() -> None:
    """Comet's closing summary: ``train_loss [12000]  : (0.0457, 244.46)``."""
    metrics, step, _ = _fields("COMET INFO:     train_loss [12000]      : (0.0457, 244.46)")
    assert step is None and "loss" not in metrics
    assert metrics == {"num_train_loss": 12000, "min_train_loss": 0.0457, "max_train_loss": 244.46}


def test_two_statistics_of_one_loss_are_not_added_up() -> None:
    """Conv-TasNet's ``Average Loss -0.670 | Current Loss -4.039``: the current one."""
    text = "\n".join(
        f"Epoch 1 | Iter {i} | Average Loss -0.{600 + i} | Current Loss -{i}.5 | 364.6 ms/batch"
        for i in (1, 2, 3)
    )
    assert [r.metrics["loss"] for r in read(text)] == [-1.5, -2.5, -3.5]


def test_a_desired_error_is_a_setting_not_the_loss() -> None:
    """FANN: ``Desired error: 0.0001`` is the goal; ``Current error`` stands in."""
    lines = ["Max epochs     3000. Desired error: 0.0001000000."]
    lines += [f"Epochs {e:12d}. Current error: 0.{300 - e}0. Bit fail {90 - e}." for e in (1, 2, 3)]
    assert [r.metrics.get("loss") for r in read("\n".join(lines)) if "loss" in r.metrics] == [
        0.299,
        0.298,
        0.297,
    ]


@pytest.mark.parametrize(
    ("line", "series", "value"),
    [
        # Top-1 and top-5 accuracy (GDAS), natural and adversarial accuracy (Madry): the
        # first printed stands for the run's accuracy; they had been added up (60, 17).
        ("step 1 loss=2.30, accuracy@1=9.97%, accuracy@5=50.12%", "acc", 9.97),
        ("step 1 loss 2.30 nat accuracy 10.16% adv accuracy 7.03%", "acc", 10.16),
        ("step 1 loss 2.30 lr_group0 0.01 lr_group1 0.001", "lr", 0.01),
        # The norms of two parts of the model make the norm of all its gradients.
        ("step 1 loss 2.30 actor_grad_norm 3.0 critic_grad_norm 4.0", "grad_norm", 5.0),
        # A loss's terms still add up to the loss the rules judge.
        ("step 1 loss_cls 0.25 loss_bbox 0.5", "loss", 0.75),
        # Numbered losses are terms too (MCD's two classifiers: ``Loss1: .. Loss2: ..``);
        # they had been no loss at all.
        ("Train Epoch: 0 [0/100 (0%)]\tLoss1: 2.0\t Loss2: 2.5\t  Discrepancy: 0.02", "loss", 4.5),
        ("step 1 loss_1 0.25 loss_2 0.5", "loss", 0.75),
    ],
)
def test_members_of_a_family_combine_as_the_family_does(
    line: str, series: str, value: float
) -> None:
    (record,) = read(line)
    assert record.metrics[series] == pytest.approx(value)


@pytest.mark.parametrize("name", ["k-means loss evolution", "loss history", "Loss curve"])
def test_a_history_of_losses_is_no_loss(name: str) -> None:
    # DeepCluster prints its clustering's losses (a million times the network's) before
    # each epoch: they had become the run's loss, a 'spike' every epoch.
    lines = []
    for epoch in range(3):
        lines.append(f"{name}: [1.2168858e+06 1.1140151e+06 1.0487195e+06]")
        lines += [f"Epoch: [{epoch}][{i}/500]\tLoss: {9 - epoch - i / 100:.4f}" for i in range(5)]
    losses = [r.metrics["loss"] for r in read("\n".join(lines)) if "loss" in r.metrics]
    assert len(losses) == 15 and max(losses) < 10


@pytest.mark.parametrize(
    ("line", "metrics", "step"),
    [
        ("Training loss (50 prc): 0.08744", {"loss": 0.08744}, None),
        ("step 10 Loss (avg over 100 steps): 0.5", {"loss": 0.5}, 10),
        ("Step 7 | acc (top 5)= 0.93 | loss 0.31", {"acc": 0.93, "loss": 0.31}, 7),
        # An evaluation's name, by its word: ``testing`` as ``test``.
        ("Testing loss  (50 prc): 0.171", {"testing_loss": 0.171}, None),
    ],
)
def test_a_qualifier_with_a_number_in_parentheses_leaves_the_name_its_value(
    line: str, metrics: dict[str, float], step: int | None
) -> None:
    # The number inside the parentheses had taken the name, or the line was not read.
    found, read_step, _ = _fields(line)
    assert {k: v for k, v in found.items() if k in metrics} == metrics
    assert read_step == step
    # A unit in parentheses without a number stays part of an unknown name.
    assert _fields("time (ms): 12.5, loss: 0.3")[0] == {"time_ms": 12.5, "loss": 0.3}


def test_a_testing_loss_is_the_evaluations() -> None:
    text = "\n".join(
        f"Epoch {e}\nTraining loss (50 prc): {0.2 - e / 100:.4f}\n"
        f"Testing loss  (50 prc): {0.25 - e / 200:.4f}"
        for e in range(5)
    )
    last = read(text)[-1]
    assert last.metrics["loss"] == pytest.approx(0.16)
    assert last.metrics["val_loss"] == pytest.approx(0.23)


@pytest.mark.parametrize(
    ("line", "metrics"),
    [
        (
            "Epoch [37/50] Validation Step [1/157]  acc1 0.81 (0.81)  loss 0.44 (0.44)",
            {"val_acc1": 0.81, "val_loss": 0.44},
        ),
        ("Epoch 3 Val Iter 5/100 loss 0.44", {"val_loss": 0.44}),
        ("Epoch: [3] Test batch [3/50] loss: 0.4", {"val_loss": 0.4}),
    ],
)
def test_a_section_word_before_its_counter_makes_the_line_the_sections(
    line: str, metrics: dict[str, float]
) -> None:
    # NNI's DARTS trainer: the validation's batches had been training losses (16 false
    # spikes) at steps counted into the training's. The counter is the evaluation's own.
    found, step, epoch = _fields(line)
    assert found == metrics
    assert step is None and epoch is not None
    # Training's own counter is still the step.
    train = _fields("Epoch [37/50] Train Step [1/157]  acc1 0.81 (0.81)  loss 0.44 (0.44)")
    assert train[0] == {"acc1": 0.81, "loss": 0.44} and train[1] is not None


def test_a_federated_rounds_are_its_steps() -> None:
    # A round of federated learning is a step of the global model: a banner of its own
    # (FedML, easyFL) opens the round's record, a line that prints it is at it.
    assert _fields("################Communication round : 42")[1] == 42
    assert _fields("--------------Round 8--------------")[1] == 8
    assert _fields("Round   5, Average loss 0.532") == ({"average_loss": 0.532}, 5, None)
    text = "\n".join(
        f"INFO --------------Round {r}--------------\n"
        f"INFO test_accuracy                 0.{28 + r}\n"
        f"INFO test_loss                     {2.35 - r / 10:.4f}"
        for r in range(4)
    )
    records = read(text)
    assert [r.step for r in records] == [0, 1, 2, 3]
    assert records[-1].metrics["val_loss"] == pytest.approx(2.05)
    # Round trip times and settings of how many rounds are neither.
    assert _fields("Round trip time: 5 ms")[1] is None
    assert _fields("num_rounds: 100")[1] is None


def test_a_tab_table_behind_a_bracketed_date_and_a_dash() -> None:
    # fast_adversarial's logger: its header and rows each behind ``[date time] - ``, the
    # header's empty cell after LR, the rows' after the seconds. Not read at all before.
    lines = ["[2019/12/20 14:33:14] - Epoch \t Seconds \t LR \t \t Train Loss \t Train Acc"]
    lines += [
        f"[2019/12/20 14:{33 + e}:35] - {e} \t 21.5 \t \t 0.4000 \t {2.05 - e / 10:.4f} \t 0.3"
        for e in range(4)
    ]
    records = read("\n".join(lines))
    assert [r.step for r in records] == [0, 1, 2, 3]
    assert records[-1].metrics["loss"] == pytest.approx(1.75)
    assert records[-1].metrics["lr"] == pytest.approx(0.4)


def test_settings_before_the_first_step_with_a_rate_and_a_step_count_join_it() -> None:
    # nvdiffrec's flags, one per line: ``iter 5000`` (the steps to run), ``batch 8`` and
    # the learning rates set. Their record had stood at step 5000, before step 0.
    flags = "Config / Flags:\n---------\niter 5000\nbatch 8\nlearning_rate [0.03, 0.01]\n"
    steps = "".join(
        f"iter={i:5d}, img_loss={0.3 - i / 1e4:.6f}, lr=0.03000, time=117.2 ms\n"
        for i in range(0, 50, 10)
    )
    records = read(flags + "---------\n" + steps)
    assert [r.step for r in records] == [0, 10, 20, 30, 40]
    # A first record with a measured value is the run's own: it stays.
    kept = read("iter 5000 loss 2.5\n" + steps)
    assert kept[0].step == 5000


def test_a_gans_two_errors_make_its_loss_together() -> None:
    # Mimicry's ``errD`` and ``errG``, a stand-in's words: the discriminator's error alone
    # had been the run's loss; both make the GAN's, as its players' losses do.
    text = "\n".join(
        f"INFO: [Epoch 1/127][Global Step: {s}/100000]\n| errD: {1.5 - s / 1e4:.4f}\n"
        f"| errG: {0.5 + s / 1e4:.4f}"
        for s in range(100, 600, 100)
    )
    records = read(text)
    assert [r.step for r in records] == [100, 200, 300, 400, 500]
    assert all(r.metrics["loss"] == pytest.approx(2.0) for r in records)


def test_a_sections_word_opening_the_line_with_a_bare_number_names_its_epoch() -> None:
    # DGCNN's ``Train 57, loss: ..`` and ``Test 57, loss: ..``: the epoch each ran at, not
    # metrics called train and test (the records had been numbered by gradlog).
    text = "\n".join(
        f"Train {e}, loss: {3.1 - e / 10:.6f}, train acc: 0.{40 + e}\n"
        f"Test {e}, loss: {2.6 - e / 20:.6f}, test acc: 0.{36 + e}"
        for e in range(4)
    )
    records = read(text)
    assert [r.step for r in records] == [0, 1, 2, 3]
    assert "train" not in records[-1].metrics and "test" not in records[-1].metrics
    assert records[-1].metrics["val_loss"] == pytest.approx(2.45)
    # Not after another key, nor a fraction, nor without the comma.
    assert _fields("step 5 train 3, loss 0.2")[1:] == (5, None)
    assert _fields("Train 0.5, loss: 3.1")[2] is None


@pytest.mark.parametrize(
    "layout",
    [
        "{s} iteration, loss: {v:.4f}, lr: 0.001",
        "After {s} iterations, loss = {v:.4f}",
        "[{s} steps] loss {v:.4f}",
        "{s} steps | loss {v:.4f}",
    ],
)
def test_a_count_before_its_axis_word_is_the_step(layout: str) -> None:
    # A loop that prints the count first (``85000 iteration, ..``, ``After 200
    # iterations, cost = ..``): that count is the step, as ``iteration 85000`` would be
    # (the records had been numbered by gradlog).
    text = "\n".join(layout.format(s=s, v=2.0 - s / 1000) for s in range(100, 600, 100))
    records = read(text)
    assert [r.step for r in records] == [100, 200, 300, 400, 500]
    assert records[-1].metrics["loss"] == pytest.approx(1.5)
    # A count after other words is the prose's (``trained 100 steps, loss 0.5``).
    assert _fields("trained 100 steps, loss 0.5")[1] != 100


def test_a_dict_of_settings_is_no_record() -> None:
    # pair2vec prints its configuration as a dict: its ``grad_norm`` is a clipping bound
    # (it had become a record whose gradient norm of 1000 'exploded').
    config = (
        "{'train_data_path': 'data/wiki/triplets', 'save_path': 'saved/p2v', "
        "'epochs': 3, 'lr': 0.01, 'grad_norm': 1000.0, 'use_cuda': True, 'dropout': 0.1}"
    )
    steps = "\n".join(f"step {s} loss {2.0 - s / 1000:.4f}" for s in range(100, 400, 100))
    records = read(config + "\n" + steps)
    assert [r.step for r in records] == [100, 200, 300]
    assert all("grad_norm" not in r.metrics for r in records)
    # The same told of JSON (``true`` for True).
    as_json = config.replace("'", '"').replace("True", "true")
    assert [r.step for r in read(as_json + "\n" + steps)] == [100, 200, 300]
    # Metrics printed as quoted numbers are metrics (HF Trainer's newer dicts); a JSON
    # logger's record has words for its time, level and message beside a loss it names.
    quoted = "{'loss': '0.6905', 'grad_norm': '0.2367', 'learning_rate': '0.0004', 'epoch': '0.32'}"
    assert read(quoted)[0].metrics["loss"] == pytest.approx(0.6905)
    logged = '{"time": "10:41:41", "level": "INFO", "logger": "train", "step": 7, "loss": 0.52}'
    assert read(logged)[0].metrics["loss"] == pytest.approx(0.52)


def test_an_evaluations_own_counter_is_no_step() -> None:
    # pytorch-3dunet counts its validation batches from 0 at each evaluation
    # (``Validation iteration 7``): they had become the run's steps, going back at every
    # evaluation among ``Training iteration [101/150000]``'s.
    lines = []
    for block in range(1, 4):
        for i in range(block * 100 - 2, block * 100 + 1):
            lines.append(f"Training iteration [{i}/150000]. Epoch [1/999]")
            lines.append(f"Training stats. Loss: {1.0 - i / 1000:.4f}")
        lines += [f"Validation iteration {k}" for k in range(3)]
        lines.append(f"Validation finished. Loss: {0.9 - block / 100:.4f}")
    records = read("\n".join(lines))
    steps = [r.step for r in records]
    assert steps == sorted(steps) and min(steps) >= 98
    assert [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics] == [0.89, 0.88, 0.87]
    # A key with its own separator names the training step the evaluation ran at.
    assert _fields("eval  step=40 loss=1.5")[1] == 40


@pytest.mark.parametrize("word", ["Validate", "Validating", "Evaluate", "Evaluating"])
def test_a_verb_of_evaluation_names_the_validation_loss(word: str) -> None:
    # robosat's ``Validate loss: 0.0470, mean IoU: 0.6086``: its loss had been a metric
    # of its own, so overfitting was never looked for.
    records = read(f"Train loss: 0.5\n{word} loss: 0.047, mean IoU: 0.61\nTrain loss: 0.4")
    assert records[0].metrics["val_loss"] == pytest.approx(0.047)
    assert all(set(r.metrics) <= {"loss", "val_loss", "mean_io_u"} for r in records)


def test_a_mini_batch_counts_the_epochs_batches() -> None:
    # EAST's ``Epoch is [23/600], mini-batch is [17/41], ..``: the batch in the epoch (a
    # metric of its own before, so each epoch's batches had made one record).
    text = "\n".join(
        f"Epoch is [{e}/600], mini-batch is [{b}/41], time consumption is 0.31, "
        f"batch_loss is {3.0 - b / 100:.2f}"
        for e in (1, 2)
        for b in (1, 2, 3)
    )
    records = read(text)
    assert len(records) == 6 and [r.epoch for r in records] == [1, 1, 1, 2, 2, 2]
    assert len({r.step for r in records}) == 6
    assert "mini_batch" not in records[0].metrics


@pytest.mark.parametrize(
    ("line", "step", "epoch"),
    [
        # a section's epoch and batch with blanks inside the brackets (lsq-net's
        # ``Training [12][  140/  352]``): they had been a metric called training
        ("Training [12][  140/  352]   Loss 1.951234 (1.9)", 11 * 352 + 140, 12),
        # a count in parentheses opening the line (PSENet's ``(21/62) LR: ..``)
        ("(21/62) LR: 0.001 | Loss: 0.912", 21, None),
    ],
)
def test_counters_in_brackets_with_blanks_or_parentheses(
    line: str, step: int, epoch: int | None
) -> None:
    metrics, read_step, read_epoch = _fields(line)
    assert (read_step, read_epoch) == (step, epoch)
    assert "training" not in metrics
    # Words in the parentheses make no counter.
    assert _fields("(see 3/4) loss 0.5")[1] is None


def test_an_episode_counts_the_steps_where_nothing_else_does() -> None:
    # LearningToCompare's ``episode: 5100 loss 0.13``: the episode had been a metric, so
    # each training line joined the evaluation's record before it as its validation loss.
    text = "\n".join(
        f"episode: {e} loss {1.0 - e / 1e5:.4f}\ntest accuracy: 0.45 h: 0.0078"
        for e in range(100, 600, 100)
    )
    records = read(text)
    assert [r.step for r in records] == [100, 200, 300, 400, 500]
    assert all("val_loss" not in r.metrics for r in records)
    # Beside another step the episode is the step's context, not the step.
    assert _fields("step 5 episode 3 loss 0.4")[1] == 5
    assert _fields("episode 3 step 5 loss 0.4")[1] == 5


def test_a_leaderboards_place_and_arrow_is_a_running_best() -> None:
    # lsq-net's ``Scoreboard best 1 ==> Epoch [0][Top1: 21.574 ..]``: the best epochs so
    # far, in order; they had made records at those epochs, going back.
    assert (
        LineParser().parse("Scoreboard best 1 ==> Epoch [0][Top1: 21.574   Top5: 72.574]") is None
    )
    # A value before the best's is still read.
    assert _fields("epoch 3 loss 0.5 best 1 => epoch 2")[0] == {"loss": 0.5}


def _stepped_with_summaries(summary: str, epochs: int = 30, steps: int = 6) -> list[str]:
    """Step lines of a loss that alternates step by step (high, low), each epoch closed
    by ``summary`` (``{loss}``: the epoch's mean loss)."""
    lines, step = [], 0
    for _ in range(epochs):
        losses = []
        for index in range(steps):
            step += 10
            loss = 2.9 if index % 2 == 0 else 1.4
            losses.append(loss)
            lr = 0.01 * step / (step + 100)
            lines.append(f"global_step: {step}, acc: 0.79, loss_all: {loss:.4f}, lr: {lr:.6f}")
        lines.append(summary.format(loss=sum(losses) / steps, lr=lr * 1.001))
    return lines


SUMMARY = "train_loss: {loss:.4f}, time: 36.4788, lr: {lr}"


def test_a_stepless_summary_after_step_lines_is_no_record_of_its_own() -> None:
    # DBNet's ``[2/1200], train_loss: 3.62, time: 36.5`` after its step lines of
    # ``loss_all``: the epoch's mean, not a record numbered after the steps.
    records = read("\n".join(_stepped_with_summaries(SUMMARY, epochs=3)))
    assert [record.step for record in records] == list(range(10, 190, 10))
    # The steps' own losses (``loss_all``, the family's one member), not the mean.
    assert [record.metrics["loss"] for record in records] == [2.9, 1.4] * 9
    assert records[5].metrics["time"] == 36.4788  # (a name of its own: taken)
    # Its values never broke the step's alternation: an oscillation.
    found = analyze_text("\n".join(_stepped_with_summaries(SUMMARY)))
    assert "oscillation" in {diagnosis.id for diagnosis in found}


def test_stepless_lines_that_are_records_stay_records() -> None:
    steps = _stepped_with_summaries(SUMMARY, epochs=1)[:-1]
    # A line of the step record's own names: the next record, printed in another style.
    same = read("\n".join([*steps, "loss_all: 2.5, lr: 0.002, acc: 0.8", steps[0]]))
    assert [record.step for record in same][-3:] == [60, 61, 10]
    # Two lines that print no step, one after another: a log that prints its step on
    # some lines only; each is a record (the first was held as a summary till then).
    two = read("\n".join([*steps, *(SUMMARY.format(loss=loss, lr=0.1) for loss in (2.5, 2.4))]))
    assert [(record.step, record.metrics.get("loss")) for record in two][-3:] == [
        (60, 1.4),
        (61, 2.5),
        (62, 2.4),
    ]
    assert "time" not in two[-3].metrics  # (the held line's values taken back)
    # A NaN is news, never a mean: a record.
    nan = read("\n".join([*steps, SUMMARY.format(loss=math.nan, lr=0.1)]))
    assert math.isnan(nan[-1].metrics["loss"]) and nan[-1].step == 61


def test_summaries_read_in_blocks_as_line_by_line() -> None:
    # Runs of 1-8 step lines, each closed by one line that prints no step (a summary)
    # or now and then two (records): woven, and read so in columns.
    rng = random.Random(5)
    lines, step = [], 10_000
    while len(lines) < 6000:
        for _ in range(rng.randrange(1, 9)):
            step += 1
            lines.append(f"global_step: {step}, loss: {rng.random():.4f}, lr: 0.0100")
        for _ in range(1 if rng.random() < 0.8 else 2):
            lines.append(SUMMARY.format(loss=rng.random(), lr=rng.random()))
    expected = [(r.step, r.line, r.epoch, r.metrics) for r in read("\n".join(lines))]
    for size in (97, 500, 4096):
        _, records = read_blocks(lines, size)
        assert [(r.step, r.line, r.epoch, r.metrics) for r in records] == expected


def _table(header: str, rows: list[str], prefix: str = "") -> str:
    return "\n".join(f"{prefix}{line}" for line in [header, *rows])


def test_a_table_after_its_axis_column_needs_no_loss_column() -> None:
    # JDE's ``Epoch  Batch  box  conf  id  total`` behind its logger's prefix: the parts
    # of the loss under their own names, then their weighted sum as ``total``.
    header = "   Epoch       Batch       box      conf        id     total  nTargets"
    rows = [
        f"{epoch:>6}/29{batch:>8}/90{0.4 - batch / 900:>10.3f}      3.17      9.18"
        f"{55 - batch / 10:>10.1f}       183"
        for epoch in range(2)
        for batch in range(0, 90, 30)
    ]
    records = read(_table(header, rows, "2020-03-12 10:11:12 [INFO]: "))
    assert [r.epoch for r in records] == [0, 0, 0, 1, 1, 1]
    steps = [r.step for r in records]  # (the batch counter, counted on over the epochs)
    assert steps[:3] == [0, 30, 60] and steps == sorted(set(steps))
    assert records[1].metrics["loss"] == 52.0 and records[1].metrics["id"] == 9.18
    # A NaN in its rows is the run's.
    broken = [*rows, "     2/29      0/90       nan       nan       nan       nan       183"]
    found = analyze_text(_table(header, broken))
    assert "nan" in {diagnosis.id for diagnosis in found}


def test_a_tables_total_is_its_loss_only_after_its_parts() -> None:
    # A total right after the axis sums no metric printed before it: no loss.
    records = read(_table("Epoch  total  correct", ["1  5000  4200", "2  5000  4400"]))
    assert [r.metrics for r in records] == [
        {"total": 5000.0, "correct": 4200.0},
        {"total": 5000.0, "correct": 4400.0},
    ]
    # YOLOv3's ``GIoU obj cls total``: the parts, with its box part as GIoU, and their sum.
    header = "     Epoch   gpu_mem      GIoU       obj       cls     total   targets  img_size"
    rows = [
        f"{e:>8}/299     4.3G      1.23     0.456     0.789  {2.5 - e / 10:>8.3f}   50   416"
        for e in range(3)
    ]
    yolo = read(_table(header, rows))
    assert [r.metrics["loss"] for r in yolo] == [2.5, 2.4, 2.3]


@pytest.mark.parametrize(
    ("layout", "step"),
    [
        ("Update # {i}00 Recon Error: 0.123", "{i}00"),  # VQ-VAE: the sign, then a blank
        ("Step #  {i}00, loss: 0.5", "{i}00"),
        ("|      {i}00/  500000 steps| 419872.31 tokens/s| loss    7.31|", "{i}00"),  # UER
        ("loss 0.5 ({i}0/900 iters)", "{i}0"),  # (in parentheses, as before)
    ],
)
def test_a_counts_sign_or_unit_leaves_it_the_step(layout: str, step: str) -> None:
    records = read_numbered(layout)
    assert [record.step for record in records] == [int(step.format(i=i)) for i in (1, 2, 3)]


def test_a_rate_of_steps_is_no_count_of_them() -> None:
    # ``10/20 steps/s``: a rate's unit after a pair, no step.
    records = read_numbered("epoch {i} speed 10/20 steps/s loss 0.5")
    assert [record.step for record in records] == [1, 2, 3]
    assert all(record.epoch == record.step for record in records)


def test_loss_terms_named_by_their_first_word_need_no_separator() -> None:
    # Moment-DETR's ``[Epoch] 002 [Loss] loss_span 0.9610 loss_giou 0.6673 ..``: DETR's
    # terms, a blank between each name and its value, and no other name gradlog knows.
    line = (
        "[Epoch] 002 [Loss] loss_span {a:.4f} loss_giou 0.6673 class_error 12.8"
        " loss_overall {b:.4f}"
    )
    records = read("\n".join(line.format(a=1 - i / 10, b=6 - i / 10) for i in range(3)))
    assert len(records) == 3
    assert records[0].metrics["loss_span"] == 1.0
    assert records[2].metrics["loss"] == 5.8  # (the overall loss: the terms' total)
    # A weight of a loss's term is a setting, not the term.
    assert LineParser().parse("ce_weight 0.5 mse_weight 0.3") is None


@pytest.mark.parametrize("joiner", [" ", "=", ": ", " = "])
def test_a_digit_hyphened_to_a_name_is_part_of_the_name(joiner: str) -> None:
    # ``top-5 91.2``, ``BLEU-4: 30.1``: the digit names which top-k or n-gram the value
    # is; it is no negative number of its own, and the value after it keeps its name.
    pairs = ["loss{j}0.5", "top-1{j}{{i}}1.5", "BLEU-4{j}30.2", "ROUGE-1{j}0.41"]
    form = " ".join(["step {{i}}0", *pairs]).format(j=joiner)
    lines = [form.format(i=i) for i in range(1, 5)]
    records = read("\n".join(lines))
    assert [record.step for record in records] == [10, 20, 30, 40]
    assert records[1].metrics == {"loss": 0.5, "top_1": 21.5, "bleu_4": 30.2, "rouge_1": 0.41}
    assert read_blocks(lines, 2)[1] == records
    # Without a value after it, a hyphened number is still the axis's (``step-100``), and
    # a number after a blank is still a value (``loss -0.5``).
    assert [record.step for record in read_numbered("step-{i}00 loss 0.5")] == [100, 200, 300]
    assert read_numbered("step {i} margin -5 loss 0.5")[0].metrics == {"margin": -5, "loss": 0.5}


def test_a_name_may_open_with_digits_glued_to_its_first_word() -> None:
    # ``3d_loss``, ``2d_kp_loss`` (pose and detection models): the digits are the name's.
    records = read_numbered("iter {i} loss_2d 0.5 3d_loss 1.25 2d_kp_err 0.3")
    metrics = records[0].metrics
    assert {name: metrics[name] for name in ("loss_2d", "3d_loss", "2d_kp_err")} == {
        "loss_2d": 0.5,
        "3d_loss": 1.25,
        "2d_kp_err": 0.3,
    }
    assert metrics["loss"] == 1.75  # (its terms' total, as for any loss's terms)
    assert "d_loss" not in metrics  # (not a GAN's discriminator)


@pytest.mark.parametrize(
    "layout",
    [
        # PixelCNN++: one line an epoch, no loss printed.
        "Iteration {i}, time = 630s, train bits_per_dim = {a}, test bits_per_dim = {b}",
        "epoch {i} | train bpd {a} | val bpd {b}",
        "Epoch {i}: bits/dim {a} test bits/dim {b}",
    ],
)
def test_bits_per_dim_are_a_likelihood_models_loss(layout: str) -> None:
    # A negative log-likelihood in bits per dimension is the loss as it is (no log of it,
    # as of a perplexity), and an evaluation's is the validation loss.
    text = "\n".join(
        layout.format(i=i, a=f"{4 - i / 10:.4f}", b=f"{3.9 - i / 20:.4f}") for i in range(1, 6)
    )
    records = read(text)
    assert [record.metrics["loss"] for record in records] == [3.9, 3.8, 3.7, 3.6, 3.5]
    assert [record.metrics["val_loss"] for record in records] == [3.85, 3.8, 3.75, 3.7, 3.65]
    # Beside a loss, bits per dim are one more metric (Glow prints both).
    assert read_numbered("epoch {i} loss 2.5 bpd 3.5")[0].metrics["loss"] == 2.5


@pytest.mark.parametrize(
    "evaluation",
    [
        "average test of epoch {i}: loss 1.{i}5 acc 0.7",  # SEAL
        "Results on test set - Loss: 1.{i}5 - Acc: 0.7",
        "Loss on test set: 1.{i}5",
        "Validation loss: 1.{i}5",  # (a line that opens with its word, as before)
    ],
)
def test_a_lines_first_words_may_say_it_reports_an_evaluation(evaluation: str) -> None:
    # Up to three words before an evaluation's word, and no number before it: what the
    # line then prints is the evaluation's.
    lines = [
        line
        for i in range(1, 4)
        for line in (f"Epoch {i} - Train loss: 0.0{6 - i} - Train acc: 0.9", evaluation.format(i=i))
    ]
    records = read("\n".join(lines))
    assert [record.metrics.get("val_loss") for record in records] == [1.15, 1.25, 1.35]
    assert [record.metrics["loss"] for record in records] == [0.05, 0.04, 0.03]
    # Not a number's words (``test`` after a value), nor a word inside another.
    assert "val_loss" not in read("latest run 3 loss 0.5")[0].metrics
    assert read("epoch 1 loss 0.5 test loss 0.7")[0].metrics == {"loss": 0.5, "val_loss": 0.7}


def test_a_runs_final_results_are_no_record_of_it() -> None:
    # Spektral prints its test set's results after the last epoch: not one more
    # training record (its loss, 30 times the training loss, had been a spike).
    lines = [f"Epoch {i} - Train loss: 0.0{6 - i} - Train acc: 0.9" for i in range(1, 4)]
    records = read("\n".join([*lines, "Final results - Loss: 1.635 - Acc: 0.717"]))
    assert [record.metrics["loss"] for record in records] == [0.05, 0.04, 0.03]
    assert read("\n".join([*lines, "FINAL METRICS: loss 1.6"]))[-1].metrics["loss"] == 0.03


def _epochs_of_lines(lines: int, epochs: int = 3) -> list[str]:
    """An ``Epoch k/N`` header over ``lines`` lines of a loss that print no step (DeepAR:
    an evaluation's line, then the training loss, printed twice)."""
    text = []
    for epoch in range(1, epochs + 1):
        text.append(f"Epoch {epoch}/{epochs}")
        for i in range(lines):
            loss = 4 - epoch - i / 10
            text += [f"Eval: test_loss: {loss + 1:.2f} ND: 0.4", f"train_loss: {loss:.2f}"]
            text += [f"train_loss: {loss:.2f}"] if i == 0 else []
    return text


def test_an_epochs_lines_of_a_changing_loss_are_its_records() -> None:
    # Lines of a loss that print no step or loop count and change again and again
    # under one epoch's header are that epoch's records, not one record's refreshes;
    # the block's first change is not yet one (two lines of the same names may be its
    # training and validation), each block's after that is.
    lines = _epochs_of_lines(5)
    records = read("\n".join(lines))
    assert [record.metrics["loss"] for record in records] == [
        2.9, 2.8, 2.7, 2.6,
        2.0, 1.9, 1.8, 1.7, 1.6,
        1.0, 0.9, 0.8, 0.7, 0.6,
    ]  # fmt: skip
    assert records[1].metrics["val_loss"] == 3.8  # (each evaluation with its training loss)
    assert [record.epoch for record in records] == [1] * 4 + [2] * 5 + [3] * 5
    assert [record.step for record in records] == list(range(1, 15))
    assert read_blocks(lines, 7)[1] == records
    # Two such lines in an epoch are one record: the later line's values.
    assert [record.metrics["loss"] for record in read("\n".join(_epochs_of_lines(2)))] == [
        2.9,
        1.9,
        0.9,
    ]


def test_a_steps_block_and_a_bars_redraws_stay_one_record() -> None:
    # Under a step's header, lines of the same names are the record's parts
    # (neural-style's ``Iteration 25 / 1000`` over its ``Style k loss: ..`` lines), and
    # the redraws of a bar on one line are the same line again.
    parts = ["Iteration {i}00 / 1000", "  Style 1 loss: {i}.5", "  Style 2 loss: {i}.6"]
    text = "\n".join([*parts, "  Style 3 loss: {i}.7"])
    records = read("\n".join(text.format(i=i) for i in (1, 2, 3)))
    assert [record.step for record in records] == [100, 200, 300]
    redraws = "\r".join(f"loss: 0.{9 - i} acc: 0.{i}" for i in range(5))
    records = read("\n".join([f"Epoch {e}/3\n{redraws}" for e in (1, 2, 3)]))
    assert [record.metrics["loss"] for record in records] == [0.5, 0.5, 0.5]


def test_error_measures_of_one_prediction_are_no_sum() -> None:
    # A forecaster's MSE, MAE and RMSE read one error three ways: the first printed
    # stands for the loss (their sum had been the series judged); a loss's named terms
    # still add up.
    records = read_numbered("Epoch {i}, mse:0.{i}5, mae:0.2{i}, rmse:0.7{i}, mape:6.8")
    assert [record.metrics["loss"] for record in records] == [0.15, 0.25, 0.35]
    records = read_numbered("epoch {i} train_mse 0.{i}5 train_rmse 0.7 val_mse 0.8 val_rmse 0.9")
    assert (records[0].metrics["loss"], records[0].metrics["val_loss"]) == (0.15, 0.8)
    assert read_numbered("epoch {i} loss_mse 0.5 loss_l1 0.25")[0].metrics["loss"] == 0.75


@pytest.mark.parametrize(
    "layout",
    [
        "Update {i}00 finished. LB : {b},  Params: 12",  # DeepSequence
        "Iteration {i}: time=0.84, ELBO={b}, deltaELBO=5819.854 (0.0275%)",  # MOFA+
        "epoch {i} train log likelihood {b}",
        "Epoch: {i} Train, Log likelihood in nats: {b}",  # pytorch-flows (its unit named)
        "Iter: {i}, running avg elbo: {b}",  # torchdiffeq's latent ODE (a statistic of it)
        "step {i} | smoothed ELBO {b}",
    ],
)
def test_a_bound_the_model_maximises_stands_in_for_the_loss_negated(layout: str) -> None:
    # An ELBO, a lower bound, a log-likelihood printed below zero, in a run that prints no
    # loss: its negative is the loss (it rises as the model learns).
    records = read("\n".join(layout.format(i=i, b=-600 + i * 10) for i in range(1, 4)))
    assert [record.metrics["loss"] for record in records] == [590, 580, 570]


def test_a_bound_above_zero_or_named_negative_is_no_negated_stand_in() -> None:
    # Above zero, an ELBO may be printed as the loss already (its negative): it stands
    # in for nothing; a negative log-likelihood is a loss by its name.
    assert "loss" not in read_numbered("epoch {i} elbo 10{i}.5")[0].metrics
    assert read_numbered("epoch {i} neg_log_likelihood 2.{i}")[1].metrics["loss"] == 2.2
    # An evaluation's bound, beside training's, is the validation loss.
    records = read_numbered("epoch {i} train elbo -10{i}.5 test elbo -11{i}.25")
    assert (records[0].metrics["loss"], records[0].metrics["val_loss"]) == (101.5, 111.25)


def test_an_agents_score_is_no_loss() -> None:
    # Beside an agent's rewards or episodes, a score is a return it maximises (CORL's
    # ``D4RL score``): its rise had been a false divergence. Elsewhere a score stands in
    # for the loss (DL4J's ``Score at iteration 0 is 2.3``).
    lines = [f"average_reward: {3 + i / 10} average_uncertainty: 0.1" for i in range(5)]
    lines += [f"Score : {0.2 + i / 10}" for i in range(5)]
    assert all("loss" not in record.metrics for record in read("\n".join(lines)))
    records = read_numbered("Evaluation over 10 episodes: 13{i}0.5 , D4RL score: 4{i}.6")
    assert all("loss" not in record.metrics for record in records)
    records = read_numbered("Score at iteration {i}00 is 2.{i}")
    assert [record.metrics["loss"] for record in records] == [2.1, 2.2, 2.3]


def test_a_tables_flags_and_lists_of_numbers_are_no_values_of_its_rows() -> None:
    # bpnet-lite's tab-separated ``Saved?`` column of ``True``/``False``, taiyaki's
    # per-layer gradient maxima joined by commas in one cell: the rest of each row is read
    # (the rows had been refused, and the log read as no metrics at all).
    saved = ["Epoch\tIteration\tloss\tSaved?"]
    saved += [f"{i // 2}\t{i}00\t{4 - i / 10}\t{i % 2 == 0}" for i in range(4)]
    assert [record.metrics for record in read("\n".join(saved))] == [
        {"loss": 4.0},
        {"loss": 3.9},
        {"loss": 3.8},
        {"loss": 3.7},
    ]
    listed = ["iter\tloss\tgradientmax\tlearning_rate"]
    listed += [f"{i}\t{2 - i / 10}\t0.25,0.08,0.1{i}\t0.001" for i in range(1, 4)]
    records = read("\n".join(listed))
    assert [(record.step, record.metrics) for record in records] == [
        (i, {"loss": 2 - i / 10, "lr": 0.001}) for i in range(1, 4)
    ]


def test_a_tables_names_between_bars_need_no_outer_bars() -> None:
    # DeepCpG's ``progress (%) | time (min) |   loss | ..``, its rows ``0.1 | 0.1 | 0.69``:
    # a piped table (its first name had been cut off as a logger's prefix, ``train_inner
    # |``, and the rest read as nothing).
    lines = ["step | loss | acc", *(f"{i} | {1 - i / 10} | 0.{i}" for i in range(1, 4))]
    records = read("\n".join(lines))
    assert [(record.step, record.metrics) for record in records] == [
        (i, {"loss": 1 - i / 10, "acc": i / 10}) for i in range(1, 4)
    ]
    # A logger's name before a bar, on a line of numbers, is still cut off.
    records = read_numbered("train_inner | epoch 001:  {i}0 / 100 loss=2.{i}, lr=0.1")
    assert [record.metrics["loss"] for record in records] == [2.1, 2.2, 2.3]


def test_a_tables_row_labelled_by_its_data_set_holds_that_sets_values() -> None:
    # DeepCpG (and Ludwig) print, after each epoch, a table of a row per data set.
    lines = []
    for epoch in range(1, 4):
        lines += [f"Epoch {epoch}/3", "split |   loss |  acc", "-" * 30]
        lines += [f"train | {1 - epoch / 10:.4f} | 0.6", f"  val | {0.9 + epoch / 100:.4f} | 0.7"]
    records = read("\n".join(lines))
    assert [record.metrics.get("val_loss") for record in records] == [0.91, 0.92, 0.93]
    assert [record.metrics.get("val_acc") for record in records] == [0.7, 0.7, 0.7]
    assert [record.metrics["loss"] for record in records] == [0.9, 0.8, 0.7]


def test_a_count_and_a_bare_value_before_named_ones_are_the_step_and_its_loss() -> None:
    # The diffuser Trainer's ``64000:   2.0170 | a0_loss:   3.9100 | t: 7217.8``: the bare
    # value after the count's colon is the loss, as on makemore's ``45000/ 200000: 3.2958``.
    lines = [
        f"{i}000: {2 - i / 10:9.4f} | a0_loss: {3 - i / 10:9.4f} | t: 7217.8" for i in (1, 2, 3)
    ]
    records = read("\n".join(lines))
    assert [(record.step, record.metrics["loss"]) for record in records] == [
        (1000, 1.9),
        (2000, 1.8),
        (3000, 1.7),
    ]
    assert records[0].metrics["a0_loss"] == 2.9


def test_an_evaluations_word_in_parentheses_marks_what_follows_as_its() -> None:
    # ``Epoch 3 (val): loss ..``, GGNN's ``Running epoch 63 (validation), batch 1 (has 4434
    # graphs). Loss so far: ..``: the evaluation's values, at the epoch printed before.
    lines = []
    for epoch in (1, 2, 3):
        lines += [
            f"Epoch {epoch} (train): loss 0.{5 - epoch}",
            f"Epoch {epoch} (val): loss 0.{6 - epoch}5",
        ]
    records = read("\n".join(lines))
    assert [(r.epoch, r.metrics["loss"], r.metrics["val_loss"]) for r in records] == [
        (1, 0.4, 0.55),
        (2, 0.3, 0.45),
        (3, 0.2, 0.35),
    ]


def test_a_value_ends_where_the_next_name_is_glued_to_it() -> None:
    # A print that lost its blank (Pyraformer's ``MSE:  0.57322elapse: 0.323 min``,
    # MLDS's ``Loss: 0.216341norm : 1.6117514``): a name of four letters or more, then
    # its separator and value, ends the value before it; a unit still sticks (``3.5GB``).
    records = read_numbered("Epoch [{i}/600], Step [1000], Loss: 0.2{i}6341norm : 1.{i}117514")
    assert [(r.metrics["loss"], r.metrics["grad_norm"]) for r in records] == [
        (0.216341, 1.1117514),
        (0.226341, 1.2117514),
        (0.236341, 1.3117514),
    ]
    assert [m.group() for m in NUMBER_RE.finditer("mem 3.5GB: 4 at 12.5steps/s 3")] == [
        "3.5GB",
        "4",
        "3",
    ]


def test_a_negative_log_likelihood_by_its_sign_or_initial_is_a_loss() -> None:
    # GANF's ``train -log_prob: -1.53, test -log_prob: -2.48``: a minus before a log names
    # its negative, a loss as printed; NVAE's ``train_nelbo``: the negative ELBO.
    records = read_numbered("Epoch: {i}, train -log_prob: -1.{i}3, test -log_prob: -2.4{i}")
    assert [(r.metrics["loss"], r.metrics["val_loss"]) for r in records] == [
        (-1.13, -2.41),
        (-1.23, -2.42),
        (-1.33, -2.43),
    ]
    assert read_numbered("train_nelbo 1263{i}.5")[2].metrics["loss"] == 12633.5
    assert normalise("pre-logits") == "pre_logits"  # (a hyphen inside a name is none)
    # Nor are a flag's dashes (``--log-interval 1`` on a command line).
    flags = read("python3 train.py --gpus 0 --log-interval 1  --lr 0.01")[0].metrics
    assert not any(name.startswith("neg_") for name in flags)


def test_a_loops_count_in_brackets_after_the_values_refreshes_the_epochs_record() -> None:
    # torcheeg's trainer (the PyTorch quickstart's loop): ``loss: 0.72 [   47/  233]
    # Accuracy: 63.4`` under ``Epoch 3``: a loop's count, as a bar's is; its lines refresh
    # the epoch's record rather than each making one.
    lines = []
    for epoch in (1, 2, 3):
        lines += [f"Epoch {epoch}", "-" * 31]
        lines += [
            f"loss: {0.8 - b / 1000:.6f} [{b:>5d}/  233] Accuracy: 60.1" for b in range(0, 233, 47)
        ]
    records = read("\n".join(lines))
    assert [(r.epoch, r.metrics["loss"]) for r in records] == [(1, 0.612), (2, 0.612), (3, 0.612)]
    fields = LineParser().parse("loss: 0.717173 [    0/  233] Accuracy: 63.403")
    assert fields is not None and fields.count == (0, 233)


def test_a_joint_loss_is_its_parts_total() -> None:
    # ICLRec's ``{'rec_avg_loss': '1.0409', 'joint_avg_loss': '1.6215'}``: the joint loss
    # holds the recommendation loss; their sum counted it twice.
    record = read("{'epoch': 5, 'rec_avg_loss': '1.0409', 'joint_avg_loss': '1.6215'}")[0]
    assert record.metrics["loss"] == 1.6215


def test_a_numbers_last_digits_are_no_names_first() -> None:
    # RoboPen's ``samples trained 3456.0average training loss 0.40``: a value glued to the
    # next name leaves the name whole (``0average_training_loss`` had hidden the loss).
    records = read_numbered("end of epoch {i}, samples trained 3456.0average training loss 0.{i}")
    assert [record.metrics["loss"] for record in records] == [0.1, 0.2, 0.3]


def test_an_evaluations_bound_alone_stands_in_for_the_validation_loss_only() -> None:
    # dm-haiku's VAE prints only its validation ELBO: it stood in for the validation
    # loss and, in the same plan, for the training loss too, which popped it twice.
    lines = [f"STEP: {100 * i:5d}; Validation ELBO: {-543.2 + 3 * i:.3f}" for i in range(30)]
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert [set(r.metrics) for r in records] == [{"val_loss"}] * 30
        assert records[0].metrics["val_loss"] == 543.2


def test_any_names_resolve_each_name_into_one_family_at_most() -> None:
    # Every family, stand-in and evaluation's stand-in takes names no other took: random
    # sets of names of every kind (losses, bounds, measures, sets, players, counts), in
    # records that keep or change them, with values of either sign, never fail.
    pool = [
        "loss",
        "val_loss",
        "validation_elbo",
        "elbo",
        "test_elbo",
        "train",
        "val",
        "valid",
        "test",
        "dev",
        "score",
        "ppl",
        "val_ppl",
        "bpd",
        "test_bpd",
        "bits_dim",
        "lr",
        "grad_norm",
        "acc",
        "val_acc",
        "d_loss",
        "g_loss",
        "errD",
        "errG",
        "total",
        "mse",
        "rmse",
        "mae",
        "train_rmse",
        "test_rmse",
        "train_error",
        "lb",
        "reward",
        "episode",
        "loss_scale",
        "t",
        "a",
        "b",
        "nll",
        "neg_elbo",
        "training",
        "loss_1",
        "loss_2",
        "valid_0",
        "valid_1",
        "train_err",
        "test_err",
    ]
    rng = random.Random(0)
    for _ in range(3000):
        families = Families()
        names = rng.sample(pool, rng.randint(1, 6))
        for _ in range(rng.randint(1, 8)):
            keys = names if rng.random() < 0.7 else rng.sample(pool, rng.randint(1, 6))
            values = (-5.0, 0.5, 1.5, 3.0, math.nan, 0.0, 2.0)
            metrics = {k: rng.choice(values) for k in keys}
            families.resolve(metrics)  # (it raised KeyError: a name popped twice)


# A value named only by its data set (``epoch 5 train 0.53 val 0.61``): that set's main
# measure, its loss once it falls as the run begins; an accuracy or a score rises.

_SET_FORMS = [
    "epoch {e} train {t:.4f} val {v:.4f}",
    "Epoch {e:3d} | train: {t:.4f} | valid: {v:.4f}",
    "#Iter={e:3d}\tTrain={t:.5f}\tTest={v:.5f}",
    "Epoch: {e}, Training: {t:.4f}, Dev: {v:.4f}",
    "[{e}] train set: {t:.4f}, dev set: {v:.4f}",
]


def _set_values(e: int, falls: bool) -> tuple[float, float]:
    if falls:
        t = 2.3 * math.exp(-e / 8) + 0.3
        return t, t * 1.1
    t = 0.95 - 0.6 * math.exp(-e / 8)
    return t, t - 0.03


@pytest.mark.parametrize("form", _SET_FORMS)
def test_a_set_named_value_that_falls_is_the_sets_loss(form: str) -> None:
    lines = [form.format(e=e, t=t, v=v) for e in range(1, 41) for t, v in [_set_values(e, True)]]
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        losses = [r.metrics["loss"] for r in records if "loss" in r.metrics]
        vals = [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics]
        # From the 4th value on: the first against the median of the last 3 fell 5%.
        assert len(losses) == 37 and losses[0] == pytest.approx(_set_values(4, True)[0], 1e-3)
        assert len(vals) == 37 and vals[0] == pytest.approx(_set_values(4, True)[1], 1e-3)


@pytest.mark.parametrize("form", _SET_FORMS)
def test_a_set_named_value_that_rises_is_no_loss(form: str) -> None:
    lines = [form.format(e=e, t=t, v=v) for e in range(1, 41) for t, v in [_set_values(e, False)]]
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert len(records) == 40
        assert not any({"loss", "val_loss"} & set(r.metrics) for r in records)
    assert {d.id for d in analyze_text("\n".join(lines))} <= {"no_metrics"}


def test_a_set_named_value_that_never_moves_is_a_loss_after_20_values() -> None:
    lines = [f"epoch {e} train {0.6931 + 0.001 * (e % 3):.4f}" for e in range(1, 41)]
    losses = [r.metrics.get("loss") for r in read("\n".join(lines))]
    assert losses[:19] == [None] * 19 and None not in losses[19:]


def test_a_set_named_value_beside_a_named_loss_stands_in_for_nothing() -> None:
    text = "\n".join(f"epoch {e} loss {2.0 / e:.4f} train {1.0 / e:.4f}" for e in range(1, 30))
    assert all(r.metrics["loss"] == round(2.0 / r.step, 4) for r in read(text))


@pytest.mark.parametrize(
    "form",
    [
        "Loss         :    {m}   {t:.5f}   {m}   {v:.5f}",  # hippynn: improved on its best
        "epoch {e} loss: {m}{t:.4f} val_loss: {m}{v:.4f}",
        "epoch {e} | loss = {m} {t:.4f} | val_loss = {m} {v:.4f}",
    ],
)
def test_a_mark_before_a_value_is_no_part_of_it(form: str) -> None:
    # A star before a value marks it (a new best): the row is read as without it.
    lines = [form.format(e=e, m="*" if e % 3 else "", t=2.0 / e, v=2.2 / e) for e in range(1, 31)]
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert [r.metrics["loss"] for r in records] == pytest.approx(
            [2.0 / e for e in range(1, 31)], rel=1e-3
        )


def _names_over_values(names: list[str], values: list[float]) -> list[str]:
    widths = [max(len(n), 10) for n in names]
    rule = "+-------+" + "+".join("-" * (w + 2) for w in widths) + "+"
    head = "| Name  | " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))
    row = "| Value | " + " | ".join(
        f"{v:.6f}".ljust(w) for v, w in zip(values, widths, strict=True)
    )
    return [rule, head + " |", rule, row + " |", rule]


def test_tables_of_names_over_their_values_are_one_record_each_iteration() -> None:
    # DI-engine (LightZero) prints each iteration's averages as tables of names over a
    # row of values: one with the loss, others with none, one of a single column.
    lines = []
    for it in range(40):
        loss, norm = 9.8 - 0.05 * it, 1.2 + 0.01 * (it % 3)
        head = "[12-07 10:02:10][base_learner.py:338][INFO] === Training Iteration"
        lines.append(f"{head} {it * 1000} Result ===")
        lines += _names_over_values(["cur_lr_avg", "total_loss_avg"], [0.2, loss])
        lines += _names_over_values(["policy_loss_avg", "value_loss_avg"], [1.3, 3.1])
        lines += _names_over_values(["target_reward_avg", "target_value_avg"], [-0.01, -0.2])
        lines += _names_over_values(["total_grad_norm_before_clip_avg"], [norm])
        lines.append("")
    for records in (read("\n".join(lines)), read_blocks(lines, 9)[1]):
        assert [r.step for r in records] == [it * 1000 for it in range(40)]
        first = records[0].metrics
        assert first["loss"] == 9.8 and first["grad_norm"] == 1.2
        assert first["policy_loss_avg"] == 1.3 and first["target_value_avg"] == -0.2
        assert "value" not in first and "lr" in first


def test_a_row_of_names_that_heads_no_table_closes_the_open_one() -> None:
    # The rows under another row of names are that row's, never the open table's.
    lines = ["| epoch | loss | acc |"] + [f"| {e} | {2.0 / e:.4f} | 0.5 |" for e in range(1, 6)]
    lines += [
        "| cpu_temp | fan_speed | volts |",
        "| 61.0 | 2300.0 | 1.1 |",
        "| 62.0 | 2310.0 | 1.1 |",
    ]
    for records in (read("\n".join(lines)), read_blocks(lines, 3)[1]):
        assert [r.epoch for r in records] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("form", "step", "epoch"),
    [
        # HF's Flax examples: ``Step... (500 | Loss: .., Learning Rate: ..)``.
        ("Step... ({i}00 | Loss: 3.4{i}, Learning Rate: 0.0039)", 100, None),
        ("Step... ({i}00 | Eval Loss: 3.0{i} | Eval Perplexity: 21.2)", 100, None),
        ("Epoch... ({i}/3 | Loss: 3.4{i}, Learning Rate: 0.0039)", 1, 1),
        ("Step: ({i}00) Loss: 3.4{i}", 100, None),
        ("Step (2{i}0) | Loss: 3.4{i}", 210, None),
        ("Step\u2026 {i}00 | Loss: 3.4{i}", 100, None),
        ("Epoch ({i}) loss: 3.4{i}", 1, 1),
    ],
)
def test_an_axis_number_in_parentheses_or_after_dots_is_the_axis(
    form: str, step: int, epoch: int | None
) -> None:
    lines = [form.format(i=i) for i in range(1, 4)]
    for records in (read("\n".join(lines)), read_blocks(lines, 2)[1]):
        assert (records[0].step, records[0].epoch) == (step, epoch)
        assert len(records) == 3 and {"loss", "val_loss"} & set(records[0].metrics)


def test_brackets_after_an_axis_that_count_within_it_stay_as_they_were() -> None:
    # ``Epoch [3][100/500]``: the epoch, then the batch within it (no number alone).
    records = read_numbered("Epoch [{i}][100/500] loss 0.5")
    assert [(r.step, r.epoch) for r in records] == [(100, 1), (600, 2), (1100, 3)]


@pytest.mark.parametrize(
    "form",
    ["Epoch {i}: {v} ({t} sec)", "Epoch {i}/10: {v} ({t} s)", "{i}00: {v} [{t} s]"],
)
def test_a_bare_loss_after_its_axis_may_say_how_long_it_took(form: str) -> None:
    lines = [form.format(i=i, v=f"{2.3 - i / 10:.3f}", t=f"1{i}.2") for i in range(1, 4)]
    for records in (read("\n".join(lines)), read_blocks(lines, 2)[1]):
        assert [r.metrics["loss"] for r in records] == [2.2, 2.1, 2.0]
    # A percentage there is no time: such a line stays unread.
    assert read_numbered("Epoch {i}: 2.303 (12.1%)") == []


@pytest.mark.parametrize(
    "form",
    [
        "{{'step': {s}, 'loss': {v}, 'split': Split('{set}')}}",  # dm-haiku
        "step {s} | phase: {set} | loss: {v}",
        "step {s} | Phase: {set} | loss: {v}",
    ],
)
def test_a_key_that_names_the_data_set_makes_the_line_its(form: str) -> None:
    lines = []
    for i in range(1, 6):
        lines.append(form.format(s=100 * i, set="train", v=f"{2 - i / 10:.2f}"))
        lines.append(form.format(s=100 * i, set="test", v=f"{2.1 - i / 20:.2f}"))
    for records in (read("\n".join(lines)), read_blocks(lines, 3)[1]):
        assert [r.metrics.get("val_loss") for r in records] == [2.05, 2.0, 1.95, 1.9, 1.85]
        assert [r.metrics["loss"] for r in records] == [1.9, 1.8, 1.7, 1.6, 1.5]


def test_a_time_word_before_a_loss_word_names_a_duration() -> None:
    # Qlib's timer: ``Time cost: 4.087s | CSZScoreNorm Done`` is how long a step of its
    # data pipeline took, no loss (its jumps had read as a spike and a divergence).
    prefix = "[23104:MainThread](2022-06-14 09:32:47,445) INFO - qlib.timer - [log.py:127] - "
    lines = [
        f"{prefix}Time cost: {t}s | {what} Done"
        for t, what in [(98.7, "Loading data"), (0.571, "DropnaLabel"), (4.087, "CSZScoreNorm")]
    ]
    for records in (read("\n".join(lines)), read_blocks(lines, 2)[1]):
        assert all("loss" not in r.metrics for r in records)
    assert read_numbered("step {i} | train cost 0.5")[0].metrics["loss"] == 0.5


def test_a_set_named_value_that_is_a_placeholder_or_below_zero_is_no_loss() -> None:
    # FedNova's CSV prints ``-1`` in its ``val`` column until it evaluates; a constant
    # is a setting, and a value at or below zero no loss.
    for values in ([-1.0] * 30, [0.5] * 30, [-0.98 + i / 1000 for i in range(30)]):
        text = "\n".join(f"epoch {e} loss {2.0 / e:.4f} val {v}" for e, v in enumerate(values, 1))
        assert all("val_loss" not in r.metrics for r in read(text))


def test_a_csv_header_may_hold_colons_inside_its_names() -> None:
    # FedNova's ``Epoch,itr,Loss,avg:Loss,Prec@1,avg:Prec@1,val,time`` (its preamble of
    # ``key,value`` rows before it).
    lines = ["BEGIN-TRAINING", "World-Size,8", "Epoch,itr,Loss,avg:Loss,Prec@1,val"]
    lines += [f"0,{50 * i},{2.5 - i / 10:.4f},2.3,12.6,-1" for i in range(1, 9)]
    for records in (read("\n".join(lines)), read_blocks(lines, 4)[1]):
        assert [r.step for r in records] == [50 * i for i in range(1, 9)]
        assert records[0].metrics["loss"] == 2.4


def test_a_norms_clipping_threshold_is_a_setting() -> None:
    # MTR prints its configuration: ``cfg.OPTIMIZATION.GRAD_NORM_CLIP: 1000.0`` is the
    # threshold, no gradient norm of 1000 (an exploding gradient on a healthy log).
    for line in [
        "cfg.OPTIMIZATION.GRAD_NORM_CLIP: 1000.0",
        "clip_grad_norm = 1.0",
        "gradient clipping threshold: 5.0",
    ]:
        assert "grad_norm" not in (read_numbered(f"step {{i}} loss 0.5 {line}")[0].metrics)
    # The norm after clipping, or before it, is a norm measured.
    for name in ("grad_norm_clipped", "total_grad_norm_before_clip_avg", "grad_norm_pre_clip"):
        assert read_numbered(f"step {{i}} loss 0.5 {name} 0.9")[0].metrics["grad_norm"] == 0.9


@pytest.mark.parametrize(
    "form",
    [
        "Epochs: {e:02d}/100| It: {b:04d}/1172| loss: 0.5",  # GroupNet: a plural axis word
        "Epo: {e}/60, It: {b:04d}/1172, loss: 0.5",  # AgentFormer: an epoch abbreviated
    ],
)
def test_an_epoch_spelled_otherwise_before_its_batch_counter_is_the_epoch(form: str) -> None:
    lines = [form.format(e=e, b=b) for e in (1, 2) for b in (100, 200)]
    for records in (read("\n".join(lines)), read_blocks(lines, 3)[1]):
        assert [r.epoch for r in records] == [1, 1, 2, 2]
        assert [r.step for r in records] == sorted({r.step for r in records})  # (in order)
    # A plural axis word alone is how many there are.
    assert (
        "number_of_epochs" in read_numbered("step {i} Number of epochs: 100, loss: 0.5")[0].metrics
    )


def test_vald_is_a_validation_sections_word() -> None:
    # Social-STGCNN and the trajectory repositories after it: ``VALD:`` tags the
    # validation's lines, ``TRAIN:`` training's (they had made one sawtooth series).
    lines = []
    for epoch in range(1, 5):
        lines.append(f"TRAIN: \t Epoch: {epoch} \t Loss: {1 / epoch:.4f}")
        lines.append(f"VALD: \t Epoch: {epoch} \t Loss: {0.5 + epoch / 10:.4f}")
    for records in (read("\n".join(lines)), read_blocks(lines, 3)[1]):
        assert [r.metrics.get("val_loss") for r in records] == [0.6, 0.7, 0.8, 0.9]


@pytest.mark.parametrize(
    "form",
    [
        "step {i} train {t:.4f} val {v:.4f}",  # stand-ins, once they fall
        "step {i} | score {t:.4f}",  # a second-tier name
        "step {i} | Training Error {t:.4f} | acc 0.5",
    ],
)
def test_a_run_whose_names_are_renamed_goes_into_columns_as_line_by_line(form: str) -> None:
    # Records whose families are names renamed (no sum, no log, no sign) are read in
    # columns under the families' names, as line by line they are renamed one by one.
    lines = []
    for i in range(1, 2001):
        t = 2.3 * math.exp(-i / 300) + 0.3
        lines.append(form.format(i=i, t=t, v=1.1 * t))
    parts, blocked = read_blocks(lines, 500)
    assert any(isinstance(part, RecordRun) for part in parts)
    one_by_one = read("\n".join(lines))
    assert [(r.step, r.metrics) for r in blocked] == [(r.step, r.metrics) for r in one_by_one]
    assert all("loss" in r.metrics for r in one_by_one[100:])


def _history_lines(form: str, epochs: int = 30) -> tuple[list[str], list[float]]:
    losses: list[float] = []
    lines = []
    for epoch in range(1, epochs + 1):
        losses.append(round(2.0 * math.exp(-epoch / 8) + 0.3, 4))
        lines.append(f"Epoch {epoch}/{epochs}")
        lines.append(form.format(history=", ".join(map(str, losses))))
    return lines, losses


@pytest.mark.parametrize(
    ("form", "name"),
    [
        ("Training losses: [{history}]", "loss"),
        ("{{'train_loss': [{history}]}}", "loss"),
        ("epoch done, loss history = [{history}], lr = 0.001", "loss_history"),
    ],
)
def test_a_history_printed_whole_each_epoch_is_read_by_its_latest_value(
    form: str, name: str
) -> None:
    # Hand-written loops print the list of every epoch's loss so far, one value longer
    # each epoch: the loss now is its last value. Read by its first, the loss had been
    # flat at the first epoch's, a false chance plateau or stall.
    lines, losses = _history_lines(form)
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert [r.metrics.get(name) for r in records] == losses
    assert not analyze_text("\n".join(lines))


def test_a_list_that_keeps_its_length_is_read_by_its_first_value() -> None:
    # A value per head, class or parameter group: the same length on every line.
    lines = [f"epoch {e} loss: [{2 / e:.4f}, {1 / e:.4f}] acc: 0.5" for e in range(1, 20)]
    for records in (read("\n".join(lines)), read_blocks(lines, 5)[1]):
        assert [r.metrics["loss"] for r in records] == [round(2 / e, 4) for e in range(1, 20)]


@pytest.mark.parametrize(
    ("printed", "meant"),
    [
        ("grdn", "grad_norm"),  # LeRobot
        ("grd_nrm", "grad_norm"),
        ("epch", "epoch"),
        ("trn_lss", "train_loss"),
        ("vld_loss", "valid_loss"),
        ("tst_acc", "test_acc"),
        ("grd_scl", "grad_scale"),
        ("prm_nrm", "param_norm"),
        ("stps", "steps"),
        ("itr", "iter"),
        ("ttl_lss", "total_loss"),
        # Not so: a word with a vowel, or not all of a word's consonants (steps a second,
        # semantic similarity, a likelihood, tokens a second, a perplexity, PSNR).
        ("sps", "sps"),
        ("eval_sts_dev", "eval_sts_dev"),  # (semantic textual similarity: not ``steps``)
        ("nll", "nll"),
        ("tps", "tps"),
        ("ppl", "ppl"),
        ("psnr", "psnr"),
        ("lr", "lr"),
        ("smpl", "smpl"),
        ("updt_s", "updt_s"),
    ],
)
def test_a_word_printed_without_its_vowels_is_that_word(printed: str, meant: str) -> None:
    assert normalise(printed) == meant


def test_lerobots_abbreviated_names_are_read_as_their_metrics() -> None:
    line = "INFO 2024-06-03 14:20:34 ts/train.py:225 step:7K smpl:58K ep:116 epch:2.32 "
    metrics = _fields(line + "loss:0.415 grdn:22.079 lr:1.0e-05 updt_s:0.149")[0]
    assert metrics["grad_norm"] == 22.079 and metrics["loss"] == 0.415


def test_a_deviance_is_a_loss() -> None:
    # -2 log-likelihood, the loss of R's gbm and glm and of H2O's models: gbm's table
    # of TrainDeviance over ValidDeviance is a training and a validation loss.
    rows = [
        f"{i:6d}  {1.3 - i / 100:12.4f}  {1.32 - i / 200:14.4f}  0.1000  0.0400"
        for i in range(1, 30)
    ]
    lines = ["Iter   TrainDeviance   ValidDeviance   StepSize   Improve", *rows]
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert records[-1].metrics["loss"] == 1.01 and records[-1].metrics["val_loss"] == 1.175


@pytest.mark.parametrize("prefix", ["", "[14:25:05.873386] ", "INFO 2023-01-05 10:10:58 - "])
def test_a_bullet_before_top_k_accuracies_sums_up_an_evaluation(prefix: str) -> None:
    # DeiT's and MAE's engine (after the PyTorch ImageNet example) sum up each evaluation
    # as ``* Acc@1 .. Acc@5 .. loss ..``: its loss is the evaluation's. Read as training's,
    # it had made a spike every epoch beside training losses 50x lower.
    lines = []
    for epoch in range(1, 13):
        for batch in (0, 20, 40):
            loss = 1.0 / epoch + batch / 1000
            lines.append(f"{prefix}Epoch: [{epoch}]  [{batch}/46]  lr: 0.0002  loss: {loss:.4f}")
        lines.append(f"{prefix}* Acc@1 78.558 Acc@5 95.350 loss {0.8 + epoch / 50:.3f}")
    for records in (read("\n".join(lines)), read_blocks(lines, 5)[1]):
        assert [r.metrics["val_loss"] for r in records if "val_loss" in r.metrics] == [
            round(0.8 + epoch / 50, 3) for epoch in range(1, 13)
        ]
        assert max(r.metrics.get("loss", 0) for r in records) == 1.04
    # A training line's top-1 accuracy is no summary (``Acc@1 74.2 (71.5)`` in a bar).
    assert "loss" in _fields("Epoch: [3][ 10/5005]  Loss 2.1 (2.2)  Acc@1 74.2 (71.5)")[0]


def _overfits(form: str) -> None:
    """``form``'s lines (``{i}`` an epoch, ``{a}`` training's loss, ``{b}`` the
    evaluation's, which bottoms out at the 8th and climbs) read as both losses, either
    way, and found overfitting."""
    train = [round(0.5 / i + 0.01, 4) for i in range(1, 40)]
    valid = [round(0.1 + abs(i - 8) / 200, 4) for i in range(1, 40)]
    lines = [form.format(i=i, a=a, b=b) for i, a, b in zip(range(1, 40), train, valid, strict=True)]
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert [r.metrics["loss"] for r in records] == train
        assert [r.metrics["val_loss"] for r in records] == valid
    assert [d.id for d in analyze_text("\n".join(lines))] == ["overfitting"]


@pytest.mark.parametrize(
    "form",
    [
        # Flux.jl's model zoo shows a NamedTuple per set: ``Train: (loss = .., acc = ..)``.
        "Epoch: {i}   Train: (loss = {a}f0, acc = 97.1)   Test: (loss = {b}f0, acc = 96.4)",
        "Epoch {i} Train {{loss: {a}, acc: 97.1}} Test {{loss: {b}, acc: 96.4}}",
        "Epoch {i} train (loss={a}, acc=97.1) valid (loss={b}, acc=96.4)",
    ],
)
def test_a_sets_pairs_grouped_after_its_name_are_that_sets(form: str) -> None:
    # The set's name before its pairs in parentheses or braces, with or without a colon,
    # scopes them as a name followed by its pairs does: the second loss is the test set's.
    _overfits(form)
    # A call's arguments are no set's pairs: ``eval(loss=2.0)`` names no evaluation.
    assert _fields("step 3 loss 0.5 eval(loss=2.0)")[0] == {"loss": 0.5}


@pytest.mark.parametrize(
    "form",
    [
        # CycleGAN: ``D_A``, ``G_A`` and their cycle and identity terms per direction.
        "(epoch: 1, iters: {i}, time: 0.2) D_A: {d} G_A: {g} cycle_A: 1.7 idt_A: 0.7",
        "(epoch: 1, iters: {i}, time: 0.3) G_GAN: {g} G_GAN_Feat: 8.3 D_real: {d} D_fake: 0.2",
        "d: {d}; g: {g}; r1: 0.0401; path: 0.0919; mean path: 0.6157",  # StyleGAN2
    ],
)
def test_a_gans_players_named_by_their_letters_make_its_loss(form: str) -> None:
    # A GAN names its players' losses by the letters G and D: where both print one and
    # no other loss is printed, they are its loss (their sum), and its NaN the run's.
    lines = [
        form.format(i=i * 100, d=f"{0.5 + i % 7 / 100:.3f}", g=f"{1.2 + i % 5 / 50:.3f}")
        for i in range(1, 40)
    ]
    lines.append(form.format(i=4000, d="nan", g="1.250"))
    for records in (read("\n".join(lines)), read_blocks(lines, 7)[1]):
        assert all("loss" in r.metrics for r in records)
        assert math.isnan(records[-1].metrics["loss"])
    assert [d.id for d in analyze_text("\n".join(lines))] == ["nan"]
    # A setting that ends in a player's letter is none (CycleGAN's ``n_layers_D: 3``), and
    # one player alone makes no GAN.
    for text in ("n_layers_D: 3, netG: 2, lambda_A: 10.0", "step 4 d: 0.51 r1: 0.04"):
        assert "loss" not in read(text)[0].metrics
    # Nor are a model's sizes players (``d_model``, ``g_dim``): sizes are whole numbers.
    assert "loss" not in read("d_model: 512, g_dim: 64, dropout: 0.1")[0].metrics


@pytest.mark.parametrize(
    "form",
    [
        "[{i}]\ttraining's l2: {a}\tvalid_1's l2: {b}",  # LightGBM, a regression's MSE
        "epoch {i} train_err {a} val_err {b}",
        "epoch {i} | err {a} | test_err {b}",
    ],
)
def test_a_stand_in_losss_twin_on_an_evaluation_set_is_the_validation_loss(form: str) -> None:
    # A run that prints no loss by name: a second-tier measure stands in for it (``l2``,
    # ``err``), and the same measure on an evaluation's set for the validation loss.
    _overfits(form)
    # An evaluation of another measure is no twin: it keeps its name.
    (record,) = read("epoch 1 train_err 0.5 val_acc 0.7")
    assert record.metrics == {"loss": 0.5, "val_acc": 0.7}
