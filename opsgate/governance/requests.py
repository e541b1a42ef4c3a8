"""Approval requests: the proposals of a run waiting for a person until a deadline, from opening to
decided or expired.

A request is bound to the digest of its batch (each proposal's id and action digest, keyed with the
audit key), so an answer is only accepted for the exact batch shown. Pages of a large batch and the
second round of a four-eyes case are requests of their own, decided in order. The store, not the
run's process, holds them: a run whose process died loses nothing (``opsgate recover``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.governance import rights
from opsgate.integrity import mac
from opsgate.models import Decision, EscalationReason, Proposal, Status, TakeUp
from opsgate.settings import get_settings
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRequestRow, ProposalRow, as_utc

GATE = "opsgate-gate"


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
    round: int = Field(
        1, description="2 and up: proposals one person approved, waiting for a second, different approver (four eyes)."
    )
    page: int | None = None


def batch_digest(proposals: list[tuple[str, str | None]]) -> str:
    """Digest of a batch: its proposals' ids and action digests, in id order, keyed."""
    return mac(sorted(proposals))


def pause_key(workflow: str, attempt: int, page: int | None = None, round_: int = 1) -> str:
    """Stable per workflow, page, round (a second approver's is round 2) and attempt, so a re-run of
    the flow finds the same keys."""
    second = "" if round_ <= 1 else "second" if round_ == 2 else f"second{round_ - 1}"
    parts = [f"{workflow.replace('_', '-')}-approval", f"page{page}" if page else "", second, str(attempt)]
    return "-".join(part for part in parts if part)


def proposal_of(row: ProposalRow) -> Proposal:
    """A stored case as the model proposals are: what the gate shows and a take-up starts from."""
    return Proposal(
        id=row.id,
        workflow=row.workflow,
        source=row.source,
        case_type=row.case_type,
        tool=row.tool,
        payload=row.payload,
        summary=row.summary,
        confidence=row.confidence,
        escalations=row.escalations,
        instruction_version=row.instruction_version,
        context=row.context or {},
        inputs=row.inputs or {},
        taken_up=TakeUp(case=row.taken_up_from) if row.taken_up_from else None,
    )


def review_link(flow_run_id: str) -> str:
    """Where an approver decides this run's requests on the review screen (``opsgate review
    serve``): one address for all its pages and rounds, which takes them to the one waiting now."""
    return f"{get_settings().review_url.rstrip('/')}/runs/{flow_run_id}"


def deadline_in(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def add_request(
    session: Session,
    workflow: str,
    run_id: str,
    flow_run_id: str,
    key: str,
    proposal_ids: list[str],
    digest: str,
    deadline: datetime,
    page: int | None,
    round_: int,
) -> ApprovalRequestRow:
    request = ApprovalRequestRow(
        flow_run_id=flow_run_id,
        pause_key=key,
        workflow=workflow,
        digest=digest,
        proposal_ids=proposal_ids,
        requested_at=datetime.now(timezone.utc),
        deadline=deadline,
        page=page,
        round=round_,
    )
    session.add(request)
    for row in session.execute(select(ProposalRow).where(ProposalRow.id.in_(proposal_ids))).scalars():
        row.status = Status.AWAITING_APPROVAL
    session.flush()
    audit.append(
        session,
        AuditEvent.APPROVAL_REQUESTED,
        workflow=workflow,
        run_id=run_id,
        actor=GATE,
        data={
            "request": request.id,
            "flow_run_id": flow_run_id,
            "pause_key": key,
            "batch_digest": digest,
            "proposals": proposal_ids,
            "deadline": deadline.isoformat(),
            "page": page,
            "round": round_,
        },
    )
    return request


def open_request(
    workflow: str,
    run_id: str,
    flow_run_id: str,
    pause_key: str,
    proposals: list[Proposal],
    deadline: datetime,
    page: int | None = None,
) -> PendingRequest:
    """Record that these proposals wait for a person, until the deadline."""
    with transaction() as session:
        return _pending(session, _open(session, workflow, run_id, flow_run_id, pause_key, proposals, deadline, page))


def open_pages(
    workflow: str, run_id: str, flow_run_id: str, pages: list[list[Proposal]], deadline: datetime
) -> list[PendingRequest]:
    """Record a batch's pages as requests in one transaction: whoever looks (an approver's listing,
    ``opsgate recover``) sees every page of it or none, never a batch cut short by a crash or
    caught halfway."""
    with transaction() as session:
        opened = [
            _open(
                session,
                workflow,
                run_id,
                flow_run_id,
                pause_key(workflow, 1, page=number if len(pages) > 1 else None),
                page,
                deadline,
                number if len(pages) > 1 else None,
            )
            for number, page in enumerate(pages, 1)
        ]
        return [_pending(session, request) for request in opened]


def _open(
    session: Session,
    workflow: str,
    run_id: str,
    flow_run_id: str,
    key: str,
    proposals: list[Proposal],
    deadline: datetime,
    page: int | None,
) -> ApprovalRequestRow:
    batch = batch_digest([(p.id, p.digest) for p in proposals])
    return add_request(session, workflow, run_id, flow_run_id, key, [p.id for p in proposals], batch, deadline, page, 1)


def _shown(session: Session, row: ProposalRow) -> Proposal:
    """The proposal as the next approver decides on it: a four-eyes case one person approved shows
    the action that person approved, and who did."""
    proposal = proposal_of(row)
    action, approvers = rights.standing(session, row)
    if approvers and row.status == Status.AWAITING_APPROVAL:
        proposal.payload = action
        proposal.summary = f"approved by {', '.join(approvers)}; needs a second, different approver. {proposal.summary}"
    return proposal


def _pending(session: Session, request: ApprovalRequestRow) -> PendingRequest:
    rows = (
        session.execute(
            select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids)).order_by(ProposalRow.source)
        )
        .scalars()
        .all()
    )
    return PendingRequest(
        id=request.id,
        flow_run_id=request.flow_run_id,
        pause_key=request.pause_key,
        workflow=request.workflow,
        digest=request.digest,
        proposals=[_shown(session, r) for r in rows],
        statuses={r.id: r.status for r in rows},
        requested_at=as_utc(request.requested_at),
        deadline=as_utc(request.deadline),
        round=request.round or 1,
        page=request.page,
    )


