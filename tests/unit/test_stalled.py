"""`stalled`: firing cases beside near misses, for each sign of no learning."""

from __future__ import annotations

import math
import random

import pytest

from gradlog.config import Thresholds
from gradlog.detectors.signs import quantum, significant_digits
from gradlog.detectors.stalled import StalledDetector
from gradlog.engine import analyze
from gradlog.model import Record, Severity
from gradlog.parse.events import OVERFLOW, SKIPPED_STEP
from tests.helpers import analyze_text, records, run
from tests.test_blocks import assert_blocks_exact

PLATEAU = Thresholds()._replace(stalled=Thresholds().stalled._replace(plateau=True))


def _noisy(level: float, count: int, noise: float = 0.05, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [round(level * math.exp(rng.gauss(0, noise)), 4) for _ in range(count)]


def _learns_then_flat(level: float, flat: int, noise: float = 0.005) -> list[float]:
    rng = random.Random(1)
    down = [level + 1.5 * math.exp(-i / 5) for i in range(30)]
    return [v * math.exp(rng.gauss(0, noise)) for v in down + [level] * flat]


def test_rule_is_on_by_default_and_its_heuristic_part_off() -> None:
    assert StalledDetector.rule.default_enabled is True
    assert Thresholds().stalled.plateau is False
    assert run("stalled", records(loss=_learns_then_flat(1.5, 80))) == []


def test_printed_precision() -> None:
    assert [significant_digits(v) for v in (0.0994, 1e-4, 2.28e-06, 1.2e-07)] == [3, 1, 3, 2]
    assert [quantum(v) for v in (0.0994, 0.941, 5e-27)] == [1e-4, 1e-3, 1e-27]


# A learning rate that is zero or has collapsed.


def test_learning_rate_zero_after_a_decay_is_a_warning() -> None:
    lrs = [1e-4 * (1 - i / 20) for i in range(20)] + [0.0] * 12  # ..., 5e-06, 0
    found = run("stalled", records(loss=_noisy(1.6, 32), lr=lrs))
    assert [(d.first_step, d.severity, d.metric) for d in found] == [(21, Severity.WARNING, "lr")]
    assert "the learning rate is 0 from epoch 21 to epoch 32" in found[0].message


def test_zero_printed_by_a_fixed_decimal_format_is_a_rounded_rate() -> None:
    # f"{lr:.4f}" of a decay from 3e-4: 0.0003, 0.0002, 0.0001, then 0.0000.
    lrs = [0.0003] * 10 + [0.0002] * 10 + [0.0001] * 8 + [0.0] * 14
    assert run("stalled", records(loss=_noisy(1.6, 42), lr=lrs)) == []


def test_zero_learning_rate_before_warmup_is_normal() -> None:
    # Megatron's fp16 start prints lr 0 while the loss scaler calibrates.
    lrs = [0.0] * 40 + [1e-4] * 20
    losses = [2.0 - 0.02 * i for i in range(60)]
    assert run("stalled", records(loss=losses, lr=lrs)) == []


def test_learning_rate_that_never_starts_is_a_warning() -> None:
    found = run("stalled", records(loss=_noisy(2.0, 60), lr=[0.0] * 60))
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.WARNING)]
    assert "it has never been positive" in found[0].message


def test_a_zero_rate_while_the_loss_moves_is_a_rate_rounded_away() -> None:
    # `lr: 0.000` (f"{lr:.3f}" of 1e-4) on every record: a loss that climbs 15x or falls
    # by half shows the weights move; a loss that only wanders stays a dead rate.
    climbing = [0.5 * 1.05**i for i in range(60)]
    falling = [2.0 * 0.99**i for i in range(60)]
    assert run("stalled", records(loss=climbing, lr=[0.0] * 60)) == []
    assert run("stalled", records(loss=falling, lr=[0.0] * 60)) == []
    wandering = _noisy(2.0, 60, noise=0.03)
    assert [d.first_step for d in run("stalled", records(loss=wandering, lr=[0.0] * 60))] == [1]
    # After a decay to 0 too: a loss climbing from the stretch's start.
    lrs = [1e-4 * (1 - i / 20) for i in range(20)] + [0.0] * 40
    rising = _noisy(1.6, 20) + [1.6 * 1.1**i for i in range(40)]
    assert run("stalled", records(loss=rising, lr=lrs)) == []


