"""Recovery's Prefect side: answers a dead run was sent from the UI, and closing its flow run.

A run whose process died stays Paused or Running in Prefect for ever. Someone may still resume it
from the UI: Prefect keeps that answer with the run (the pause's ``-response`` input), so recovery
reads it and decides it like any answer. Once every case of the run is terminal, its flow run is
closed in the state ``Crashed`` named ``Recovered``, with what recovery did as the message. A run
suspended at the gate on purpose is tended instead (reminded, expired, woken), unless its process
died before Prefect held it suspended: then it is finished as a dead run. The
``opsgate-recovery`` deployment runs this on a schedule; ``opsgate recover`` runs it now.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed, Scheduled

from opsgate.display import markdown_text
from opsgate.governance import recovery, requests, runs
from opsgate.governance.recovery import DeadRun, RunRecovery
from opsgate.governance.requests import PendingRequest
from opsgate.governance.runs import Run, Suspension
from opsgate.learning import autonomy, decisions
from opsgate.learning.governing import governing_policy
from opsgate.notify import approval_notices
from opsgate.orchestration.resume import pause_input
from opsgate.orchestration.server import run_link
from opsgate.settings import get_settings

logger = logging.getLogger(__name__)


def _answers(dead: DeadRun) -> dict[int, dict[str, Any]]:
    """Answers Prefect holds for the dead run's pending requests (a resume from the UI)."""
    if not dead.flow_run_id or not dead.pending:
        return {}
    found: dict[int, dict[str, Any]] = {}
    with get_client(sync_client=True) as client:
        for request_id, key in dead.pending.items():
            value = pause_input(client, dead.flow_run_id, key, "response")
            if value is None:
                continue
            try:
                answer = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                answer = {"approver": "unknown", "unreadable": str(value)[:200]}
            found[request_id] = answer if isinstance(answer, dict) else {"approver": "unknown"}
    return found


def _decide_answers(dead: DeadRun) -> int:
    """Decide the answers Prefect holds for the dead run's pending requests, through the same checks
    and consequences as any answer; how many were accepted."""
    answered = 0
    for request_id, answer in _answers(dead).items():
        if requests.request_status(request_id) == "pending" and decisions.receive(request_id, answer):
            answered += 1
    return answered


def _close_flow_run(report: RunRecovery) -> None:
    """A dead run's flow run, once recovery closed the run, ends Crashed/Recovered, unless Prefect
    already ended it."""
    if not report.flow_run_id or not report.closed:
        return
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(report.flow_run_id))
        except ObjectNotFound:
            return
        if run.state is not None and run.state.is_final():
            return
        message = f"the run's process died; opsgate recover wrote {report.executed}, expired {report.expired}, failed {report.failed}; cases: {report.counts}"
        client.set_flow_run_state(UUID(report.flow_run_id), Crashed(name="Recovered", message=message), force=True)


def _remind(run: Run, waiting: list[PendingRequest]) -> None:
    """Remind the policy's channels once the nearest deadline of a suspended run comes within
    ``remind_before_minutes``, once per deadline: there is no paused process to do it."""
    before = run.policy.approvals.remind_before_minutes
    deadline = min(r.deadline for r in waiting)
    if before is None or deadline - datetime.now(timezone.utc) > timedelta(minutes=before):
        return
    if approval_notices.reminded(run.id, deadline):
        return
    count = sum(len(r.proposals) for r in waiting)
    review = requests.review_link(waiting[0].flow_run_id)
    approval_notices.announce("reminder", run.policy, run.id, count, deadline, run_link(run.id), review)


def _wake(flow_run_id: str) -> bool:
    """Start a suspended flow run again (a worker picks it up); False when Prefect no longer holds
    it suspended (someone resumed it, or it ended). The state is read again here, though ``_lost``
    read it moments before: expiring and reminding came in between, and an approver may have
    resumed the run meanwhile; waking it on the older reading would start it twice."""
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return False
        if run.state is None or not run.state.is_paused():
            return False
        client.set_flow_run_state(UUID(flow_run_id), Scheduled(message="woken by opsgate recovery"), force=True)
    return True


def _lost(suspension: Suspension) -> str | None:
    """Why no worker will ever start the suspended run's flow run again, or None while one may.

    The gate records the run suspended before it asks Prefect to suspend the flow run; a process
    that dies between the two leaves the store saying "suspended" and Prefect saying "Running"
    (or "Crashed", where a worker saw its process die). A resumed process that dies before it
    takes the run back leaves the same. Prefect holding the flow run paused, or about to start it
    (Scheduled, Pending), is the normal wait; Running is normal only for the moment a process needs
    to get from one call to the next, so it counts as lost once the grace period has passed since
    both the state began and the run was let go."""
    run = suspension.run
    if run.flow_run_id is None:
        return "it names no flow run to start again"
    with get_client(sync_client=True) as client:
        try:
            state = client.read_flow_run(UUID(run.flow_run_id)).state
        except ObjectNotFound:
            return "Prefect no longer holds its flow run"
    if state is None or state.is_paused() or state.is_scheduled() or state.is_pending():
        return None
    if state.is_final():
        return f"its flow run is {state.name} (the process died before Prefect held it suspended)"
    since = max(state.timestamp, suspension.since)
    if datetime.now(timezone.utc) - since > timedelta(seconds=get_settings().heartbeat_grace):
        return f"its flow run has been {state.name} since {since:%Y-%m-%d %H:%M:%S} UTC with no process taking the run back"
    return None


