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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import PolicyDenied
from opsgate.governance.rights import case_types
from opsgate.models import Outcome, Route, Status, action_digest
from opsgate.policy.engine import allows_without_approval
from opsgate.policy.runtime import Policy, person, same_person
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditRow, ExecutionRow, ProposalRow, UndoRow, as_utc
from opsgate.writers import action_writer

logger = logging.getLogger(__name__)

EXECUTOR = "opsgate-executor"


def idempotency_key(workflow: str, proposal_id: str) -> str:
    return f"{workflow}/{proposal_id}"


def _refuse(policy: Policy, proposal_id: str, run_id: str | None, reason: str) -> PolicyDenied:
    with transaction() as session:
        audit.append(
            session,
            AuditEvent.EXECUTION_REFUSED,
            workflow=policy.workflow,
            run_id=run_id,
            proposal_id=proposal_id,
            actor=EXECUTOR,
            data={"reason": reason},
        )
    logger.warning("refused to execute proposal %s: %s", proposal_id, reason)
    return PolicyDenied(f"refused to execute proposal {proposal_id}: {reason}")


def _on_record(session: Session, event: AuditEvent, *where: Any, **expected: object) -> AuditRow | None:
    """The newest audit event of this kind (``where`` narrows it: this proposal, this run) whose data
    holds ``expected`` and that is intact (its keyed hash fits): what opsgate itself recorded, which
    nobody without the audit key can forge or alter."""
    for found in session.execute(
        select(AuditRow).where(AuditRow.event == str(event), *where).order_by(AuditRow.seq.desc())
    ).scalars():
        data = found.data if isinstance(found.data, dict) else {}
        if all(data.get(key) == value for key, value in expected.items()):
            return found if audit.intact(found) else None
    return None


def _requester(session: Session, run_id: str) -> str | None:
    """Who started the run, as its intact `triggered` event says (the runs table can be rewritten)."""
    triggered = _on_record(session, AuditEvent.TRIGGERED, AuditRow.run_id == run_id)
    trigger = str(triggered.data.get("trigger", "")) if triggered is not None else ""
    return trigger.removeprefix("cli:") if trigger.startswith("cli:") else None


def _approved_on_record(session: Session, row: ProposalRow, approval: ApprovalRow) -> AuditRow | None:
    """The intact `approved` event of this approval: the groups its approver's sign-in vouched for
    are read from it, never from a table anyone with the database could write."""
    return _on_record(
        session,
        AuditEvent.APPROVED,
        AuditRow.proposal_id == row.id,
        approval=approval.id,
        approver=approval.approver,
        action_digest=approval.action_digest,
    )


def _vouched(event: AuditRow) -> tuple[str, ...]:
    groups = event.data.get("approver_groups") if isinstance(event.data, dict) else None
    return tuple(str(g) for g in groups) if isinstance(groups, list) else ()


@dataclass(frozen=True)
class Evidence:
    """What the store and the audit log hold for one proposal, as the executor loads it to decide
    whether it may write: each row next to what the intact audit events recorded about it."""

    row: ProposalRow | None
    approval: ApprovalRow | None = None
    proposed: dict[str, Any] | None = None  # the intact `proposed` event's data for the action as it is now
    approval_on_record: bool = False  # the approval has its intact `approved` event
    approvers: list[tuple[str, tuple[str, ...]]] = field(
        default_factory=list
    )  # who approved this exact action, each with an intact `approved` event, and the groups it vouched for
    approval_groups: tuple[str, ...] = ()  # the groups the latest approval's sign-in vouched for, as its event says
    requester: str | None = None  # who started the run, as its intact `triggered` event says


