"""Replay: a new instruction version on the inputs of past cases, before it goes live.

A replay re-reads the inputs of the workflow's decided cases and proposes again with the version
named, then compares each new proposal with how the original case ended: the action people
approved (after their corrections), or their rejection, or the original escalation or failure.
It writes nothing: the new proposals are routed in memory only, by the current policy or by a
candidate policy file that defines the version (new thresholds, rules or escalations), so no
proposal row, approval request, execution or audit row comes of it.

The platform loads the cases and judges; the workflow's hook (``WorkflowSpec.replay``) only knows
how to read its past inputs again (from what each case stored of them, ``PastCase.inputs``), and
says which it can no longer read as they were.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from opsgate.errors import ConfigurationError
from opsgate.learning.evaluation import FieldAgreement
from opsgate.models import Proposal, Route, Status
from opsgate.policy.engine import route
from opsgate.policy.loader import load_policy, load_policy_file
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import PLATFORM_CASES
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, ProposalRow
from opsgate.workflows import WorkflowSpec, load

DECIDED = (Status.EXECUTED, Status.APPROVED, Status.REJECTED, Status.ESCALATED, Status.FAILED)
PEOPLE_WROTE = (Status.EXECUTED, Status.APPROVED)
PEOPLE_DECIDED = (*PEOPLE_WROTE, Status.REJECTED)
RULES = [
    "cases: the newest decided case (executed, approved, rejected, escalated, failed) of each source created in the window, a person's decision "
    "before a later escalation or failure (a document read again is escalated as a duplicate of its own posting); "
    "open, expired and shadowed cases have no decision to compare with, and undo and autonomy cases are the platform's own",
    "the new proposals are routed in memory by the current policy, or the candidate policy given: a case would write unless the policy escalates it, "
    "it fails, or the new version proposes no action for it",
    "agreement: every field of every approved action (as approved, after corrections) against the new proposal's; "
    "a new proposal that escalates, fails or proposes nothing disagrees on all of them",
    "ready: field agreement at least the minimum, and no write where people rejected; no approved action to compare with counts as 0% agreement",
]


class PastCase(BaseModel):
    """A decided case as it ended: what the agent proposed, and what people made of it."""

    proposal_id: str
    run_id: str
    source: str
    case_type: str
    instruction_version: str
    status: Status
    tool: str | None = None
    payload: dict[str, Any] | None = Field(None, description="The action as the agent proposed it.")
    final_action: dict[str, Any] | None = Field(
        None,
        description=(
            "The action written or approved: the latest approval's, after people's "
            "corrections; the proposal's when auto. Null when nothing was approved."
        ),
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="What the case was proposed from, as stored with it (empty for cases stored before inputs were).",
    )
    created_at: datetime

    @property
    def people_wrote(self) -> bool:
        return self.status in PEOPLE_WROTE


class Unavailable(BaseModel):
    """A past input the workflow can no longer read as it was, and why."""

    source: str
    reason: str


class ChangedField(BaseModel):
    source: str
    field: str
    final: Any = Field(description="The value as approved.")
    new: Any = Field(description="The value the new version proposes.")


class ReplayedCase(BaseModel):
    """One case where the new version ends differently from the original, in a list of the report."""

    source: str
    original: Status
    new: Literal["write", "escalate", "fail", "none"]
    detail: str = ""


class ReplayReport(BaseModel):
    workflow: str
    version: str = Field(description="The instruction version replayed.")
    policy: str = Field(
        description="The policy the new proposals were routed by: the current file's version, or the candidate file's path and version."
    )
    original_versions: dict[str, int] = Field(
        description="Cases per instruction version that originally proposed them."
    )
    new_versions: dict[str, int] = Field(
        description="Replayed cases per version the new proposals carry (an e-invoice, say, is read without instructions)."
    )
    since: datetime
    until: datetime
    cases: int = Field(description="Past cases found in the window.")
    replayed: int
    unavailable: list[Unavailable] = Field(description="Inputs no longer available, with the reason: not replayed.")
    approved_actions: int = Field(
        description="Replayed cases that people approved: what field agreement is measured on."
    )
    actions_agreed: int = Field(description="Approved actions the new version proposes exactly.")
    fields_compared: int
    fields_agreed: int
    agreement: float | None = Field(description="Fields agreed / compared.")
    fields: list[FieldAgreement]
    changed: list[ChangedField] = Field(
        description="Fields where the new version writes another value than people approved."
    )
    wrong: list[ReplayedCase] = Field(description="The new version would write where people rejected.")
    missed: list[ReplayedCase] = Field(description="The new version escalates or proposes nothing where people wrote.")
    new_failures: list[ReplayedCase] = Field(description="The new version fails where the original did not.")
    now_writes: list[ReplayedCase] = Field(
        description="The new version would write where the original escalated or failed; what people then did is not in the store."
    )
    min_agreement: float
    ready: bool
    verdict: str
    rules: list[str]


def past_cases(workflow: str, since: datetime, until: datetime) -> list[PastCase]:
    """The newest decided case of each source created in [since, until), oldest first; a person's
    decision outranks a later escalation or failure of the same source."""
    with transaction() as session:
        rows = (
            session.execute(
                select(ProposalRow)
                .where(
                    ProposalRow.workflow == workflow,
                    ProposalRow.created_at >= since,
                    ProposalRow.created_at < until,
                    ProposalRow.status.in_(DECIDED),
                    ProposalRow.case_type.not_in(PLATFORM_CASES),
                )
                .order_by(ProposalRow.created_at, ProposalRow.id)
            )
            .scalars()
            .all()
        )
        latest: dict[str, ProposalRow] = {}
        for row in rows:  # oldest first: the newest stays, unless it would hide what people decided
            if (
                row.source not in latest
                or row.status in PEOPLE_DECIDED
                or latest[row.source].status not in PEOPLE_DECIDED
            ):
                latest[row.source] = row
        ids = [row.id for row in latest.values()]
        approved = (
            session.execute(
                select(ApprovalRow.proposal_id, ApprovalRow.action_payload)
                .where(ApprovalRow.proposal_id.in_(ids), ApprovalRow.decision == "approved")
                .order_by(ApprovalRow.id)
            ).all()
            if ids
            else []
        )
    final = dict(approved)  # ordered by id: the latest approval stays
    return [
        PastCase(
            proposal_id=row.id,
            run_id=row.run_id,
            source=row.source,
            case_type=row.case_type,
            instruction_version=row.instruction_version,
            status=Status(row.status),
            tool=row.tool,
            payload=row.payload,
            final_action=final.get(row.id, row.payload) if row.status in PEOPLE_WROTE else None,
            inputs=row.inputs or {},
            created_at=row.created_at,
        )
        for row in sorted(latest.values(), key=lambda r: (r.created_at, r.id))
    ]


def _outcome(policy: Policy, proposal: Proposal) -> Literal["write", "escalate", "fail", "none"]:
    """What the policy would do with the new proposal (on a copy: routing narrows the case type).
    ``policy`` judges the version as if it were live (``compare`` drops its go_live rule once)."""
    if proposal.tool is None and proposal.error is None and not proposal.escalations:
        return "none"  # the new version sees nothing to do: no merge of these records, say
    copy = proposal.model_copy(deep=True)
    if copy.tool is not None:
        copy.case_type = policy.case_type_of(copy.case_type, copy.payload, copy.confidence, copy.context)
    verdict = route(policy, copy)
    return {Route.ESCALATE: "escalate", Route.FAIL: "fail"}.get(verdict.route, "write")  # type: ignore[return-value]


def _flat(payload: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested values as fields of their own (a merged record's ``values.email``): agreement is
    counted per value people could have corrected, not per block of them."""
    flat: dict[str, Any] = {}
    for name, value in payload.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _why(proposal: Proposal) -> str:
    return (
        proposal.error
        or "; ".join(e.describe() for e in proposal.escalations)
        or (proposal.summary if proposal.tool is None else "")
    )


