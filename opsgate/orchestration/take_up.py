"""The take-up flow: an escalated case proposed again with the values a person chose, checked by
the policy, decided at the gate and written by the executor like any other case. Started by
`opsgate escalations take CASE --as NAME --set FIELD=VALUE` in its own process, and by the review
screen as a run of the ``take-up`` deployment, which a worker runs.

Its one parameter is the take-up request recorded where the person asked
(``escalations.ask_take_up``): who asked, and how they were proven, come from the store, so
starting this flow through the Prefect API with a name of one's choosing is not possible. A run
that waits long at the gate lets its process go and is started again when answered, like the
workflows' runs."""

from __future__ import annotations

from uuid import UUID

import httpx
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import PrefectHTTPStatusError
from prefect.states import State
from pydantic import BaseModel, Field

from opsgate.errors import ConfigurationError
from opsgate.governance import escalations
from opsgate.governance.escalations import TakeUpAsked
from opsgate.governance.runs import Run
from opsgate.models import Proposal, RunSummary
from opsgate.orchestration.gate import gate
from opsgate.orchestration.steps import check_policy, execute, finish_run, start_run
from opsgate.settings import get_settings


class TakeUpParams(BaseModel):
    request: str = Field(
        min_length=1,
        max_length=36,
        description="The take-up request recorded where the person asked (`opsgate escalations take`, the review "
        "screen): the case, their values and who they are come from it.",
    )


@task(name="take-up", cache_policy=NO_CACHE)
def _propose(run: Run, asked: TakeUpAsked) -> Proposal:
    return escalations.take_up(asked.case, asked.fields, asked.by, run.policy, asked.authenticated_by)


@flow(name="take-up")
def take_up_case(params: TakeUpParams) -> State[RunSummary]:
    """Propose the case again, wait for approval, write it, and record every step."""
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None, "a take-up runs as a flow run"
    asked = escalations.use_take_up(params.request, str(context.flow_run.id))
    run = start_run(asked.workflow, params.model_dump(mode="json"), resumable=True)
    if run.resumed:  # suspended at the gate and started again once answered: its case is in the store
        decisions = gate(run)
    else:
        proposals = [_propose(run, asked)]
        decisions = gate(run, proposals, check_policy(run, proposals))
    execute(run, decisions)
    return finish_run(run)


def take_up_deployment() -> UUID:
    """The take-up deployment on the Prefect server (``take_up_deployment``), or why a take-up
    cannot be started from the review screen: asked before anything is recorded."""
    name = get_settings().take_up_deployment
    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(name).id
        except Exception as exc:  # not found, or the server's own error: either way no run can start
            raise ConfigurationError(
                f"the Prefect server has no deployment {name} to run a take-up ({type(exc).__name__}): "
                "deploy prefect.yaml (`prefect deploy --all`) and start a worker, or use `opsgate escalations take`"
            ) from None


def start_take_up(deployment_id: UUID, asked: TakeUpAsked) -> str:
    """A run of the take-up deployment for the request ``asked``, for a worker to pick up, and
    the request marked as that run's (``escalations.use_take_up``): its flow run id. The request
    is all it is given."""
    try:
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(
                deployment_id,
                parameters={"params": TakeUpParams(request=asked.id).model_dump(mode="json")},
                name=f"take-up-{asked.case[:8]}",
            )
    except PrefectHTTPStatusError as exc:  # said to a person: the server's reason, not its addresses
        raise ConfigurationError(
            f"the Prefect server refused to make the run ({exc.response.status_code} {_reason(exc.response)})"
        ) from None
    except httpx.HTTPError as exc:
        raise ConfigurationError(f"the Prefect server could not be reached ({type(exc).__name__})") from None
    escalations.use_take_up(asked.id, str(run.id))
    return str(run.id)


def _reason(response: httpx.Response) -> str:
    """The ``detail`` a Prefect server gives with a refusal, else the status's own phrase."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):  # not JSON, or not an object
        detail = None
    return str(detail) if isinstance(detail, str) and detail else response.reason_phrase
