"""The flow on the kinds of document an AP inbox really holds: e-invoice XML, a credit note, a
high-value invoice and a scan, next to an ordinary PDF, through one gate."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from opsgate.governance.answers import answer_for
from opsgate.models import Status
from opsgate.orchestration.resume import submit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, PayableRow
from tests.integration.conftest import wait_for_request
from tests.support.batches import write_inbox
from tests.support.einvoices import cii_invoice, ubl_invoice
from tests.support.pdf_builder import image_only_pdf, pdf_with_attachment
from tests.support.samples import US_INVOICE


def test_xml_credit_note_high_value_and_scan(start_flow, tmp_path: Path) -> None:
    inbox = write_inbox(
        tmp_path / "inbox",
        {
            "us.pdf": US_INVOICE,
            "factur-x.pdf": pdf_with_attachment(
                ["Werkbank Holzbau GmbH", "Rechnung WB-2024-0042", "Gesamt 142,80 EUR"], "factur-x.xml", cii_invoice()
            ),
            "credit.xml": cii_invoice(
                number="WB-2024-0043-GS", type_code="381", subtotal="20.00", tax="3.80", total="23.80", lines=[]
            ),
            "big.xml": ubl_invoice(number="BIG-1", subtotal="40000.00", tax="8000.00", total="48000.00"),
            "scan.pdf": image_only_pdf(),
        },
    )
    run = start_flow(inbox)
    request = wait_for_request()
    gated = {Path(p.source).name: p for p in request.proposals}
    assert sorted(gated) == ["credit.xml", "factur-x.pdf", "us.pdf"]
    assert gated["credit.xml"].case_type == "credit_note"
    assert (
        gated["factur-x.pdf"].payload["invoice_number"] == "WB-2024-0042"
        and gated["factur-x.pdf"].payload["total"] == "142.80"
    )
    submit(request, answer_for(request, "alice"))
    summary = run.finish()

    by_file = {Path(o.source).name: o for o in summary.outcomes}
    assert by_file["big.xml"].status == Status.ESCALATED and "high_value" in by_file["big.xml"].detail
    assert by_file["scan.pdf"].status == Status.ESCALATED and "needs_ocr" in by_file["scan.pdf"].detail
    assert {by_file[n].status for n in ("us.pdf", "factur-x.pdf", "credit.xml")} == {Status.EXECUTED}
    with transaction() as session:
        kinds = dict(session.execute(select(PayableRow.invoice_number, PayableRow.document_type)).all())
        versions = {
            Path(r.data["source"]).name: r.data["instruction_version"]
            for r in session.execute(select(AuditRow).where(AuditRow.event == "proposed")).scalars()
        }
    assert kinds == {"BOS-24-0317": "invoice", "WB-2024-0042": "invoice", "WB-2024-0043-GS": "credit_note"}
    assert versions["factur-x.pdf"] == versions["credit.xml"] == "einvoice-xml" and versions["us.pdf"] == "rules-v1"
