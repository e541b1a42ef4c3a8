"""Item tables read by their headings and their arithmetic; every expected value is stated here."""

from __future__ import annotations

from decimal import Decimal

from tasks.invoice_extraction.line_items import read_line_items
from tasks.invoice_extraction.rules import extract_fields
from tests.support.samples import DE_INVOICE, OCR_RECEIPT, UK_INVOICE, US_INVOICE


def _rows(
    lines: list[str], decimal_comma: bool = False
) -> list[tuple[str | None, Decimal | None, Decimal | None, Decimal | None]]:
    return [(i.description, i.quantity, i.unit_price, i.amount) for i in read_line_items(lines, decimal_comma)]


def test_us_sample_table_rows_and_subtotal_cross_check() -> None:
    assert _rows(US_INVOICE) == [
        ("Recycled copy paper, case", Decimal("10"), Decimal("42.50"), Decimal("425.00")),
        ("Toner cartridge TN-880", Decimal("3"), Decimal("189.00"), Decimal("567.00")),
        ("Desk organiser set", Decimal("4"), Decimal("35.00"), Decimal("140.00")),
    ]
    result = extract_fields("\n".join(US_INVOICE))
    assert len(result.fields.line_items) == 3
    assert result.confidence["line_items"] >= 0.9
    assert result.confidence["subtotal"] >= 0.97  # the rows add up to the printed subtotal


def test_german_table_with_position_numbers_and_decimal_commas() -> None:
    assert _rows(DE_INVOICE, decimal_comma=True) == [
        ("Wartungsvertrag Q1/2024", Decimal("1"), Decimal("1100.00"), Decimal("1100.00")),
        ("Ersatzteile Kompressor", Decimal("4"), Decimal("38.75"), Decimal("155.00")),
    ]
    assert [i.amount for i in extract_fields("\n".join(UK_INVOICE)).fields.line_items] == [
        Decimal("360.00"),
        Decimal("280.00"),
    ]


def test_price_before_quantity_with_tax_rate_and_unit_words() -> None:
    lines = [
        "Artikel Omschrijving Prijs BTW Hoeveelheid Bedrag",
        "K1001 Koffiebonen 1kg 12,50 21 % 2 ST 25,00",
        "K1002 Filterpapier 3,10 9 % 5 ST 15,50",
        "Totaal EUR 40,50",
    ]
    assert _rows(lines, decimal_comma=True) == [
        ("K1001 Koffiebonen 1kg", Decimal("2"), Decimal("12.50"), Decimal("25.00")),
        ("K1002 Filterpapier", Decimal("5"), Decimal("3.10"), Decimal("15.50")),
    ]


def test_discount_percentage_and_section_subtotals() -> None:
    lines = [
        "Description Quantity Unit Price Disc.% Amount",
        "--- Garden ---",
        "Hose reel 2.00 Units 30.00 10% 54.00",
        "Subtotal 54.00",
        "--- Tools ---",
        "Spade 1.00 Units 25.00 25.00",
        "Subtotal 25.00",
        "Total 79.00",
        "Bolt 1.00 Units 1.00 1.00",
    ]
    assert _rows(lines) == [
        ("Hose reel", Decimal("2.00"), Decimal("30.00"), Decimal("54.00")),
        ("Spade", Decimal("1.00"), Decimal("25.00"), Decimal("25.00")),
    ]


def test_row_wrapped_over_lines_and_amount_on_next_line() -> None:
    lines = [
        "Qty Product VAT Price Total",
        "2.00 Consulting (hours): review of",
        "the draft",
        "19% 90.00 € 180.00 €",
        "Beschreibung Nettopreis Menge Steuersatz Nettobetrag",
        "Ordner A4 2,5000 4 Stk 19 %",
        "10,00",
        "Net total: 190.00 €",
    ]
    assert _rows(lines) == [
        ("Consulting (hours): review of the draft", Decimal("2.00"), Decimal("90.00"), Decimal("180.00")),
        ("Ordner A4", Decimal("4"), Decimal("2.5000"), Decimal("10.00")),
    ]


def test_rows_without_heading_need_cents_so_phone_numbers_are_no_rows() -> None:
    lines = ["Contact: +44 7 20 11 08 77", "Call 3 4 12", "Widget 3 2.50 7.50", "Total 7.50"]
    assert _rows(lines) == [("Widget", Decimal("3"), Decimal("2.50"), Decimal("7.50"))]


def test_no_table_no_items() -> None:
    assert _rows(OCR_RECEIPT.splitlines()) == []
    assert _rows(["Invoice No: 7", "Date: 2024-05-01", "Total 12.00 EUR"]) == []


def test_net_rows_adding_up_to_the_total_give_the_subtotal() -> None:
    text = """\
Servercraft AG
Rechnung Nr. SC-881
Datum: 02.05.2024
Pos. Menge Beschreibung Preis Betrag
1 2 Mailbox Basic 4,50 9,00
2 1 Mailbox Pro 7,25 7,25
Total EUR 16,25
"""
    f = extract_fields(text).fields
    assert (f.total, f.subtotal) == (Decimal("16.25"), Decimal("16.25"))
    assert [i.description for i in f.line_items] == ["Mailbox Basic", "Mailbox Pro"]


def test_credit_note_rows_are_positive() -> None:
    text = "Seller SARL\nAvoir AV-9\nDescription Quantité Prix Montant\nStylo 4 Unit(s) 2,00 € -8,00 €\nTotal TTC -8,00 €\n"
    result = extract_fields(text)
    assert result.document_type == "credit_note"
    assert [(i.quantity, i.amount) for i in result.fields.line_items] == [(Decimal("4"), Decimal("8.00"))]