def test_a_zero_rate_of_a_diverging_run_read_from_a_log() -> None:
    rows = []
    for epoch in range(1, 31):
        loss = 0.58 * 1.1 ** max(0, epoch - 4)
        for it in (40, 80):
            rows.append(
                f"Training: Epoch {epoch} - Iteration {it} | Accuracy: 56.80% | "
                f"loss: {loss * (1 + it / 4000):.3f} | lr: 0.000 |"
            )
    text = "\n".join(rows)
    for found in (analyze_text(text), list(analyze(rows).diagnoses)):
        assert "stalled" not in {d.id for d in found}
        assert "divergence" in {d.id for d in found}


def test_last_records_of_a_decay_to_zero_are_normal() -> None:
    lrs = [1e-4 * (1 - i / 90) for i in range(90)] + [0.0] * 10
    losses = [2.0 - 0.01 * i for i in range(100)]
    assert run("stalled", records(loss=losses, lr=lrs)) == []


def test_learning_rate_collapsed_a_millionfold_is_a_warning() -> None:
    # ReduceLROnPlateau without a floor: 0.05 divided by 10 every epoch from epoch 5;
    # 5e-08 at epoch 10 is a millionth of it.
    lrs = [0.05] * 4 + [0.05 * 10.0**-i for i in range(1, 27)]
    found = run("stalled", records(loss=_noisy(0.1, 30, noise=0.02), lr=lrs))
    assert [(d.first_step, d.severity) for d in found] == [(10, Severity.WARNING)]
    assert "5.00e-28 at epoch 30" in found[0].message
    assert "below its peak 0.05" in found[0].message


def test_learning_rate_halved_a_few_times_is_normal() -> None:
    # ReduceLROnPlateau's usual life: halved three times, then held.
    lrs = [1e-3] * 10 + [5e-4] * 10 + [2.5e-4] * 10 + [1.25e-4] * 30
    assert run("stalled", records(loss=_learns_then_flat(0.3, 30), lr=lrs)) == []


def test_warm_restarts_to_a_zero_floor_are_normal() -> None:
    # Cosine annealing with warm restarts every 90 steps, eta_min 0.
    lrs = [5e-4 * (1 + math.cos(math.pi * (i % 90) / 90)) / 2 for i in range(450)]
    assert run("stalled", records(loss=_noisy(0.05, 450, noise=0.3), lr=lrs)) == []


def test_collapsed_learning_rate_with_a_falling_loss_is_not_reported() -> None:
    lrs = [0.05] * 4 + [0.05 * 10.0**-i for i in range(1, 27)]
    losses = [1.0 * 0.9**i for i in range(30)]
    assert run("stalled", records(loss=losses, lr=lrs)) == []


# A loss printed identically epoch after epoch.


def test_validation_loss_identical_every_epoch_is_a_warning() -> None:
    found = run("stalled", records(loss=_noisy(0.9, 20), val_loss=[0.9285] * 20))
    assert [(d.first_step, d.severity, d.metric) for d in found] == [
        (1, Severity.WARNING, "val_loss")
    ]
    assert "the validation loss is 0.9285 on 20 epochs in a row" in found[0].message
    assert found[0].count == 20


def test_loss_frozen_after_learning_names_the_learning_rate() -> None:
    losses = [0.659, 0.3946, 0.155, 0.1325, 0.1045] + [0.0994] * 10
    found = run("stalled", records(loss=losses, lr=[1e-3] * 15))
    assert [d.first_step for d in found] == [6]
    assert "the loss is 0.0994 on 10 epochs in a row, epoch 6 to epoch 15" in found[0].message
    assert "lr 0.001" in found[0].message


def test_a_value_repeated_four_times_is_not_frozen() -> None:
    losses = [0.659, 0.3946, 0.155, 0.1325] + [0.0994] * 4 + [0.0951, 0.0932]
    assert run("stalled", records(loss=losses)) == []


def test_repeats_near_zero_at_the_printed_precision_are_convergence() -> None:
    losses = [0.5, 0.1234, 0.0412, 0.0103] + [0.0012] * 20  # 2 significant digits
    assert run("stalled", records(loss=losses)) == []


def test_the_last_epochs_of_an_annealed_run_may_repeat() -> None:
    losses = [round(0.3 + 1.0 * math.exp(-i / 8), 4) for i in range(40)] + [0.3001] * 6
    assert run("stalled", records(loss=losses)) == []


def test_repeats_at_a_chance_level_are_left_to_chance_plateau() -> None:
    assert run("stalled", records(loss=[0.6931] * 20)) == []


