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


def test_a_branch_in_brackets_under_a_complete_legal_name_is_not_part_of_it() -> None:
    head = read_header(
        [
            "KENANGA SUPPLIES SDN BHD",
            "(BANDAR BARU BANGI)",
            "CO REG NO:123456-A",
            "NO 4, JALAN P10/2,",
            "43650 BANGI, SELANGOR",
            "TEL:03-8920 1111",
        ]
    )
    assert head.name == "KENANGA SUPPLIES SDN BHD"
    assert head.address == "NO 4, JALAN P10/2, 43650 BANGI, SELANGOR"


def test_a_registration_number_behind_its_label_is_cut_from_the_name() -> None:
    head = read_header(["MERANTI REALTY SDN BHD (CO. NO:45678-T)", "12, JALAN AMPANG,", "50450 KUALA LUMPUR."])
    assert head.name == "MERANTI REALTY SDN BHD"


def test_a_thank_you_line_above_the_shop_is_not_its_name() -> None:
    head = read_header(["TQ FOR SHOPPING WITH US", "SENTOSA REST AREA", "LOT 9, JALAN TOL,", "84600 PAGOH, JOHOR"])
    assert (head.name, head.address) == ("SENTOSA REST AREA", "LOT 9, JALAN TOL, 84600 PAGOH, JOHOR")


def test_a_legal_form_word_inside_a_trade_word_does_not_stop_the_name() -> None:
    """ "STATIONERY" begins with "station", which closes a head block as a petrol station's label would."""
    head = read_header(["NORTHERN SOUTHERN", "STATIONERY SDN. BHD", "CO REG NO : 111222-K", "5, JLN DAMAI", "51200 KL"])
    assert head.name == "NORTHERN SOUTHERN STATIONERY SDN. BHD"
    assert head.address == "5, JLN DAMAI, 51200 KL"


def test_the_town_under_a_line_ending_in_its_postcode_belongs_to_the_address() -> None:
    head = read_header(
        [
            "SERAI HARDWARE SDN. BHD.",
            "NO: A3, BLK A, JLN PJU 5/1,",
            "KOTA DAMANSARA, 47810",
            "PETALING JAYA, SELANGOR DARUL EHSAN.",
            "TEL: 03-6141 0000",
        ]
    )
    assert head.address == "NO: A3, BLK A, JLN PJU 5/1, KOTA DAMANSARA, 47810, PETALING JAYA, SELANGOR DARUL EHSAN."


@pytest.mark.parametrize(
    "before",
    [
        ["KASTURI IDEA SDN BHD (445566-M),"],  # the company running a franchise, under the brand
        ["(KASTURI SHOP (12345))"],  # a remark in brackets
        ["<445566-M>"],  # a registration number in angle brackets
        ["BRN GST NO . 000111222333\tMANAGER : LIM"],  # a tax number behind another label
    ],
)
def test_company_and_registration_lines_do_not_open_the_address(before: list[str]) -> None:
    head = read_header(["KASTURI CORNER", *before, "A-1-2, DATARAN ROYALE,", "47301 PETALING JAYA, SELANGOR"])
    assert head.address == "A-1-2, DATARAN ROYALE, 47301 PETALING JAYA, SELANGOR"


@pytest.mark.parametrize(
    "after",
    [
        "PREPAY CHIT NUMBER",  # a label whose value follows
        "CARELINE : 1800 88 1234",  # a contact line under a label of its own
        "OUTLET:03-80621111 HOTLINE:03-56380000",
        "SEROJA FUEL ENTERPRISE",  # the business operating the site
    ],
)
def test_what_follows_the_postcode_and_is_plainly_no_address_ends_it(after: str) -> None:
    head = read_header(["PETRO PERMAI", "LOT 1626, MUKIM LAUT,", "16200 TUMPAT, KELANTAN", after, "12/04/2018"])
    assert head.address == "LOT 1626, MUKIM LAUT, 16200 TUMPAT, KELANTAN"
