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
from tasks.invoice_extraction.checks import CONFIRMED, adjust_confidence, vat_id_valid
from tasks.invoice_extraction.header import Header, read_header
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
from tasks.invoice_extraction.totals import reconcile_total, split_of_total

T = TypeVar("T")
SPECIFIC, GENERIC, GUESSED = 0.9, 0.75, 0.5
_LEADING_SEPARATORS = re.compile(r"^[\s:#.\-–—=|*]+")
_ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]*")
# An integer followed by a word other than a currency counts something ("10 days", "3 Stk").
_COUNTED = re.compile(r"\s*(?!(?:EUR|USD|GBP|CHF|MYR|RM)\b)[^\W\d_]{2,}")
_CUSTOMER_SIDE = re.compile(r"(?:client|customer|kunde|käufer|acheteur|buyer|klant|your|ihre|votre)\b", re.IGNORECASE)
_COLUMN_START = re.compile(r"(?:^|\s{2,}|\t|\|)\W{0,3}$")
_CUSTOMER_BEFORE = re.compile(r"(?:client|customer|kunden?|käufers?|buyer|acheteur|klant|recipient|empfängers?)\W*\w*\W*$", re.IGNORECASE)
_HEADING_WORD = re.compile(r"(?<![\w])(?:order|bestellung|commande|reference|referenz|r[ée]f[ée]rence|page|seite|account|konto)(?![\w])", re.IGNORECASE)
_COMMA_CENTS = re.compile(r"\d,\d{2}(?![\d])")
_POINT_CENTS = re.compile(r"\d\.\d{2}(?![\d.])")
_TAX_INCLUDED = re.compile(r"(?<![\w])(?:incl\w*|inkl\w*|ttc|tax\s*included|including\s*(?:vat|tax|gst))(?![\w])", re.IGNORECASE)
_CELL = re.compile(r"\S+(?:\s\S+)*")
_BARE_TITLE = re.compile(r"^\W*(?:tax\s+)?(?:invoice|rechnung|facture|factuur|credit\s*note|gutschrift|avoir)\W*$", re.IGNORECASE)
_NUMBER_SIGN_LINE = re.compile(r"^(?:#|no\.?|nr\.?|n[°º])\s*(?P<value>[\w/.-]*\d[\w/.-]*)\s*$", re.IGNORECASE)
# The parts of a one-line return address: "Name ● Street 1 ● 12345 Town", "Name - Street - F-84340 Town".
_SENDER_SEPARATOR = re.compile(r"\s+[●•·|–—-]\s+")
_POSTCODE_PART = re.compile(r"(?:[A-Z]{1,2}-)?\d{4,5}\s+[^\W\d_]{2,}")
_TRAILING_LEGAL_FORM = re.compile(r"\s+(SARL|SAS|SASU|EURL|SA|SNC|SCI)\.?\s*$", re.IGNORECASE)
_STATED_FORM = re.compile(r"(?<![\w])(?:SARL|SAS|SASU|EURL|SA|SNC|SCI)\s+au\s+capital", re.IGNORECASE)


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

    put(
        "invoice_number",
        _labelled(lines, L.INVOICE_NUMBER, _id_value, _id_value_next)
        or _title_number(lines)
        or _labelled(lines, L.INVOICE_NUMBER_COLUMN, _no_value, _id_value_next, heading_row=True, generic=True),
    )
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
    put("subtotal", subtotal)
    put("tax_total", tax)
    put("currency", _currency(lines, text, total))
    put("po_number", _labelled(lines, L.PO_NUMBER, _id_value, _id_value_next))
    put(
        "vendor_tax_id",
        _labelled(lines, L.TAX_ID, _tax_id_value, _tax_id_value, exclude_before=_CUSTOMER_BEFORE) or _eu_vat_id(lines),
    )
    iban = find_iban(text)
    put("iban", (iban, SPECIFIC) if iban else None)
    sender = _sender_line(lines)
    put(
        "customer_name",
        _party_name(lines, L.CUSTOMER)
        or _labelled(lines, L.CUSTOMER, _name_value, _name_value, column_start=True)
        or (sender[1] if sender else None),
    )
    header = read_header(lines)
    put("vendor_name", _vendor(lines, header, sender[0] if sender else None))
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


def _labelled(
    lines: Sequence[str],
    patterns: Sequence[re.Pattern[str]],
    value: Callable[[str], T | None],
    next_value: Callable[[str], T | None],
    *,
    exclude: re.Pattern[str] | None = None,
    exclude_before: re.Pattern[str] | None = None,
    bottom_up: bool = False,
    generic: bool = False,
    generic_last: bool = False,
    column_start: bool = False,
    heading_row: bool = False,
) -> tuple[T, float] | None:
    """The value after the first label that has one, trying labels in priority order.

    The value is looked for on the rest of the label's line; when that rest holds no digit
    (the label stands alone, or is a column header) the next non-empty line is tried with the
    stricter ``next_value``; when the label's line is a row of column headings, the cell of the next
    line below the label is read instead. ``generic_last`` marks the last pattern as a generic label;
    ``column_start`` requires the label to open its line or table cell; ``heading_row`` accepts a
    label only in a row of several column headings; ``exclude_before`` rejects a label preceded on
    its line by a match ("Customer VAT no.").
    """
    order = range(len(lines) - 1, -1, -1) if bottom_up else range(len(lines))
    for rank, pattern in enumerate(patterns):
        confidence = GENERIC if generic or (generic_last and rank == len(patterns) - 1) else SPECIFIC
        for i in order:
            line = lines[i]
            for m in pattern.finditer(line):
                if exclude is not None and exclude.search(line[max(0, m.start() - 6) : m.end() + 6]):
                    continue
                if exclude_before is not None and exclude_before.search(line[max(0, m.start() - 24) : m.start()]):
                    continue
                if (confidence == GENERIC or column_start) and not heading_row and not _COLUMN_START.search(line[: m.start()]):
                    continue  # a generic word mid-sentence ("... total must be ...") is prose, not a label
                headings = _is_heading_row(line, m.start(), m.end())
                if heading_row and not headings:
                    continue
                rest = line[m.end() :]
                result = value(rest)
                if result is not None:
                    return result, confidence
                if not re.search(r"\d", rest):
                    following = next((s for s in lines[i + 1 : i + 3] if s), "")
                    if headings and following:
                        cell = _cell_below(line, m.start(), m.end(), following, edges=heading_row)
                        result = next_value(cell) if cell else None
                    else:
                        result = next_value(following) if following else None
                    if result is not None:
                        return result, confidence - 0.1
    return None


