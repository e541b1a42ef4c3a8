"""Approval requests and decisions, independent of how the decision arrives (UI form or CLI).

An approval is bound to digests, keyed with the audit key: the batch digest the approver saw, each
proposal's digest when it was approved, and the digest of the exact action approved (after edits).
The executor checks them again before it writes, so an approval cannot be carried over to a changed
action, and nobody without the key can make a changed action's digest fit.

A decision is recorded here the moment it is accepted, whichever way it arrives: the CLI records it
before it wakes the paused run, the gate records an answer sent from the Prefect UI. The store, not
the run's process, holds it, so a run whose process died loses nothing: ``opsgate recover``
executes what was approved. Who may decide is asked of the case as proposed and as it would be
approved (an edit can move it into a stricter case type), each with the case types it refines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.governance import audit
from opsgate.governance.audit import AuditEvent
from opsgate.errors import ApprovalRejected, PolicyDenied, PolicyError
from opsgate.governance.integrity import mac
from opsgate.models import Decision, EscalationReason, Proposal, Route, Status, action_digest
from opsgate.policy.engine import route
from opsgate.policy.loader import load_policy
from opsgate.policy.schema import ANY_CASE, Policy, person, same_person
from opsgate.governance.runs import run_policy
from opsgate.settings import MAX_PAGE
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRequestRow, ApprovalRow, CorrectionRow, ProposalRow, RunRow, as_utc
from opsgate.writers import action_writer

GATE = "opsgate-gate"
SHOWN_PROBLEMS = 5  # a refusal names this many problems; a large batch answered by the wrong person would otherwise fill a screen


# What an answer may carry, bounded where it is declared: Prefect's server checks a resume against
# the form's JSON schema (these limits included), and ``record`` validates again before anything is
# written, because an answer can be sent to the API without the form. Names and reasons refuse
# control characters and bidirectional overrides, which could disguise what a reader sees.
_HIDDEN = "\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff"
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=f"^[^{_HIDDEN}\\t\\n]+$")]
Reason = Annotated[str, StringConstraints(max_length=2000, pattern=f"^[^{_HIDDEN}]*$")]
ProposalId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
MAX_FIELDS = 200


class Review(BaseModel):
    """One proposal's decision. ``fields`` arrives pre-filled with the proposed action: changing a
    value approves the corrected action and records the change as a correction (``edit`` says so
    explicitly; an ``approve`` with changed values is the same decision)."""

    proposal_id: ProposalId
    source: str = Field(default="", max_length=2000)
    decision: Literal["approve", "edit", "reject"] = "approve"
    reason: Reason = Field(default="", description="Required when rejecting.")
    fields: dict[Annotated[str, StringConstraints(max_length=100)], Any] = Field(default_factory=dict, max_length=MAX_FIELDS)


class ApprovalAnswer(BaseModel):
    approver: Name = Field(description="Your name: recorded as the approver of this batch.")
    batch_digest: str = Field(pattern=r"^[0-9a-f]{64}$", description="Identifies the exact batch shown; leave as it is.")
    reviews: list[Review] = Field(max_length=MAX_PAGE)


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
    """Digest of a batch: its proposals' ids and action digests, in id order, keyed."""
    return mac(sorted(proposals))


def pause_key(workflow: str, attempt: int, page: int | None = None, round_: int = 1) -> str:
    """Stable per workflow, page, round (a second approver's is round 2) and attempt, so a re-run of
    the flow finds the same keys."""
    second = "" if round_ <= 1 else "second" if round_ == 2 else f"second{round_ - 1}"
    parts = [f"{workflow.replace('_', '-')}-approval", f"page{page}" if page else "", second, str(attempt)]
    return "-".join(part for part in parts if part)


def _as_proposal(row: ProposalRow) -> Proposal:
    return Proposal(
        id=row.id, workflow=row.workflow, source=row.source, case_type=row.case_type, tool=row.tool,
        payload=row.payload, summary=row.summary, confidence=row.confidence, escalations=row.escalations,
        instruction_version=row.instruction_version, context=row.context or {},
    )


