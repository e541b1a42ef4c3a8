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


def test_a_total_that_charges_were_added_to_gives_way_to_the_total_below_them() -> None:
    receipt = [
        "SAKURA DINER",
        "SUBTOTAL 80.00",
        "DISCOUNT -30.00",
        "TOTAL AMOUNT : 50.00",
        "SERV CHARGE 10% 5.00",
        "GST @ 6% 3.30",
        "ROUNDING ADJ : 0.00",
        "TOTAL AMOUNT: 58.30",
    ]
    assert extract_fields("\n".join(receipt)).fields.total == Decimal("58.30")


def test_the_tax_a_total_includes_is_not_the_total() -> None:
    receipt = ["BURGER HUT", "EAT-IN TOTAL (INCL GST) 12.40", "CASH TENDERED 20.00", "CHANGE 7.60"]
    lines = [*receipt, "TOTAL INCLUDES 6% GST 0.70"]
    assert Decimal("0.70") not in [c.value for c in total_candidates(lines)]
    assert extract_fields("\n".join(lines)).fields.total == Decimal("12.40")


def test_change_printed_under_its_label_still_confirms_the_total() -> None:
    lines = ["SUB-TOTAL (EX) 100.00", "TOTAL TAX", "6.00", "TOTAL 106.00", "CASH 106.00", "CHANGE", "0.00"]
    assert payable(lines) == Decimal("106.00")


def test_subtotal_plus_tax_rounded_to_five_cents_picks_the_total() -> None:
    lines = ["SUB TOTAL 10.00", "GST 0.62", "ROUNDING -0.02", "TOTAL 10.60", "TOTAL : 10.00 0.62"]
    assert reconcile_total(lines, (Decimal("0.62"), 0.5), Decimal("10.00"), Decimal("0.62")) == (
        Decimal("10.60"),
        0.85,
    )


def test_an_amount_tendered_under_another_name_counts_as_paid() -> None:
    assert payable(["AMOUNT INCL. GST 5.00 RM", "ACCEPTED TOTAL 10.00 RM", "CHANGE 5.00 RM"]) == Decimal("5.00")
    assert payable(["NET AMT : 36.00", "RECEIVED 50.00", "CHANGE : 14.00"]) == Decimal("36.00")
    assert payable(["TOTAL PAID RM50.00", "CHANGE RM28.15"]) == Decimal("21.85")


def test_a_total_paid_is_tendered_money_not_a_total() -> None:
    lines = ["TOTAL (INCL GST) RM21.83", "ROUNDING RM0.02", "RM21.85", "TOTAL PAID RM50.00", "CHANGE RM28.15"]
    assert extract_fields("\n".join(["COFFEE LAB", *lines])).fields.total == Decimal("21.85")


def test_with_no_total_label_the_subtotal_with_zero_tax_or_the_amount_tendered_is_the_guess() -> None:
    zero_tax = ["OCEAN PAPER TRADING", "4X 38.00 RM152.00", "SUBTOTAL RM152.00", "GST 0% RM0.00", "CASH RM152.00"]
    assert extract_fields("\n".join(zero_tax)).fields.total == Decimal("152.00")
    prepaid_fuel = ["PETRO KAMPUNG", "PPF P1 1.000 6 6.00", "TOTAL AMOUNT", "CASH RM 6.00", "THANK YOU"]
    assert extract_fields("\n".join(prepaid_fuel)).fields.total == Decimal("6.00")