def _decimal_comma(text: str) -> bool:
    """Whether the document writes cents after a comma (``12,50``) more often than after a point."""
    return len(_COMMA_CENTS.findall(text)) > len(_POINT_CENTS.findall(text))


def _is_heading_row(line: str, start: int, end: int) -> bool:
    """Whether a label shares its line with other column headings and no values
    ("Invoice number   Date   Customer", "Klant Order Factuurdatum Factuur")."""
    others = line[:start] + " " + line[end:]
    if re.search(r"\d", others) or not re.search(r"[^\W\d_]{2,}", others):
        return False
    return any(p.search(others) for group in _ALL_LABELS for p in group) or bool(_HEADING_WORD.search(others))


def _cell_below(header: str, start: int, end: int, below: str, *, edges: bool = False) -> str | None:
    """The cell of ``below`` standing under the heading at ``header[start:end]``.

    Cells are separated by runs of spaces when the text layer kept the layout, so the cell that
    overlaps the heading's columns is it. Otherwise only the table's edges can be matched: the
    first heading takes the first value, the last heading the last one (with ``edges``).
    """
    cells = [(m.start(), m.end()) for m in _CELL.finditer(below)]
    if len(cells) >= 2 and re.search(r"\S\s{2,}\S", header):
        overlap = [(min(end, e) - max(start, s), s, e) for s, e in cells]
        best = max(overlap)
        if best[0] > 0:
            return below[best[1] : best[2]]
    tokens = below.split()
    if not tokens or not edges:
        return None if edges or not tokens else below
    if not header[end:].strip():
        return tokens[-1]
    if not header[:start].strip():
        return tokens[0]
    return None


def _no_value(rest: str) -> None:
    """Column headings carry no value on their own line."""
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


def _party_name(lines: Sequence[str], headings: Sequence[re.Pattern[str]]) -> tuple[str, float] | None:
    """The "Name:" line of a block under a party heading ("Verkäufer" / "Nummer: 5" / "Name: X GmbH")."""
    for i, line in enumerate(lines[:80]):
        for pattern in headings:
            m = pattern.search(line)
            if not m or not _COLUMN_START.search(line[: m.start()]) or not L.PARTY_HEADING_END.match(line[m.end() :]):
                continue
            for below in lines[i + 1 : i + 8]:
                named = L.NAME_KEY.match(below)
                if named:
                    name = _name_value(named.group("value"))
                    if name:
                        return _without_stated_legal_form(name, lines), SPECIFIC
                if L.VENDOR_LABEL.match(below) or any(p.match(below) for p in L.CUSTOMER):
                    break  # the next party's block
    return None


def _sender_line(lines: Sequence[str]) -> tuple[tuple[str, float], tuple[str, float] | None] | None:
    """The one-line return address of a letter ("Seller GmbH • Street 1 • 12345 Town").

    It names the seller in its first part; in an address window the recipient's name is the
    next line.
    """
    for i, line in enumerate(lines[:40]):
        parts = [p.strip() for p in _SENDER_SEPARATOR.split(line)]
        if len(parts) < 3 or ":" in line or not any(_POSTCODE_PART.match(p) for p in parts[1:]):
            continue
        name = _name_value(parts[0])
        if not name or re.search(r"\d", name) or not re.search(r"\d", " ".join(parts[1:])):
            continue
        recipient = None
        following = next((s for s in lines[i + 1 : i + 3] if s), "")
        if following and not re.search(r"\d|@|www\.|:", following) and len(following.split()) <= 6:
            candidate = _name_value(following)
            if candidate and not any(p.search(following) for group in _ALL_LABELS for p in group):
                recipient = (candidate, GUESSED + 0.1)
        return (_without_stated_legal_form(name, lines), GENERIC), recipient
    return None


def _without_stated_legal_form(name: str, lines: Sequence[str]) -> str:
    """"Au bon moulin SARL" is "Au bon moulin" where the legal notice states "SARL au capital de …":
    the notice carries the legal form, the name is the trading name before it."""
    m = _TRAILING_LEGAL_FORM.search(name)
    if m and any(_STATED_FORM.search(line) and m.group(1).upper() in line.upper() for line in lines):
        return name[: m.start()].strip(" ,-")
    return name


def _vendor(lines: Sequence[str], header: Header, sender: tuple[str, float] | None = None) -> tuple[str, float] | None:
    """A "From:" label or a seller block's "Name:"; else a letter's return-address line; else the
    name atop the document; else the first company-looking line."""
    named = _party_name(lines, [L.VENDOR_LABEL])
    if named:
        return named
    labelled = _labelled(lines[:40], [L.VENDOR_LABEL], _name_value, _name_value)
    if labelled and not labelled[0].startswith("/"):
        return labelled
    if sender:
        return sender
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
