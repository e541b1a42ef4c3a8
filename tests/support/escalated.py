"""Escalated cases made directly in the store, for the tests that answer them: no run of a
workflow, only the case as its policy check recorded it."""

from __future__ import annotations

from opsgate.governance import runs
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason, Proposal, Route

TRIAGE = "request_triage"


def out_of_scope_request(
    source: str, request: str, subject: str, text: str, detail: str = "no queue claims it"
) -> Proposal:
    """A triage request that fit no queue (no routing proposed), escalated under the shipped policy:
    the desk leads decide it."""
    case = Proposal(
        workflow=TRIAGE,
        source=source,
        case_type="out_of_scope",
        instruction_version="queues.test",
        escalations=[Escalation(reason=EscalationReason.OUT_OF_SCOPE, detail=detail)],
        context={"priority": "normal"},
        inputs={"request": request, "subject": subject, "sender": "ann@small.example", "text": text},
    )
    (verdict,) = runs.check_policy(runs.start_run(governing(TRIAGE), "test"), [case])
    assert verdict.route is Route.ESCALATE
    return case
