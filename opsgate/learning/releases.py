"""Going live: which instruction versions may propose live, and the release of a new one.

A policy with a ``go_live`` section lists the versions its file releases; any other version a
workflow proposes with (a new prompt file, a candidate set of matching rules) is shadowed until a
release is in force. A release is a write (``instructions.release``) proposed only from a replay
that meets the policy's minimum agreement and writes nothing people rejected, with the replay's
figures as evidence, and decided at the gate by the people the policy lets decide `release` cases.
``opsgate undo`` of a release withdraws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from opsgate.errors import ConfigurationError
from opsgate.models import Proposal
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import RELEASE_CASE, RELEASE_TOOL
from opsgate.store.db import transaction
from opsgate.store.tables import InstructionReleaseRow
from opsgate.writers.releases import Release

if TYPE_CHECKING:
    from opsgate.learning.replay import ReplayReport
    from opsgate.workflows import WorkflowSpec


@dataclass(frozen=True)
class InForce:
    id: int
    version: str
    proposal_id: str | None
    released_at: datetime


def releases_in_force(workflow: str) -> list[InForce]:
    """Releases approved at the gate and not withdrawn, oldest first."""
    with transaction() as session:
        rows = session.execute(
            select(InstructionReleaseRow)
            .where(InstructionReleaseRow.workflow == workflow, InstructionReleaseRow.status == "in_force")
            .order_by(InstructionReleaseRow.id)
        ).scalars()
        return [InForce(row.id, row.version, row.proposal_id, row.released_at) for row in rows]


def with_releases(policy: Policy) -> Policy:
    """The policy with the versions released since its file was written."""
    if policy.go_live is None:
        return policy
    added = list(
        dict.fromkeys(r.version for r in releases_in_force(policy.workflow) if r.version not in policy.go_live.released)
    )
    if not added:
        return policy
    go_live = policy.go_live.model_copy(update={"released": [*policy.go_live.released, *added]})
    return policy.model_copy(update={"go_live": go_live})


def evidence(report: ReplayReport) -> dict[str, object]:
    """The replay's figures a release rests on: what the approver weighs."""
    return {
        "verdict": report.verdict,
        "agreement": report.agreement,
        "min_agreement": report.min_agreement,
        "fields_agreed": report.fields_agreed,
        "fields_compared": report.fields_compared,
        "approved_actions": report.approved_actions,
        "cases": report.cases,
        "replayed": report.replayed,
        "unavailable": len(report.unavailable),
        "would_write_where_rejected": len(report.wrong),
        "would_not_write_where_people_wrote": len(report.missed),
        "new_failures": len(report.new_failures),
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "policy": report.policy,
    }


def propose_release(
    spec: WorkflowSpec, policy: Policy, version: str, candidate: Path | None = None, now: datetime | None = None
) -> tuple[Proposal, ReplayReport]:
    """Replay ``version`` over the policy's window at its minimum agreement, and propose its release
    when it is ready; when it is not, the proposal fails with the replay's verdict (nothing to decide)."""
    from opsgate.learning.replay import replay

    rule = policy.go_live
    if rule is None:
        raise ConfigurationError(
            f"{policy.workflow}'s policy has no go_live section: every instruction version already proposes live"
        )
    if policy.released(version):
        raise ConfigurationError(f"{version} is already released for {policy.workflow}")
    now = now or datetime.now(timezone.utc)
    report = replay(spec, version, now - timedelta(days=rule.replay_days), now, rule.min_agreement, candidate)
    common = {
        "workflow": policy.workflow,
        "source": f"release of {version}",
        "case_type": RELEASE_CASE,
        "instruction_version": policy.instruction_version,
    }
    if not report.ready:
        return Proposal(**common, error=f"not released: {report.verdict}", tools_used=["replay"]), report
    release = Release(workflow=policy.workflow, version=version, reason=report.verdict, evidence=evidence(report))
    proposal = Proposal(
        **common,
        tool=RELEASE_TOOL,
        payload=release.model_dump(mode="json"),
        summary=f"release {version}: {report.verdict}",
        tools_used=["replay"],
    )
    return proposal, report
