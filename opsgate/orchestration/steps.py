"""The platform's steps as Prefect tasks: what a flow body calls before and after the gate.

Task bodies stay thin: they read the Prefect context where the platform needs an id or an
attempt number, and call the plain functions in ``opsgate``. Writes are never cached, and only
the executor's task retries, because only its write is idempotent.
"""

from __future__ import annotations

from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.context import FlowRunContext, TaskRunContext
from prefect.states import Completed, State

from opsgate import executor, runs
from opsgate.errors import OpsgateError
from opsgate.models import Decision, Outcome, Proposal, RunSummary, Verdict
from opsgate.orchestration.artifacts import publish_summary
from opsgate.policy.schema import Policy
from opsgate.runs import Run


def _trigger() -> str:
    """How this flow run was started, as Prefect knows it."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return "manual"
    flow_run = context.flow_run
    if flow_run.auto_scheduled:
        return "schedule"
    if flow_run.deployment_id:
        return f"deployment {flow_run.deployment_id}"
    return "manual"


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(workflow: str, parameters: dict[str, Any], trigger: str | None = None) -> Run:
    context = FlowRunContext.get()
    flow_run_id = str(context.flow_run.id) if context and context.flow_run else None
    return runs.start_run(workflow, trigger or _trigger(), flow_run_id, parameters)


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


@task(name="execute-action", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retryable)
def _execute_action(policy: Policy, proposal_id: str) -> Outcome:
    context = TaskRunContext.get()
    attempt = context.task_run.run_count if context else 1
    return executor.execute_one(policy, proposal_id, attempt=max(attempt, 1))


def execute(run: Run, decisions: list[Decision]) -> list[Outcome]:
    """Execute every cleared proposal; a write that fails for good ends its case as ``failed``."""
    futures = [(d.proposal_id, _execute_action.submit(run.policy, d.proposal_id)) for d in decisions]
    outcomes = []
    for proposal_id, future in futures:
        try:
            outcomes.append(future.result())
        except Exception as exc:  # recorded per case; the rest of the batch goes on
            outcomes.append(executor.record_failure(run.policy, proposal_id, exc))
    return outcomes


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
        return Completed(data=summary, name="Expired", message=f"{expired} proposals expired without a decision; escalated to {run.owner}")
    return Completed(data=summary)
