"""Thresholds as frozen dataclasses, and the options that choose and tune detectors."""

from __future__ import annotations

from dataclasses import dataclass, field

from gradlog.model import Severity


@dataclass(frozen=True)
class NanThresholds:
    # Under mixed precision the loss scaler skips a step whose gradients overflowed and
    # the log shows a non-finite grad norm beside a finite loss; up to this many such
    # records in a row are the scaler doing its job (info), more are an error.
    max_skipped_steps: int = 2


@dataclass(frozen=True)
class SpikeThresholds:
    # The user notes: a jump of 10x to 100x above the recent level is a spike,
    # 100x or more is severe.
    factor: float = 10.0
    severe_factor: float = 100.0
    # A smaller jump still counts when the loss goes non-finite shortly after: the
    # explosion confirms that the jump was its start (exploding.log: 3.8x, then NaN).
    nan_confirmed_factor: float = 3.0
    nan_horizon: int = 3  # records after the jump in which a NaN confirms it
    # The recent level is the median of this many previous finite losses.
    window: int = 8
    min_history: int = 3  # finite losses needed before an unconfirmed spike can fire
    # A rise smaller than this fraction of the run's starting loss is noise near zero
    # (0.001 -> 0.02 is 20x but nothing happened to a run that began at 2.3).
    min_rise_fraction: float = 0.1


@dataclass(frozen=True)
class ExplodingThresholds:
    # The user notes: a healthy gradient L2 norm usually lies in 1e-2..1e1; above 1e2
    # deserves a look.
    absolute: float = 100.0
    growth: float = 10.0  # x its own early level (median of the first few values)
    early_records: int = 5
    # A grad norm above the parameter norm means an update of more than the weights
    # themselves at lr 1: a weak sign alone, so it must persist to be reported.
    persist_records: int = 3
    param_growth: float = 1.5  # param_norm rising this much within an episode corroborates


@dataclass(frozen=True)
class VanishingThresholds:
    # The user notes: grad_norm around 1e-3 or below, or grad/param below about 1e-4.
    absolute: float = 2e-3
    relative: float = 1e-4
    min_records: int = 3
    flat_loss: float = 0.02  # relative range of the loss over the episode
    flat_param: float = 0.02  # relative range of param_norm over the episode
    # Small gradients are expected once a run has learned; only a run whose loss is
    # still at least this fraction of its starting loss has "vanished".
    unlearned_fraction: float = 0.5


@dataclass(frozen=True)
class PlateauThresholds:
    tolerance: float = 0.01  # relative distance to ln(K) that counts as "at chance"
    min_records: int = 5  # consecutive records at chance before it is a plateau
    acc_tolerance: float = 0.05  # |acc - 1/K| allowed when accuracy is logged
    left_fraction: float = 0.1  # a loss this far below ln(K) has left the plateau
    # Class counts whose chance loss is recognised: 2..20 are spaced widely enough in
    # ln(K) to tell apart; beyond that only common class counts and vocabulary sizes.
    classes: tuple[int, ...] = (
        *range(2, 21),
        100,
        200,
        1000,
        21843,
        30522,
        32000,
        32768,
        49152,
        50257,
        50304,
        65536,
        100277,
        128256,
        151936,
        256000,
    )


@dataclass(frozen=True)
class OscillationThresholds:
    # Alternating up/down records in a row. Independent noise also zig-zags with every
    # peak above every trough, with a chance of about 2 / C(L, L/2) for L records, and a
    # long log offers many places for it: the length needed grows with log2 of the
    # records seen, so that the expected false alarms stay well below one per log.
    min_records: int = 8
    extra_per_doubling: float = 1.0  # L >= max(min_records, log2(records) + 5)
    window: int = 32  # records of the run examined at most
    min_gap: float = 0.1  # lowest peak above highest trough, relative to the level
    min_gap_swing: float = 0.25  # ... and relative to the mean swing
    max_swing_spread: float = 0.5  # coefficient of variation of the swings: regular ones
    max_progress: float = 0.5  # net change over the run, relative to the mean swing


@dataclass(frozen=True)
class Thresholds:
    """Every detector's numbers, one field per detector id."""

    nan: NanThresholds = field(default_factory=NanThresholds)
    loss_spike: SpikeThresholds = field(default_factory=SpikeThresholds)
    exploding_gradient: ExplodingThresholds = field(default_factory=ExplodingThresholds)
    vanishing_gradient: VanishingThresholds = field(default_factory=VanishingThresholds)
    chance_plateau: PlateauThresholds = field(default_factory=PlateauThresholds)
    oscillation: OscillationThresholds = field(default_factory=OscillationThresholds)


@dataclass(frozen=True)
class Config:
    """What to run and how: selection, failure level, thresholds and metric names."""

    fail_on: Severity = Severity.ERROR
    select: tuple[str, ...] = ()  # empty: every detector enabled by default
    ignore: tuple[str, ...] = ()
    metric_names: dict[str, str] = field(default_factory=dict)  # printed -> canonical
    thresholds: Thresholds = field(default_factory=Thresholds)

    def enabled(self, rule_id: str, default: bool = True) -> bool:
        """Whether the detector ``rule_id`` runs under this configuration."""
        if rule_id in self.ignore:
            return False
        if self.select:
            return rule_id in self.select
        return default
