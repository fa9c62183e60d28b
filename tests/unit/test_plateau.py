"""`chance_plateau`: firing cases beside near misses."""

from __future__ import annotations

import math

import pytest

from gradlog.model import Confidence, Record, Severity
from tests.helpers import analyze_text, records, run


@pytest.mark.parametrize(("level", "k"), [(0.6931, 2), (2.3026, 10), (10.8249, 50257)])
def test_loss_at_ln_k_is_an_error_naming_k(level: float, k: int) -> None:
    found = run("chance_plateau", records(loss=[level] * 6))
    assert [d.severity for d in found] == [Severity.ERROR]
    assert f"ln({k})" in found[0].message


def test_slow_start_that_then_learns_is_info() -> None:
    found = run("chance_plateau", records(loss=[0.6931] * 6 + [0.65, 0.5, 0.3] + [0.2] * 10))
    assert [d.severity for d in found] == [Severity.INFO]
    assert "slow start" in found[0].message


def test_a_slow_start_that_took_half_the_run_is_a_warning() -> None:
    # At chance until its level (a median of 3) left it at the 9th record, of 16: half
    # its compute bought nothing.
    stuck = [0.6931] * 6 + [0.65, 0.5, 0.3]
    found = run("chance_plateau", records(loss=stuck + [0.2] * 7))
    assert [d.severity for d in found] == [Severity.WARNING]
    assert "a slow start that took 8 of the run's 16 records" in found[0].message
    # Under half of the run: info, as a slow start is.
    found = run("chance_plateau", records(loss=stuck + [0.2] * 8))
    assert [d.severity for d in found] == [Severity.INFO]


def test_a_slow_start_is_judged_by_lines_too() -> None:
    # Its first epoch read batch by batch (a record a line), the rest epoch by epoch (a
    # record each 400 lines): most of the records, few of the lines.
    losses = [0.6931] * 15 + [0.6, 0.5, 0.4, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
    recs = [
        Record(step=i + 1, line=i + 1 if i < 15 else 15 + 400 * (i - 14), metrics={"loss": v})
        for i, v in enumerate(losses)
    ]
    assert [d.severity for d in run("chance_plateau", recs)] == [Severity.INFO]


def test_accuracy_far_from_one_over_k_is_not_chance() -> None:
    moving = [0.9, 0.88, 0.91, 0.87, 0.9, 0.89]  # a model that predicts, not a coin flip
    found = run("chance_plateau", records(loss=[0.6931] * 6, acc=moving))
    assert found == []


def test_short_stay_is_not_a_plateau() -> None:
    assert run("chance_plateau", records(loss=[0.6931] * 4 + [0.5, 0.4])) == []


def test_loss_between_chance_levels_is_clean() -> None:
    assert run("chance_plateau", records(loss=[1.2] * 10)) == []


# A model that learned only an imbalanced class prior sits at the prior's entropy, under
# ln(K); its accuracy is frozen at the majority rate.
PRIOR_60_40 = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))  # 0.673, 2.9% under ln 2


def test_loss_at_an_imbalanced_prior_with_frozen_accuracy_is_a_plateau() -> None:
    losses = [PRIOR_60_40 + 0.002 * (-1) ** i for i in range(8)]
    (found,) = run("chance_plateau", records(loss=losses, val_acc=[0.6] * 8))
    assert found.severity == Severity.ERROR and "frozen" in found.message


@pytest.mark.parametrize("frozen", [0.0, 1.0, 100.0])
def test_an_accuracy_frozen_at_0_or_1_confirms_no_plateau(frozen: float) -> None:
    # No classifier scores 0 or 100% while it predicts one class: such a value is some
    # other series (Lingua's gradient-accumulation counter ``acc: 0``).
    losses = [PRIOR_60_40 + 0.002 * (-1) ** i for i in range(8)]
    assert run("chance_plateau", records(loss=losses, val_acc=[frozen] * 8)) == []


@pytest.mark.parametrize(("acc", "plateau"), [(0.0, False), (0.02, False), (0.05, True)])
def test_an_accuracy_near_chance_is_within_half_of_1_over_k(acc: float, plateau: bool) -> None:
    # At K = 20, 1/K is 0.05: a tolerance of 0.05 would take in 0 (Lingua prints its
    # gradient-accumulation counter as ``acc: 0``); half of 1/K does not.
    ln20 = math.log(20)
    losses = [11.0, 9.0, 7.0, 5.0, 4.0] + [ln20 + 0.002 * (-1) ** i for i in range(30)]
    losses += [1.0 / (i + 1) for i in range(10)]
    accs = (
        [0.3] * 5 + [acc + 0.001 * (i % 2) for i in range(30)] + [0.5 + i / 25 for i in range(10)]
    )
    found = run("chance_plateau", records(loss=losses, acc=accs))
    assert bool(found) is plateau


def test_slow_steady_descent_through_ln_k_is_not_a_plateau() -> None:
    losses = [0.700 - 0.002 * i for i in range(10)]  # falls every record, no accuracy
    assert run("chance_plateau", records(loss=losses)) == []


