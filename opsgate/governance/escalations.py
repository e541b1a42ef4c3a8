"""A person's answer to an escalated case.

An escalation ends its case with nothing done and the owner told. Someone then deals with it, and
what they decide is worth keeping:

- **taken up**: the case is proposed again with the values the person chose (a request that fit no
  queue, routed to one) and goes through the policy's checks and the gate like any other write,
  never on its own (``policy.engine.route``); the claim is made in the transaction that records the
  new case (``claim``), so a case cannot be taken up twice, nor taken up and closed;
- **closed**: dealt with elsewhere (a phone call, another system);
- **not ours**: nothing this workflow does fits it (another team's mail, spam). A workflow may learn
  from it: request triage learns such requests as routed nowhere.

Taking up needs a run that proposes the new case and waits at the gate; the person who asks for it
is recorded first, where they were proven (``ask_take_up``: the review screen's sign-in, the CLI's
typed name), with an audit event of all the run will take from the request. The take-up flow is
given only the request's id: who asked is never a parameter someone with the Prefect API could
fill in, a request changed after it was asked for no longer matches its event and is refused, and
one flow run uses a request, once (``use_take_up``).

One answer per case, whoever gives it: the answers table's primary key refuses a second, and every
answer queues on the audit head before it reads the case, so two at once never deadlock. A case
taken up whose new case then did nothing (it expired at the gate, failed, or its approver rejected
the person's values) is open again: taking it up answered nothing, and a decision must not be lost.

Closing is a decision about the case with nothing for an approver to look at after it, so it is
held to what approving it would be: the person must be one the policy file lets decide the case's
type, and proven (a password, a verified sign-in) where the policy says ``identity: verified``.
Otherwise anyone could make a case disappear from the list, or teach a workflow that its own
work is not its business.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from opsgate.errors import AuditIntegrityError, InputError
from opsgate.governance.requests import proposal_of
from opsgate.governance.rights import deciders
from opsgate.models import Authentication, Proposal, Status, TakeUp, TakeUpField
from opsgate.policy.loader import load_policy
from opsgate.policy.runtime import Policy
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, EscalationAnswerRow, ProposalRow, TakeUpRequestRow
from opsgate.workflows import by_name, load

NOT_DONE = (Status.EXPIRED, Status.FAILED, Status.REJECTED)  # a taken-up case that ended so did nothing
TAKEN_UP_VERSION = "taken-up"
"""The instruction version of a taken-up case: a person chose its values, so it never counts as the
agent's own work (metrics and earned autonomy are per version) and needs no release."""


class Answer(StrEnum):
    TAKEN_UP = "taken_up"
    CLOSED = "closed"
    NOT_OURS = "not_ours"


@dataclass(frozen=True)
class OpenEscalation:
    proposal_id: str
    workflow: str
    source: str
    detail: str
    escalated_at: datetime
    case_type: str
    asked_by: str | None = None  # who asked to take it up since its last answer: their run has not proposed it yet
    asked_run: str | None = None  # the flow run given that request; None: no run was started for it


def _open() -> ColumnElement[bool]:
    """Escalated and not answered yet, or answered by a taking up that did nothing."""
    taken = aliased(ProposalRow)
    undecided = (
        select(EscalationAnswerRow.proposal_id)
        .join(taken, taken.id == EscalationAnswerRow.taken_up_as)
        .where(taken.status.in_(NOT_DONE))
    )
    answered = select(EscalationAnswerRow.proposal_id).where(EscalationAnswerRow.proposal_id.not_in(undecided))
    return and_(ProposalRow.status == Status.ESCALATED, ProposalRow.id.not_in(answered))


def open_escalations(workflow: str | None = None, limit: int = 500) -> list[OpenEscalation]:
    """Escalated cases nobody has answered yet (or whose taking up did nothing), newest first."""
    return _open_cases(true() if workflow is None else ProposalRow.workflow == workflow, limit)