def test_evaluation_on_one_phase_of_an_exact_cycle_is_oscillation() -> None:
    losses = [0.67787, 0.744074] * 40
    val = [0.6249 if i % 10 == 9 else None for i in range(80)]  # 8 evaluations
    assert run("stalled", records(loss=losses, val_loss=val)) == []


def _bar(epochs: int, per_epoch: int, values: list[float]) -> list[Record]:
    """A progress bar: each step shows the last validation value, carried between runs."""
    out = []
    for step in range(epochs * per_epoch):
        epoch = step // per_epoch
        val = values[epoch - 1] if epoch else None
        metrics = {"loss": round(0.5 + 0.1 * math.sin(step), 3)}
        metrics |= {"val_loss": val} if val is not None else {}
        out.append(Record(step=step + 1, line=step + 1, metrics=metrics, epoch=epoch))
    return out


def test_a_bar_repeating_one_evaluation_through_an_epoch_is_not_frozen() -> None:
    # Validated every 10 epochs, the bar shows the same value for 10 epochs.
    values = [0.498] * 9 + [0.471] * 10 + [0.455] * 10
    assert run("stalled", _bar(30, 5, values)) == []


def test_a_bar_showing_the_same_evaluation_every_epoch_is_a_warning() -> None:
    values = [0.498] + [0.496] * 9  # validated every epoch: one change, then none
    found = run("stalled", _bar(11, 5, values))
    assert [(d.severity, d.metric) for d in found] == [(Severity.WARNING, "val_loss")]


# Optimizer steps skipped.


def _skips(pattern: str) -> list[float | None]:
    return [1.0 if c == "s" else None for c in pattern]


def test_every_step_skipped_is_a_warning() -> None:
    found = run("stalled", records(loss=_noisy(0.53, 6), skipped_step=_skips("..ssss")))
    assert [(d.first_step, d.severity, d.metric) for d in found] == [
        (3, Severity.WARNING, SKIPPED_STEP)
    ]
    assert "skipped on 4 of the 4 records" in found[0].message


def test_occasional_skips_are_normal() -> None:
    pattern = "..s.....s..s......s...s..s....."
    losses = _learns_then_flat(0.53, 1)
    assert run("stalled", records(loss=losses, skipped_step=_skips(pattern))) == []


def test_overflow_skips_are_left_to_the_loss_scale_rule() -> None:
    recs = records(loss=_noisy(0.53, 8), skipped_step=_skips("ssssssss"), **{OVERFLOW: [1] * 8})
    assert run("stalled", recs) == []


def test_skips_that_stop_are_info() -> None:
    recs = records(loss=_noisy(0.53, 16), skipped_step=_skips("ssss" + "." * 12))
    found = run("stalled", recs)
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.INFO)]
    assert "then the signs lapsed" in found[0].message


def test_skip_sentences_become_an_episode_through_the_engine() -> None:
    lines = [f"step {i} | loss {0.5 + 0.01 * (i % 3):.4f} | lr 3.0e-04" for i in range(1, 6)]
    lines += [f"Step {i}: grad norm 2.2 above 2.0; skipping optimizer step." for i in range(6, 12)]
    lines.append("step 12 | loss 0.5100 | lr 3.0e-04")
    found = [d for d in analyze_text("\n".join(lines)) if d.id == "stalled"]
    assert [(d.first_step, d.severity) for d in found] == [(6, Severity.WARNING)]
    assert "skipped on 6 of the 7 records" in found[0].message
    assert "lr 3.00e-04" in found[0].message


# The heuristic part, opt-in: the loss stopped improving.


def test_loss_flat_for_the_last_half_of_the_run_is_a_warning() -> None:
    found = run("stalled", records(loss=_learns_then_flat(1.5, 80)), PLATEAU)
    assert [d.severity for d in found] == [Severity.WARNING]
    assert 25 <= found[0].first_step <= 45  # type: ignore[operator]
    assert "has not improved by more than 1%" in found[0].message


def test_flat_for_less_than_half_the_run_is_not_yet_a_stall() -> None:
    assert run("stalled", records(loss=_learns_then_flat(1.5, 20)), PLATEAU) == []


def test_flat_at_a_chance_level_is_left_to_chance_plateau() -> None:
    assert run("stalled", records(loss=_learns_then_flat(math.log(10), 80)), PLATEAU) == []


