"""Party roles from their headings, in stacked and in side-by-side blocks; expected names stated by hand."""

from __future__ import annotations

import pytest

from tasks.invoice_extraction.layout import layout_text_lines
from tasks.invoice_extraction.rules import extract_fields

STACKED = """\
Rechnung Nr. 4711 vom 05.03.2024
Verkäufer:
Nummer : 549910
Lieferant GmbH
Lieferantenstraße 20
DE 80333 München
Käufer/Leistungsempfänger:
Nummer : GE2020211
Herrn
Max Mustermann
Kundenstraße 15
DE 69876 Frankfurt
Gesamtbetrag 119,00 EUR
"""


def test_stacked_blocks_name_seller_and_buyer_under_their_headings() -> None:
    fields = extract_fields(STACKED).fields
    assert fields.vendor_name == "Lieferant GmbH"
    assert fields.customer_name == "Herrn Max Mustermann"  # a salutation opens the name


SIDE_BY_SIDE = """\
Supplier                              Bill to
Northwind Traders Ltd                 Contoso Pharmacy
12 Harbour Road                       4 Station Street
Leeds LS1 4AB                         York YO1 7HH

Invoice No: INV-2024-0042
Invoice Date: 12/03/2024
Total GBP 240.00
"""


@pytest.mark.parametrize(
    ("seller", "buyer"),
    [
        ("Supplier", "Bill to"),
        ("Fournisseur", "Client"),
        ("Lieferant", "Rechnungsempfänger"),
        ("Leverancier", "Klant"),
        ("Fornitore", "Cliente"),
        ("Emisor", "Comprador"),
    ],
)
def test_side_by_side_blocks_are_not_interleaved(seller: str, buyer: str) -> None:
    text = SIDE_BY_SIDE.replace("Supplier", seller.ljust(len("Supplier"))).replace("Bill to", buyer)
    fields = extract_fields("\n".join(layout_text_lines(text))).fields
    assert fields.vendor_name == "Northwind Traders Ltd"
    assert fields.customer_name == "Contoso Pharmacy"


def test_a_name_on_the_heading_line_is_not_taken_for_a_block() -> None:
    fields = extract_fields("Bill To: Orchard Foods LLC\nWidgets  2  $100.00  $200.00\nTotal $200.00\n").fields
    assert fields.customer_name == "Orchard Foods LLC"


def test_a_salutation_keeps_the_name_below_it_across_a_blank_line() -> None:
    # OCR often leaves a blank line between a salutation and the name it opens
    text = "Rechnung Nr. 4711 vom 05.03.2024\nKäufer:\n\nHerrn\n\nMax Mustermann\nMusterstr. 11\nDE 12346 Bad Musterhausen\n\nGesamtbetrag 50,00 EUR\n"
    assert extract_fields(text).fields.customer_name == "Herrn Max Mustermann"


def test_a_return_address_line_whose_bullets_a_scan_read_as_letters() -> None:
    text = "Bei Spiel GmbH e Ecke 12 e 12345 Stadthausen e Germany\nTheodor Est\nBahnstr. 42\nInvoice # RE-2019/507\nTotal 571.04 EUR\n"
    fields = extract_fields(text).fields
    assert (fields.vendor_name, fields.customer_name) == ("Bei Spiel GmbH", "Theodor Est")
