"""The executor's refusals one by one: ``executor.refusal`` is pure, so each branch is shown with the
rows and audit facts it is given, without a store. That every one of them is also reached from a
real store (rows rewritten, audit events forged) is ``test_executor.py``'s and ``test_audit.py``'s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from opsgate.governance.executor import Evidence, refusal
from opsgate.models import Status, action_digest
from opsgate.policy.loader import load_policy
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import ApproverGroup, Autonomy
from opsgate.settings import get_settings
from opsgate.store.tables import ApprovalRow, ProposalRow

ID, TOOL = "p-1", "payables.post"
PAYLOAD = {"vendor": "Acme Corp", "invoice_number": "INV-1", "total": "1200.00", "currency": "EUR"}
LARGE = {**PAYLOAD, "total": "6000.00"}  # above the shipped policy's four-eyes amount (5,000)
PROPOSED = {"case_type": "invoice", "route": "approve", "confidence": {}, "context": {}}


@pytest.fixture(autouse=True)
def audit_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Digests are keyed: a key of the test's own, no data directory needed."""
    monkeypatch.setenv("OPSGATE_AUDIT_KEY", "k" * 40)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def policy() -> Policy:
    return load_policy("invoice_extraction")


def _row(**changes: Any) -> ProposalRow:
    values = {
        "id": ID,
        "run_id": "run-1",
        "workflow": "invoice_extraction",
        "source": "us.pdf",
        "case_type": "invoice",
        "tool": TOOL,
        "payload": PAYLOAD,
        "status": Status.APPROVED,
        **changes,
    }
    values.setdefault("digest", action_digest(values["id"], values["tool"], values["payload"]))
    return ProposalRow(**values)


def _approval(payload: dict[str, Any] = PAYLOAD, approver: str = "alice", **changes: Any) -> ApprovalRow:
    return ApprovalRow(
        **{
            "id": 7,
            "proposal_id": ID,
            "decision": "approved",
            "approver": approver,
            "proposal_digest": action_digest(ID, TOOL, PAYLOAD),
            "action_payload": payload,
            "action_digest": action_digest(ID, TOOL, payload),
            **changes,
        }
    )


def _evidence(**changes: Any) -> Evidence:
    """A case approved by alice as proposed, every row backed by its intact audit event."""
    values = {
        "row": _row(),
        "approval": _approval(),
        "proposed": PROPOSED,
        "approval_on_record": True,
        "approvers": [("alice", ())],
        "requester": None,
    }
    return Evidence(**{**values, **changes})


REFUSED: dict[str, tuple[Callable[[], Evidence], str]] = {
    "no row": (lambda: Evidence(row=None), "no such proposal in this workflow"),
    "another workflow": (lambda: _evidence(row=_row(workflow="weekly_summary")), "no such proposal in this workflow"),
    "a tool the policy forbids": (
        lambda: _evidence(row=_row(tool="payments.send")),
        "tool 'payments.send' is not a write this policy allows",
    ),
    "not approved": (
        lambda: _evidence(row=_row(status=Status.AWAITING_APPROVAL)),
        "the proposal is awaiting_approval, not approved",
    ),
    "proposal rewritten": (
        lambda: _evidence(row=_row(digest="0" * 64)),
        "modified after it was proposed (digest mismatch)",
    ),
    "no proposed event": (lambda: _evidence(proposed=None), "no intact proposed audit event for this action"),
    "no approval, not auto": (
        lambda: _evidence(approval=None),
        "no approval on record and the policy does not allow this case type without one",
    ),
    "a rejection": (lambda: _evidence(approval=_approval(decision="rejected")), "the approval on record is 'rejected'"),
    "approved another proposal": (
        lambda: _evidence(approval=_approval(proposal_digest="0" * 64)),
        "the proposal changed after it was approved",
    ),
    "approved action rewritten": (
        lambda: _evidence(approval=_approval(action_payload=LARGE)),
        "the approved action was altered after approval",
    ),
    "approval without its event": (
        lambda: _evidence(approval_on_record=False),
        "the approval has no intact approved audit event",
    ),
    "an approver outside the groups": (
        lambda: _evidence(approval=_approval(approver="mallory"), approvers=[("mallory", ())]),
        "mallory may not decide on invoice cases",
    ),
    "four eyes, one approver": (
        lambda: _evidence(approval=_approval(LARGE)),
        "four eyes: this action needs two different approvers besides the requester; it has 1",
    ),
    "four eyes, the requester second": (
        lambda: _evidence(approval=_approval(LARGE), approvers=[("alice", ()), ("Bob", ())], requester="bob"),
        "it has 1",
    ),
    "four eyes, a second outside the groups": (
        lambda: _evidence(approval=_approval(LARGE), approvers=[("alice", ()), ("mallory", ())]),
        "it has 1",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_each_refusal_names_its_reason(policy: Policy, case: str) -> None:
    evidence, reason = REFUSED[case]
    found = refusal(policy, evidence())
    assert found is not None and reason in found


def test_an_approved_case_with_everything_on_record_is_written(policy: Policy) -> None:
    assert refusal(policy, _evidence()) is None
    assert (
        refusal(policy, _evidence(approval=_approval(LARGE), approvers=[("alice", ()), ("bob", ())], requester="carol"))
        is None
    ), "two people, neither the requester"


def test_only_an_auto_case_type_goes_without_an_approval(policy: Policy) -> None:
    auto = policy.model_copy(update={"autonomy": {**policy.autonomy, "invoice": Autonomy.AUTO}})
    assert refusal(auto, _evidence(approval=None, proposed={**PROPOSED, "route": "auto"})) is None
    assert refusal(auto, _evidence(approval=None)) is not None, (
        "routed to a person when proposed: a person must approve it"
    )
    assert refusal(policy, _evidence(approval=None, proposed={**PROPOSED, "route": "auto"})) is not None, (
        "the policy no longer lets it go without one"
    )


def test_a_directory_group_counts_only_as_its_approval_event_vouched_for_it(policy: Policy) -> None:
    finance = ApproverGroup(directory_groups=["finance-ap"], case_types=["invoice"])
    approvals = policy.approvals.model_copy(update={"groups": {**policy.approvals.groups, "finance": finance}})
    vouched = policy.model_copy(update={"approvals": approvals})
    approval = _approval(approver="dora")
    signed_in = _evidence(approval=approval, approvers=[("dora", ("finance-ap",))], approval_groups=("finance-ap",))
    assert refusal(vouched, signed_in) is None
    typed = refusal(vouched, _evidence(approval=approval, approvers=[("dora", ())]))
    assert typed is not None and "dora may not decide on invoice cases" in typed
