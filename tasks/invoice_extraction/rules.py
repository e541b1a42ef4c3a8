"""The deterministic "rules" backend: invoice fields from text by labels and value shapes.

Why rules first: they are explainable, free, offline and repeatable, and they give every
later backend (an LLM) a baseline to be compared against. Each value found gets a confidence:
0.9 when it stood next to a specific label, less when the label was generic or the value was
guessed from position. Text in the document is only ever data here; nothing in it is obeyed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, Field

from tasks.invoice_extraction import label_patterns as L
from tasks.invoice_extraction.checks import CONFIRMED, adjust_confidence, vat_id_valid
from tasks.invoice_extraction.header import read_header
from tasks.invoice_extraction.label_search import GENERIC, GUESSED, LEADING_SEPARATORS, SPECIFIC, LabelSearch, labelled, mend_split_words
from tasks.invoice_extraction.line_items import read_line_items
from tasks.invoice_extraction.models import DocumentType, InvoiceFields
from tasks.invoice_extraction.parsing import (
    currency_in,
    detect_currency,
    detect_dayfirst,
    find_amounts,
    find_dates,
    find_iban,
)
from tasks.invoice_extraction.parties import name_value, party_block, party_name, sender_line, vendor
from tasks.invoice_extraction.terms import due_from_terms
from tasks.invoice_extraction.totals import payable, reconcile_total, split_of_total

T = TypeVar("T")
_ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]*")
# An integer followed by a word other than a currency counts something ("10 days", "3 Stk").
_COUNTED = re.compile(r"\s*(?!(?:EUR|USD|GBP|CHF|MYR|RM)\b)[^\W\d_]{2,}")
_CUSTOMER_SIDE = re.compile(r"(?:client|customer|kunde|käufer|acheteur|buyer|klant|your|ihre|votre)\b", re.IGNORECASE)
_CUSTOMER_BEFORE = re.compile(r"(?:client|customer|kunden?|käufers?|buyer|acheteur|klant|recipient|empfängers?)\W*\w*\W*$", re.IGNORECASE)
_COMMA_CENTS = re.compile(r"\d,\d{2}(?![\d])")
_POINT_CENTS = re.compile(r"\d\.\d{2}(?![\d.])")
_TAX_INCLUDED = re.compile(r"(?<![\w])(?:incl\w*|inkl\w*|ttc|tax\s*included|including\s*(?:vat|tax|gst))(?![\w])", re.IGNORECASE)
_BARE_TITLE = re.compile(r"^\W*(?:tax\s+)?(?:invoice|rechnung|facture|factuur|credit\s*note|gutschrift|avoir)\W*$", re.IGNORECASE)
_NUMBER_SIGN_LINE = re.compile(r"^(?:#|no\.?|nr\.?|n[°º])\s*(?P<value>[\w/.-]*\d[\w/.-]*)\s*$", re.IGNORECASE)


class RulesResult(BaseModel):
    """What the rules backend found, with a confidence per field it filled."""

    fields: InvoiceFields
    confidence: dict[str, float] = Field(default_factory=dict)
    document_type: DocumentType = "invoice"


def extract_fields(text: str) -> RulesResult:
    """Extract invoice fields from a document's text using labels in EN/DE/FR/NL."""
    laid_out = text.replace("\f", "\n").split("\n")  # with indentation: where a cell stands under its heading
    lines = mend_split_words([line.strip() for line in laid_out])
    dayfirst = detect_dayfirst(text, hint=True if L.LANGUAGE_DAYFIRST.search(text) else None)
    found: dict[str, tuple[object, float]] = {}

    def put(name: str, hit: tuple[T, float] | None) -> None:
        if hit is not None and hit[0] not in (None, ""):
            found[name] = hit

    def date_of(s: str) -> date | None:
        dates = find_dates(s, dayfirst)
        return dates[0][1] if dates else None

    def date_first(s: str) -> date | None:  # a date on the following line must lead it
        dates = find_dates(s, dayfirst)
        return dates[0][1] if dates and dates[0][0] <= 2 else None

    put(
        "invoice_number",
        labelled(lines, L.INVOICE_NUMBER, _id_value, _id_value_next)
        or _title_number(lines)
        or labelled(lines, L.INVOICE_NUMBER_COLUMN, _no_value, _id_value_next, LabelSearch(heading_row=True, generic=True)),
    )
    put(
        "invoice_date",
        labelled(lines, L.INVOICE_DATE, date_of, date_first, LabelSearch(generic_last=True)) or _first_date(lines, date_of),
    )
    put("due_date", labelled(lines, L.DUE_DATE, date_of, date_first, LabelSearch(under=laid_out)) or _due_from_terms(lines, found, dayfirst))
    due = labelled(lines, L.AMOUNT_DUE, _total_value, _amount_only, LabelSearch(exclude=L.TOTAL_EXCLUDE, bottom_up=True))
    prepaid = labelled(lines, L.PREPAID, _last_amount, _amount_only, LabelSearch(bottom_up=True))
    prepaid = (abs(prepaid[0]), prepaid[1]) if prepaid and prepaid[0] else None  # printed as a deduction, often negative
    total = labelled(lines, L.TOTAL_SPECIFIC, _total_value, _amount_only, LabelSearch(exclude=L.TOTAL_EXCLUDE))
    if total is None and due is not None:  # the gross is what is due plus what was paid before
        total = (due[0] + prepaid[0], min(due[1], prepaid[1])) if prepaid else due
    total = total or labelled(
        lines, L.TOTAL_GENERIC, _total_value, _amount_only, LabelSearch(exclude=L.TOTAL_EXCLUDE, bottom_up=True, generic=True)
    )
    subtotal = labelled(lines, L.SUBTOTAL, _last_amount, _amount_only, LabelSearch(bottom_up=True))
    tax = labelled(
        lines, L.TAX_TOTAL, _last_amount, _amount_only, LabelSearch(exclude=L.TAX_LINE_EXCLUDE, bottom_up=True, generic_last=True)
    )
    total = reconcile_total(lines, total, subtotal[0] if subtotal else None, tax[0] if tax else None)
    if total is None:  # a till receipt that names no total: what was paid less the change, else its only sum
        paid = payable(lines)
        total = (paid, GUESSED) if paid is not None else (subtotal[0], GUESSED) if subtotal and tax is None else None
    if total is not None and (subtotal is None or tax is None):
        split = split_of_total(lines, total[0])
        if split is not None:
            subtotal = subtotal or (split[0], GENERIC)
            tax = tax or (split[1], GENERIC)
        elif subtotal is None and tax is not None and tax[0] < total[0]:
            subtotal = (total[0] - tax[0], GUESSED)  # net = gross - tax
    items = read_line_items(lines, _decimal_comma(text))
    if items:
        items_sum = sum((item.amount or Decimal(0) for item in items), Decimal(0))
        if subtotal is not None and abs(abs(items_sum) - abs(subtotal[0])) <= Decimal("0.02"):
            subtotal = (subtotal[0], max(subtotal[1], CONFIRMED))  # the rows add up to the printed subtotal
            found["line_items"] = (items, SPECIFIC)
        elif total is not None and abs(items_sum) == abs(total[0]) and subtotal is None and tax is None:
            found["line_items"] = (items, SPECIFIC)
            if not _TAX_INCLUDED.search(text):
                subtotal = (total[0], GENERIC)  # net rows add up to the total: no tax is charged
        else:
            found["line_items"] = (items, GUESSED + 0.1)
    put("total", total)
    put("prepaid", prepaid)
    put("amount_due", due or ((total[0] - prepaid[0], GUESSED) if total and prepaid else None))
    put("subtotal", subtotal)
    put("tax_total", tax)
    put("currency", _currency(lines, text, total))
    put("po_number", labelled(lines, L.PO_NUMBER, _id_value, _id_value_next))
    put(
        "vendor_tax_id",
        labelled(lines, L.TAX_ID, _tax_id_value, _tax_id_value, LabelSearch(exclude_before=_CUSTOMER_BEFORE)) or _eu_vat_id(lines),
    )
    iban = find_iban(text)
    put("iban", (iban, SPECIFIC) if iban else labelled(lines, L.BANK_ACCOUNT, _account_value, _account_value))
    sender = sender_line(lines)
    put(
        "customer_name",
        party_name(lines, L.CUSTOMER)
        or party_block(lines, L.CUSTOMER)
        or labelled(lines, L.CUSTOMER, name_value, name_value, LabelSearch(column_start=True))
        or (sender[1] if sender else None),
    )
    header = read_header(lines)
    put("vendor_name", vendor(lines, header, sender[0] if sender else None))
    if header.address and "vendor_name" in found:
        put("vendor_address", (header.address, header.confidence))

    document_type = _document_type(lines)
    if document_type == "credit_note":  # the type carries the sign; amounts stay positive
        for name in ("subtotal", "tax_total", "total"):
            if name in found:
                found[name] = (abs(found[name][0]), found[name][1])
        if "line_items" in found:
            for item in found["line_items"][0]:
                item.amount = abs(item.amount) if item.amount is not None else None
    adjust_confidence(found)
    fields = InvoiceFields(**{name: value for name, (value, _) in found.items()})
    confidence = {name: conf for name, (_, conf) in found.items()}
    return RulesResult(fields=fields, confidence=confidence, document_type=document_type)


