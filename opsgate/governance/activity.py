"""What happened under governance, read back as plain data: the actions proposed, and what people
and the executor did in a window of time.

Workflows read here instead of the store: a matcher that must not propose again what people
rejected asks for the actions proposed with a status, and a report of the week asks what was
proposed, decided, corrected and audited in it. Every window is [start, end) in UTC, like every
moment in the store. Nothing here writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditRow, CorrectionRow, EscalationAnswerRow, ProposalRow


@dataclass(frozen=True)
class ProposedAction:
    """One proposal's action as it was proposed (before any approver's edit)."""

    proposal_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Activity:
    """What happened in a window: proposals created (by workflow and tool), people's decisions (by
    decision: approved, rejected), the fields they corrected, audit events (by event), the
    reasons cases were escalated for (one per reason an escalation named) and people's answers to
    escalated cases (by answer: taken_up, closed, not_ours)."""

    start: datetime
    end: datetime
    proposals: dict[tuple[str, str | None], int]
    decisions: dict[str, int]
    corrections: int
    events: dict[str, int]
    escalation_reasons: dict[str, int]
    escalation_answers: dict[str, int]


def proposed_actions(
    tool: str, statuses: Iterable[str], *, workflow: str | None = None, run_id: str | None = None
) -> list[ProposedAction]:
    """The actions proposed with ``tool`` whose proposals now have one of ``statuses``, of one
    workflow or one run (or both)."""
    query = select(ProposalRow.id, ProposalRow.payload).where(
        ProposalRow.tool == tool, ProposalRow.status.in_([str(s) for s in statuses])
    )
    if workflow is not None:
        query = query.where(ProposalRow.workflow == workflow)
    if run_id is not None:
        query = query.where(ProposalRow.run_id == run_id)
    with transaction() as session:
        return [
            ProposedAction(proposal_id, payload)
            for proposal_id, payload in session.execute(query)
            if payload is not None
        ]


def activity_in_window(start: datetime, end: datetime) -> Activity:
    """What was proposed, decided, corrected and audited in [start, end); the bounds are UTC moments."""
    with transaction() as session:
        proposals = session.execute(
            select(ProposalRow.workflow, ProposalRow.tool, func.count())
            .where(ProposalRow.created_at >= start, ProposalRow.created_at < end)
            .group_by(ProposalRow.workflow, ProposalRow.tool)
        ).all()
        decisions = session.execute(
            select(ApprovalRow.decision, func.count())
            .where(ApprovalRow.decided_at >= start, ApprovalRow.decided_at < end)
            .group_by(ApprovalRow.decision)
        ).all()
        corrections = session.execute(
            select(func.count())
            .select_from(CorrectionRow)
            .where(CorrectionRow.created_at >= start, CorrectionRow.created_at < end)
        ).scalar_one()
        in_window = (AuditRow.at >= start, AuditRow.at < end)
        events = session.execute(select(AuditRow.event, func.count()).where(*in_window).group_by(AuditRow.event)).all()
        answers = session.execute(
            select(EscalationAnswerRow.answer, func.count())
            .where(EscalationAnswerRow.answered_at >= start, EscalationAnswerRow.answered_at < end)
            .group_by(EscalationAnswerRow.answer)
        ).all()
        escalated = (
            session.execute(select(AuditRow.data).where(AuditRow.event == AuditEvent.ESCALATED, *in_window))
            .scalars()
            .all()
        )
    return Activity(
        start=start,
        end=end,
        proposals={(workflow, tool): count for workflow, tool, count in proposals},
        decisions={decision: count for decision, count in decisions},
        corrections=corrections,
        events={event: count for event, count in events},
        escalation_reasons=dict(Counter(r["reason"] for data in escalated for r in data.get("reasons", []))),
        escalation_answers={answer: count for answer, count in answers},
    )
