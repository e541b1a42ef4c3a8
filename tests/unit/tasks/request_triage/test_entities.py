"""Entities a router needs, from hand-written requests, with the values written out by hand."""

from __future__ import annotations

from tasks.request_triage.entities import find_entities


def test_labelled_numbers_emails_amounts_and_dates() -> None:
    text = (
        "Hello, this is Ana (ana.lopez@example.com, customer no. C-20931). My order #A-12345 of 3 March 2024 "
        "was charged twice: €49.90 and EUR 49,90. See invoice INV-2024/0042 and ticket 88213. Thanks!"
    )
    assert find_entities(text) == {
        "emails": ["ana.lopez@example.com"],
        "order_numbers": ["A-12345"],
        "invoice_numbers": ["INV-2024/0042"],
        "ticket_numbers": ["88213"],
        "customer_ids": ["C-20931"],
        "amounts": [{"amount": "49.90", "currency": "EUR"}],
        "dates": ["2024-03-03"],
    }


def test_other_languages_and_number_formats() -> None:
    text = "Guten Tag, Bestellung Nr. 5512-77 vom 14.02.2024, Rechnung 2024-118: 1.234,50 € statt 1.034,50 €."
    found = find_entities(text)
    assert found["order_numbers"] == ["5512-77"] and found["invoice_numbers"] == ["2024-118"]
    assert found["amounts"] == [{"amount": "1234.50", "currency": "EUR"}, {"amount": "1034.50", "currency": "EUR"}]
    assert found["dates"] == ["2024-02-14"]


def test_a_number_without_a_label_is_not_taken_for_an_order() -> None:
    assert find_entities("I called 3 times about 2 parcels") == {}
    assert "order_numbers" not in find_entities("I want to order 12 more boxes")
