"""The store's figures for a window against a hand count, on SQLite and PostgreSQL.

The week is built through the platform's own steps (runs, the gate, the executor, undo): postings
in two currencies with a credit note and a reversal, decisions with a correction, escalations,
merges and a failed write. Activity before the window opens and after it closes, and postings
dated exactly on its bounds, show that the window is [start, end)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from opsgate.errors import ExecutionError, PolicyDenied
from opsgate.governance import escalations, executor, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.governance.runs import Run
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import Proposal, Route, digest
from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow, ProposalRow, RecordRow, RunRow
from opsgate.writers.payables import PayablePosting, vendor_key
from opsgate.writers.records import RecordMerge
from opsgate.writers.tickets import TicketRouting
from tasks.weekly_summary.operations import VendorSpend, key_part, operations_facts, operations_flat
from tests.support.policies import use_policy_variant
from tests.support.undo import undo_through_gate

INVOICES, DEDUPE, TRIAGE = "invoice_extraction", "duplicate_flagging", "request_triage"
RULES, LLM, MATCHER = "rules-v1", "llm-v2", "fellegi-sunter-v1"


def _invoice(
    number: str,
    vendor: str,
    currency: str,
    total: str,
    *,
    kind: str = "invoice",
    version: str = RULES,
    confidence: dict[str, float] | None = None,
) -> Proposal:
    posting = PayablePosting(
        vendor_name=vendor,
        invoice_number=number,
        document_type=kind,
        invoice_date=date(2026, 11, 16),
        currency=currency,
        total=Decimal(total),
        source=f"{number}.pdf",
    )
    return Proposal(
        workflow=INVOICES,
        source=f"inbox/{number}.pdf",
        case_type=kind,
        tool="payables.post",
        payload=posting.model_dump(mode="json"),
        confidence=confidence or {},
        instruction_version=version,
    )


def _merge(survivor: str, *duplicates: str, case_type: str = "duplicate") -> Proposal:
    merge = RecordMerge(kind="customers", survivor=survivor, duplicates=list(duplicates))
    return Proposal(
        workflow=DEDUPE,
        source=f"customers/{survivor}",
        case_type=case_type,
        tool="records.merge",
        payload=merge.model_dump(mode="json"),
        instruction_version=MATCHER,
    )


def _gate(
    workflow: str,
    proposals: list[Proposal],
    rejected: tuple[Proposal, ...] = (),
    edits: dict[str, dict[str, str]] | None = None,
) -> Run:
    """Start a run, route its proposals by the shipped policy, and have a person decide the ones
    routed to the gate: approve, except ``rejected``, with ``edits`` as corrections."""
    run = runs.start_run(governing(workflow), "test")
    verdicts = runs.check_policy(run, proposals)
    gated = [p for p, v in zip(proposals, verdicts) if v.route is Route.APPROVE]
    if gated:
        request = requests.open_request(workflow, run.id, run.id, "approval-1", gated, requests.deadline_in(3600))
        decide(request.id, answer_for(request, "dana", rejections={p.id: "not ours" for p in rejected}, edits=edits))
    return run


def _customers(ids: str) -> None:
    """The operator's import of records: the one writer of the records store besides merges."""
    with transaction() as session:
        session.add_all(
            RecordRow(
                kind="customers",
                external_id=i,
                data={"name": f"Customer {i}"},
                data_digest=digest({"name": f"Customer {i}"}),
            )
            for i in ids
        )


def _posted_at(moment: datetime, vendor: str, number: str, currency: str, total: str, kind: str) -> None:
    with transaction() as session:
        session.add(
            PayableRow(
                vendor_name=vendor,
                vendor_key=vendor_key(vendor),
                invoice_number=number,
                document_type=kind,
                invoice_date=date(2026, 11, 16),
                currency=currency,
                total=Decimal(total),
                source=f"{number}.pdf",
                proposal_id=str(uuid4()),
                posted_at=moment,
            )
        )


def _summary_case() -> None:
    """A case of the summary's own workflow: the report is not one of the agents it reports on."""
    with transaction() as session:
        session.add(
            RunRow(
                id="summary-run",
                workflow="weekly_summary",
                trigger="test",
                policy_version="1",
                instruction_version="weekly-summary-v1",
            )
        )
        session.flush()
        session.add(
            ProposalRow(
                id=str(uuid4()),
                run_id="summary-run",
                workflow="weekly_summary",
                source="2026-W47",
                case_type="summary",
                tool="reports.publish",
                status="awaiting_approval",
                instruction_version="weekly-summary-v1",
            )
        )


