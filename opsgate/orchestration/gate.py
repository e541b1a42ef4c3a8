"""The human approval gate: pause the flow run until a person decides on the batch.

The form is a Prefect ``RunInput`` pre-filled from the proposals, so the Prefect UI shows it and
the CLI fills the same model. The store is the record of every decision: the CLI records its answer
there before it wakes the run, and an answer from the UI is recorded here when the run resumes,
after the same checks (``opsgate.governance.review``: the approver's rights and four eyes included); a
refused answer is audited and the run pauses again until the deadline. The policy's approval channels hear when the run starts waiting, shortly
before the deadline, and when it passes; then the proposals expire, the owner is told, and
nothing is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timezone

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.states import Running

from opsgate.governance import requests, runs
from opsgate.governance.requests import PendingRequest
from opsgate.governance.runs import Run
from opsgate.learning import decisions
from opsgate.models import Decision, Proposal, Route, Verdict
from opsgate.notify import approval_notices
from opsgate.orchestration.artifacts import publish_proposals, publish_review_link
from opsgate.orchestration.form import approval_form
from opsgate.orchestration.server import run_link
from opsgate.settings import get_settings

logger = logging.getLogger(__name__)


def _resume_after_timeout(flow_run_id: str) -> None:
    """A timed-out pause leaves the run Paused on the server; put it back to Running so the flow
    can record the expiry and finish instead of failing."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
        if run.state and run.state.type is StateType.PAUSED:
            client.set_flow_run_state(flow_run_id, Running(), force=True)  # type: ignore[arg-type]


def _reminder(run: Run, deadline: datetime, count: int, link: str | None, review: str) -> threading.Timer | None:
    """A timer that reminds people before the deadline while the run waits (the paused process
    stays alive and polls, so a thread of it can speak up)."""
    before = run.policy.approvals.remind_before_minutes
    if before is None:
        return None
    delay = (deadline - datetime.now(timezone.utc)).total_seconds() - before * 60
    if delay <= 0:
        return None
    timer = threading.Timer(
        delay, approval_notices.announce, args=("reminder", run.policy, run.id, count, deadline, link, review)
    )
    timer.daemon = True
    timer.start()
    return timer


def gate(run: Run, proposals: Sequence[Proposal] = (), verdicts: Sequence[Verdict] = ()) -> list[Decision]:
    """Send the proposals that need a person to the gate; `auto` ones pass straight through.
    A large batch is split into pages decided one after the other; four-eyes cases one person
    approved wait in a request of their own for a second approver; at the deadline whatever is
    undecided expires. What is cleared for the executor is read back from the store, where every
    decision was recorded the moment it was accepted.

    A run of a deployment that may wait longer than ``approval_suspend_after`` is suspended while it
    waits: its process ends, and a worker starts the flow run again once it is answered. The flow
    then calls the gate again with its run ``resumed`` and no proposals: the pages are in the store,
    and the gate goes on waiting where it stopped."""
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None, "the gate runs inside a flow run"
    flow_run_id = str(context.flow_run.id)
    reminder = None
    if not run.resumed:
        routes = {v.proposal_id: v.route for v in verdicts}
        to_review = [p for p in proposals if routes[p.id] is Route.APPROVE]
        if not to_review:
            return requests.cleared(run.id)
        deadline = _open(run, flow_run_id, to_review)
        if not _suspends(run, context.flow_run.deployment_id, deadline):
            reminder = _reminder(run, deadline, len(to_review), run_link(run.id), requests.review_link(flow_run_id))
    try:
        while (request := requests.next_request(flow_run_id)) is not None:
            if not _decided(run, request, _suspends(run, context.flow_run.deployment_id, request.deadline)):
                expired = requests.expire_run(flow_run_id, run.owner)
                logger.warning(
                    "no decision before the deadline: %d proposals expire; %s is notified", expired, run.owner
                )
                approval_notices.announce(
                    "expired",
                    run.policy,
                    run.id,
                    expired,
                    request.deadline,
                    run_link(run.id),
                    requests.review_link(flow_run_id),
                )
                break
    finally:
        if reminder is not None:
            reminder.cancel()
    return requests.cleared(run.id)


def _open(run: Run, flow_run_id: str, to_review: list[Proposal]) -> datetime:
    """Open the run's pages of proposals for people, and tell them; returns the deadline."""
    settings, rules = get_settings(), run.policy.approvals
    deadline = requests.deadline_in(
        rules.deadline_minutes * 60 if rules.deadline_minutes else settings.approval_timeout
    )
    size = settings.approval_page_size
    pages = [to_review[i : i + size] for i in range(0, len(to_review), size)]
    requests.open_pages(run.workflow, run.id, flow_run_id, pages, deadline)
    publish_proposals(run.workflow, to_review)
    review = requests.review_link(flow_run_id)
    publish_review_link(run.workflow, review, len(to_review))
    link = run_link(run.id)
    logger.info(
        "%d proposals (%d pages) wait for a decision until %s UTC: decide on the review screen (%s), open this run "
        "in the Prefect UI and Resume, or run `opsgate approvals approve %s --as NAME`",
        len(to_review),
        len(pages),
        f"{deadline:%Y-%m-%d %H:%M}",
        review,
        flow_run_id,
    )
    approval_notices.announce("waiting", run.policy, run.id, len(to_review), deadline, link, review)
    return deadline


def _suspends(run: Run, deployment_id: object, deadline: datetime) -> bool:
    """Whether the run lets its process go while it waits: only the run of a flow that resumes at
    the gate (``Run.resumable``) and of a deployment (a worker starts it again), and only for a wait
    longer than ``approval_suspend_after``."""
    left = (deadline - datetime.now(timezone.utc)).total_seconds()
    return run.resumable and deployment_id is not None and left > get_settings().approval_suspend_after


def _decided(run: Run, request: PendingRequest, suspend: bool) -> bool:
    """Wait until the request is decided (True), or its deadline passes undecided (False). An
    answer that is refused is audited and the run pauses again under a new key. ``suspend``: the
    run waits with no process (``suspend_flow_run``; the flow run ends here and is started again,
    where Prefect hands back the answer it was resumed with)."""
    settings = get_settings()
    while requests.request_status(request.id) == "pending":
        remaining = int((request.deadline - datetime.now(timezone.utc)).total_seconds())
        answer = None
        try:
            if remaining <= 0:
                raise FlowPauseTimeout("deadline passed")
            logger.info(
                "waiting up to %ss for a decision on %d proposals (pause key %s)%s",
                remaining,
                len(request.proposals),
                request.pause_key,
                ", suspended" if suspend else "",
            )
            if suspend:
                runs.suspend_run(run, request.pause_key, request.deadline)
                answer = suspend_flow_run(wait_for_input=approval_form(request), key=request.pause_key)
            else:
                answer = pause_flow_run(
                    wait_for_input=approval_form(request),
                    timeout=remaining,
                    poll_interval=min(settings.approval_poll_interval, max(remaining, 1)),
                    key=request.pause_key,
                )
        except FlowPauseTimeout:
            _resume_after_timeout(request.flow_run_id)
            return requests.request_status(request.id) != "pending"  # recorded by the CLI, though the run was not woken
        if decisions.receive(request.id, answer.model_dump(mode="json") if answer is not None else None):
            return True
        logger.warning(
            "the answer to %s was refused (see the audit log's approval_refused event); pausing again for a valid decision",
            request.pause_key,
        )
        request = request.model_copy(update={"pause_key": requests.move_request(request.id)})
    return True
