"""Confidence adjustments from independent checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from opsgate.models import EscalationReason
from tasks.invoice_extraction.checks import CONFIRMED, DOUBTFUL, adjust_confidence, failed_checks, vat_id_valid
from tasks.invoice_extraction.models import InvoiceFields
from tasks.invoice_extraction.rules import extract_fields


def test_vat_check_digits() -> None:
    assert vat_id_valid("DE136695976") is True
    assert vat_id_valid("DE136695975") is False
    assert vat_id_valid("201/113/40209") is None  # a national tax number, not an EU VAT id


def test_amounts_that_add_up_are_confirmed_and_others_doubted() -> None:
    found = {"subtotal": (Decimal("100.00"), 0.75), "tax_total": (Decimal("20.00"), 0.75), "total": (Decimal("120.00"), 0.75)}
    adjust_confidence(found)
    assert {conf for _, conf in found.values()} == {CONFIRMED}
    found = {"subtotal": (Decimal("100.00"), 0.9), "tax_total": (Decimal("20.00"), 0.9), "total": (Decimal("150.00"), 0.9)}
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
    good = InvoiceFields(iban="DE89370400440532013000", vendor_tax_id="DE136695976", invoice_date=date(2024, 5, 2), due_date=date(2024, 6, 1))
    assert failed_checks(good) == []
    bad = InvoiceFields(iban="DE89370400440532013001", vendor_tax_id="DE136695975", invoice_date=date(2024, 5, 2), due_date=date(2024, 4, 1))
    found = failed_checks(bad)
    assert [(e.reason, e.field) for e in found] == [(EscalationReason.FAILED_CHECK, f) for f in ("iban", "vendor_tax_id", "due_date")]
    assert "DE89370400440532013001" in found[0].detail
    assert failed_checks(InvoiceFields(vendor_tax_id="201/113/40209")) == []  # a national number has no check digits to fail


def test_a_labelled_account_is_read_even_when_it_is_not_a_valid_iban() -> None:
    text = "Acme Ltd\nInvoice no 12\nBank account: NL50 INGB 0683 2513 08 BIC: INGBNL2A\nTotal 12.00\n"
    result = extract_fields(text)
    assert (result.fields.iban, result.confidence["iban"]) == ("NL50INGB0683251308", DOUBTFUL)
    valid = extract_fields(text.replace("2513 08", "2513 09"))
    assert valid.fields.iban == "NL50INGB0683251309" and valid.confidence["iban"] >= CONFIRMED
    assert extract_fields("Acme Ltd\nKontonummer: Sparkasse\nTotal 12.00\n").fields.iban is None
