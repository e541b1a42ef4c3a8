"""Approvers on a real Prefect server: the policy's channels hear when a run waits, before its
deadline and when it passes (the run then ends `Expired`, nothing written); four-eyes cases go to
a second, different approver who did not start the run, on the CLI's path and on the UI's; a large
batch is decided page by page, or every page in one command, and written in one executor task."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.flow_runs import resume_flow_run
from sqlalchemy import select
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ApprovalRejected
from opsgate.governance import requests
from opsgate.governance.answers import answer_for
from opsgate.notify import approval_notices
from opsgate.orchestration.resume import RESUMED, TAKEN, submit, wait_until_resumable
from opsgate.settings import get_settings
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow
from tests.integration.conftest import payables_count, wait_for_request, wait_for_the_next_request
from tests.support.batches import write_inbox
from tests.support.policies import use_policy_variant
from tests.support.receiver import Receiver

WORKFLOW = "invoice_extraction"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """Three good invoices."""
    return write_inbox(tmp_path / "inbox")


def _events(kind: str) -> list[AuditRow]:
    with transaction() as session:
        rows = session.execute(select(AuditRow).where(AuditRow.event == kind).order_by(AuditRow.seq)).scalars().all()
        session.expunge_all()
    return list(rows)


def _state_name(flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
        return state.name if state else "none"


def test_channels_hear_when_a_run_waits_before_the_deadline_and_when_it_passes(
    start_flow, inbox: Path, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def short_deadline(policy: dict[str, Any]) -> None:
        policy["channels"] = {"ap-room": {"kind": "webhook", "url": receiver.url}}
        policy["approvals"].update(
            notify=["ap-room"], deadline_minutes=0.15, remind_before_minutes=0.1
        )  # 9 s; reminder after 3 s

    use_policy_variant(tmp_path / "policies", monkeypatch, short_deadline)
    run = start_flow(inbox)
    request = wait_for_request()
    summary = run.finish()

    assert summary.counts == {"expired": 3} and payables_count() == 0
    assert _state_name(request.flow_run_id) == "Expired"
    bodies = [r.json() for r in receiver.requests]
    assert [b["event"] for b in bodies] == ["approval.waiting", "approval.reminder", "approval.expired"]
    waiting = bodies[0]
    assert waiting["data"]["proposals"] == 3 and waiting["data"]["deadline"] == request.deadline.isoformat()
    assert (
        waiting["link"].endswith(f"/runs/flow-run/{request.flow_run_id}") and waiting["fields"]["workflow"] == WORKFLOW
    )
    review = f"http://127.0.0.1:8400/runs/{request.flow_run_id}"
    assert waiting["data"]["review_url"] == review and review in waiting["text"], "the review screen is linked"
    assert "ap-lead@example.com" in bodies[2]["text"], "the expiry names the owner the cases are escalated to"
    (reminded,) = _events("reminded")
    assert reminded.data["waiting"] == 3 and reminded.data["channels"] == ["ap-room"]
    assert len([e for e in _events("escalated") if e.data["reasons"][0]["reason"] == "approval_timeout"]) == 3
    assert [e.data["event"] for e in _events("delivered")] == [
        "approval.waiting",
        "approval.reminder",
        "approval.expired",
    ]


def _four_eyes(policy: dict[str, Any]) -> None:
    policy["approvals"]["four_eyes"] = [{"case_type": "invoice", "field": "total", "above": "1.00"}]


def test_four_eyes_cases_wait_for_a_second_approver_who_is_neither_the_first_nor_the_requester(
    start_flow, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _four_eyes)
    run = start_flow(inbox, trigger="cli:bob")
    first = wait_for_request()
    submit(first, answer_for(first, "alice"))

    second = wait_for_request(exclude={first.id})
    assert second.pause_key == "invoice-extraction-approval-second-1" and payables_count() == 0
    with pytest.raises(ApprovalRejected, match="alice already approved"):
        submit(second, answer_for(second, "alice"))
    wait_until_resumable(second)  # the UI's path: the form goes straight to the server, the gate refuses it
    resume_flow_run(UUID(second.flow_run_id), run_input=answer_for(second, "bob").model_dump(mode="json"))
    again = wait_for_the_next_request(second)
    assert again.pause_key == "invoice-extraction-approval-second-2"
    assert any("bob started this run" in p for e in _events("approval_refused") for p in e.data["problems"])
    assert payables_count() == 0

    submit(again, answer_for(again, "carol"))
    assert run.finish().counts == {"executed": 3} and payables_count() == 3


def test_a_large_batch_is_decided_page_by_page(start_flow, inbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGATE_APPROVAL_PAGE_SIZE", "2")
    get_settings.cache_clear()
    run = start_flow(inbox)
    page1 = wait_for_request()
    pages = [r for r in requests.pending_requests(WORKFLOW) if r.flow_run_id == page1.flow_run_id]
    assert [(r.pause_key, len(r.proposals)) for r in pages] == [
        ("invoice-extraction-approval-page1-1", 2),
        ("invoice-extraction-approval-page2-1", 1),
    ]
    page1 = requests.request_for_run(page1.flow_run_id)
    assert page1 is not None and page1.pause_key.startswith("invoice-extraction-approval-page1")
    submit(page1, answer_for(page1, "alice"))
    page2 = wait_for_the_next_request(page1)
    assert page2.id == pages[1].id
    submit(page2, answer_for(page2, "alice", rejections={page2.proposals[0].id: "not ours"}))
    assert run.finish().counts == {"executed": 2, "rejected": 1}


def test_a_decision_recorded_before_the_run_pauses_is_taken_without_waking_it(
    start_flow, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer comes between the request being opened and the run pausing for it: the run finds
    it in the store, goes on to its next page without pausing for the first, and the approver is
    told so at once instead of waiting for a pause that never comes."""
    monkeypatch.setenv("OPSGATE_APPROVAL_PAGE_SIZE", "2")
    get_settings.cache_clear()
    announce = approval_notices.announce

    def announce_once_page1_is_decided(event: str, *args: Any) -> None:
        if event == "waiting":  # the gate tells the channels just before it pauses; the answer may come before or after
            context = FlowRunContext.get()
            assert context is not None and context.flow_run is not None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                waiting = requests.request_for_run(str(context.flow_run.id))
                if waiting is None or waiting.page != 1:
                    break
                time.sleep(0.1)
        announce(event, *args)

    monkeypatch.setattr(approval_notices, "announce", announce_once_page1_is_decided)
    run = start_flow(inbox)
    page1 = wait_for_request()
    page1 = requests.request_for_run(page1.flow_run_id)
    assert page1 is not None and page1.page == 1
    assert submit(page1, answer_for(page1, "alice")) == TAKEN
    page2 = wait_for_the_next_request(page1)
    assert page2.page == 2
    assert submit(page2, answer_for(page2, "alice")) == RESUMED
    assert run.finish().counts == {"executed": 3} and payables_count() == 3
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(UUID(page1.flow_run_id))
    assert [s.state_details.pause_key for s in states if s.is_paused()] == [page2.pause_key], (
        "the run paused for the second page only"
    )


