"""Assembly of line fields into records."""

from __future__ import annotations

from gradlog.engine import Engine


def _records(text: str) -> list[tuple[object, dict[str, float]]]:
    engine = Engine()
    seen: list[tuple[object, dict[str, float]]] = []
    original = engine._observe

    def spy(recs):  # type: ignore[no-untyped-def]
        recs = list(recs)
        seen.extend((r.step, dict(r.metrics)) for r in recs)
        return original(recs)

    engine._observe = spy  # type: ignore[method-assign]
    for line in text.splitlines():
        engine.feed(line)
    engine.finish()
    return seen


def test_block_shape_fills_one_record_per_header() -> None:
    text = (
        "Epoch 1/3\nTrain Loss: 0.9, Train Acc: 0.5\n\ngrad_norm=1.0  param_norm=3.0\n"
        "Epoch 10/30\nTrain Loss: 0.7\n"
    )
    assert _records(text) == [
        (1, {"loss": 0.9, "acc": 0.5, "grad_norm": 1.0, "param_norm": 3.0}),
        (10, {"loss": 0.7}),
    ]


def test_one_record_per_line_with_printed_steps() -> None:
    text = "step 1 | loss 2.0\nstep 2 | loss 1.5\n"
    assert _records(text) == [(1, {"loss": 2.0}), (2, {"loss": 1.5})]


def test_refresh_of_the_same_step_updates_the_record() -> None:
    text = "step 1 loss 2.0\nstep 1 loss 1.9 acc 0.3\nstep 2 loss 1.5\n"
    assert _records(text) == [(1, {"loss": 1.9, "acc": 0.3}), (2, {"loss": 1.5})]


def test_lines_without_steps_are_numbered_in_order() -> None:
    text = (
        "{'loss': 2.0, 'epoch': 0.1}\n{'loss': 1.8, 'epoch': 0.2}\n"
        "{'eval_loss': 1.9, 'epoch': 0.2}\n"
    )
    assert _records(text) == [(1, {"loss": 2.0}), (2, {"loss": 1.8, "val_loss": 1.9})]


def test_identical_repeats_are_dropped() -> None:
    text = "step 1 loss 2.0\nstep 2 loss 1.0\nstep 2 loss 1.0\n"
    assert _records(text) == [(1, {"loss": 2.0}), (2, {"loss": 1.0})]
