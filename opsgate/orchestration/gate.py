"""The human approval gate: pause the flow run until a person decides on the batch.

The form is a Prefect ``RunInput`` pre-filled from the proposals, so the Prefect UI shows it and
the CLI fills the same model. Whatever arrives is checked by ``opsgate.approvals`` after resume;
a refused answer is audited and the run pauses again until the deadline. At the deadline the
proposals expire, the owner is told, and nothing is written.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.states import Running

from opsgate import approvals
from opsgate.approvals import ApprovalAnswer
from opsgate.errors import ApprovalRejected
from opsgate.models import Decision, Proposal, Route, Verdict
from opsgate.orchestration.artifacts import publish_proposals
from opsgate.orchestration.form import approval_form
from opsgate.runs import Run
from opsgate.settings import get_settings

logger = logging.getLogger(__name__)


def pause_key(workflow: str, attempt: int) -> str:
    """Stable per workflow and attempt, so a re-run of the flow finds the same keys."""
    return f"{workflow.replace('_', '-')}-approval-{attempt}"


def _resume_after_timeout(flow_run_id: str) -> None:
    """A timed-out pause leaves the run Paused on the server; put it back to Running so the flow
    can record the expiry and finish instead of failing."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
        if run.state and run.state.type is StateType.PAUSED:
            client.set_flow_run_state(flow_run_id, Running(), force=True)  # type: ignore[arg-type]


def gate(run: Run, proposals: list[Proposal], verdicts: list[Verdict]) -> list[Decision]:
    """Send the proposals that need a person to the gate; pass `auto` ones straight through."""
    routes = {v.proposal_id: v.route for v in verdicts}
    decisions = [Decision(proposal_id=p.id) for p in proposals if routes[p.id] is Route.AUTO]
    to_review = [p for p in proposals if routes[p.id] is Route.APPROVE]
    if not to_review:
        return decisions
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None, "the gate runs inside a flow run"
    flow_run_id = str(context.flow_run.id)
    settings = get_settings()
    request = approvals.open_request(run.workflow, run.id, flow_run_id, pause_key(run.workflow, 1), to_review, settings.approval_timeout)
    publish_proposals(run.workflow, to_review)
    logger.info(
        "%d proposals wait for a decision until %s UTC: open this run in the Prefect UI and Resume, or run "
        "`opsgate approvals approve %s --as NAME`", len(to_review), f"{request.deadline:%Y-%m-%d %H:%M}", flow_run_id,
    )
    attempt = 1
    while True:
        remaining = int((request.deadline - datetime.now(timezone.utc)).total_seconds())
        try:
            if remaining <= 0:
                raise FlowPauseTimeout("deadline passed")
            logger.info("waiting up to %ss for a decision on %d proposals (pause key %s)", remaining, len(to_review), pause_key(run.workflow, attempt))
            answer = pause_flow_run(
                wait_for_input=approval_form(request), timeout=remaining,
                poll_interval=min(settings.approval_poll_interval, max(remaining, 1)), key=pause_key(run.workflow, attempt),
            )
        except FlowPauseTimeout:
            logger.warning("no decision before the deadline: %d proposals expire; %s is notified", len(to_review), run.owner)
            _resume_after_timeout(flow_run_id)
            approvals.expire(request.id, run.owner)
            return decisions
        try:
            return decisions + approvals.decide(request.id, ApprovalAnswer.model_validate(answer.model_dump()))
        except ApprovalRejected as exc:
            logger.warning("%s; pausing again for a valid decision", exc)
            attempt += 1
            approvals.move_request(request.id, pause_key(run.workflow, attempt))
