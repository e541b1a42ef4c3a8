"""Choosing the amount payable among a receipt's totals, on invented receipts."""

from __future__ import annotations

from decimal import Decimal

from tasks.invoice_extraction.rules import extract_fields
from tasks.invoice_extraction.totals import payable, reconcile_total, split_of_total, total_candidates

RECEIPT = """\
BUNGA RAYA TRADING
TOTAL QTY: 3 48.30
SUB-TOTAL (EX) : 45.57
TOTAL TAX : 2.73
TOTAL SALES (INCLUSIVE OF GST) : 48.30
CASH : 50.00
CHANGE : 1.70
TAX SUMMARY
TOTAL : 45.57 2.73
"""


def test_tax_table_row_and_quantities_are_not_totals() -> None:
    values = [c.value for c in total_candidates(RECEIPT.splitlines())]
    assert values == [Decimal("48.30")]


def test_cash_minus_change_confirms_the_total() -> None:
    lines = RECEIPT.splitlines()
    assert payable(lines) == Decimal("48.30")
    assert reconcile_total(lines, (Decimal("2.73"), 0.75), None, None) == (Decimal("48.30"), 0.9)
    result = extract_fields(RECEIPT)
    assert result.fields.total == Decimal("48.30")


def test_rounding_adjustment_gives_the_rounded_total() -> None:
    lines = ["TOTAL AMOUNT RM 20.03", "ROUNDING ADJ -0.03", "RM 20.00", "CARD 20.00"]
    assert extract_fields("\n".join(["PINE CAFE", *lines])).fields.total == Decimal("20.00")


def test_net_tax_gross_row_fills_subtotal_and_tax() -> None:
    assert split_of_total(["Total billed 80.00 16.00 96.00"], Decimal("96.00")) == (Decimal("80.00"), Decimal("16.00"))
    f = extract_fields("Example SAS\nFacture n° 55\nTotal facture 80.00 16.00 96.00\n").fields
    assert (f.subtotal, f.tax_total, f.total) == (Decimal("80.00"), Decimal("16.00"), Decimal("96.00"))


def test_paid_amount_printed_above_payment_lines_is_the_total_without_a_total_label() -> None:
    f = extract_fields("KOPI CORNER\nDUE 7.40\nPAY 10.00\nCHANGE 2.60\n").fields
    assert f.total == Decimal("7.40")
