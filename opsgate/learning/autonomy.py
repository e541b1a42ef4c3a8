"""Earned autonomy: a case type's mode as the policy file sets it, changed by evidence.

Promotion `reviewed` → `auto` is a proposal (`autonomy.grant`) that goes through the gate to the
people the policy lets decide `autonomy` cases, with the metrics it rests on as its evidence.
Demotion back to `reviewed` needs nobody: on an incident, a correction in an `auto` case, or tool
errors above the rule's limit, opsgate records it, audits it and tells the policy's channels. The
newest grant in force wins over the file; `opsgate undo` of a promotion revokes it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from opsgate.display import markdown_text
from opsgate.learning.metrics import AgentMetrics, agent_metrics
from opsgate.models import Proposal
from opsgate.notify.channels import Message
from opsgate.notify.delivery import send
from opsgate.policy.loader import load_policy
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import AUTONOMY_CASE, AUTONOMY_TOOL, Autonomy, EarnedAutonomy
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AutonomyGrantRow, ProposalRow
from opsgate.writers.autonomy import AutonomyChange

logger = logging.getLogger(__name__)

OPSGATE = "opsgate-autonomy"


def grants_in_force(workflow: str) -> dict[str, str]:
    """The mode each case type was last given by a grant still in force."""
    with transaction() as session:
        rows = session.execute(
            select(AutonomyGrantRow.case_type, AutonomyGrantRow.mode)
            .where(AutonomyGrantRow.workflow == workflow, AutonomyGrantRow.status == "in_force")
            .order_by(AutonomyGrantRow.id)
        ).all()
    return {case_type: mode for case_type, mode in rows}


def effective_policy(policy: Policy) -> Policy:
    """The policy with its autonomy modes as grants have changed them (case types it still knows)."""
    grants = {
        case: Autonomy(mode) for case, mode in grants_in_force(policy.workflow).items() if case in policy.autonomy
    }
    if not grants:
        return policy
    return policy.model_copy(update={"autonomy": {**policy.autonomy, **grants}})


def _evidence(policy: Policy, case_type: str, rule: EarnedAutonomy, now: datetime) -> AgentMetrics | None:
    """The case type's figures over the rule's window, for the current instruction version (a new
    version earns its autonomy again)."""
    rows = [
        r
        for r in agent_metrics(now - timedelta(days=rule.window_days), now, policy.workflow)
        if r.case_type == case_type and r.instruction_version == policy.instruction_version
    ]
    return rows[0] if rows else None


def _earned(rule: EarnedAutonomy, figures: AgentMetrics) -> str | None:
    """Why the figures earn `auto`, or None."""
    decided = figures.approved + figures.rejected
    if decided < rule.after_cases or figures.incidents:
        return None
    if (figures.approval_rate or 0) < rule.min_approval_rate or (
        figures.correction_rate or 0
    ) > rule.max_correction_rate:
        return None
    if (figures.tool_error_rate or 0) > rule.max_tool_error_rate:
        return None
    return (
        f"{decided} cases decided in {rule.window_days} days: approval {figures.approval_rate:.1%} (at least {rule.min_approval_rate:.0%}), "
        f"correction {figures.correction_rate or 0:.1%} (at most {rule.max_correction_rate:.0%}), tool errors {figures.tool_error_rate or 0:.1%}, no incident"
    )


def promotions(policy: Policy, now: datetime | None = None) -> list[Proposal]:
    """A promotion proposal for each `reviewed` case type whose figures meet its rule."""
    now = now or datetime.now(timezone.utc)
    found = []
    for case_type, rule in policy.earned_autonomy.items():
        if policy.autonomy.get(case_type) is not Autonomy.REVIEWED:
            continue
        figures = _evidence(policy, case_type, rule, now)
        reason = _earned(rule, figures) if figures else None
        if figures is None or reason is None:
            logger.info("%s: %s has not earned auto yet", policy.workflow, case_type)
            continue
        change = AutonomyChange(
            workflow=policy.workflow,
            case_type=case_type,
            mode="auto",
            reason=reason,
            evidence=figures.model_dump(mode="json"),
        )
        found.append(
            Proposal(
                workflow=policy.workflow,
                source=f"autonomy of {case_type}",
                case_type=AUTONOMY_CASE,
                tool=AUTONOMY_TOOL,
                payload=change.model_dump(mode="json"),
                summary=f"promote {case_type} to auto: {reason}",
                instruction_version=policy.instruction_version,
                tools_used=["metrics.read"],
            )
        )
    return found


def demote(workflow: str, case_type: str, reason: str, evidence: dict[str, Any], run_id: str | None = None) -> bool:
    """Put an `auto` case type back to `reviewed` at once; True when it was `auto`."""
    policy = effective_policy(load_policy(workflow))
    if policy.autonomy.get(case_type) is not Autonomy.AUTO:
        return False
    with transaction() as session:
        session.add(
            AutonomyGrantRow(
                workflow=workflow, case_type=case_type, mode=Autonomy.REVIEWED.value, reason=reason, evidence=evidence
            )
        )
        audit.append(
            session,
            AuditEvent.AUTONOMY_DEMOTED,
            workflow=workflow,
            run_id=run_id,
            actor=OPSGATE,
            data={
                "case_type": case_type,
                "from": "auto",
                "to": "reviewed",
                "reason": reason,
                "evidence": evidence,
            },
        )
    logger.warning("%s: %s is back to reviewed: %s", workflow, case_type, reason)
    message = Message(
        event="autonomy.demoted",
        title=f"{workflow}: {case_type} is reviewed again",
        text=f"Every {case_type} case needs a person's approval again: {markdown_text(reason)}",  # the reason may quote an incident's reporter
        fields={"workflow": workflow, "case type": case_type},
        data={"workflow": workflow, "case_type": case_type, "reason": reason},
    )
    send(
        policy,
        policy.approvals.notify,
        message,
        f"{workflow}-demote-{case_type}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}",
        run_id,
    )
    return True


def check_tool_errors(workflow: str, case_type: str, run_id: str | None = None) -> bool:
    """After a failed write: demote an `auto` case type whose tool errors rose above its rule's limit."""
    policy = effective_policy(load_policy(workflow))
    rule = policy.earned_autonomy.get(case_type)
    if rule is None or policy.autonomy.get(case_type) is not Autonomy.AUTO:
        return False
    figures = _evidence(policy, case_type, rule, datetime.now(timezone.utc))
    if figures is None or (figures.tool_error_rate or 0) <= rule.max_tool_error_rate:
        return False
    reason = (
        f"tool errors {figures.tool_error_rate:.1%} in {rule.window_days} days, above {rule.max_tool_error_rate:.0%}"
    )
    return demote(workflow, case_type, reason, figures.model_dump(mode="json"), run_id)


def after_failure(proposal_id: str) -> bool:
    """What a write that failed for good (``executor.record_failure``) means for earned autonomy:
    every path that records such a failure (a run, a recovery) calls this once afterwards."""
    with transaction() as session:
        row = session.get(ProposalRow, proposal_id)
        assert row is not None, f"no proposal {proposal_id}"
        workflow, case_type, run_id = row.workflow, row.case_type, row.run_id
    return check_tool_errors(workflow, case_type, run_id)
