"""`loss_scale_collapse`: firing cases beside near misses."""

from __future__ import annotations

import math
import random

import pytest

from gradlog.model import Diagnosis, Record, Severity
from tests.helpers import analyze_text, records, run

ID = "loss_scale_collapse"

CALIBRATION = [65536.0, 32768.0, 16384.0, 8192.0]  # the scaler's first overflows
SETTLED = [8192.0] * 15


def _run(scales: list[float], overflows: list[float | None] | None = None) -> list[Diagnosis]:
    series = records(loss_scale=scales, overflow=overflows or [], loss=[2.0] * len(scales))
    return run("loss_scale_collapse", series)


def _overflowed_when_falling(scales: list[float]) -> list[float | None]:
    return [1.0 if i and s < scales[i - 1] else None for i, s in enumerate(scales)]


def test_halving_down_to_one_after_settling_is_an_error() -> None:
    scales = CALIBRATION + SETTLED + [4096, 1024, 256, 64, 16, 4, 1, 1, 1]
    found = _run(scales, _overflowed_when_falling(scales))
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.ERROR)]
    assert "fell from 8192 to 1" in found[0].message


def test_halving_down_to_four_is_a_warning() -> None:
    scales = CALIBRATION + SETTLED + [4096, 1024, 256, 64, 16, 4, 4, 4]
    found = _run(scales, _overflowed_when_falling(scales))
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.WARNING)]


def test_scaler_at_its_minimum_is_an_error() -> None:
    found = run(
        "loss_scale_collapse",
        records(loss_scale=CALIBRATION + SETTLED, loss_scale_at_minimum=[None] * 19 + [1.0]),
    )
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.ERROR)]
    assert "cannot lower the scale" in found[0].message


def _spaced(start: float, halvings: int, clean: int) -> list[float]:
    """A scale halving ``halvings`` times, ``clean`` records without an overflow between."""
    scales: list[float] = []
    for _ in range(halvings):
        start /= 2
        scales += [start] * (clean + 1)
    return scales


def test_fall_of_256x_without_growing_back_is_a_warning() -> None:
    scales = CALIBRATION + SETTLED + _spaced(8192.0, 8, clean=2)  # too slow for a storm
    found = _run(scales, _overflowed_when_falling(scales))
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.WARNING)]
    assert "256x down without ever growing back" in found[0].message


def test_slow_fall_with_no_growth_between_is_still_a_collapse() -> None:
    scales = CALIBRATION + SETTLED
    for _ in range(8):  # one halving every 6 records, never growing back
        scales += [scales[-1] / 2] + [scales[-1] / 2] * 5
    found = _run(scales, _overflowed_when_falling(scales))
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.WARNING)]


def test_falls_that_grow_back_are_normal() -> None:
    scales = CALIBRATION + SETTLED
    for level in [8192.0] * 5 + [4096.0] * 5 + [2048.0] * 5:  # bursts, and a slow drift
        scales += [level / 2, level / 8, level / 4, level / 2, level, level]
    assert _run(scales, _overflowed_when_falling(scales)) == []


def test_scaler_that_lives_at_a_low_scale_is_normal() -> None:
    # fairseq sums its losses over tokens; a healthy run can sit at a scale of 0.5-1 with an
    # overflow in most logging intervals.
    scales = [128.0, 64.0, 32.0, 16.0, 8.0, 4.0, 2.0, 1.0] + [1.0, 0.5, 1.0, 1.0] * 40
    assert _run(scales, [1.0] * len(scales)) == []


def test_fall_of_128x_is_not_yet_a_collapse() -> None:
    scales = CALIBRATION + SETTLED + _spaced(8192.0, 7, clean=2)
    assert _run(scales, _overflowed_when_falling(scales)) == []


def test_calibration_burst_at_the_start_is_normal() -> None:
    scales = [2.0**32 / 2**i for i in range(17)] + [65536.0] * 30
    assert _run(scales, _overflowed_when_falling(scales)) == []


