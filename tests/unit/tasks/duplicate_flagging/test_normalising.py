"""One spelling per value: legal forms, addresses, phones, e-mails, dates, postcodes."""

from __future__ import annotations

import pandas as pd

from tasks.duplicate_flagging import normalising as n
from tasks.duplicate_flagging.fields import Kind


def _all(function, values: list[str | None]) -> list[str]:  # type: ignore[no-untyped-def]
    return function(pd.Series(values, dtype="object")).tolist()


def test_legal_forms_case_accents_and_punctuation_do_not_count() -> None:
    assert _all(
        n.organisation,
        ["Acme Ltd.", "ACME Limited", "acme, inc", "Müller GmbH & Co. KG", "Kedai Sdn. Bhd.", "Smit B.V.", None],
    ) == [
        "acme",
        "acme",
        "acme",
        "muller",
        "kedai",
        "smit",
        "",
    ]


def test_address_abbreviations_and_units() -> None:
    assert _all(
        n.address,
        ["10001 South Woodlawn Avenue First Floor", "10001 S. Woodlawn Ave", "12 Main Street, Apt 4B", "5 High St #3"],
    ) == [
        "10001 s woodlawn ave",
        "10001 s woodlawn ave",
        "12 main st",
        "5 high st",
    ]


def test_phone_email_postcode_and_identifier_forms() -> None:
    assert _all(n.phone, ["+1 (555) 010-2030", "555.010.2030", ""]) == ["15550102030", "5550102030", ""]
    assert _all(n.email, ["John.Doe+news@Gmail.com", "Info@Acme.co.uk", "not an address"]) == [
        "johndoe@gmail.com",
        "info@acme.co.uk",
        "",
    ]
    assert _all(n.postcode, ["60628-1234", "sw1a 1aa", None]) == ["60628", "SW1A1AA", ""]
    assert _all(n.identifier, ["DE 136 695 976", "ab-12"]) == ["DE136695976", "AB12"]


def test_dates_in_several_forms_become_one() -> None:
    assert _all(n.date, ["1956-04-09", "19560409", "09/04/1956", "1956-04-09T00:00:00", "soon", ""]) == [
        "19560409",
        "19560409",
        "19560409",
        "19560409",
        "",
        "",
    ]


def test_word_maps_leading_matches_and_rewrites_run_in_arrow() -> None:
    column = n.text(pd.Series(["12 main street", "north road", "", None]))
    assert n.map_words(column, {"street": "st", "north": "", "road": "rd"}).tolist() == ["12 main st", "rd", "", ""]
    assert n.leading_match(column, r"\d+").tolist() == ["12", "", "", ""]
    assert n.first_word(column).tolist() == ["12", "north", "", ""]
    assert n.rewrite(n.text(pd.Series(["2024-03-05"])), r"^(\d{4})-(\d{2})-(\d{2})$", r"\3.\2.\1").tolist() == [
        "05.03.2024"
    ]


def test_placeholders_for_missing_values_are_missing() -> None:
    written = pd.Series(["NULL", "n/a", " None ", "unknown", "-", "??", "nan", "Na", "Nancy", "Noneman"])
    assert list(n.normalise(written, Kind.SURNAME)) == ["", "", "", "", "", "", "", "na", "nancy", "noneman"]
    assert list(n.normalise(pd.Series(["N/A", "1990-03-04"]), Kind.DATE)) == ["", "19900304"]
