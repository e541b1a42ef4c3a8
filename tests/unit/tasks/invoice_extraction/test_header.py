"""The seller's name and address read from the head of invented receipts."""

from __future__ import annotations

import pytest

from tasks.invoice_extraction.header import read_header


def test_name_over_two_lines_then_registration_then_address() -> None:
    head = read_header(
        [
            "CASH SALE",
            "KEDAI RUNCIT MAWAR",
            "TRADING SDN BHD",
            "(765432-K)",
            "NO. 8, JALAN CEMPAKA 3,",
            "TAMAN MELATI,",
            "54100 KUALA LUMPUR.",
            "TEL : 03-1111 2222",
        ]
    )
    assert head.name == "KEDAI RUNCIT MAWAR TRADING SDN BHD"
    assert head.address == "NO. 8, JALAN CEMPAKA 3, TAMAN MELATI, 54100 KUALA LUMPUR."


def test_tax_lines_and_brand_lines_are_skipped_before_the_street() -> None:
    head = read_header(
        [
            "SUNFLOWER BAKES",
            "OWNED BY: PETAL FOODS SDN BHD (998877-A)",
            "GST ID : 001122334455",
            "LOT 12, JLN MERAK 2",
            "81300 SKUDAI, JOHOR",
            "TAX INVOICE",
        ]
    )
    assert head.name == "PETAL FOODS SDN BHD"
    assert head.address == "LOT 12, JLN MERAK 2, 81300 SKUDAI, JOHOR"


def test_state_line_after_the_postcode_belongs_to_the_address_but_contact_does_not() -> None:
    head = read_header(["ORCHID BOOKSTORE", "12 JALAN API,", "43000 KAJANG, TEL: 03-999 8888", "SELANGOR", "INVOICE"])
    assert head.name == "ORCHID BOOKSTORE"
    assert head.address == "12 JALAN API, 43000 KAJANG, SELANGOR"


def test_courtesy_lines_above_the_name_are_ignored() -> None:
    head = read_header(
        ["THANK YOU, PLEASE COME AGAIN", "LILY MART SDN BHD", "7 JALAN BUNGA, 10200 PENANG", "TEL 04-1234567"]
    )
    assert (head.name, head.address) == ("LILY MART SDN BHD", "7 JALAN BUNGA, 10200 PENANG")


def test_no_name_no_header() -> None:
    assert read_header(["TAX INVOICE", "TEL: 03-1234 5678"]).name is None


def test_the_country_closes_the_address_and_an_outlet_name_after_it_is_left_out() -> None:
    header = read_header(
        [
            "POPULAR BOOK CO. (M) SDN BHD",
            "NO 8, JALAN 7/118B, DESA TUN RAZAK",
            "56000 KUALA LUMPUR, MALAYSIA",
            "SUNWAY VELOCITY",
            "TEL: 03-1234",
        ]
    )
    assert header.address == "NO 8, JALAN 7/118B, DESA TUN RAZAK, 56000 KUALA LUMPUR, MALAYSIA"


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        (
            ["TAN WOON YANN", "YONGFATT ENTERPRISE", "(JM0517726)", "NO 122 JALAN DEDAP 13", "81100 JOHOR BAHRU"],
            "YONGFATT ENTERPRISE",
        ),
        (["R", "KEDAI PAPAN YEW CHUAN", "(0005583085-K)", "LOT 276 JALAN BANTING"], "KEDAI PAPAN YEW CHUAN"),
        (
            ["HARDWARE ENTERPRISE (SETIA", "ALAM) SDN BHD", "(1234567-X)", "NO 1 JALAN 2"],
            "HARDWARE ENTERPRISE (SETIA ALAM) SDN BHD",
        ),
    ],
)
def test_the_line_above_a_registration_number_ends_the_name(lines: list[str], name: str) -> None:
    assert read_header(lines).name == name  # a stamp or a cashier's name above it is not part of it