def tend_suspended(suspension: Suspension) -> RunRecovery | None:
    """What a suspended run's paused process would have done, done with no process: remind before
    the deadline, expire what passed it (the owner and the channels are told), and, once nothing is
    left to wait for, start the flow run again so that it writes what was approved and finishes.
    A run whose suspension never reached Prefect (``_lost``) is handed to the dead runs instead:
    None."""
    run = suspension.run
    if (why := _lost(suspension)) is not None and runs.lose_suspension(run, why):
        return None
    report = RunRecovery(run_id=run.id, workflow=run.workflow, flow_run_id=run.flow_run_id)
    report.expired = recovery.expire_overdue(run.id, run.owner)
    if report.expired:
        link, review = run_link(run.id), requests.review_link(run.flow_run_id or "")
        now = datetime.now(timezone.utc)
        approval_notices.announce("expired", run.policy, run.id, report.expired, now, link, review)
    waiting = [r for r in requests.pending_requests(run.workflow) if r.flow_run_id == run.flow_run_id]
    report.waiting = sum(len(r.proposals) for r in waiting)
    if waiting:
        _remind(run, waiting)
    elif run.flow_run_id:
        report.woken = _wake(run.flow_run_id)
    logger.info("tended suspended run %s: %s", run.id, report.model_dump(include={"expired", "waiting", "woken"}))
    return report


def recover_all() -> list[RunRecovery]:
    """Recover every dead run: decide the answers Prefect holds for it, finish it in the store,
    close its flow run; and tend every suspended run (``tend_suspended``). A run that fails to
    recover does not stop the others."""
    reports = []
    for suspension in runs.suspended_runs():
        suspended = suspension.run
        try:
            if (report := tend_suspended(suspension)) is not None:  # else it is among the dead runs below
                reports.append(report)
        except Exception as exc:  # reported, tried again next time
            logger.exception("tending suspended run %s failed", suspended.id)
            reports.append(
                RunRecovery(
                    run_id=suspended.id,
                    workflow=suspended.workflow,
                    flow_run_id=suspended.flow_run_id,
                    unfinished=[f"{type(exc).__name__}: {exc}"],
                )
            )
    for dead in recovery.dead_runs():
        try:
            report = recovery.recover_run(dead, _decide_answers(dead))
            for proposal_id in report.failures:
                autonomy.after_failure(proposal_id)
            _close_flow_run(report)
            if report.expired:  # the dead run's reminder and expiry notice died with it: the channels hear it here
                approval_notices.announce(
                    "expired",
                    governing_policy(report.workflow),
                    report.run_id,
                    report.expired,
                    datetime.now(timezone.utc),
                    run_link(report.run_id),
                )
        except Exception as exc:  # one run's trouble must not keep the others open; reported, tried again next time
            logger.exception("recovering run %s failed", dead.run_id)
            report = RunRecovery(
                run_id=dead.run_id,
                workflow=dead.workflow,
                flow_run_id=dead.flow_run_id,
                unfinished=[f"{type(exc).__name__}: {exc}"],
            )
        reports.append(report)
    return reports


def _markdown(reports: list[RunRecovery]) -> str:
    rows = [
        f"| {markdown_text(r.workflow)} | `{r.run_id[:8]}` | {r.answers} | {r.executed} | {r.failed} | {r.expired} | {r.waiting} | "
        f"{'closed' if r.closed else 'woken' if r.woken else 'open'} | {markdown_text('; '.join(r.unfinished)) or '-'} |"
        for r in reports
    ]
    return "\n".join(
        [
            f"# Recovery: {len(reports)} runs whose process died or was let go at the gate",
            "",
            "| workflow | run | answers | written | failed | expired | still waiting | run | not finished |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )


@flow(name="opsgate-recovery")
def recover_runs() -> list[RunRecovery]:
    """Trigger: the `opsgate-recovery` deployment's schedule (prefect.yaml). Proposes nothing; writes
    only what people already approved, through the executor; expires what passed its deadline."""
    reports = recover_all()
    if reports:
        create_markdown_artifact(
            key="opsgate-recovery",
            markdown=_markdown(reports),
            description="Runs whose process died, and what recovery did",
        )
    return reports
