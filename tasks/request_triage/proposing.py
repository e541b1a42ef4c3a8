"""A routing proposal per request: ``tickets.route`` with the queue, priority, owner group and
note, or an escalation where no queue may take it.

The classifier's queue goes on only when it is one of the policy's queues (its owner group comes
from there too). The facts the policy's case types test are stated in ``context``: the priority,
and whether the request is an enterprise customer's. Escalated here, before the policy engine sees
it: a request that fits no queue (``out_of_scope``), a queue the policy does not list, and a sender
and a named customer that are two different listed customers (``conflicting_sources``). A queue
below the policy's ``low_confidence`` line is the engine's to escalate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from opsgate import Escalation, EscalationReason, Proposal, TicketRouting
from tasks.request_triage.customers import Customers
from tasks.request_triage.models import InboundRequest, Triage
from tasks.request_triage.policy import ROUTE_TOOL, TriageSettings
from tasks.request_triage.triaging import Router, triage_all
from tasks.request_triage.workflow import WORKFLOW

REQUEST = "request"  # the workflow's own case type; the policy narrows it (low_priority, enterprise_customer)
OUT_OF_SCOPE = "out_of_scope"  # a request no queue claims: escalated, never routed


def propose_all(
    requests: Sequence[InboundRequest],
    router: Router,
    settings: TriageSettings,
    customers: Customers,
    keep_text: bool,
) -> list[Proposal]:
    """One proposal per request, in order; a request that could not be read is a failed case."""
    per_source = Counter(r.source for r in requests)
    triaged = triage_all(requests, router, route_at=0.0)  # the policy, not a fixed line, decides what a person sees
    return [
        proposal_for(
            r, t, settings, customers, keep_text, r.source if per_source[r.source] == 1 else f"{r.source}#{r.id}"
        )
        for r, t in zip(requests, triaged, strict=True)
    ]


def proposal_for(
    request: InboundRequest,
    triage: Triage,
    settings: TriageSettings,
    customers: Customers,
    keep_text: bool,
    source: str,
) -> Proposal:
    common = {"workflow": WORKFLOW, "source": source, "instruction_version": triage.instruction_version or ""}
    if triage.status == "error":
        return Proposal(**common, case_type=REQUEST, error=triage.error)
    sender = customers.sender(request.sender)
    named = customers.named(triage.entities.get("customer_ids", []), triage.entities.get("emails", []))
    escalations = list(triage.escalations)
    others = [c for c in named if c != sender]
    if sender and others:
        escalations.append(
            Escalation(
                reason=EscalationReason.CONFLICTING_SOURCES,
                field="customer",
                detail=f"sent by the listed customer {sender}, and it names {others[0]}: which account is it about?",
            )
        )
    queue = settings.queues.get(triage.queue or "")
    if triage.queue is not None and queue is None:
        escalations.append(
            Escalation(
                reason=EscalationReason.OUT_OF_POLICY,
                field="queue",
                detail=f"the classifier chose {triage.queue}, which is not one of the policy's queues "
                f"({', '.join(settings.queues)}): add it to the policy or train on the policy's queues",
            )
        )
    payload = None
    if triage.queue is not None and queue is not None:
        payload = TicketRouting(
            queue=triage.queue,
            priority=triage.priority or "normal",
            assignee_group=queue.owner_group,
            note=triage.note,
            request=request.id[:1000],
            subject=request.subject[:500],
            sender=request.sender[:500],
            source=source[:4000],
        ).model_dump(mode="json")
    inputs = {
        "request": request.id,
        "subject": request.subject,
        "sender": request.sender,
        "language": triage.language,
        "entities": triage.entities,
        "reasons": triage.reasons,
    }
    if keep_text:  # what replay and learning from corrections read again
        inputs["text"] = request.text
    return Proposal(
        **common,
        case_type=OUT_OF_SCOPE if any(e.reason == EscalationReason.OUT_OF_SCOPE for e in escalations) else REQUEST,
        tool=ROUTE_TOOL if payload is not None else None,
        payload=payload,
        summary=f"{triage.queue or 'no queue'}, {triage.priority} priority: {request.subject or triage.note}"[:300],
        confidence={"queue": triage.confidence or 0.0},
        escalations=escalations,
        context={"priority": triage.priority or "normal", "enterprise_customer": bool(sender or named)},
        inputs=inputs,
    )