def _open_cases(which: ColumnElement[bool], limit: int) -> list[OpenEscalation]:
    query = (
        select(ProposalRow).where(_open(), which).order_by(ProposalRow.created_at.desc(), ProposalRow.id).limit(limit)
    )
    with transaction() as session:
        rows = list(session.execute(query).scalars())
        asked = session.execute(  # asked for since the case's last answer (a taking up that did nothing)
            select(TakeUpRequestRow.proposal_id, TakeUpRequestRow.requested_by, TakeUpRequestRow.run_id)
            .outerjoin(EscalationAnswerRow, EscalationAnswerRow.proposal_id == TakeUpRequestRow.proposal_id)
            .where(
                TakeUpRequestRow.proposal_id.in_([r.id for r in rows]),
                or_(
                    EscalationAnswerRow.answered_at.is_(None),
                    TakeUpRequestRow.requested_at > EscalationAnswerRow.answered_at,
                ),
            )
            .order_by(TakeUpRequestRow.requested_at)
        )
        by = {case: (who, run) for case, who, run in asked.tuples()}  # the newest request per case wins
        return [
            OpenEscalation(
                r.id, r.workflow, r.source, r.detail or "", r.created_at, r.case_type, *by.get(r.id, (None, None))
            )
            for r in rows
        ]


def closable_by(person: str, groups: Sequence[str] = (), limit: int = 500) -> list[OpenEscalation]:
    """The open escalations ``person`` may close, newest first: those whose case type the
    workflow's policy file lets them decide (``groups``: what a verified sign-in vouched for).
    The rights are settled per workflow and case type before the cases are read, so ``limit``
    counts the person's own cases, never ones they would not be shown."""
    with transaction() as session:
        kinds = session.execute(select(ProposalRow.workflow, ProposalRow.case_type).where(_open()).distinct()).all()
    policies = {workflow: load_policy(workflow) for workflow in {w for w, _ in kinds}}
    theirs = [(w, t) for w, t in kinds if policies[w].may_decide(person, t, groups)]
    if not theirs:
        return []
    return _open_cases(or_(*(and_(ProposalRow.workflow == w, ProposalRow.case_type == t) for w, t in theirs)), limit)


def case_named(prefix: str) -> tuple[str, str]:
    """The id and workflow of the escalated case whose id is, or starts with, ``prefix`` (lists
    show eight characters)."""
    if not prefix.strip():
        raise InputError("name the escalated case: its id, or the start of it `opsgate escalations list` shows")
    query = select(ProposalRow.id, ProposalRow.workflow).where(
        ProposalRow.status == Status.ESCALATED, ProposalRow.id.startswith(prefix)
    )
    with transaction() as session:
        found = [(str(id_), str(workflow)) for id_, workflow in session.execute(query.limit(2))]
    if len(found) != 1:
        problem = "no escalated case" if not found else "more than one escalated case"
        raise InputError(f"{problem} starts with {prefix!r}; `opsgate escalations list` shows the open ones")
    return found[0]


def _unanswered(
    session: Session, proposal_id: str, workflow: str | None = None, answering: bool = False
) -> ProposalRow:
    """The escalated case, or why no answer can be given to it (an ``InputError``). ``answering``:
    the caller records an answer now, so an earlier taking up that did nothing gives way
    (its audit event stays; the new answer's event follows it)."""
    row = session.get(ProposalRow, proposal_id)
    if row is None or (workflow is not None and row.workflow != workflow):
        raise InputError(f"no escalated case {proposal_id}; `opsgate escalations list` shows the open ones")
    if row.status != Status.ESCALATED:
        raise InputError(f"case {proposal_id} ({row.source}) is {row.status}, not escalated: nothing to answer")
    earlier = session.get(EscalationAnswerRow, proposal_id)
    if earlier is None:
        return row
    taken = session.get(ProposalRow, earlier.taken_up_as) if earlier.taken_up_as else None
    if taken is None or taken.status not in NOT_DONE:
        raise InputError(
            f"case {proposal_id} ({row.source}) was already answered: {earlier.answer} by {earlier.answered_by}"
        )
    if answering:
        session.delete(earlier)
        session.flush()
    return row