def test_rare_overflow_after_unseen_growth_is_normal() -> None:
    # DeepSpeed prints reductions only: "Attempted 16384, reducing to 8192" after the
    # scale grew unseen from 8192 leaves the scale where it was.
    scales = CALIBRATION + SETTLED * 4
    overflows: list[float | None] = [None] * len(scales)
    for i in (30, 45, 60):
        overflows[i] = 1.0
    assert _run(scales, overflows) == []


def test_constant_scale_of_one_is_bf16_not_a_collapse() -> None:
    assert _run([1.0] * 40) == []


@pytest.mark.parametrize("logged", [[4096.0, 8192.0], [4096.0, 4096.0]])
def test_equilibrium_with_an_overflow_in_every_record_is_normal(logged: list[float]) -> None:
    # Many GPUs make the growth window shorter than the logging interval: the scale
    # overflows in every interval and bounces between two values, or is caught at the
    # same value every time so that its growth never shows.
    scales = CALIBRATION + logged * 80  # long past calibration
    assert _run(scales, [1.0] * len(scales)) == []


def test_overflows_that_persist_after_a_fall_are_a_warning() -> None:
    # The scale fell 16x and every record since has skipped steps without any growth:
    # a scaler stuck at a floor set high (DeepSpeed min_loss_scale).
    scales = CALIBRATION + SETTLED + [4096.0, 2048.0, 1024.0, 512.0] + [512.0] * 20
    found = _run(scales, [None] * 19 + [1.0] * 24)
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.WARNING)]
    assert "records had overflow-skipped steps" in found[0].message


def test_overflows_after_a_fall_of_8x_are_not_enough() -> None:
    scales = CALIBRATION + SETTLED + [4096.0, 2048.0, 1024.0] + [1024.0] * 20
    assert _run(scales, [None] * 19 + [1.0] * 23) == []


def test_noisy_healthy_scaler_is_clean() -> None:
    # A dynamic scaler over 3000 steps logged every 10: it starts at 2^32, halves until
    # the gradients fit, then grows after 200 clean steps and halves on each overflow
    # (above a ceiling that wanders, or at random), as torch, apex and DeepSpeed do.
    rng = random.Random(9)
    scale, clean, overflowed = 2.0**32, 0, False
    scales: list[float] = []
    flags: list[float | None] = []
    for step in range(1, 3001):
        if scale > 2.0**14 * math.exp(rng.gauss(0, 0.5)) or rng.random() < 0.001:
            scale, clean, overflowed = scale / 2, 0, True
        else:
            clean += 1
            if clean == 200:
                scale, clean = scale * 2, 0
        if step % 10 == 0:
            scales.append(scale)
            flags.append(1.0 if overflowed else None)
            overflowed = False
    assert _run(scales, flags) == []


def test_fall_of_4096x_that_grows_back_now_and_then_is_a_warning() -> None:
    scales = CALIBRATION + SETTLED
    level = 8192.0
    for _ in range(11):  # two halvings, one growth, per cycle: net one halving
        scales += [level / 2, level / 4, level / 2]
        level /= 2
    found = _run(scales, _overflowed_when_falling(scales))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert "4096x below its highest since calibration" in found[0].message


def test_storm_of_five_halvings_in_a_row_is_a_warning() -> None:
    scales = CALIBRATION + SETTLED + [4096.0, 2048.0, 1024.0, 512.0, 256.0] + [256.0] * 3
    found = _run(scales, _overflowed_when_falling(scales))
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.WARNING)]
    assert "5 halvings in a row" in found[0].message
    assert "fell from 8192 to 256" in found[0].message
    assert "epoch 20 (line 20)" in found[0].message


def test_four_halvings_in_a_row_are_a_bounce() -> None:
    scales = CALIBRATION + SETTLED + [4096.0, 2048.0, 1024.0, 512.0] + [512.0] * 3
    assert _run(scales, _overflowed_when_falling(scales)) == []


def test_storm_may_skip_one_clean_record_between_halvings() -> None:
    scales = CALIBRATION + SETTLED + _spaced(8192.0, 5, clean=1)
    found = _run(scales, _overflowed_when_falling(scales))
    assert [(d.first_step, d.severity) for d in found] == [(20, Severity.WARNING)]


