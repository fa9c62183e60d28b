"""Thresholds, and the options that choose and tune detectors.

Each rule's thresholds are a ``NamedTuple``: immutable like a frozen dataclass, and
defined about nine times faster (a frozen dataclass compiles six generated methods when
its module loads), which is a tenth of a short run's start. ``Config`` stays a dataclass.
The module's annotations are types, not strings (no ``from __future__ import
annotations``): ``NamedTuple`` compiles a string annotation into a forward reference,
field by field, which doubled the cost of loading these 145 fields.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

from gradlog.model import Severity


class NanThresholds(NamedTuple):
    # Under mixed precision the loss scaler skips a step whose gradients overflowed and
    # the log shows a non-finite grad norm beside a finite loss; up to this many such
    # records in a row are the scaler doing its job (info), more are an error.
    max_skipped_steps: int = 2
    # A scaler starts high and halves its scale at each overflow until steps succeed:
    # before any step succeeded (no finite grad norm yet), up to this many such records
    # in a row are its calibration (a start at 2**32, DeepSpeed's, takes 32 halvings).
    max_calibration_steps: int = 32
    # A loss that has had no finite value yet may print NaN as "nothing to report": an RL
    # agent's average loss before its first update (a mean over no batches). When it
    # turns finite within this many records, the weights were never touched by a NaN
    # (info); a loss that stays NaN longer is an error (a run broken from its start).
    max_leading_records: int = 64


class SpikeThresholds(NamedTuple):
    # The user notes: a jump of 10x to 100x above the recent level is a spike,
    # 100x or more is severe.
    factor: float = 10.0
    severe_factor: float = 100.0
    # A smaller jump still counts when the loss goes non-finite shortly after: the
    # explosion confirms that the jump was its start (exploding.log: 3.8x, then NaN).
    nan_confirmed_factor: float = 3.0
    nan_horizon: int = 3  # records after the jump in which a NaN confirms it
    # A language model's loss is bounded near ln(vocabulary), so its spikes are 2-3x;
    # a jump of 2x or more counts when the grad norm jumped 10x over its recent level at
    # the same time: noisy batches move the loss, not the gradient by an order of size.
    grad_confirmed_factor: float = 2.0
    grad_jump: float = 10.0
    # ... unless the run's grad norm already jumped 10x this often with no loss jump
    # beside it: then its jumps are this run's noise (single-batch norms of a small
    # data set), and confirm nothing.
    quiet_grad_jumps: int = 2
    # ... or, in a run that prints no grad norm to confirm it, when it persists for
    # `lm_persist` records in a run whose loss started at ln(V) of a large vocabulary
    # (ln 1000 = 6.9 or more): such a loss is bounded near ln(V), so 2-5x is as far as
    # a spike can go (issue #10: language-model spikes).
    lm_start: float = 6.9
    lm_persist: int = 2
    lm_held: float = 1.5  # "held": still this far above the level before the jump
    # ... or, in a quiet run, a jump of `quiet_factor` when the whole recent window lies
    # within `quiet_spread` of its least value: against losses that all sit within 50%
    # of each other, 5x is no batch noise (a smooth run's 9.8x jump that recovers).
    quiet_factor: float = 5.0
    quiet_spread: float = 1.5
    # ... or, once it held for `lm_persist` records (one more unless the window was
    # still to `calm_spread`), a jump of `calm_margin` times the spread (most / least) of
    # the window before it (all but its last `calm_ramp` losses, which a jump may climb
    # through) and `calm_factor` at least: a diffusion model's loss averaged to 0.149 +-
    # 1% that jumps to 0.41, a batch-of-one loss at 0.2 +- 0.05 that jumps to 0.86 and
    # stays; not when the learning rate rose with it (a warm restart).
    calm_factor: float = 2.0
    calm_margin: float = 1.5
    calm_spread: float = 1.1
    calm_ramp: int = 2
    calm_misses: int = 2  # ... until this many such jumps fell straight back
    # The recent level is the median of this many previous finite losses.
    window: int = 8
    min_history: int = 3  # finite losses needed before an unconfirmed spike can fire
    # A rise smaller than this fraction of the run's starting loss is noise near zero
    # (0.001 -> 0.02 is 20x but nothing happened to a run that began at 2.3).
    min_rise_fraction: float = 0.1


class ExplodingThresholds(NamedTuple):
    # The user notes: a healthy gradient L2 norm usually lies in 1e-2..1e1; above 1e2
    # deserves a look.
    absolute: float = 100.0
    growth: float = 10.0  # x its own early level (median of the first few values)
    early_records: int = 5
    # A grad norm above the parameter norm means an update of more than the weights
    # themselves at lr 1: a weak sign alone, so it must persist to be reported.
    persist_records: int = 3
    param_growth: float = 1.5  # param_norm rising this much within an episode corroborates
    # Issue #10: an extreme single value is an episode on its own: an order of magnitude
    # past `absolute`, or an update an order of magnitude larger than the weights.
    extreme: float = 10.0
    # A run whose grad norm has blipped 10x and settled at once this often has relative
    # jumps as its noise (single-batch norms): only `absolute` and the param norm count.
    blips: int = 2
    # An uncorroborated episode during which the loss fell this much is the optimizer
    # making progress (fine-tuning often starts with a growing grad norm), not damage.
    progress: float = 0.2
    # A reported episode goes on through this many healthy grad norms in a row: a norm
    # that crosses a bar with 30% noise dips under it every few records, and one
    # explosion must not be told as a thousand.
    gap_records: int = 2


class VanishingThresholds(NamedTuple):
    # The user notes: grad_norm around 1e-3 or below, or grad/param below about 1e-4.
    absolute: float = 2e-3
    relative: float = 1e-4
    min_records: int = 3
    flat_loss: float = 0.02  # relative range of the loss over the episode
    flat_param: float = 0.02  # relative range of param_norm over the episode
    # Small gradients are expected once a run has learned; only a run whose loss is
    # still at least this fraction of its starting loss has "vanished".
    unlearned_fraction: float = 0.5
    # A reported episode goes on through this many records in a row whose grad norm is
    # not tiny: a noisy grad norm near 1e-3 steps over the bar now and then (30% noise
    # does on 1 record in 100), and one episode must not be told as thousands.
    gap_records: int = 2


class PlateauThresholds(NamedTuple):
    tolerance: float = 0.01  # relative distance above ln(K) that counts as "at chance"
    # ... and below it: a model that learned only the class prior sits at the prior's
    # entropy, under ln(K) (a 65/35 binary prior: 0.647, 6.6% under ln 2).
    below: float = 0.05
    min_records: int = 5  # consecutive records at chance before it is a plateau
    # A whole log (an excerpt) this long at ln(K) on every record is a plateau too.
    thin_records: int = 3
    acc_tolerance: float = 0.05  # |acc - 1/K| that confirms chance when accuracy is logged
    # A stretch whose loss fell on this share of its records, by more than `tolerance`
    # of ln(K) in all, is a slow descent, not a plateau (unless accuracy confirms).
    descent_share: float = 0.75
    left_fraction: float = 0.1  # a loss this far below ln(K) has left the plateau
    # A run that began at chance and left it only after this share of its records was
    # stuck, not slow to start: a warning, not info.
    slow_share: float = 0.5
    # ... and after this many records at chance, however long the run: 20 epochs, or 20
    # logging intervals, spent learning nothing is no slow start to shrug at (the longest
    # slow start of a healthy real log seen is 10 records). A run still at the chance
    # level it began at is announced live as info, and as a warning from this record on,
    # so the final report never calls a live warning info. Not at a vocabulary's level
    # (K of 100 or more): a language model sits near ln(V) through its warm-up.
    slow_records: int = 20
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
    # Class counts too dense in ln(K) for `tolerance` (ln 27 and ln 28 are 1.1% apart),
    # recognised only where the loss sits on ln(K) to `exact_tolerance` either side:
    # character vocabularies (26 letters and an end mark: makemore's names; 65, tiny
    # Shakespeare's characters), where a loss frozen at 3.2958 to four digits is ln 27.
    exact_classes: tuple[int, ...] = (26, 27, 28, 29, 65)
    exact_tolerance: float = 0.0005


class OscillationThresholds(NamedTuple):
    # Alternating up/down records in a row. Independent noise also zig-zags with every
    # peak above every trough, with a chance of about 2 / C(L, L/2) for L records, and a
    # long log offers many places for it: the length needed grows with log2 of the
    # records seen, so that the expected false alarms stay well below one per log.
    min_records: int = 8
    extra_per_doubling: float = 1.0  # L >= max(min_records, log2(records) + 5)
    window: int = 32  # records of the run examined at most
    min_gap: float = 0.1  # lowest peak above highest trough, relative to the level ...
    # ... unless the alternation has lasted this many times the run it needs: a small
    # swing counts when it is regular and persistent (an exact period-2 cycle).
    persistent: float = 2.0
    min_gap_swing: float = 0.25  # ... and relative to the mean swing
    max_swing_spread: float = 0.5  # coefficient of variation of the swings: regular ones
    max_progress: float = 0.5  # net change over the run, relative to the mean swing


class DivergenceThresholds(NamedTuple):
    # A rise "well above its best": 40% is far beyond what a smooth log wobbles (a few
    # percent) and still catches a climb well before it doubles (the accuracy issue's
    # short epoch logs: 0.267 -> 0.45 in 7 epochs; a validation loss 5.99 -> 8.75-12.4).
    min_rise: float = 1.4
    # Issue #6's "far above its best", 2x: a level held there diverged; below it, the level
    # must still be climbing by 2 standard errors over the persistence stretch, or it is a
    # step to a new level (a harder stage, a cycle that settled higher). Past 2x the
    # confidence is high; 5x (or back above the starting level, all learning undone) is
    # an error. The stalled rule reads `factor` too: a level this far up is climbing.
    factor: float = 2.0
    climb_errors: float = 2.0
    severe_factor: float = 5.0
    # And the rise must exceed 3 standard errors of the level, plus sqrt(2 ln m) for the
    # best being the lowest of m independent levels (the expected minimum of m normal
    # draws): a best picked from many noisy levels is a lucky one.
    noise_margin: float = 3.0
    # Persistence: 3 records in a row above the bar ("several"), as many as the median
    # spans, and 5% of the records seen (at most the longest window), whichever is more:
    # 3 records are a third of a 9-epoch log but a blip among a thousand steps (a loss
    # spike that holds for a few logging intervals). One spike never counts.
    min_persist: int = 3
    persist_share: float = 0.05
    # The level is the median of the last W finite losses, for the shortest W of these
    # whose standard error (about 1.25 x scatter / sqrt(W)) stays within 5% of the level,
    # among the W no longer than a quarter of the records seen (room for a best, a climb
    # and its persistence), so an 8-30 record epoch log is read value by value. The
    # scatter is that of one log-loss around its local trend, the larger of that over the
    # last 50 and the last 15 values (a run that turns noisy late is judged by its present
    # noise). Per-epoch logs are smooth and get 1-5; per-step logs with 20-30% batch
    # noise get 25 or 51. W only grows, and each W keeps its own best.
    windows: tuple[int, ...] = (1, 3, 5, 11, 25, 51)
    level_noise: float = 0.05
    window_share: int = 4
    noise_records: int = 50
    local_noise_records: int = 15
    # The scatter of fewer than 8 values (6 second differences) swings by half its size
    # from one record to the next, and an early lucky low one lets noise pass for a
    # climb. A level whose standard error is above 15% (a per-batch loss read value by
    # value) would need a 57% rise at 3 standard errors, from a noise estimate too unsure
    # to trust that far: only a longer median, once the log has room for it, can tell.
    min_noise_records: int = 8
    max_level_error: float = 0.15
    # A rise under 2% of the starting level is a converged loss wobbling near zero
    # (0.002 -> 0.005 after a start at 2.3); a regression that starts at 12 (bad init)
    # and climbs 0.09 -> 0.59 is not (4% of its start).
    min_rise_fraction: float = 0.02
    # Blow-up: three orders of magnitude above the run's early level (the median of its
    # first 3 values, so one odd first value does not set it), for 2 records in a row:
    # a cross-entropy of 1e5 is far above anything sensible, and two such records are
    # no single bad batch (mmdetection: 0.85, 2.44, then 6.3e4 and 1.1e13).
    early_records: int = 3
    blowup_factor: float = 1000.0
    blowup_records: int = 2


class LossScaleThresholds(NamedTuple):
    # "Keeps shrinking": 8 halvings (256x) without the scale ever growing back. A healthy
    # scaler loses one halving per rare overflow and wins it back after a clean window of
    # steps. A scale below 1 alone is no collapse: fairseq runs sit healthily at 0.5-1
    # (their losses are sums over tokens), where DeepSpeed's floor is 1.
    drop_factor: float = 256.0
    # Free fall: a scale of 2^-10 or less multiplies the loss by under 1/1000, which no
    # healthy scaler needs (healthy fairseq runs, whose losses are sums over tokens,
    # print 0.5-2: 2^9 higher), and it is still 10x above fairseq's own abort floor
    # (--min-loss-scale 1e-4). An error wherever it happens, calibration included.
    free_fall_scale: float = 2.0**-10
    # A storm: 5 halvings in a row (32x, more than the order of magnitude that makes a
    # gradient "exploding"), none of them more than 1 clean record after the last, no
    # growth between. Each halving in a row means the gradients overflowed again at half
    # the scale; a healthy scaler halves once per overflow and then holds.
    storm_halvings: int = 5
    storm_gap: int = 1
    # A fall that grows back now and then but goes on: 12 halvings (4096x) below the
    # highest scale since calibration. Healthy runs drift down slowly as gradients grow
    # (fairseq from 128 to 0.5 is 256x), far less than this.
    peak_factor: float = 4096.0
    # Such a fall that ends at a scale of 1 or below is an error: the scale no longer
    # amplifies anything, so small gradients underflow (DeepSpeed's and Megatron's floor).
    error_scale: float = 1.0
    # Calibration (the initial burst of overflows from 2^16-2^32) ends at the first
    # stretch of this many records without an overflow or a lower scale, counted from
    # the log's first record: the initial scale overflows on consecutive steps from the
    # very first one, so calibration is over once a few logged records pass clean (apex,
    # fairseq and DeepSpeed print every overflow, so a record without one was clean)...
    settle_records: int = 5
    # ... or after this many records at most ("the first tens or hundreds").
    calibration_records: int = 100
    # Overflow-skipped steps in half of the last 20 records with no growth of the scale
    # among them, after a fall of 16x (4 halvings): the scaler never gets a clean stretch
    # to recover in. Without the fall this is a scaler in equilibrium (many GPUs make its
    # growth window shorter than the logging interval): not a problem.
    overflow_window: int = 20
    overflow_fraction: float = 0.5
    overflow_drop: float = 16.0


class LargeUpdateThresholds(NamedTuple):
    # Practitioners' rule of thumb: ||dw|| / ||w|| should stay below about 0.1 per step
    # (healthy runs are nearer 1e-3); lr x grad_norm estimates ||dw|| for plain SGD.
    ratio: float = 0.1
    # One large step (a restart, a noisy batch) is not a pattern; three in a row are.
    persist_records: int = 3


class WeightGrowthThresholds(NamedTuple):
    # Issue #6: growth "by orders of magnitude": one order over the early level is a
    # warning, two an error. Healthy runs drift by a few percent to a few times.
    growth: float = 10.0
    severe_growth: float = 100.0
    early_records: int = 5  # the early level is the median of the first 5 values
    # "Fast and steady": an uninterrupted rise of 10+ records that at least doubled, its
    # second half growing per record at least 80% as fast as its first (geometric, not
    # the decelerating drift of healthy runs; the slack absorbs noise in the rate), and
    # already 3x the early level.
    steady_records: int = 10
    steady_growth: float = 2.0
    steady_pace: float = 0.8
    fast_growth: float = 3.0


class StalledThresholds(NamedTuple):
    # No learning, reported by default.
    # A learning rate at or below its peak / 1e6 moves no float32 weight: healthy updates
    # are about 1e-3 of a weight per step (see large_update), so 1e6 times smaller is
    # 1e-9, far under float32's relative rounding step of 2^-24 (6e-8). Relative, not an
    # absolute floor: Caffe's FCN trains healthily at a base_lr of 1e-10 to 1e-14 (its
    # loss is a sum over pixels).
    lr_collapse_factor: float = 1e6
    # A zero or collapsed learning rate after it had been positive: 10 records, and a
    # quarter of the records since it first was (a decay to zero ends in a few such).
    lr_zero_records: int = 10
    lr_zero_fraction: float = 0.25
    # A zero from the first record is warm-up at first: Megatron's fp16 start prints lr 0
    # for its skipped iterations, some 30 records when it logs every iteration.
    lr_zero_start_records: int = 50
    # After a positive rate, a printed 0 is a zero only if the rate before it had two
    # significant digits or more (1.2e-07, then 0): a fixed-decimal format rounds a
    # decaying rate through 0.0002 and 0.0001, one digit each, to 0.0000.
    lr_zero_digits: int = 2
    # A loss (or validation loss) printed identically on 5 epochs in a row (records, when
    # the log names no epochs), over a quarter of those it was printed on so far (the end
    # of an annealed schedule may freeze the last few), with 3 significant digits or
    # more at the printed precision (0.0012 at 4 decimals is near zero, not frozen).
    # Not while the last 5 training losses alternate exactly between two values: the
    # weights swing in a cycle (oscillation), evaluated on the same phase each time.
    repeat_records: int = 5
    repeat_fraction: float = 0.25
    repeat_digits: int = 3
    # Optimizer steps skipped (a spike or non-finite-gradient guard; fp16 overflow skips
    # are loss_scale_collapse's) on 4 records or more, and on at least half the records
    # since the first of them: most updates are not being made.
    skip_records: int = 4
    skip_fraction: float = 0.5
    # A loss that improves disproves a dead learning rate or skipped updates: the median
    # of the last 9 losses 5% below that of the first 9 of the stretch.
    progress_records: int = 9
    progress_drop: float = 0.05
    # The heuristic part, opt-in (plateau = true): healthy runs flatten too, and it
    # fires on a healthy llm.c excerpt (real/17) that wobbles around its level.
    plateau: bool = False
    # The level is the median of the last 9, 25 or 51 finite losses: the fewest whose
    # standard error stays within 5% of the level, given the scatter of the log-loss
    # over the last 50 records (once there are 10), as for divergence.
    windows: tuple[int, ...] = (9, 25, 51)
    level_noise: float = 0.05
    noise_records: int = 50
    min_noise_records: int = 10
    # Issue #6: no new best for a long stretch relative to the run, and at least 20
    # records: here, the last half of the run so far.
    min_records: int = 20
    stall_fraction: float = 0.5
    # A new best must beat the old one by 1%. Noise alone sets new bests ever more
    # rarely (the records of a noisy flat series thin out), so a real stall still shows.
    min_improvement: float = 0.01
    # Below a tenth of the starting level the loss has converged, not stalled.
    converged_fraction: float = 0.1
    # Reported by default: a log that shows the run from its start (its first loss
    # within one logging interval of step 0), whose loss level (the median of the last
    # 9) never fell 3% below the first level nor rose 5% above it, over 30 losses or
    # more, away from a chance level: nothing was learned at all. Every healthy run
    # drops well beyond 3% from where it starts; an excerpt or a resumed run may not,
    # and does not start at step 0.
    flat_window: int = 9
    flat_records: int = 30
    flat_drop: float = 0.03
    flat_rise: float = 0.05


class OverfittingThresholds(NamedTuple):
    # Issue #6: validation loss 10%+ above its best is a clear margin; evaluation noise
    # on a reasonable validation set is a few percent.
    rise: float = 0.1
    confirm: int = 2  # evaluations in a row above it: one high evaluation is noise
    min_points: int = 4  # evaluations needed in all ("at least a few")
    # The training level is at least 5% below its level at the best evaluation, at each
    # of the evaluations that confirm the rise: "the training loss kept falling", beyond
    # batch noise. At each evaluation the level is the median of the training losses
    # logged since the previous one (the last 25 at most).
    train_drop: float = 0.05
    train_window: int = 25
    # The validation level is the median of the last 1, 3 or 5 evaluations: the fewest
    # whose standard error stays under a quarter of the margin, given the scatter of the
    # evaluations (measured over the last 50, once there are 10). Each keeps its own
    # best, and the level must stay above the bar for as many evaluations as it spans,
    # so the best of many noisy evaluations (a lucky one) is not the yardstick.
    windows: tuple[int, ...] = (1, 3, 5)
    level_noise: float = 0.025
    noise_points: int = 50
    min_noise_points: int = 10
    # A log with fewer evaluations than `min_points` (a pasted excerpt) is judged only on
    # an effect no noise makes: validation at least doubled over its best while the
    # training level at least halved.
    stark_rise: float = 1.0
    stark_drop: float = 0.5


class Thresholds(NamedTuple):
    """Every detector's numbers, one field per detector id."""

    nan: NanThresholds = NanThresholds()
    loss_spike: SpikeThresholds = SpikeThresholds()
    exploding_gradient: ExplodingThresholds = ExplodingThresholds()
    vanishing_gradient: VanishingThresholds = VanishingThresholds()
    chance_plateau: PlateauThresholds = PlateauThresholds()
    oscillation: OscillationThresholds = OscillationThresholds()
    divergence: DivergenceThresholds = DivergenceThresholds()
    loss_scale_collapse: LossScaleThresholds = LossScaleThresholds()
    large_update: LargeUpdateThresholds = LargeUpdateThresholds()
    weight_growth: WeightGrowthThresholds = WeightGrowthThresholds()
    stalled: StalledThresholds = StalledThresholds()
    overfitting: OverfittingThresholds = OverfittingThresholds()


# Rules that run whatever select and ignore say: no_metrics is what tells an unread log
# from a clean one, so no selection may turn it off.
ALWAYS_ENABLED = frozenset({"no_metrics"})


@dataclass(frozen=True)
class Config:
    """What to run and how: selection, failure level, thresholds and metric names."""

    fail_on: Severity = Severity.ERROR
    select: tuple[str, ...] = ()  # empty: every detector enabled by default
    ignore: tuple[str, ...] = ()
    metric_names: dict[str, str] = field(default_factory=dict)  # printed -> canonical
    thresholds: Thresholds = field(default_factory=Thresholds)

    def enabled(self, rule_id: str, default: bool = True) -> bool:
        """Whether the detector ``rule_id`` runs under this configuration.

        The no-read guard always runs: a selection must never let a log that was not
        understood pass as a clean one.
        """
        if rule_id in ALWAYS_ENABLED:
            return True
        if rule_id in self.ignore:
            return False
        if self.select:
            return rule_id in self.select
        return default
