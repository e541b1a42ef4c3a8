"""Answering a paused run from any process (the CLI, the demo, a script): record, then wake.

The answer is checked and recorded in the store first (``decisions.decide``), so a bad approval is
refused at the prompt, and an accepted one is kept whatever happens to the run: if the run's process
is gone, ``opsgate recover`` executes what was approved. Then the run is woken with the same answer.
Prefect saves the form's schema just after the run enters Paused, and refuses a resume until it
exists: wait for it rather than fail on the race.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.exceptions import FlowPauseTimeout, NotPausedError, ObjectNotFound, PrefectHTTPStatusError
from prefect.flow_runs import resume_flow_run
from prefect.input.run_input import keyset_from_base_key
from prefect.settings import PREFECT_API_URL, temporary_settings

from opsgate.errors import ApprovalRejected, ConfigurationError
from opsgate.governance import requests, runs
from opsgate.governance.answers import ApprovalAnswer
from opsgate.governance.requests import PendingRequest
from opsgate.learning import decisions

RESUMED = "resumed"
Answered = tuple[PendingRequest, ApprovalAnswer]  # a page and the answer given to it
TAKEN = "taken: the run found the decision before it paused, and went on"


def pause_input(
    client: SyncPrefectClient, flow_run_id: str, pause_key: str, part: str, state_name: str = "Paused"
) -> Any | None:
    """What Prefect holds for a pause: its form's ``schema`` or the ``response`` a resume sent; None
    when there is none yet (the client reports that as ``ObjectNotFound`` or a bare 404). Prefect
    keys it by the state's name: a run paused (``Paused``) or suspended (``Suspended``)."""
    try:
        keyset = keyset_from_base_key(f"{state_name.lower()}-{pause_key}")
        return client.read_flow_run_input(UUID(flow_run_id), keyset[part])
    except ObjectNotFound:
        return None
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise
        return None


def wait_until_resumable(request: PendingRequest, timeout: float = 60) -> bool:
    """Block until the run is Paused under the request's key with its form schema saved (True), or
    has gone on without pausing for it (False): an answer recorded before the run reached its pause
    is found there, and the run completes or moves to its next page without waiting."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                run = client.read_flow_run(UUID(request.flow_run_id))
            except ObjectNotFound:
                raise ConfigurationError(
                    f"flow run {request.flow_run_id} is unknown to the Prefect server at {client.api_url}; "
                    "set PREFECT_API_URL to the server the run uses"
                ) from None
            state, now = run.state, requests.standing(request.id)
            paused_here = state is not None and state.is_paused() and state.state_details.pause_key == now.pause_key
            if state and now.status != "pending" and (state.is_completed() or (state.is_paused() and not paused_here)):
                return False
            if state and state.is_final():
                raise ApprovalRejected(
                    f"flow run {request.flow_run_id} is {state.name}: it no longer waits for a decision"
                )
            if (
                paused_here
                and pause_input(client, request.flow_run_id, now.pause_key, "schema", state.name) is not None
            ):
                return True
            if time.monotonic() > deadline:
                name = state.name if state else "unknown"
                raise ConfigurationError(
                    f"flow run {request.flow_run_id} is not waiting for this decision (state {name})"
                )
            time.sleep(0.5)


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def run_states(flow_run_ids: list[str], api_url: str) -> dict[str, str]:
    """The Prefect state name of each flow run, asked of the server at ``api_url``, so a listing can
    show runs that died while paused."""
    ids = [UUID(i) for i in flow_run_ids if _is_uuid(i)]  # a request opened outside Prefect names no flow run
    if not ids:
        return {}
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
    return {str(run.id): run.state.name if run.state else "unknown" for run in runs}


def submit(request: PendingRequest, answer: ApprovalAnswer, wait: float = 60) -> str:
    """Record the answer (refused answers raise ``ApprovalRejected``, audited), then wake the run.
    Returns what became of the run: ``resumed``; ``TAKEN`` when it found the decision on its way to
    the pause and went on without one; or why it was not woken while the decision stands."""
    decisions.decide(request.id, answer)
    if runs.process_gone(request.flow_run_id):
        return "the run's process is gone, so the decision is kept for `opsgate recover`, which executes it"
    try:
        if not wait_until_resumable(request, timeout=wait):
            return TAKEN
        # the sync implementation whatever runs in this thread: Prefect would hand back an un-awaited
        # coroutine where an event loop runs (a browser driver, a notebook) and nothing would wake
        resume_flow_run(UUID(request.flow_run_id), run_input=answer.model_dump(mode="json"), _sync=True)
    except (
        ApprovalRejected,
        ConfigurationError,
        FlowPauseTimeout,
        NotPausedError,
        RuntimeError,
    ) as exc:  # Prefect's ways of saying "not now"
        return f"the decision is recorded, but the run was not woken ({exc}); it finds the decision when it next looks, or `opsgate recover` executes it"
    return RESUMED


def submit_pages(
    answers: Sequence[Answered], recording: Callable[[list[Answered]], Iterable[Answered]] | None = None
) -> str | None:
    """Answer several pages of one run at once, each recorded as its own decision (refused ones
    raise ``ApprovalRejected`` from ``decide``): the pages the run does not wait on yet first
    (through ``recording``, a progress display, when given), then the page it waits on, which
    wakes it (``submit``: what became of the run). None when the page it waits on is not among
    them: the run finds the others decided when it reaches them."""
    if not answers:
        return None
    waited = requests.next_request(answers[0][0].flow_run_id)
    now = [(page, answer) for page, answer in answers if waited is not None and page.id == waited.id]
    later = [(page, answer) for page, answer in answers if waited is None or page.id != waited.id]
    for page, answer in recording(later) if recording else later:
        decisions.decide(page.id, answer)
    return submit(*now[0]) if now else None