def test_halvings_two_clean_records_apart_are_no_storm() -> None:
    scales = CALIBRATION + SETTLED + _spaced(8192.0, 5, clean=2)
    assert _run(scales, _overflowed_when_falling(scales)) == []


def test_storm_seen_only_in_overflow_lines_after_training_is_a_warning() -> None:
    # apex prints nothing while the steps are clean: the scale first shows in the storm.
    # Each overflow line reducing the scale to s says it was 2s.
    storm = [256.0 / 2**i for i in range(8)]  # "reducing loss scale to 256.0" ... 2.0
    series = records(
        loss=[0.15] * 8, loss_scale=[None] * 8 + storm, overflow=[None] * 8 + [1.0] * 8
    )
    found = run("loss_scale_collapse", series)
    assert [(d.first_step, d.severity) for d in found] == [(9, Severity.WARNING)]
    assert "fell from 512 to 2" in found[0].message
    assert "8 halvings in a row" in found[0].message


def test_storm_merged_into_one_record_is_a_warning() -> None:
    # Eight overflow lines taken by one record: an overflow count of 8, the last scale.
    series = records(loss=[0.15] * 9, loss_scale=[None] * 8 + [2.0], overflow=[None] * 8 + [8.0])
    found = run("loss_scale_collapse", series)
    assert [(d.first_step, d.severity) for d in found] == [(9, Severity.WARNING)]
    assert "fell from 512 to 2" in found[0].message
    assert "at least 8 overflow-skipped steps" in found[0].message


def test_same_overflow_lines_at_the_start_of_the_log_are_calibration() -> None:
    storm = [256.0 / 2**i for i in range(8)]
    series = records(loss_scale=storm + [2.0] * 10, overflow=[1.0] * 8)
    assert run("loss_scale_collapse", series) == []


def test_growth_ends_calibration_in_a_log_of_overflow_lines_only() -> None:
    # Calibration, then a reduction to a higher scale (it grew unseen), then a storm.
    scales = [32768.0, 16384.0, 32768.0, 16384.0, 8192.0, 4096.0, 2048.0, 1024.0]
    found = _run(scales, [1.0] * len(scales))
    assert [(d.first_step, d.severity) for d in found] == [(4, Severity.WARNING)]
    assert "5 halvings in a row" in found[0].message


def test_halvings_after_calibration_without_growth_in_overflow_lines_only_are_calibration() -> None:
    scales = [32768.0, 16384.0, 8192.0, 4096.0, 2048.0, 1024.0]
    assert _run(scales, [1.0] * len(scales)) == []


def test_scale_in_free_fall_is_an_error_even_in_overflow_lines_only() -> None:
    # No settled level and no step numbers: 2^-16 and 2^-17 are far below any healthy scale.
    found = _run([2.0**-16, 2.0**-17], [1.0, 1.0])
    assert [(d.first_step, d.severity) for d in found] == [(1, Severity.ERROR)]
    assert "free fall" in found[0].message
    assert "fell from 3.05e-05 to 7.63e-06" in found[0].message


def test_scale_holding_just_above_free_fall_is_not_free_fall() -> None:
    scales = [2.0**-9, 2.0**-8, 2.0**-8, 2.0**-9] * 10
    assert _run(scales, _overflowed_when_falling(scales)) == []


def test_minimum_after_a_clean_stretch_is_not_unseen_growth() -> None:
    # DeepSpeed at its floor says "already at minimum" with the scale unchanged; after
    # clean records that is still the floor, not a scale that grew unseen.
    scales = CALIBRATION + [1.0] * 10
    minimum: list[float | None] = [None] * 13 + [1.0]
    found = run("loss_scale_collapse", records(loss_scale=scales, loss_scale_at_minimum=minimum))
    assert [(d.first_step, d.severity) for d in found] == [(14, Severity.ERROR)]