def test_climb_through_ln_k_from_below_is_not_a_plateau() -> None:
    below = [0.60, 0.61, 0.60, 0.62]
    through = [0.690, 0.694, 0.689, 0.695, 0.691, 0.696]
    above = [0.75, 0.80, 0.90, 1.00]
    assert run("chance_plateau", records(loss=below + through + above)) == []


def test_accuracy_falling_through_one_over_k_does_not_confirm() -> None:
    losses = [math.log(6) * (1 - 0.004 * (i % 2)) for i in range(8)]
    accs = [0.21, 0.19, 0.175, 0.16, 0.145, 0.13, 0.115, 0.10]
    found = run("chance_plateau", records(loss=[1.5, 1.5, 1.55, *losses], acc=[0.3] * 3 + accs))
    assert found == []


def test_a_thin_excerpt_at_ln_k_on_every_record_is_reported() -> None:
    (found,) = run("chance_plateau", records(loss=[6.9063, 6.9073, 6.9081]))  # ln 1000
    assert found.confidence == Confidence.MEDIUM and "every record of the log" in found.message


def test_a_thin_excerpt_only_near_ln_k_is_not() -> None:
    assert run("chance_plateau", records(loss=[6.71, 6.65, 6.76])) == []  # 3% under ln 1000


def test_a_loss_in_bits_sits_at_log2_k() -> None:
    recs = [
        Record(step=i, line=i, metrics={"loss": math.log2(10) * (1 + 0.001 * (i % 2))}, bits=True)
        for i in range(1, 9)
    ]
    (found,) = run("chance_plateau", recs)
    assert "log2(10)" in found.message


def test_the_same_number_in_nats_is_not_at_chance() -> None:
    assert run("chance_plateau", records(loss=[math.log2(10)] * 8)) == []  # ln 27.7


def _told(losses: list[float]) -> list[tuple[Severity, int]]:
    """The severities a live reading announces, record by record, as (severity, step)."""
    from gradlog.config import Thresholds
    from gradlog.detectors.plateau import ChancePlateauDetector

    detector = ChancePlateauDetector(Thresholds())
    told = []
    for record in records(loss=losses):
        told += [(d.severity, record.step) for d in detector.observe(record)]
    told += [(d.severity, -1) for d in detector.finish()]
    return told


def test_a_run_that_begins_at_chance_is_info_until_it_has_stayed_long() -> None:
    # Every classifier starts near ln(K): while the run has not left the plateau it began
    # in, a live reading says info ("so far"), and warning from its 20th record at chance
    # on; the end decides: error if it stayed there. `gradlog run --stop-on error` must
    # not kill a healthy start, and no live alert may be worse than the final report.
    at_chance = [math.log(10) + 0.001 * (-1) ** i for i in range(30)]
    stayed = _told(at_chance)
    assert stayed == [(Severity.INFO, 5), (Severity.WARNING, 20), (Severity.ERROR, -1)]
    # Learned after 30 records at chance: a long slow start, a warning to the end.
    learned = _told(at_chance + [2.0 - i / 100 for i in range(40)])
    assert [severity for severity, _ in learned] == [Severity.INFO, *[Severity.WARNING] * 2]
    assert "a long slow start" in _found(at_chance + [2.0 - i / 100 for i in range(40)])
    # Learned after 12: a slow start, info from first to last.
    short = _told(at_chance[:12] + [2.0 - i / 100 for i in range(40)])
    assert [severity for severity, _ in short] == [Severity.INFO, Severity.INFO]


def _found(losses: list[float]) -> str:
    (found,) = run("chance_plateau", records(loss=losses))
    return found.message


def _descends_onto(level: float, ppl: bool) -> list[Record]:
    """A loss falling slowly from 20% above ``level`` onto it, where it ends (an excerpt
    of a long run, as ``grep loss train.log | tail`` gives), perplexity printed or not."""
    losses = [level * (1.2 - 0.2 * min(1.0, i / 40)) for i in range(50)]
    return records(loss=losses, ppl=[math.exp(x) for x in losses] if ppl else [])


def test_a_language_model_at_a_few_classes_chance_level_is_no_plateau() -> None:
    # Perplexity printed: a language model, whose chance is ln of its vocabulary; at
    # ppl 6.0 it has learned a great deal. Without it, the same loss is a 6-way coin.
    assert run("chance_plateau", _descends_onto(math.log(6), ppl=True)) == []
    assert [d.severity for d in run("chance_plateau", _descends_onto(math.log(6), ppl=False))] == [
        Severity.ERROR
    ]
    flat = records(loss=[0.6931] * 8, val_ppl=[2.0] * 8)  # at ln 2 from its first record
    assert run("chance_plateau", flat) == []


