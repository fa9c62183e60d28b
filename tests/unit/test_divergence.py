"""`divergence`: firing cases beside near misses."""

from __future__ import annotations

import math
import random
import re

from gradlog.detectors.divergence import DivergenceDetector
from gradlog.model import Confidence, Severity
from tests.helpers import records, run
from tests.test_blocks import assert_blocks_exact


def _falls_then_rises(peak: float, climb: int = 8, after: int = 0) -> list[float]:
    """An epoch log: 1.0 down to 0.25 over 14 records, then a steady climb to ``peak``."""
    down = [0.25 + 0.75 * math.exp(-i / 3) for i in range(14)]  # best 0.2598 at record 14
    up = [down[-1] * (peak / down[-1]) ** ((i + 1) / climb) for i in range(climb)]
    return down + up + [peak] * after


# --- a level climb in a short, smooth log


def test_short_steady_climb_is_found_from_the_record_after_the_best() -> None:
    found = run("divergence", records(loss=_falls_then_rises(0.7)))
    assert [(d.id, d.severity) for d in found] == [("divergence", Severity.WARNING)]
    assert found[0].first_step == 15
    assert "rose from its best 0.25984 at epoch 14" in found[0].message


def test_climb_short_of_the_rise_floor_is_not_a_divergence() -> None:
    assert run("divergence", records(loss=_falls_then_rises(0.33, after=10))) == []


def test_climb_back_above_where_the_run_started_is_an_error() -> None:
    found = run("divergence", records(loss=_falls_then_rises(1.0)))
    assert [d.severity for d in found] == [Severity.ERROR]
    assert "back above where the run started" in found[0].message


def test_climb_past_five_times_the_best_is_an_error() -> None:
    losses = [4.0 * math.exp(-i / 3) + 0.1 for i in range(14)] + [0.1 * 1.5**i for i in range(6)]
    found = run("divergence", records(loss=losses))
    assert [d.severity for d in found] == [Severity.ERROR]


# --- persistence and return


def test_step_to_a_moderately_higher_level_that_holds_is_not_a_divergence() -> None:
    losses = _falls_then_rises(0.25) + [0.42] * 20  # 1.6x its best, flat: a new stage
    assert run("divergence", records(loss=losses)) == []


def test_step_far_above_the_best_that_holds_is_a_divergence() -> None:
    losses = _falls_then_rises(0.25) + [0.8] * 6  # 3x its best, and it stays
    found = run("divergence", records(loss=losses))
    assert [d.id for d in found] == ["divergence"]
    assert found[0].first_step == 23


def test_bump_that_falls_back_is_not_a_divergence() -> None:
    losses = _falls_then_rises(0.25)
    losses += [0.65, 0.55, 0.45, 0.36, 0.3, 0.26, 0.25, 0.25]  # a warm restart's bump
    assert run("divergence", records(loss=losses)) == []


def test_running_average_diluting_a_bad_stretch_is_not_a_divergence() -> None:
    # The epoch's running average, printed every 10 of 200 batches; batches 20-27 of
    # epoch 5 lose 35x. The average jumps 5x at once, then falls back for the rest of
    # the epoch as good batches dilute them: held far above its best by its ends, but
    # falling all the way, and back at its level when the next epoch starts.
    from tests.test_blocks_divergence import _running_average

    for seed in range(3):
        recs = list(_running_average(random.Random(seed), bad_epoch=5))
        found = run("divergence", recs)
        assert [d for d in found if 95 <= d.first_step <= 120] == [], seed


def test_single_spike_is_left_to_loss_spike() -> None:
    losses = _falls_then_rises(0.25) + [0.25] * 10
    losses[25] = 30.0
    assert run("divergence", records(loss=losses)) == []


def test_short_validation_log_that_jumps_and_never_returns_is_found() -> None:
    # Eight evaluations: 2x its best, partly back to 1.46x, then up again; never near 6.
    values = [6.0, 12.4, 11.7, 9.2, 8.9, 8.9, 8.8, 8.75, 11.8]
    found = run("divergence", records(val_loss=values))
    assert [(d.id, d.metric, d.first_step) for d in found] == [("divergence", "val_loss", 2)]
    assert "the validation loss rose" in found[0].message


def test_noisy_short_log_of_single_batches_is_not_judged_a_divergence() -> None:
    values = [0.50, 0.61, 0.98, 0.56, 0.81, 0.50, 0.88, 0.94, 1.03, 0.40, 1.00, 1.74, 0.49]
    assert run("divergence", records(loss=values)) == []


def test_noisy_log_read_value_by_value_is_not_judged() -> None:
    # Single batches with about 35% scatter: the low second value is luck, not a best.
    values = [0.85, 0.52, 1.67, 3.12, 1.2, 1.63, 1.64, 1.38, 1.38, 1.56, 0.91, 0.55]
    assert run("divergence", records(loss=values)) == []


# --- noise


