"""Approvals: a whole answer or none of it, bound to the batch shown; edits are corrections;
nobody deciding in time expires the batch. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opsgate.errors import ApprovalRejected, PolicyDenied
from opsgate.governance import answers, executor, requests
from opsgate.governance.answers import Review, answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.learning.decisions import decide
from opsgate.models import EscalationReason, Status
from opsgate.store.tables import ApprovalRequestRow, ApprovalRow, CorrectionRow, PayableRow, ProposalRow
from tests.support.batches import Batch
from tests.unit.platform.conftest import StoreProbe, by_source


def refused(store: StoreProbe, request: PendingRequest, answer: answers.ApprovalAnswer, *words: str) -> str:
    """Decide, expect a refusal naming ``words``, and check nothing was recorded as decided."""
    with pytest.raises(ApprovalRejected) as caught:
        decide(request.id, answer)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert store.count(ApprovalRow) == 0
    assert store.count(CorrectionRow) == 0
    assert store.get(ApprovalRequestRow, request.id).status == "pending"
    assert {r.status for r in store.rows(ProposalRow)} == {Status.AWAITING_APPROVAL}
    assert store.events("approved") == [] and store.events("rejected") == []
    (event,) = store.events("approval_refused")
    assert event.data["request"] == request.id
    assert event.data["problems"]
    return message


def test_a_complete_answer_approves_every_proposal(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    decisions = decide(request_.id, answer_for(request_, "alice"))
    assert sorted(d.proposal_id for d in decisions) == sorted(p.id for p in batch.proposals)
    assert all(d.approval_id is not None for d in decisions)
    assert {r.status for r in store.rows(ProposalRow)} == {Status.APPROVED}
    assert {(a.decision, a.approver) for a in store.rows(ApprovalRow)} == {("approved", "alice")}
    assert store.get(ApprovalRequestRow, request_.id).status == "decided"
    assert len(store.events("approved")) == 3
    assert store.count(CorrectionRow) == 0


def test_a_wrong_batch_digest_is_refused(store: StoreProbe, request_: PendingRequest) -> None:
    answer = answer_for(request_, "alice").model_copy(update={"batch_digest": "0" * 64})
    assert "digest" in refused(store, request_, answer)


def test_a_refused_answer_can_be_followed_by_a_good_one(store: StoreProbe, request_: PendingRequest) -> None:
    bad = answer_for(request_, "alice").model_copy(update={"batch_digest": "0" * 64})
    refused(store, request_, bad)
    assert len(decide(request_.id, answer_for(request_, "alice"))) == 3


def test_a_proposal_left_undecided_is_refused(store: StoreProbe, request_: PendingRequest) -> None:
    answer = answer_for(request_, "alice")
    skipped = answer.reviews[1].proposal_id
    answer = answer.model_copy(update={"reviews": [answer.reviews[0], answer.reviews[2]]})
    message = refused(store, request_, answer, "not decided")
    assert skipped in message


def test_a_proposal_outside_the_batch_is_refused(store: StoreProbe, request_: PendingRequest) -> None:
    answer = answer_for(request_, "alice")
    stranger = Review(proposal_id="00000000-0000-0000-0000-000000000000")
    refused(store, request_, answer.model_copy(update={"reviews": [*answer.reviews, stranger]}), "not in this batch")


def test_rejecting_without_a_reason_is_refused(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    pid = by_source(batch, "de.pdf")
    refused(store, request_, answer_for(request_, "alice", rejections={pid: "  "}), "needs a reason")


def test_a_blank_approver_is_refused(store: StoreProbe, request_: PendingRequest) -> None:
    refused(store, request_, answer_for(request_, " "), "approver")


def test_a_rejection_with_a_reason_is_recorded(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    pid = by_source(batch, "de.pdf")
    decisions = decide(request_.id, answer_for(request_, "alice", rejections={pid: "duplicate of a paper invoice"}))
    assert pid not in {d.proposal_id for d in decisions} and len(decisions) == 2
    row = store.get(ProposalRow, pid)
    assert row.status == Status.REJECTED and row.detail == "duplicate of a paper invoice"
    (rejection,) = store.rows(ApprovalRow, ApprovalRow.proposal_id == pid)
    assert rejection.decision == "rejected" and rejection.action_payload is None
    (event,) = store.events("rejected", pid)
    assert event.data["reason"] == "duplicate of a paper invoice"


def test_an_edit_is_approved_as_a_correction_and_executed(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    pid = by_source(batch, "us.pdf")  # the sample's total is 1,222.56
    decide(request_.id, answer_for(request_, "alice", edits={pid: {"total": "999.99"}}))
    (approval,) = store.rows(ApprovalRow, ApprovalRow.proposal_id == pid)
    assert Decimal(approval.action_payload["total"]) == Decimal("999.99")
    assert approval.action_payload["invoice_number"] == "BOS-24-0317"  # the rest is unchanged
    assert store.get(ProposalRow, pid).payload["total"] == "1222.56"  # the proposal stays as proposed
    (correction,) = store.rows(CorrectionRow)
    assert (
        correction.proposal_id == pid and correction.approval_id == approval.id and correction.corrected_by == "alice"
    )
    assert correction.field == "total"
    assert Decimal(correction.proposed_value) == Decimal("1222.56")
    assert Decimal(correction.approved_value) == Decimal("999.99")
    (event,) = store.events("corrected", pid)
    assert event.data["field"] == "total"
    assert Decimal(event.data["proposed"]) == Decimal("1222.56") and Decimal(event.data["approved"]) == Decimal(
        "999.99"
    )

    executor.execute_one(batch.run.policy, pid)
    (payable,) = store.rows(PayableRow, PayableRow.proposal_id == pid)
    assert payable.total == Decimal("999.99")


def test_an_edit_repeating_the_proposed_values_is_not_a_correction(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    pid = by_source(batch, "us.pdf")
    decide(request_.id, answer_for(request_, "alice", edits={pid: {"total": "1222.56", "currency": "USD"}}))
    assert store.count(CorrectionRow) == 0
    assert store.events("corrected") == []


def test_an_amount_written_differently_is_not_a_correction(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    """The approved action is normalised through the writer's model "so equal means unchanged":
    1222.560 is the proposed 1222.56, not a correction."""
    pid = by_source(batch, "us.pdf")
    decide(request_.id, answer_for(request_, "alice", edits={pid: {"total": "1222.560"}}))
    assert store.count(CorrectionRow) == 0
    assert store.events("corrected") == []


def test_an_approved_amount_is_written_exactly(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    """What the person approved is what the ledger holds: an amount the ledger cannot hold
    (three decimals) is refused at approval, not rounded on the way in; the amount approved
    instead is written to the cent."""
    pid = by_source(batch, "us.pdf")  # the sample's total is 1,222.56
    refused(store, request_, answer_for(request_, "alice", edits={pid: {"total": "999.999"}}), "total")

    decide(request_.id, answer_for(request_, "alice", edits={pid: {"total": "1199.07"}}))
    outcome = executor.execute_one(batch.run.policy, pid)

    assert outcome.status is Status.EXECUTED
    (payable,) = store.rows(PayableRow, PayableRow.proposal_id == pid)
    assert (payable.total, str(payable.total)) == (Decimal("1199.07"), "1199.07")


def test_an_invalid_edit_is_refused_naming_the_field(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    pid = by_source(batch, "de.pdf")
    message = refused(store, request_, answer_for(request_, "alice", edits={pid: {"currency": "EURO"}}), "currency")
    assert "de.pdf" in message


def test_an_edit_to_a_field_the_action_does_not_have_is_refused(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    """A typo'd field name (`totl`) must not be dropped silently: the approver believes the total
    was corrected, and the original total would be written."""
    pid = by_source(batch, "us.pdf")
    refused(store, request_, answer_for(request_, "alice", edits={pid: {"totl": "999.99"}}), "totl")


def test_deciding_twice_is_refused(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    decide(request_.id, answer_for(request_, "alice"))
    pid = by_source(batch, "uk.pdf")
    with pytest.raises(ApprovalRejected, match="already decided"):
        decide(request_.id, answer_for(request_, "mallory", rejections={pid: "changed my mind"}))
    assert store.get(ProposalRow, pid).status == Status.APPROVED
    assert {a.approver for a in store.rows(ApprovalRow)} == {"alice"}
    assert len(store.events("approval_refused")) == 1


def test_an_unknown_request_is_refused(store: StoreProbe, request_: PendingRequest) -> None:
    with pytest.raises(ApprovalRejected):
        decide(request_.id + 100, answer_for(request_, "alice"))
    assert store.count(ApprovalRow) == 0


def test_expiry_escalates_to_the_owner_and_blocks_execution(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    owner = f"{batch.run.policy.owner.name} <{batch.run.policy.owner.contact}>"
    requests.expire(request_.id, owner)
    assert store.get(ApprovalRequestRow, request_.id).status == "expired"
    ids = sorted(p.id for p in batch.proposals)
    assert {r.status for r in store.rows(ProposalRow)} == {Status.EXPIRED}
    assert sorted(e.proposal_id for e in store.events("expired")) == ids
    escalated = store.events("escalated")
    assert sorted(e.proposal_id for e in escalated) == ids
    for event in escalated:
        assert event.data["to"] == owner
        assert [r["reason"] for r in event.data["reasons"]] == [EscalationReason.APPROVAL_TIMEOUT.value]

    with pytest.raises(PolicyDenied):
        executor.execute_one(batch.run.policy, ids[0])
    assert store.count(PayableRow) == 0
    # A late answer is refused too.
    with pytest.raises(ApprovalRejected, match="expired"):
        decide(request_.id, answer_for(request_, "alice"))
    assert store.count(ApprovalRow) == 0


def test_expiring_a_decided_request_changes_nothing(store: StoreProbe, request_: PendingRequest) -> None:
    decide(request_.id, answer_for(request_, "alice"))
    requests.expire(request_.id, "owner")
    assert store.get(ApprovalRequestRow, request_.id).status == "decided"
    assert {r.status for r in store.rows(ProposalRow)} == {Status.APPROVED}
    assert store.events("expired") == []
