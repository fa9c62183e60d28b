"""A live input that pauses must give the same records as the same log read whole."""

from __future__ import annotations

from gradlog.engine import EAGER_EVERY, Engine, analyze
from gradlog.live import Watcher
from gradlog.model import Diagnosis

KERAS = [
    "Epoch 1/3",
    "469/469 [==============================] - 4s 8ms/step - loss: 0.9124 - val_loss: 0.88",
    "Epoch 2/3",
    " 64/469 [===>..........................] - ETA: 3s - loss: 0.4518",
    "469/469 [==============================] - 4s 8ms/step - loss: 0.4124 - val_loss: 0.41",
    "Epoch 3/3",
    " 64/469 [===>..........................] - ETA: 3s - loss: nan",
    "469/469 [==============================] - 4s 8ms/step - loss: nan - val_loss: nan",
]


def _run(pause_after_each_line: bool) -> list[tuple[str, object, object]]:
    engine = Engine("live")
    for line in KERAS:
        engine.feed(line)
        if pause_after_each_line:
            engine.idle()
    return [(d.id, d.first_step, d.line) for d in engine.finish().diagnoses]


def test_pauses_do_not_change_the_diagnoses() -> None:
    assert _run(True) == _run(False) == [("nan", 3, 6)]


def test_a_nan_in_an_open_block_is_emitted_at_the_pause() -> None:
    engine = Engine("live")
    for line in KERAS[:7]:
        engine.feed(line)
    assert [d.id for d in engine.idle()] == ["nan"]


def test_a_repeated_step_number_does_not_hide_a_second_episode() -> None:
    engine = Engine("restarted")
    for line in ["step 1 loss 2.0", "step 2 loss nan", "step 1 loss 2.0", "step 2 loss nan"]:
        engine.feed(line)
    assert [(d.id, d.line) for d in engine.finish().diagnoses] == [("nan", 2), ("nan", 4)]


def test_a_pause_inside_a_step_less_record_does_not_split_it() -> None:
    # The pause judges the open record (the NaN is announced at once), but the record
    # stays open: the value printed after the pause joins it, as in the saved log.
    lines = ["loss 0.9", "loss 0.8", "val_loss nan"]
    engine = Engine("live")
    engine.feed(lines[0])
    engine.feed(lines[1])
    engine.feed(lines[2])
    assert [d.id for d in engine.idle()] == ["nan"]
    engine.feed("val_acc 0.5")
    live = engine.finish()
    saved = analyze([*lines, "val_acc 0.5"])
    assert live.input.records == saved.input.records == 2
    assert [(d.id, d.first_step) for d in live.diagnoses] == [
        (d.id, d.first_step) for d in saved.diagnoses
    ]


def test_a_nan_is_announced_by_its_own_line() -> None:
    # Its record is still open (a next line might add to step 2), yet the alert comes now,
    # and only once, though the rules find it again when the record completes.
    alerts: list[str] = []
    watcher = Watcher(Engine("live"), lambda diagnosis, previous: alerts.append(diagnosis.id))
    watcher.feed(b"step 1 | loss 2.0 | grad_norm 0.9\n")
    assert alerts == []
    watcher.feed(b"step 2 | loss nan | grad_norm nan\n")
    assert alerts == ["nan"]
    watcher.feed(b"step 3 | loss nan | grad_norm nan\nstep 4 | loss nan | grad_norm nan\n")
    report = watcher.finish()
    assert alerts == ["nan"] and report is not None
    assert [d.id for d in report.diagnoses] == ["nan"]


def test_a_metric_nan_on_every_other_record_is_judged_early_only_now_and_then() -> None:
    # Each early judgement copies the rules' state: a metric printed as nan on every
    # other line must not pay for one each time (at most one in EAGER_EVERY records).
    engine = Engine("live")
    engine.eager = True
    calls = []
    original = engine.idle

    def counted() -> list[Diagnosis]:
        calls.append(1)
        return original()

    setattr(engine, "idle", counted)  # noqa: B010 - an instance's method, replaced
    for i in range(1, 2001):
        engine.feed(f"step {i} | loss 1.0 | val_loss {'nan' if i % 2 else 0.5}")
    assert 1 <= len(calls) <= 2000 // EAGER_EVERY + 1


def test_a_saved_log_is_never_judged_early() -> None:
    engine = Engine("saved")
    engine.feed("step 1 | loss 2.0")
    assert engine.feed("step 2 | loss nan") == []  # announced when step 2 completes
