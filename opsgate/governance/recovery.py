"""Finishing what a run whose process died left open, so that no decision is lost and no case
stays open for ever.

A run's process can die anywhere: while reading, after proposing, while paused at the gate,
between two writes. Everything a person decided is already in the store (``opsgate.governance.review``
records a decision before the run is woken), and every write is idempotent (``opsgate.governance.executor``),
so finishing a dead run is safe to repeat and to run from anywhere:

1. answers sent to the dead run from the Prefect UI are decided like any answer, before the rest
   (by the caller, ``orchestration.recovery``, which reads them from Prefect);
2. approved cases not yet written are written through the executor, exactly once, under the
   policy the run started with (``runs.run_policy``); a write that fails for good is reported, for
   the caller to weigh against the case type's autonomy;
3. requests past their deadline expire, and cases that never reached a person (the process died
   between proposing and the gate) expire too, escalated to the owner: a later run proposes them
   again;
4. when every case is terminal the run is closed as ``recovered``.

Cases that wait for a person before their deadline stay open on purpose: a decision recorded for
them later (``opsgate approvals approve``) is executed by the next recovery. Everything done is
audited as a ``recovered`` event. Prefect's side (reading UI answers, closing the flow run with a
named state) is ``orchestration.recovery``'s.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timezone

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import OpsgateError
from opsgate.governance import executor, requests
from opsgate.governance.liveness import is_dead
from opsgate.governance.runs import OPEN, run_policy
from opsgate.models import TERMINAL, EscalationReason, Status
from opsgate.settings import get_settings
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRequestRow, ProposalRow, RunRow, as_utc

logger = logging.getLogger(__name__)

RECOVERY = "opsgate-recovery"


class RunRecovery(BaseModel):
    """What recovery did for one dead run, and what is left waiting for people."""

    run_id: str
    workflow: str
    flow_run_id: str | None
    answers: int = Field(0, description="Answers found waiting (sent from the Prefect UI) and decided.")
    executed: int = 0
    failed: int = 0
    expired: int = 0
    waiting: int = Field(0, description="Cases still waiting for a person before their deadline.")
    unfinished: list[str] = Field(
        default_factory=list, description="What recovery could not finish now (retried at the next recovery)."
    )
    failures: list[str] = Field(
        default_factory=list,
        exclude=True,
        description="Proposals whose write failed for good here: what follows from that is the caller's.",
    )
    closed: bool = False
    woken: bool = Field(False, description="A suspended run with nothing left to wait for, started again.")
    counts: dict[str, int] = Field(default_factory=dict)


class DeadRun(BaseModel):
    """An open run whose process is gone, and the requests still pending in it."""

    run_id: str
    workflow: str
    flow_run_id: str | None
    pending: dict[int, str] = Field(
        default_factory=dict, description="Pending approval request id -> the pause key the run waited under."
    )


def _pending_requests(session: Session, run_id: str) -> list[ApprovalRequestRow]:
    """The run's requests still waiting for a decision: those holding any of its cases."""
    ours = set(session.execute(select(ProposalRow.id).where(ProposalRow.run_id == run_id)).scalars())
    pending = session.execute(
        select(ApprovalRequestRow).where(ApprovalRequestRow.status == "pending").order_by(ApprovalRequestRow.id)
    ).scalars()
    return [request for request in pending if ours.intersection(request.proposal_ids)]


def dead_runs() -> list[DeadRun]:
    """Open runs whose process is gone, oldest first."""
    now = datetime.now(timezone.utc)
    with transaction() as session:
        rows = (
            session.execute(select(RunRow).where(RunRow.status.in_(OPEN)).order_by(RunRow.started_at)).scalars().all()
        )
        return [
            DeadRun(
                run_id=row.id,
                workflow=row.workflow,
                flow_run_id=row.flow_run_id,
                pending={request.id: request.pause_key for request in _pending_requests(session, row.id)},
            )
            for row in rows
            if is_dead(row, now)
        ]


def _execute(report: RunRecovery, run_id: str) -> None:
    """Write what the run's people approved: in batches, as the run itself would have; what a batch
    could not write goes alone, where a refusal or a failure for good is recorded on its case."""
    policy = run_policy(run_id, report.workflow)
    ids = [decision.proposal_id for decision in requests.cleared(run_id)]
    written, alone = executor.execute_batches(policy, ids, get_settings().execute_batch_size)
    report.executed += len(written)
    for proposal_id, failed in alone.items():
        try:
            if failed is not None:
                raise failed  # its write failed in the batch: that was this recovery's attempt
            executor.execute_one(policy, proposal_id)
            report.executed += 1
        except OpsgateError as exc:
            if exc.retryable:
                report.unfinished.append(f"{proposal_id}: {exc}")
                continue
            executor.record_failure(policy, proposal_id, exc)
            report.failures.append(proposal_id)
            report.failed += 1
        except Exception as exc:  # a driver or connection error: the write is idempotent, the next recovery tries again
            logger.warning("recovering %s: writing %s failed: %s", run_id, proposal_id, exc)
            report.unfinished.append(f"{proposal_id}: {type(exc).__name__}: {exc}")


