"""The autonomy review flow: propose promoting each case type whose figures meet its policy rule,
and let the people the policy names for `autonomy` cases decide at the gate. Started by
`opsgate autonomy review WORKFLOW` (or a schedule)."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from pydantic import BaseModel, Field

from opsgate.governance.runs import Run
from opsgate.learning import autonomy
from opsgate.models import Proposal, RunSummary
from opsgate.orchestration.gate import gate
from opsgate.orchestration.steps import check_policy, execute, finish_run, start_run


class ReviewParams(BaseModel):
    workflow: str
    requested_as: str | None = Field(
        None,
        max_length=100,
        description="The name the requester gave (--as), recorded; who started the run is taken from the process that runs it.",
    )


@task(name="propose-promotions", cache_policy=NO_CACHE)
def _promotions(run: Run) -> list[Proposal]:
    return autonomy.promotions(run.policy)


@flow(name="autonomy-review")
def autonomy_review(params: ReviewParams) -> State[RunSummary]:
    """Weigh the evidence, propose promotions, wait for the decision, record it."""
    run = start_run(params.workflow, params.model_dump(mode="json"), resumable=True)
    if run.resumed:  # suspended at the gate and started again once answered: its proposals are in the store
        decisions = gate(run)
    else:
        proposals = _promotions(run)
        decisions = gate(run, proposals, check_policy(run, proposals))
    execute(run, decisions)
    return finish_run(run)