def _due_from_terms(lines: Sequence[str], found: dict[str, tuple[object, float]], dayfirst: bool) -> tuple[date, float] | None:
    """Without a due-date label, the payment terms: a date they print, or days after the invoice date."""
    issued = found.get("invoice_date")
    terms = due_from_terms(lines, issued[0] if issued and isinstance(issued[0], date) else None, lambda s: find_dates(s, dayfirst))
    if terms is None:
        return None
    return terms[0], GENERIC if terms[1] == "date" else GUESSED + 0.1


def _decimal_comma(text: str) -> bool:
    """Whether the document writes cents after a comma (``12,50``) more often than after a point."""
    return len(_COMMA_CENTS.findall(text)) > len(_POINT_CENTS.findall(text))


def _no_value(rest: str) -> None:
    """Column headings carry no value on their own line."""
    return None


def _id_value(rest: str) -> str | None:
    """The first identifier-like token (it must contain a digit) after a number label."""
    rest = LEADING_SEPARATORS.sub("", rest)
    rest = re.sub(r"^(?:no\.?|nr\.?|n[°º]\.?|number|#)\s*[:.]?\s*", "", rest, flags=re.IGNORECASE)
    m = _ID_TOKEN.match(rest)
    if not m:
        return None
    token = m.group(0).rstrip("._-/")
    if not re.search(r"\d", token) or re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", token):
        return None
    return token


