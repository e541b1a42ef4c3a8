"""The release flow: replay a new instruction version and, when it is ready, propose letting it
propose live; the people the policy names for `release` cases decide at the gate. Started by
`opsgate release WORKFLOW --version V --as NAME`."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from pydantic import BaseModel, Field

from opsgate.display import markdown_text
from opsgate.governance.runs import Run
from opsgate.learning import releases, replay_views
from opsgate.models import Proposal, RunSummary
from opsgate.orchestration.gate import gate
from opsgate.orchestration.steps import check_policy, execute, finish_run, start_run
from opsgate.workflows import by_name


class ReleaseParams(BaseModel):
    workflow: str
    version: str = Field(description="The instruction version to release, as its proposals carry it.")
    candidate: Path | None = Field(
        None, description="The candidate policy file that defines the version (duplicate flagging's matching rules)."
    )
    requested_as: str | None = Field(
        None,
        max_length=100,
        description="The name the requester gave (--as), recorded; who started the run is taken from the process that runs it.",
    )


@task(name="replay-and-propose-release", cache_policy=NO_CACHE)
def _propose(run: Run, params: ReleaseParams) -> Proposal:
    """The replay runs inside the run, so the evidence the approver sees is the run's own."""
    proposal, report = releases.propose_release(by_name(run.workflow), run.policy, params.version, params.candidate)
    create_markdown_artifact(
        key=f"{run.workflow.replace('_', '-')}-replay",
        markdown=replay_views.markdown(report),
        description=f"Replay of {markdown_text(params.version)} against what people decided: the evidence for its release",
    )
    return proposal


@flow(name="instruction-release")
def instruction_release(params: ReleaseParams) -> State[RunSummary]:
    """Replay, propose the release if the version is ready, wait for the decision, record it."""
    run = start_run(params.workflow, params.model_dump(mode="json"))
    proposals = [_propose(run, params)]
    verdicts = check_policy(run, proposals)
    decisions = gate(run, proposals, verdicts)
    execute(run, decisions)
    return finish_run(run)
