"""Shadow evaluation: what the agent would have done in its shadow runs, against what people did.

In shadow mode a case type's proposals are recorded and never reach the gate or the executor while
people keep working as before. A workflow that can read people's record of that work names a
matcher in its spec (``WorkflowSpec.compare_outcomes``) that compares it case by case; this module
loads the shadow cases, adds the comparisons up per case type and instruction version, and renders
the report. It only reads: an evaluation writes nothing, not even an audit row.

A shadow run is a run that shadowed at least one case. Its escalated and failed cases belong to
the evaluation too: leaving a case to a person is the agent's answer as much as a proposal is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from opsgate.errors import ConfigurationError
from opsgate.models import Escalation, Status
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, ProposalRow
from opsgate.workflows import WorkflowSpec, load

SHADOW_RUN_STATUSES = (Status.SHADOWED, Status.ESCALATED, Status.FAILED)
RULES = [
    (
        "cases: every case of a run that shadowed at least one, created in the window; "
        "shadowed cases would have been written, escalated and failed ones were left to people"
    ),
    "a source proposed again by a later shadow run counts once per instruction version, as last proposed",
    "an action agrees when the agent would have written exactly where people wrote; exact when, besides, every compared field agrees and nothing is wrong",
]


class ShadowCase(BaseModel):
    """A case of a shadow run as stored: shadowed (it would have been written), escalated or failed."""

    proposal_id: str
    source: str
    case_type: str
    instruction_version: str
    status: Status
    tool: str | None = None
    payload: dict[str, Any] | None = None
    escalations: list[Escalation] = Field(default_factory=list)
    tools_used: list[str] = Field(
        default_factory=list,
        description="From the audit log's proposed or failed event; none for an escalation without an action.",
    )
    created_at: datetime

    @property
    def would_write(self) -> bool:
        return self.status is Status.SHADOWED


class WrongAction(BaseModel):
    """A write the agent would have made that people did not make that way, and what was at stake."""

    what: str
    cost: Decimal
    unit: str = Field(description="The document's currency, or `records` for records wrongly merged.")


class CaseComparison(BaseModel):
    """One shadow case against what people did, as the workflow's matcher judged it."""

    case: ShadowCase
    outcome: str | None = Field(
        None,
        description="What people did, in the outcomes file's words; null when the file says nothing about the case.",
    )
    people_wrote: bool = False
    fields: dict[str, bool] = Field(
        default_factory=dict, description="Per compared field: whether the agent's value agrees with people's."
    )
    wrong: WrongAction | None = None
    counts: dict[str, int] = Field(
        default_factory=dict, description="The workflow's own tallies (pairs agreed, ...), added up per group."
    )


class OutcomeRow(BaseModel):
    where: str
    detail: str


class OutcomeComparison(BaseModel):
    """What a workflow's matcher hands back: every case against people's outcome, the outcomes no
    case matched, the rows of the file that could not be used, and the rules it matched by."""

    cases: list[CaseComparison]
    unmatched: list[OutcomeRow] = Field(default_factory=list)
    problems: list[OutcomeRow] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)


class FieldAgreement(BaseModel):
    field: str
    compared: int
    agreed: int
    rate: float | None


class Tally(BaseModel):
    cases: int
    compared: int = Field(description="Cases with an outcome in the file.")
    without_outcome: int
    action_agreed: int
    action_agreement_rate: float | None = Field(description="Action agreed / compared: the headline.")
    exact: int
    exact_rate: float | None = Field(description="Action and every compared field agreed, nothing wrong / compared.")
    wrong_actions: int
    wrong_action_rate: float | None = Field(description="Cases with a wrong write / compared.")
    at_stake: dict[str, Decimal] = Field(description="What the wrong writes put at stake, per currency (or `records`).")
    should_have_escalated: int = Field(
        description="The agent would have written where people wrote nothing (they rejected or escalated)."
    )
    missed_actions: int = Field(description="The agent left to people (escalated, failed) a case people then wrote.")
    fields: list[FieldAgreement]
    tools: dict[str, int] = Field(description="Cases per tool the agent used or proposed.")
    counts: dict[str, int]


class GroupReport(Tally):
    case_type: str
    instruction_version: str


class ListedWrongAction(WrongAction):
    proposal_id: str
    source: str
    case_type: str
    instruction_version: str


class EvaluationReport(BaseModel):
    workflow: str
    since: datetime
    until: datetime
    outcomes_file: str
    overall: Tally
    groups: list[GroupReport]
    wrong_actions: list[ListedWrongAction]
    outcomes_without_proposal: list[OutcomeRow]
    problems: list[OutcomeRow] = Field(description="Rows of the outcomes file that were not used, with the reason.")
    rules: list[str]


