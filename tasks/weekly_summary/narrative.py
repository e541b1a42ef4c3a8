"""The weekly summary's words: a model or a template phrases the facts, neither adds a figure.

Every figure in the text is checked against the facts (``numbers``) inside the ``Summary`` model's
own validation, so a model that invents or mistypes one gets the reason back as its next prompt
(instructor's re-ask). When the model still fails, or cannot be reached, the template's summary is
used and the reason travels with it as an escalation for the flow to record.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, Field, ValidationInfo, model_validator

from opsgate.llm import LlmInvalidAnswer, LlmRequestRefused, LlmUnavailable, ask
from opsgate.prompts import Prompt, latest_prompt
from tasks.weekly_summary.numbers import Facts, UnsupportedFigure, numeric_facts, unsupported

if TYPE_CHECKING:
    import instructor

PROMPTS = Path(__file__).parent / "prompts"
TEMPLATE_VERSION = "weekly-template-v1"


class Highlight(BaseModel):
    text: str = Field(min_length=1, max_length=300)
    facts: list[str] = Field(min_length=1, description="The keys of the facts this sentence states.")


class Summary(BaseModel):
    """The summary as the model returns it. Validated with ``context={"facts": facts}``: every
    citation must be a fact key and every figure a fact value (see ``numbers``). Without facts in
    the context only the shape is checked, which is what code building a summary itself needs."""

    headline: str = Field(min_length=1, max_length=200)
    highlights: list[Highlight] = Field(default_factory=list, max_length=8)
    risks: list[Highlight] = Field(default_factory=list, max_length=6)
    actions: list[str] = Field(default_factory=list, max_length=6, description="Next steps, without new figures.")

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> Self:
        facts = (info.context or {}).get("facts")
        if facts is None:
            return self
        problems = [
            f"{where} cites {sorted(unknown)}, which are not keys of the facts; cite only keys given"
            for where, item in self.cited_items() if (unknown := set(item.facts) - set(facts))
        ]
        problems += [p.message for p in check_figures(self, facts)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cited_items(self) -> list[tuple[str, Highlight]]:
        return [(f"highlights[{i}]", h) for i, h in enumerate(self.highlights)] + [(f"risks[{i}]", r) for i, r in enumerate(self.risks)]


def check_figures(summary: Summary, facts: Facts) -> list[UnsupportedFigure]:
    """Every figure in the summary that no fact backs, with where it is. A highlight's or risk's
    figures must come from the facts it cites; the headline and actions may use any fact."""
    problems = unsupported(summary.headline, "headline", facts)
    for where, item in summary.cited_items():
        problems += unsupported(item.text, f"{where}.text", facts, cited=item.facts)
    for i, action in enumerate(summary.actions):
        problems += unsupported(action, f"actions[{i}]", facts)
    return problems


class NarrativeResult(BaseModel):
    """The summary, who wrote it, and, when the model's answer could not be used, why."""

    summary: Summary
    source: Literal["llm", "template"]
    instruction_version: str = Field(description="The prompt's identity, or the template's version.")
    escalation: str | None = None


@lru_cache
def prompt() -> Prompt:
    return latest_prompt(PROMPTS, "summarise_week")


def summarise(facts: Facts, client: instructor.Instructor | None = None) -> NarrativeResult:
    """The model's summary when it passes the checks (re-asks included), else the template's.
    The facts go to the model as JSON in the user message: data, never instructions."""
    if client is None:
        return NarrativeResult(summary=template_summary(facts), source="template", instruction_version=TEMPLATE_VERSION)
    try:
        answer = ask(client, Summary, prompt().messages(json.dumps(facts, ensure_ascii=False)), context={"facts": facts})
    except LlmInvalidAnswer as exc:
        reason = f"the model's summary failed the check against the facts (figures or citations), so the template's is used: {exc}"
    except (LlmUnavailable, LlmRequestRefused) as exc:
        reason = f"{exc}; the template's summary is used"
    else:
        return NarrativeResult(summary=answer, source="llm", instruction_version=prompt().ident)
    return NarrativeResult(summary=template_summary(facts), source="template", instruction_version=TEMPLATE_VERSION, escalation=reason)


def _number(value: int | float) -> str:
    """Thousands separated, at most two decimals: the checker allows rounding to the stated digit."""
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def _change(values: dict[str, int | float], key: str) -> tuple[str, list[str]]:
    """The tail ``, up 12.3% on the week before`` when the fact ``<key>_change_pct`` is there."""
    change_key = f"{key}_change_pct"
    if change_key not in values:
        return "", []
    change = values[change_key]
    phrase = "unchanged on the week before" if change == 0 else f"{'up' if change > 0 else 'down'} {_number(abs(change))}% on the week before"
    return f", {phrase}", [change_key]


_COUNTS = (("opened", "{} items opened"), ("closed", "{} items closed"), ("backlog_end", "{} items open at the end of the week"))


def template_summary(facts: Facts) -> Summary:
    """A plain summary of the facts it knows (the figures contract plus ``<figure>_change_pct`` and
    ``approval_rate``), skipping any that are missing or null. It is validated against the facts
    like a model's answer, so a template bug fails loudly instead of printing a wrong figure."""
    values: dict[str, int | float] = {k: facts[k] for k in numeric_facts(facts)}  # type: ignore[misc]  # numeric_facts keeps numbers only
    highlights, risks, actions = [], [], []
    for key, phrase in _COUNTS:
        if key in values:
            change, cited = _change(values, key)
            highlights.append({"text": phrase.format(_number(values[key])) + change + ".", "facts": [key, *cited]})
    cycle = [(k, label) for k, label in (("cycle_time_p50_hours", "median"), ("cycle_time_p90_hours", "90th percentile")) if k in values]
    if cycle:
        parts = ", ".join(f"{label} {_number(values[k])} hours" for k, label in cycle)
        highlights.append({"text": f"Cycle time of closed items: {parts}.", "facts": [k for k, _ in cycle]})
    if "approval_rate" in values:
        highlights.append({"text": f"Approval rate {_number(values['approval_rate'] * 100)}%.", "facts": ["approval_rate"]})
    if values.get("sla_breaches"):
        risks.append({"text": f"{_number(values['sla_breaches'])} items breached their SLA.", "facts": ["sla_breaches"]})
        actions.append("Review the items that breached their SLA with their owners.")
    elif "sla_breaches" in values:
        highlights.append({"text": "No SLA breaches.", "facts": ["sla_breaches"]})
    if {"opened", "closed"} <= values.keys() and values["opened"] > values["closed"]:
        risks.append({"text": "More items were opened than closed.", "facts": ["opened", "closed"]})
        actions.append("Check whether the team has the capacity for the incoming work.")
    week = facts.get("week")
    headline = ", ".join(phrase.format(_number(values[k])).replace(" items", "") for k, phrase in _COUNTS if k in values)
    title = f"Week {week}" if isinstance(week, str) else "This week"
    summary = {"headline": f"{title}: {headline}." if headline else f"{title}: no figures were available.", "highlights": highlights, "risks": risks, "actions": actions}
    return Summary.model_validate(summary, context={"facts": facts})
