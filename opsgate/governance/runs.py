"""A run's bookkeeping: start it, record its proposals and their routes, and close it.

These are the platform's plain steps before and after the gate; the orchestration package wraps
them as Prefect tasks. Each step commits its rows and audit events in one transaction.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from datetime import datetime, timezone
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsgate.errors import PolicyDenied
from opsgate.governance import escalations
from opsgate.governance.liveness import GONE, is_dead, machine
from opsgate.models import (
    TERMINAL,
    Escalation,
    EscalationReason,
    Outcome,
    Proposal,
    Route,
    RunSummary,
    Status,
    Verdict,
    digest,
)
from opsgate.policy.engine import route
from opsgate.policy.loader import load_policy
from opsgate.policy.runtime import Policy
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, ProposalRow, RunRow, as_utc

logger = logging.getLogger(__name__)

AGENT = "opsgate"
RUNNING = "running"
OPEN = (RUNNING, "incomplete")  # a run not finished, or finished with cases still open
SUSPENDED = "suspended"  # waiting at the gate with no process; a worker starts its flow run again once answered


class Run(BaseModel):
    """What every step needs to know about the run it belongs to."""

    id: str = Field(default_factory=lambda: str(uuid4()))
    workflow: str
    flow_run_id: str | None = None
    trigger: str
    policy: Policy
    policy_version: str
    resumable: bool = Field(
        False, description="Its flow goes straight to the gate when started again, so the gate may suspend it."
    )
    resumed: bool = Field(
        False, description="Started again after it was suspended at the gate: its cases are in the store."
    )

    @property
    def owner(self) -> str:
        return f"{self.policy.owner.name} <{self.policy.owner.contact}>"


class Governing(BaseModel):
    """The policy a run starts under, as its caller composed it (``learning.governing``):
    the file with the autonomy earned and the versions released since, and what differs from the file."""

    policy: Policy
    version: str = Field(
        description="The file's fingerprint, plus short digests of what was earned and released since."
    )
    earned: dict[str, str] = Field(
        default_factory=dict, description="Case type -> the mode a grant gave it, where it differs from the file."
    )
    released: list[str] = Field(
        default_factory=list, description="Instruction versions released since the file was written."
    )


def start_run(
    governing: Governing,
    trigger: str,
    flow_run_id: str | None = None,
    parameters: dict[str, Any] | None = None,
    resumable: bool = False,
) -> Run:
    """Record the run under the policy it is given (no run without a valid one), the trigger and
    the process that runs it; or, when the flow run was suspended at the gate and is started again,
    take its run back (``resume_run``) under the policy it started with."""
    if flow_run_id is not None and (resumed := resume_run(flow_run_id)) is not None:
        return resumed
    policy, workflow = governing.policy, governing.policy.workflow
    run = Run(
        workflow=workflow,
        flow_run_id=flow_run_id,
        trigger=trigger,
        policy=policy,
        policy_version=governing.version,
        resumable=resumable,
    )
    kept = policy.model_dump_json()
    with transaction() as session:
        session.add(
            RunRow(
                id=run.id,
                workflow=workflow,
                flow_run_id=flow_run_id,
                trigger=trigger,
                policy_version=run.policy_version,
                policy=kept,
                instruction_version=policy.instruction_version,
                host=machine(),
                pid=os.getpid(),
                heartbeat_at=datetime.now(timezone.utc),
            )
        )
        audit.append(
            session,
            AuditEvent.TRIGGERED,
            workflow=workflow,
            run_id=run.id,
            actor=trigger,
            data={
                "trigger": trigger,
                "flow_run_id": flow_run_id,
                "parameters": parameters or {},
                "policy_version": run.policy_version,
                "instruction_version": policy.instruction_version,
                "earned_autonomy": governing.earned,
                "released": governing.released,
                "policy_digest": digest(kept),
                "host": machine(),
                "pid": os.getpid(),
            },
        )
    logger.info("run %s of %s started (%s, policy %s)", run.id, workflow, trigger, run.policy_version)
    return run


def _move(
    run: Run, status: str, let_go: datetime, event: AuditEvent, data: dict[str, Any], only_from: str = ""
) -> bool:
    """Give the run a new status with no process of its own (``let_go``: when it let go, or ``GONE``),
    under its row's lock, audited with why; False when it was not in ``only_from`` (when given)."""
    with transaction() as session:
        row = session.get(RunRow, run.id, with_for_update=True)
        if row is None or (only_from and row.status != only_from):
            return False
        row.status, row.pid, row.heartbeat_at = status, None, let_go
        data = {"flow_run_id": run.flow_run_id, **data}
        audit.append(session, event, workflow=run.workflow, run_id=run.id, actor=AGENT, data=data)
    return True