def test_noisy_healthy_run_with_warmup_and_cosine_decay_is_clean() -> None:
    rng = random.Random(7)
    losses = []
    for i in range(3000):
        lr = min(1.0, i / 300) * 0.5 * (1 + math.cos(math.pi * i / 3000))
        level = 0.6 + 2.0 * math.exp(-i / 600) + 0.05 * lr
        losses.append(level * math.exp(rng.gauss(0, 0.25)))
    assert run("divergence", records(loss=losses)) == []


def test_noisy_plateau_after_learning_is_clean() -> None:
    rng = random.Random(11)
    losses = [(0.5 + 2.0 * math.exp(-i / 40)) * math.exp(rng.gauss(0, 0.35)) for i in range(2000)]
    assert run("divergence", records(loss=losses)) == []


def test_noisy_climb_is_found_with_a_longer_median() -> None:
    rng = random.Random(3)
    down = [1.0 + 1.3 * math.exp(-i / 100) for i in range(600)]
    up = [1.0 * 3.0 ** ((i + 1) / 300) for i in range(300)]
    losses = [v * math.exp(rng.gauss(0, 0.3)) for v in down + up]
    found = run("divergence", records(loss=losses))
    assert [d.id for d in found] == ["divergence"]
    assert 540 <= found[0].first_step <= 640  # type: ignore[operator]
    assert "median of the last 51 records" in found[0].message


def test_converged_loss_wobbling_near_zero_is_not_a_divergence() -> None:
    losses = [2.3 * math.exp(-i / 3) for i in range(30)] + [0.004, 0.009] * 10
    assert run("divergence", records(loss=losses)) == []


def test_negative_losses_are_not_judged_by_ratio() -> None:
    losses = [-1.0 - i / 10 for i in range(20)] + [-0.2] * 20
    assert run("divergence", records(loss=losses)) == []


# --- blow-up


def test_loss_that_blows_up_orders_of_magnitude_is_found_in_four_records() -> None:
    found = run("divergence", records(loss=[0.85, 2.44, 6.3e4, 1.1e13]))
    assert [(d.severity, d.first_step) for d in found] == [(Severity.ERROR, 3)]
    assert "blew up" in found[0].message


def test_blow_up_that_comes_back_at_once_is_a_spike_not_a_divergence() -> None:
    losses = [2.3, 2.0, 1.8, 1.7, 2.1e4, 1.6, 1.55, 1.5]
    assert run("divergence", records(loss=losses)) == []


def test_two_records_a_hundred_times_up_are_no_blow_up() -> None:
    assert run("divergence", records(loss=[2.3, 2.0, 1.8, 200.0, 190.0])) == []


# --- validation loss and learning rate


def test_validation_loss_rising_while_training_falls_is_left_to_overfitting() -> None:
    train = [1.0 * 0.85**i for i in range(20)]
    val = [1.0 - 0.05 * i for i in range(6)] + [0.75 + 0.15 * i for i in range(14)]
    assert run("divergence", records(loss=train, val_loss=val)) == []


def test_validation_loss_climbing_with_the_training_loss_is_one_divergence() -> None:
    train = _falls_then_rises(0.7)
    val = [v * 1.1 for v in train]
    found = run("divergence", records(loss=train, val_loss=val))
    assert [d.id for d in found] == ["divergence"]


def test_validation_climb_counts_when_the_training_loss_is_well_above_its_best() -> None:
    # The training loss is noisy, so its own climb is not proved; it confirms the val one.
    rng = random.Random(5)
    train = [v * math.exp(rng.gauss(0, 0.12)) for v in _falls_then_rises(0.9, after=6)]
    val = _falls_then_rises(0.9, after=6)
    found = run("divergence", records(loss=train, val_loss=val))
    assert [(d.metric, d.first_step) for d in found] == [("val_loss", 15)]
    assert "the training loss rose with it" in found[0].message


def test_validation_climb_beside_a_flat_training_loss_is_not_a_divergence() -> None:
    train = [1.0 * 0.8**i for i in range(14)] + [0.044] * 14
    val = _falls_then_rises(0.9, after=6)
    assert run("divergence", records(loss=train, val_loss=val)) == []


def test_few_records_at_twice_the_level_in_a_long_smooth_log_are_not_a_divergence() -> None:
    losses = [2.0 + 3.0 * math.exp(-i / 30) + 0.01 * (i % 3) for i in range(300)]
    losses[200:203] = [5.0, 5.1, 5.05]  # a spike that holds three logging intervals
    assert run("divergence", records(loss=losses)) == []


def test_learning_rate_that_rose_during_the_climb_is_named_and_raises_confidence() -> None:
    losses = _falls_then_rises(0.5)
    lrs = [0.01 * (i + 1) for i in range(len(losses))]
    found = run("divergence", records(loss=losses, lr=lrs))
    assert found[0].confidence == Confidence.HIGH
    assert "(lr 0.14 -> 0.22: it rose during the climb)" in found[0].message


def test_constant_learning_rate_is_named_without_raising_confidence() -> None:
    losses = _falls_then_rises(0.45)
    found = run("divergence", records(loss=losses, lr=[3e-4] * len(losses)))
    assert found[0].confidence == Confidence.MEDIUM
    assert found[0].message.endswith("(lr 3.00e-04)")