def _id_value_next(line: str) -> str | None:
    """On the line below a label only a short line counts, to avoid grabbing body text."""
    return _id_value(line) if len(line.split()) <= 6 else None


def _title_number(lines: Sequence[str]) -> tuple[str, float] | None:
    """"INVOICE 2024-17" as a title; or a title line alone with "# 2024-17" on the next line."""
    for i, line in enumerate(lines[:30]):
        m = L.INVOICE_NUMBER_TITLE.match(line)
        if m:
            return m.group("value"), 0.6
        if _BARE_TITLE.match(line):
            following = next((s for s in lines[i + 1 : i + 3] if s), "")
            m = _NUMBER_SIGN_LINE.match(following)
            if m:
                return m.group("value"), 0.6
    return None


def _first_date(lines: Sequence[str], date_of: Callable[[str], date | None]) -> tuple[date, float] | None:
    """Without a label, the first date in the document is most often the issue date."""
    for line in lines:
        found = date_of(line)
        if found:
            return found, GUESSED
    return None


def _last_amount(rest: str) -> Decimal | None:
    """The label's amount: the last one before the next label-like word on the same line.

    "Excl. VAT € 593,36 Subtotal € 717,97" gives 593,36 for the first label; a table row like
    "Total 24.99 5.00 29.99" (net, tax, gross columns) gives the last column.
    """
    amounts = [a for a in find_amounts(rest) if a.has_decimals or not _COUNTED.match(rest, a.end)]
    for i in range(1, len(amounts)):
        between = rest[amounts[i - 1].end : amounts[i].start]
        if re.search(r"[^\W\d_]{3,}", re.sub(r"\b[A-Z]{3}\b", "", between)):
            amounts = amounts[:i]
            break
    with_decimals = [a for a in amounts if a.has_decimals] or amounts
    return with_decimals[-1].value if with_decimals else None


