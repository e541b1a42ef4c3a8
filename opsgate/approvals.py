"""Approval requests and decisions, independent of how the decision arrives (UI form or CLI).

An approval is bound to digests: the batch digest the approver saw, each proposal's digest when
it was approved, and the digest of the exact action approved (after edits). The executor checks
them again before it writes, so an approval cannot be carried over to a changed action.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate import audit
from opsgate.audit import AuditEvent
from opsgate.errors import ApprovalRejected
from opsgate.models import Decision, EscalationReason, Proposal, Status, action_digest, digest
from opsgate.policy.loader import load_policy
from opsgate.policy.schema import ANY_CASE, Policy, person, same_person
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRequestRow, ApprovalRow, CorrectionRow, ProposalRow, RunRow, as_utc
from opsgate.writers import action_writer

GATE = "opsgate-gate"
SHOWN_PROBLEMS = 5  # a refusal names this many problems; a large batch answered by the wrong person would otherwise fill a screen


class Review(BaseModel):
    """One proposal's decision. ``fields`` arrives pre-filled with the proposed action: changing a
    value approves the corrected action and records the change as a correction (``edit`` says so
    explicitly; an ``approve`` with changed values is the same decision)."""

    proposal_id: str
    source: str = ""
    decision: Literal["approve", "edit", "reject"] = "approve"
    reason: str = Field(default="", description="Required when rejecting.")
    fields: dict[str, Any] = Field(default_factory=dict)


class ApprovalAnswer(BaseModel):
    approver: str = Field(min_length=1, description="Your name: recorded as the approver of this batch.")
    batch_digest: str = Field(description="Identifies the exact batch shown; leave as it is.")
    reviews: list[Review]


class PendingRequest(BaseModel):
    id: int
    flow_run_id: str
    pause_key: str
    workflow: str
    digest: str
    proposals: list[Proposal]
    statuses: dict[str, str]
    requested_at: datetime
    deadline: datetime


def batch_digest(proposals: list[tuple[str, str | None]]) -> str:
    """Digest of a batch: its proposals' ids and action digests, in id order."""
    return digest(sorted(proposals))


def _as_proposal(row: ProposalRow) -> Proposal:
    return Proposal(
        id=row.id, workflow=row.workflow, source=row.source, case_type=row.case_type, tool=row.tool,
        payload=row.payload, summary=row.summary, confidence=row.confidence, escalations=row.escalations,
        instruction_version=row.instruction_version,
    )


def deadline_in(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def open_request(workflow: str, run_id: str, flow_run_id: str, pause_key: str, proposals: list[Proposal], deadline: datetime) -> PendingRequest:
    """Record that these proposals wait for a person, until the deadline."""
    batch = batch_digest([(p.id, p.digest) for p in proposals])
    with transaction() as session:
        request = ApprovalRequestRow(
            flow_run_id=flow_run_id, pause_key=pause_key, workflow=workflow, digest=batch,
            proposal_ids=[p.id for p in proposals], requested_at=datetime.now(timezone.utc), deadline=deadline,
        )
        session.add(request)
        for row in session.execute(select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids))).scalars():
            row.status = Status.AWAITING_APPROVAL
        session.flush()
        audit.append(session, AuditEvent.APPROVAL_REQUESTED, workflow=workflow, run_id=run_id, actor=GATE, data={
            "request": request.id, "flow_run_id": flow_run_id, "pause_key": pause_key, "batch_digest": batch,
            "proposals": request.proposal_ids, "deadline": request.deadline.isoformat(),
        })
        return _pending(session, request)


def _shown(session: Session, row: ProposalRow) -> Proposal:
    """The proposal as the next approver decides on it: a four-eyes case one person approved shows
    the action that person approved, and who did."""
    proposal = _as_proposal(row)
    action, approvers = standing(session, row)
    if approvers and row.status == Status.AWAITING_APPROVAL:
        proposal.payload = action
        proposal.summary = f"approved by {', '.join(approvers)}; needs a second, different approver. {proposal.summary}"
    return proposal