def _named(by: str) -> str:
    if not by.strip():
        raise InputError("an answer to an escalation needs the name of who gives it (--as)")
    return by.strip()


def close(
    proposal_id: str,
    by: str,
    reason: str,
    not_ours: bool = False,
    authenticated_by: Authentication = "typed",
    groups: Sequence[str] = (),
) -> Answer:
    """Close an escalated case: dealt with elsewhere, or (``not_ours``) nothing of the workflow's
    fits it. Nothing is written but the answer and its audit event. ``authenticated_by``: how the
    channel it came through proved ``by`` (the CLI's password prompt, the review screen's sign-in),
    and ``groups`` the identity provider's groups that sign-in vouched for."""
    by = _named(by)
    if not reason.strip():
        raise InputError("closing an escalated case needs a reason (--reason)")
    answer = Answer.NOT_OURS if not_ours else Answer.CLOSED
    _close(proposal_id, answer, by, reason, authenticated_by, groups)
    return answer


def verified_required(workflow: str) -> bool:
    """Whether closing this workflow's cases needs a proven person (``identity: verified``)."""
    return _verified(load_policy(workflow))


def _verified(policy: Policy) -> bool:
    return policy.approvals.identity == "verified"


def _may_close(
    row: ProposalRow, policy: Policy, by: str, authenticated_by: Authentication, groups: Sequence[str]
) -> None:
    """Refuse a person the policy file, as it is now, would not let decide the case."""
    if not policy.may_decide(by, row.case_type, groups):
        raise InputError(
            f"{by} may not close {row.case_type} cases such as {row.source} "
            f"(the policy lets {deciders(policy, row.case_type)} decide them)"
        )
    if authenticated_by == "typed" and _verified(policy):
        raise InputError(
            f"{row.workflow}'s policy requires a verified person, and {by}'s name was only typed: "
            "close it with the account's password (`opsgate escalations close` asks for it)"
        )


def _close(
    proposal_id: str, answer: Answer, by: str, reason: str, authenticated_by: Authentication, groups: Sequence[str]
) -> None:
    with transaction() as session:
        found = session.get(ProposalRow, proposal_id)
        workflow = found.workflow if found is not None else None
    # The policy file is read before the audit head is held: every writer of the store waits on that lock.
    policy = load_policy(workflow) if workflow is not None else None
    with transaction() as session:
        # Answers queue on the audit head before reading the case, as a take-up's claim does
        # (``runs.check_policy``): one that set aside an undecided take-up first could otherwise
        # hold that row while waiting for the head, and the claim holding the head wait for the row.
        audit.hold_head(session)
        row = _unanswered(session, proposal_id, workflow, answering=True)
        assert policy is not None, "a case found under the lock was found before it: cases are never deleted"
        _may_close(row, policy, by, authenticated_by, groups)
        session.add(
            EscalationAnswerRow(proposal_id=row.id, workflow=row.workflow, answer=answer, answered_by=by, reason=reason)
        )
        audit.append(
            session,
            AuditEvent.CLOSED,
            actor=by,
            workflow=row.workflow,
            run_id=row.run_id,
            proposal_id=row.id,
            data={"source": row.source, "answer": answer, "reason": reason, "authenticated_by": authenticated_by},
        )
        audit.write_held(session)


def escalated_case(proposal_id: str) -> Proposal:
    """The case as it was escalated (what a workflow's ``take_up`` hook is given), or why it cannot
    be taken up."""
    with transaction() as session:
        return proposal_of(_unanswered(session, proposal_id))


def _same_action(case: Proposal, fields: dict[str, str], policy: Policy) -> Proposal:
    """A workflow without a ``take_up`` hook: the action it proposed, with the person's values."""
    if case.tool is None or case.payload is None:
        raise InputError(
            f"{case.workflow} proposed no action for {case.source} and cannot make one from a person's values: "
            "deal with it outside opsgate and `opsgate escalations close` it"
        )
    unknown = sorted(set(fields) - set(case.payload))
    if unknown:
        raise InputError(
            f"{case.tool} has no field {', '.join(unknown)}; its fields: {', '.join(sorted(case.payload))}"
        )
    return Proposal(
        workflow=case.workflow,
        source=case.source,
        case_type=case.case_type,
        tool=case.tool,
        payload={**case.payload, **fields},
        context=case.context,
        inputs=case.inputs,
        instruction_version=TAKEN_UP_VERSION,
    )