def _task_runs(flow_run_id: str) -> list[str]:
    """The names of the Prefect task runs of one flow run, as the server recorded them."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])))
    return sorted(run.name.rsplit("-", 1)[0] for run in runs)


def test_every_page_of_a_large_batch_is_answered_in_one_command_and_written_in_one_task(
    start_flow, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An AP clerk approves a run of three pages from the CLI in one answer, rejecting one invoice:
    every page is recorded as its own decision, the run wakes once, and the two approved invoices are
    written by one executor task, not one task per invoice."""
    monkeypatch.setenv("OPSGATE_APPROVAL_PAGE_SIZE", "1")
    get_settings.cache_clear()
    run = start_flow(inbox)
    waiting = wait_for_request()
    pages = [r for r in requests.pending_requests(WORKFLOW) if r.flow_run_id == waiting.flow_run_id]
    assert [r.page for r in pages] == [1, 2, 3]
    rejected = pages[1].proposals[0].id

    runner = CliRunner()
    only_first = runner.invoke(app, ["approvals", "approve", waiting.flow_run_id[:8], "--as", "alice"])
    assert only_first.exit_code == 0, only_first.output
    assert "approved 1, rejected 0" in only_first.output, "without --all the page the run waits on is answered"
    page2 = wait_for_the_next_request(pages[0])
    assert page2.id == pages[1].id and payables_count() == 0

    answered = runner.invoke(
        app,
        [
            "approvals",
            "approve",
            waiting.flow_run_id[:8],
            "--as",
            "alice",
            "--all",
            "--reject",
            f"{rejected[:8]}:not ours",
        ],
    )
    assert answered.exit_code == 0, answered.output
    assert "approved 1, rejected 1 on 2 pages" in answered.output
    assert run.finish().counts == {"executed": 2, "rejected": 1} and payables_count() == 2
    assert [e.data["approver"] for e in _events("approved")] == ["alice", "alice"]
    assert [e.proposal_id for e in _events("rejected")] == [rejected]
    names = _task_runs(waiting.flow_run_id)
    assert names.count("execute-batch") == 1 and not any("execute-action" in n for n in names), names


def test_only_the_pages_read_with_enough_confidence_are_answered(
    start_flow, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--all --min-confidence` answers the pages whose required fields were all read at least that
    surely; the others stay pending for a closer look, and nothing of them is written."""
    monkeypatch.setenv("OPSGATE_APPROVAL_PAGE_SIZE", "1")
    get_settings.cache_clear()
    run = start_flow(inbox)
    waiting = wait_for_request()
    pages = [r for r in requests.pending_requests(WORKFLOW) if r.flow_run_id == waiting.flow_run_id]
    required = ("invoice_number", "invoice_date", "currency", "total")  # the shipped policy's missing_data fields
    surest = {r.id: min(p.confidence[f] for p in r.proposals for f in required) for r in pages}
    line = max(surest.values())
    sure, unsure = [i for i, c in surest.items() if c >= line], [i for i, c in surest.items() if c < line]
    assert sure and unsure, f"the sample invoices are read with different confidence: {surest}"

    answered = CliRunner().invoke(
        app, ["approvals", "approve", waiting.flow_run_id, "--as", "alice", "--all", "--min-confidence", str(line)]
    )
    assert answered.exit_code == 0, answered.output
    still = {r.id for r in requests.pending_requests(WORKFLOW)}
    assert still == set(unsure), "the unsure pages wait; the sure ones were answered"
    for request_id in unsure:
        page = requests.pending_request(request_id)
        assert page is not None
        submit(page, answer_for(page, "bob"))
    assert run.finish().counts == {"executed": 3} and payables_count() == 3
    approvers = {e.proposal_id: e.data["approver"] for e in _events("approved")}
    assert {approvers[p.id] for r in pages if r.id in sure for p in r.proposals} == {"alice"}
    assert {approvers[p.id] for r in pages if r.id in unsure for p in r.proposals} == {"bob"}