def test_converged_near_zero_is_not_a_stall() -> None:
    rng = random.Random(2)
    losses = [2.3 * math.exp(-i / 3) + 0.01 * math.exp(rng.gauss(0, 0.1)) for i in range(90)]
    assert run("stalled", records(loss=losses), PLATEAU) == []


def test_slow_steady_progress_is_not_a_stall() -> None:
    rng = random.Random(4)
    losses = [
        (2.0 + 8.0 * (1 + i / 50) ** -0.5) * math.exp(rng.gauss(0, 0.05)) for i in range(2000)
    ]
    assert run("stalled", records(loss=losses), PLATEAU) == []


def test_stall_that_ends_in_progress_is_info() -> None:
    losses = _learns_then_flat(1.5, 80) + [1.5 * 0.97**i for i in range(1, 30)]
    found = run("stalled", records(loss=losses), PLATEAU)
    assert [d.severity for d in found] == [Severity.INFO]
    assert "then improved again" in found[0].message


def _rates(cer: list[float], losses: list[float], name: str = "val_cer") -> list[Record]:
    return [
        Record(step, step, {"loss": loss, name: rate})
        for step, (rate, loss) in enumerate(zip(cer, losses, strict=True), 1)
    ]


def _ids(records: list[Record]) -> list[tuple[str, object]]:
    detector = StalledDetector(Thresholds())
    found = [d for r in records for d in detector.observe(r)] + list(detector.finish())
    return sorted({(d.id, d.first_step) for d in found}, key=repr)


