"""Request triage: read inbound requests, propose a queue, priority and note for each, open the
tickets that are approved.

Trigger: the `request-triage` deployment's schedule (prefect.yaml: every five minutes on the
support mailbox), `opsgate run triage --mailbox NAME` or `--input FILE`, or a run started in the
Prefect UI (its spec: tasks/request_triage/workflow.py). Proposes: `tickets.route` per request,
from the classifier the team trained (`opsgate triage train`). May write: the tickets table,
through the executor, after approval or where a case type earned `auto`.
Policy: policies/request_triage.yaml.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsgate import RunSummary, check_policy, execute, finish_run, gate, settle_mailbox, start_run
from tasks.request_triage.params import TriageParams
from tasks.request_triage.steps import load_requests, propose_routings, take_requests
from tasks.request_triage.workflow import WORKFLOW


@flow(name="request-triage")
def request_triage(params: TriageParams) -> State[RunSummary]:
    """Read the requests, propose routings, wait for approval where the policy asks, route, record."""
    run = start_run(WORKFLOW, params.model_dump(mode="json"), resumable=True)
    if run.resumed:  # suspended at the gate and started again once answered: its cases are in the store
        decisions = gate(run)
    else:
        if params.mailbox is not None:
            requests = take_requests(run, params.mailbox)
        else:
            assert params.input is not None
            requests = load_requests(run, params.input)
        proposals = propose_routings(run, requests)
        decisions = gate(run, proposals, check_policy(run, proposals))
    execute(run, decisions)
    if params.mailbox is not None:
        settle_mailbox(run, params.mailbox)
    return finish_run(run)
