"""The weekly summary's words: a model or a template phrases the facts, neither adds a figure.

Every figure in the text is checked against the facts (``opsgate.reports.figures``) inside the ``Summary`` model's
own validation, so a model that invents or mistypes one gets the reason back as its next prompt
(instructor's re-ask). When the model still fails, or cannot be reached, the template's summary is
used and the reason travels with it as an escalation for the flow to record.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from opsgate import (
    Escalation,
    EscalationReason,
    Facts,
    LlmInvalidAnswer,
    LlmRequestRefused,
    LlmUnavailable,
    Prompt,
    Summary,
    ask,
    latest_prompt,
    numeric_facts,
)

if TYPE_CHECKING:
    import instructor

PROMPTS = Path(__file__).parent / "prompts"
PROMPT_NAME = "summarise_week"
TEMPLATE_VERSION = "weekly-template-v1"


class NarrativeResult(BaseModel):
    """The summary, who wrote it, and, when the model's answer could not be used, why."""

    summary: Summary
    source: Literal["llm", "template"]
    instruction_version: str = Field(description="The prompt's identity, or the template's version.")
    escalation: Escalation | None = None


@lru_cache
def current_prompt() -> Prompt:
    """The newest prompt file: what live runs draft with (read once per process)."""
    return latest_prompt(PROMPTS, PROMPT_NAME)


def summarise(
    facts: Facts, client: instructor.Instructor | None = None, prompt: Prompt | None = None
) -> NarrativeResult:
    """The model's summary when it passes the checks (re-asks included), else the template's.
    The facts go to the model as JSON in the user message: data, never instructions. The model
    drafts with ``prompt``, the newest prompt file unless a replay names another version."""
    if client is None:
        return NarrativeResult(summary=template_summary(facts), source="template", instruction_version=TEMPLATE_VERSION)
    prompt = prompt or current_prompt()
    try:
        answer = ask(client, Summary, prompt.messages(json.dumps(facts, ensure_ascii=False)), context={"facts": facts})
    except LlmInvalidAnswer as exc:
        reason = EscalationReason.FAILED_CHECK
        detail = f"the model's summary failed the check against the facts (figures or citations), so the template's is used: {exc}"
    except (LlmUnavailable, LlmRequestRefused) as exc:
        reason, detail = EscalationReason.TOOL_FAILURE, f"{exc}; the template's summary is used"
    else:
        return NarrativeResult(summary=answer, source="llm", instruction_version=prompt.ident)
    escalation = Escalation(reason=reason, field="summary", detail=detail)
    return NarrativeResult(
        summary=template_summary(facts), source="template", instruction_version=TEMPLATE_VERSION, escalation=escalation
    )


def _number(value: int | float) -> str:
    """Thousands separated, at most two decimals: the checker allows rounding to the stated digit."""
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def _change(values: dict[str, int | float], key: str) -> tuple[str, list[str]]:
    """The tail ``, up 12.3% on the week before`` when the fact ``<key>_change_pct`` is there."""
    change_key = f"{key}_change_pct"
    if change_key not in values:
        return "", []
    change = values[change_key]
    phrase = (
        "unchanged on the week before"
        if change == 0
        else f"{'up' if change > 0 else 'down'} {_number(abs(change))}% on the week before"
    )
    return f", {phrase}", [change_key]


_STORE = (
    ("invoices_posted", "{} documents posted to payables."),
    ("records_merged", "{} duplicate records merged."),
    ("requests_routed", "{} requests routed to a queue."),
    ("corrections", "Approvers corrected {} proposed fields."),
    ("escalations_taken_up", "{} escalated cases taken up by a person."),
    ("escalations_not_ours", "{} escalated cases closed as not ours."),
)
_UNUSUAL = (
    ("opened", "Opened"),
    ("closed", "Closed"),
    ("backlog_end", "The backlog at the end of the week"),
    ("sla_breaches", "SLA breaches"),
)
_COUNTS = (
    ("opened", "{} items opened"),
    ("closed", "{} items closed"),
    ("backlog_end", "{} items open at the end of the week"),
)


def template_summary(facts: Facts) -> Summary:
    """A plain summary of the facts it knows (the figures contract plus ``<figure>_change_pct``,
    ``approval_rate`` and the store's postings, spend, merges, corrections and escalations),
    skipping any that are missing, null or zero where zero says nothing. It is validated against
    the facts like a model's answer, so a template bug fails loudly instead of printing a wrong figure."""
    values: dict[str, int | float] = {k: facts[k] for k in numeric_facts(facts)}  # type: ignore[misc]  # numeric_facts keeps numbers only
    highlights, risks, actions = [], [], []
    for key, phrase in _COUNTS:
        if key in values:
            change, cited = _change(values, key)
            highlights.append({"text": phrase.format(_number(values[key])) + change + ".", "facts": [key, *cited]})
    cycle = [
        (k, label)
        for k, label in (("cycle_time_p50_hours", "median"), ("cycle_time_p90_hours", "90th percentile"))
        if k in values
    ]
    if cycle:
        parts = ", ".join(f"{label} {_number(values[k])} hours" for k, label in cycle)
        highlights.append({"text": f"Cycle time of closed items: {parts}.", "facts": [k for k, _ in cycle]})
    for key, phrase in _STORE:
        if values.get(key):
            highlights.append({"text": phrase.format(_number(values[key])), "facts": [key]})
    for key in sorted(k for k in values if k.startswith("spend_total_")):
        highlights.append(
            {"text": f"Spend posted: {_number(values[key])} {key.removeprefix('spend_total_')}.", "facts": [key]}
        )
    for key, label in _UNUSUAL:
        if f"{key}_baseline_mean" in values and key in values:
            text = f"{label} is unusual: {_number(values[key])} against {_number(values[f'{key}_baseline_mean'])} on average over the weeks before."
            risks.append({"text": text, "facts": [key, f"{key}_baseline_mean"]})
    if values.get("incidents"):
        risks.append(
            {
                "text": f"{_number(values['incidents'])} incidents were reported against executed actions.",
                "facts": ["incidents"],
            }
        )
        actions.append("Go through the incidents with the workflows' owners.")
    if values.get("escalations"):
        risks.append(
            {
                "text": f"{_number(values['escalations'])} cases went to their owners instead of the normal approval path.",
                "facts": ["escalations"],
            }
        )
        actions.append("Check why those cases were escalated.")
    if "approval_rate" in values:
        highlights.append(
            {"text": f"Approval rate {_number(values['approval_rate'] * 100)}%.", "facts": ["approval_rate"]}
        )
    if values.get("sla_breaches"):
        risks.append(
            {"text": f"{_number(values['sla_breaches'])} items breached their SLA.", "facts": ["sla_breaches"]}
        )
        actions.append("Review the items that breached their SLA with their owners.")
    elif "sla_breaches" in values:
        highlights.append({"text": "No SLA breaches.", "facts": ["sla_breaches"]})
    if {"opened", "closed"} <= values.keys() and values["opened"] > values["closed"]:
        risks.append({"text": "More items were opened than closed.", "facts": ["opened", "closed"]})
        actions.append("Check whether the team has the capacity for the incoming work.")
    week = facts.get("week")
    headline = ", ".join(
        phrase.format(_number(values[k])).replace(" items", "") for k, phrase in _COUNTS if k in values
    )
    title = f"Week {week}" if isinstance(week, str) else "This week"
    summary = {
        "headline": f"{title}: {headline}." if headline else f"{title}: no figures were available.",
        "highlights": highlights,
        "risks": risks,
        "actions": actions,
    }
    return Summary.model_validate(summary, context={"facts": facts})
