"""Answers forged through the Prefect API, around the CLI and the form: an outsider, a name too long
for the store or holding control characters, a wrong digest, a proposal that is not on the form,
an edit that moves a case into a stricter case type; and a requester who names someone else. Each
is refused (by Prefect's schema check or by opsgate's, audited) and the run keeps waiting for a
valid answer; nothing is written without the approval the policy demands. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opsgate.governance import requests
from opsgate.governance.answers import answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditRow, PayableRow, RunRow
from tests.support.batches import write_inbox
from tests.support.policies import use_policy_variant
from tests.support.prefect_api import resume_over_api
from tests.support.processes import cli, opsgate, paused_request, start
from tests.support.samples import US_INVOICE


def resume(api: str, request: PendingRequest, answer: dict[str, Any]) -> dict[str, Any]:
    """POST the answer to Prefect's resume endpoint, as the UI or any API client can."""
    response = resume_over_api(api, request.flow_run_id, answer)
    response.raise_for_status()
    return response.json()


def refused_events() -> list[AuditRow]:
    with transaction() as session:
        return list(
            session.execute(
                select(AuditRow).where(AuditRow.event == "approval_refused").order_by(AuditRow.seq)
            ).scalars()
        )


def payables() -> int:
    with transaction() as session:
        return len(session.execute(select(PayableRow)).scalars().all())


