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

from tasks.invoice_extraction import labels as L
from tasks.invoice_extraction.checks import adjust_confidence, vat_id_valid
from tasks.invoice_extraction.header import Header, read_header
from tasks.invoice_extraction.models import DocumentType, InvoiceFields
from tasks.invoice_extraction.parsing import (
    currency_in,
    detect_currency,
    detect_dayfirst,
    find_amounts,
    find_dates,
    find_iban,
)
from tasks.invoice_extraction.totals import reconcile_total, split_of_total

T = TypeVar("T")
SPECIFIC, GENERIC, GUESSED = 0.9, 0.75, 0.5
_LEADING_SEPARATORS = re.compile(r"^[\s:#.\-–—=|*]+")
_ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]*")
# An integer followed by a word other than a currency counts something ("10 days", "3 Stk").
_COUNTED = re.compile(r"\s*(?!(?:EUR|USD|GBP|CHF|MYR|RM)\b)[^\W\d_]{2,}")
_CUSTOMER_SIDE = re.compile(r"(?:client|customer|kunde|käufer|acheteur|buyer|klant|your|ihre|votre)\b", re.IGNORECASE)
_COLUMN_START = re.compile(r"(?:^|\s{2,}|\t|\|)\W{0,3}$")


class RulesResult(BaseModel):
    """What the rules backend found, with a confidence per field it filled."""

    fields: InvoiceFields
    confidence: dict[str, float] = Field(default_factory=dict)
    document_type: DocumentType = "invoice"


def extract_fields(text: str) -> RulesResult:
    """Extract invoice fields from a document's text using labels in EN/DE/FR/NL."""
    lines = [line.strip() for line in text.replace("\f", "\n").split("\n")]
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

    put("invoice_number", _labelled(lines, L.INVOICE_NUMBER, _id_value, _id_value_next) or _title_number(lines))
    put(
        "invoice_date",
        _labelled(lines, L.INVOICE_DATE, date_of, date_first, generic_last=True) or _first_date(lines, date_of),
    )
    put("due_date", _labelled(lines, L.DUE_DATE, date_of, date_first))
    total = _labelled(lines, L.TOTAL_SPECIFIC, _total_value, _amount_only, exclude=L.TOTAL_EXCLUDE)
    total = total or _labelled(
        lines, L.TOTAL_GENERIC, _total_value, _amount_only, exclude=L.TOTAL_EXCLUDE, bottom_up=True, generic=True
    )
    subtotal = _labelled(lines, L.SUBTOTAL, _last_amount, _amount_only, bottom_up=True)
    tax = _labelled(
        lines, L.TAX_TOTAL, _last_amount, _amount_only, exclude=L.TAX_LINE_EXCLUDE, bottom_up=True, generic_last=True
    )
    total = reconcile_total(lines, total, subtotal[0] if subtotal else None, tax[0] if tax else None)
    if total is not None and (subtotal is None or tax is None):
        split = split_of_total(lines, total[0])
        if split is not None:
            subtotal = subtotal or (split[0], GENERIC)
            tax = tax or (split[1], GENERIC)
        elif subtotal is None and tax is not None and tax[0] < total[0]:
            subtotal = (total[0] - tax[0], GUESSED)  # net = gross - tax
    put("total", total)
    put("subtotal", subtotal)
    put("tax_total", tax)
    put("currency", _currency(lines, text, total))
    put("po_number", _labelled(lines, L.PO_NUMBER, _id_value, _id_value_next))
    put("vendor_tax_id", _labelled(lines, L.TAX_ID, _tax_id_value, _tax_id_value) or _eu_vat_id(lines))
    iban = find_iban(text)
    put("iban", (iban, SPECIFIC) if iban else None)
    put("customer_name", _labelled(lines, L.CUSTOMER, _name_value, _name_value))
    header = read_header(lines)
    put("vendor_name", _vendor(lines, header))
    if header.address and "vendor_name" in found:
        put("vendor_address", (header.address, header.confidence))

    document_type = _document_type(lines)
    if document_type == "credit_note":  # the type carries the sign; amounts stay positive
        for name in ("subtotal", "tax_total", "total"):
            if name in found:
                found[name] = (abs(found[name][0]), found[name][1])
    adjust_confidence(found)
    fields = InvoiceFields(**{name: value for name, (value, _) in found.items()})
    confidence = {name: conf for name, (_, conf) in found.items()}
    return RulesResult(fields=fields, confidence=confidence, document_type=document_type)


