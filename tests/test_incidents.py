"""Incidents and charts: one story told once, the run's curve drawn honestly."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradlog.chart import draw
from gradlog.curves import CAPACITY, Curve
from gradlog.engine import analyze
from gradlog.formatters import github, markdown, terminal
from gradlog.formatters import json as json_format
from gradlog.incidents import incidents, verdict
from gradlog.model import Confidence, Diagnosis, Severity
from gradlog.report import InputSummary, Report, ReportSet
from gradlog.sources import open_input
from tests.helpers import ROOT, SAMPLES

SEED = ROOT.parent / "shared" / "seed-logs" / "exploding.log"


def _diagnosis(rule: str, first: int, last: int | None = None, line: int = 0) -> Diagnosis:
    return Diagnosis(
        rule,
        rule.replace("_", " ").capitalize(),
        Severity.ERROR,
        Confidence.HIGH,
        f"{rule} at {first}",
        "loss",
        first,
        last,
        line or first,
    )


def _report(*diagnoses: Diagnosis, steps: tuple[int, int] = (0, 1000)) -> Report:
    read = InputSummary("run.log", 1000, 1000, 1000, (), ("loss",), steps[0], steps[1])
    return Report(read, diagnoses)


def test_one_blow_up_is_one_incident_told_in_time_order() -> None:
    # Reported by rule (NaN first), the story is the grad norm, the spike, then NaN.
    found = incidents(
        _report(
            _diagnosis("nan", 309, 320),
            _diagnosis("loss_spike", 307),
            _diagnosis("exploding_gradient", 305, 312),
        )
    )
    assert len(found) == 1
    assert found[0].ids == ("exploding_gradient", "loss_spike", "nan")
    assert (found[0].first_step, found[0].last_step) == (305, 320)


def test_independent_problems_stay_apart() -> None:
    report = _report(
        _diagnosis("loss_spike", 100),  # recovered long before
        _diagnosis("nan", 900, 950),
        _diagnosis("chance_plateau", 0, 80),  # another family, overlapping in time
        _diagnosis("vanishing_gradient", 10, 60),
    )
    found = incidents(report)
    assert [i.ids for i in found] == [
        ("chance_plateau", "vanishing_gradient"),
        ("loss_spike",),
        ("nan",),
    ]
    # The verdict tells the worst (all errors here: the first of them) and counts the rest.
    assert verdict(report, found) == (
        "The run did not learn at step 0: Chance plateau -> Vanishing gradient "
        "(and 2 more incidents)."
    )


def test_a_cause_comes_before_its_consequence_at_the_same_step() -> None:
    found = incidents(_report(_diagnosis("nan", 50), _diagnosis("exploding_gradient", 50)))
    assert found[0].ids == ("exploding_gradient", "nan")
    assert found[0].outcome == "went non-finite"


@pytest.mark.skipif(not SEED.exists(), reason="the seed logs are not beside the checkout")
def test_the_seed_blow_up_reads_as_one_incident() -> None:
    report = analyze(open_input(str(SEED)), "exploding.log")
    found = incidents(report)
    assert len(found) == 1
    assert found[0].ids[-1] == "nan" and "exploding_gradient" in found[0].ids
    text = terminal.render(ReportSet((report,)), width=100)
    assert text.count("incident 1") == 1 and "incident 2" not in text
    assert "The run went non-finite at epoch 8" in text  # as the log counts
    assert "grad_norm" in text  # the evidence of the gradient, in the one panel


@pytest.mark.parametrize("seed", range(5))
def test_curve_in_blocks_is_curve_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.choice((10, 1500, 5000))
    values = [rng.random() if rng.random() > 0.02 else math.nan for _ in range(count)]
    one, blocks = Curve(), Curve()
    for i, value in enumerate(values):
        one.add_one(float(i), i + 1, value)
    start = 0
    while start < count:
        end = min(count, start + rng.randint(1, 900))
        blocks.add(
            np.arange(start, end, dtype=np.float64),
            np.arange(start + 1, end + 1, dtype=np.int64),
            np.array(values[start:end]),
        )
        start = end
    assert repr(one.freeze()) == repr(blocks.freeze())
    assert len(one.steps) <= CAPACITY


def test_a_spike_of_one_record_in_a_million_still_shows() -> None:
    curve = Curve()
    values = np.full(1_000_000, 1.0)
    values[654_321] = 1000.0
    steps = np.arange(1_000_000, dtype=np.float64)
    lines = np.arange(1, 1_000_001, dtype=np.int64)
    for start in range(0, 1_000_000, 16_384):
        curve.add(
            steps[start : start + 16_384],
            lines[start : start + 16_384],
            values[start : start + 16_384],
        )
    points = curve.freeze()
    assert max(points.highs) == 1000.0 and len(points.steps) <= CAPACITY
    rows = [row.plain for row in draw("loss", points, 80, 6)]
    top = rows[1]  # under the title
    assert top.strip().startswith("1000")
    column = top.index("█") if "█" in top else top.index("▀")
    plot = top[11:]  # after the labels
    assert abs(plot.index(top[column]) / len(plot) - 0.654) < 0.05


def test_a_series_that_never_changes_is_one_line_not_a_chart() -> None:
    curve = Curve()
    steps = np.arange(1.0, 101.0)
    curve.add(steps, np.arange(1, 101, dtype=np.int64), np.full(100, 3e-4))
    assert [row.plain for row in draw("lr", curve.freeze(), 100, 4)] == [
        "lr, steps 1-100: 3.00e-04 at every step"
    ]
    values = np.full(100, 3e-4)
    values[50] = np.nan  # a NaN is news: the chart marks it
    curve = Curve()
    curve.add(steps, np.arange(1, 101, dtype=np.int64), values)
    rows = [row.plain for row in draw("lr", curve.freeze(), 100, 4)]
    assert len(rows) > 1 and "x" in rows[1]


def test_a_count_the_message_gives_is_not_repeated(tmp_path: Path) -> None:
    log = tmp_path / "chance.log"
    log.write_text(
        "".join(f"step {i} | loss {2.3026 + (i % 3) * 1e-4:.4f}\n" for i in range(1, 101))
    )
    text = terminal.render(ReportSet((analyze(open_input(str(log)), "chance.log"),)), width=200)
    assert "(100 records)" in text and "(100 records, confidence" not in text
    assert "(confidence high)" in text
    exploding = analyze(open_input(str(SAMPLES / "exploding.log")), "exploding.log")
    text = terminal.render(ReportSet((exploding,)), width=300)
    assert "stayed so for 1 record;" in text and "val_loss 2.4129 (confidence high)" in text
    assert "6 records above a healthy level;" in text and "(6 records," not in text
    assert "epoch 9 (1 record, confidence high)" in text  # the spike's message gives none


def test_the_healthy_sample_shows_its_curve_and_no_problems() -> None:
    report = analyze(open_input(str(SAMPLES / "healthy.log")), "healthy.log")
    text = terminal.render(ReportSet((report,)), width=100)
    assert "loss, steps 0-1950" in text and "grad_norm, steps" in text
    assert "No problems found" in text
    assert "loss, steps" not in terminal.render(ReportSet((report,)), width=100, chart=False)


def test_log_text_in_an_incident_is_shown_inert() -> None:
    hostile = _diagnosis("nan", 5)
    hostile = Diagnosis(**{**hostile.__dict__, "message": "loss \x1b[2J\x1b]0;pwned\x07 nan"})
    text = terminal.render(ReportSet((_report(hostile),)), width=100, color=True)
    assert "\x1b[2J" not in text and "\x1b]0;" not in text


def test_json_tells_incidents_beside_the_diagnoses(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    lines = [f"step {i} | loss {2.0 - i / 200:.4f} | grad_norm 1.0" for i in range(1, 200)]
    lines += ["step 200 | loss 9.5 | grad_norm 350.0", "step 201 | loss nan | grad_norm inf"]
    log.write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", "--format", "json", str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(run.stdout)["reports"][0]
    assert report["incidents"], report
    named = {i for incident in report["incidents"] for i in incident["diagnoses"]}
    assert named == set(range(len(report["diagnoses"])))  # every diagnosis, once
    assert report["verdict"].startswith("The run went non-finite at step 200")
    no_chart = subprocess.run(
        [sys.executable, "-m", "gradlog", "diagnose", "--no-chart", str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "incident 1" in no_chart.stdout and "loss, steps" not in no_chart.stdout


def test_markdown_draws_the_loss_for_github_and_keeps_a_spike(tmp_path: Path) -> None:
    from gradlog.formatters import markdown

    log = tmp_path / "run.log"
    lines = [f"step {i} | loss {1.0 + (i % 7) / 100:.4f}" for i in range(1, 5001)]
    lines[3210] = "step 3211 | loss 75.0000"  # one record in five thousand
    log.write_text("\n".join(lines) + "\n")
    report = analyze(open_input(str(log)), "``` | <b>run</b>\n# not a heading")
    text = markdown.render(ReportSet((report,)))
    block = text[text.index("```mermaid") :]
    block = block[: block.index("```", 3) + 3]
    assert "xychart-beta" in block and "75" in block.split("line [")[1]
    heading = next(line for line in text.splitlines() if line.startswith("#### "))
    assert heading == "#### \\`\\`\\` \\| &lt;b&gt;run&lt;/b&gt; \\# not a heading"
    assert "<b>run</b>" not in text and "\n# not a heading" not in text


def test_steps_are_named_as_the_log_names_them(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    lines = [f"iteration {i} | loss {2.0 - i / 500:.4f}" for i in range(1, 300)]
    lines += ["iteration 300 | loss nan"]
    log.write_text("\n".join(lines) + "\n")
    report = analyze(open_input(str(log)), "run.log")
    assert report.input.step_name == "iteration"
    text = terminal.render(ReportSet((report,)), width=100, chart=False)
    assert "iteration 300 (line 300)" in text and "step 300 (line" not in text
    assert verdict(report).startswith("The run went non-finite at iteration 300")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # mmdetection counts from batch 1 and prints every 50 batches
        ("Epoch [{e}][{b}/2766]\tlr: 0.01000, loss: {v}", "epoch 3, batch 150/2766"),
        # Torch7's ImageNet example
        ("Epoch: [{e}][{b}/2766] Time 0.675 Err {v}", "epoch 3, batch 150/2766"),
    ],
)
def test_a_step_counted_within_its_epoch_is_told_as_the_log_counts_it(
    tmp_path: Path, line: str, expected: str
) -> None:
    log = tmp_path / "run.log"
    rows = [
        line.format(e=e, b=b, v="nan" if (e, b) == (3, 150) else f"{2.0 - e / 10:.4f}")
        for e in range(1, 4)
        for b in range(50, 2767, 50)
    ]
    log.write_text("\n".join(rows) + "\n")
    report = analyze(open_input(str(log)), "run.log")
    assert report.input.batches == (2766, report.input.batches[1], 1)  # type: ignore[index]
    assert verdict(report).startswith(f"The run went non-finite at {expected}")


def test_rule_messages_name_steps_as_the_log_does(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    rows = [
        f"Epoch [{e}][{b}/400]\tlr: 0.01, loss: {2.0 - e / 10:.4f}"
        for e in (1, 2)
        for b in range(50, 401, 50)
    ]
    rows[11] = "Epoch [2][150/400]\tlr: 0.01, loss: nan"
    log.write_text("\n".join(rows) + "\n")
    report = analyze(open_input(str(log)), "run.log")
    text = terminal.render(ReportSet((report,)), width=120, chart=False)
    assert "non-finite at epoch 2, batch 150/400" in text
    assert "at step 550" not in text  # gradlog's own count, 400 + 150
    assert any("step 550" in d.message for d in report.diagnoses)  # JSON keeps the rule's


def test_an_incident_of_many_diagnoses_tells_its_first_and_last_and_counts_the_rest() -> None:
    """A rule that tells one episode a thousand times (a noisy series crossing its
    threshold) leaves a readable panel: the first diagnoses, the last, and a line
    counting the rest by rule and span; the machine formats keep every one."""
    told = [_diagnosis("vanishing_gradient", step, step + 4) for step in range(10, 510, 10)]
    report = _report(*told)
    assert len(incidents(report)) == 1
    text = terminal.render(ReportSet((report,)), width=200, color=False)
    shown = [step for step in range(10, 510, 10) if f"vanishing_gradient at {step} " in text]
    assert shown == [10, 20, 30, 40, 50, 60, 70, 500]
    assert (
        "and 42 more diagnoses: vanishing_gradient x42, from step 80 to step 490 "
        "(every one in --format json)" in text
    )
    assert json.loads(json_format.render(ReportSet((report,))))["summary"]["error"] == 50


def test_markdown_of_many_diagnoses_tells_the_first_and_last_and_advises_once() -> None:
    """A page (a job summary, a PR comment of at most 65,536 characters) lists 50
    diagnoses per input at most, counts the rest, and gives a rule's remedies once."""
    told = [
        Diagnosis(**{**_diagnosis("vanishing_gradient", step).__dict__, "remedies": ("Use ReLU.",)})
        for step in range(1, 121)
    ]
    page = markdown.render(ReportSet((_report(*told),)))
    rows = [line for line in page.splitlines() if line.startswith("| error |")]
    assert len(rows) == 50
    assert rows[48].endswith(" at 49 |") and rows[49].endswith(" at 120 |")
    assert "and 70 more (every one in `--format json`) |" in page
    assert page.count("<details>") == 1 and page.count("Use ReLU.") == 1


def test_github_annotates_the_first_and_last_diagnoses_and_counts_the_rest() -> None:
    """The runner shows at most 50 annotations of a job: a rule told a thousand times
    gives 50 and a notice counting the rest."""
    told = [_diagnosis("vanishing_gradient", step) for step in range(1, 121)]
    commands = github.render(ReportSet((_report(*told),))).splitlines()
    assert len(commands) == 51
    assert all(line.startswith("::error file=run.log,line=") for line in commands[:50])
    assert commands[49].endswith("::vanishing_gradient at 120")
    assert commands[50] == (
        "::notice file=run.log,title=gradlog::70 more diagnoses of this input "
        "(every one in --format json)"
    )
