"""How the agents did, from the store: per workflow, case type and instruction version, over a window.

Cases are the proposals created in [since, until); every rate is over those cases, so a figure
never mixes cases of different windows:
- completion rate: cases in a terminal state / cases
- approval rate: approved / (approved + rejected), over the cases a person decided
- correction rate: approved cases with at least one corrected field / approved cases
- escalation rate: escalated cases / cases, and escalated cases per reason
- tool error rate: writes that failed / writes attempted (executed + failed at execution)
- time saved: executed cases x the policy's `manual_minutes` (unknown without it)
- incidents: incidents reported against the cases' executed actions (`opsgate incident report`)
The weekly summary reports these; shadow evaluation and earned autonomy read them too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select

from opsgate.errors import PolicyError
from opsgate.models import TERMINAL, Status
from opsgate.policy.loader import load_policy
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditRow, CorrectionRow, ProposalRow


class AgentMetrics(BaseModel):
    workflow: str
    case_type: str
    instruction_version: str
    cases: int
    completed: int
    executed: int
    approved: int
    rejected: int
    corrected: int
    escalated: int
    escalations_by_reason: dict[str, int] = Field(default_factory=dict)
    tool_errors: int
    incidents: int = 0
    completion_rate: float | None
    approval_rate: float | None
    correction_rate: float | None
    escalation_rate: float | None
    tool_error_rate: float | None
    time_saved_minutes: float | None = Field(
        description="Executed cases times the policy's manual minutes per case; null when the policy sets none."
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _manual_minutes(workflow: str) -> float | None:
    try:
        return load_policy(workflow).manual_minutes
    except PolicyError:  # a workflow whose policy is gone still has a history to report
        return None


def agent_metrics(since: datetime, until: datetime, workflow: str | None = None) -> list[AgentMetrics]:
    """One row per workflow, case type and instruction version with cases in the window."""
    with transaction() as session:
        query = select(
            ProposalRow.id,
            ProposalRow.workflow,
            ProposalRow.case_type,
            ProposalRow.instruction_version,
            ProposalRow.status,
            ProposalRow.escalations,
        ).where(ProposalRow.created_at >= since, ProposalRow.created_at < until)
        if workflow is not None:
            query = query.where(ProposalRow.workflow == workflow)
        cases = session.execute(query).all()
        ids = [c.id for c in cases]
        decisions = (
            {
                p: d
                for p, d in session.execute(
                    select(ApprovalRow.proposal_id, ApprovalRow.decision)
                    .where(ApprovalRow.proposal_id.in_(ids))
                    .order_by(ApprovalRow.id)
                )
            }
            if ids
            else {}
        )
        corrected = (
            set(session.execute(select(CorrectionRow.proposal_id).where(CorrectionRow.proposal_id.in_(ids))).scalars())
            if ids
            else set()
        )
        failures = (
            session.execute(
                select(AuditRow.proposal_id, AuditRow.data).where(
                    AuditRow.event == AuditEvent.FAILED, AuditRow.proposal_id.in_(ids)
                )
            ).all()
            if ids
            else []
        )
        incidents = (
            Counter(
                session.execute(
                    select(AuditRow.proposal_id).where(
                        AuditRow.event == AuditEvent.INCIDENT, AuditRow.proposal_id.in_(ids)
                    )
                ).scalars()
            )
            if ids
            else Counter()
        )
    failed_writes = {proposal_id for proposal_id, data in failures if data.get("stage") == "execute"}
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for case in cases:
        groups[(case.workflow, case.case_type, case.instruction_version)].append(case)
    minutes = {name: _manual_minutes(name) for name in {key[0] for key in groups}}
    found = []
    for (name, case_type, version), members in sorted(groups.items()):
        statuses = Counter(Status(m.status) for m in members)
        approved = sum(1 for m in members if decisions.get(m.id) == "approved")
        rejected = sum(1 for m in members if decisions.get(m.id) == "rejected")
        fixed = sum(1 for m in members if m.id in corrected and decisions.get(m.id) == "approved")
        escalated = statuses[Status.ESCALATED]
        reasons = Counter(e["reason"] for m in members if m.status == Status.ESCALATED for e in m.escalations or [])
        errors = sum(1 for m in members if m.id in failed_writes)
        executed = statuses[Status.EXECUTED]
        completed = sum(count for status, count in statuses.items() if status in TERMINAL)
        found.append(
            AgentMetrics(
                workflow=name,
                case_type=case_type,
                instruction_version=version,
                cases=len(members),
                completed=completed,
                executed=executed,
                approved=approved,
                rejected=rejected,
                corrected=fixed,
                escalated=escalated,
                escalations_by_reason=dict(reasons),
                tool_errors=errors,
                incidents=sum(incidents[m.id] for m in members),
                completion_rate=_rate(completed, len(members)),
                approval_rate=_rate(approved, approved + rejected),
                correction_rate=_rate(fixed, approved),
                escalation_rate=_rate(escalated, len(members)),
                tool_error_rate=_rate(errors, executed + errors),
                time_saved_minutes=None if minutes[name] is None else round(executed * minutes[name], 1),  # type: ignore[operator]
            )
        )
    return found