def _evidence(session: Session, row: ProposalRow) -> Evidence:
    approval = session.execute(
        select(ApprovalRow).where(ApprovalRow.proposal_id == row.id).order_by(ApprovalRow.id.desc()).limit(1)
    ).scalar_one_or_none()
    current = action_digest(row.id, row.tool, row.payload) if row.tool else None
    proposed = _on_record(session, AuditEvent.PROPOSED, AuditRow.proposal_id == row.id, digest=current)
    on_record: list[tuple[ApprovalRow, AuditRow]] = []
    if approval is not None and approval.decision == "approved":
        same_action = (
            session.execute(
                select(ApprovalRow).where(
                    ApprovalRow.proposal_id == row.id,
                    ApprovalRow.decision == "approved",
                    ApprovalRow.action_digest == approval.action_digest,
                )
            )
            .scalars()
            .all()
        )
        on_record = [(a, e) for a in same_action if (e := _approved_on_record(session, row, a)) is not None]
    return Evidence(
        row=row,
        approval=approval,
        proposed=proposed.data if proposed is not None else None,
        approval_on_record=any(a.id == approval.id for a, _ in on_record) if approval is not None else False,
        approvers=[(a.approver, _vouched(e)) for a, e in on_record],
        approval_groups=next((_vouched(e) for a, e in on_record if approval is not None and a.id == approval.id), ()),
        requester=_requester(session, row.run_id),
    )


def _four_eyes_shortfall(policy: Policy, evidence: Evidence, types: list[str]) -> str | None:
    """Why a four-eyes action may not be written yet: fewer than two different people whom the policy
    lets decide these case types approved this exact action (each approval backed by its intact audit
    event), not counting the person who started the run."""
    row, approval, started_by = evidence.row, evidence.approval, evidence.requester
    assert row is not None and approval is not None
    if not policy.needs_four_eyes(types, row.payload, approval.action_payload):
        return None
    people = {
        person(name)
        for name, groups in evidence.approvers
        if all(policy.may_decide(name, t, groups) for t in types) and not (started_by and same_person(name, started_by))
    }
    return (
        None
        if len(people) >= 2
        else f"four eyes: this action needs two different approvers besides the requester; it has {len(people)}"
    )


def refusal(policy: Policy, evidence: Evidence) -> str | None:
    """Why this proposal may not be written under the policy (None when it may): every check the
    executor makes, each row held against what the audit log recorded. The case type, the facts and
    the requester come from the intact audit events, so changing them in the database does not
    change who may approve or whether four eyes apply. Pure: it reads only what it is given."""
    row, approval, proposed = evidence.row, evidence.approval, evidence.proposed
    if row is None or row.workflow != policy.workflow:
        return "no such proposal in this workflow"
    current = action_digest(row.id, row.tool, row.payload) if row.tool else None
    if action_writer(row.tool) is None or not (policy.undoes(row.tool) or (row.tool in policy.writes())):
        return f"tool {row.tool!r} is not a write this policy allows"
    if row.status != Status.APPROVED:
        return f"the proposal is {row.status}, not approved"
    if current != row.digest:
        return "the proposed action was modified after it was proposed (digest mismatch)"
    if proposed is None:
        return "no intact proposed audit event for this action: the proposal or the audit log was altered"
    if approval is None:
        if proposed.get("route") != Route.AUTO or not allows_without_approval(
            policy, row.tool or "", proposed.get("case_type", "")
        ):
            return "no approval on record and the policy does not allow this case type without one"
        return None
    if approval.decision != "approved":
        return f"the approval on record is {approval.decision!r}"
    if approval.proposal_digest != current:
        return "the proposal changed after it was approved (digest mismatch)"
    if approval.action_digest != action_digest(row.id, row.tool, approval.action_payload):
        return "the approved action was altered after approval (digest mismatch)"
    if not evidence.approval_on_record:
        return "the approval has no intact approved audit event: the approval or the audit log was altered"
    types = case_types(
        policy,
        proposed["case_type"],
        row.tool,
        approval.action_payload,
        proposed.get("confidence") or {},
        proposed.get("context") or {},
    )
    if (
        refused := next(
            (t for t in types if not policy.may_decide(approval.approver, t, evidence.approval_groups)), None
        )
    ) is not None:
        return f"{approval.approver} may not decide on {refused} cases (the case as recorded and as approved)"
    return _four_eyes_shortfall(policy, evidence, types)


