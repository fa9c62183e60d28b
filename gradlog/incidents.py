"""Incidents: the diagnoses of one input that tell one story, told as one.

A blow-up is seen by several rules at once: the grad norm explodes at 305, the loss
spikes at 307, NaN from 309. Each is a diagnosis of its own; together they are one
incident, told in time order with the earliest sign (the likely cause) first.

Rules are in families of related failures: instability (updates too large, whatever
follows from them), no learning (a plateau, vanishing gradients, a stall) and
overfitting. Two diagnoses of one family are one story when the later begins before
the earlier has ended or within ``GAP`` of the input's steps after it; anything else is
an independent problem, an incident of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from gradlog.model import Diagnosis, Evidence, Severity, Step
from gradlog.report import InputSummary, Report, position

GAP = 0.05  # of the input's span of steps: a later sign this close joins the story
# Families, each rule with its place in a story: the cause before its consequences when
# two start at the same step.
_STORY = {
    "large_update": ("instability", 0),
    "weight_growth": ("instability", 1),
    "exploding_gradient": ("instability", 2),
    "oscillation": ("instability", 3),
    "loss_spike": ("instability", 4),
    "loss_scale_collapse": ("instability", 5),
    "divergence": ("instability", 6),
    "nan": ("instability", 7),
    "vanishing_gradient": ("no learning", 0),
    "chance_plateau": ("no learning", 1),
    "stalled": ("no learning", 2),
    "overfitting": ("overfitting", 0),
}
# What an incident did to the run, by the most telling rule in it (first found here).
_OUTCOMES = (
    ("nan", "went non-finite"),
    ("divergence", "diverged"),
    ("loss_scale_collapse", "lost its loss scale"),
    ("exploding_gradient", "had exploding gradients"),
    ("loss_spike", "spiked"),
    ("chance_plateau", "did not learn"),
    ("vanishing_gradient", "did not learn"),
    ("stalled", "stalled"),
    ("overfitting", "began to overfit"),
)


class Incident(NamedTuple):
    """Diagnoses of one story, in time order (the earliest sign first)."""

    number: int  # 1, 2, ... in order of the input
    diagnoses: tuple[Diagnosis, ...]

    @property
    def severity(self) -> Severity:
        return max(d.severity for d in self.diagnoses)

    @property
    def first_step(self) -> Step | None:
        return self.diagnoses[0].first_step

    @property
    def last_step(self) -> Step | None:
        ends = [_end(d) for d in self.diagnoses if _end(d) is not None]
        return max(ends) if ends else None  # type: ignore[type-var]

    @property
    def line(self) -> int | None:
        return self.diagnoses[0].line

    @property
    def ids(self) -> tuple[str, ...]:
        """Its rules, each once, in the order of the story."""
        return tuple(dict.fromkeys(d.id for d in self.diagnoses))

    @property
    def evidence(self) -> list[Evidence]:
        """The evidence of every diagnosis of the incident, each value once, in story
        order."""
        seen: dict[tuple[object, int, str], Evidence] = {}
        for diagnosis in self.diagnoses:
            for item in diagnosis.evidence:
                seen.setdefault((item.step, item.line, item.metric), item)
        return list(seen.values())

    @property
    def remedies(self) -> dict[str, str]:
        """The remedies of every diagnosis, each once, the earliest sign's first: each
        with the rule that gives it."""
        found: dict[str, str] = {}
        for diagnosis in self.diagnoses:
            for remedy in diagnosis.remedies:
                found.setdefault(remedy, diagnosis.id)
        return found

    def why(self, whys: Mapping[str, str]) -> str:
        """Why the incident matters: its gravest rule's case (``whys`` by rule id); none
        for an info incident, which is no failure (a NaN step a loss scaler skipped is not
        a run "producing nothing")."""
        if self.severity == Severity.INFO:
            return ""
        return whys.get(max(self.diagnoses, key=lambda d: d.severity).id, "")

    @property
    def story(self) -> str:
        """``Loss spike -> Exploding gradients -> NaN or Inf in training``."""
        titles = dict.fromkeys(d.title for d in self.diagnoses)
        return " -> ".join(titles)

    @property
    def outcome(self) -> str:
        ids = set(self.ids)
        for rule, outcome in _OUTCOMES:
            if rule in ids:
                return outcome
        return f"showed {self.diagnoses[0].title.lower()}"

    def sentence(self, read: InputSummary | None = None) -> str:
        """``went non-finite at step 9: Loss spike -> Exploding gradients -> NaN``, the
        step as the input ``read`` counts it when given."""
        first = self.first_step
        if first is None:
            where = ""
        else:
            where = f" at {position(first, read) if read is not None else f'step {first}'}"
        if len(self.ids) == 1:
            return f"{self.outcome}{where}: {self.diagnoses[0].title}"
        return f"{self.outcome}{where}: {self.story}"


def _end(diagnosis: Diagnosis) -> Step | None:
    return diagnosis.last_step if diagnosis.last_step is not None else diagnosis.first_step


def _order(diagnosis: Diagnosis) -> tuple[float, int, int]:
    step = diagnosis.first_step
    place = _STORY.get(diagnosis.id, ("", 9))[1]
    return (float("inf") if step is None else float(step), place, diagnosis.line or 0)


def incidents(report: Report) -> tuple[Incident, ...]:
    """The input's diagnoses grouped into incidents, in order of their first step."""
    read = report.input
    span = 0.0
    if read.first_step is not None and read.last_step is not None:
        span = float(read.last_step) - float(read.first_step)
    gap = GAP * span
    stories: list[list[Diagnosis]] = []
    open_: dict[str, tuple[list[Diagnosis], float]] = {}  # family -> its story, its end
    for diagnosis in sorted(report.diagnoses, key=_order):
        family = _STORY.get(diagnosis.id, (None, 0))[0]
        step, end = diagnosis.first_step, _end(diagnosis)
        current = open_.get(family) if family is not None and step is not None else None
        if current is not None and float(step) <= current[1] + gap:  # type: ignore[arg-type]
            current[0].append(diagnosis)
            finish = max(current[1], float(end)) if end is not None else current[1]
            open_[family] = (current[0], finish)  # type: ignore[index]
            continue
        story = [diagnosis]
        stories.append(story)
        if family is not None and step is not None:
            open_[family] = (story, float(end if end is not None else step))
    return tuple(Incident(number, tuple(story)) for number, story in enumerate(stories, 1))


def verdict(report: Report, found: tuple[Incident, ...] | None = None) -> str:
    """One line on the input: its worst incident's story, or that it looks healthy."""
    found = incidents(report) if found is None else found
    if not found:
        return ""
    worst = max(found, key=lambda i: (i.severity, -i.number))
    more = len(found) - 1
    rest = f" (and {more} more incident{'s' if more != 1 else ''})" if more else ""
    return f"The run {worst.sentence(report.input)}{rest}."