def _verdict(report: dict[str, Any], min_agreement: float) -> tuple[bool, str]:
    agreement, wrong = report["agreement"], report["wrong"]
    ready = (agreement or 0.0) >= min_agreement and not wrong
    if ready and agreement == 1.0 and not (report["missed"] or report["new_failures"]):
        return True, f"ready: agrees with every approved action ({report['approved_actions']})"
    if agreement is None:
        figures = "no approved action to compare with"
    else:
        figures = (
            f"{report['fields_agreed']}/{report['fields_compared']} fields of {report['approved_actions']} "
            f"approved actions agree ({agreement:.1%}, minimum {min_agreement:.1%})"
        )
    counts = (
        f"{len(wrong)} would write where people rejected, {len(report['missed'])} would "
        f"not write where people wrote, {len(report['new_failures'])} new failures"
    )
    return ready, f"{'ready' if ready else 'not ready'}: {figures}; {counts}"


def compare(
    policy: Policy, version: str, cases: list[PastCase], results: list[Proposal | Unavailable], min_agreement: float
) -> dict[str, Any]:
    """The figures of a replay: each new proposal against how its case ended."""
    if len(results) != len(cases):
        raise ConfigurationError(f"the replay of {policy.workflow} answered {len(results)} cases for {len(cases)}")
    live = policy.model_copy(update={"go_live": None})  # the version is judged as if it were live: that is the question
    fields: dict[str, list[bool]] = {}
    found: dict[str, Any] = {
        "unavailable": [],
        "changed": [],
        "wrong": [],
        "missed": [],
        "new_failures": [],
        "now_writes": [],
    }
    new_versions: Counter[str] = Counter()
    approved = agreed_actions = 0
    for case, result in zip(cases, results):
        if isinstance(result, Unavailable):
            found["unavailable"].append(result)
            continue
        new_versions[result.instruction_version] += 1
        outcome = _outcome(live, result)
        listed = ReplayedCase(source=case.source, original=case.status, new=outcome, detail=_why(result))
        if outcome == "fail" and case.status is not Status.FAILED:
            found["new_failures"].append(listed)
        if case.people_wrote:
            approved += 1
            final = _flat(case.final_action or {})
            writes = outcome == "write" and result.tool == case.tool
            new = _flat(result.payload or {}) if writes else {}
            for name, value in final.items():
                fields.setdefault(name, []).append(writes and new.get(name) == value)
                if writes and new.get(name) != value:
                    found["changed"].append(
                        ChangedField(source=case.source, field=name, final=value, new=new.get(name))
                    )
            agreed_actions += writes and new == final
            if outcome in ("escalate", "none"):
                found["missed"].append(listed)
        elif outcome == "write":
            found["wrong" if case.status is Status.REJECTED else "now_writes"].append(listed)
    compared, agreed = sum(len(v) for v in fields.values()), sum(sum(v) for v in fields.values())
    report = {
        **found,
        "version": version,
        "cases": len(cases),
        "replayed": len(cases) - len(found["unavailable"]),
        "new_versions": dict(sorted(new_versions.items())),
        "original_versions": dict(sorted(Counter(c.instruction_version for c in cases).items())),
        "approved_actions": approved,
        "actions_agreed": agreed_actions,
        "fields_compared": compared,
        "fields_agreed": agreed,
        "agreement": round(agreed / compared, 4) if compared else None,
        "fields": [
            FieldAgreement(field=name, compared=len(v), agreed=sum(v), rate=round(sum(v) / len(v), 4))
            for name, v in fields.items()
        ],
    }
    report["ready"], report["verdict"] = _verdict(report, min_agreement)
    return report


def replay(
    spec: WorkflowSpec,
    version: str,
    since: datetime,
    until: datetime,
    min_agreement: float = 1.0,
    candidate: Path | None = None,
) -> ReplayReport:
    """Replay the workflow's decided cases of [since, until) with ``version``; writes nothing.

    ``candidate`` is a policy file for the same workflow that is not live yet: the new proposals
    are made under its rules and settings and routed by it, instead of the current file's."""
    if spec.replay is None:
        raise ConfigurationError(
            f"workflow {spec.name} has no replay: it cannot read the inputs of its past cases again"
        )
    policy = load_policy_file(candidate, workflow=spec.name) if candidate else load_policy(spec.name)
    cases = past_cases(spec.name, since, until)
    results = load(spec.replay)(
        cases, version, policy
    )  # called even without cases: it refuses a version it cannot replay
    figures = compare(policy, version, cases, results, min_agreement)
    described = (
        f"{candidate} (version {policy.fingerprint})"
        if candidate
        else f"policies/{spec.name}.yaml (version {policy.fingerprint})"
    )
    return ReplayReport(
        workflow=spec.name,
        since=since,
        until=until,
        min_agreement=min_agreement,
        rules=RULES,
        policy=described,
        **figures,
    )
