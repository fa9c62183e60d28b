"""Metric names written in Chinese, Japanese and Korean, built from how those scripts write.

They put no blank between a name's words (训练损失: training loss) nor always between a
number and the word before or after it (第1轮: the first epoch, 121.3秒: seconds), and
Chinese and Japanese text uses full-width punctuation (``损失：0.5，``). Each case is read
line by line and in blocks, which must agree.
"""

from __future__ import annotations

import pytest

from gradlog.model import Record
from gradlog.parse.grammar import NUMBER_RE
from gradlog.parse.names import NameTable, normalise
from tests.unit.test_general_reader import read, read_blocks

LOSS_RU = (
    "\u043f\u043e\u0442\u0435\u0440\u044f"  # Russian for loss (escaped: its letters look Latin)
)


def _both(lines: list[str]) -> list[Record]:
    """The records of ``lines`` read one at a time, checked against the bulk reader's."""
    single = read("\n".join(lines))
    _, blocked = read_blocks(lines, 64)
    assert [(r.step, r.epoch, r.metrics) for r in blocked] == [
        (r.step, r.epoch, r.metrics) for r in single
    ]
    return single


@pytest.mark.parametrize(
    ("printed", "canonical"),
    [
        ("训练损失", "loss"),  # train + loss, simplified Chinese
        ("訓練損失", "loss"),  # traditional
        ("学習損失", "loss"),  # Japanese
        ("학습 손실", "loss"),  # Korean writes blanks
        ("损失值", "loss"),  # "loss value"
        ("平均损失", "loss"),
        ("验证损失", "val_loss"),
        ("驗證損失", "val_loss"),
        ("検証損失", "val_loss"),
        ("검증 손실", "val_loss"),
        ("测试集损失", "val_loss"),
        ("准确率", "acc"),
        ("正解率", "acc"),
        ("验证集准确率", "val_acc"),
        ("検証精度", "val_acc"),
        ("학습률", "lr"),
        ("学习率", "lr"),  # the learning rate, not "training" + rate
        ("学習率", "lr"),
        ("梯度范数", "grad_norm"),
        ("轮次", "epoch"),
        ("エポック", "epoch"),
        ("步数", "step"),
        ("ステップ", "step"),
    ],
)
def test_a_name_in_cjk_words_is_the_name_in_english_words(printed: str, canonical: str) -> None:
    assert NameTable().canonical(printed) == canonical


def test_names_of_words_the_vocabulary_lacks_keep_their_own_letters() -> None:
    assert normalise("模型_loss") == "模型_loss"
    speed = "\u0441\u043a\u043e\u0440\u043e\u0441\u0442\u044c"  # Russian for speed
    assert NameTable().canonical(speed) == speed  # a key of any script is a name
    assert NameTable().canonical(LOSS_RU) == "loss"  # (a word the vocabulary has)


def test_a_chinese_loop_with_full_width_punctuation_and_glued_numbers() -> None:
    lines = [
        f"第{epoch}轮，步数：{step}/100，训练损失：{0.9 - epoch / 10 - step / 1000:.4f}，"
        f"学习率：{1e-4 * step:.2e}，用时{step / 10:.1f}秒"
        for epoch in (1, 2)
        for step in (50, 100)
    ] + ["第2轮 | 验证损失: 0.5012 | 准确率: 81.5%"]
    records = _both(lines)
    assert [(r.step, r.epoch) for r in records] == [(50, 1), (100, 1), (150, 2), (200, 2)]
    assert records[0].metrics["loss"] == pytest.approx(0.75)
    assert records[0].metrics["lr"] == pytest.approx(5e-3)
    assert records[0].metrics["time"] == pytest.approx(5.0)
    assert records[-1].metrics["val_loss"] == 0.5012  # the epoch's summary joins its last step
    assert records[-1].metrics["acc"] == 81.5


@pytest.mark.parametrize(
    ("form", "axis"),
    [
        ("第 {i} 轮 损失 {v}", "epoch"),
        ("第{i}个epoch, loss: {v}", "epoch"),
        ("第 {i} 次迭代 损失={v}", "step"),
    ],
)
def test_an_ordinal_is_the_counter_named_after_its_number(form: str, axis: str) -> None:
    records = _both([form.format(i=2 * i, v=1 / i) for i in range(1, 6)])
    assert [set(r.metrics) for r in records] == [{"loss"}] * 5
    assert [getattr(r, axis) for r in records] == [2, 4, 6, 8, 10]


def test_a_japanese_loop_with_its_epoch_summaries() -> None:
    lines = []
    for epoch in range(1, 4):
        for step in (100, 200):
            loss = 2.0 / epoch - step / 1000
            lines.append(f"エポック {epoch}/3 ステップ {step}/200 損失: {loss:.4f} 学習率: 0.1000")
        lines.append(
            f"エポック {epoch}/3 損失: {loss:.4f} 検証損失: {loss + 0.1:.4f} 検証精度: 50.0%"
        )
    records = _both(lines)
    assert len(records) == 6
    assert [r.metrics.get("val_loss") for r in records][1::2] == pytest.approx([1.9, 0.9, 0.5667])
    assert {"loss", "lr", "val_acc"} <= set(records[-1].metrics)


def test_a_korean_loop() -> None:
    lines = [f"에폭 {e}/5 | 학습 손실: {1 / e:.3f} | 검증 손실: {1.2 / e:.3f}" for e in range(1, 6)]
    records = _both(lines)
    assert [r.epoch for r in records] == [1, 2, 3, 4, 5]
    assert records[-1].metrics == {"loss": 0.2, "val_loss": 0.24}


def test_settings_labelled_in_cjk_make_no_record() -> None:
    lines = [
        "超参数：批大小=64, 学习率=2e-05, 轮数=10, 权重衰减=0.01",
        "設定: バッチサイズ=128, 学習率=0.1, エポック数=40",
        *(f"step {i} | 训练损失: {1 / i:.3f}" for i in range(1, 4)),
    ]
    records = _both(lines)
    assert [r.step for r in records] == [1, 2, 3]
    assert all(set(r.metrics) == {"loss"} for r in records)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("第1轮，用时121.3秒", ["1", "121.3"]),  # glued to CJK: numbers
        ("步数50/391", ["50", "391"]),
        ("エポック3", ["3"]),
        ("v1 loss1.5 model_3b", []),  # glued to letters of other scripts: parts of words
        (f"résumé2 {LOSS_RU}3 β2", []),
    ],
)
def test_a_number_may_touch_cjk_but_no_other_letter(text: str, numbers: list[str]) -> None:
    assert [found.group("num") for found in NUMBER_RE.finditer(text)] == numbers