def shadow_cases(workflow: str, since: datetime, until: datetime) -> list[ShadowCase]:
    """The workflow's shadow cases created in [since, until), oldest first."""
    shadow_runs = (
        select(ProposalRow.run_id)
        .where(ProposalRow.workflow == workflow, ProposalRow.status == Status.SHADOWED)
        .distinct()
    )
    with transaction() as session:
        rows = (
            session.execute(
                select(ProposalRow)
                .where(
                    ProposalRow.workflow == workflow,
                    ProposalRow.created_at >= since,
                    ProposalRow.created_at < until,
                    ProposalRow.status.in_(SHADOW_RUN_STATUSES),
                    ProposalRow.run_id.in_(shadow_runs),
                )
                .order_by(ProposalRow.created_at, ProposalRow.id)
            )
            .scalars()
            .all()
        )
        latest = {
            (row.source, row.instruction_version): row for row in rows
        }  # ordered oldest first: the last one stays
        ids = [row.id for row in latest.values()]
        events = (
            session.execute(
                select(AuditRow.proposal_id, AuditRow.data).where(
                    AuditRow.proposal_id.in_(ids), AuditRow.event.in_([AuditEvent.PROPOSED, AuditEvent.FAILED])
                )
            ).all()
            if ids
            else []
        )
    tools = {proposal_id: data.get("tools_used") or [] for proposal_id, data in events}
    return [
        ShadowCase(
            proposal_id=row.id,
            source=row.source,
            case_type=row.case_type,
            instruction_version=row.instruction_version,
            status=Status(row.status),
            tool=row.tool,
            payload=row.payload,
            escalations=row.escalations or [],
            tools_used=tools.get(row.id, []),
            created_at=row.created_at,
        )
        for row in sorted(latest.values(), key=lambda r: (r.created_at, r.id))
    ]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _tally(comparisons: list[CaseComparison]) -> dict[str, Any]:
    compared = [c for c in comparisons if c.outcome is not None]
    agreed = [c for c in compared if c.case.would_write == c.people_wrote]
    exact = [c for c in agreed if all(c.fields.values()) and c.wrong is None]
    wrong = [c.wrong for c in compared if c.wrong is not None]
    at_stake: dict[str, Decimal] = defaultdict(Decimal)
    for w in wrong:
        at_stake[w.unit] += w.cost
    fields: dict[str, list[bool]] = defaultdict(list)
    for c in compared:
        for name, agrees in c.fields.items():
            fields[name].append(agrees)
    tools = Counter(
        tool
        for c in comparisons
        for tool in dict.fromkeys([*c.case.tools_used, *([c.case.tool] if c.case.tool else [])])
    )
    counts: Counter[str] = Counter()
    for c in comparisons:
        counts.update(c.counts)
    return {
        "cases": len(comparisons),
        "compared": len(compared),
        "without_outcome": len(comparisons) - len(compared),
        "action_agreed": len(agreed),
        "action_agreement_rate": _rate(len(agreed), len(compared)),
        "exact": len(exact),
        "exact_rate": _rate(len(exact), len(compared)),
        "wrong_actions": len(wrong),
        "wrong_action_rate": _rate(len(wrong), len(compared)),
        "at_stake": dict(sorted(at_stake.items())),
        "should_have_escalated": sum(1 for c in compared if c.case.would_write and not c.people_wrote),
        "missed_actions": sum(1 for c in compared if not c.case.would_write and c.people_wrote),
        "fields": [
            FieldAgreement(field=name, compared=len(v), agreed=sum(v), rate=_rate(sum(v), len(v)))
            for name, v in fields.items()
        ],
        "tools": dict(sorted(tools.items())),
        "counts": dict(counts),
    }


def build_report(
    workflow: str, since: datetime, until: datetime, outcomes_file: str, comparison: OutcomeComparison
) -> EvaluationReport:
    """The comparison added up: overall, and per case type and instruction version."""
    groups: dict[tuple[str, str], list[CaseComparison]] = defaultdict(list)
    for c in comparison.cases:
        groups[(c.case.case_type, c.case.instruction_version)].append(c)
    wrong = [
        ListedWrongAction(
            **c.wrong.model_dump(),
            proposal_id=c.case.proposal_id,
            source=c.case.source,
            case_type=c.case.case_type,
            instruction_version=c.case.instruction_version,
        )
        for key in sorted(groups)
        for c in groups[key]
        if c.wrong is not None
    ]
    return EvaluationReport(
        workflow=workflow,
        since=since,
        until=until,
        outcomes_file=outcomes_file,
        overall=Tally(**_tally(comparison.cases)),
        groups=[
            GroupReport(case_type=case_type, instruction_version=version, **_tally(groups[(case_type, version)]))
            for case_type, version in sorted(groups)
        ],
        wrong_actions=wrong,
        outcomes_without_proposal=comparison.unmatched,
        problems=comparison.problems,
        rules=[*RULES, *comparison.rules],
    )


def evaluate(spec: WorkflowSpec, outcomes: Path, since: datetime, until: datetime) -> EvaluationReport:
    """Compare the workflow's shadow cases in [since, until) with the outcomes file; writes nothing."""
    if spec.compare_outcomes is None:
        raise ConfigurationError(
            f"workflow {spec.name} has no shadow evaluation: there is no record of what people did to compare its proposals with"
        )
    comparison = load(spec.compare_outcomes)(outcomes, shadow_cases(spec.name, since, until))
    return build_report(spec.name, since, until, outcomes.name, comparison)