def _pending(session: Session, request: ApprovalRequestRow) -> PendingRequest:
    rows = session.execute(select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids)).order_by(ProposalRow.source)).scalars().all()
    return PendingRequest(
        id=request.id, flow_run_id=request.flow_run_id, pause_key=request.pause_key, workflow=request.workflow,
        digest=request.digest, proposals=[_shown(session, r) for r in rows], statuses={r.id: r.status for r in rows},
        requested_at=as_utc(request.requested_at), deadline=as_utc(request.deadline),
    )


def pending_requests(workflow: str | None = None) -> list[PendingRequest]:
    with transaction() as session:
        query = select(ApprovalRequestRow).where(ApprovalRequestRow.status == "pending").order_by(ApprovalRequestRow.requested_at)
        if workflow:
            query = query.where(ApprovalRequestRow.workflow == workflow)
        return [_pending(session, r) for r in session.execute(query).scalars()]


def request_for_run(flow_run_id: str) -> PendingRequest | None:
    """The request a flow run waits on: its oldest pending one (a large batch is split into pages
    decided in order), else its newest."""
    with transaction() as session:
        ours = select(ApprovalRequestRow).where(ApprovalRequestRow.flow_run_id == flow_run_id)
        request = session.execute(ours.where(ApprovalRequestRow.status == "pending").order_by(ApprovalRequestRow.id).limit(1)).scalar_one_or_none()
        request = request or session.execute(ours.order_by(ApprovalRequestRow.id.desc()).limit(1)).scalar_one_or_none()
        return _pending(session, request) if request else None


def move_request(request_id: int, new_pause_key: str) -> None:
    """After a refused answer the run pauses again under a new key; approvers must find it."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        request.pause_key = new_pause_key


def _approved_payload(session: Session, row: ProposalRow, review: Review) -> dict[str, Any]:
    """The action as approved, normalised through the writer's model so equal means unchanged."""
    writer = action_writer(row.tool)
    assert writer is not None, "only proposals with an action reach the gate"
    base = standing(session, row)[0]
    fields = {**base, **review.fields} if review.fields else base
    return writer.payload_model.model_validate(fields).model_dump(mode="json")


def standing(session: Session, row: ProposalRow) -> tuple[dict[str, Any], list[str]]:
    """The action people are deciding on and who has approved it so far: the proposed action and
    nobody, or, once someone approved, the action they approved and everyone who approved it."""
    approved = session.execute(
        select(ApprovalRow).where(ApprovalRow.proposal_id == row.id, ApprovalRow.decision == "approved").order_by(ApprovalRow.id)
    ).scalars().all()
    if not approved:
        return dict(row.payload or {}), []
    latest = approved[-1]
    return dict(latest.action_payload or {}), [a.approver for a in approved if a.action_digest == latest.action_digest]


def requester(session: Session, run_id: str) -> str | None:
    """The person who started the run from the CLI (trigger ``cli:<name>``); None for schedules."""
    run = session.get(RunRow, run_id)
    return run.trigger.removeprefix("cli:") if run and run.trigger.startswith("cli:") else None


def _rights(session: Session, policy: Policy, row: ProposalRow, review: Review, approver: str, payload: dict[str, Any] | None) -> list[str]:
    """Who may decide: the policy's approver groups, and four-eyes (two different people, neither
    the run's requester, approve the same action)."""
    if not policy.may_decide(approver, row.case_type):
        groups = [name for name, group in policy.approvals.groups.items() if ANY_CASE in group.case_types or row.case_type in group.case_types]
        return [f"{approver} may not decide on {row.case_type} cases such as {row.source} (the policy lets {', '.join(groups) or 'no group'} decide)"]
    if payload is None or not policy.needs_four_eyes(row.case_type, row.payload, payload):
        return []
    started_by = requester(session, row.run_id)
    if started_by and same_person(approver, started_by):
        return [f"{approver} started this run and may not approve {row.source}, which needs four eyes"]
    action, approvers = standing(session, row)
    if payload == action and any(same_person(approver, earlier) for earlier in approvers):
        return [f"{approver} already approved {row.source}; it needs a second, different approver"]
    return []


def _batch_rows(session: Session, request: ApprovalRequestRow) -> dict[str, ProposalRow]:
    return {r.id: r for r in session.execute(select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids))).scalars()}