def deadline_in(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def _open(
    session: Session, workflow: str, run_id: str, flow_run_id: str, key: str, proposal_ids: list[str], digest: str, deadline: datetime, page: int | None, round_: int,
) -> ApprovalRequestRow:
    request = ApprovalRequestRow(
        flow_run_id=flow_run_id, pause_key=key, workflow=workflow, digest=digest, proposal_ids=proposal_ids,
        requested_at=datetime.now(timezone.utc), deadline=deadline, page=page, round=round_,
    )
    session.add(request)
    for row in session.execute(select(ProposalRow).where(ProposalRow.id.in_(proposal_ids))).scalars():
        row.status = Status.AWAITING_APPROVAL
    session.flush()
    audit.append(session, AuditEvent.APPROVAL_REQUESTED, workflow=workflow, run_id=run_id, actor=GATE, data={
        "request": request.id, "flow_run_id": flow_run_id, "pause_key": key, "batch_digest": digest,
        "proposals": proposal_ids, "deadline": deadline.isoformat(), "page": page, "round": round_,
    })
    return request


def open_request(
    workflow: str, run_id: str, flow_run_id: str, pause_key: str, proposals: list[Proposal], deadline: datetime, page: int | None = None,
) -> PendingRequest:
    """Record that these proposals wait for a person, until the deadline."""
    batch = batch_digest([(p.id, p.digest) for p in proposals])
    with transaction() as session:
        request = _open(session, workflow, run_id, flow_run_id, pause_key, [p.id for p in proposals], batch, deadline, page, 1)
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
        query = select(ApprovalRequestRow).where(ApprovalRequestRow.status == "pending").order_by(ApprovalRequestRow.requested_at, ApprovalRequestRow.id)
        if workflow:
            query = query.where(ApprovalRequestRow.workflow == workflow)
        return [_pending(session, r) for r in session.execute(query).scalars()]


def request_for_run(flow_run_id: str) -> PendingRequest | None:
    """The request a flow run waits on: its oldest pending one (pages and second approvals are
    decided in order), else its newest."""
    with transaction() as session:
        ours = select(ApprovalRequestRow).where(ApprovalRequestRow.flow_run_id == flow_run_id)
        request = session.execute(ours.where(ApprovalRequestRow.status == "pending").order_by(ApprovalRequestRow.id).limit(1)).scalar_one_or_none()
        request = request or session.execute(ours.order_by(ApprovalRequestRow.id.desc()).limit(1)).scalar_one_or_none()
        return _pending(session, request) if request else None


def next_request(flow_run_id: str) -> PendingRequest | None:
    """The oldest request of the flow run still waiting for a decision, if any."""
    with transaction() as session:
        query = select(ApprovalRequestRow).where(ApprovalRequestRow.flow_run_id == flow_run_id, ApprovalRequestRow.status == "pending")
        request = session.execute(query.order_by(ApprovalRequestRow.id).limit(1)).scalar_one_or_none()
        return _pending(session, request) if request else None


def request_status(request_id: int) -> str:
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        return request.status


def move_request(request_id: int) -> str:
    """After a refused answer the run pauses again under a new key (Prefect keeps the answer given
    under the old one); approvers must find it. Returns the new key: the attempt counted up."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        base, _, attempt = request.pause_key.rpartition("-")
        request.pause_key = f"{base}-{int(attempt) + 1}" if base and attempt.isdigit() else f"{request.pause_key}-2"
        return request.pause_key


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
    """The person who started the run, as the process that ran it recorded (trigger ``cli:<user>``);
    None for a schedule or a deployment run nobody in particular started."""
    run = session.get(RunRow, run_id)
    return run.trigger.removeprefix("cli:") if run and run.trigger.startswith("cli:") else None


def case_types(
    policy: Policy, case_type: str, tool: str | None, payload: dict[str, Any] | None, confidence: dict[str, float], context: dict[str, Any],
) -> list[str]:
    """The case types a decision on a case answers to: the case as proposed and, when an action is
    approved, the case that action would be (worked out again from the approved values), in order."""
    found = [case_type]
    if payload is not None and tool is not None:
        found.append(policy.case_type_of(policy.root_case_type(case_type), payload, confidence, context))
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Rules:
    """The policies an answer is checked against: the run's, which governs its decisions, and the
    file as it is now, which can only take the right to decide away."""

    run: Policy
    file: Policy


def _case_types(policy: Policy, row: ProposalRow, payload: dict[str, Any] | None) -> list[str]:
    return case_types(policy, row.case_type, row.tool, payload, row.confidence or {}, row.context or {})


def _out_of_route(policy: Policy, row: ProposalRow, payload: dict[str, Any], approved_as: str) -> list[str]:
    """An approved action must be one the policy would have sent to a person had it been proposed so:
    an edit cannot carry a case past a rule that escalates it (a high value) or shadows its type."""
    if approved_as == row.case_type and payload == row.payload:
        return []
    as_approved = Proposal(
        id=row.id, workflow=row.workflow, source=row.source, case_type=approved_as, tool=row.tool, payload=payload,
        confidence=row.confidence or {}, context=row.context or {}, instruction_version=row.instruction_version,
    )
    verdict = route(policy, as_approved)
    if verdict.route in (Route.APPROVE, Route.AUTO):
        return []
    why = "; ".join(e.describe() for e in verdict.escalations) or verdict.why or f"{approved_as} cases are only shadowed"
    return [f"the action as approved for {row.source} is a {approved_as} case the policy does not let a person approve here ({why})"]


def _rights(session: Session, rules: Rules, row: ProposalRow, approver: str, payload: dict[str, Any] | None) -> list[str]:
    """Who may decide: the approver groups of the run's policy for every case type the decision
    answers to, and those of the file as it is now (someone taken out of a group while the run
    waited decides nothing more), and four eyes (two different people, neither the run's requester,
    approve the same action) when a rule of the run's policy covers any of them or any type they refine."""
    policy = rules.run
    types = _case_types(policy, row, payload)
    for case_type in types:
        if not policy.may_decide(approver, case_type):
            groups = [name for name, group in policy.approvals.groups.items() if ANY_CASE in group.case_types or case_type in group.case_types]
            moved = f" (as approved: {row.source} was proposed as {row.case_type})" if case_type != row.case_type else ""
            return [f"{approver} may not decide on {case_type} cases such as {row.source}{moved} (the policy lets {', '.join(groups) or 'no group'} decide)"]
        if not rules.file.may_decide(approver, case_type):
            return [f"{approver} may no longer decide on {case_type} cases such as {row.source}: the policy file as it is now does not let them"]
    if payload is None:
        return []
    found = _out_of_route(policy, row, payload, types[-1])
    if found or not policy.needs_four_eyes(types, row.payload, payload):
        return found
    started_by = requester(session, row.run_id)
    if started_by and same_person(approver, started_by):
        return [f"{approver} started this run and may not approve {row.source}, which needs four eyes"]
    action, approvers = standing(session, row)
    if payload == action and any(same_person(approver, earlier) for earlier in approvers):
        return [f"{approver} already approved {row.source}; it needs a second, different approver"]
    return []


def _batch_rows(session: Session, request: ApprovalRequestRow) -> dict[str, ProposalRow]:
    return {r.id: r for r in session.execute(select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids))).scalars()}


