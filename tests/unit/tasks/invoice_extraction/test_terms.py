"""Due dates from payment terms, one language at a time; every expected date is worked out here by hand."""

from __future__ import annotations

from datetime import date

import pytest

from tasks.invoice_extraction.parsing import find_dates
from tasks.invoice_extraction.rules import extract_fields
from tasks.invoice_extraction.terms import due_from_terms

ISSUED = date(2024, 1, 15)


def _due(*lines: str, issued: date | None = ISSUED) -> tuple[date, str] | None:
    return due_from_terms(lines, issued, lambda s: find_dates(s, True))


@pytest.mark.parametrize(
    ("terms", "due"),
    [
        ("Zahlbar innerhalb 30 Tagen netto.", date(2024, 2, 14)),  # 15 Jan + 30 days
        ("Payment terms: net 30", date(2024, 2, 14)),
        ("Payable within 14 days of the invoice date", date(2024, 1, 29)),
        ("Paiement à 45 jours", date(2024, 2, 29)),  # 2024 is a leap year
        ("Betaling binnen 10 dagen", date(2024, 1, 25)),
        ("Pagamento a 60 giorni", date(2024, 3, 15)),
        ("Pago a 30 días", date(2024, 2, 14)),
    ],
)
def test_days_after_the_invoice_date_in_each_language(terms: str, due: date) -> None:
    assert _due(terms) == (due, "days")


def test_end_of_month_terms_move_to_the_last_day() -> None:
    assert _due("Règlement à 30 jours fin de mois") == (date(2024, 2, 29), "days")


def test_a_printed_date_in_the_terms_wins_and_the_discount_clause_never_counts() -> None:
    line = "Zahlbar innerhalb 30 Tagen netto bis 04.04.2024, 3% Skonto innerhalb 10 Tagen bis 25.01.2024"
    assert _due(line) == (date(2024, 4, 4), "date")
    assert _due("3% Skonto innerhalb 10 Tagen bis 25.01.2024") is None


def test_terms_split_over_two_lines_are_one_sentence() -> None:
    assert _due("Payment Terms 30% advance payment,", "balance at 30 days") == (date(2024, 2, 14), "days")


def test_days_need_an_invoice_date_and_a_payment_word() -> None:
    assert _due("Zahlbar innerhalb 30 Tagen", issued=None) is None
    assert _due("Delivery within 30 days") is None


def test_a_date_before_the_invoice_date_is_not_the_due_date() -> None:
    assert _due("Payable by 01.01.2024") is None


def test_the_rules_use_terms_when_no_due_date_is_printed() -> None:
    text = "Muster GmbH\nRechnung Nr. 2024-17\nRechnungsdatum: 15.01.2024\nZahlbar innerhalb 14 Tagen ohne Abzug.\nGesamtbetrag 119,00 EUR\n"
    result = extract_fields(text)
    assert result.fields.due_date == date(2024, 1, 29)
    assert result.confidence["due_date"] < 0.75  # counted, not printed


def test_a_run_on_page_carries_one_line_into_the_next_never_the_whole_page() -> None:
    # thousands of lines that never end a sentence: the terms at the bottom are still found, each line read once
    lines = ["and the goods were delivered as agreed"] * 5000 + ["payable within 14 days"]
    assert _due(*lines) == (date(2024, 1, 29), "days")
