"""Weekly summary: the week's figures from the events and the store, phrased by a model or a
template without adding one, published after the owner approves.

Trigger: the `weekly-summary` deployment's schedule (prefect.yaml, Mondays 07:00), `opsgate run
summary [--week 2026-W47] [--events FILE] [--tz Europe/Berlin]`, or a run started in the Prefect UI
(its spec: tasks/weekly_summary/workflow.py). Proposes: one `reports.publish` of the narrative over
the fact sheet stored with the run (case type `llm` or `template`). May write: the reports store,
through the executor, after approval (undone with `opsgate undo`, which withdraws the report);
then posts the published report to the policy's channels. Policy: policies/weekly_summary.yaml.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsgate import RunSummary, check_policy, execute, finish_run, gate, start_run
from tasks.weekly_summary.params import SummaryParams
from tasks.weekly_summary.steps import compute_facts, deliver, draft
from tasks.weekly_summary.workflow import WORKFLOW


@flow(name="weekly-summary")
def weekly_summary(params: SummaryParams) -> State[RunSummary]:
    """Compute the facts, draft the summary, wait for the owner, publish, post, and record every step."""
    run = start_run(WORKFLOW, params.model_dump(mode="json"), resumable=True)
    if run.resumed:  # suspended at the gate and started again once answered: its draft is in the store
        decisions = gate(run)
    else:
        proposals = draft(run, compute_facts(run, params))
        decisions = gate(run, proposals, check_policy(run, proposals))
    outcomes = execute(run, decisions)
    deliver(run, outcomes)
    return finish_run(run)
