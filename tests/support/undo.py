"""Taking a write back the way `opsgate undo` does, minus Prefect: propose the undo, have a person
approve it at the gate's store side, and let the executor write it."""

from __future__ import annotations

from opsgate.governance import executor, requests, runs, undoing
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import Outcome


def undo_through_gate(proposal_id: str, approver: str, reason: str) -> Outcome:
    run = runs.start_run(governing(undoing.undo_workflow(proposal_id)), f"cli:{approver}")
    proposal = undoing.propose_undo(run, proposal_id, reason)
    runs.check_policy(run, [proposal])
    request = requests.open_request(
        run.workflow, run.id, f"undo-{run.id}", "undo-approval-1", [proposal], requests.deadline_in(600)
    )
    (decision,) = decide(request.id, answer_for(request, approver))
    return executor.execute_one(run.policy, decision.proposal_id)
