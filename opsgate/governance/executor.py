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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsgate.errors import DuplicateWrite, PolicyDenied
from opsgate.governance.rights import case_types
from opsgate.models import Escalation, EscalationReason, Outcome, Route, Status, action_digest
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


def _newest_intact(events: Iterable[AuditRow], event: AuditEvent, **expected: object) -> AuditRow | None:
    """The newest of these audit events of this kind whose data holds ``expected``, if it is intact
    (its keyed hash fits): what opsgate itself recorded, which nobody without the audit key can
    forge or alter. A newer match that was tampered with hides every older one."""
    for found in sorted((e for e in events if e.event == str(event)), key=lambda e: e.seq, reverse=True):
        data = found.data if isinstance(found.data, dict) else {}
        if all(data.get(key) == value for key, value in expected.items()):
            return found if audit.intact(found) else None
    return None


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
    done: ExecutionRow | None = None  # the write of this action, when it was already made


def _grouped(rows: Iterable[Any], key: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(getattr(row, key), []).append(row)
    return grouped


def _requesters(session: Session, run_ids: set[str]) -> dict[str, str | None]:
    """Who started each run, as its intact `triggered` event says (the runs table can be rewritten)."""
    events = _grouped(
        session.execute(
            select(AuditRow).where(AuditRow.event == str(AuditEvent.TRIGGERED), AuditRow.run_id.in_(run_ids))
        ).scalars(),
        "run_id",
    )
    found: dict[str, str | None] = {}
    for run_id in run_ids:
        triggered = _newest_intact(events.get(run_id, []), AuditEvent.TRIGGERED)
        trigger = str(triggered.data.get("trigger", "")) if triggered is not None else ""
        found[run_id] = trigger.removeprefix("cli:") if trigger.startswith("cli:") else None
    return found


def _one_evidence(
    row: ProposalRow, approvals: list[ApprovalRow], events: list[AuditRow], requester: str | None
) -> Evidence:
    """The evidence of one proposal from its approvals (oldest first) and its audit events."""
    approval = approvals[-1] if approvals else None
    current = action_digest(row.id, row.tool, row.payload) if row.tool else None
    proposed = _newest_intact(events, AuditEvent.PROPOSED, digest=current)
    on_record: list[tuple[ApprovalRow, AuditRow]] = []
    if approval is not None and approval.decision == "approved":
        same_action = [a for a in approvals if a.decision == "approved" and a.action_digest == approval.action_digest]
        on_record = [
            (a, e)
            for a in same_action
            if (
                e := _newest_intact(
                    events, AuditEvent.APPROVED, approval=a.id, approver=a.approver, action_digest=a.action_digest
                )
            )
            is not None
        ]
    return Evidence(
        row=row,
        approval=approval,
        proposed=proposed.data if proposed is not None else None,
        approval_on_record=any(a.id == approval.id for a, _ in on_record) if approval is not None else False,
        approvers=[(a.approver, _vouched(e)) for a, e in on_record],
        approval_groups=next((_vouched(e) for a, e in on_record if approval is not None and a.id == approval.id), ()),
        requester=requester,
    )


def _evidence(session: Session, policy: Policy, proposal_ids: Sequence[str]) -> dict[str, Evidence]:
    """The evidence of each proposal, loaded for many at once (a few queries, not a few per
    proposal): the rows locked for this transaction first, so that two executors of one proposal
    queue behind each other, then its write if made, its approvals and its audit events. A proposal
    unknown to this policy's workflow has evidence with no row."""
    rows = {
        row.id: row
        for row in session.execute(
            select(ProposalRow).where(ProposalRow.id.in_(proposal_ids)).with_for_update()
        ).scalars()
        if row.workflow == policy.workflow
    }
    keys = {idempotency_key(row.workflow, row.id): row.id for row in rows.values()}
    done = {
        keys[found.idempotency_key]: found
        for found in session.execute(select(ExecutionRow).where(ExecutionRow.idempotency_key.in_(keys))).scalars()
    }
    approvals = _grouped(
        session.execute(
            select(ApprovalRow).where(ApprovalRow.proposal_id.in_(rows)).order_by(ApprovalRow.id)
        ).scalars(),
        "proposal_id",
    )
    events = _grouped(
        session.execute(
            select(AuditRow).where(
                AuditRow.proposal_id.in_(rows),
                AuditRow.event.in_([str(AuditEvent.PROPOSED), str(AuditEvent.APPROVED)]),
            )
        ).scalars(),
        "proposal_id",
    )
    requesters = _requesters(session, {row.run_id for pid, row in rows.items() if pid not in done})
    found: dict[str, Evidence] = {}
    for pid in proposal_ids:
        row = rows.get(pid)
        if row is None:
            found[pid] = Evidence(row=None)
        elif pid in done:
            found[pid] = Evidence(row=row, done=done[pid])
        else:
            found[pid] = _one_evidence(row, approvals.get(pid, []), events.get(pid, []), requesters[row.run_id])
    return found


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


class _Refused(Exception):
    """Inside a transaction: this action may not be written, and why (recorded once it is rolled back)."""

    def __init__(self, run_id: str | None, why: str) -> None:
        super().__init__(why)
        self.run_id, self.why = run_id, why


@dataclass
class _Later:
    """What a batch made whole writes at its end, in a few statements rather than a few per action:
    each action's key and undo record, and its case's new status."""

    rows: list[Any] = field(default_factory=list)
    executed: dict[str, str] = field(default_factory=dict)  # proposal id -> where it was written

    def write(self, session: Session) -> None:
        session.add_all(self.rows)
        if self.executed:
            session.execute(
                update(ProposalRow),
                [{"id": pid, "status": Status.EXECUTED, "detail": detail} for pid, detail in self.executed.items()],
            )


def _execute_in(
    session: Session, policy: Policy, evidence: Evidence, attempt: int, later: _Later | None = None
) -> Outcome:
    """Write one proposal's approved action in the caller's transaction, or raise ``_Refused``.
    ``later`` collects what the caller writes at the end of its transaction (``_write``)."""
    row, done = evidence.row, evidence.done
    if row is not None and done is not None:
        return Outcome(
            proposal_id=row.id,
            source=row.source,
            status=Status.EXECUTED,
            detail="already executed; nothing written again",
            target=f"{done.target_table}/{done.target_id}",
        )
    why = refusal(policy, evidence)
    if why is not None:
        raise _Refused(row.run_id if row is not None else None, why)
    assert row is not None
    return _write(session, policy, row, evidence.approval, attempt, later)


def execute_one(policy: Policy, proposal_id: str, attempt: int = 1) -> Outcome:
    """Write one proposal's approved action exactly once, or raise ``PolicyDenied``: load what the
    store holds, then refuse (``refusal``) or write."""
    try:
        with transaction() as session:
            return _execute_in(session, policy, _evidence(session, policy, [proposal_id])[proposal_id], attempt)
    except _Refused as refused:
        raise _refuse(policy, proposal_id, refused.run_id, refused.why) from None


class _WriteFailed(Exception):
    """A write failed in a batch made whole: which action, and its error."""

    def __init__(self, proposal_id: str, error: Exception) -> None:
        super().__init__(f"{proposal_id}: {error}")
        self.proposal_id, self.error = proposal_id, error


Alone = dict[str, Exception | None]  # an action left to go alone, with its write's error in the batch (None: not tried)


def execute_batch(policy: Policy, proposal_ids: Sequence[str]) -> tuple[dict[str, Outcome], Alone]:
    """Write many approved actions in one transaction: each action's idempotency key, write, undo
    record and audit event commit together, with the batch's. One commit (and no savepoints while
    nothing fails) is what makes a large run fast.

    A refused action writes nothing and is left to go alone (``execute_one`` records the refusal).
    Should a write fail, the batch is rolled back and made again without it, each action in a
    savepoint of its own, so that any other that fails is undone alone while the rest commit; each
    failed action is left to go alone with its error, which was its first attempt (the caller
    retries it only if that error may pass, and records its failure). Should the commit itself
    fail, nothing of the batch was written and every action goes alone, untried.

    Returns the outcomes written, by proposal id, and the actions left to go alone, in the order given."""
    proposal_ids = list(dict.fromkeys(proposal_ids))  # one action once, however often it is named
    failed: Alone = {}
    try:
        return _batch(policy, proposal_ids, failed, isolated=False)
    except _WriteFailed as first:  # rolled back whole: again without it, one savepoint per action
        logger.info("a write failed in a batch of %d actions (%s); the others go again", len(proposal_ids), first)
        failed[first.proposal_id] = first.error
    except Exception as exc:  # the commit (or the store under it) failed: nothing of the batch is written
        logger.warning("a batch of %d actions did not commit (%s); each is executed alone", len(proposal_ids), exc)
        return {}, dict.fromkeys(proposal_ids)
    try:
        return _batch(policy, proposal_ids, failed, isolated=True)
    except Exception as exc:
        logger.warning("a batch of %d actions did not commit (%s); each is executed alone", len(proposal_ids), exc)
        return {}, {pid: failed.get(pid) for pid in proposal_ids}


def _batch(
    policy: Policy, proposal_ids: Sequence[str], failed: Alone, *, isolated: bool
) -> tuple[dict[str, Outcome], Alone]:
    """One transaction over the batch, the actions in ``failed`` left out. Whole (not ``isolated``):
    a failed write rolls it all back (``_WriteFailed``), so each action's key, undo record and audit
    event can wait to be written together at the end. ``isolated``: each action in a savepoint and
    written as it goes, a failed one undone alone."""
    written: dict[str, Outcome] = {}
    alone: Alone = {}
    later = None if isolated else _Later()
    with transaction() as session:
        if later is not None:
            audit.hold_head(session)
        evidence = _evidence(session, policy, proposal_ids)
        for proposal_id in proposal_ids:
            if proposal_id in failed:
                alone[proposal_id] = failed[proposal_id]
                continue
            savepoint = session.begin_nested() if isolated else None
            try:
                written[proposal_id] = _execute_in(session, policy, evidence[proposal_id], 1, later)
            except _Refused:  # raised before anything of it was written
                if savepoint is not None:
                    savepoint.rollback()
                alone[proposal_id] = None
            except Exception as exc:
                if savepoint is None:
                    raise _WriteFailed(proposal_id, exc) from exc
                savepoint.rollback()
                alone[proposal_id] = exc
            else:
                if savepoint is not None:
                    savepoint.commit()
        if later is not None:
            later.write(session)
            audit.write_held(session)
    return written, alone


def execute_batches(policy: Policy, proposal_ids: Sequence[str], size: int) -> tuple[dict[str, Outcome], Alone]:
    """``execute_batch`` over consecutive batches of ``size``."""
    written: dict[str, Outcome] = {}
    alone: Alone = {}
    for start in range(0, len(proposal_ids), size):
        done, rest = execute_batch(policy, proposal_ids[start : start + size])
        written.update(done)
        alone.update(rest)
    return written, alone


def _write(
    session: Session,
    policy: Policy,
    row: ProposalRow,
    approval: ApprovalRow | None,
    attempt: int,
    later: _Later | None,
) -> Outcome:
    """The write, its idempotency key, its undo record and its audit event, in the caller's
    transaction: the key, the undo record and the case's new status written now, or kept in ``later``
    for the caller to write before it commits (the writer's own rows are always written now: its
    checks read them)."""
    payload = approval.action_payload if approval is not None else row.payload
    key = idempotency_key(row.workflow, row.id)
    writer = action_writer(row.tool)
    assert writer is not None
    target = writer.apply(session, writer.payload_model.model_validate(payload), row.id)
    rows: list[Any] = [
        ExecutionRow(
            idempotency_key=key,
            proposal_id=row.id,
            tool=writer.tool,
            approval_id=approval.id if approval else None,
            target_table=writer.table,
            target_id=target,
        )
    ]
    if writer.undo_tool:  # an undo is not undone in turn
        rows.append(
            UndoRow(idempotency_key=key, undo_tool=writer.undo_tool, target_table=writer.table, target_id=target)
        )
    detail = f"{writer.table}/{target}"
    if later is None:
        session.add_all(rows)
        row.status, row.detail = Status.EXECUTED, detail
    else:
        later.rows.extend(rows)
        later.executed[row.id] = detail
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
    ``learning.autonomy.after_failure``. A write the system of record already holds from another
    case (``DuplicateWrite``) is no tool's failure: the case is escalated as a possible duplicate."""
    if isinstance(error, DuplicateWrite):
        return _record_duplicate(policy, proposal_id, error)
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


def _record_duplicate(policy: Policy, proposal_id: str, error: DuplicateWrite) -> Outcome:
    """Another case wrote this first (two runs proposed one invoice before either posted): the case
    ends ``escalated`` as a possible duplicate, to the owner, as the policy's check at proposal time
    would have sent it had the other write come first. Nothing was written."""
    escalation = Escalation(reason=EscalationReason.POSSIBLE_DUPLICATE, detail=str(error))
    with transaction() as session:
        row = session.get(ProposalRow, proposal_id)
        assert row is not None
        row.status, row.detail = Status.ESCALATED, escalation.describe()
        row.escalations = [*(row.escalations or []), escalation.model_dump(mode="json")]
        audit.append(
            session,
            AuditEvent.ESCALATED,
            actor=EXECUTOR,
            workflow=row.workflow,
            run_id=row.run_id,
            proposal_id=row.id,
            data={
                "source": row.source,
                "to": f"{policy.owner.name} <{policy.owner.contact}>",
                "reasons": [escalation.model_dump(mode="json")],
            },
        )
        return Outcome(proposal_id=row.id, source=row.source, status=Status.ESCALATED, detail=row.detail)