def repaused(request: PendingRequest, timeout: float = 60) -> PendingRequest:
    """The request once the run paused again under a new key after a refused answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        again = requests.request_for_run(request.flow_run_id)
        if again is not None and again.pause_key != request.pause_key:
            from opsgate.orchestration.resume import wait_until_resumable

            wait_until_resumable(again)
            return again
        time.sleep(0.3)
    raise AssertionError("the run did not pause again")


@pytest.fixture
def waiting(flow_env: str, tmp_path: Path):  # noqa: ANN201 - (process, request)
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    try:
        yield run, paused_request(run)
    finally:
        run.kill()


@pytest.mark.parametrize(
    "forge",
    [
        lambda answer: answer | {"approver": "m" * 300},
        lambda answer: answer | {"approver": "alice\x1b[2J"},
        lambda answer: answer | {"approver": "ali\u202ecE"},
        lambda answer: answer | {"reviews": answer["reviews"][:2]},
        lambda answer: (
            answer | {"reviews": [r | {"fields": r["fields"] | {"vendor_name": "v" * 301}} for r in answer["reviews"]]}
        ),
    ],
    ids=[
        "300-character-name",
        "escape-sequence-name",
        "right-to-left-override-name",
        "missing-review",
        "vendor-name-longer-than-the-ledger-holds",
    ],
)
def test_an_answer_outside_the_form_is_refused_by_prefect_and_the_run_waits(flow_env: str, waiting, forge: Any) -> None:  # noqa: ANN001
    """Prefect checks a resume against the form's JSON schema: the answer never reaches the run,
    which on PostgreSQL used to fail writing the refusal of a 300-character name."""
    run, request = waiting
    answer = forge(answer_for(request, "alice").model_dump(mode="json"))
    assert resume(flow_env, request, answer)["status"] == "REJECT"
    assert requests.request_for_run(request.flow_run_id).pause_key == request.pause_key and run.poll() is None
    assert cli("approvals", "approve", request.flow_run_id, "--as", "alice").returncode == 0
    assert run.wait(120) == 0 and payables() == 3


@pytest.mark.parametrize(
    ("forge", "problem"),
    [
        (lambda answer, request: answer | {"approver": "mallory"}, "mallory may not decide on invoice cases"),
        (lambda answer, request: answer | {"batch_digest": "0" * 64}, "the batch was changed since it was shown"),
        (
            lambda answer, request: (
                answer
                | {
                    "reviews": [
                        answer["reviews"][0] | {"proposal_id": "00000000-0000-0000-0000-000000000000"},
                        *answer["reviews"][1:],
                    ]
                }
            ),
            "proposals not in this batch: 00000000-0000-0000-0000-000000000000",
        ),
        (
            lambda answer, request: (
                answer | {"reviews": [r | {"fields": {"total": "12.345"}} for r in answer["reviews"]]}
            ),
            "is not valid",
        ),
    ],
    ids=["outsider", "wrong-digest", "unknown-proposal", "sub-cent-edit"],
)
def test_a_forged_answer_is_refused_audited_and_the_run_waits_again(
    flow_env: str, waiting, forge: Any, problem: str
) -> None:  # noqa: ANN001
    run, request = waiting
    answer = forge(answer_for(request, "alice").model_dump(mode="json"), request)
    resumed = resume(flow_env, request, answer)
    assert resumed["status"] == "ACCEPT", resumed
    again = repaused(request)
    (refused,) = refused_events()
    assert any(problem in p for p in refused.data["problems"]), refused.data["problems"]
    with transaction() as session:
        assert session.execute(select(ApprovalRow)).scalars().all() == []
    assert payables() == 0 and run.poll() is None
    assert cli("approvals", "approve", again.flow_run_id, "--as", "alice").returncode == 0
    assert run.wait(120) == 0 and payables() == 3


def _small_invoices_and_four_eyes(policy: dict[str, Any]) -> None:
    policy["case_types"] = {"small_invoice": {"refines": "invoice", "below": {"field": "total", "amount": "1300.00"}}}
    policy["autonomy"]["small_invoice"] = "reviewed"
    policy.pop("earned_autonomy", None)
    policy["approvals"]["groups"]["ap-clerks"]["case_types"] = ["invoice", "small_invoice", "credit_note", "receipt"]
    policy["approvals"]["four_eyes"] = [{"case_type": "invoice", "field": "total", "above": "5000.00"}]


def test_an_edit_into_a_four_eyes_amount_through_the_api_waits_for_a_second_approver(
    flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _small_invoices_and_four_eyes)
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox", {"us.pdf": US_INVOICE})))
    try:
        request = paused_request(run)
        (proposal,) = request.proposals
        assert proposal.case_type == "small_invoice"
        answer = answer_for(request, "alice", edits={proposal.id: {"total": "9000.00"}}).model_dump(mode="json")
        assert resume(flow_env, request, answer)["status"] == "ACCEPT"
        second = repaused(request)
        assert second.pause_key == "invoice-extraction-approval-second-1" and payables() == 0
        refused = cli("approvals", "approve", second.flow_run_id, "--as", "alice")
        assert refused.returncode == 3 and "alice already approved" in refused.stderr
        assert cli("approvals", "approve", second.flow_run_id, "--as", "bob").returncode == 0
        assert run.wait(120) == 0
    finally:
        run.kill()
    with transaction() as session:
        assert [str(p.total) for p in session.execute(select(PayableRow)).scalars()] == ["9000.00"]


def test_the_requester_is_who_ran_it_not_who_they_say(
    flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run records the account of the process that ran it; --trigger is gone and $USER is not
    asked, so the requester cannot name someone else and then approve a four-eyes case."""
    me = pwd.getpwuid(os.getuid()).pw_name

    def change(policy: dict[str, Any]) -> None:
        policy["approvals"]["groups"]["ap-clerks"]["members"].append(me)
        policy["approvals"]["four_eyes"] = [{"case_type": "invoice", "field": "total", "above": "1.00"}]

    use_policy_variant(tmp_path / "policies", monkeypatch, change)
    inbox = str(write_inbox(tmp_path / "inbox"))
    flagged = opsgate(flow_env, "run", "invoices", "--inbox", inbox, "--trigger", "schedule")
    assert flagged.returncode == 2 and "No such option: --trigger" in flagged.stderr
    run = start(flow_env, "run", "invoices", "--inbox", inbox, USER="alice", LOGNAME="alice")
    try:
        request = paused_request(run)
        with transaction() as session:
            assert (
                session.execute(select(RunRow.trigger).where(RunRow.flow_run_id == request.flow_run_id)).scalar_one()
                == f"cli:{me}"
            )
        assert cli("approvals", "approve", request.flow_run_id, "--as", "alice").returncode == 0
        second = requests.next_request(request.flow_run_id)
        assert second is not None
        refused = cli("approvals", "approve", second.flow_run_id, "--as", me)
        assert refused.returncode == 3 and f"{me} started this run" in refused.stderr
        assert payables() == 0
    finally:
        run.kill()
