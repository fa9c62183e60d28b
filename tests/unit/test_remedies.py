"""Remedies filled from the run: framework, clip threshold, learning rate, rollback step."""

from __future__ import annotations

from dataclasses import replace

from gradlog.detectors import RULES
from gradlog.model import Confidence, Diagnosis, Severity
from gradlog.remedies import CLIP_BY_FRAMEWORK, Context, general, personalise
from tests.helpers import analyze_text


def _log(prefix: str, lines: list[str]) -> str:
    return "\n".join(prefix + line for line in lines)


SPIKE_RUN = [
    f"step {300 + i} | loss {loss} | grad_norm {grad} | lr {lr}"
    for i, (loss, grad, lr) in enumerate(
        [
            (2.10, 1.1, 3e-4),
            (2.08, 0.9, 3e-4),
            (2.07, 1.2, 3e-4),
            (2.05, 1.0, 3e-4),
            (2.04, 1.1, 3e-4),
            (2.03, 1.3, 3e-4),
            (31.0, 900.0, 3e-4),
            (2.5, 2.0, 3e-4),
        ]
    )
]


def test_a_log_of_no_known_framework_gets_the_generic_clip_with_the_run_s_threshold() -> None:
    (spike,) = [d for d in analyze_text("\n".join(SPIKE_RUN)) if d.id == "loss_spike"]
    assert "at about 1.2" in spike.remedies[0] and "min(1, 1.2/||g||)" in spike.remedies[0]
    assert "torch" not in " ".join(spike.remedies)  # no knob of a framework it may not use
    assert "from 0.0003 to about 0.0001" in spike.remedies[1]
    assert "at or before step 305" in spike.remedies[2]


def test_hf_run_is_not_told_to_clip_as_hf_already_does() -> None:
    lines = [
        f"{{'loss': {loss}, 'grad_norm': {grad}, 'learning_rate': 5e-05, 'epoch': {i / 10}}}"
        for i, (loss, grad) in enumerate(
            [(2.1, 1.0), (2.0, 1.1), (1.9, 0.9), (1.8, 1.0), (1.7, 1.2), (40.0, 800.0)]
        )
    ]
    (spike,) = [d for d in analyze_text("\n".join(lines)) if d.id == "loss_spike"]
    assert spike.remedies[0].startswith("Check that gradient clipping is on: hf_trainer")
    assert "`max_grad_norm=1.0`" in spike.remedies[0]


def test_a_keras_run_gets_the_keras_knob() -> None:
    values = Context("keras", clip_at=2.345).values()
    assert "`clipnorm=2.3`" in values["clip"]


def _diagnosis(rule_id: str) -> Diagnosis:
    """A diagnosis of rule ``rule_id`` with its remedies as the rule writes them."""
    rule = RULES[rule_id]
    return Diagnosis(
        rule.id,
        rule.title,
        Severity.ERROR,
        Confidence.HIGH,
        "",
        None,
        1,
        1,
        1,
        remedies=rule.remedies,
    )


def test_a_language_model_gets_no_advice_for_recurrent_cells() -> None:
    diagnosis = _diagnosis("exploding_gradient")
    assert any(r.startswith("For recurrent") for r in personalise(diagnosis, Context()).remedies)
    fitted = personalise(diagnosis, Context("nanogpt")).remedies
    assert fitted and not any(r.startswith("For recurrent") for r in fitted)


def test_a_zero_learning_rate_in_the_log_is_the_first_remedy_of_a_stall() -> None:
    diagnosis = _diagnosis("stalled")
    assert (
        personalise(diagnosis, Context(lr=0.0))
        .remedies[0]
        .startswith("The learning rate the log shows is 0")
    )
    assert not personalise(diagnosis, Context(lr=1e-4)).remedies[0].startswith("The learning")


def test_without_numbers_the_general_wording_is_used() -> None:
    values = Context().values()
    assert values["clip"].startswith("Clip gradients by norm (g <- g * min(1, c/||g||)")
    assert "{" not in " ".join(general(RULES["nan"].remedies))


def test_every_framework_snippet_takes_the_threshold() -> None:
    for name, snippet in CLIP_BY_FRAMEWORK.items():
        assert "{c}" in snippet, name


def _clip_by_sorting(pairs: list[tuple[float, float]], first: float) -> float | None:
    """The clip threshold as its rule reads: the grad norms before ``first``, sorted;
    those above 5x their median left out; the 90th percentile of the rest."""
    grads = sorted(g for s, g in pairs if s < first)
    if grads:
        typical = grads[len(grads) // 2]
        grads = [g for g in grads if g <= 5 * typical]
    return grads[int(0.9 * (len(grads) - 1))] if len(grads) >= 5 else None


def test_the_clip_threshold_is_the_rules_order_statistic() -> None:
    """However the history was filled (record by record, in blocks of columns, both in
    turn) and however many grad norms it keeps (a few: in Python; many: in numpy, by
    selection), the clip threshold is the one a sort gives."""
    import random

    from gradlog.detectors.block import Block
    from gradlog.model import Record
    from gradlog.remedies import _KEPT, History

    rng = random.Random(3)
    history, kept = History(), []
    step = 0
    for _ in range(60):
        records = []
        for _ in range(rng.choice((1, 3, 50, 700))):
            step += 1
            grad = rng.lognormvariate(0, 1) * (50 if rng.random() < 0.02 else 1)
            records.append(Record(step, step, {"loss": 1.0, "grad_norm": grad}))
        if len(records) == 1:
            history.add(records[0])
        else:
            history.add_block(Block(records), 0, len(records))
        kept += [(float(r.step), r.metrics["grad_norm"]) for r in records]
        early, recent = kept[:_KEPT], kept[_KEPT:][-_KEPT:]
        for first in (step + 1, max(1, step - 40), rng.randint(1, step + 1)):
            diagnosis = replace(_diagnosis("loss_spike"), first_step=first)
            found = history.context(diagnosis, None).clip_at
            assert found == _clip_by_sorting(early + recent, first)
