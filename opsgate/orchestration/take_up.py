"""The take-up flow: an escalated case proposed again with the values a person chose, checked by
the policy, decided at the gate and written by the executor like any other case. Started by
`opsgate escalations take CASE --as NAME --set FIELD=VALUE`."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from pydantic import BaseModel, Field

from opsgate.governance import escalations
from opsgate.governance.runs import Run
from opsgate.models import Proposal, RunSummary
from opsgate.orchestration.gate import gate
from opsgate.orchestration.steps import check_policy, execute, finish_run, start_run


class TakeUpParams(BaseModel):
    proposal_id: str = Field(description="The escalated case taken up.")
    fields: dict[str, str] = Field(default_factory=dict, description="The values the person chose (FIELD=VALUE).")
    requested_as: str = Field(
        min_length=1,
        max_length=100,
        description="The name the person gave (--as), recorded with the answer; who started the run is taken from the process that runs it.",
    )


@task(name="take-up", cache_policy=NO_CACHE)
def _propose(run: Run, params: TakeUpParams) -> Proposal:
    return escalations.take_up(params.proposal_id, params.fields, params.requested_as, run.policy)


@flow(name="take-up")
def take_up_case(params: TakeUpParams) -> State[RunSummary]:
    """Propose the case again, wait for approval, write it, and record every step."""
    run = start_run(escalations.escalated_case(params.proposal_id).workflow, params.model_dump(mode="json"))
    proposals = [_propose(run, params)]
    verdicts = check_policy(run, proposals)
    decisions = gate(run, proposals, verdicts)
    execute(run, decisions)
    return finish_run(run)
