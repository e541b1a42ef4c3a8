"""Decisions that cannot be walked around: who may decide and whether four eyes apply are asked of
the case as proposed and as approved (an edit can move it into a stricter case type); every answer
is bounded and validated before anything is written, however it arrives; a decision is recorded
once, and a second answer to a decided request is refused and audited. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from opsgate.errors import ApprovalRejected, PolicyDenied
from opsgate.governance import answers, executor, requests
from opsgate.governance.answers import answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.learning.decisions import decide, receive
from opsgate.models import Status
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRequestRow, ApprovalRow, PayableRow, ProposalRow, RunRow
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import DE_INVOICE, US_INVOICE
from tests.unit.platform.conftest import StoreProbe, by_source

SMALL_KNOWN = {
    "refines": "invoice",
    "below": {"field": "total", "amount": "1300.00"},
    "context": {"vendor_known": True},
}


def _small_known_vendors(clerks: list[str]) -> Any:
    def change(policy: dict[str, Any]) -> None:
        policy["case_types"] = {"small_known_vendor": SMALL_KNOWN}
        policy["autonomy"]["small_known_vendor"] = "reviewed"
        policy.pop("earned_autonomy", None)
        policy["approvals"]["groups"]["ap-clerks"]["case_types"] = clerks
        policy["approvals"]["four_eyes"] = [{"case_type": "invoice", "field": "total", "above": "5000.00"}]

    return change


def _next_invoice(lines: list[str], number: str) -> list[str]:
    return [line.replace("BOS-24-0317", number).replace("NT-2024-0815", number) for line in lines]


@pytest.fixture
def known_vendor_case(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> tuple[Batch, PendingRequest]:
    """Brightline was paid once; its next invoice (1,222.56) is a small_known_vendor case."""
    use_policy_variant(tmp_path / "policies", monkeypatch, _small_known_vendors(getattr(request, "param", ["invoice"])))
    first = proposed_batch(write_inbox(tmp_path / "first", {"us.pdf": US_INVOICE}))
    opened = open_request(first)
    for decision in decide(opened.id, answer_for(opened, "olga")):
        executor.execute_one(first.run.policy, decision.proposal_id)
    second = proposed_batch(write_inbox(tmp_path / "second", {"us-2.pdf": _next_invoice(US_INVOICE, "BOS-24-0400")}))
    assert [p.case_type for p in second.proposals] == ["small_known_vendor"]
    return second, open_request(second, flow_run_id="second-run")


def test_an_edit_into_a_four_eyes_amount_needs_a_second_approver(
    store: StoreProbe, known_vendor_case: tuple[Batch, PendingRequest]
) -> None:
    """The four-eyes rule names `invoice`; the case was proposed as small_known_vendor (which refines
    invoice) and, edited to 9,000.00, is an ordinary invoice: two people must approve it."""
    batch, request = known_vendor_case
    pid = batch.proposals[0].id
    assert decide(request.id, answer_for(request, "olga", edits={pid: {"total": "9000.00"}})) == []
    assert store.get(ProposalRow, pid).status == Status.AWAITING_APPROVAL
    (approved,) = store.events("approved", pid)
    assert approved.data["case_types"] == ["small_known_vendor", "invoice"]
    assert approved.data["four_eyes"] == {"approvers": ["olga"], "complete": False}

    with transaction() as session:  # someone with database access marks it approved anyway
        session.execute(update(ProposalRow).where(ProposalRow.id == pid).values(status=Status.APPROVED))
    with pytest.raises(PolicyDenied, match="four eyes: .* it has 1"):
        executor.execute_one(batch.run.policy, pid)
    with transaction() as session:
        session.execute(update(ProposalRow).where(ProposalRow.id == pid).values(status=Status.AWAITING_APPROVAL))

    second = requests.next_request("second-run")
    assert second is not None and second.proposals[0].payload["total"] == "9000.00"
    with pytest.raises(ApprovalRejected, match="olga already approved"):
        decide(second.id, answer_for(second, "olga"))
    (decision,) = decide(second.id, answer_for(second, "lena"))
    executor.execute_one(batch.run.policy, decision.proposal_id)
    assert [str(p.total) for p in store.rows(PayableRow, PayableRow.proposal_id == pid)] == ["9000.00"]


@pytest.mark.parametrize("known_vendor_case", [["small_known_vendor"]], indirect=True)
def test_an_edit_into_a_case_type_the_approver_may_not_decide_is_refused(
    store: StoreProbe, known_vendor_case: tuple[Batch, PendingRequest]
) -> None:
    """Clerks decide small invoices from known vendors only; raising one to 2,000.00 makes it an
    invoice, which they may not decide."""
    batch, request = known_vendor_case
    pid = batch.proposals[0].id
    with pytest.raises(
        ApprovalRejected,
        match=r"alice may not decide on invoice cases such as .*us-2\.pdf \(as approved: .* was proposed as small_known_vendor\)",
    ):
        decide(request.id, answer_for(request, "alice", edits={pid: {"total": "2000.00"}}))
    assert store.rows(ApprovalRow) and all(a.proposal_id != pid for a in store.rows(ApprovalRow))
    (decision,) = decide(request.id, answer_for(request, "alice", edits={pid: {"total": "1200.00"}}))
    assert decision.proposal_id == pid, "an edit that keeps the case type is the clerk's to make"


def test_an_edit_past_the_high_value_rule_is_refused(
    store: StoreProbe, known_vendor_case: tuple[Batch, PendingRequest]
) -> None:
    """Proposed at 30,000 the case would have gone to the owner (high_value above 25,000): an edit
    cannot take it past that rule to the executor."""
    batch, request = known_vendor_case
    pid = batch.proposals[0].id
    with pytest.raises(
        ApprovalRejected,
        match=r"does not let a person approve here \(high_value \(total\): 30000.00 is above 25000.00\)",
    ):
        decide(request.id, answer_for(request, "olga", edits={pid: {"total": "30000.00"}}))
    assert store.count(ApprovalRow, ApprovalRow.proposal_id == pid) == 0


# --- answers, however they arrive --------------------------------------------------------------


def _as_sent(request: PendingRequest, approver: str, **review: Any) -> dict[str, Any]:
    """An answer as JSON, the way the Prefect API receives one (no form, no client-side checks)."""
    answer = answer_for(request, "alice").model_dump(mode="json")
    answer["approver"] = approver
    for item in answer["reviews"]:
        item.update(review)
    return answer


@pytest.mark.parametrize(
    ("approver", "review", "problem"),
    [
        ("m" * 300, {}, "approver: String should have at most 100 characters"),
        ("ali\x1bce", {}, "approver: String should match pattern"),
        ("alice\u202egnp.exe", {}, "approver: String should match pattern"),
        ("", {}, "approver: String should have at least 1 character"),
        ("alice", {"decision": "reject", "reason": "x" * 2001}, "reason: String should have at most 2000 characters"),
        ("alice", {"proposal_id": "'; drop table proposals; --"}, "proposal_id: String should match pattern"),
    ],
)
def test_an_answer_outside_its_bounds_is_refused_and_audited(
    store: StoreProbe, request_: PendingRequest, approver: str, review: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ApprovalRejected, match="the answer is not valid") as refused:
        decide(request_.id, _as_sent(request_, approver, **review))
    assert problem in str(refused.value)
    (event,) = store.events("approval_refused")
    assert len(event.actor) <= 200 and any(problem in p for p in event.data["problems"])
    assert store.rows(ApprovalRow) == [] and store.get(ApprovalRequestRow, request_.id).status == "pending"
    assert len(decide(request_.id, answer_for(request_, "alice"))) == 3, "the request still takes a valid answer"


def test_an_answer_built_without_validation_is_validated_before_anything_is_written(
    store: StoreProbe, request_: PendingRequest
) -> None:
    forged = answers.ApprovalAnswer.model_construct(
        approver="x" * 500, batch_digest=request_.digest, reviews=answer_for(request_, "alice").reviews
    )
    with pytest.raises(ApprovalRejected, match="at most 100 characters"):
        decide(request_.id, forged)
    assert store.rows(ApprovalRow) == []


def test_the_answer_that_woke_the_run_is_its_recorded_decision_and_a_second_is_refused(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    """The CLI records its answer, then wakes the run with it: the gate takes that as the decision
    recorded. Another answer arriving for the decided request (from the UI) is refused, audited."""
    answer = answer_for(request_, "alice")
    assert len(decide(request_.id, answer)) == 3
    assert receive(request_.id, answer.model_dump(mode="json")) is True
    assert store.events("approval_refused") == []
    other = answer_for(request_, "bob", rejections={by_source(batch, "uk.pdf"): "no"})
    assert receive(request_.id, other.model_dump(mode="json")) is True
    (refused,) = store.events("approval_refused")
    assert refused.actor == "bob" and refused.data["problems"] == [
        f"approval request {request_.id} was already decided"
    ]
    assert {r.approver for r in store.rows(ApprovalRow)} == {"alice"}
    assert {d.proposal_id for d in requests.cleared(batch.run.id)} == {p.id for p in batch.proposals}, (
        "alice's approvals stand"
    )


def test_two_answers_at_once_record_one_decision(store: StoreProbe, request_: PendingRequest) -> None:
    first = answer_for(request_, "alice")
    decide(request_.id, first)
    with pytest.raises(ApprovalRejected, match="already decided"):
        decide(request_.id, answer_for(request_, "bob"))
    assert {r.approver for r in store.rows(ApprovalRow)} == {"alice"}


def test_a_deadline_passed_with_one_of_two_approvals_expires_only_what_waits(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda p: p["approvals"].update(four_eyes=[{"case_type": "invoice", "field": "total", "above": "1300.00"}]),
    )
    batch = proposed_batch(write_inbox(tmp_path / "inbox", {"us.pdf": US_INVOICE, "de.pdf": DE_INVOICE}))
    request = open_request(batch)
    decisions = decide(request.id, answer_for(request, "alice"))
    assert [d.proposal_id for d in decisions] == [by_source(batch, "us.pdf")], "1,222.56 needs one person, 1,493.45 two"
    assert requests.expire_run(request.flow_run_id, "owner") == 1
    assert store.get(ProposalRow, by_source(batch, "de.pdf")).status == Status.EXPIRED
    assert store.get(ProposalRow, by_source(batch, "us.pdf")).status == Status.APPROVED


# --- an insider with the database, colluding with an approver ----------------------------------


def test_a_case_type_rewritten_in_the_database_does_not_let_another_group_approve(
    store: StoreProbe, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clerks may decide receipts only; the invoices are relabelled receipts in the database so a
    clerk can approve them. The gate is fooled; the executor holds the case type the audit log
    recorded, and refuses."""
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda p: p["approvals"]["groups"]["ap-clerks"].update(case_types=["receipt"]),
    )
    batch = proposed_batch(inbox)
    request = open_request(batch)
    with transaction() as session:
        session.execute(update(ProposalRow).values(case_type="receipt"))
    decisions = decide(request.id, answer_for(request, "alice"))
    assert len(decisions) == 3
    for decision in decisions:
        with pytest.raises(PolicyDenied, match="alice may not decide on invoice cases"):
            executor.execute_one(batch.run.policy, decision.proposal_id)
    assert store.count(PayableRow) == 0


def test_a_requester_rewritten_in_the_database_is_still_not_a_second_approver(
    store: StoreProbe, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bob started the run; the run is relabelled as scheduled so bob can be the second approver of
    his own four-eyes cases. The executor reads who started the run from its intact audit event."""
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda p: p["approvals"].update(four_eyes=[{"case_type": "invoice", "field": "total", "above": "1.00"}]),
    )
    batch = proposed_batch(inbox, trigger="cli:bob")
    request = open_request(batch)
    decide(request.id, answer_for(request, "alice"))
    with transaction() as session:
        session.execute(update(RunRow).where(RunRow.id == batch.run.id).values(trigger="schedule"))
    second = requests.next_request(request.flow_run_id)
    assert second is not None
    decisions = decide(second.id, answer_for(second, "bob"))
    assert len(decisions) == 3, "the gate reads the rewritten run"
    for decision in decisions:
        with pytest.raises(PolicyDenied, match="it has 1"):
            executor.execute_one(batch.run.policy, decision.proposal_id)
    assert store.count(PayableRow) == 0
