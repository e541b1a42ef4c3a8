"""Reviewing an answer: validating it against the request and the run's policy, and recording it,
independent of how it arrives (UI form or CLI).

An approval is bound to digests, keyed with the audit key: the batch digest the approver saw, each
proposal's digest when it was approved, and the digest of the exact action approved (after edits).
The executor checks them again before it writes, so an approval cannot be carried over to a changed
action, and nobody without the key can make a changed action's digest fit.

A decision is recorded here the moment it is accepted, whichever way it arrives: the CLI records it
before it wakes the paused run, the gate records an answer sent from the Prefect UI. The store, not
the run's process, holds it, so a run whose process died loses nothing: ``opsgate recover``
executes what was approved. What a correction means for earned autonomy is for the caller
(``learning.decisions``): recording returns what was corrected.

How the approver was authenticated travels with the answer (``ApprovalAnswer.authenticated_by``),
set by the channel: the CLI after checking a local account's password, ``typed`` for whatever
arrives from Prefect. A policy with ``approvals.identity: verified`` refuses a typed answer here,
the one place every answer passes; every approval and rejection records it in the audit log.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import ApprovalRejected, PolicyDenied, PolicyError
from opsgate.governance import requests, rights
from opsgate.governance.answers import AnswerContent, ApprovalAnswer, Review
from opsgate.governance.requests import PendingRequest
from opsgate.governance.rights import Rules
from opsgate.governance.runs import run_policy
from opsgate.integrity import mac
from opsgate.models import Decision, Status, action_digest
from opsgate.policy.loader import load_policy
from opsgate.policy.runtime import Policy, person
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRequestRow, ApprovalRow, AuditRow, CorrectionRow, ProposalRow, as_utc
from opsgate.writers import action_writer

SHOWN_PROBLEMS = (
    5  # a refusal names this many problems; a large batch answered by the wrong person would otherwise fill a screen
)


def _approved_payload(session: Session, row: ProposalRow, review: Review) -> dict[str, Any]:
    """The action as approved, normalised through the writer's model so equal means unchanged."""
    writer = action_writer(row.tool)
    assert writer is not None, "only proposals with an action reach the gate"
    base = rights.standing(session, row)[0]
    fields = {**base, **review.fields} if review.fields else base
    return writer.payload_model.model_validate(fields).model_dump(mode="json")


def _batch_rows(session: Session, request: ApprovalRequestRow) -> dict[str, ProposalRow]:
    return {
        r.id: r for r in session.execute(select(ProposalRow).where(ProposalRow.id.in_(request.proposal_ids))).scalars()
    }


def problems(session: Session, request: ApprovalRequestRow, answer: ApprovalAnswer, rules: Rules) -> list[str]:
    """Every reason this answer cannot be accepted for this request under the run's policy (and,
    for who may decide, the file as it is now too); empty when it can."""
    found: list[str] = []
    if request.status != "pending":
        return [f"approval request {request.id} is already {request.status}"]
    if answer.authenticated_by == "typed" and rules.verified_only:
        found.append(
            "the policy requires a verified approver, and this answer's name was only typed: "
            "answer with `opsgate approvals approve/reject --as NAME` and the account's password"
        )
    if answer.batch_digest != request.digest:
        found.append("the batch was changed since it was shown (digest mismatch): review it again")
    rows = _batch_rows(session, request)
    if requests.batch_digest([(r.id, action_digest(r.id, r.tool, r.payload)) for r in rows.values()]) != request.digest:
        found.append("a proposal in this batch was modified after it was proposed: refusing the whole batch")
    reviewed = [r.proposal_id for r in answer.reviews]
    missing = sorted(set(request.proposal_ids) - set(reviewed))
    unknown = sorted(set(reviewed) - set(request.proposal_ids))
    twice = sorted({p for p in reviewed if reviewed.count(p) > 1})
    for label, ids in (("not decided", missing), ("not in this batch", unknown), ("decided twice", twice)):
        if ids:
            found.append(
                f"proposals {label}: {', '.join(ids[:SHOWN_PROBLEMS])}"
                + (f" and {len(ids) - SHOWN_PROBLEMS} more" if len(ids) > SHOWN_PROBLEMS else "")
            )
    for review in answer.reviews:
        row = rows.get(review.proposal_id)
        if row is None:
            continue
        payload = None
        if review.decision == "reject" and not review.reason.strip():
            found.append(f"rejecting {row.source} needs a reason")
        if review.decision != "reject":
            writer = action_writer(row.tool)
            assert writer is not None, "only proposals with an action reach the gate"
            fixed = sorted(set(review.fields) & writer.fixed)
            if fixed:
                found.append(
                    f"{row.source}: {', '.join(fixed)} say{'s' if len(fixed) == 1 else ''} what the action is about "
                    "and cannot be edited; reject the proposal instead"
                )
                continue
            try:
                payload = _approved_payload(session, row, review)
            except ValidationError as exc:
                detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                found.append(f"the edited action for {row.source} is not valid: {detail}")
            else:
                found += [
                    f"{row.source}: {problem}"
                    for problem in writer.check(session, writer.payload_model.model_validate(payload))
                ]
        found += rights.problems(session, rules, row, answer.approver, payload, answer.approver_groups)
    return found


