"""The executor: the only code that writes to a system of record.

It writes an action only when the store holds a person's approval bound to that exact action
(or the policy gives the case type `auto` autonomy for a `by_autonomy` tool), and the audit log
holds, intact, the events that recorded the proposal and each approval: a row changed or
inserted in the database without the audit key is refused. The idempotency
key, the write, the undo record and the audit event commit in one transaction: a replay finds
the key and writes nothing, a crash before the commit leaves nothing behind.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.governance import audit
from opsgate.governance.approvals import case_types
from opsgate.governance.audit import AuditEvent
from opsgate.errors import PolicyDenied
from opsgate.models import Outcome, Route, Status, action_digest
from opsgate.policy.engine import allows_without_approval
from opsgate.policy.schema import Policy, person, same_person
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditRow, ExecutionRow, ProposalRow, UndoRow, as_utc
from opsgate.writers import action_writer

logger = logging.getLogger(__name__)

EXECUTOR = "opsgate-executor"


def idempotency_key(workflow: str, proposal_id: str) -> str:
    return f"{workflow}/{proposal_id}"


def _refuse(policy: Policy, proposal_id: str, run_id: str | None, reason: str) -> PolicyDenied:
    with transaction() as session:
        audit.append(session, AuditEvent.EXECUTION_REFUSED, workflow=policy.workflow, run_id=run_id, proposal_id=proposal_id, actor=EXECUTOR, data={"reason": reason})
    logger.warning("refused to execute proposal %s: %s", proposal_id, reason)
    return PolicyDenied(f"refused to execute proposal {proposal_id}: {reason}")


def _on_record(session: Session, event: AuditEvent, *where: Any, **expected: object) -> AuditRow | None:
    """The newest audit event of this kind (``where`` narrows it: this proposal, this run) whose data
    holds ``expected`` and that is intact (its keyed hash fits): what opsgate itself recorded, which
    nobody without the audit key can forge or alter."""
    for found in session.execute(select(AuditRow).where(AuditRow.event == str(event), *where).order_by(AuditRow.seq.desc())).scalars():
        data = found.data if isinstance(found.data, dict) else {}
        if all(data.get(key) == value for key, value in expected.items()):
            return found if audit.intact(found) else None
    return None


def _requester(session: Session, run_id: str) -> str | None:
    """Who started the run, as its intact `triggered` event says (the runs table can be rewritten)."""
    triggered = _on_record(session, AuditEvent.TRIGGERED, AuditRow.run_id == run_id)
    trigger = str(triggered.data.get("trigger", "")) if triggered is not None else ""
    return trigger.removeprefix("cli:") if trigger.startswith("cli:") else None


def _approved_on_record(session: Session, row: ProposalRow, approval: ApprovalRow) -> bool:
    return _on_record(session, AuditEvent.APPROVED, AuditRow.proposal_id == row.id, approval=approval.id, approver=approval.approver, action_digest=approval.action_digest) is not None


def _four_eyes_shortfall(session: Session, policy: Policy, row: ProposalRow, types: list[str], approval: ApprovalRow) -> str | None:
    """Why a four-eyes action may not be written yet: fewer than two different people whom the policy
    lets decide these case types approved this exact action (each approval backed by its intact audit
    event), not counting the person who started the run."""
    if not policy.needs_four_eyes(types, row.payload, approval.action_payload):
        return None
    approvals = session.execute(
        select(ApprovalRow).where(ApprovalRow.proposal_id == row.id, ApprovalRow.decision == "approved", ApprovalRow.action_digest == approval.action_digest)
    ).scalars().all()
    started_by = _requester(session, row.run_id)
    people = {
        person(a.approver) for a in approvals
        if _approved_on_record(session, row, a) and all(policy.may_decide(a.approver, t) for t in types) and not (started_by and same_person(a.approver, started_by))
    }
    return None if len(people) >= 2 else f"four eyes: this action needs two different approvers besides the requester; it has {len(people)}"


def _cleared(session: Session, policy: Policy, row: ProposalRow, approval: ApprovalRow | None) -> tuple[str | None, dict | None]:
    """Why this proposal may not be written (None when it may), and the action to write: every check
    the executor makes against the store, each of its rows held against what the audit log recorded.
    The case type, the facts and the requester come from the intact audit events, so changing them
    in the database does not change who may approve or whether four eyes apply."""
    current = action_digest(row.id, row.tool, row.payload) if row.tool else None
    if action_writer(row.tool) is None or not (policy.undoes(row.tool) or (row.tool in policy.writes())):
        return f"tool {row.tool!r} is not a write this policy allows", None
    if row.status != Status.APPROVED:
        return f"the proposal is {row.status}, not approved", None
    if current != row.digest:
        return "the proposed action was modified after it was proposed (digest mismatch)", None
    proposed_event = _on_record(session, AuditEvent.PROPOSED, AuditRow.proposal_id == row.id, digest=current)
    if proposed_event is None:
        return "no intact proposed audit event for this action: the proposal or the audit log was altered", None
    proposed = proposed_event.data
    if approval is None:
        if proposed.get("route") != Route.AUTO or not allows_without_approval(policy, row.tool or "", proposed.get("case_type", "")):
            return "no approval on record and the policy does not allow this case type without one", None
        return None, row.payload
    if approval.decision != "approved":
        return f"the approval on record is {approval.decision!r}", None
    if approval.proposal_digest != current:
        return "the proposal changed after it was approved (digest mismatch)", None
    if approval.action_digest != action_digest(row.id, row.tool, approval.action_payload):
        return "the approved action was altered after approval (digest mismatch)", None
    if not _approved_on_record(session, row, approval):
        return "the approval has no intact approved audit event: the approval or the audit log was altered", None
    types = case_types(policy, proposed["case_type"], row.tool, approval.action_payload, proposed.get("confidence") or {}, proposed.get("context") or {})
    if (refused := next((t for t in types if not policy.may_decide(approval.approver, t)), None)) is not None:
        return f"{approval.approver} may not decide on {refused} cases (the case as recorded and as approved)", None
    return _four_eyes_shortfall(session, policy, row, types, approval), approval.action_payload


def execute_one(policy: Policy, proposal_id: str, attempt: int = 1) -> Outcome:
    """Write one proposal's approved action exactly once, or raise ``PolicyDenied``."""
    refusal: str | None = None
    run_id: str | None = None
    with transaction() as session:
        row = session.get(ProposalRow, proposal_id, with_for_update=True)
        if row is None or row.workflow != policy.workflow:
            refusal = "no such proposal in this workflow"
        else:
            run_id = row.run_id
            key = idempotency_key(row.workflow, row.id)
            done = session.get(ExecutionRow, key)
            if done is not None:
                return Outcome(proposal_id=row.id, source=row.source, status=Status.EXECUTED, detail="already executed; nothing written again", target=f"{done.target_table}/{done.target_id}")
            approval = session.execute(
                select(ApprovalRow).where(ApprovalRow.proposal_id == row.id).order_by(ApprovalRow.id.desc()).limit(1)
            ).scalar_one_or_none()
            refusal, payload = _cleared(session, policy, row, approval)
            if refusal is None:
                writer = action_writer(row.tool)
                assert writer is not None
                target = writer.apply(session, writer.payload_model.model_validate(payload), row.id)
                session.add(ExecutionRow(idempotency_key=key, proposal_id=row.id, tool=writer.tool, approval_id=approval.id if approval else None, target_table=writer.table, target_id=target))
                session.flush()
                if writer.undo_tool:  # an undo is not undone in turn
                    session.add(UndoRow(idempotency_key=key, undo_tool=writer.undo_tool, target_table=writer.table, target_id=target))
                row.status, row.detail = Status.EXECUTED, f"{writer.table}/{target}"
                audit.append(session, AuditEvent.EXECUTED, workflow=row.workflow, run_id=row.run_id, proposal_id=row.id, actor=EXECUTOR, data={
                    "tool": writer.tool, "target": f"{writer.table}/{target}", "idempotency_key": key, "undo": writer.undo_tool,
                    "approval": {"id": approval.id, "approver": approval.approver, "at": as_utc(approval.decided_at).isoformat()} if approval else "auto (policy)",
                    **({"action": payload} if policy.logging.store_documents else {}), "attempt": attempt, "retries": attempt - 1,
                })
                return Outcome(proposal_id=row.id, source=row.source, status=Status.EXECUTED, detail=f"written to {writer.table}/{target}", target=f"{writer.table}/{target}")
    raise _refuse(policy, proposal_id, run_id, refusal or "unknown")


def record_failure(policy: Policy, proposal_id: str, error: BaseException) -> Outcome:
    """A write that failed for good: the case ends ``failed`` and, by policy, goes to the owner. What
    follows from it beyond the case (the autonomy its case type earned) is the caller's to do:
    ``opsgate.learning.autonomy.after_failure``."""
    with transaction() as session:
        row = session.get(ProposalRow, proposal_id)
        assert row is not None
        row.status, row.detail = Status.FAILED, str(error)
        common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
        audit.append(session, AuditEvent.FAILED, actor=EXECUTOR, **common, data={"source": row.source, "stage": "execute", "error": str(error), "error_type": type(error).__name__})
        if policy.escalation.tool_failure and not isinstance(error, PolicyDenied):
            owner = f"{policy.owner.name} <{policy.owner.contact}>"
            audit.append(session, AuditEvent.ESCALATED, actor=EXECUTOR, **common, data={"source": row.source, "to": owner, "reasons": [{"reason": "tool_failure", "field": None, "detail": str(error)}]})
        return Outcome(proposal_id=row.id, source=row.source, status=Status.FAILED, detail=str(error))
