"""What the review screen shows beside a proposal: the records a merge folds together beside the
merged values, a report draft with the value of every fact it cites, and a plain-text document with
each proposed value marked; every value escaped."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from opsgate.governance import requests, runs
from opsgate.learning.governing import governing
from opsgate.models import Proposal
from opsgate.reports.sheets import FactSheet, save_sheet
from opsgate.writers.records import RecordMerge
from opsgate.writers.reports import ReportPublication
from tests.unit.platform.conftest import StoreProbe
from tests.unit.web.conftest import sign_in


def _waiting(workflow: str, proposal: Proposal) -> requests.PendingRequest:
    run = runs.start_run(governing(workflow), "test")
    proposal = proposal.model_copy(update={"workflow": workflow, "instruction_version": run.policy.instruction_version})
    runs.check_policy(run, [proposal])
    return requests.open_request(workflow, run.id, "no-flow-run", "test-1", [proposal], requests.deadline_in(600))


def _source(client: TestClient, request: requests.PendingRequest) -> str:
    shown = client.get(f"/requests/{request.id}/proposals/{request.proposals[0].id}/source")
    assert shown.status_code == 200, shown.text
    return shown.text


def test_a_merge_shows_its_records_side_by_side_with_the_merged_values(client: TestClient, store: StoreProbe) -> None:
    records = [
        {"id": "C-1", "updated_at": "2026-01-02T00:00:00", "data": {"name": "Acme GmbH", "city": "Köln"}},
        {"id": "C-7", "updated_at": "2026-03-01T00:00:00", "data": {"name": "ACME G.m.b.H.", "city": "<b>Koeln</b>"}},
    ]
    merge = RecordMerge(
        kind="customers", survivor="C-1", duplicates=["C-7"], values={"name": "Acme GmbH", "city": "Köln"}
    )
    request = _waiting(
        "duplicate_flagging",
        Proposal(
            workflow="duplicate_flagging",
            source="customers.csv: C-1, C-7",
            case_type="duplicate",
            tool="records.merge",
            payload=merge.model_dump(mode="json"),
            confidence={"match": 0.97},
            inputs={"kind": "customers", "columns": ["name", "city"], "records": records},
            instruction_version="",
        ),
    )
    sign_in(client, "dana")  # a data steward
    html = _source(client, request)
    assert "<th>C-1</th>" in html and "<th>C-7</th>" in html
    assert 'class="merged">Acme GmbH<' in html and "ACME G.m.b.H." in html
    assert "&lt;b&gt;Koeln&lt;/b&gt;" in html and "<b>Koeln" not in html, "a record's text is shown, never run"


def test_a_report_draft_shows_the_value_of_every_fact_it_cites(client: TestClient, store: StoreProbe) -> None:
    run = runs.start_run(governing("weekly_summary"), "test")
    sheet = FactSheet(
        workflow="weekly_summary",
        subject="2026-W48",
        facts={"invoices_executed": 42, "escalated": 3},
        detail={},
        appendix="",
    )
    stored = save_sheet(run.id, sheet)
    publication = ReportPublication(
        headline="42 invoices posted",
        highlights=[{"text": "42 invoices were posted", "facts": ["invoices_executed"]}],
        risks=[{"text": "3 escalations wait", "facts": ["escalated", "missing_key"]}],
        subject="2026-W48",
        title="Week 48",
        fact_sheet=stored.id,
        facts_digest=stored.digest,
    )
    request = _waiting(
        "weekly_summary",
        Proposal(
            workflow="weekly_summary",
            source="2026-W48",
            case_type="template",
            tool="reports.publish",
            payload=publication.model_dump(mode="json"),
            instruction_version="",
        ),
    )
    sign_in(client, "olga")  # an ops lead
    html = _source(client, request)
    assert "42 invoices posted" in html
    assert "<code>invoices_executed</code> = 42" in html and "<code>escalated</code> = 3" in html
    assert "<code>missing_key</code> = not on the fact sheet" in html


def test_a_text_document_marks_each_proposed_value(client: TestClient, store: StoreProbe, tmp_path: Path) -> None:
    mail = tmp_path / "request.txt"
    mail.write_text("Dear team,\nplease credit invoice INV-2291 <script>x</script>\nthanks\n", encoding="utf-8")
    from opsgate.writers.payables import PayablePosting

    posting = PayablePosting(
        vendor_name="Acme",
        invoice_number="INV-2291",
        invoice_date="2026-01-05",
        currency="EUR",
        total="10.00",
        source=str(mail),
    )
    request = _waiting(
        "invoice_extraction",
        Proposal(
            workflow="invoice_extraction",
            source=str(mail),
            case_type="invoice",
            tool="payables.post",
            payload=posting.model_dump(mode="json"),
            confidence={"invoice_number": 0.9},
            instruction_version="",
        ),
    )
    sign_in(client, "carol")
    html = _source(client, request)
    assert '<mark data-field="invoice_number">INV-2291</mark>' in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
