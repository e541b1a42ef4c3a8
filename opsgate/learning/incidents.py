"""Incidents: someone reports that an executed action went wrong. The report is audited against
the action, escalated to the workflow's owner, and posted to the policy's approval channels; the
agent metrics count it, and a case type running `auto` goes back to `reviewed`. Taking the write
back is a separate, approved step (`opsgate undo`). The reporter's name and reason are shown to the
channels as text (``display.markdown_text``), never as Markdown of their own."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import select

from opsgate.display import markdown_text
from opsgate.errors import InputError
from opsgate.learning.autonomy import demote
from opsgate.models import EscalationReason
from opsgate.notify.channels import Message
from opsgate.notify.delivery import send
from opsgate.policy.loader import load_policy
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ExecutionRow, ProposalRow


class Incident(BaseModel):
    proposal_id: str
    workflow: str
    case_type: str
    target: str
    reason: str
    reported_by: str
    channels: dict[str, str]


def report_incident(
    proposal_id: str, reason: str, by: str, run_page: Callable[[str], str | None] | None = None
) -> Incident:
    """Record and escalate the incident, demote its case type and tell the channels, linking the
    run's page as ``run_page`` finds it (the caller knows where runs are shown), if given."""
    if not reason.strip() or not by.strip():
        raise InputError("an incident needs a reason and the name of who reports it")
    with transaction() as session:
        row = session.get(ProposalRow, proposal_id)
        execution = session.execute(
            select(ExecutionRow).where(ExecutionRow.proposal_id == proposal_id)
        ).scalar_one_or_none()
        if row is None or execution is None:
            raise InputError(
                f"proposal {proposal_id} wrote nothing; an incident is reported against an executed action"
            )
        policy = load_policy(row.workflow)
        owner = f"{policy.owner.name} <{policy.owner.contact}>"
        target = f"{execution.target_table}/{execution.target_id}"
        common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
        audit.append(
            session,
            AuditEvent.INCIDENT,
            actor=by,
            **common,
            data={"reason": reason, "target": target, "tool": execution.tool, "case_type": row.case_type},
        )
        audit.append(
            session,
            AuditEvent.ESCALATED,
            actor=by,
            **common,
            data={
                "source": row.source,
                "to": owner,
                "case_goes_on": True,
                "reasons": [{"reason": EscalationReason.INCIDENT, "field": None, "detail": reason}],
            },
        )
        incident = Incident(
            proposal_id=row.id,
            workflow=row.workflow,
            case_type=row.case_type,
            target=target,
            reason=reason,
            reported_by=by,
            channels={},
        )
        run_id = row.run_id
    demote(
        incident.workflow,
        incident.case_type,
        f"incident on {target}: {reason}",
        {"proposal_id": proposal_id, "reported_by": by},
        run_id,
    )
    message = Message(
        event="incident.reported",
        title=f"Incident in {incident.workflow}: {target}",
        text=f"{markdown_text(by)} reports that the action written to {markdown_text(target)} went wrong: {markdown_text(reason)}\n\n"
        f"Owner: {owner}. To take it back: `opsgate undo {proposal_id} --as NAME --reason ...`",
        link=run_page(run_id) if run_page else None,
        fields={"workflow": incident.workflow, "case type": incident.case_type, "target": target, "reported by": by},
        data=incident.model_dump(exclude={"channels"}),
    )
    results = send(
        policy, policy.approvals.notify, message, f"{incident.workflow}-incident-{proposal_id}", run_id, proposal_id
    )
    incident.channels = {name: str(result["status"]) for name, result in results.items()}
    return incident