def test_a_language_model_at_its_vocabulary_s_chance_level_is_a_plateau() -> None:
    level = math.log(32000)
    found = run("chance_plateau", records(loss=[level] * 8, ppl=[32000.0] * 8))
    assert [d.severity for d in found] == [Severity.ERROR]
    assert "ln(32000)" in found[0].message


@pytest.mark.parametrize("k", [27, 65])
def test_a_loss_frozen_on_a_character_vocabulary_s_chance_is_a_plateau(k: int) -> None:
    # makemore's dead MLP: 3.2958 to four digits for the whole run, ln 27. Such class
    # counts are too dense in ln(K) for the usual 1%: only a loss on ln(K) to 0.05%.
    level = math.log(k)
    frozen = [4.0, level * 1.0003, *[level + (-1) ** i * 1e-4 for i in range(30)]]
    (found,) = run("chance_plateau", records(loss=frozen))
    assert found.severity is Severity.ERROR and f"ln({k})" in found.message
    # a language model converging near ln 27 (noise of a few tenths of a percent), or
    # flat 0.3% off it, is no plateau
    near = [4.0, *[level * (1 + 0.004 * math.sin(i)) for i in range(30)]]
    assert run("chance_plateau", records(loss=near)) == []
    assert run("chance_plateau", records(loss=[4.0, *[level * 0.997] * 30])) == []


def _at_ln_40(settings: str) -> str:
    """A run whose loss sits at ln 40 (no common class count) with noise, after a line
    of settings."""
    losses = [math.log(40) * (1 + 0.002 * math.sin(i)) for i in range(60)]
    lines = [f"step {i + 1} | loss {loss:.4f} | lr 1.0e-03" for i, loss in enumerate(losses)]
    return "\n".join([settings, *lines])


@pytest.mark.parametrize(
    "settings",
    [
        "Namespace(batch_size=32, num_classes=40, lr=0.001)",
        "MODEL:\n  NUM_CLASSES: 40\n  ARCH: pointnet",
        "vocab_size: 40",
    ],
)
def test_a_class_count_the_log_prints_is_a_chance_level(settings: str) -> None:
    from gradlog.engine import analyze

    text = _at_ln_40(settings)
    for found in (analyze_text(text), list(analyze(text.split("\n")).diagnoses)):
        plateaus = [d for d in found if d.id == "chance_plateau"]
        assert [d.severity for d in plateaus] == [Severity.ERROR]
        assert "ln(40)" in plateaus[0].message
    # Without the count, ln 40 is no chance level gradlog knows.
    bare = _at_ln_40("Namespace(batch_size=32, lr=0.001)")
    assert not [d for d in analyze_text(bare) if d.id == "chance_plateau"]


def _at_ln_390(evaluated: str, acc: float, count: int = 300) -> str:
    """A run whose loss sits at ln 390 (a vocabulary of 390 MIDI events, printed nowhere)
    with noise, and every 30 steps an evaluation line (``evaluated``: its format) at an
    accuracy of about ``acc``."""
    lines = []
    for i in range(count):
        loss = math.log(390) * (1 + 0.002 * math.sin(i))
        lines.append(f"step {i + 1} | loss {loss:.4f}")
        if i % 30 == 29:
            wobble = acc * (1 + 0.03 * math.cos(i))
            lines.append(evaluated.format(loss=loss, acc=wobble))
    return "\n".join(lines)


@pytest.mark.parametrize(
    "evaluated",
    ["val_loss {loss:.4f} | val_acc {acc:.6f}", "train acc {acc:.6f} train loss {loss:.4f}"],
)
def test_an_accuracy_of_1_over_k_beside_a_loss_at_ln_k_names_k(evaluated: str) -> None:
    # A uniform guess over K classes scores 1/K and costs ln(K), whatever K is: the pair
    # names K where no setting printed it (MusicTransformer's 390 events).
    from gradlog.engine import analyze

    text = _at_ln_390(evaluated, 1 / 390)
    for found in (analyze_text(text), list(analyze(text.split("\n")).diagnoses)):
        plateaus = [d for d in found if d.id == "chance_plateau"]
        assert [d.severity for d in plateaus] == [Severity.ERROR], found
        assert "-way classifier" in plateaus[0].message


def test_an_accuracy_that_names_no_k_beside_the_loss_is_no_chance_level() -> None:
    # An accuracy of 1/100 beside a loss at ln 390: no uniform guess prints both.
    found = analyze_text(_at_ln_390("val_loss {loss:.4f} | val_acc {acc:.6f}", 0.01))
    assert not [d for d in found if d.id == "chance_plateau"]


def test_a_language_model_s_warm_up_at_ln_v_is_no_long_slow_start() -> None:
    # At ln(50304) for 30 records, then learning: a language model's warm-up (llm.c), info
    # live and in the end, however many records it took short of half the run.
    at_vocabulary = [10.881 + 0.001 * (i % 2) for i in range(30)]
    learned = _told(at_vocabulary + [9.4 - i / 20 for i in range(60)])
    assert [severity for severity, _ in learned] == [Severity.INFO, Severity.INFO]