def problems(session: Session, request: ApprovalRequestRow, answer: ApprovalAnswer, rules: Rules) -> list[str]:
    """Every reason this answer cannot be accepted for this request under the run's policy (and,
    for who may decide, the file as it is now too); empty when it can."""
    found: list[str] = []
    if request.status != "pending":
        return [f"approval request {request.id} is already {request.status}"]
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
            found.append(f"proposals {label}: {', '.join(ids[:SHOWN_PROBLEMS])}" + (f" and {len(ids) - SHOWN_PROBLEMS} more" if len(ids) > SHOWN_PROBLEMS else ""))
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
        found += _rights(session, rules, row, answer.approver, payload)
    return found


def _record_review(session: Session, policy: Policy, request: ApprovalRequestRow, row: ProposalRow, review: Review, approver: str) -> tuple[Decision | None, bool]:
    """Record one review: the decision cleared for the executor (None until complete), and whether the approver corrected the action."""
    common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
    if review.decision == "reject":
        rejection = ApprovalRow(proposal_id=row.id, request_id=request.id, decision="rejected", approver=approver, reason=review.reason, proposal_digest=row.digest or "")
        session.add(rejection)
        session.flush()
        row.status, row.detail = Status.REJECTED, review.reason
        audit.append(session, AuditEvent.REJECTED, actor=approver, **common, data={
            "approval": rejection.id, "request": request.id, "approver": approver, "reason": review.reason, "source": row.source, "proposal_digest": row.digest,
        })
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
    types = _case_types(policy, row, payload)
    four_eyes = policy.needs_four_eyes(types, row.payload, payload)
    keep = policy.logging.store_documents  # the values people corrected are what documents say
    complete = not four_eyes or len({person(name) for name in approvers}) >= 2
    row.status = Status.APPROVED if complete else Status.AWAITING_APPROVAL
    row.detail = "" if complete else f"approved by {approver}; needs a second, different approver (four eyes)"
    audit.append(session, AuditEvent.APPROVED, actor=approver, **common, data={
        "approval": approval.id, "request": request.id, "approver": approver, "source": row.source, "proposal_digest": row.digest,
        "action_digest": approval.action_digest, "case_types": types,
        "edits": {k: {"proposed": v, "approved": payload[k]} if keep else {} for k, v in edits.items()},
        **({"four_eyes": {"approvers": approvers, "complete": complete}} if four_eyes else {}),
    })
    for field, proposed in edits.items():
        session.add(CorrectionRow(proposal_id=row.id, approval_id=approval.id, field=field, proposed_value=proposed, approved_value=payload[field], corrected_by=approver))
        audit.append(session, AuditEvent.CORRECTED, actor=approver, **common, data={"field": field, **({"proposed": proposed, "approved": payload[field]} if keep else {})})
    return (Decision(proposal_id=row.id, approval_id=approval.id) if complete else None), bool(edits)


