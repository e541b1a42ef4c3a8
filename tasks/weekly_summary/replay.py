"""The weekly summary's replay: draft the narratives of past weeks again with another instruction
version, over the fact sheets those runs stored, to compare with the text the owner approved.

The input of a past case is its fact sheet (stored with the run, never edited), so nothing is
read from files again. The version picks the writer: the template's version the template, a
prompt version the model with that prompt (``summarise_week.vN`` the file as it is now,
``summarise_week.vN+<digest>``, as recorded with past cases, that exact text, refused when the file
was edited since). A model whose draft fails the figure check (re-asks included) or cannot be
reached escalates, as it would have in a live run, instead of falling back silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from opsgate import (
    PINNED,
    ExecutionError,
    Proposal,
    ReportPublication,
    Unavailable,
    llm_client,
    replayed_prompt,
    stored_sheets,
)
from tasks.weekly_summary.narrative import PROMPT_NAME, PROMPTS, TEMPLATE_VERSION, summarise

if TYPE_CHECKING:
    import instructor

    from opsgate import PastCase, Policy, Prompt


WORKFLOW = "weekly_summary"


def _writer(version: str, prompts: Path | None = None) -> Prompt | None:
    """The prompt the model drafts ``version`` with (from ``prompts``, the workflow's folder by
    default), or None for the template; a version it cannot draft with is refused."""

    if version == TEMPLATE_VERSION:
        return None
    others = f"{TEMPLATE_VERSION} (the template) or {PROMPT_NAME}.v<N> (the model with that prompt file; {PINNED})"
    return replayed_prompt(prompts or PROMPTS, PROMPT_NAME, version, others)


def replay(
    cases: list[PastCase],
    version: str,
    policy: Policy,
    client: instructor.Instructor | None = None,
    prompts: Path | None = None,
) -> list[Proposal | Unavailable]:
    """One new draft per past case, in order, or why its fact sheet cannot be read. A draft depends
    on the facts and the version alone: ``policy`` (a candidate's or the live one) only routes it.
    A prompt version is read from ``prompts`` (the workflow's folder by default)."""

    prompt = _writer(version, prompts)
    model = prompt is not None
    if model and cases and client is None:
        client = llm_client()
    found: list[Proposal | Unavailable] = []
    for case in cases:
        action = case.final_action or case.payload
        if not action or "fact_sheet" not in action:
            found.append(Unavailable(source=case.source, reason="the case has no fact sheet to draft from"))
            continue
        try:
            sheet_id = int(action["fact_sheet"])
            facts = stored_sheets([sheet_id])[sheet_id].sheet.facts
        except ExecutionError as exc:
            found.append(Unavailable(source=case.source, reason=str(exc)))
            continue
        result = summarise(facts, client if model else None, prompt)
        kept = {k: action[k] for k in ("subject", "title", "fact_sheet", "facts_digest", "channels") if k in action}
        publication = ReportPublication(**result.summary.model_dump(), **kept)
        found.append(
            Proposal(
                workflow=WORKFLOW,
                source=case.source,
                case_type=result.source,
                tool="reports.publish",
                payload=publication.model_dump(mode="json"),
                summary=result.summary.headline,
                instruction_version=result.instruction_version,
                escalations=[result.escalation]
                if result.escalation
                else [],  # the version could not draft what a live run would publish
            )
        )
    return found