def _labelled(
    lines: Sequence[str],
    patterns: Sequence[re.Pattern[str]],
    value: Callable[[str], T | None],
    next_value: Callable[[str], T | None],
    *,
    exclude: re.Pattern[str] | None = None,
    bottom_up: bool = False,
    generic: bool = False,
    generic_last: bool = False,
) -> tuple[T, float] | None:
    """The value after the first label that has one, trying labels in priority order.

    The value is looked for on the rest of the label's line; when that rest holds no digit
    (the label stands alone, or is a column header) the next non-empty line is tried with the
    stricter ``next_value``. ``generic_last`` marks the last pattern as a generic label.
    """
    order = range(len(lines) - 1, -1, -1) if bottom_up else range(len(lines))
    for rank, pattern in enumerate(patterns):
        confidence = GENERIC if generic or (generic_last and rank == len(patterns) - 1) else SPECIFIC
        for i in order:
            line = lines[i]
            for m in pattern.finditer(line):
                if exclude is not None and exclude.search(line[max(0, m.start() - 6) : m.end() + 6]):
                    continue
                if confidence == GENERIC and not _COLUMN_START.search(line[: m.start()]):
                    continue  # a generic word mid-sentence ("... total must be ...") is prose, not a label
                rest = line[m.end() :]
                result = value(rest)
                if result is not None:
                    return result, confidence
                if not re.search(r"\d", rest):
                    following = next((s for s in lines[i + 1 : i + 3] if s), "")
                    result = next_value(following) if following else None
                    if result is not None:
                        return result, confidence - 0.1
    return None


def _id_value(rest: str) -> str | None:
    """The first identifier-like token (it must contain a digit) after a number label."""
    rest = _LEADING_SEPARATORS.sub("", rest)
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
    for line in lines[:30]:
        m = L.INVOICE_NUMBER_TITLE.match(line)
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
            if find_amounts(line) and any(a.value == total[0] for a in find_amounts(line)):
                code = currency_in(line)
                if code:
                    return code, SPECIFIC
    code = detect_currency(text)
    return (code, GENERIC) if code else None


def _tax_id_value(rest: str) -> str | None:
    """A VAT or tax number: tokens after the label up to the first plain word, spaces dropped."""
    rest = _LEADING_SEPARATORS.sub("", rest)
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


def _eu_vat_id(lines: Sequence[str]) -> tuple[str, float] | None:
    """An unlabelled EU VAT id: the first one whose check digits hold, else the first one."""
    first = None
    for line in lines:
        for m in L.EU_VAT_ID.finditer(re.sub(r"[\s.]", "", line.upper())):
            if vat_id_valid(m.group(0)):
                return m.group(0), GUESSED
            first = first or m.group(0)
    return (first, GUESSED - 0.1) if first else None


def _name_value(rest: str) -> str | None:
    """A party name: letters, not a number label ("Customer No"), not just another label."""
    if L.CUSTOMER_NOT_NAME.match(rest):
        return None
    name = _LEADING_SEPARATORS.sub("", rest).strip()
    name = re.split(r"\s{3,}|\t", name)[0].strip(" ,;")
    if len(re.findall(r"[^\W\d_]", name)) < 3 or L.TITLE_WORDS.match(name):
        return None
    if any(p.match(name) for p in (*L.CUSTOMER, *L.INVOICE_DATE, *L.INVOICE_NUMBER)):
        return None
    return name


def _vendor(lines: Sequence[str], header: Header) -> tuple[str, float] | None:
    """A "From:" label; else the name atop the document; else the first company-looking line."""
    labelled = _labelled(lines[:40], [L.VENDOR_LABEL], _name_value, _name_value)
    if labelled:
        return labelled
    if header.name and _name_value(header.name):
        return header.name, header.confidence
    customer_block: set[int] = set()
    for i, line in enumerate(lines):
        if any(p.search(line) for p in L.CUSTOMER):
            customer_block.update(range(i, i + 4))
    head = [s for i, s in enumerate(lines[:25]) if s and i not in customer_block]
    for line in head:
        if L.COMPANY_SUFFIX.search(line) and _name_value(line):
            return re.split(r"\s{3,}|\t", line)[0].strip(" ,;"), 0.6
    for line in head[:10]:
        if re.match(r"^\W*\d", line) or find_dates(line, True) or "@" in line or "www." in line.lower():
            continue
        name = _name_value(line)
        if name and not any(p.search(line) for group in _ALL_LABELS for p in group):
            return name, 0.4
    return None


_ALL_LABELS = (L.INVOICE_NUMBER, L.INVOICE_DATE, L.DUE_DATE, L.TOTAL_SPECIFIC, L.TAX_ID, L.CUSTOMER, L.PO_NUMBER)


def _document_type(lines: Sequence[str]) -> DocumentType:
    """Credit notes and receipts are named in the title area; everything else is an invoice."""
    head = "\n".join(lines[:20])
    if L.CREDIT_NOTE.search(head):
        return "credit_note"
    if L.RECEIPT.search(head) and not L.INVOICE_WORD.search(head):
        return "receipt"
    return "invoice"