def test_learning_rate_of_one_or_more_is_evidence() -> None:
    losses = _falls_then_rises(0.45)
    found = run("divergence", records(loss=losses, lr=[1.5] * len(losses)))
    assert found[0].confidence == Confidence.HIGH
    assert "a learning rate of 1 or more" in found[0].message


def test_a_climb_that_ended_still_counts_its_longest_run_above_the_bar() -> None:
    """Told again when the level is back at its best, the climb keeps what proved it: the
    longest run of records above the bar, not the run at its end (none)."""
    losses = _falls_then_rises(0.8) + [0.8] * 6 + [0.5, 0.3] + [0.26] * 12
    found = run("divergence", records(loss=losses))
    assert [d.id for d in found] == ["divergence"]
    held = re.search(r"for (\d+) records in a row", found[0].message)
    assert held is not None and int(held.group(1)) >= 6
    # ... and tells how high it rose, and where it fell back: its last level above the
    # bar, on the way down, had read as a rise of 1.x beside "stayed 1.4x above".
    assert "to 0.8 at epoch 22 (3.1x)" in found[0].message
    assert "fell back toward its best after epoch" in found[0].message


# --- a log that ends in a climb too short to prove


def test_a_log_that_ends_in_a_steep_climb_is_a_divergence() -> None:
    # char-rnn aborts ("loss is exploding, aborting.") 7 records into a climb, each
    # record 1.45x the one before: too few records for the persistence rule.
    losses = [2.3 * math.exp(-i / 40) + 1.3 for i in range(240)]
    losses += [losses[-1] * 1.45**k for k in range(1, 8)]
    found = run("divergence", records(loss=losses))
    assert [(d.severity, d.first_step) for d in found] == [(Severity.ERROR, 241)]
    assert "the log ends as it climbs" in found[0].message


def test_a_log_that_ends_rising_less_or_on_the_way_down_is_not() -> None:
    losses = [2.3 * math.exp(-i / 40) + 1.3 for i in range(240)]
    rising = [losses[-1] * 1.2**k for k in range(1, 8)]  # 3.6x its best: no error
    assert run("divergence", records(loss=losses + rising)) == []
    steep = [losses[-1] * 1.45**k for k in range(1, 8)]
    assert run("divergence", records(loss=losses + steep + [steep[-2]])) == []  # fell back
    assert run("divergence", records(loss=losses + steep + [math.nan])) == []  # NaN's rule


# --- an RL run: its loss's value targets grow with the returns


def test_a_loss_that_climbs_beside_a_rising_episode_return_is_info() -> None:
    # SB3's PPO prints ``train/loss`` (policy, value and entropy terms) beside
    # ``rollout/ep_rew_mean``: as the agent learns, the returns grow and the value loss
    # with them. The climb is told, as info, with the return that explains it.
    losses = _falls_then_rises(1.3, after=10)
    rising = records(loss=losses, rollout_ep_rew_mean=[20.0 + 20 * i for i in range(len(losses))])
    found = run("divergence", rising)
    assert [(d.id, d.severity) for d in found] == [("divergence", Severity.INFO)]
    assert "the episode return rollout_ep_rew_mean rose with it" in found[0].message
    assert_blocks_exact(DivergenceDetector, rising, "rising return")
    # A return that falls (Pendulum's, negative, from -200 down to -1200), or one that
    # holds, leaves the climb an alarm: the agent is not learning.
    for returns in ([-200.0 - 40 * i for i in range(len(losses))], [50.0] * len(losses)):
        found = run("divergence", records(loss=losses, ep_rew_mean=returns))
        assert [(d.id, d.severity) for d in found] == [("divergence", Severity.ERROR)]
    # A negative return that rises toward 0 (Pendulum's, from -1260) is a rise too.
    negative = records(loss=losses, avg_ep_ret=[-1260.0 + 50 * i for i in range(len(losses))])
    assert [d.severity for d in run("divergence", negative)] == [Severity.INFO]


def test_a_climb_told_as_info_becomes_an_alarm_once_the_return_stops_rising() -> None:
    # keras-rl's DQN: the episode reward still rose while the loss began to climb, then
    # fell back as the Q-values ran away and the loss grew a hundredfold. Info while the
    # return rises; once a telling finds it no higher than at the loss's best, an alarm
    # from then on (never taken back if the return rises again).
    losses = _falls_then_rises(1.3, after=4) + [1.3 * 1.5**i for i in range(1, 12)]
    returns = [20.0 + 20 * i for i in range(24)] + [30.0] * (len(losses) - 24)
    found = run("divergence", records(loss=losses, episode_reward=returns))
    assert [(d.id, d.severity) for d in found] == [("divergence", Severity.ERROR)]
    assert "rose with it" not in found[0].message
    assert_blocks_exact(
        DivergenceDetector, records(loss=losses, episode_reward=returns), "return fell"
    )
