"""E-invoice XML (CII, UBL): exact fields, refusal of bad or hostile XML, and the PDF/A-3 hook."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from defusedxml import DTDForbidden

from opsgate.errors import ExtractionError
from opsgate.models import EscalationReason
from tasks.invoice_extraction.einvoice import looks_like_einvoice, looks_like_xml, parse_einvoice
from tasks.invoice_extraction.extracting import extract_document
from tasks.invoice_extraction.models import InvoiceFields, LineItem
from tasks.invoice_extraction.reading import embedded_einvoice, read_document
from tests.support.einvoices import BILLION_LAUGHS, EXTERNAL_ENTITY, cii_invoice, ubl_invoice
from tests.support.pdf_builder import pdf_with_attachment, text_pdf

REQUIRED = ["invoice_number", "invoice_date", "currency", "total"]
PRINTED = ["Werkbank Holzbau GmbH", "Invoice No: WB-2024-0042", "Date: 2024-03-05", "Total EUR 142.80"]


def _invalid(data: bytes) -> str:
    with pytest.raises(ExtractionError) as info:
        parse_einvoice(data, "inv.xml")
    assert info.value.reason == "invalid_xml"
    assert "inv.xml" in str(info.value)
    return str(info.value)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- parsing -------------------------------------------------------------------------------------


def test_cii_invoice_all_fields() -> None:
    result = parse_einvoice(cii_invoice())
    f = result.fields
    assert (result.syntax, result.document_type, result.type_code) == ("cii", "invoice", "380")
    assert (f.invoice_number, f.invoice_date, f.due_date) == ("WB-2024-0042", date(2024, 3, 5), date(2024, 4, 4))
    assert (f.currency, f.subtotal, f.tax_total, f.total) == (
        "EUR",
        Decimal("120.00"),
        Decimal("22.80"),
        Decimal("142.80"),
    )
    assert (f.vendor_name, f.vendor_tax_id) == ("Werkbank Holzbau GmbH", "DE136695976")  # VA, not the FC number
    assert f.vendor_address == "Hobelweg 7, 28195, Bremen, DE"
    assert (f.customer_name, f.po_number, f.iban) == ("Kranich Möbelhaus KG", "PO-7781", "DE02120300000000202051")
    assert f.line_items == [
        LineItem(
            description="Brass hinge, 40 mm",
            quantity=Decimal("12"),
            unit_price=Decimal("2.50"),
            amount=Decimal("30.00"),
        ),
        LineItem(
            description="Oak shelf board", quantity=Decimal("3"), unit_price=Decimal("30.00"), amount=Decimal("90.00")
        ),
    ]
    assert f.amount_due == Decimal("142.80")  # nothing was prepaid: all of it is due
    assert result.confidence == {name: 1.0 for name in InvoiceFields.model_fields if name != "prepaid"}


def test_cii_prepaid_and_due_are_read_beside_the_gross_total() -> None:
    f = parse_einvoice(cii_invoice(total="1021.91", prepaid="500.00", due_payable="521.91")).fields
    assert (f.total, f.prepaid, f.amount_due) == (Decimal("1021.91"), Decimal("500.00"), Decimal("521.91"))


def test_cii_credit_note_type_381_keeps_amounts_as_stated() -> None:
    result = parse_einvoice(cii_invoice(number="WB-GS-7", type_code="381", total="59.50", subtotal="50.00", tax="9.50"))
    assert result.document_type == "credit_note"
    assert (result.fields.invoice_number, result.fields.total, result.fields.tax_total) == (
        "WB-GS-7",
        Decimal("59.50"),
        Decimal("9.50"),
    )


@pytest.mark.parametrize(
    ("code", "kind"), [("261", "credit_note"), ("396", "credit_note"), ("389", "invoice"), ("384", "invoice")]
)
def test_cii_type_codes(code: str, kind: str) -> None:
    assert parse_einvoice(cii_invoice(type_code=code)).document_type == kind


def test_cii_dates_format_102() -> None:
    f = parse_einvoice(cii_invoice(issue_date="20231231", due_date="20240229")).fields
    assert (f.invoice_date, f.due_date) == (date(2023, 12, 31), date(2024, 2, 29))


def test_cii_tax_total_in_invoice_currency_only() -> None:
    data = cii_invoice(currency="EUR").replace(
        b'<ram:TaxTotalAmount currencyID="EUR">22.80</ram:TaxTotalAmount>',
        b'<ram:TaxTotalAmount currencyID="SEK">260.00</ram:TaxTotalAmount><ram:TaxTotalAmount currencyID="EUR">22.80</ram:TaxTotalAmount>',
    )
    assert parse_einvoice(data).fields.tax_total == Decimal("22.80")


def test_ubl_invoice_all_fields() -> None:
    result = parse_einvoice(ubl_invoice())
    f = result.fields
    assert (result.syntax, result.document_type, result.type_code) == ("ubl", "invoice", "380")
    assert (f.invoice_number, f.invoice_date, f.due_date) == ("NS-88031", date(2024, 5, 17), date(2024, 6, 16))
    assert (f.currency, f.subtotal, f.tax_total, f.total) == (
        "NOK",
        Decimal("1000.00"),
        Decimal("250.00"),
        Decimal("1250.00"),
    )
    assert (f.vendor_name, f.vendor_tax_id) == (
        "Nordsjø Fiskeutstyr AS",
        "NO987654321MVA",
    )  # legal name, not trading name
    assert f.vendor_address == "Bryggen 12, 5003, Bergen, NO"
    assert (f.customer_name, f.po_number, f.iban) == ("Havbris Marina AB", "HM-4410", "NO9386011117947")
    assert [(i.description, i.quantity, i.unit_price, i.amount) for i in f.line_items] == [
        ("Trawl net, 20 m", Decimal("2"), Decimal("400.00"), Decimal("800.00")),
        ("Buoy, orange", Decimal("10"), Decimal("20.00"), Decimal("200.00")),
    ]


def test_ubl_credit_note() -> None:
    result = parse_einvoice(ubl_invoice(number="NS-CN-12", credit_note=True, total="125.00", due_date="2024-07-01"))
    assert (result.document_type, result.type_code) == ("credit_note", "381")
    assert (result.fields.invoice_number, result.fields.total) == ("NS-CN-12", Decimal("125.00"))
    assert result.fields.due_date == date(2024, 7, 1)  # from PaymentMeans/PaymentDueDate
    assert [i.quantity for i in result.fields.line_items] == [Decimal("2"), Decimal("10")]  # CreditedQuantity


def test_ubl_credit_note_even_with_invoice_type_code() -> None:
    assert parse_einvoice(ubl_invoice(credit_note=True, type_code="380")).document_type == "credit_note"


@pytest.mark.parametrize("build", [cii_invoice, ubl_invoice])
def test_missing_optional_fields_stay_none(build) -> None:
    result = parse_einvoice(
        build(due_date=None, seller_vat=None, buyer=None, po_number=None, iban=None, subtotal=None, tax=None, lines=[])
    )
    f = result.fields
    assert (f.due_date, f.vendor_tax_id, f.customer_name, f.po_number, f.iban, f.subtotal, f.tax_total) == (None,) * 7
    assert f.line_items == []
    # the due payable amount is always written by the builder: it is the total
    assert set(result.confidence) == {
        "invoice_number",
        "invoice_date",
        "currency",
        "vendor_name",
        "vendor_address",
        "total",
        "amount_due",
    }


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"<?xml version='1.0'?><rsm:CrossIndustryInvoice", b"not xml at all", cii_invoice()[:-40]]
)
def test_malformed_xml_is_invalid(data: bytes) -> None:
    assert "malformed" in _invalid(data)


def _refused_at_the_dtd(data: bytes, root: str) -> str:
    """The parser stopped at the document type declaration: no entity was declared, so none
    was expanded or fetched."""
    with pytest.raises(ExtractionError) as info:
        parse_einvoice(data, "inv.xml")
    assert info.value.reason == "invalid_xml"
    assert isinstance(info.value.__cause__, DTDForbidden) and info.value.__cause__.name == root
    return str(info.value)


def test_billion_laughs_is_refused_not_expanded() -> None:
    message = _refused_at_the_dtd(BILLION_LAUGHS, "rsm:CrossIndustryInvoice")
    assert message.startswith("inv.xml: XML refused, a DTD or entities are not allowed")
    assert "lol" not in message


def test_external_entity_is_refused() -> None:
    message = _refused_at_the_dtd(EXTERNAL_ENTITY, "Invoice")
    assert message.startswith("inv.xml: XML refused, a DTD or entities are not allowed")
    assert "root:" not in message and "passwd" not in message


@pytest.mark.parametrize(
    "data",
    [
        b"<?xml version='1.0'?><catalog><book/></catalog>",
        b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"><ID>1</ID></Order>',
        b'<Invoice xmlns="urn:example:not-ubl"><ID>1</ID></Invoice>',
    ],
)
def test_other_xml_is_not_an_einvoice(data: bytes) -> None:
    assert "neither a CII nor a UBL" in _invalid(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (cii_invoice(number=None), "no invoice_number"),
        (cii_invoice(total=None), "no total"),
        (ubl_invoice(number=None), "no invoice_number"),
        (ubl_invoice(total=None), "no total"),
        (cii_invoice(issue_date="05.03.2024"), "not a date"),
        (cii_invoice(total="12,50"), "GrandTotalAmount is not an amount: '12,50'"),
        (ubl_invoice(currency="EURO"), "currency"),
    ],
)
def test_incomplete_or_wrong_values_are_invalid(data: bytes, words: str) -> None:
    assert words in _invalid(data)


def test_root_sniffing() -> None:
    assert looks_like_einvoice(cii_invoice()) and looks_like_einvoice(ubl_invoice(credit_note=True))
    assert looks_like_einvoice(b"\xef\xbb\xbf<!-- note --><Invoice xmlns='x'>")
    assert not looks_like_einvoice(b"Invoice No: 12\nTotal 3.00")
    assert looks_like_xml(b"  <?xml version='1.0'?><anything/>") and not looks_like_xml(b"<b>Invoice</b>")


# -- PDF attachments and extract_document ----------------------------------------------------------


def test_pdf_with_attachment_is_a_valid_pdf_pdfium_reads() -> None:
    data = pdf_with_attachment(PRINTED, "factur-x.xml", cii_invoice())
    start = int(re.search(rb"startxref\n(\d+)", data).group(1))
    offsets = re.findall(rb"(\d{10}) 00000 n ", data[start:])
    assert all(re.match(rb"%d 0 obj" % (n + 1), data[int(o) :]) for n, o in enumerate(offsets))
    document = pdfium.PdfDocument(data)
    try:
        assert document.count_attachments() == 1
        attachment = document.get_attachment(0)
        assert (attachment.get_name(), bytes(attachment.get_data())) == ("factur-x.xml", cii_invoice())
    finally:
        document.close()


def test_embedded_einvoice_finds_the_xml(tmp_path: Path) -> None:
    xml = cii_invoice()
    for name in ("factur-x.xml", "ZUGFeRD-invoice.xml", "xrechnung.xml", "invoice-data.xml"):
        assert embedded_einvoice(pdf_with_attachment(PRINTED, name, xml), "a.pdf") == (name, xml)
    assert embedded_einvoice(pdf_with_attachment(PRINTED, "notes.xml", b"<notes/>"), "a.pdf") is None
    assert embedded_einvoice(pdf_with_attachment(PRINTED, "factur-x.txt", xml), "a.pdf") is None
    assert embedded_einvoice(text_pdf(PRINTED), "a.pdf") is None
    assert embedded_einvoice(xml, "a.xml") is None
    with pytest.raises(ExtractionError) as info:
        embedded_einvoice(pdf_with_attachment(PRINTED, "factur-x.xml", xml), "a.pdf", max_bytes=100)
    assert info.value.reason == "too_large"
    path = _write(tmp_path, "a.pdf", pdf_with_attachment(PRINTED, "factur-x.xml", xml))
    assert read_document(path).split() == " ".join(PRINTED).split()  # the text layer is unchanged


def test_pdf_with_embedded_cii_is_read_from_the_xml(tmp_path: Path) -> None:
    path = _write(tmp_path, "wb.pdf", pdf_with_attachment(PRINTED, "factur-x.xml", cii_invoice()))
    result = extract_document(path, REQUIRED)
    assert (result.status, result.escalations, result.document_type) == ("ok", [], "invoice")
    f = result.fields
    assert (f.invoice_number, f.total, f.due_date, f.customer_name) == (
        "WB-2024-0042",
        Decimal("142.80"),
        date(2024, 4, 4),
        "Kranich Möbelhaus KG",
    )
    assert len(f.line_items) == 2
    assert set(result.confidence.values()) == {1.0}


def test_use_embedded_xml_false_reads_the_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "wb.pdf", pdf_with_attachment(PRINTED, "factur-x.xml", cii_invoice()))
    result = extract_document(path, REQUIRED, use_embedded_xml=False)
    assert result.status == "ok"
    f = result.fields
    assert (f.invoice_number, f.total, f.invoice_date) == ("WB-2024-0042", Decimal("142.80"), date(2024, 3, 5))
    assert (f.due_date, f.customer_name, f.line_items) == (None, None, [])  # not printed, so not found
    assert max(result.confidence.values()) < 1.0


def test_fields_the_xml_leaves_out_are_read_from_the_text(tmp_path: Path) -> None:
    printed = PRINTED + ["IBAN: DE89 3704 0044 0532 0130 00"]
    path = _write(
        tmp_path, "wb.pdf", pdf_with_attachment(printed, "factur-x.xml", cii_invoice(iban=None, po_number=None))
    )
    result = extract_document(path, REQUIRED)
    assert (result.status, result.fields.iban, result.fields.po_number) == ("ok", "DE89370400440532013000", None)
    assert result.confidence["iban"] < 1.0 == result.confidence["total"]  # read from the text, not the XML
    # where the XML has the field, the printed value does not replace it
    with_xml_iban = extract_document(
        _write(tmp_path, "x.pdf", pdf_with_attachment(printed, "factur-x.xml", cii_invoice())), REQUIRED
    )
    assert (with_xml_iban.fields.iban, with_xml_iban.confidence["iban"]) == ("DE02120300000000202051", 1.0)


def test_a_printed_account_failing_its_checksum_is_escalated(tmp_path: Path) -> None:
    printed = PRINTED + ["Bank account: US1234567890"]
    path = _write(tmp_path, "wb.pdf", pdf_with_attachment(printed, "factur-x.xml", cii_invoice(iban=None)))
    result = extract_document(path, REQUIRED)
    assert (result.status, result.fields.iban) == ("escalated", "US1234567890")
    assert [(e.reason, e.field) for e in result.escalations] == [(EscalationReason.FAILED_CHECK, "iban")]


def test_scan_with_embedded_xml_needs_no_ocr(tmp_path: Path) -> None:
    path = _write(tmp_path, "scan.pdf", pdf_with_attachment([], "factur-x.xml", ubl_invoice()))
    result = extract_document(path, REQUIRED)
    assert (result.status, result.escalations, result.fields.invoice_number) == ("ok", [], "NS-88031")
    blind = extract_document(path, REQUIRED, use_embedded_xml=False)
    assert [e.reason for e in blind.escalations] == [EscalationReason.NEEDS_OCR]


def test_standalone_xml_files_are_read_exactly(tmp_path: Path) -> None:
    cii = extract_document(_write(tmp_path, "wb.xml", cii_invoice(type_code="381")), REQUIRED)
    assert (cii.status, cii.document_type, cii.fields.total) == ("ok", "credit_note", Decimal("142.80"))
    assert cii.confidence["total"] == 1.0
    # detected by content, not by name
    ubl = extract_document(_write(tmp_path, "from_mail.txt", ubl_invoice()), REQUIRED, source="inbox/x")
    assert (ubl.status, ubl.source, ubl.fields.invoice_number, ubl.fields.currency) == (
        "ok",
        "inbox/x",
        "NS-88031",
        "NOK",
    )


def test_standalone_xml_escalates_missing_required_fields(tmp_path: Path) -> None:
    result = extract_document(_write(tmp_path, "u.xml", ubl_invoice()), REQUIRED + ["vendor_tax_id", "due_date"])
    assert result.status == "ok"
    sparse = extract_document(_write(tmp_path, "s.xml", ubl_invoice(seller_vat=None)), REQUIRED + ["vendor_tax_id"])
    assert sparse.status == "escalated"
    assert [(e.reason, e.field) for e in sparse.escalations] == [(EscalationReason.MISSING_DATA, "vendor_tax_id")]


@pytest.mark.parametrize("data", [b"<?xml version='1.0'?><catalog/>", BILLION_LAUGHS, cii_invoice(total=None)])
def test_bad_standalone_xml_is_an_error(tmp_path: Path, data: bytes) -> None:
    result = extract_document(_write(tmp_path, "bad.xml", data), REQUIRED)
    assert result.status == "error"
    assert result.error and "bad.xml" in result.error


def test_total_disagreement_escalates_and_keeps_the_xml_total(tmp_path: Path) -> None:
    printed = PRINTED[:-1] + ["Total EUR 150.00"]
    path = _write(tmp_path, "wb.pdf", pdf_with_attachment(printed, "factur-x.xml", cii_invoice()))
    result = extract_document(path, REQUIRED)
    assert result.status == "escalated"
    assert [(e.reason, e.field) for e in result.escalations] == [(EscalationReason.CONFLICTING_SOURCES, "total")]
    assert "142.80" in result.escalations[0].detail and "150.00" in result.escalations[0].detail
    assert result.fields.total == Decimal("142.80")


def test_printed_amount_due_after_prepayment_is_no_conflict(tmp_path: Path) -> None:
    printed = PRINTED[:-1] + ["Total EUR 42.80"]
    xml = cii_invoice(due_payable="42.80")
    result = extract_document(_write(tmp_path, "wb.pdf", pdf_with_attachment(printed, "factur-x.xml", xml)), REQUIRED)
    assert (result.status, result.fields.total) == ("ok", Decimal("142.80"))


def test_broken_embedded_xml_falls_back_to_text_with_escalation(tmp_path: Path) -> None:
    path = _write(tmp_path, "wb.pdf", pdf_with_attachment(PRINTED, "factur-x.xml", cii_invoice()[:-40]))
    result = extract_document(path, REQUIRED)
    assert result.status == "escalated"
    assert [(e.reason, e.field) for e in result.escalations] == [(EscalationReason.CONFLICTING_SOURCES, None)]
    assert "factur-x.xml" in result.escalations[0].detail and "text" in result.escalations[0].detail
    assert (result.fields.invoice_number, result.fields.total) == ("WB-2024-0042", Decimal("142.80"))
    assert max(result.confidence.values()) < 1.0
