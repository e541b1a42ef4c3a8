"""Case types defined as data in the policy, and shadow mode: a case type narrows the workflow's own
by conditions on the proposal (amount, confidence, facts such as a vendor paid before); a shadowed
case is recorded and never reaches the gate or the executor, whatever anyone approves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsgate.errors import ApprovalRejected, PolicyDenied, PolicyError
from opsgate.governance import executor
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.models import Route, Status
from opsgate.policy.loader import load_policy_file
from opsgate.store.tables import ApprovalRequestRow, PayableRow, ProposalRow
from tests.support.batches import open_request, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import DE_INVOICE, US_INVOICE
from tests.unit.platform.conftest import StoreProbe, by_source

SMALL_KNOWN = {
    "refines": "invoice",
    "below": {"field": "total", "amount": "1300.00"},
    "context": {"vendor_known": True},
}


def _shadow_small_known(policy: dict[str, Any]) -> None:
    policy["case_types"] = {"small_known_vendor": SMALL_KNOWN}
    policy["autonomy"]["small_known_vendor"] = "shadow"


def _second_invoice(lines: list[str], number: str) -> list[str]:
    """The same vendor's next invoice: another number, the same amounts."""
    return [line.replace("BOS-24-0317", number).replace("NT-2024-0815", number) for line in lines]


def test_a_case_type_narrows_by_amount_and_a_fact_and_shadow_cases_never_reach_a_write(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _shadow_small_known)
    first = proposed_batch(write_inbox(tmp_path / "first"))
    assert {p.case_type for p in first.proposals} == {"invoice"}, (
        "no vendor was paid before: every case is an ordinary invoice"
    )
    request = open_request(first)
    for decision in decide(request.id, answer_for(request, "alice")):
        executor.execute_one(first.run.policy, decision.proposal_id)

    # Brightline (1,222.56) and Nordlicht (1,493.45) were paid; their next invoices arrive.
    second = proposed_batch(
        write_inbox(
            tmp_path / "second",
            {
                "us-2.pdf": _second_invoice(US_INVOICE, "BOS-24-0400"),
                "de-2.pdf": _second_invoice(DE_INVOICE, "NT-2024-0900"),
            },
        )
    )
    routes = {p.source.rsplit("/", 1)[-1]: (p.case_type, v.route) for p, v in zip(second.proposals, second.verdicts)}
    assert routes == {"us-2.pdf": ("small_known_vendor", Route.SHADOW), "de-2.pdf": ("invoice", Route.APPROVE)}, (
        "known, but above 1,300"
    )
    shadow = by_source(second, "us-2.pdf")
    assert store.get(ProposalRow, shadow).status == Status.SHADOWED and len(store.events("shadowed", shadow)) == 1
    (proposed,) = store.events("proposed", shadow)
    assert proposed.data["context"] == {"vendor_known": True}

    request = open_request(second, flow_run_id="second-run")
    assert [p.id for p in request.proposals] == [by_source(second, "de-2.pdf")], "the shadow case is not on the form"
    forged = answer_for(request, "alice")
    forged.reviews.append(forged.reviews[0].model_copy(update={"proposal_id": shadow, "source": "us-2.pdf"}))
    with pytest.raises(ApprovalRejected, match="not in this batch"):
        decide(request.id, forged)
    with pytest.raises(PolicyDenied, match="shadowed, not approved"):
        executor.execute_one(second.run.policy, shadow)
    assert store.count(PayableRow) == 3 and store.count(ApprovalRequestRow) == 2


@pytest.mark.parametrize(
    ("case_types", "problem"),
    [
        ({"small": {"refines": "invoice"}}, "case_types.small: it has no autonomy rule"),
        ({"invoice_small": {"refines": "bill"}}, "case_types.invoice_small.refines: 'bill' has no autonomy rule"),
    ],
)
def test_a_case_type_without_autonomy_does_not_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case_types: dict[str, Any], problem: str
) -> None:
    def change(policy: dict[str, Any]) -> None:
        policy["case_types"] = case_types
        policy["autonomy"]["invoice_small"] = "reviewed"

    with pytest.raises(PolicyError) as raised:
        load_policy_file(use_policy_variant(tmp_path / "policies", monkeypatch, change))
    assert problem in str(raised.value)


def test_conditions_on_confidence_and_missing_values_never_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(policy: dict[str, Any]) -> None:
        policy["case_types"] = {
            "sure": {"refines": "invoice", "min_confidence": 0.9, "above": {"field": "total", "amount": "100"}}
        }
        policy["autonomy"]["sure"] = "reviewed"

    policy = load_policy_file(use_policy_variant(tmp_path / "policies", monkeypatch, change))
    assert policy.case_type_of("invoice", {"total": "150.00"}, {"total": 0.95, "vendor_name": 0.9}, {}) == "sure"
    assert policy.case_type_of("invoice", {"total": "150.00"}, {"total": 0.95, "vendor_name": 0.6}, {}) == "invoice"
    assert policy.case_type_of("invoice", {"total": None}, {"total": 0.95}, {}) == "invoice", (
        "a missing amount meets no threshold"
    )
    assert policy.case_type_of("invoice", {"total": "-150.00"}, {"total": 0.95}, {}) == "sure", (
        "amounts are compared by size"
    )
    assert policy.case_type_of("receipt", {"total": "150.00"}, {"total": 0.95}, {}) == "receipt", (
        "it narrows invoices only"
    )