def answer_digest(answer: ApprovalAnswer) -> str:
    """What identifies one answer: the run is woken with the answer the CLI recorded, and the gate
    tells that echo from a second, different answer."""
    return mac(answer.model_dump(mode="json"))


def _open_second_round(session: Session, request: ApprovalRequestRow, rows: list[ProposalRow], run_id: str) -> None:
    """Four-eyes cases one person approved wait for a second, different approver: a request of their
    own, opened in the transaction that recorded the first approval, so no process has to survive to
    open it."""
    waiting = [r for r in sorted(rows, key=lambda r: r.source) if r.status == Status.AWAITING_APPROVAL]
    if not waiting:
        return
    round_ = (request.round or 1) + 1
    existing = set(session.execute(select(ApprovalRequestRow.pause_key).where(ApprovalRequestRow.flow_run_id == request.flow_run_id)).scalars())
    key = pause_key(request.workflow, 1, request.page, round_)
    while key in existing:  # an edit by a second approver starts yet another round
        round_ += 1
        key = pause_key(request.workflow, 1, request.page, round_)
    digest = batch_digest([(r.id, r.digest) for r in waiting])
    _open(session, request.workflow, run_id, request.flow_run_id, key, [r.id for r in waiting], digest, as_utc(request.deadline), request.page, round_)


def _refuse(workflow: str, request_id: int, approver: str, found: list[str], proposal_ids: list[str]) -> ApprovalRejected:
    with transaction() as session:  # the refusal is kept although the answer is not
        audit.append(session, AuditEvent.APPROVAL_REFUSED, workflow=workflow, actor=approver or "unknown", data={"request": request_id, "problems": found, "proposals": proposal_ids})
    more = f"; and {len(found) - SHOWN_PROBLEMS} more (every one is in the audit log's approval_refused event)" if len(found) > SHOWN_PROBLEMS else ""
    return ApprovalRejected("approval refused: " + "; ".join(found[:SHOWN_PROBLEMS]) + more)


def _invalid(exc: ValidationError) -> list[str]:
    return [f"the answer is not valid: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:SHOWN_PROBLEMS]]


class Recorded(BaseModel):
    """What recording an accepted answer did: the decisions cleared for the executor, and the case
    types a person corrected (with the run of each), whose consequences are the caller's
    (``opsgate.learning.decisions``)."""

    workflow: str
    approver: str
    decisions: list[Decision] = Field(default_factory=list)
    corrected: list[tuple[str, str]] = Field(default_factory=list, description="(case type, run id) of every corrected case, once each, sorted.")


def record(request_id: int, answer: ApprovalAnswer | dict[str, Any]) -> Recorded:
    """Accept a whole answer or none of it: record approvals, rejections and corrections, and
    return what was cleared for the executor and what was corrected. A refused answer is audited
    and raised.

    The answer is validated again here, whatever it passed before: it may have come through the
    Prefect API without the form."""
    try:
        answer = ApprovalAnswer.model_validate(answer if isinstance(answer, dict) else answer.model_dump(mode="json"))
    except ValidationError as exc:
        raw = answer if isinstance(answer, dict) else answer.model_dump(mode="json", warnings=False)
        with transaction() as session:
            request = session.get(ApprovalRequestRow, request_id)
            workflow, ids = (request.workflow, request.proposal_ids) if request else ("unknown", [])
        raise _refuse(workflow, request_id, str(raw.get("approver") or "unknown"), _invalid(exc), ids) from None
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        if request is None:
            raise ApprovalRejected(f"no approval request {request_id}")
        workflow, proposal_ids = request.workflow, list(request.proposal_ids)
        run_id = session.execute(select(ProposalRow.run_id).where(ProposalRow.id.in_(proposal_ids)).limit(1)).scalar_one_or_none()
    try:  # read outside the transaction that locks the store (SQLite has one writer)
        policy, file = run_policy(run_id or "", workflow), load_policy(workflow)
    except (PolicyDenied, PolicyError) as exc:
        raise _refuse(workflow, request_id, answer.approver, [f"no decision can be taken now: {exc}"], proposal_ids) from None
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id, with_for_update=True)
        assert request is not None
        found = problems(session, request, answer, Rules(run=policy, file=file))
        workflow, proposal_ids = request.workflow, request.proposal_ids
        if not found:
            rows = _batch_rows(session, request)
            approver = answer.approver
            recorded = [(rows[r.proposal_id], *_record_review(session, policy, request, rows[r.proposal_id], r, approver)) for r in answer.reviews]
            request.status, request.decided_at, request.answer_digest = "decided", datetime.now(timezone.utc), answer_digest(answer)
            _open_second_round(session, request, list(rows.values()), recorded[0][0].run_id if recorded else "")
            return Recorded(
                workflow=workflow, approver=approver, decisions=[decision for _, decision, _ in recorded if decision is not None],
                corrected=sorted({(row.case_type, row.run_id) for row, _, edited in recorded if edited}),
            )
    raise _refuse(workflow, request_id, answer.approver, found, proposal_ids)


