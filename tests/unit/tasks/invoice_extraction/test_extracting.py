"""extract_document: statuses and escalations, and the sample inbox end to end."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from opsgate.errors import ConfigurationError
from opsgate.models import EscalationReason
from tasks.invoice_extraction.extracting import extract_document
from tests.support.pdf_builder import build_samples, image_only_pdf, text_pdf
from tests.support.samples import INJECTION_INVOICE, INJECTION_SENTENCE

REQUIRED = ["invoice_number", "invoice_date", "currency", "total"]
SAMPLES = Path(__file__).resolve().parents[4] / "samples" / "invoices"


def test_complete_invoice_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "inv.pdf"
    path.write_bytes(text_pdf(["Tidy Tools Ltd", "Invoice No: TT-9", "Date: 2024-06-30", "Total £12.00"]))
    result = extract_document(path, REQUIRED)
    assert result.status == "ok"
    assert result.escalations == []
    assert result.source == str(path)
    assert result.fields.total == Decimal("12.00")


def test_missing_required_fields_escalate_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "inv.txt"
    path.write_text("Tidy Tools Ltd\nInvoice No: TT-9\nSome work\n", encoding="utf-8")
    result = extract_document(path, REQUIRED, source="mailbox/inv.txt")
    assert result.status == "escalated"
    assert result.source == "mailbox/inv.txt"
    assert {(e.reason, e.field) for e in result.escalations} == {
        (EscalationReason.MISSING_DATA, "invoice_date"),
        (EscalationReason.MISSING_DATA, "currency"),
        (EscalationReason.MISSING_DATA, "total"),
    }


def test_no_required_fields_means_ok_even_if_sparse(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("just a note\n", encoding="utf-8")
    assert extract_document(path, []).status == "ok"


def test_scan_escalates_as_needs_ocr(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(image_only_pdf())
    result = extract_document(path, REQUIRED)
    assert result.status == "escalated"
    assert [e.reason for e in result.escalations] == [EscalationReason.NEEDS_OCR]
    assert "text layer" in result.escalations[0].detail
    assert result.error is None


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("gone.pdf", None),
        ("empty.pdf", b""),
        ("bad.pdf", b"%PDF-1.7 nothing else"),
        ("pic.png", b"\x89PNG\r\n\x1a\n...."),
    ],
)
def test_document_problems_become_error_status(tmp_path: Path, name: str, data: bytes | None) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    result = extract_document(path, REQUIRED)
    assert result.status == "error"
    assert result.error and name in result.error
    assert result.escalations == []


def test_too_large_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "inv.pdf"
    path.write_bytes(text_pdf(["Invoice No: 1"]))
    assert extract_document(path, REQUIRED, max_bytes=50).status == "error"


def test_the_extraction_records_the_bytes_it_read_but_does_not_print_them(tmp_path: Path) -> None:
    data = (SAMPLES / "brightline_office_supply.pdf").read_bytes()
    result = extract_document(SAMPLES / "brightline_office_supply.pdf", REQUIRED)
    assert result.inputs == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert "inputs" not in result.model_dump()  # the ``opsgate extract --json`` contract is unchanged


def test_a_file_that_could_not_be_read_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "inv.pdf"
    path.write_bytes(text_pdf(["Invoice No: 1"]))
    assert extract_document(path, REQUIRED, max_bytes=50).inputs == {}
    assert extract_document(tmp_path / "gone.pdf", REQUIRED).inputs == {}


def test_unknown_required_field_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="amount"):
        extract_document(tmp_path / "x.pdf", ["amount"])


def test_injection_sentence_changes_nothing_in_a_pdf(tmp_path: Path) -> None:
    with_it, without = tmp_path / "with.pdf", tmp_path / "without.pdf"
    with_it.write_bytes(text_pdf(INJECTION_INVOICE))
    without.write_bytes(text_pdf([line for line in INJECTION_INVOICE if INJECTION_SENTENCE not in line]))
    a, b = extract_document(with_it, REQUIRED, source="x"), extract_document(without, REQUIRED, source="x")
    assert a.model_dump() == b.model_dump()
    assert a.status == "ok"


# Values below are the ones written into the invented sample documents.
EXPECTED = {
    "brightline_office_supply.pdf": ("BOS-24-0317", date(2024, 3, 15), "USD", "1222.56", "invoice"),
    "nordlicht_technik.pdf": ("NT-2024-0815", date(2024, 2, 5), "EUR", "1493.45", "invoice"),
    "harrowgate_print.pdf": ("HPD-1187", date(2024, 4, 12), "GBP", "768.00", "invoice"),
    "lumen_cloud_services.pdf": ("LCS-2024-00042", date(2024, 3, 1), "EUR", "302.50", "invoice"),
    "kedai_kopi_seroja_receipt.txt": ("CS-000482", date(2024, 1, 23), "MYR", "38.90", "receipt"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_inbox_core_fields(name: str) -> None:
    number, issued, currency, total, kind = EXPECTED[name]
    result = extract_document(SAMPLES / name, REQUIRED)
    assert result.status == "ok", result.escalations
    f = result.fields
    assert (f.invoice_number, f.invoice_date, f.currency, f.total) == (number, issued, currency, Decimal(total))
    assert result.document_type == kind


def test_sample_inbox_secondary_fields() -> None:
    us = extract_document(SAMPLES / "brightline_office_supply.pdf", REQUIRED).fields
    assert (us.due_date, us.po_number, us.customer_name) == (date(2024, 4, 14), "PO-55821", "Kestrel Analytics Inc.")
    de = extract_document(SAMPLES / "nordlicht_technik.pdf", REQUIRED).fields
    assert (de.subtotal, de.tax_total) == (Decimal("1255.00"), Decimal("238.45"))
    assert (de.vendor_tax_id, de.iban) == ("DE287451934", "DE12500105170648489890")
    assert de.vendor_name == "Nordlicht Technik GmbH"


def test_sample_without_total_escalates() -> None:
    result = extract_document(SAMPLES / "quillfeather_no_total.pdf", REQUIRED)
    assert result.status == "escalated"
    assert ("total", EscalationReason.MISSING_DATA) in {(e.field, e.reason) for e in result.escalations}
    assert result.fields.invoice_number == "QF-0099"


def test_sample_inbox_matches_its_builder(tmp_path: Path) -> None:
    built = build_samples(tmp_path)
    assert sorted(p.name for p in built) == sorted(p.name for p in SAMPLES.iterdir())
    for path in built:
        assert path.read_bytes() == (SAMPLES / path.name).read_bytes(), f"rebuild {path.name}"
