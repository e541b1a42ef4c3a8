"""A field's confidence is lowered by the OCR confidence of the words its value was printed in."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tasks.invoice_extraction.layout import Word
from tasks.invoice_extraction.models import InvoiceFields
from tasks.invoice_extraction.word_confidence import adjusted_confidence


def _words(*read: tuple[str, float]) -> list[Word]:
    """Words on one line, in reading order, with the confidence OCR gave each."""
    return [Word(text, 10.0 * i, 0.0, 10.0 * i + 8, 10.0, confidence) for i, (text, confidence) in enumerate(read)]


WORDS = _words(
    ("Acme", 0.9),
    ("Tools", 0.6),
    ("GmbH", 0.95),
    ("Rechnung", 0.96),
    ("Nr.", 0.9),
    ("RE-4711", 0.4),
    ("Datum:", 0.9),
    ("05.03.2018", 0.8),
    ("Summe", 0.97),
    ("1.234,56", 0.7),
    ("€", 0.9),
    ("Zahlbar:", 0.9),
    ("1.234,56", 0.95),
)


def test_each_field_takes_the_confidence_of_its_least_sure_word() -> None:
    fields = InvoiceFields(
        vendor_name="Acme Tools GmbH", invoice_number="RE-4711", invoice_date=date(2018, 3, 5), currency="EUR"
    )
    confidence = {"vendor_name": 0.8, "invoice_number": 0.9, "invoice_date": 1.0, "currency": 0.5}

    adjusted = adjusted_confidence(fields, confidence, WORDS)

    assert adjusted == pytest.approx(
        {"vendor_name": 0.8 * 0.6, "invoice_number": 0.9 * 0.4, "invoice_date": 1.0 * 0.8, "currency": 0.5 * 0.9}
    )


def test_a_value_printed_twice_counts_where_it_was_read_best() -> None:
    adjusted = adjusted_confidence(InvoiceFields(total=Decimal("1234.56")), {"total": 0.9}, WORDS)
    assert adjusted == pytest.approx({"total": 0.9 * 0.95})


def test_a_value_split_over_words_or_glued_to_its_label_is_found() -> None:
    words = _words(("IBAN:", 0.9), ("DE12", 0.9), ("5001", 0.5), ("0517", 0.9), ("No.INV-9", 0.7))
    fields = InvoiceFields(iban="DE1250010517", invoice_number="INV-9")
    assert adjusted_confidence(fields, {"iban": 1.0, "invoice_number": 1.0}, words) == pytest.approx(
        {"iban": 0.5, "invoice_number": 0.7}
    )


def test_a_value_found_nowhere_takes_the_documents_mean_word_confidence() -> None:
    words = _words(("Total", 0.9), ("12,50", 0.5))
    adjusted = adjusted_confidence(
        InvoiceFields(po_number="PO-1", total=Decimal("12.50")), {"po_number": 0.8, "total": 1.0}, words
    )
    assert adjusted == pytest.approx({"po_number": 0.8 * 0.7, "total": 0.5})


def test_without_ocr_words_nothing_changes() -> None:
    confidence = {"invoice_number": 0.9}
    assert adjusted_confidence(InvoiceFields(invoice_number="RE-4711"), confidence, []) == confidence
