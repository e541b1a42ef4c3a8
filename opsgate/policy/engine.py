"""Routing proposals by policy: escalate, shadow, ask a person, or let the executor act alone.

The workflow reports what it found (missing data, a possible duplicate); the engine adds what the
policy alone decides (out of policy, low confidence, high value) and picks the route. Business
branching lives here and in the policy file, not in flow bodies.
"""

from __future__ import annotations

from opsgate.models import Escalation, EscalationReason, Proposal, Route, Verdict
from opsgate.policy.runtime import Policy, amount_of
from opsgate.policy.schema import Access, ApprovalRule, Autonomy


def _policy_escalations(policy: Policy, proposal: Proposal) -> list[Escalation]:
    found: list[Escalation] = []
    if policy.platform_case(proposal.case_type, proposal.tool):
        return found
    tool = policy.tools.get(proposal.tool or "")
    if tool is None or tool.access is not Access.WRITE:
        access = "not in the policy" if tool is None else f"{tool.access.value}, not write"
        found.append(Escalation(reason=EscalationReason.OUT_OF_POLICY, detail=f"tool {proposal.tool!r} is {access}"))
    else:
        found += _outside_values(tool.values, proposal.payload or {})
    if proposal.case_type not in policy.autonomy:
        found.append(
            Escalation(
                reason=EscalationReason.OUT_OF_POLICY, detail=f"case type {proposal.case_type!r} has no autonomy rule"
            )
        )
    rules = policy.escalation
    if rules.low_confidence and rules.missing_data:
        for field in rules.missing_data.fields:
            score = proposal.confidence.get(field)
            if score is not None and score < rules.low_confidence.below:
                found.append(
                    Escalation(
                        reason=EscalationReason.LOW_CONFIDENCE,
                        field=field,
                        detail=f"confidence {score:.2f} < {rules.low_confidence.below}",
                    )
                )
    if rules.high_value:
        value = amount_of(proposal.payload, rules.high_value.field)
        if value is not None and abs(value) > rules.high_value.above:
            found.append(
                Escalation(
                    reason=EscalationReason.HIGH_VALUE,
                    field=rules.high_value.field,
                    detail=f"{value} is above {rules.high_value.above}",
                )
            )
    return found


_SHOWN = 8  # values named in an escalation: a policy may list dozens of queues


def _outside_values(values: dict[str, list[str]], payload: dict[str, object]) -> list[Escalation]:
    """A field the policy holds to listed values, with another: the agent (or an approver's edit)
    chose a place the policy never named, e.g. a queue that does not exist."""
    return [
        Escalation(
            reason=EscalationReason.OUT_OF_POLICY,
            field=field,
            detail=f"{payload.get(field)!r} is not among the policy's {len(allowed)} values for {field} "
            f"({', '.join(allowed[:_SHOWN])}{', ...' if len(allowed) > _SHOWN else ''})",
        )
        for field, allowed in values.items()
        if payload.get(field) not in allowed
    ]


def route(policy: Policy, proposal: Proposal) -> Verdict:
    """The one place that decides what happens to a proposal."""
    if proposal.error is not None or (proposal.tool is None and not proposal.escalations):
        return Verdict(proposal_id=proposal.id, route=Route.FAIL)
    if proposal.taken_up is not None:  # a person chose these values: the policy checks them, a person approves
        escalations = [*proposal.escalations, *(_policy_escalations(policy, proposal) if proposal.tool else [])]
        if escalations:
            return Verdict(proposal_id=proposal.id, route=Route.ESCALATE, escalations=escalations)
        return Verdict(proposal_id=proposal.id, route=Route.APPROVE)
    if not policy.platform_case(proposal.case_type, proposal.tool) and not policy.released(
        proposal.instruction_version
    ):
        why = f"instruction version {proposal.instruction_version} is not released (go_live): its cases are shadowed until a release is approved"
        return Verdict(proposal_id=proposal.id, route=Route.SHADOW, why=why)
    escalations = list(proposal.escalations)
    if proposal.tool is not None:
        escalations += _policy_escalations(policy, proposal)
    if escalations:
        return Verdict(proposal_id=proposal.id, route=Route.ESCALATE, escalations=escalations)
    if policy.platform_case(proposal.case_type, proposal.tool):  # an undo or a promotion is never autonomous
        return Verdict(proposal_id=proposal.id, route=Route.APPROVE)
    autonomy = policy.autonomy[proposal.case_type]
    if autonomy is Autonomy.SHADOW:
        return Verdict(proposal_id=proposal.id, route=Route.SHADOW)
    if allows_without_approval(policy, proposal.tool or "", proposal.case_type) and not _above_the_earned_limit(
        policy, proposal
    ):
        return Verdict(proposal_id=proposal.id, route=Route.AUTO)
    return Verdict(proposal_id=proposal.id, route=Route.APPROVE)


def _above_the_earned_limit(policy: Policy, proposal: Proposal) -> bool:
    """Autonomy earned for a case type never covers amounts above its rule's `never_above`."""
    rule = policy.earned_autonomy.get(proposal.case_type)
    limit = rule.never_above if rule else None
    if limit is None:
        return False
    value = amount_of(proposal.payload, limit.field)
    return value is None or abs(value) > limit.amount


def allows_without_approval(policy: Policy, tool: str, case_type: str) -> bool:
    """Whether the executor may write with no person's approval: the `auto` path, and only it."""
    spec = policy.tools.get(tool)
    return (
        spec is not None
        and spec.access is Access.WRITE
        and spec.approval is ApprovalRule.BY_AUTONOMY
        and policy.autonomy.get(case_type) is Autonomy.AUTO
    )
