"""Confidence adjustments from independent checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from opsgate.models import EscalationReason, Route
from opsgate.policy.engine import route
from opsgate.policy.loader import load_policy
from tasks.invoice_extraction.checks import CONFIRMED, DOUBTFUL, adjust_confidence, failed_checks, vat_id_valid
from tasks.invoice_extraction.extracting import extract_document
from tasks.invoice_extraction.models import InvoiceFields, LineItem
from tasks.invoice_extraction.proposing import propose_all
from tasks.invoice_extraction.rules import extract_fields
from tests.support.samples import US_INVOICE


def test_vat_check_digits() -> None:
    assert vat_id_valid("DE136695976") is True
    assert vat_id_valid("DE136695975") is False
    assert vat_id_valid("201/113/40209") is None  # a national tax number, not an EU VAT id


def test_amounts_that_add_up_are_confirmed_and_others_doubted() -> None:
    found = {
        "subtotal": (Decimal("100.00"), 0.75),
        "tax_total": (Decimal("20.00"), 0.75),
        "total": (Decimal("120.00"), 0.75),
    }
    adjust_confidence(found)
    assert {conf for _, conf in found.values()} == {CONFIRMED}
    found = {
        "subtotal": (Decimal("100.00"), 0.9),
        "tax_total": (Decimal("20.00"), 0.9),
        "total": (Decimal("150.00"), 0.9),
    }
    adjust_confidence(found)
    assert all(conf < 0.9 for _, conf in found.values())


def test_due_date_before_issue_date_is_doubtful() -> None:
    found = {"invoice_date": (date(2024, 5, 2), 0.9), "due_date": (date(2024, 4, 1), 0.9)}
    adjust_confidence(found)
    assert found["due_date"][1] == DOUBTFUL


def test_invalid_vat_id_lowers_confidence_and_buyer_vat_is_not_the_sellers() -> None:
    text = "Shop SARL\nFacture n° 9\nN° TVA client FR40303265045\nTVA intracommunautaire : DE136695975\nTotal TTC 12,00 €\n"
    result = extract_fields(text)
    assert result.fields.vendor_tax_id == "DE136695975"
    assert result.confidence["vendor_tax_id"] == DOUBTFUL


def test_failed_checks_name_the_field_and_the_check() -> None:
    good = InvoiceFields(
        iban="DE89370400440532013000",
        vendor_tax_id="DE136695976",
        invoice_date=date(2024, 5, 2),
        due_date=date(2024, 6, 1),
    )
    assert failed_checks(good) == []
    bad = InvoiceFields(
        iban="DE89370400440532013001",
        vendor_tax_id="DE136695975",
        invoice_date=date(2024, 5, 2),
        due_date=date(2024, 4, 1),
    )
    found = failed_checks(bad)
    assert [(e.reason, e.field) for e in found] == [
        (EscalationReason.FAILED_CHECK, f) for f in ("iban", "vendor_tax_id", "due_date")
    ]
    assert "DE89370400440532013001" in found[0].detail
    assert (
        failed_checks(InvoiceFields(vendor_tax_id="201/113/40209")) == []
    )  # a national number has no check digits to fail


def test_a_labelled_account_is_read_even_when_it_is_not_a_valid_iban() -> None:
    text = "Acme Ltd\nInvoice no 12\nBank account: NL50 INGB 0683 2513 08 BIC: INGBNL2A\nTotal 12.00\n"
    result = extract_fields(text)
    assert (result.fields.iban, result.confidence["iban"]) == ("NL50INGB0683251308", DOUBTFUL)
    valid = extract_fields(text.replace("2513 08", "2513 09"))
    assert valid.fields.iban == "NL50INGB0683251309" and valid.confidence["iban"] >= CONFIRMED
    assert extract_fields("Acme Ltd\nKontonummer: Sparkasse\nTotal 12.00\n").fields.iban is None


@pytest.mark.parametrize(
    "field", ["vendor_name", "customer_name", "invoice_number", "po_number", "iban", "vendor_tax_id"]
)
def test_a_bidirectional_control_in_a_text_field_fails_naming_the_field_and_the_code_points(field: str) -> None:
    found = [
        e for e in failed_checks(InvoiceFields(**{field: "ACME\u202e0042\u2066X\u202e"})) if "bidirectional" in e.detail
    ]  # an IBAN also fails its checksum
    assert [(e.reason, e.field) for e in found] == [(EscalationReason.FAILED_CHECK, field)]
    assert "U+202E, U+2066" in found[0].detail and "\u202e" not in found[0].detail


def test_a_bidirectional_control_in_a_line_item_fails_naming_the_line() -> None:
    fields = InvoiceFields(line_items=[LineItem(description="Paper"), LineItem(description="Toner \u200fcartridge")])
    assert [(e.field, "U+200F" in e.detail) for e in failed_checks(fields)] == [("line_items[1].description", True)]


def test_an_invoice_with_a_right_to_left_override_in_the_vendor_name_goes_to_the_owner(
    opsgate_env: str, tmp_path: Path
) -> None:
    """Through extraction, proposing (which looks the vendor up in the store) and routing."""
    document = tmp_path / "invoice.txt"
    document.write_text("\n".join(["Brightline \u202eylppuS eciffO\u202c LLC", *US_INVOICE[1:]]), encoding="utf-8")
    result = extract_document(document, ["invoice_number", "invoice_date", "currency", "total"])
    assert (
        result.fields.vendor_name == "Brightline \u202eylppuS eciffO\u202c LLC"
    )  # the value as printed, never corrected
    assert result.status == "escalated"
    assert [(e.reason, e.field) for e in result.escalations] == [(EscalationReason.FAILED_CHECK, "vendor_name")]
    policy = load_policy("invoice_extraction")
    (proposal,) = propose_all([result], policy)
    assert route(policy, proposal).route is Route.ESCALATE