def problems(session: Session, request: ApprovalRequestRow, answer: ApprovalAnswer) -> list[str]:
    """Every reason this answer cannot be accepted for this request; empty when it can."""
    found: list[str] = []
    if request.status != "pending":
        return [f"approval request {request.id} is already {request.status}"]
    if not answer.approver.strip():
        found.append("the approver's name is required")
    if answer.batch_digest != request.digest:
        found.append("the batch was changed since it was shown (digest mismatch): review it again")
    rows = _batch_rows(session, request)
    if batch_digest([(r.id, action_digest(r.id, r.tool, r.payload)) for r in rows.values()]) != request.digest:
        found.append("a proposal in this batch was modified after it was proposed: refusing the whole batch")
    reviewed = [r.proposal_id for r in answer.reviews]
    missing = sorted(set(request.proposal_ids) - set(reviewed))
    unknown = sorted(set(reviewed) - set(request.proposal_ids))
    twice = sorted({p for p in reviewed if reviewed.count(p) > 1})
    for label, ids in (("not decided", missing), ("not in this batch", unknown), ("decided twice", twice)):
        if ids:
            found.append(f"proposals {label}: {', '.join(ids)}")
    policy = load_policy(request.workflow)
    for review in answer.reviews:
        row = rows.get(review.proposal_id)
        if row is None:
            continue
        payload = None
        if review.decision == "reject" and not review.reason.strip():
            found.append(f"rejecting {row.source} needs a reason")
        if review.decision != "reject":
            try:
                payload = _approved_payload(session, row, review)
            except ValidationError as exc:
                detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                found.append(f"the edited action for {row.source} is not valid: {detail}")
            else:
                writer = action_writer(row.tool)
                assert writer is not None
                found += [f"{row.source}: {problem}" for problem in writer.check(session, writer.payload_model.model_validate(payload))]
        if answer.approver.strip():
            found += _rights(session, policy, row, review, answer.approver.strip(), payload)
    return found


def _record_review(session: Session, policy: Policy, request: ApprovalRequestRow, row: ProposalRow, review: Review, approver: str) -> tuple[Decision | None, bool]:
    """Record one review: the decision cleared for the executor (None until complete), and whether the approver corrected the action."""
    common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
    if review.decision == "reject":
        session.add(ApprovalRow(proposal_id=row.id, request_id=request.id, decision="rejected", approver=approver, reason=review.reason, proposal_digest=row.digest or ""))
        row.status, row.detail = Status.REJECTED, review.reason
        audit.append(session, AuditEvent.REJECTED, actor=approver, **common, data={"approver": approver, "reason": review.reason, "source": row.source, "proposal_digest": row.digest})
        return None, False
    base, earlier = standing(session, row)
    payload = _approved_payload(session, row, review)
    edits = {k: base.get(k) for k in payload if payload[k] != base.get(k)}
    approval = ApprovalRow(
        proposal_id=row.id, request_id=request.id, decision="approved", approver=approver, reason=review.reason,
        proposal_digest=row.digest or "", action_payload=payload, action_digest=action_digest(row.id, row.tool, payload),
    )
    session.add(approval)
    session.flush()
    approvers = [approver] if edits else [*earlier, approver]  # an edit is a new action: its approvals start again
    four_eyes = policy.needs_four_eyes(row.case_type, row.payload, payload)
    complete = not four_eyes or len({person(name) for name in approvers}) >= 2
    row.status = Status.APPROVED if complete else Status.AWAITING_APPROVAL
    row.detail = "" if complete else f"approved by {approver}; needs a second, different approver (four eyes)"
    audit.append(session, AuditEvent.APPROVED, actor=approver, **common, data={
        "approver": approver, "source": row.source, "proposal_digest": row.digest, "action_digest": approval.action_digest,
        "edits": {k: {"proposed": v, "approved": payload[k]} for k, v in edits.items()},
        **({"four_eyes": {"approvers": approvers, "complete": complete}} if four_eyes else {}),
    })
    for field, proposed in edits.items():
        session.add(CorrectionRow(proposal_id=row.id, approval_id=approval.id, field=field, proposed_value=proposed, approved_value=payload[field], corrected_by=approver))
        audit.append(session, AuditEvent.CORRECTED, actor=approver, **common, data={"field": field, "proposed": proposed, "approved": payload[field]})
    return (Decision(proposal_id=row.id, approval_id=approval.id) if complete else None), bool(edits)