def suspend_run(run: Run, pause_key: str, deadline: datetime) -> None:
    """Record that the run lets its process go while it waits under ``pause_key``: recovery leaves it
    alone as a run that died, and reminds, expires and wakes it instead (``governance.recovery``)."""
    data = {
        "pause_key": pause_key,
        "deadline": deadline.isoformat(),
        "host": machine(),
        "pid": os.getpid(),  # the process that lets go, for anyone to check it did
    }
    if not _move(run, SUSPENDED, datetime.now(timezone.utc), AuditEvent.SUSPENDED, data):
        raise RuntimeError(f"run {run.id} was never started")
    logger.info("run %s is suspended until a decision on %s (deadline %s)", run.id, pause_key, deadline)


def lose_suspension(run: Run, why: str) -> bool:
    """The suspended run's process died before Prefect held the run suspended (between
    ``suspend_run`` and ``suspend_flow_run``, or a resumed process before it took the run back):
    no worker will ever start it again, so it becomes an open run whose process is gone, which
    recovery finishes like any dead run. False when the run is no longer suspended (a process took
    it back meanwhile)."""
    if not _move(run, RUNNING, GONE, AuditEvent.SUSPENSION_LOST, {"why": why}, only_from=SUSPENDED):
        return False
    logger.warning("run %s was suspended, but %s: recovery finishes it as a run whose process died", run.id, why)
    return True