def execute_one(policy: Policy, proposal_id: str, attempt: int = 1) -> Outcome:
    """Write one proposal's approved action exactly once, or raise ``PolicyDenied``: load what the
    store holds, then refuse (``refusal``) or write."""
    with transaction() as session:
        row = session.get(ProposalRow, proposal_id, with_for_update=True)
        if row is not None and row.workflow == policy.workflow:
            done = session.get(ExecutionRow, idempotency_key(row.workflow, row.id))
            if done is not None:
                return Outcome(
                    proposal_id=row.id,
                    source=row.source,
                    status=Status.EXECUTED,
                    detail="already executed; nothing written again",
                    target=f"{done.target_table}/{done.target_id}",
                )
        evidence = _evidence(session, row) if row is not None and row.workflow == policy.workflow else Evidence(row=row)
        why = refusal(policy, evidence)
        if why is None:
            assert row is not None
            return _write(session, policy, row, evidence.approval, attempt)
        run_id = row.run_id if row is not None and row.workflow == policy.workflow else None
    raise _refuse(policy, proposal_id, run_id, why)


def _write(session: Session, policy: Policy, row: ProposalRow, approval: ApprovalRow | None, attempt: int) -> Outcome:
    """The write, its idempotency key, its undo record and its audit event, in the caller's transaction."""
    payload = approval.action_payload if approval is not None else row.payload
    key = idempotency_key(row.workflow, row.id)
    writer = action_writer(row.tool)
    assert writer is not None
    target = writer.apply(session, writer.payload_model.model_validate(payload), row.id)
    session.add(
        ExecutionRow(
            idempotency_key=key,
            proposal_id=row.id,
            tool=writer.tool,
            approval_id=approval.id if approval else None,
            target_table=writer.table,
            target_id=target,
        )
    )
    session.flush()
    if writer.undo_tool:  # an undo is not undone in turn
        session.add(
            UndoRow(idempotency_key=key, undo_tool=writer.undo_tool, target_table=writer.table, target_id=target)
        )
    row.status, row.detail = Status.EXECUTED, f"{writer.table}/{target}"
    audit.append(
        session,
        AuditEvent.EXECUTED,
        workflow=row.workflow,
        run_id=row.run_id,
        proposal_id=row.id,
        actor=EXECUTOR,
        data={
            "tool": writer.tool,
            "target": f"{writer.table}/{target}",
            "idempotency_key": key,
            "undo": writer.undo_tool,
            "approval": {
                "id": approval.id,
                "approver": approval.approver,
                "at": as_utc(approval.decided_at).isoformat(),
            }
            if approval
            else "auto (policy)",
            **({"action": payload} if policy.logging.store_documents else {}),
            "attempt": attempt,
            "retries": attempt - 1,
        },
    )
    return Outcome(
        proposal_id=row.id,
        source=row.source,
        status=Status.EXECUTED,
        detail=f"written to {writer.table}/{target}",
        target=f"{writer.table}/{target}",
    )


def record_failure(policy: Policy, proposal_id: str, error: BaseException) -> Outcome:
    """A write that failed for good: the case ends ``failed`` and, by policy, goes to the owner. What
    follows from it beyond the case (the autonomy its case type earned) is the caller's to do:
    ``learning.autonomy.after_failure``."""
    with transaction() as session:
        row = session.get(ProposalRow, proposal_id)
        assert row is not None
        row.status, row.detail = Status.FAILED, str(error)
        common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
        audit.append(
            session,
            AuditEvent.FAILED,
            actor=EXECUTOR,
            **common,
            data={"source": row.source, "stage": "execute", "error": str(error), "error_type": type(error).__name__},
        )
        if policy.escalation.tool_failure and not isinstance(error, PolicyDenied):
            owner = f"{policy.owner.name} <{policy.owner.contact}>"
            audit.append(
                session,
                AuditEvent.ESCALATED,
                actor=EXECUTOR,
                **common,
                data={
                    "source": row.source,
                    "to": owner,
                    "reasons": [{"reason": "tool_failure", "field": None, "detail": str(error)}],
                },
            )
        return Outcome(proposal_id=row.id, source=row.source, status=Status.FAILED, detail=str(error))