def _total_value(rest: str) -> Decimal | None:
    """A zero total is a paid balance, not the invoice amount: keep looking."""
    value = _last_amount(rest)
    return value if value else None


def _amount_only(line: str) -> Decimal | None:
    """A line below a label counts only if it holds nothing but an amount (and a currency)."""
    if re.search(r"[A-Za-z]{4,}", line):
        return None
    amounts = find_amounts(line)
    return amounts[-1].value if len(amounts) == 1 else None


def _currency(lines: Sequence[str], text: str, total: tuple[Decimal, float] | None) -> tuple[str, float] | None:
    """The currency written on the total's line wins; otherwise the document's most used one."""
    if total is not None:
        for line in lines:
            if any(a.value == total[0] for a in find_amounts(line)):
                code = currency_in(line)
                if code:
                    return code, SPECIFIC
    code = detect_currency(text)
    return (code, GENERIC) if code else None


def _tax_id_value(rest: str) -> str | None:
    """A VAT or tax number: tokens after the label up to the first plain word, spaces dropped."""
    rest = LEADING_SEPARATORS.sub("", rest)
    if _CUSTOMER_SIDE.match(rest):
        return None  # "VAT no. client: ..." is the buyer's number, not the seller's
    rest = re.sub(r"^(?:no\.?|nr\.?|number|#|id)\s*[:.]?\s*", "", rest, flags=re.IGNORECASE)
    tokens = []
    for token in rest.split():
        if tokens and not re.search(r"\d", token):
            break
        if not re.fullmatch(r"[A-Za-z0-9./-]+", token):
            break
        tokens.append(token)
    value = "".join(tokens).strip(".-/").upper()
    return value if len(re.sub(r"\D", "", value)) >= 5 else None


# The first group, then IBAN-style groups of four (or a shorter one holding a digit): "BIC" ends it.
_ACCOUNT = re.compile(r"[A-Z0-9]{2,}(?: (?:[A-Z0-9]{4}|[A-Z0-9]{0,3}\d[A-Z0-9]{0,3})(?![A-Z0-9]))*")


def _account_value(rest: str) -> str | None:
    """An account as printed after its label ("NL50 INGB 0683 2513 09", "US1234567890"), spaces dropped."""
    m = _ACCOUNT.match(LEADING_SEPARATORS.sub("", rest).upper())
    if not m:
        return None
    compact = m.group(0).replace(" ", "")
    return compact if 8 <= len(compact) <= 34 and sum(c.isdigit() for c in compact) >= 6 else None


def _eu_vat_id(lines: Sequence[str]) -> tuple[str, float] | None:
    """An unlabelled EU VAT id: the first one whose check digits hold, else the first one."""
    first = None
    for line in lines:
        for m in L.EU_VAT_ID.finditer(re.sub(r"[\s.]", "", line.upper())):
            if vat_id_valid(m.group(0)):
                return m.group(0), GUESSED
            first = first or m.group(0)
    return (first, GUESSED - 0.1) if first else None


def _document_type(lines: Sequence[str]) -> DocumentType:
    """Credit notes and receipts are named in the title area; everything else is an invoice."""
    head = "\n".join(lines[:20])
    if L.CREDIT_NOTE.search(head):
        return "credit_note"
    if L.RECEIPT.search(head) and not L.INVOICE_WORD.search(head):
        return "receipt"
    return "invoice"
