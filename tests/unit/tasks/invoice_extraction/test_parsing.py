"""Dates, amounts, currencies and IBANs in the formats invoices actually use."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tasks.invoice_extraction.parsing import (
    currency_in,
    detect_currency,
    detect_dayfirst,
    find_amounts,
    find_dates,
    find_iban,
    iban_valid,
    parse_amount,
    parse_date,
)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("RM 12.50", "12.50"),
        ("RM12.50", "12.50"),
        ("$1,245.50", "1245.50"),
        ("€ 99,00", "99.00"),
        ("1.493,45 €", "1493.45"),
        ("12", "12.00"),
        ("1,000,000.5", "1000000.50"),
        ("(15.00)", "-15.00"),
    ],
)
def test_parse_amount(written: str, expected: str) -> None:
    value = parse_amount(written)
    assert value == Decimal(expected)
    assert value.as_tuple().exponent == -2


def test_amounts_skip_dates_times_and_percentages() -> None:
    line = "VAT 20% on 03/15/2024 at 14:32  £128.00"
    assert [a.value for a in find_amounts(line)] == [Decimal("128.00")]


@pytest.mark.parametrize(
    ("written", "currency"),
    [("$1,245.50", "USD"), ("€ 99,00", "EUR"), ("£768.00", "GBP"), ("RM 12.50", "MYR"), ("99.00 CHF", "CHF")],
)
def test_currency_from_symbols_and_codes(written: str, currency: str) -> None:
    assert currency_in(written) == currency
    assert find_amounts(written)[0].currency == currency


def test_currency_words_that_look_like_codes_do_not_count() -> None:
    assert currency_in("VAT TTC HTML") is None
    assert detect_currency("Total TTC 12,00 €\nTVA 2,00 €") == "EUR"


@pytest.mark.parametrize(
    ("written", "dayfirst", "expected"),
    [
        ("2024-03-15", True, date(2024, 3, 15)),
        ("15 March 2024", False, date(2024, 3, 15)),
        ("March 15, 2024", True, date(2024, 3, 15)),
        ("15.03.2024", True, date(2024, 3, 15)),
        ("5. März 2024", True, date(2024, 3, 5)),
        ("1er avril 2024", True, date(2024, 4, 1)),
        ("12 maart 2024", True, date(2024, 3, 12)),
        ("03/04/2024", True, date(2024, 4, 3)),
        ("03/04/2024", False, date(2024, 3, 4)),
        ("03/15/2024", True, date(2024, 3, 15)),  # cannot be day-first: month 15 does not exist
        ("Invoice 2024 no. 12", True, None),
        ("31/02/2024", True, None),
    ],
)
def test_parse_date(written: str, dayfirst: bool, expected: date | None) -> None:
    assert parse_date(written, dayfirst) == expected


def test_dayfirst_settled_by_an_unambiguous_date() -> None:
    assert detect_dayfirst("Date 03/04/2024\nDue 15/04/2024") is True
    assert detect_dayfirst("Date 03/04/2024\nDue 04/15/2024 €") is False


def test_dayfirst_from_dots_language_and_dollars() -> None:
    assert detect_dayfirst("Datum 03.04.2024 $") is True
    assert detect_dayfirst("Date 03/04/2024 total $5", hint=None) is False
    assert detect_dayfirst("Date 03/04/2024 total $5", hint=True) is True
    assert detect_dayfirst("Date 03/04/2024 total £5") is True


def test_iban_check_digits() -> None:
    assert iban_valid("DE12 5001 0517 0648 4898 90")
    assert not iban_valid("DE13 5001 0517 0648 4898 90")
    assert find_iban("IBAN: DE12 5001 0517 0648 4898 90 BIC ABCDDEFFXXX") == "DE12500105170648489890"
    assert find_iban("IBAN: DE13 5001 0517 0648 4898 90") is None


def test_mask_dates_keeps_positions_and_find_amounts_returns_fresh_lists() -> None:
    from tasks.invoice_extraction.parsing import find_amounts, mask_dates

    line = "Paid 12.03.2024 amount 5.00"
    assert mask_dates(line) == "Paid ########## amount 5.00"
    first = find_amounts(line)
    first.clear()  # a caller changing its list does not change the next caller's answer
    assert [a.value for a in find_amounts(line)] == [Decimal("5.00")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02/JAN/2017 10:49:25", date(2017, 1, 2)),  # month name between slashes
        ("28 MAR 18 18:32:36", date(2018, 3, 28)),  # two-digit year after a month name, then a time
        ("5. März 2024", date(2024, 3, 5)),
        ("12 dic 2023", date(2023, 12, 12)),  # Italian and Spanish abbreviations
        ("3 Mac 2019", date(2019, 3, 3)),  # Malay
        ("1 septembre 2024", date(2024, 9, 1)),
    ],
)
def test_month_names_in_the_languages_invoices_come_in(text: str, expected: date) -> None:
    assert find_dates(text, True)[0][1] == expected


@pytest.mark.parametrize(
    ("printed", "iban"),
    [
        ("IBAN DEO2 1203 OOOO OOOO 2O2O 51", "DE02120300000000202051"),  # a scan read zeros as O
        (
            "IBAN NL9I ABNA O417 1643 OO",
            "NL91ABNA0417164300",
        ),  # digits where the Dutch format wants digits, the bank code kept
    ],
)
def test_an_iban_a_scan_misread_is_read_as_its_country_writes_it(printed: str, iban: str) -> None:
    assert find_iban(printed) == iban


def test_a_misread_iban_whose_check_digits_fail_is_not_invented() -> None:
    assert find_iban("IBAN NL9I ABNA O417 1643 O1") is None


def test_many_iban_like_starts_do_not_hide_the_real_one() -> None:
    assert find_iban("DE0O " * 20000 + "IBAN DE02 1203 0000 0000 2020 51") == "DE02120300000000202051"