def _expire_unreached(run_id: str, owner: str) -> int:
    """Cases that were proposed for a person but never reached one (no pending request holds them):
    the process died between proposing and the gate. Nothing was decided; a later run proposes them
    again."""
    with transaction() as session:
        pending_ids = {pid for request in _pending_requests(session, run_id) for pid in request.proposal_ids}
        rows = (
            session.execute(
                select(ProposalRow).where(
                    ProposalRow.run_id == run_id, ProposalRow.status.in_((Status.PROPOSED, Status.AWAITING_APPROVAL))
                )
            )
            .scalars()
            .all()
        )
        count = 0
        for row in rows:
            if row.id in pending_ids:
                continue
            row.status, row.detail = (
                Status.EXPIRED,
                "the run's process ended before a person could decide; a later run proposes it again",
            )
            common = {"workflow": row.workflow, "run_id": row.run_id, "proposal_id": row.id}
            audit.append(
                session,
                AuditEvent.EXPIRED,
                actor=RECOVERY,
                **common,
                data={"source": row.source, "why": "process_lost"},
            )
            audit.append(
                session,
                AuditEvent.ESCALATED,
                actor=RECOVERY,
                **common,
                data={
                    "source": row.source,
                    "to": owner,
                    "reasons": [{"reason": EscalationReason.APPROVAL_TIMEOUT, "field": None, "detail": row.detail}],
                },
            )
            count += 1
        return count


def _close(report: RunRecovery) -> None:
    """Count the run's cases; close the run when none is open; audit what recovery did."""
    with transaction() as session:
        run = session.get(RunRow, report.run_id, with_for_update=True)
        assert run is not None
        statuses = (
            session.execute(select(ProposalRow.status).where(ProposalRow.run_id == report.run_id)).scalars().all()
        )
        report.counts = dict(Counter(statuses))
        report.waiting = sum(1 for s in statuses if s not in TERMINAL)
        done = report.answers or report.executed or report.failed or report.expired
        if run.status not in OPEN:  # another recovery closed it meanwhile
            report.closed = run.status == "recovered"
            return
        if report.waiting == 0 and not report.unfinished:
            run.status, run.finished_at, run.summary, report.closed = (
                "recovered",
                datetime.now(timezone.utc),
                report.counts,
                True,
            )
        if done or report.closed:
            audit.append(
                session,
                AuditEvent.RECOVERED,
                workflow=report.workflow,
                run_id=report.run_id,
                actor=RECOVERY,
                data=report.model_dump(mode="json"),
            )


def expire_overdue(run_id: str, owner: str) -> int:
    """The run's pending requests past their deadline expire, escalated to ``owner``: what a paused
    run's own gate does, done for a run with no process (dead, or suspended). How many cases expired."""
    now = datetime.now(timezone.utc)
    with transaction() as session:
        overdue = [request.id for request in _pending_requests(session, run_id) if as_utc(request.deadline) <= now]
    return sum(requests.expire(request_id, owner) for request_id in overdue)


def recover_run(dead: DeadRun, answered: int = 0) -> RunRecovery:
    """Finish one dead run (see the module's docstring). ``answered``: how many answers the Prefect
    UI sent the dead run the caller decided just before, for the report."""
    report = RunRecovery(run_id=dead.run_id, workflow=dead.workflow, flow_run_id=dead.flow_run_id, answers=answered)
    _execute(report, dead.run_id)
    policy = run_policy(dead.run_id, dead.workflow)
    owner = f"{policy.owner.name} <{policy.owner.contact}>"
    report.expired += expire_overdue(dead.run_id, owner)
    report.expired += _expire_unreached(dead.run_id, owner)
    _close(report)
    logger.info("recovered run %s: %s", dead.run_id, report.model_dump(exclude={"run_id", "workflow", "flow_run_id"}))
    return report


def waiting_until(run_id: str) -> datetime | None:
    """The latest deadline a dead run's open cases wait until, for people to read."""
    with transaction() as session:
        return max((as_utc(request.deadline) for request in _pending_requests(session, run_id)), default=None)
