"""Who may decide what: the policy's approver groups for every case type a decision answers to, four
eyes, and the rules an edit may not carry a case past.

Who may decide is asked of the case as proposed and as it would be approved (an edit can move it
into a stricter case type), each with the case types it refines. The executor asks ``case_types``
again before it writes, from what the audit log recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.models import Proposal, Route, TakeUp
from opsgate.policy.engine import route
from opsgate.policy.runtime import Policy, same_person
from opsgate.policy.schema import ANY_CASE
from opsgate.store.tables import ApprovalRow, ProposalRow, RunRow


def standing(session: Session, row: ProposalRow) -> tuple[dict[str, Any], list[str]]:
    """The action people are deciding on and who has approved it so far: the proposed action and
    nobody, or, once someone approved, the action they approved and everyone who approved it."""
    approved = (
        session.execute(
            select(ApprovalRow)
            .where(ApprovalRow.proposal_id == row.id, ApprovalRow.decision == "approved")
            .order_by(ApprovalRow.id)
        )
        .scalars()
        .all()
    )
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
    policy: Policy,
    case_type: str,
    tool: str | None,
    payload: dict[str, Any] | None,
    confidence: dict[str, float],
    context: dict[str, Any],
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

    @property
    def verified_only(self) -> bool:
        """Whether an answer is refused unless its approver was authenticated: either policy says
        ``identity: verified`` (the file can only make it stricter)."""
        return "verified" in (self.run.approvals.identity, self.file.approvals.identity)


def deciders(policy: Policy, case_type: str) -> str:
    """The policy's groups that may decide ``case_type``, as a refusal names them."""
    groups = [
        name
        for name, group in policy.approvals.groups.items()
        if ANY_CASE in group.case_types or case_type in group.case_types
    ]
    return ", ".join(groups) or "no group"


def row_case_types(policy: Policy, row: ProposalRow, payload: dict[str, Any] | None) -> list[str]:
    return case_types(policy, row.case_type, row.tool, payload, row.confidence or {}, row.context or {})


def _out_of_route(policy: Policy, row: ProposalRow, payload: dict[str, Any], approved_as: str) -> list[str]:
    """An approved action must be one the policy would have sent to a person had it been proposed so:
    an edit cannot carry a case past a rule that escalates it (a high value) or shadows its type."""
    if approved_as == row.case_type and payload == row.payload:
        return []
    as_approved = Proposal(
        id=row.id,
        workflow=row.workflow,
        source=row.source,
        case_type=approved_as,
        tool=row.tool,
        payload=payload,
        confidence=row.confidence or {},
        context=row.context or {},
        instruction_version=row.instruction_version,
        taken_up=TakeUp(case=row.taken_up_from) if row.taken_up_from else None,
    )
    verdict = route(policy, as_approved)
    if verdict.route in (Route.APPROVE, Route.AUTO):
        return []
    why = (
        "; ".join(e.describe() for e in verdict.escalations) or verdict.why or f"{approved_as} cases are only shadowed"
    )
    return [
        f"the action as approved for {row.source} is a {approved_as} case the policy does not let a person approve here ({why})"
    ]


def problems(
    session: Session,
    rules: Rules,
    row: ProposalRow,
    approver: str,
    payload: dict[str, Any] | None,
    groups: Sequence[str] = (),
) -> list[str]:
    """Who may decide: the approver groups of the run's policy for every case type the decision
    answers to, and those of the file as it is now (someone taken out of a group while the run
    waited decides nothing more), and four eyes (two different people, neither the run's requester,
    approve the same action) when a rule of the run's policy covers any of them or any type they refine.
    ``groups`` are the identity provider's groups the approver's sign-in vouched for."""
    policy = rules.run
    types = row_case_types(policy, row, payload)
    for case_type in types:
        if not policy.may_decide(approver, case_type, groups):
            moved = (
                f" (as approved: {row.source} was proposed as {row.case_type})" if case_type != row.case_type else ""
            )
            return [
                f"{approver} may not decide on {case_type} cases such as {row.source}{moved} (the policy lets {deciders(policy, case_type)} decide)"
            ]
        if not rules.file.may_decide(approver, case_type, groups):
            return [
                f"{approver} may no longer decide on {case_type} cases such as {row.source}: the policy file as it is now does not let them"
            ]
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
