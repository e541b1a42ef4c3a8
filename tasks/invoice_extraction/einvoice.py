"""Exact invoice fields from EN 16931 e-invoice XML: UN/CEFACT CII and OASIS UBL 2.

Factur-X, ZUGFeRD 2 and XRechnung carry the invoice as structured data, either embedded in a
PDF/A-3 or as a standalone XML file. Reading it is exact, so every value found here gets
confidence 1.0 and nothing is guessed: a value the XML lacks stays ``None``.

Invoices are untrusted input, so the XML is parsed with ``defusedxml``: entity declarations
(billion laughs) and external entities are refused, never expanded or fetched. Elements are
matched by local name below the root, whose namespace decides the syntax (CII or UBL).
Amounts are kept as the XML states them; a credit note is told by ``document_type``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import BaseModel, Field

from opsgate import ExtractionError
from tasks.invoice_extraction.models import DocumentType, InvoiceFields, LineItem

Syntax = Literal["cii", "ubl"]

CII_NAMESPACES = frozenset({"urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"})
UBL_NAMESPACES = {
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2": "Invoice",
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": "CreditNote",
}
# UNTDID 1001 codes of documents that credit the buyer (EN 16931 allows these for credit notes).
CREDIT_NOTE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})

# The first element after the prolog, comments and a doctype: enough to recognise an e-invoice.
_ROOT = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<(?:[\w.-]+:)?"
    rb"(CrossIndustryInvoice|Invoice|CreditNote)[\s/>]",
    re.DOTALL,
)
_SPACES = re.compile(r"\s+")


class EInvoice(BaseModel):
    """What the XML says, in the extraction vocabulary, plus the amount due (after prepayment)."""

    syntax: Syntax
    document_type: DocumentType
    type_code: str | None = None
    fields: InvoiceFields
    confidence: dict[str, float] = Field(default_factory=dict)
    amount_due: Decimal | None = None


def looks_like_einvoice(data: bytes) -> bool:
    """Cheap check on the first bytes: is the root element CII ``CrossIndustryInvoice`` or UBL?"""
    return _ROOT.match(data[:65536]) is not None


def looks_like_xml(data: bytes) -> bool:
    """An XML declaration, or a root element an e-invoice would have."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<?xml") or looks_like_einvoice(data)


