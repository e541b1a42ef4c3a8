"""The platform's steps as Prefect tasks: what a flow body calls before and after the gate.

Task bodies stay thin: they read the Prefect context where the platform needs an id or an
attempt number, and call the plain functions in ``opsgate``. Writes are never cached, and only
the executor retries, action by action, because only its write is idempotent. Per-case work runs
in batches, so a run's Prefect task runs grow with its batches, never with its cases.
"""

from __future__ import annotations

import os
import pwd
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.states import Completed, State

from opsgate.errors import OpsgateError
from opsgate.governance import executor, runs
from opsgate.governance.liveness import keep_alive
from opsgate.governance.runs import Run
from opsgate.intake.mailbox import settle_for
from opsgate.learning import autonomy
from opsgate.learning.governing import governing
from opsgate.models import Decision, Outcome, Proposal, RunSummary, Verdict
from opsgate.orchestration.artifacts import publish_summary
from opsgate.policy.runtime import Policy
from opsgate.settings import get_settings

# Who started a run that is not a deployment's, when the code embedding opsgate knows better than
# the operating system (a test playing a person). Only code in the process that runs the flow can
# set it: nothing a run's parameters, the Prefect API or an environment variable can reach.
_started_by: ContextVar[str | None] = ContextVar("opsgate_started_by", default=None)


@contextmanager
def started_by(trigger: str) -> Iterator[None]:
    """Runs started in this block name ``trigger`` (e.g. ``cli:alice``) as who started them."""
    token = _started_by.set(trigger)
    try:
        yield
    finally:
        _started_by.reset(token)


def _os_user() -> str:
    """The account of this process, from the operating system (not $USER, which anyone can set)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _trigger() -> str:
    """Who or what started this flow run, as Prefect and the operating system record it: a schedule,
    a deployment (and who created the run, where the server knows it), or the account of the process
    that runs the flow. Never a parameter: the requester must not be able to name someone else."""
    context = FlowRunContext.get()
    flow_run = context.flow_run if context else None
    if flow_run is not None and flow_run.deployment_id:
        if flow_run.auto_scheduled:
            return "schedule"
        with get_client(sync_client=True) as client:
            name = client.read_deployment(flow_run.deployment_id).name
        creator = (
            flow_run.created_by.display_value if flow_run.created_by and flow_run.created_by.display_value else None
        )
        return f"deployment:{name}" + (f" by {creator}" if creator else "")
    return _started_by.get() or f"cli:{_os_user()}"


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(workflow: str, parameters: dict[str, Any], resumable: bool = False) -> Run:
    """Record the run under the policy as it governs now and who started it, and show life in the store while the flow runs (the
    heartbeat stops with the flow's thread), so recovery can tell when its process is gone.

    ``resumable``: the flow goes straight to the gate when its run comes back ``resumed`` (started
    again after the gate suspended it), so the gate may suspend a long wait; the run of a flow run
    started again is taken back here rather than started anew."""
    context = FlowRunContext.get()
    flow_run_id = str(context.flow_run.id) if context and context.flow_run else None
    run = runs.start_run(governing(workflow), _trigger(), flow_run_id, parameters, resumable)
    keep_alive(run.id, threading.current_thread())  # the flow's thread: a task called from the flow body runs in it
    return run


@task(name="check-policy", cache_policy=NO_CACHE)
def check_policy(run: Run, proposals: list[Proposal]) -> list[Verdict]:
    return runs.check_policy(run, proposals)


RETRY_DELAYS = (1.0, 5.0)  # seconds before the second and third attempt at a write that failed for a passing reason


def _retryable(error: BaseException) -> bool:
    if isinstance(error, OpsgateError):
        return error.retryable
    return True  # a driver or connection error: worth another attempt, the write is idempotent


def _execute_alone(policy: Policy, proposal_id: str, failed: Exception | None) -> Outcome:
    """One action in a transaction of its own, retried while its failure may pass (the write is
    idempotent); ``failed`` is the error of its first attempt, in its batch, if it had one. A
    refusal or a failure for good ends its case ``failed`` and counts against the autonomy its
    case type earned."""
    error, attempt = failed, 1 if failed is None else 2
    while error is None or (_retryable(error) and attempt <= 1 + len(RETRY_DELAYS)):
        if error is not None:
            time.sleep(RETRY_DELAYS[attempt - 2])
        try:
            return executor.execute_one(policy, proposal_id, attempt=attempt)
        except Exception as exc:  # recorded per case; the rest of the batch goes on
            error, attempt = exc, attempt + 1
    outcome = executor.record_failure(policy, proposal_id, error)
    autonomy.after_failure(proposal_id)
    return outcome


@task(name="execute-batch", cache_policy=NO_CACHE)
def _execute_batch(policy: Policy, proposal_ids: list[str]) -> list[Outcome]:
    """A batch of approved actions in one Prefect task: written together where they can be
    (``executor.execute_batch``), and any that cannot, one by one."""
    written, alone = executor.execute_batch(policy, proposal_ids)
    written.update({pid: _execute_alone(policy, pid, failed) for pid, failed in alone.items()})
    return [written[pid] for pid in proposal_ids]


def execute(run: Run, decisions: list[Decision]) -> list[Outcome]:
    """Execute every cleared proposal, in batches of ``execute_batch_size``: the run's Prefect task
    runs grow with its batches, not its actions. A write that fails for good ends its case as
    ``failed`` and the rest of its batch is written."""
    size = get_settings().execute_batch_size
    ids = [d.proposal_id for d in decisions]
    return [
        outcome
        for start in range(0, len(ids), size)
        for outcome in _execute_batch(run.policy, ids[start : start + size])
    ]


@task(name="settle-mail", cache_policy=NO_CACHE)
def settle_mailbox(run: Run, name: str) -> None:
    """Move the run's mailbox messages whose cases have ended out of the folder: a flow's last
    step before ``finish_run`` when it read a mailbox."""
    settle_for(run, name)


@task(name="finish-run", cache_policy=NO_CACHE)
def _finish_run(run: Run) -> RunSummary:
    summary = runs.finish_run(run)
    publish_summary(summary)
    return summary


def finish_run(run: Run) -> State[RunSummary]:
    """Close the run; what the flow returns. A run whose proposals expired at the gate ends in a
    state named `Expired` (a kind of Completed: every case is recorded), so it stands out in the
    UI's run list without reading as a crash."""
    summary = _finish_run(run)
    expired = summary.counts.get("expired", 0)
    if expired:
        return Completed(
            data=summary,
            name="Expired",
            message=f"{expired} proposals expired without a decision; escalated to {run.owner}",
        )
    return Completed(data=summary)