def test_storm_after_too_few_clean_records_is_still_calibration() -> None:
    storm = [256.0 / 2**i for i in range(8)]
    series = records(
        loss=[0.15] * 4, loss_scale=[None] * 4 + storm, overflow=[None] * 4 + [1.0] * 8
    )
    assert run("loss_scale_collapse", series) == []


def _deepspeed_log(storm: list[int]) -> str:
    """DeepSpeed overflow lines: calibration, 29 clean records, then ``storm`` reductions,
    two per logging interval."""
    line = "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: {}, reducing to {}"
    lines = [line.format(2 * s, s) for s in (32768, 16384, 8192, 4096)]
    lines += [f"step {s:4d} | loss {2.0 - s / 1000:.4f} | lr 2.0e-04" for s in range(10, 300, 10)]
    for i, scale in enumerate(storm):
        if i and i % 2 == 0:
            lines.append(f"step {290 + 5 * i:4d} | loss 1.2000 | lr 2.0e-04")
        lines.append(line.format(2 * scale, scale))
    return "\n".join(lines)


def test_deepspeed_storm_in_a_log_is_found_where_it_began() -> None:
    found = [d for d in analyze_text(_deepspeed_log([2048, 1024, 512, 256, 128])) if d.id == ID]
    assert [(d.first_step, d.severity) for d in found] == [(290, Severity.WARNING)]
    assert "fell from 4096 to 128 between step 290 (line 33)" in found[0].message


def test_deepspeed_four_overflows_in_a_log_are_a_bounce() -> None:
    assert [d for d in analyze_text(_deepspeed_log([2048, 1024, 512, 256])) if d.id == ID] == []


def _shifted(series: list[Record], step: int | None, epoch: int | None) -> list[Record]:
    """``series`` as an excerpt of a longer run: its first record at ``step``/``epoch``."""
    return [
        Record(
            step=(step or 1) + i,
            line=i + 1,
            metrics=record.metrics,
            epoch=None if epoch is None else epoch + i,
        )
        for i, record in enumerate(series)
    ]


@pytest.mark.parametrize(("step", "epoch"), [(6312, None), (None, 11), (101, 1)])
def test_storm_after_few_clean_records_of_an_excerpt_is_a_collapse(
    step: int | None, epoch: int | None
) -> None:
    # A log that opens far into its run (apex's epochs 11-15, iteration 6312 on), clean:
    # the scaler calibrated long before, so the storm that follows is a collapse.
    storm = [256.0 / 2**i for i in range(8)]
    series = records(
        loss=[0.15] * 4, loss_scale=[None] * 4 + storm, overflow=[None] * 4 + [1.0] * 8
    )
    found = run(ID, _shifted(series, step, epoch))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert "fell from 512 to 2" in found[0].message


def test_an_excerpt_that_opens_overflowing_is_still_calibrating() -> None:
    storm = [256.0 / 2**i for i in range(8)]
    series = records(loss_scale=storm + [2.0] * 10, overflow=[1.0] * 8)
    assert run(ID, _shifted(series, 6312, None)) == []


def test_a_collapse_after_occasional_halvings_begins_where_it_collapses() -> None:
    # A scale that never grows back (DLLogger's): a halving now and then after
    # calibration, then every step. The collapse began at the run of halvings, not at
    # the first halving a thousand steps before.
    scales = CALIBRATION + SETTLED + [4096.0] * 30 + [2048.0] * 30
    collapse = len(scales) + 1
    scales += [2048.0 / 2**i for i in range(1, 16)]
    found = _run(scales, _overflowed_when_falling(scales))
    assert [d.first_step for d in found][:1] == [collapse]
    assert "fell from 2048 to" in found[-1].message
    # A slow drift, a halving every 30 records from 8192 down to 2^-6, is one fall.
    drift = CALIBRATION + SETTLED + [8192.0 / 2 ** (1 + i // 30) for i in range(30 * 20)]
    found = _run(drift, _overflowed_when_falling(drift))
    assert found and found[0].first_step == len(CALIBRATION + SETTLED) + 1
    assert "fell from 8192 to" in found[-1].message
