"""Assembly of line fields into records."""

from __future__ import annotations

from gradlog.engine import Engine, analyze


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


def _frozen_after_learning(copies: int = 1) -> str:
    """A loop that prints no step: a falling loss, then the same numbers line after line
    (each printed ``copies`` times, as by a logger with that many handlers)."""
    losses = [f"{0.9 - 0.01 * i:.4f}" for i in range(12)] + ["0.7900"] * 20
    return "".join(f"loss: {loss}  acc: 0.5000\n" * copies for loss in losses)


def test_a_frozen_loss_printed_without_a_step_is_a_record_a_line() -> None:
    # The log printed its first records once each: the same numbers on the next line
    # are the run's next iteration, not the line printed twice.
    found = _records(_frozen_after_learning())
    assert len(found) == 32
    assert [step for step, _ in found] == list(range(1, 33))
    assert found[-1] == (32, {"loss": 0.79, "acc": 0.5})


def test_a_log_that_prints_each_line_twice_keeps_a_record_per_pair() -> None:
    # Two handlers (or two ranks) print every line twice: a copy joins its record, and
    # the frozen stretch is still a record per printed pair.
    assert len(_records(_frozen_after_learning(copies=2))) == 32
    assert len(_records(_frozen_after_learning(copies=4))) == 32


def test_a_loss_frozen_from_the_first_line_is_taken_as_frozen() -> None:
    # Nothing shows yet how the log prints: after more copies than any handler or rank
    # count would make, each further line is a record.
    found = _records("loss: 0.6931  acc: 0.5000\n" * 40)
    assert len(found) == 33
    assert found[-1][1] == {"loss": 0.6931, "acc": 0.5}


def test_the_same_values_on_separated_lines_still_join() -> None:
    # Not the next line (a model printout's repeated layer settings between others):
    # the record takes them as before.
    text = "loss: 0.5\nsaving checkpoint\nloss: 0.5\nloss: 0.4\n"
    assert _records(text) == [(1, {"loss": 0.5}), (2, {"loss": 0.4})]


def test_a_bar_that_counted_on_with_the_same_postfix_is_the_next_record() -> None:
    # tqdm with ``set_postfix``: the count moved on, the values did not (a loss printed
    # to two decimals, a frozen one): a record per count. The same count drawn again
    # is the same record.
    def bar(index: int, loss: str) -> str:
        return f" {index}%|#    | {index}/50 [00:01<00:02, 20.1it/s, loss={loss}]"

    lines = [bar(1, "0.71"), bar(2, "0.69"), bar(3, "0.69"), bar(3, "0.69"), bar(4, "0.69")]
    found = _records("\n".join(lines) + "\n")
    assert [metrics["loss"] for _, metrics in found] == [0.71, 0.69, 0.69, 0.69]
    # Redrawn in place with ``\r``, as a terminal's bar is captured: the same.
    assert _records("\r".join(lines) + "\n") == found


def test_a_frozen_loss_without_steps_is_diagnosed_where_it_froze() -> None:
    # End to end: the frozen stretch had been one record, so nothing was found.
    losses = [1.2 * 0.98**i + 0.3 + 0.02 * (-1) ** i for i in range(100)] + [0.4123] * 200
    report = analyze(f"loss: {loss:.4f}  acc: 0.6000" for loss in losses)
    stalled = [d for d in report.diagnoses if d.id == "stalled"]
    assert stalled and stalled[0].first_step == 101 and stalled[0].last_step == 300
