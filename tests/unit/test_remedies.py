"""Remedies filled from the run: framework, clip threshold, learning rate, rollback step."""

from __future__ import annotations

from gradlog.detectors import RULES
from gradlog.remedies import CLIP_BY_FRAMEWORK, Context, general
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


def test_plain_log_gets_torch_clip_with_threshold_from_the_run() -> None:
    (spike,) = [d for d in analyze_text("\n".join(SPIKE_RUN)) if d.id == "loss_spike"]
    assert "clip_grad_norm_(model.parameters(), max_norm=1.2)" in spike.remedies[0]
    assert "from 0.0003 to about 0.0001" in spike.remedies[1]
    assert "at or before step 305" in spike.remedies[2]


def test_hf_run_gets_training_arguments_advice() -> None:
    lines = [
        f"{{'loss': {loss}, 'grad_norm': {grad}, 'learning_rate': 5e-05, 'epoch': {i / 10}}}"
        for i, (loss, grad) in enumerate(
            [(2.1, 1.0), (2.0, 1.1), (1.9, 0.9), (1.8, 1.0), (1.7, 1.2), (40.0, 800.0)]
        )
    ]
    (spike,) = [d for d in analyze_text("\n".join(lines)) if d.id == "loss_spike"]
    assert "`max_grad_norm=1.1` in `TrainingArguments`" in spike.remedies[0]


def test_without_numbers_the_general_wording_is_used() -> None:
    values = Context().values()
    assert values["clip"].startswith("Clip gradients by norm (g <- g * min(1, c/||g||)")
    assert "{" not in " ".join(general(RULES["nan"].remedies))


def test_every_framework_snippet_takes_the_threshold() -> None:
    for name, snippet in CLIP_BY_FRAMEWORK.items():
        assert "{c}" in snippet, name
