"""The platform's steps as Prefect tasks: what a flow body calls before and after the gate.

Task bodies stay thin: they read the Prefect context where the platform needs an id or an
attempt number, and call the plain functions in ``opsgate``. Writes are never cached, and only
the executor's task retries, because only its write is idempotent.
"""

from __future__ import annotations

import os
import pwd
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TaskRun
from prefect.context import FlowRunContext, TaskRunContext
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
def start_run(workflow: str, parameters: dict[str, Any]) -> Run:
    """Record the run under the policy as it governs now and who started it, and show life in the store while the flow runs (the
    heartbeat stops with the flow's thread), so recovery can tell when its process is gone."""
    context = FlowRunContext.get()
    flow_run_id = str(context.flow_run.id) if context and context.flow_run else None
    run = runs.start_run(governing(workflow), _trigger(), flow_run_id, parameters)
    keep_alive(run.id, threading.current_thread())  # the flow's thread: a task called from the flow body runs in it
    return run


@task(name="check-policy", cache_policy=NO_CACHE)
def check_policy(run: Run, proposals: list[Proposal]) -> list[Verdict]:
    return runs.check_policy(run, proposals)


def _retryable(_task: Task[..., Any], _run: TaskRun, state: State[Any]) -> bool:
    try:
        state.result()
    except OpsgateError as exc:
        return exc.retryable
    except Exception:  # a driver or connection error: worth another attempt, the write is idempotent
        return True
    return False


@task(
    name="execute-action", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retryable
)
def _execute_action(policy: Policy, proposal_id: str) -> Outcome:
    context = TaskRunContext.get()
    attempt = context.task_run.run_count if context else 1
    return executor.execute_one(policy, proposal_id, attempt=max(attempt, 1))


def execute(run: Run, decisions: list[Decision]) -> list[Outcome]:
    """Execute every cleared proposal; a write that fails for good ends its case as ``failed``, and
    then counts against the autonomy its case type earned (``autonomy.after_failure``)."""
    futures = [(d.proposal_id, _execute_action.submit(run.policy, d.proposal_id)) for d in decisions]
    outcomes = []
    for proposal_id, future in futures:
        try:
            outcomes.append(future.result())
        except Exception as exc:  # recorded per case; the rest of the batch goes on
            outcomes.append(executor.record_failure(run.policy, proposal_id, exc))
            autonomy.after_failure(proposal_id)
    return outcomes


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