def _run_of(session: Session, proposal_ids: list[str]) -> str:
    """The run a request's proposals belong to ("" when none is found)."""
    found = session.execute(select(ProposalRow.run_id).where(ProposalRow.id.in_(proposal_ids)).limit(1))
    return found.scalar_one_or_none() or ""


def request_policy(request: PendingRequest) -> Policy:
    """The policy the request's run started under."""
    with transaction() as session:
        run_id = _run_of(session, [p.id for p in request.proposals])
    return run_policy(run_id, request.workflow)


def verified_required(request: PendingRequest) -> bool:
    """Whether an answer to this request is refused unless its approver was authenticated: the run's
    policy, or the workflow's file as it is now, says ``identity: verified``."""
    return Rules(run=request_policy(request), file=load_policy(request.workflow)).verified_only


def _record_review(
    session: Session,
    policy: Policy,
    request: ApprovalRequestRow,
    row: ProposalRow,
    review: Review,
    answer: ApprovalAnswer,
) -> tuple[Decision | None, bool]:
    """Record one review: the decision cleared for the executor (None until complete), and whether the approver corrected the action."""
    approver = answer.approver
    common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
    if review.decision == "reject":
        rejection = ApprovalRow(
            proposal_id=row.id,
            request_id=request.id,
            decision="rejected",
            approver=approver,
            reason=review.reason,
            proposal_digest=row.digest or "",
        )
        session.add(rejection)
        session.flush()
        row.status, row.detail = Status.REJECTED, review.reason
        audit.append(
            session,
            AuditEvent.REJECTED,
            actor=approver,
            **common,
            data={
                "approval": rejection.id,
                "request": request.id,
                "approver": approver,
                "authenticated_by": answer.authenticated_by,
                "approver_groups": answer.approver_groups,
                "reason": review.reason,
                "source": row.source,
                "proposal_digest": row.digest,
            },
        )
        return None, False
    base, earlier = rights.standing(session, row)
    payload = _approved_payload(session, row, review)
    edits = {k: base.get(k) for k in payload if payload[k] != base.get(k)}
    approval = ApprovalRow(
        proposal_id=row.id,
        request_id=request.id,
        decision="approved",
        approver=approver,
        reason=review.reason,
        proposal_digest=row.digest or "",
        action_payload=payload,
        action_digest=action_digest(row.id, row.tool, payload),
    )
    session.add(approval)
    session.flush()
    approvers = [approver] if edits else [*earlier, approver]  # an edit is a new action: its approvals start again
    types = rights.row_case_types(policy, row, payload)
    four_eyes = policy.needs_four_eyes(types, row.payload, payload)
    keep = policy.logging.store_documents  # the values people corrected are what documents say
    complete = not four_eyes or len({person(name) for name in approvers}) >= 2
    row.status = Status.APPROVED if complete else Status.AWAITING_APPROVAL
    row.detail = "" if complete else f"approved by {approver}; needs a second, different approver (four eyes)"
    audit.append(
        session,
        AuditEvent.APPROVED,
        actor=approver,
        **common,
        data={
            "approval": approval.id,
            "request": request.id,
            "approver": approver,
            "authenticated_by": answer.authenticated_by,
            "approver_groups": answer.approver_groups,
            "source": row.source,
            "proposal_digest": row.digest,
            "action_digest": approval.action_digest,
            "case_types": types,
            "edits": {k: {"proposed": v, "approved": payload[k]} if keep else {} for k, v in edits.items()},
            **({"four_eyes": {"approvers": approvers, "complete": complete}} if four_eyes else {}),
        },
    )
    for field, proposed in edits.items():
        session.add(
            CorrectionRow(
                proposal_id=row.id,
                approval_id=approval.id,
                field=field,
                proposed_value=proposed,
                approved_value=payload[field],
                corrected_by=approver,
            )
        )
        audit.append(
            session,
            AuditEvent.CORRECTED,
            actor=approver,
            **common,
            data={"field": field, **({"proposed": proposed, "approved": payload[field]} if keep else {})},
        )
    return (Decision(proposal_id=row.id, approval_id=approval.id) if complete else None), bool(edits)