@dataclass(frozen=True)
class TakeUpAsked:
    """A person's request to take a case up, as recorded: what the take-up run proposes from."""

    id: str
    case: str
    workflow: str
    fields: dict[str, str]
    by: str
    authenticated_by: Authentication


def take_up_form(proposal_id: str) -> tuple[Proposal, list[TakeUpField]]:
    """The escalated case and the values a person may choose to take it up, for a form: the
    workflow's ``take_up_form`` hook where it has one (a triage request: its queue among the
    policy's), else the plain values of the action first proposed. None: it can only be closed."""
    case = escalated_case(proposal_id)
    spec = by_name(case.workflow)
    if spec.take_up_form:
        return case, load(spec.take_up_form)(case, load_policy(case.workflow))
    if case.tool is None or case.payload is None:
        return case, []
    plain = (str, int, float, type(None))
    return case, [
        TakeUpField(name=name, value="" if value is None else str(value))
        for name, value in case.payload.items()
        if isinstance(value, plain) and not isinstance(value, bool)
    ]


def answerable_by(case: Proposal, person: str, groups: Sequence[str] = ()) -> None:
    """Refuse a person the workflow's policy file does not let decide the case's type: the review
    screen shows a case, and takes it up, only for those it lists the case for (``closable_by``)."""
    policy = load_policy(case.workflow)
    if not policy.may_decide(person, case.case_type, groups):
        raise InputError(
            f"{person} may not answer {case.case_type} cases such as {case.source} "
            f"(the policy lets {deciders(policy, case.case_type)} decide them)"
        )


def ask_take_up(
    proposal_id: str, fields: dict[str, str], by: str, authenticated_by: Authentication = "typed"
) -> TakeUpAsked:
    """Record that ``by`` asks to take the case up with ``fields``, proven as ``authenticated_by``
    says, with its audit event; the take-up run is then started with the request's id. The values
    are checked first (``take_up``), so a refused request records nothing and starts no run."""
    by = _named(by)
    case = escalated_case(proposal_id)
    take_up(case.id, fields, by, load_policy(case.workflow))  # a clear error before anything is recorded
    with transaction() as session:
        row = TakeUpRequestRow(
            id=str(uuid.uuid4()),
            proposal_id=case.id,
            workflow=case.workflow,
            fields=dict(fields),
            requested_by=by,
            authenticated_by=authenticated_by,
        )
        session.add(row)
        audit.append(
            session,
            AuditEvent.TAKE_UP_ASKED,
            actor=by,
            workflow=case.workflow,
            run_id=None,
            proposal_id=case.id,
            data=audit.take_up_asked(row),
        )
        return _asked(row)


def _asked(row: TakeUpRequestRow) -> TakeUpAsked:
    return TakeUpAsked(
        row.id,
        row.proposal_id,
        row.workflow,
        {str(k): str(v) for k, v in row.fields.items()},
        row.requested_by,
        row.authenticated_by,  # type: ignore[arg-type]  # written from an Authentication only
    )