@pytest.mark.parametrize("name", ["val_cer", "wer", "tr.wer", "top1_err", "error_rate"])
def test_an_error_rate_pinned_at_one_while_the_loss_is_flat_is_a_stall(name: str) -> None:
    rates = [0.97, 0.93, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    flat = [3.1, 2.9, 3.32, 3.323, 3.324, 3.322, 3.321, 3.323]
    assert _ids(_rates(rates, flat, name)) == [("stalled", 3)]


def test_an_error_rate_in_percent_pinned_at_100_is_a_stall() -> None:
    assert _ids(_rates([100.0] * 6, [2.0 + i / 1000 for i in range(6)])) == [("stalled", 1)]


def test_blank_outputs_while_the_loss_falls_are_a_start_not_a_stall() -> None:
    # A CTC model emits blanks (an error rate of exactly 1) while its loss falls.
    falling = [300.0 / (1 + i) for i in range(12)]
    assert _ids(_rates([1.0] * 12, falling)) == []


@pytest.mark.parametrize(
    ("name", "rates"),
    [
        ("val_cer", [0.99, 0.98, 1.0, 0.99, 1.0, 0.97, 1.0, 0.99]),  # never 5 in a row
        ("mean_squared_error", [1.0] * 8),  # a distance, not a rate
        ("val_acc", [1.0] * 8),  # a perfect accuracy is no error
    ],
)
def test_no_stall_without_a_rate_pinned_at_its_maximum(name: str, rates: list[float]) -> None:
    flat = [3.32 + (i % 2) / 1000 for i in range(8)]
    assert _ids(_rates(rates, flat, name)) == []


def _from(first: int, losses: list[float]) -> list[Record]:
    return [Record(step=first + i, line=i + 1, metrics={"loss": v}) for i, v in enumerate(losses)]


def test_a_loss_that_never_left_where_it_began_is_stalled() -> None:
    """NCF's ``loss = 0.5003`` for 160 iterations: never 3% below its first level."""
    found = run("stalled", _from(0, _noisy(0.5003, 160, noise=0.005)))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert "never left the level it began at" in found[0].message
    assert found[0].first_step == 0


@pytest.mark.parametrize(
    ("first", "losses"),
    [
        (5000, _noisy(0.5003, 160, noise=0.005)),  # an excerpt: not the run's start
        (1, _noisy(0.5003, 29, noise=0.005)),  # too short to tell
        (1, _learns_then_flat(0.5, 40)),  # it learned
        (1, [0.5 * 0.999**i for i in range(60)]),  # 6% down, slowly: it learns
        (1, _noisy(0.6931, 100, noise=0.001)),  # at chance: chance_plateau's
        (1, [0.5 * 1.002**i for i in range(100)]),  # climbing: divergence's
    ],
)
def test_a_loss_that_moved_or_was_not_seen_from_the_start_is_not(
    first: int, losses: list[float]
) -> None:
    assert run("stalled", _from(first, losses)) == []


def test_the_start_is_one_logging_interval_from_step_zero() -> None:
    losses = _noisy(0.5003, 160, noise=0.005)
    every_100 = [
        Record(step=100 * (i + 1), line=i + 1, metrics={"loss": v}) for i, v in enumerate(losses)
    ]
    assert [d.id for d in run("stalled", every_100)] == ["stalled"]


@pytest.mark.parametrize(("first_epoch", "found"), [(0.03, ["stalled"]), (1.5, [])])
def test_the_start_is_one_logging_interval_from_epoch_zero(
    first_epoch: float, found: list[str]
) -> None:
    # HF's dicts print no step: a settings banner before them is a record of its own,
    # and the first loss is numbered 2. Its epoch (0.03, one interval in, rounded) shows
    # the run's start; an excerpt from epoch 1.5 does not.
    losses = _noisy(0.5003, 160, noise=0.005)
    banner = Record(step=1, line=1, metrics={"lora_r": 8.0, "num_epochs": 3.0})
    dicts = [
        Record(
            step=i + 2, line=i + 2, metrics={"loss": v}, epoch=round(first_epoch + i * 0.0258, 2)
        )
        for i, v in enumerate(losses)
    ]
    assert [d.id for d in run("stalled", [banner, *dicts])] == found
    assert_blocks_exact(StalledDetector, [banner, *dicts], "stalled")


def _converged_early(accs: list[float]) -> list[Record]:
    """TFRS's two-tower retrieval: a loss summed over each batch falls 14% in its first
    epochs and then holds its level, beside an accuracy (``accs``, one an epoch)."""
    rng = random.Random(5)
    losses = [70042.0, 65359.0, 62748.0, 61600.0, 61100.0]
    losses += [60800 * math.exp(rng.gauss(0, 0.004)) for _ in range(len(accs) - 5)]
    return [
        Record(step=i + 1, line=i + 1, metrics={"loss": v, "acc": a})
        for i, (v, a) in enumerate(zip(losses, accs, strict=True))
    ]


def test_a_loss_that_converged_early_beside_a_rising_accuracy_is_no_stall() -> None:
    # Its level (the median of its first nine losses) is where the loss already sits:
    # the loss alone reads as never having left it. Its top-1 accuracy tripled.
    rising = _converged_early([0.0019 + 0.0034 * min(1.0, i / 20) for i in range(30)])
    assert run("stalled", rising) == []
    assert_blocks_exact(StalledDetector, rising, "rising accuracy")
    # The same losses beside an accuracy that stays put: nothing learned.
    flat = _converged_early([0.0019 * (1 + 0.05 * (i % 3)) for i in range(30)])
    assert [d.id for d in run("stalled", flat)] == ["stalled"]
    assert_blocks_exact(StalledDetector, flat, "flat accuracy")


def test_a_loss_below_zero_that_never_left_where_it_began_is_stalled() -> None:
    # BYOL's negative cosine similarity goes from about -0.3 toward -0.9 when it learns;
    # one that holds at -0.30 for 100 epochs learned nothing. Its bars are shares of the
    # level's size.
    flat = _from(0, [-v for v in _noisy(0.3017, 100, noise=0.005)])
    found = run("stalled", flat)
    assert [d.id for d in found] == ["stalled"]
    assert_blocks_exact(StalledDetector, flat, "below zero")
    learning = _from(0, [-0.3 - 0.006 * i for i in range(100)])  # toward -0.9: it learns
    assert run("stalled", learning) == []


def test_a_flat_loss_just_under_a_chance_level_is_a_stall_without_an_accuracy_there() -> None:
    # OGB's link predictor sums two BCE terms to 1.045, 4.9% under ln 3: chance_plateau
    # reports a level under ln(K) only beside an accuracy at 1/K, so a flat one with no
    # such accuracy is a stall; beside one, it is that rule's.
    flat = [
        Record(step=i + 1, line=i + 1, metrics={"loss": v})
        for i, v in enumerate(_noisy(1.0452, 60, noise=0.0003))
    ]
    assert [d.id for d in run("stalled", flat)] == ["stalled"]
    assert_blocks_exact(StalledDetector, flat, "under chance")
    at_third = [Record(r.step, r.line, {**r.metrics, "acc": 0.334}) for r in flat]
    assert run("stalled", at_third) == []
    at_ln_3 = [
        Record(step=i + 1, line=i + 1, metrics={"loss": v})
        for i, v in enumerate(_noisy(1.0986, 60, noise=0.0003))
    ]
    assert run("stalled", at_ln_3) == []  # (within 1% of ln 3: chance_plateau's alone)