def answer_digest(answer: ApprovalAnswer) -> str:
    """What identifies one answer, how its approver was authenticated included: the run is woken
    with the answer the CLI recorded, and the gate tells that echo from a second, different answer."""
    return mac(answer.recorded())


def _channel_of(session: Session, request: ApprovalRequestRow) -> tuple[str, list[str]] | None:
    """How the recorded answer's approver was authenticated, and the groups that vouched, as its
    decisions' audit events say (None when nothing was recorded for this request)."""
    for event in session.execute(
        select(AuditRow)
        .where(
            AuditRow.event.in_([str(AuditEvent.APPROVED), str(AuditEvent.REJECTED)]),
            AuditRow.proposal_id.in_(request.proposal_ids),
        )
        .order_by(AuditRow.seq.desc())
    ).scalars():
        data = event.data if isinstance(event.data, dict) else {}
        if data.get("request") == request.id:
            return str(data.get("authenticated_by", "typed")), list(data.get("approver_groups") or [])
    return None


def _echoes(answer: dict[str, Any], request_id: int) -> bool:
    """Whether ``answer``, as it woke the run, is the one recorded. The run is woken with what the
    form holds, which has no place for how the approver was authenticated or the groups that
    vouched: it is the recorded answer with those of the recorded decisions."""
    try:
        content = AnswerContent.model_validate(answer)
    except ValidationError:
        return False
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        channel = _channel_of(session, request)
        if channel is None:
            return False
        way, groups = channel
        echoed = ApprovalAnswer(**content.model_dump(), authenticated_by=way, approver_groups=groups)
        return answer_digest(echoed) == request.answer_digest


def _open_second_round(session: Session, request: ApprovalRequestRow, rows: list[ProposalRow], run_id: str) -> None:
    """Four-eyes cases one person approved wait for a second, different approver: a request of their
    own, opened in the transaction that recorded the first approval, so no process has to survive to
    open it."""
    waiting = [r for r in sorted(rows, key=lambda r: r.source) if r.status == Status.AWAITING_APPROVAL]
    if not waiting:
        return
    round_ = (request.round or 1) + 1
    existing = set(
        session.execute(
            select(ApprovalRequestRow.pause_key).where(ApprovalRequestRow.flow_run_id == request.flow_run_id)
        ).scalars()
    )
    key = requests.pause_key(request.workflow, 1, request.page, round_)
    while key in existing:  # an edit by a second approver starts yet another round
        round_ += 1
        key = requests.pause_key(request.workflow, 1, request.page, round_)
    digest = requests.batch_digest([(r.id, r.digest) for r in waiting])
    requests.add_request(
        session,
        request.workflow,
        run_id,
        request.flow_run_id,
        key,
        [r.id for r in waiting],
        digest,
        as_utc(request.deadline),
        request.page,
        round_,
    )