def parse_einvoice(data: bytes, name: str = "document") -> EInvoice:
    """Parse CII or UBL XML; raise ``ExtractionError("invalid_xml", ...)`` when that is not possible.

    Refused: malformed XML, entity declarations (defusedxml), a root that is neither CII nor UBL,
    values that are not the dates, amounts or currency they should be, and an e-invoice without
    an invoice number or a total.
    """
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ExtractionError("invalid_xml", f"{name}: XML refused, a DTD or entities are not allowed ({exc})") from exc
    except ParseError as exc:
        raise ExtractionError("invalid_xml", f"{name}: malformed XML ({exc})") from exc
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    try:
        if namespace in CII_NAMESPACES and local == "CrossIndustryInvoice":
            found, syntax = _cii(root), "cii"
        elif UBL_NAMESPACES.get(namespace) == local:
            found, syntax = _ubl(root, credit_note=local == "CreditNote"), "ubl"
        else:
            raise ExtractionError(
                "invalid_xml", f"{name}: root element {root.tag!r} is neither a CII nor a UBL 2 invoice"
            )
        type_code, amount_due, values = found
        for required in ("invoice_number", "total"):
            if values.get(required) is None:
                raise ExtractionError("invalid_xml", f"{name}: the {syntax.upper()} invoice has no {required}")
        present = {k: v for k, v in values.items() if v not in (None, "", [])}
        fields = InvoiceFields(**present)
    except (InvalidOperation, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise ExtractionError("invalid_xml", f"{name}: {exc}") from exc
    is_credit = local == "CreditNote" or type_code in CREDIT_NOTE_CODES
    return EInvoice(
        syntax=syntax,  # type: ignore[arg-type]
        document_type="credit_note" if is_credit else "invoice",
        type_code=type_code,
        fields=fields,
        confidence={k: 1.0 for k in present},
        amount_due=amount_due,
    )


# -- element helpers: paths of local names, namespaces ignored below the root ------------------


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _all(element: Element | None, path: str) -> list[Element]:
    nodes = [] if element is None else [element]
    for step in path.split("/"):
        nodes = [child for node in nodes for child in node if _local(child.tag) == step]
    return nodes


def _one(element: Element | None, path: str) -> Element | None:
    found = _all(element, path)
    return found[0] if found else None


def _text(element: Element | None, path: str) -> str | None:
    node = _one(element, path) if path else element
    value = _SPACES.sub(" ", "".join(node.itertext())).strip() if node is not None else ""
    return value or None


def _amount(element: Element | None, path: str, currency: str | None = None) -> Decimal | None:
    """The first amount at ``path``; with ``currency``, the first in that currency (or unmarked)."""
    for node in _all(element, path) if path else ([element] if element is not None else []):
        unit = node.get("currencyID")
        if currency and unit and unit.strip() != currency:
            continue
        value = _text(node, "")
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:  # its message is a list of signal classes, which names neither field nor value
            number = Decimal("NaN")
        if not number.is_finite():
            raise ValueError(f"{_local(node.tag)} is not an amount: {value!r}")
        return number
    return None


def _date(value: str | None, fmt: str | None = None) -> date | None:
    if value is None:
        return None
    digits = value.strip()
    if (fmt in (None, "102")) and re.fullmatch(r"\d{8}", digits):
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    if re.match(r"\d{4}-\d{2}-\d{2}", digits):
        return date.fromisoformat(digits[:10])
    raise ValueError(f"not a date in format {fmt or 'ISO'}: {value!r}")


def _currency(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError(f"not an ISO 4217 currency code: {value!r}")
    return value.upper()


def _address(*parts: str | None) -> str | None:
    return ", ".join(p for p in parts if p) or None


def _line(
    description: str | None, quantity: Decimal | None, price: Decimal | None, amount: Decimal | None
) -> Iterator[LineItem]:
    if any(v is not None for v in (description, quantity, price, amount)):
        yield LineItem(description=description, quantity=quantity, unit_price=price, amount=amount)


# -- UN/CEFACT Cross Industry Invoice (Factur-X, ZUGFeRD 2, XRechnung CII) ---------------------


def _cii_date(element: Element | None, path: str) -> date | None:
    node = _one(element, path + "/DateTimeString")
    return _date(_text(node, ""), node.get("format")) if node is not None else None


def _cii(root: Element) -> tuple[str | None, Decimal | None, dict[str, object]]:
    header = _one(root, "ExchangedDocument")
    trade = _one(root, "SupplyChainTradeTransaction")
    agreement = _one(trade, "ApplicableHeaderTradeAgreement")
    settlement = _one(trade, "ApplicableHeaderTradeSettlement")
    summation = _one(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    seller, buyer = _one(agreement, "SellerTradeParty"), _one(agreement, "BuyerTradeParty")
    currency = _currency(_text(settlement, "InvoiceCurrencyCode"))
    vat_ids = [n for n in _all(seller, "SpecifiedTaxRegistration/ID") if (n.get("schemeID") or "").upper() == "VA"]
    address = _one(seller, "PostalTradeAddress")
    ibans = [
        _text(n, "")
        for n in _all(settlement, "SpecifiedTradeSettlementPaymentMeans/PayeePartyCreditorFinancialAccount/IBANID")
    ]
    lines = [
        item
        for node in _all(trade, "IncludedSupplyChainTradeLineItem")
        for item in _line(
            _text(node, "SpecifiedTradeProduct/Name"),
            _amount(node, "SpecifiedLineTradeDelivery/BilledQuantity"),
            _amount(node, "SpecifiedLineTradeAgreement/NetPriceProductTradePrice/ChargeAmount"),
            _amount(node, "SpecifiedLineTradeSettlement/SpecifiedTradeSettlementLineMonetarySummation/LineTotalAmount"),
        )
    ]
    values: dict[str, object] = {
        "invoice_number": _text(header, "ID"),
        "invoice_date": _cii_date(header, "IssueDateTime"),
        "due_date": next(
            (d for t in _all(settlement, "SpecifiedTradePaymentTerms") if (d := _cii_date(t, "DueDateDateTime"))), None
        ),
        "currency": currency,
        "vendor_name": _text(seller, "Name"),
        "vendor_tax_id": _text(vat_ids[0], "") if vat_ids else None,
        "vendor_address": _address(
            *(_text(address, p) for p in ("LineOne", "LineTwo", "LineThree", "PostcodeCode", "CityName", "CountryID"))
        ),
        "customer_name": _text(buyer, "Name"),
        "subtotal": _amount(summation, "TaxBasisTotalAmount"),
        "tax_total": _amount(summation, "TaxTotalAmount", currency),
        "total": _amount(summation, "GrandTotalAmount"),
        "prepaid": _amount(summation, "TotalPrepaidAmount"),
        "amount_due": _amount(summation, "DuePayableAmount"),
        "po_number": _text(agreement, "BuyerOrderReferencedDocument/IssuerAssignedID"),
        "iban": next((i.replace(" ", "").upper() for i in ibans if i), None),
        "line_items": lines,
    }
    return _text(header, "TypeCode"), _amount(summation, "DuePayableAmount"), values


# -- OASIS UBL 2.1 Invoice and CreditNote (Peppol BIS, XRechnung UBL) --------------------------


def _ubl_party(party: Element | None) -> tuple[str | None, Element | None]:
    name = _text(party, "PartyLegalEntity/RegistrationName") or _text(party, "PartyName/Name")
    return name, _one(party, "PostalAddress")


def _ubl(root: Element, credit_note: bool) -> tuple[str | None, Decimal | None, dict[str, object]]:
    prefix = "CreditNote" if credit_note else "Invoice"
    seller_name, address = _ubl_party(_one(root, "AccountingSupplierParty/Party"))
    buyer_name, _ = _ubl_party(_one(root, "AccountingCustomerParty/Party"))
    seller = _one(root, "AccountingSupplierParty/Party")
    vat_ids = [s for s in _all(seller, "PartyTaxScheme") if (_text(s, "TaxScheme/ID") or "VAT").upper() == "VAT"]
    currency = _currency(_text(root, "DocumentCurrencyCode"))
    totals = _one(root, "LegalMonetaryTotal")
    tax = next((a for t in _all(root, "TaxTotal") if (a := _amount(t, "TaxAmount", currency)) is not None), None)
    due = _text(root, "DueDate") or next(
        (d for m in _all(root, "PaymentMeans") if (d := _text(m, "PaymentDueDate"))), None
    )
    ibans = [_text(m, "PayeeFinancialAccount/ID") for m in _all(root, "PaymentMeans")]
    lines = [
        item
        for node in _all(root, f"{prefix}Line")
        for item in _line(
            _text(node, "Item/Name") or _text(node, "Item/Description"),
            _amount(node, "CreditedQuantity" if credit_note else "InvoicedQuantity"),
            _amount(node, "Price/PriceAmount"),
            _amount(node, "LineExtensionAmount"),
        )
    ]
    values: dict[str, object] = {
        "invoice_number": _text(root, "ID"),
        "invoice_date": _date(_text(root, "IssueDate")),
        "due_date": _date(due),
        "currency": currency,
        "vendor_name": seller_name,
        "vendor_tax_id": _text(vat_ids[0], "CompanyID") if vat_ids else None,
        "vendor_address": _address(
            *(_text(address, p) for p in ("StreetName", "AdditionalStreetName", "PostalZone", "CityName")),
            _text(address, "Country/IdentificationCode"),
        ),
        "customer_name": buyer_name,
        "subtotal": _amount(totals, "TaxExclusiveAmount"),
        "tax_total": tax,
        "total": _amount(totals, "TaxInclusiveAmount"),
        "prepaid": _amount(totals, "PrepaidAmount"),
        "amount_due": _amount(totals, "PayableAmount"),
        "po_number": _text(root, "OrderReference/ID"),
        "iban": next((i.replace(" ", "").upper() for i in ibans if i), None),
        "line_items": lines,
    }
    return _text(root, f"{prefix}TypeCode"), _amount(totals, "PayableAmount"), values
