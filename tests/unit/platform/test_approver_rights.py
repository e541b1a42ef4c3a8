"""Who may decide, from the policy: approver groups per case type, and four eyes (two different
people, neither the run's requester, approve the same action). Checked when an answer arrives and
again by the executor, so a write cannot get around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from opsgate.errors import ApprovalRejected, PolicyDenied, PolicyError
from opsgate.governance import executor, requests
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.models import Status
from opsgate.policy.loader import load_policy, load_policy_file
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, PayableRow, ProposalRow
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import renumbered
from tests.unit.platform.conftest import StoreProbe, by_source

WORKFLOW = "invoice_extraction"


def _four_eyes_on_every_invoice(policy: dict[str, Any]) -> None:
    policy["approvals"]["four_eyes"] = [{"case_type": "invoice", "field": "total", "above": "1.00"}]


@pytest.fixture
def four_eyes(store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: Path) -> Batch:
    """The three invoices, each above the four-eyes amount, in a run bob started from the CLI."""
    use_policy_variant(tmp_path / "policies", monkeypatch, _four_eyes_on_every_invoice)
    return proposed_batch(inbox, trigger="cli:bob")


def test_someone_outside_the_approver_groups_is_refused_and_nothing_is_recorded(
    store: StoreProbe, request_: requests.PendingRequest
) -> None:
    with pytest.raises(
        ApprovalRejected,
        match=r"mallory may not decide on invoice cases .*\(the policy lets ap-clerks, ap-leads decide\)",
    ):
        decide(request_.id, answer_for(request_, "mallory"))
    assert store.rows(ApprovalRow) == [] and len(store.events("approval_refused")) == 1
    assert decide(request_.id, answer_for(request_, " Alice ")), "names are compared without case and spaces"


def test_a_refusal_names_the_first_problems_and_the_audit_keeps_all(store: StoreProbe, tmp_path: Path) -> None:
    """Six invoices answered by someone in no group: six problems, five named in the message."""
    inbox = write_inbox(
        tmp_path / "six",
        {
            **{f"a-{k}": v for k, v in renumbered("7001").items()},
            **{f"b-{k}": v for k, v in renumbered("7002").items()},
        },
    )
    request = open_request(proposed_batch(inbox))
    with pytest.raises(ApprovalRejected) as refused:
        decide(request.id, answer_for(request, "mallory"))
    assert str(refused.value).count("mallory may not decide") == 5 and str(refused.value).endswith(
        "; and 1 more (every one is in the audit log's approval_refused event)"
    )
    (event,) = store.events("approval_refused")
    assert len(event.data["problems"]) == 6


def test_a_group_decides_only_its_case_types(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: Path
) -> None:
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda p: p["approvals"]["groups"]["ap-clerks"].update(case_types=["receipt"]),
    )
    request = open_request(proposed_batch(inbox))
    with pytest.raises(ApprovalRejected, match="alice may not decide on invoice cases"):
        decide(request.id, answer_for(request, "alice"))
    assert len(decide(request.id, answer_for(request, "olga"))) == 3, "ap-leads decide every case type"


def test_four_eyes_needs_a_second_different_approver_who_did_not_start_the_run(
    store: StoreProbe, four_eyes: Batch
) -> None:
    request = open_request(four_eyes)
    policy = load_policy(WORKFLOW)
    assert decide(request.id, answer_for(request, "alice")) == [], "one approval clears nothing"
    waiting = [row for row in store.rows(ProposalRow) if row.status == Status.AWAITING_APPROVAL]
    assert sorted(p.id for p in waiting) == sorted(p.id for p in four_eyes.proposals)
    with pytest.raises(PolicyDenied, match="awaiting_approval, not approved"):
        executor.execute_one(policy, waiting[0].id)
    assert store.count(PayableRow) == 0

    second = requests.next_request(request.flow_run_id)
    assert second is not None and second.id != request.id, (
        "the second round is opened with the first approval, by no process"
    )
    assert second.pause_key == "invoice-extraction-approval-second-1"
    assert sorted(p.id for p in second.proposals) == sorted(p.id for p in waiting)
    assert all(p.summary.startswith("approved by alice; needs a second") for p in second.proposals)
    with pytest.raises(ApprovalRejected, match="ALICE already approved"):
        decide(second.id, answer_for(second, "ALICE"))
    with pytest.raises(ApprovalRejected, match="bob started this run"):
        decide(second.id, answer_for(second, "bob"))
    decisions = decide(second.id, answer_for(second, "carol"))
    assert len(decisions) == 3
    for decision in decisions:
        executor.execute_one(policy, decision.proposal_id)
    assert store.count(PayableRow) == 3
    assert [e.data["four_eyes"] for e in store.events("approved")][-1] == {
        "approvers": ["alice", "carol"],
        "complete": True,
    }


def test_an_edit_by_the_second_approver_is_a_new_action_that_needs_its_own_two_approvals(
    store: StoreProbe, four_eyes: Batch
) -> None:
    request = open_request(four_eyes)
    us = by_source(four_eyes, "us.pdf")
    decide(request.id, answer_for(request, "alice"))
    second = requests.next_request(request.flow_run_id)
    assert second is not None
    decisions = decide(second.id, answer_for(second, "carol", edits={us: {"po_number": "PO-77"}}))
    assert us not in {d.proposal_id for d in decisions} and len(decisions) == 2
    third = requests.next_request(request.flow_run_id)
    assert third is not None and third.pause_key == "invoice-extraction-approval-second2-1"
    (shown,) = third.proposals
    assert shown.id == us and shown.payload["po_number"] == "PO-77", "the next approver sees the action as edited"
    (decision,) = decide(third.id, answer_for(third, "alice"))
    executor.execute_one(load_policy(WORKFLOW), decision.proposal_id)
    assert [r.po_number for r in store.rows(PayableRow)] == ["PO-77"]


def test_the_executor_refuses_a_four_eyes_action_marked_approved_with_one_approval(
    store: StoreProbe, four_eyes: Batch
) -> None:
    request = open_request(four_eyes)
    decide(request.id, answer_for(request, "alice"))
    pid = four_eyes.proposals[0].id
    with transaction() as session:  # someone with database access tries to skip the second person
        session.execute(update(ProposalRow).where(ProposalRow.id == pid).values(status=Status.APPROVED))
    with pytest.raises(PolicyDenied, match="needs two different approvers besides the requester; it has 1"):
        executor.execute_one(load_policy(WORKFLOW), pid)
    with transaction() as session:  # ... or to add a second approval row that nobody gave
        first = session.query(ApprovalRow).filter_by(proposal_id=pid).one()
        session.add(
            ApprovalRow(
                proposal_id=pid,
                request_id=first.request_id,
                decision="approved",
                approver="carol",
                proposal_digest=first.proposal_digest,
                action_payload=first.action_payload,
                action_digest=first.action_digest,
            )
        )
    with pytest.raises(PolicyDenied, match="the approval has no intact approved audit event"):
        executor.execute_one(load_policy(WORKFLOW), pid)
    assert store.count(PayableRow) == 0 and len(store.events("execution_refused")) == 2


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda p: p["approvals"].update(notify=["nowhere"]),
            "approvals.notify: 'nowhere' is not among the policy's channels",
        ),
        (
            lambda p: p["approvals"]["groups"]["ap-clerks"].update(case_types=["bill"]),
            "approvals.groups.ap-clerks: case type 'bill' has no autonomy rule",
        ),
        (
            lambda p: p["approvals"].update(four_eyes=[{"case_type": "invoice", "field": "total"}]),
            "field and above go together",
        ),
        (
            lambda p: p["approvals"].update(deadline_minutes=10, remind_before_minutes=10),
            "the reminder must come before the deadline",
        ),
    ],
)
def test_approval_rules_that_do_not_fit_the_policy_do_not_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Any, problem: str
) -> None:
    path = use_policy_variant(tmp_path / "policies", monkeypatch, change)
    with pytest.raises(PolicyError) as raised:
        load_policy_file(path)
    assert problem in str(raised.value)