def _refuse(
    workflow: str, request_id: int, approver: str, found: list[str], proposal_ids: list[str]
) -> ApprovalRejected:
    with transaction() as session:  # the refusal is kept although the answer is not
        audit.append(
            session,
            AuditEvent.APPROVAL_REFUSED,
            workflow=workflow,
            actor=approver or "unknown",
            data={"request": request_id, "problems": found, "proposals": proposal_ids},
        )
    more = (
        f"; and {len(found) - SHOWN_PROBLEMS} more (every one is in the audit log's approval_refused event)"
        if len(found) > SHOWN_PROBLEMS
        else ""
    )
    return ApprovalRejected("approval refused: " + "; ".join(found[:SHOWN_PROBLEMS]) + more)


def _invalid(exc: ValidationError) -> list[str]:
    return [
        f"the answer is not valid: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:SHOWN_PROBLEMS]
    ]


class Recorded(BaseModel):
    """What recording an accepted answer did: the decisions cleared for the executor, and the case
    types a person corrected (with the run of each), whose consequences are the caller's
    (``learning.decisions``)."""

    workflow: str
    approver: str
    decisions: list[Decision] = Field(default_factory=list)
    corrected: list[tuple[str, str]] = Field(
        default_factory=list, description="(case type, run id) of every corrected case, once each, sorted."
    )


def record(request_id: int, answer: ApprovalAnswer | dict[str, Any]) -> Recorded:
    """Accept a whole answer or none of it: record approvals, rejections and corrections, and
    return what was cleared for the executor and what was corrected. A refused answer is audited
    and raised.

    The answer is validated again here, whatever it passed before: it may have come through the
    Prefect API without the form."""
    try:
        answer = ApprovalAnswer.model_validate(answer if isinstance(answer, dict) else answer.recorded())
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
        run_id = _run_of(session, proposal_ids)
    try:  # read outside the transaction that locks the store (SQLite has one writer)
        policy, file = run_policy(run_id, workflow), load_policy(workflow)
    except (PolicyDenied, PolicyError) as exc:
        raise _refuse(
            workflow, request_id, answer.approver, [f"no decision can be taken now: {exc}"], proposal_ids
        ) from None
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id, with_for_update=True)
        assert request is not None
        found = problems(session, request, answer, Rules(run=policy, file=file))
        workflow, proposal_ids = request.workflow, request.proposal_ids
        if not found:
            rows = _batch_rows(session, request)
            approver = answer.approver
            recorded = [
                (rows[r.proposal_id], *_record_review(session, policy, request, rows[r.proposal_id], r, answer))
                for r in answer.reviews
            ]
            request.status, request.decided_at, request.answer_digest = (
                "decided",
                datetime.now(timezone.utc),
                answer_digest(answer),
            )
            _open_second_round(session, request, list(rows.values()), recorded[0][0].run_id if recorded else "")
            return Recorded(
                workflow=workflow,
                approver=approver,
                decisions=[decision for _, decision, _ in recorded if decision is not None],
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
    that woke the run is either that one, or a second answer, which is refused and audited.

    Whatever arrives here came through Prefect (its UI, or its API without the form): nobody checked
    who sent it, so it is recorded as ``typed`` with no group vouched for, whatever it says of itself."""
    with transaction() as session:
        request = session.get(ApprovalRequestRow, request_id)
        assert request is not None
        status, workflow, ids = request.status, request.workflow, request.proposal_ids
    if status == "pending":
        if answer is None:
            return Received(decided=False)
        try:
            typed = {**answer, "authenticated_by": "typed", "approver_groups": []}
            return Received(decided=True, recorded=record(request_id, typed))
        except ApprovalRejected:
            return Received(decided=False)
    if answer is not None:
        if not _echoes(answer, request_id):
            _refuse(
                workflow,
                request_id,
                str(answer.get("approver") or "unknown"),
                [f"approval request {request_id} was already {status}"],
                ids,
            )
    return Received(decided=True)
