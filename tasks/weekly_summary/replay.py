"""The weekly summary's replay: draft the narratives of past weeks again with another instruction
version, over the fact sheets those runs stored, to compare with the text the owner approved.

The input of a past case is its fact sheet (stored with the run, never edited), so nothing is
read from files again. The version picks the writer: the template's version the template, the
current prompt's version the model; a model whose draft fails the figure check (re-asks included)
or cannot be reached escalates, as it would have in a live run, instead of falling back silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsgate.errors import ConfigurationError

if TYPE_CHECKING:
    import instructor

    from opsgate.models import Proposal
    from opsgate.policy.schema import Policy
    from opsgate.replay import PastCase, Unavailable

WORKFLOW = "weekly_summary"


def _uses_model(version: str) -> bool:
    from tasks.weekly_summary.narrative import TEMPLATE_VERSION, prompt

    current = prompt()
    if version == TEMPLATE_VERSION:
        return False
    if version in (current.ident, f"{current.name}.v{current.version}"):
        return True
    raise ConfigurationError(
        f"instruction version {version!r} cannot be replayed; this installation drafts with {TEMPLATE_VERSION} (template) "
        f"or {current.ident} (the model); another prompt version cannot be chosen yet",
    )


def replay(cases: list[PastCase], version: str, policy: Policy, client: instructor.Instructor | None = None) -> list[Proposal | Unavailable]:
    """One new draft per past case, in order, or why its fact sheet cannot be read. A draft depends
    on the facts and the version alone: ``policy`` (a candidate's or the live one) only routes it."""
    from opsgate.errors import ExecutionError
    from opsgate.llm import llm_client
    from opsgate.models import Proposal
    from opsgate.replay import Unavailable
    from opsgate.reports import load_sheet
    from opsgate.store.db import transaction
    from opsgate.writers.reports import ReportPublication
    from tasks.weekly_summary.narrative import summarise

    model = _uses_model(version)
    if model and cases and client is None:
        client = llm_client()
    found: list[Proposal | Unavailable] = []
    for case in cases:
        action = case.final_action or case.payload
        if not action or "fact_sheet" not in action:
            found.append(Unavailable(source=case.source, reason="the case has no fact sheet to draft from"))
            continue
        try:
            with transaction() as session:
                facts = load_sheet(session, int(action["fact_sheet"])).sheet.facts
        except ExecutionError as exc:
            found.append(Unavailable(source=case.source, reason=str(exc)))
            continue
        result = summarise(facts, client if model else None)
        kept = {k: action[k] for k in ("subject", "title", "fact_sheet", "facts_digest", "channels") if k in action}
        publication = ReportPublication(**result.summary.model_dump(), **kept)
        found.append(Proposal(
            workflow=WORKFLOW, source=case.source, case_type=result.source, tool="reports.publish", payload=publication.model_dump(mode="json"),
            summary=result.summary.headline, instruction_version=result.instruction_version,
            escalations=[result.escalation] if result.escalation else [],  # the version could not draft what a live run would publish
        ))
    return found