def resume_run(flow_run_id: str) -> Run | None:
    """The run of a suspended flow run, started again in this process: running here, under the policy
    it started with, marked ``resumed`` so the flow goes straight to the gate. None when the flow run
    has no suspended run."""
    with transaction() as session:
        row = session.execute(
            select(RunRow).where(RunRow.flow_run_id == flow_run_id, RunRow.status == SUSPENDED).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            return None
        row.status, row.host, row.pid, row.heartbeat_at = RUNNING, machine(), os.getpid(), datetime.now(timezone.utc)
        audit.append(
            session,
            AuditEvent.RESUMED,
            workflow=row.workflow,
            run_id=row.id,
            actor=AGENT,
            data={"flow_run_id": flow_run_id, "host": machine(), "pid": os.getpid()},
        )
        run_id, workflow, trigger, version = row.id, row.workflow, row.trigger, row.policy_version
    logger.info("run %s of %s resumed after its suspension", run_id, workflow)
    return _suspended(run_id, workflow, flow_run_id, trigger, version, resumed=True)


def _suspended(
    run_id: str, workflow: str, flow_run_id: str | None, trigger: str, version: str, resumed: bool = False
) -> Run:
    """A run that was suspended at the gate, under the policy it started with."""
    return Run(
        id=run_id,
        workflow=workflow,
        flow_run_id=flow_run_id,
        trigger=trigger,
        policy=run_policy(run_id, workflow),
        policy_version=version,
        resumable=True,
        resumed=resumed,
    )


class Suspension(BaseModel):
    """A run suspended at the gate, and when its process let it go."""

    run: Run
    since: datetime


def suspended_runs() -> list[Suspension]:
    """Runs suspended at the gate, oldest first, each under the policy it started with."""
    with transaction() as session:
        rows = session.execute(
            select(
                RunRow.id,
                RunRow.workflow,
                RunRow.flow_run_id,
                RunRow.trigger,
                RunRow.policy_version,
                RunRow.heartbeat_at,
            )
            .where(RunRow.status == SUSPENDED)
            .order_by(RunRow.started_at)
        ).all()
    return [Suspension(run=_suspended(*row[:5]), since=as_utc(row[5]) if row[5] else GONE) for row in rows]


def run_policy(run_id: str, workflow: str) -> Policy:
    """The policy the run started under, whichever process asks (the run's own, the CLI, recovery):
    the copy the run's row keeps, held against the digest its intact `triggered` audit event
    recorded, so rewriting the runs table cannot loosen it. A run started before runs kept their
    policy (its event records no digest) is governed by the workflow's file as it is now."""
    with transaction() as session:
        row = session.get(RunRow, run_id)
        triggered = session.execute(
            select(AuditRow)
            .where(AuditRow.event == str(AuditEvent.TRIGGERED), AuditRow.run_id == run_id)
            .order_by(AuditRow.seq)
            .limit(1)
        ).scalar_one_or_none()
        if triggered is not None and not audit.intact(triggered):
            raise PolicyDenied(f"run {run_id}: its triggered audit event was altered; its policy cannot be trusted")
        recorded = (
            triggered.data.get("policy_digest") if triggered is not None and isinstance(triggered.data, dict) else None
        )
        kept = row.policy if row is not None else None
    if recorded is None and kept is None:
        return load_policy(workflow)
    if kept is None or digest(kept) != recorded:
        raise PolicyDenied(
            f"run {run_id}: the policy the store keeps for it is not the one its triggered audit event recorded"
        )
    return Policy.model_validate_json(kept)


def _earlier_failures(session: Session, workflow: str, source: str) -> int:
    query = (
        select(func.count())
        .select_from(ProposalRow)
        .where(ProposalRow.workflow == workflow, ProposalRow.source == source, ProposalRow.status == Status.FAILED)
    )
    return session.execute(query).scalar_one()


def _proposal_row(
    run: Run, proposal: Proposal, status: Status, detail: str, escalations: list[Escalation]
) -> ProposalRow:
    return ProposalRow(
        id=proposal.id,
        run_id=run.id,
        workflow=run.workflow,
        source=proposal.source,
        case_type=proposal.case_type,
        tool=proposal.tool,
        payload=proposal.payload,
        digest=proposal.digest,
        summary=proposal.summary,
        confidence=proposal.confidence,
        escalations=[e.model_dump(mode="json") for e in escalations],
        status=status,
        detail=detail,
        instruction_version=proposal.instruction_version,
        inputs=proposal.inputs or None,
        context=proposal.context or None,
        taken_up_from=proposal.taken_up.case if proposal.taken_up else None,
    )


_STATUS = {
    Route.APPROVE: Status.PROPOSED,
    Route.AUTO: Status.APPROVED,
    Route.SHADOW: Status.SHADOWED,
    Route.ESCALATE: Status.ESCALATED,
    Route.FAIL: Status.FAILED,
}


def _repeated_failure(session: Session, run: Run, proposal: Proposal, verdict: Verdict) -> Verdict:
    """A source that keeps failing goes to the owner instead of failing quietly once more."""
    rule = run.policy.escalation.repeated_failure
    if verdict.route is not Route.FAIL or rule is None:
        return verdict
    failures = _earlier_failures(session, run.workflow, proposal.source) + 1
    if failures < rule.after:
        return verdict
    escalation = Escalation(
        reason=EscalationReason.REPEATED_FAILURE, detail=f"failed in {failures} runs, now: {proposal.error}"
    )
    return Verdict(proposal_id=proposal.id, route=Route.ESCALATE, escalations=[escalation])


def check_policy(run: Run, proposals: list[Proposal]) -> list[Verdict]:
    """Give every proposal its case type (the policy's definitions narrow the workflow's own, in
    place, so later steps see it), route it by the policy, and record both in the store and audit.
    One transaction for the batch: the audit head is locked once and the events written together
    at the end (``audit.hold_head``)."""
    verdicts: list[Verdict] = []
    with transaction() as session:
        audit.hold_head(session)
        for proposal in proposals:
            if proposal.tool is not None:  # the policy's case types, defined as data, narrow the workflow's own
                proposal.case_type = run.policy.case_type_of(
                    proposal.case_type, proposal.payload, proposal.confidence, proposal.context
                )
            if proposal.taken_up is not None and proposal.error is None:
                proposal.error = escalations.claim(session, run.workflow, run.id, proposal)
            verdict = _repeated_failure(session, run, proposal, route(run.policy, proposal))
            verdicts.append(verdict)
            status = _STATUS[verdict.route]
            detail = "; ".join(e.describe() for e in verdict.escalations) or proposal.error or verdict.why
            session.add(_proposal_row(run, proposal, status, detail, verdict.escalations + proposal.notices))
            common = {"workflow": run.workflow, "run_id": run.id, "proposal_id": proposal.id}
            if proposal.tool is not None:
                content = (
                    {"payload": proposal.payload, "inputs": proposal.inputs}
                    if run.policy.logging.store_documents
                    else {}
                )
                audit.append(
                    session,
                    AuditEvent.PROPOSED,
                    actor=proposal.instruction_version,
                    **common,
                    data={
                        "source": proposal.source,
                        "case_type": proposal.case_type,
                        "tool": proposal.tool,
                        **content,
                        "digest": proposal.digest,
                        "confidence": proposal.confidence,
                        "instruction_version": proposal.instruction_version,
                        "tools_used": proposal.tools_used,
                        "route": verdict.route,
                        "context": proposal.context,
                        **({"taken_up": proposal.taken_up.model_dump()} if proposal.taken_up else {}),
                    },
                )
            if proposal.notices and verdict.route in (Route.APPROVE, Route.AUTO):
                audit.append(
                    session,
                    AuditEvent.ESCALATED,
                    actor=AGENT,
                    **common,
                    data={
                        "source": proposal.source,
                        "to": run.owner,
                        "reasons": [e.model_dump(mode="json") for e in proposal.notices],
                        "case_goes_on": True,
                    },
                )
            if verdict.route is Route.ESCALATE:
                logger.info("%s escalated to %s: %s", proposal.source, run.owner, detail)
                audit.append(
                    session,
                    AuditEvent.ESCALATED,
                    actor=AGENT,
                    **common,
                    data={
                        "source": proposal.source,
                        "to": run.owner,
                        "reasons": [e.model_dump(mode="json") for e in verdict.escalations],
                    },
                )
            elif verdict.route is Route.SHADOW:
                audit.append(
                    session,
                    AuditEvent.SHADOWED,
                    actor=AGENT,
                    **common,
                    data={"source": proposal.source, **({"why": verdict.why} if verdict.why else {})},
                )
            elif verdict.route is Route.FAIL:
                logger.warning("%s failed: %s", proposal.source, proposal.error)
                audit.append(
                    session,
                    AuditEvent.FAILED,
                    actor=AGENT,
                    **common,
                    data={
                        "source": proposal.source,
                        "stage": "propose",
                        "error": proposal.error,
                        "tools_used": proposal.tools_used,
                    },
                )
        audit.write_held(session)
    return verdicts


def _cases(session: Session, run_id: str) -> list[Outcome]:
    rows = session.execute(
        select(ProposalRow).where(ProposalRow.run_id == run_id).order_by(ProposalRow.source)
    ).scalars()
    return [
        Outcome(proposal_id=r.id, source=r.source, status=Status(r.status), detail=r.detail or r.summary) for r in rows
    ]


def finish_run(run: Run) -> RunSummary:
    """Close the run: every case's final state, counted, in the store and the audit log."""
    with transaction() as session:
        outcomes = _cases(session, run.id)
        counts = dict(Counter(str(o.status) for o in outcomes))
        open_cases = [o.source for o in outcomes if o.status not in TERMINAL]
        row = session.get(RunRow, run.id)
        assert row is not None, f"run {run.id} was never started"
        row.status = "completed" if not open_cases else "incomplete"
        row.finished_at = datetime.now(timezone.utc)
        row.summary = counts
        audit.append(
            session,
            AuditEvent.COMPLETED,
            workflow=run.workflow,
            run_id=run.id,
            actor=AGENT,
            data={"counts": counts, "open": open_cases},
        )
    return RunSummary(run_id=run.id, workflow=run.workflow, counts=counts, outcomes=outcomes)


def process_state(flow_run_id: str) -> str:
    """Where the process of this flow run's opsgate run stands: ``suspended`` (let go at the gate, on
    purpose), ``gone`` (open, but its process died: ``opsgate.governance.liveness``), or ``running``."""
    with transaction() as session:
        row = session.execute(select(RunRow).where(RunRow.flow_run_id == flow_run_id)).scalar_one_or_none()
        if row is not None and row.status == SUSPENDED:
            return SUSPENDED
        return "gone" if row is not None and row.status in OPEN and is_dead(row) else RUNNING


def process_gone(flow_run_id: str) -> bool:
    """Whether the opsgate run of this flow run is open and its process died."""
    return process_state(flow_run_id) == "gone"


class RunRecord(BaseModel):
    """A run as people look it up afterwards: how it started, how it ended, its cases."""

    id: str
    workflow: str
    flow_run_id: str | None
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    cases: list[Outcome] = Field(default_factory=list)


def _record(row: RunRow, cases: list[Outcome]) -> RunRecord:
    return RunRecord(
        id=row.id,
        workflow=row.workflow,
        flow_run_id=row.flow_run_id,
        trigger=row.trigger,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=row.summary or dict(Counter(str(c.status) for c in cases)),
        cases=cases,
    )


def recent_runs(limit: int = 20, workflow: str | None = None) -> list[RunRecord]:
    with transaction() as session:
        query = select(RunRow).order_by(RunRow.started_at.desc()).limit(limit)
        if workflow:
            query = query.where(RunRow.workflow == workflow)
        return [_record(row, []) for row in session.execute(query).scalars()]


def run_record(run_id: str) -> RunRecord | None:
    """One run by its opsgate id or flow run id (or a unique prefix of either), with its cases."""
    with transaction() as session:
        rows = (
            session.execute(
                select(RunRow).where((RunRow.id.startswith(run_id)) | (RunRow.flow_run_id.startswith(run_id)))
            )
            .scalars()
            .all()
        )
        return _record(rows[0], _cases(session, rows[0].id)) if len(rows) == 1 else None