def test_each_figure_matches_the_hand_count(opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_policy_variant(
        tmp_path / "policies", monkeypatch, lambda policy: policy["go_live"]["released"].append(LLM)
    )  # both versions live
    _customers("abcdefghi")

    # Before the window: a posting (reversed after it), an escalation, a merge.
    old, old_high = _invoice("INV-0", "Acme Ltd", "EUR", "5000.00"), _invoice("X-0", "Lumen", "EUR", "40000.00")
    before = _gate(INVOICES, [old, old_high])
    executor.execute_one(before.policy, old.id)
    old_merge = _merge("h", "i")
    executor.execute_one(_gate(DEDUPE, [old_merge]).policy, old_merge.id)

    start = datetime.now(timezone.utc)
    acme = _invoice("INV-1", "Acme Ltd", "EUR", "1000.00")
    credit = _invoice("CN-1", "ACME Ltd.", "EUR", "150.00", kind="credit_note")  # same vendor key, newer spelling
    birch = _invoice("B-7", "Birch Foods", "EUR", "400.00")  # approved as 420.00 with a PO number: two corrections
    cobalt = _invoice("C-1", "Cobalt Software", "USD", "2000.00")  # posted, then reversed
    delta = _invoice("D-1", "Delta Logistics", "USD", "500.00")
    falcon = _invoice("F-1", "Falcon Print", "EUR", "99.00")  # rejected; the executor refuses it
    granite = _invoice(
        "G-1", "Granite Works", "EUR", "30000.00", confidence={"total": 0.3}
    )  # escalated: low confidence and high value
    harbor = _invoice("H-1", "Harbor Freight", "USD", "26000.00")  # escalated: high value
    indigo = _invoice("I-1", "Indigo Labs", "EUR", "300.00", version=LLM)
    juniper = _invoice("J-1", "Juniper", "EUR", "50.00", version=LLM)  # rejected
    again = _invoice(
        "INV-1", "Acme Ltd", "EUR", "1000.00", version=LLM
    )  # approved, but INV-1 is posted by then: the write fails
    week = _gate(
        INVOICES,
        [acme, credit, birch, cobalt, delta, falcon, granite, harbor, indigo, juniper, again],
        rejected=(falcon, juniper),
        edits={birch.id: {"total": "420.00", "po_number": "PO-9"}},
    )
    for proposal in (acme, credit, birch, cobalt, delta, indigo):
        executor.execute_one(week.policy, proposal.id)
    with pytest.raises(ExecutionError, match="double payment") as failure:
        executor.execute_one(week.policy, again.id)
    executor.record_failure(
        week.policy, again.id, failure.value
    )  # as the flow does: a second posting goes to the owner as a possible duplicate
    with pytest.raises(PolicyDenied):
        executor.execute_one(week.policy, falcon.id)
    undo_through_gate(cobalt.id, "olga", "posted twice")
    cluster, pair, wrong = _merge("a", "b", "c"), _merge("d", "e", case_type="review"), _merge("f", "g")
    unreadable = Proposal(
        workflow=DEDUPE,
        source="customers",
        case_type="duplicate",
        error="no usable fields",
        instruction_version=MATCHER,
    )
    dedupe = _gate(DEDUPE, [cluster, pair, wrong, unreadable], rejected=(pair,))
    executor.execute_one(dedupe.policy, cluster.id)
    executor.execute_one(dedupe.policy, wrong.id)
    undo_through_gate(wrong.id, "dana", "not the same company")
    _summary_case()
    escalations.close(harbor.id, "olga", "paid by wire, outside opsgate")
    escalations.close(granite.id, "olga", "not one of our vendors", not_ours=True)
    end = datetime.now(timezone.utc)

    # After the window: the old posting reversed, an approval and its posting, an escalation, a refusal.
    undo_through_gate(old.id, "olga", "paid by card")
    escalations.close(old_high.id, "olga", "an old one, answered late", not_ours=True)
    late, late_high = _invoice("M-1", "Mill Supplies", "EUR", "10.00"), _invoice("L-1", "Lumen", "EUR", "90000.00")
    executor.execute_one(_gate(INVOICES, [late, late_high]).policy, late.id)
    with pytest.raises(PolicyDenied):
        executor.execute_one(week.policy, juniper.id)
    # Exactly on the bounds: the start is in, the end is out.
    _posted_at(start, "Delta Logistics", "D-0", "USD", "100.00", "receipt")
    _posted_at(end, "Kestrel Tools", "K-1", "EUR", "7777.00", "invoice")

    # Bounds in other zones, one as a pandas Timestamp, name the same instants.
    facts = operations_facts(
        pd.Timestamp(start).tz_convert("America/New_York"), end.astimezone(ZoneInfo("Asia/Tokyo")), top_vendors=2
    )

    assert (facts.start, facts.end) == (start, end) and facts.start.utcoffset() == timedelta(0)
    assert facts.invoices_posted == 6, "INV-1, CN-1, B-7, D-1, I-1 and the receipt D-0 on the start bound"
    assert facts.postings_reversed == 1, "C-1; INV-0 was reversed too, but posted before the window"
    assert facts.spend_total == {"EUR": 1000.00 - 150.00 + 420.00 + 300.00, "USD": 500.00 + 100.00}
    assert facts.spend_by_vendor == [
        VendorSpend(vendor="ACME Ltd.", currency="EUR", documents=2, total=850.00),
        VendorSpend(vendor="Birch Foods", currency="EUR", documents=1, total=420.00),  # Indigo Labs (300.00) is third
        VendorSpend(vendor="Delta Logistics", currency="USD", documents=2, total=600.00),
    ]
    assert facts.records_flagged == 3, (
        "the cluster, the pair and the undone merge; the unreadable case proposed no merge"
    )
    assert facts.records_merged == 2, "b and c into a; f and g were merged and undone"
    assert (facts.approvals, facts.rejections, facts.corrections) == (11, 3, 2), (
        "7 invoices, 2 merges and 2 undos approved; F-1, J-1 and the pair rejected"
    )
    assert facts.escalations == 3 and facts.escalations_by_reason == {
        "low_confidence": 1,
        "high_value": 2,
        "possible_duplicate": 1,
    }
    assert (facts.undone, facts.execution_refusals) == (2, 1)
    assert {(a.workflow, a.case_type, a.instruction_version) for a in facts.agents} == {
        (INVOICES, "invoice", RULES),
        (INVOICES, "invoice", LLM),
        (INVOICES, "credit_note", RULES),
        (DEDUPE, "duplicate", MATCHER),
        (DEDUPE, "review", MATCHER),
        (INVOICES, "undo", RULES),
        (DEDUPE, "undo", MATCHER),  # taking C-1 and the f-g merge back: approved writes of their own
    }

    found = operations_flat(facts)
    assert {key: found[key] for key in found if not key.startswith((INVOICES, DEDUPE))} == {
        "invoices_posted": 6,
        "postings_reversed": 1,
        "records_flagged": 3,
        "records_merged": 2,
        "requests_routed": 0,
        "requests_routed_automatically": 0,
        "tickets_withdrawn": 0,
        "requests_routed_automatically_share": None,
        "approvals": 11,
        "rejections": 3,
        "corrections": 2,
        "escalations": 3,
        "escalations_taken_up": 0,
        "escalations_closed": 1,
        "escalations_not_ours": 1,
        "undone": 2,
        "execution_refusals": 1,
        "incidents": 0,
        "escalations_high_value": 2,
        "escalations_low_confidence": 1,
        "escalations_possible_duplicate": 1,
        "spend_total_EUR": 1570.00,
        "spend_total_USD": 600.00,
        "spend_vendor_1_EUR_name": "ACME Ltd.",
        "spend_vendor_1_EUR_total": 850.00,
        "spend_vendor_2_EUR_name": "Birch Foods",
        "spend_vendor_2_EUR_total": 420.00,
        "spend_vendor_1_USD_name": "Delta Logistics",
        "spend_vendor_1_USD_total": 600.00,
    }
    # Invoices over both instruction versions: rules-v1 has 7 cases (4 written, 4 approved, 1 rejected,
    # 1 corrected, 2 escalated), llm-v2 has 3 (1 written, 2 approved, 1 rejected, 1 write refused as a
    # second posting: escalated as a possible duplicate, no tool's error). So 3 of 10 escalated, and no
    # tool errors. Averaging the versions' rates would give approval (4/5 + 2/3) / 2.
    assert {
        key.removeprefix("invoice_extraction_invoice_"): value
        for key, value in found.items()
        if key.startswith("invoice_extraction_invoice_")
    } == {
        "cases": 10,
        "executed": 5,
        "approval_rate": 0.75,
        "correction_rate": round(1 / 6, 4),
        "escalation_rate": 0.3,
        "tool_error_rate": 0.0,
        "completion_rate": 1.0,
        "time_saved_minutes": 5 * week.policy.manual_minutes,  # type: ignore[operator]
    }
    assert (found["invoice_extraction_credit_note_cases"], found["invoice_extraction_credit_note_approval_rate"]) == (
        1,
        1.0,
    )
    assert (
        found["duplicate_flagging_duplicate_cases"],
        found["duplicate_flagging_duplicate_executed"],
        found["duplicate_flagging_duplicate_completion_rate"],
    ) == (3, 2, 1.0)
    assert (
        found["duplicate_flagging_review_approval_rate"] == 0.0
        and found["duplicate_flagging_review_correction_rate"] is None
    ), "no approvals: no correction rate"
    assert not any(key.startswith("weekly_summary") for key in found)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", re.sub(r"_(EUR|USD)(_|$)", r"_cur\2", key)) for key in found)


def test_a_quiet_window_has_zeros_and_no_spend_or_agents(opsgate_env: str) -> None:
    start = datetime(2026, 11, 16, tzinfo=ZoneInfo("Europe/Berlin"))
    facts = operations_facts(start, start + timedelta(weeks=1))
    assert (
        facts.spend_total == {}
        and facts.spend_by_vendor == []
        and facts.escalations_by_reason == {}
        and facts.agents == []
    )
    assert operations_flat(facts) == {"requests_routed_automatically_share": None} | dict.fromkeys(
        (
            "invoices_posted",
            "postings_reversed",
            "records_flagged",
            "records_merged",
            "requests_routed",
            "requests_routed_automatically",
            "tickets_withdrawn",
            "approvals",
            "rejections",
            "corrections",
            "escalations",
            "escalations_taken_up",
            "escalations_closed",
            "escalations_not_ours",
            "undone",
            "execution_refusals",
            "incidents",
        ),
        0,
    )
    with pytest.raises(ValueError, match="no time zone"):
        operations_facts(datetime(2026, 11, 16), datetime(2026, 11, 23))


@pytest.mark.parametrize(
    ("name", "part"),
    [("invoice", "invoice"), ("Credit Note", "credit_note"), ("AP / Invoices--v2", "ap_invoices_v2"), ("—", "none")],
)
def test_names_become_key_parts(name: str, part: str) -> None:
    assert key_part(name) == part


def _routing(request: str, queue: str, group: str, priority: str = "normal") -> Proposal:
    routing = TicketRouting(
        queue=queue, priority=priority, assignee_group=group, request=request, source=f"support/{request}.eml"
    )
    return Proposal(
        workflow=TRIAGE,
        source=f"support/{request}.eml",
        case_type="request",
        tool="tickets.route",
        payload=routing.model_dump(mode="json"),
        confidence={"queue": 0.99},
        context={"priority": priority, "enterprise_customer": False},
        instruction_version="queues.0123456789ab",
    )


def test_requests_routed_per_queue_and_without_a_person(
    opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four requests: one approved, one routed on its own (low priority, earned auto), one whose
    queue a dispatcher corrected, one routed and withdrawn since; and one routed after the week."""

    def change(policy: dict[str, Any]) -> None:
        policy["autonomy"]["low_priority"] = "auto"
        policy["approvals"]["groups"]["dispatchers"]["members"].append("dana")

    use_policy_variant(tmp_path / "policies", monkeypatch, change, workflow=TRIAGE)
    start = datetime.now(timezone.utc)
    approved, calm = _routing("r1", "billing", "finance-desk"), _routing("r2", "payments", "finance-desk", "low")
    corrected, withdrawn = _routing("r3", "billing", "finance-desk"), _routing("r4", "orders", "order-desk")
    run = _gate(
        TRIAGE,
        [approved, calm, corrected, withdrawn],
        edits={corrected.id: {"queue": "technical", "assignee_group": "tech-desk"}},
    )
    for proposal in (approved, calm, corrected, withdrawn):
        executor.execute_one(run.policy, proposal.id)
    undo_through_gate(withdrawn.id, "lena", "sent to the wrong desk")
    end = datetime.now(timezone.utc)
    late = _routing("r5", "billing", "finance-desk")
    executor.execute_one(_gate(TRIAGE, [late]).policy, late.id)

    facts = operations_facts(start, end)
    assert (facts.requests_routed, facts.requests_routed_automatically, facts.tickets_withdrawn) == (3, 1, 1)
    assert facts.routed_by_queue == {"billing": 1, "payments": 1, "technical": 1}
    found = operations_flat(facts)
    assert {k: v for k, v in found.items() if k.startswith(("requests_", "routed_", "tickets_"))} == {
        "requests_routed": 3,
        "requests_routed_automatically": 1,
        "tickets_withdrawn": 1,
        "requests_routed_automatically_share": round(1 / 3, 4),
        "routed_billing": 1,
        "routed_payments": 1,
        "routed_technical": 1,
    }
    assert found["corrections"] == 2 and found["request_triage_request_cases"] == 3