def pending_requests(workflow: str | None = None) -> list[PendingRequest]:
    with transaction() as session:
        query = (
            select(ApprovalRequestRow)
            .where(ApprovalRequestRow.status == "pending")
            .order_by(ApprovalRequestRow.requested_at, ApprovalRequestRow.id)
        )
        if workflow:
            query = query.where(ApprovalRequestRow.workflow == workflow)
        return [_pending(session, r) for r in session.execute(query).scalars()]


def pending_request(request_id: int) -> PendingRequest | None:
    """One request, if it still waits for a decision: read alone, not among every pending one."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        return _pending(session, request) if request is not None and request.status == "pending" else None


def request_for_run(flow_run_id: str) -> PendingRequest | None:
    """The request a flow run waits on: its oldest pending one (pages and second approvals are
    decided in order), else its newest."""
    with transaction() as session:
        ours = select(ApprovalRequestRow).where(ApprovalRequestRow.flow_run_id == flow_run_id)
        request = session.execute(
            ours.where(ApprovalRequestRow.status == "pending").order_by(ApprovalRequestRow.id).limit(1)
        ).scalar_one_or_none()
        request = request or session.execute(ours.order_by(ApprovalRequestRow.id.desc()).limit(1)).scalar_one_or_none()
        return _pending(session, request) if request else None


def next_request(flow_run_id: str) -> PendingRequest | None:
    """The oldest request of the flow run still waiting for a decision, if any."""
    with transaction() as session:
        query = select(ApprovalRequestRow).where(
            ApprovalRequestRow.flow_run_id == flow_run_id, ApprovalRequestRow.status == "pending"
        )
        request = session.execute(query.order_by(ApprovalRequestRow.id).limit(1)).scalar_one_or_none()
        return _pending(session, request) if request else None


class Standing(NamedTuple):
    status: str
    pause_key: str


def request_status(request_id: int) -> str:
    return standing(request_id).status


def standing(request_id: int) -> Standing:
    """Where a request stands now: its status, and the key the run waits for it under (moved on
    each refused answer, so a copy read earlier may name an old one)."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        return Standing(request.status, request.pause_key)


def move_request(request_id: int) -> str:
    """After a refused answer the run pauses again under a new key (Prefect keeps the answer given
    under the old one); approvers must find it. Returns the new key: the attempt counted up."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        base, _, attempt = request.pause_key.rpartition("-")
        request.pause_key = f"{base}-{int(attempt) + 1}" if base and attempt.isdigit() else f"{request.pause_key}-2"
        return request.pause_key


def cleared(run_id: str) -> list[Decision]:
    """The run's cases cleared for the executor and not yet written: approved by people (every round
    complete) or routed `auto`, as the store holds them."""
    with transaction() as session:
        rows = (
            session.execute(
                select(ProposalRow.id)
                .where(ProposalRow.run_id == run_id, ProposalRow.status == Status.APPROVED)
                .order_by(ProposalRow.source, ProposalRow.id)
            )
            .scalars()
            .all()
        )
    return [Decision(proposal_id=pid) for pid in rows]


def expire_run(flow_run_id: str, owner: str) -> int:
    """The deadline passed: every request of the flow run still pending expires (pages not yet
    reached included). Returns how many proposals expired."""
    with transaction() as session:
        pending = (
            session.execute(
                select(ApprovalRequestRow.id).where(
                    ApprovalRequestRow.flow_run_id == flow_run_id, ApprovalRequestRow.status == "pending"
                )
            )
            .scalars()
            .all()
        )
    return sum(expire(request_id, owner) for request_id in pending)


def expire(request_id: int, owner: str) -> int:
    """Nobody decided in time: the proposals still waiting expire, nothing is written, the owner is
    told. Returns how many expired."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id, with_for_update=True)
        assert request is not None
        if request.status != "pending":
            return 0
        request.status = "expired"
        count = 0
        for row in session.execute(select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids))).scalars():
            if row.status != Status.AWAITING_APPROVAL:
                continue
            row.status, row.detail = Status.EXPIRED, f"no decision before {as_utc(request.deadline).isoformat()}"
            count += 1
            common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
            audit.append(
                session,
                AuditEvent.EXPIRED,
                actor=GATE,
                **common,
                data={"source": row.source, "deadline": as_utc(request.deadline).isoformat()},
            )
            audit.append(
                session,
                AuditEvent.ESCALATED,
                actor=GATE,
                **common,
                data={
                    "source": row.source,
                    "to": owner,
                    "reasons": [
                        {
                            "reason": EscalationReason.APPROVAL_TIMEOUT,
                            "field": None,
                            "detail": "approval deadline passed",
                        }
                    ],
                },
            )
        return count
