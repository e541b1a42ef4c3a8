"""A request triage escalated, taken up by a person (`opsgate escalations take CASE --set
queue=Q`, or the case's page on the review screen, which asks for what ``take_up_form`` lists):
its routing made from what the request was read as, with the queue (and, if given, the priority
and note) the person chose. The owner group comes with the queue, from the policy, so the
two cannot part. A request that fit no queue had no routing at all; one escalated for another
reason (a guess, two customers) keeps what was proposed, but for the person's values."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from opsgate import InputError, Policy, Proposal, TakeUpField, TicketRouting, workflow_settings
from tasks.request_triage.policy import ROUTE_TOOL
from tasks.request_triage.proposing import REQUEST
from tasks.request_triage.urgency import LEVELS
from tasks.request_triage.workflow import SPEC, WORKFLOW

FIELDS = ("queue", "priority", "note")  # what a person chooses; the rest is the request's


def take_up_form(case: Proposal, policy: Policy) -> list[TakeUpField]:
    """What the review screen asks for: the queue, among the policy's (the one proposed, if any,
    first), the priority, and a note for whoever picks the ticket up."""
    proposed: dict[str, Any] = case.payload or {}
    return [
        TakeUpField(
            name="queue", value=proposed.get("queue") or "", choices=sorted(workflow_settings(SPEC, policy).queues)
        ),
        TakeUpField(
            name="priority",
            value=proposed.get("priority") or case.context.get("priority") or "normal",
            choices=list(LEVELS),
        ),
        TakeUpField(name="note", value=proposed.get("note", ""), long=True),
    ]


def take_up(case: Proposal, fields: dict[str, str], policy: Policy) -> Proposal:
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InputError(f"a routing takes {', '.join(FIELDS)} from a person, not {', '.join(unknown)}")
    queues = workflow_settings(SPEC, policy).queues
    proposed: dict[str, Any] = case.payload or {}
    queue = fields.get("queue") or proposed.get("queue")
    if queue not in queues:
        raise InputError(f"name the queue it goes to: --set queue=Q, one of {', '.join(queues)}")
    read = case.inputs
    try:
        routing = TicketRouting(
            queue=queue,
            priority=fields.get("priority") or proposed.get("priority") or case.context.get("priority") or "normal",
            assignee_group=queues[queue].owner_group,
            note=fields.get("note", proposed.get("note", "")),
            request=str(read.get("request") or proposed.get("request") or case.source)[:1000],
            subject=str(read.get("subject") or "")[:500],
            sender=str(read.get("sender") or "")[:500],
            source=case.source[:4000],
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"not a routing: {problems}") from None
    return Proposal(
        workflow=WORKFLOW,
        source=case.source,
        case_type=REQUEST,  # the policy narrows it again (an enterprise customer's stays one)
        tool=ROUTE_TOOL,
        payload=routing.model_dump(mode="json"),
        summary=f"{queue}, {routing.priority} priority: {routing.subject or routing.note}",
        context={**case.context, "priority": routing.priority},
        inputs=case.inputs,
        instruction_version="",
    )