def decide(request_id: int, answer: ApprovalAnswer) -> list[Decision]:
    """Accept a whole answer or none of it: record approvals, rejections and corrections, and
    return the approved proposals for the executor. A refused answer is audited and raised."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id, with_for_update=True)
        if request is None:
            raise ApprovalRejected(f"no approval request {request_id}")
        found = problems(session, request, answer)
        workflow, proposal_ids = request.workflow, request.proposal_ids
        if not found:
            rows = _batch_rows(session, request)
            approver = answer.approver.strip()
            policy = load_policy(request.workflow)
            recorded = [(rows[r.proposal_id], *_record_review(session, policy, request, rows[r.proposal_id], r, approver)) for r in answer.reviews]
            request.status, request.decided_at = "decided", datetime.now(timezone.utc)
            decisions = [decision for _, decision, _ in recorded]
            corrected = {(row.case_type, row.run_id) for row, _, edited in recorded if edited}
    if not found:
        from opsgate.autonomy import demote  # autonomy reads the metrics, which read these tables

        for case_type, run_id in sorted(corrected):
            demote(workflow, case_type, f"a person corrected a {case_type} case before approving it", {"approver": approver}, run_id)
        return [d for d in decisions if d is not None]
    with transaction() as session:  # the refusal is kept although the answer is not
        audit.append(session, AuditEvent.APPROVAL_REFUSED, workflow=workflow, actor=answer.approver or "unknown", data={"request": request_id, "problems": found, "proposals": proposal_ids})
    more = f"; and {len(found) - SHOWN_PROBLEMS} more (every one is in the audit log's approval_refused event)" if len(found) > SHOWN_PROBLEMS else ""
    raise ApprovalRejected("approval refused: " + "; ".join(found[:SHOWN_PROBLEMS]) + more)


def awaiting_second_approval(request_id: int) -> list[Proposal]:
    """The request's four-eyes cases that one person approved: they go to a second approver."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        rows = _batch_rows(session, request).values()
        return [_as_proposal(r) for r in sorted(rows, key=lambda r: r.source) if r.status == Status.AWAITING_APPROVAL]


def expire_run(flow_run_id: str, owner: str) -> int:
    """The deadline passed: every request of the flow run still pending expires (pages not yet
    reached included). Returns how many proposals expired."""
    with transaction() as session:
        pending = session.execute(
            select(ApprovalRequestRow.id, ApprovalRequestRow.proposal_ids).where(ApprovalRequestRow.flow_run_id == flow_run_id, ApprovalRequestRow.status == "pending")
        ).all()
    for request_id, _ in pending:
        expire(request_id, owner)
    return sum(len(ids) for _, ids in pending)


def expire(request_id: int, owner: str) -> None:
    """Nobody decided in time: the proposals expire, nothing is written, the owner is told."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id, with_for_update=True)
        assert request is not None
        if request.status != "pending":
            return
        request.status = "expired"
        for row in session.execute(select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids))).scalars():
            row.status, row.detail = Status.EXPIRED, f"no decision before {request.deadline.isoformat()}"
            common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
            audit.append(session, AuditEvent.EXPIRED, actor=GATE, **common, data={"source": row.source, "deadline": request.deadline.isoformat()})
            audit.append(session, AuditEvent.ESCALATED, actor=GATE, **common, data={
                "source": row.source, "to": owner, "reasons": [{"reason": EscalationReason.APPROVAL_TIMEOUT, "field": None, "detail": "approval deadline passed"}],
            })


def answer_for(request: PendingRequest, approver: str, rejections: dict[str, str] | None = None, edits: dict[str, dict[str, Any]] | None = None) -> ApprovalAnswer:
    """Build a complete answer from the CLI's short form: approve all, except the rejected ones."""
    rejections, edits = rejections or {}, edits or {}
    reviews = [
        Review(proposal_id=p.id, source=p.source, decision="reject" if p.id in rejections else "approve", reason=rejections.get(p.id, ""), fields=edits.get(p.id, {}))
        for p in request.proposals
    ]
    return ApprovalAnswer(approver=approver, batch_digest=request.digest, reviews=reviews)