class Received(BaseModel):
    """What the gate did with what woke it: whether the request is decided now (else the run must
    ask again), and what this answer recorded, if it was the one that decided it."""

    decided: bool
    recorded: Recorded | None = None


def receive(request_id: int, answer: dict[str, Any] | None) -> Received:
    """What the gate does with what woke it.

    A request still pending is decided with the answer (sent from the Prefect UI). A request already
    decided was recorded by whoever answered first (the CLI records, then wakes the run): the answer
    that woke the run is either that one, or a second answer, which is refused and audited."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        status, recorded, workflow, ids = request.status, request.answer_digest, request.workflow, request.proposal_ids
    if status == "pending":
        if answer is None:
            return Received(decided=False)
        try:
            return Received(decided=True, recorded=record(request_id, answer))
        except ApprovalRejected:
            return Received(decided=False)
    if answer is not None:
        try:
            same = answer_digest(ApprovalAnswer.model_validate(answer)) == recorded
        except ValidationError:
            same = False
        if not same:
            _refuse(workflow, request_id, str(answer.get("approver") or "unknown"), [f"approval request {request_id} was already {status}"], ids)
    return Received(decided=True)


def cleared(run_id: str) -> list[Decision]:
    """The run's cases cleared for the executor and not yet written: approved by people (every round
    complete) or routed `auto`, as the store holds them."""
    with transaction() as session:
        rows = session.execute(
            select(ProposalRow.id).where(ProposalRow.run_id == run_id, ProposalRow.status == Status.APPROVED).order_by(ProposalRow.source, ProposalRow.id)
        ).scalars().all()
    return [Decision(proposal_id=pid) for pid in rows]


def expire_run(flow_run_id: str, owner: str) -> int:
    """The deadline passed: every request of the flow run still pending expires (pages not yet
    reached included). Returns how many proposals expired."""
    with transaction() as session:
        pending = session.execute(
            select(ApprovalRequestRow.id).where(ApprovalRequestRow.flow_run_id == flow_run_id, ApprovalRequestRow.status == "pending")
        ).scalars().all()
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
            audit.append(session, AuditEvent.EXPIRED, actor=GATE, **common, data={"source": row.source, "deadline": as_utc(request.deadline).isoformat()})
            audit.append(session, AuditEvent.ESCALATED, actor=GATE, **common, data={
                "source": row.source, "to": owner, "reasons": [{"reason": EscalationReason.APPROVAL_TIMEOUT, "field": None, "detail": "approval deadline passed"}],
            })
        return count


def answer_for(request: PendingRequest, approver: str, rejections: dict[str, str] | None = None, edits: dict[str, dict[str, Any]] | None = None) -> ApprovalAnswer:
    """Build a complete answer from the CLI's short form: approve all, except the rejected ones."""
    rejections, edits = rejections or {}, edits or {}
    reviews = [
        Review(proposal_id=p.id, source=p.source, decision="reject" if p.id in rejections else "approve", reason=rejections.get(p.id, ""), fields=edits.get(p.id, {}))
        for p in request.proposals
    ]
    return ApprovalAnswer.model_construct(approver=approver, batch_digest=request.digest, reviews=reviews)
