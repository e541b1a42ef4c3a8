"""The undo flow: propose taking one executed write back, wait for a person's approval at the
gate, and let the executor write the undo. Started by `opsgate undo PROPOSAL --as NAME --reason`."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from pydantic import BaseModel, Field

from opsgate.governance import undoing
from opsgate.governance.runs import Run
from opsgate.models import Proposal, RunSummary
from opsgate.orchestration.gate import gate
from opsgate.orchestration.steps import check_policy, execute, finish_run, start_run


class UndoParams(BaseModel):
    proposal_id: str = Field(description="The executed proposal whose write is taken back.")
    reason: str = Field(min_length=1)
    requested_as: str | None = Field(
        None,
        max_length=100,
        description="The name the requester gave (--as), recorded; who started the run is taken from the process that runs it.",
    )


@task(name="propose-undo", cache_policy=NO_CACHE)
def _propose(run: Run, params: UndoParams) -> Proposal:
    return undoing.propose_undo(run, params.proposal_id, params.reason)


@flow(name="undo")
def undo_write(params: UndoParams) -> State[RunSummary]:
    """Propose the undo, wait for approval, write it, and record every step."""
    run = start_run(undoing.undo_workflow(params.proposal_id), params.model_dump(mode="json"))
    proposals = [_propose(run, params)]
    verdicts = check_policy(run, proposals)
    decisions = gate(run, proposals, verdicts)
    execute(run, decisions)
    return finish_run(run)