def use_take_up(request_id: str, flow_run_id: str) -> TakeUpAsked:
    """The take-up request for the flow run ``flow_run_id``, marked as that run's: a second run
    given the same request is refused, while the same run started again after the gate suspended
    it gets it back. Whoever starts the run marks it as soon as Prefect has made it, before a
    worker takes it up, so the open list tells a request whose run waits for a worker from one
    no run was started for, and a run someone else starts with its id is refused. Refused too:
    a request whose row no longer matches its audit event (someone changed who asked, or the
    values, in the store), or one whose event is not opsgate's."""
    with transaction() as session:
        taken = session.execute(
            update(TakeUpRequestRow)
            .where(
                TakeUpRequestRow.id == request_id,
                or_(TakeUpRequestRow.run_id.is_(None), TakeUpRequestRow.run_id == flow_run_id),
            )
            .values(run_id=flow_run_id)
        )
        row = session.get(TakeUpRequestRow, request_id)
        if row is None:
            raise InputError(f"no take-up request {request_id}: ask for one with `opsgate escalations take`")
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise InputError(
                f"take-up request {request_id} was used by flow run {row.run_id}: a request is proposed once"
            )
        events = session.execute(
            select(AuditRow).where(AuditRow.event == AuditEvent.TAKE_UP_ASKED, AuditRow.proposal_id == row.proposal_id)
        ).scalars()
        recorded = [e for e in events if isinstance(e.data, dict) and e.data.get("request") == row.id]
        if len(recorded) != 1 or not audit.intact(recorded[0]) or recorded[0].data != audit.take_up_asked(row):
            raise AuditIntegrityError(
                f"take-up request {request_id} is not what its audit event recorded: the store was changed; nothing is proposed"
            )
        return _asked(row)


def take_up(
    proposal_id: str, fields: dict[str, str], by: str, policy: Policy, authenticated_by: Authentication = "typed"
) -> Proposal:
    """The new case for an escalated one, with the values ``by`` chose: made by the workflow's
    ``take_up`` hook where it has one (a triage request with no queue gets its whole routing),
    else the action first proposed with those values. It is claimed when the policy checks it."""
    by = _named(by)
    case = escalated_case(proposal_id)
    spec = by_name(case.workflow)
    made = load(spec.take_up)(case, fields, policy) if spec.take_up else _same_action(case, fields, policy)
    return made.model_copy(
        update={
            "workflow": case.workflow,
            "source": case.source,
            "instruction_version": TAKEN_UP_VERSION,
            "confidence": {},
            "escalations": [],
            "summary": f"taken up by {by}: {made.summary or case.summary}"[:300],
            "taken_up": TakeUp(case=case.id, by=by, authenticated_by=authenticated_by),
        }
    )


def claim(session: Session, workflow: str, run_id: str, proposal: Proposal) -> str | None:
    """Record that ``proposal``, of run ``run_id``, takes its escalated case up, in the transaction
    that records the new case (the policy check's, which holds the audit head): None, or why it may
    not (then the new case fails, and the escalated one stays open). The only way a proposal is
    ever taken up."""
    assert proposal.taken_up is not None
    try:
        row = _unanswered(session, proposal.taken_up.case, workflow, answering=True)
    except InputError as exc:
        return str(exc)
    if row.source != proposal.source:
        return f"case {row.id} is {row.source}, not {proposal.source}"
    session.add(
        EscalationAnswerRow(
            proposal_id=row.id,
            workflow=row.workflow,
            answer=Answer.TAKEN_UP,
            answered_by=proposal.taken_up.by,
            taken_up_as=proposal.id,
        )
    )
    audit.append(
        session,
        AuditEvent.TAKEN_UP,
        actor=proposal.taken_up.by,
        workflow=row.workflow,
        run_id=row.run_id,
        proposal_id=row.id,
        data={
            "source": row.source,
            "as": proposal.id,
            "run": run_id,
            "authenticated_by": proposal.taken_up.authenticated_by,
        },
    )
    return None


def not_ours(workflow: str) -> list[dict[str, Any]]:
    """What each case people closed as not ours was proposed from, oldest first: for a workflow
    to learn what is not its business."""
    query = (
        select(ProposalRow.inputs)
        .join(EscalationAnswerRow, EscalationAnswerRow.proposal_id == ProposalRow.id)
        .where(EscalationAnswerRow.workflow == workflow, EscalationAnswerRow.answer == Answer.NOT_OURS)
        .order_by(EscalationAnswerRow.answered_at, ProposalRow.id)
    )
    with transaction() as session:
        return [inputs or {} for inputs in session.execute(query).scalars()]
