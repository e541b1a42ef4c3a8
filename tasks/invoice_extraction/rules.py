"""The deterministic "rules" backend: invoice fields from text by labels and value shapes.

Why rules first: they are explainable, free, offline and repeatable, and they give every
later backend (an LLM) a baseline to be compared against. Each value found gets a confidence:
0.9 when it stood next to a specific label, less when the label was generic or the value was
guessed from position. Text in the document is only ever data here; nothing in it is obeyed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field

from tasks.invoice_extraction import label_patterns as L
from tasks.invoice_extraction.checks import adjust_confidence, vat_id_valid
from tasks.invoice_extraction.header import Header, read_header
from tasks.invoice_extraction.label_search import (
    GENERIC,
    GUESSED,
    LEADING_SEPARATORS,
    SPECIFIC,
    LabelSearch,
    labelled,
    mend_split_words,
)
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
from tasks.invoice_extraction.sums import Sums, read_sums
from tasks.invoice_extraction.terms import due_from_terms

_ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]*")
_CUSTOMER_SIDE = re.compile(r"(?:client|customer|kunde|käufer|acheteur|buyer|klant|your|ihre|votre)\b", re.IGNORECASE)
_CUSTOMER_BEFORE = re.compile(
    r"(?:client|customer|kunden?|käufers?|buyer|acheteur|klant|recipient|empfängers?)\W*\w*\W*$", re.IGNORECASE
)
_BARE_TITLE = re.compile(
    r"^\W*(?:tax\s+)?(?:invoice|rechnung|facture|factuur|credit\s*note|gutschrift|avoir)\W*$", re.IGNORECASE
)
_NUMBER_SIGN_LINE = re.compile(r"^(?:#|no\.?|nr\.?|n[°º])\s*(?P<value>[\w/.-]*\d[\w/.-]*)\s*$", re.IGNORECASE)
# The bare title word ("Factuur") as one of a row of column headings, its value in the cell below.
_COLUMN_HEADING = LabelSearch(heading_row=True, generic=True)


class RulesResult(BaseModel):
    """What the rules backend found, with a confidence per field it filled."""

    fields: InvoiceFields
    confidence: dict[str, float] = Field(default_factory=dict)
    document_type: DocumentType = "invoice"


Hit = tuple[object, float]  # a value and how sure its reading is
Found = dict[str, Hit]


@dataclass(frozen=True)
class Document:
    """The text as every finder reads it, prepared once: its lines, the way it writes dates, and
    what several fields are read from together (the sums, the seller's header, a return address)."""

    text: str
    laid_out: list[str]  # with indentation: where a cell stands under its heading
    lines: list[str]
    dayfirst: bool
    sums: Sums
    header: Header
    sender: tuple[tuple[str, float], tuple[str, float] | None] | None  # the seller and the recipient it names

    @classmethod
    def read(cls, text: str) -> Document:
        """Everything shared, read once: the sums, header and return address are each found in one piece."""
        laid_out = text.replace("\f", "\n").split("\n")
        lines = mend_split_words([line.strip() for line in laid_out])
        dayfirst = detect_dayfirst(text, hint=True if L.LANGUAGE_DAYFIRST.search(text) else None)
        return cls(text, laid_out, lines, dayfirst, read_sums(lines, text), read_header(lines), sender_line(lines))

    def date_of(self, s: str) -> date | None:
        """The first date in ``s``, read the way this document writes dates."""
        dates = find_dates(s, self.dayfirst)
        return dates[0][1] if dates else None

    def date_first(self, s: str) -> date | None:
        """A date on the line below a label must lead it."""
        dates = find_dates(s, self.dayfirst)
        return dates[0][1] if dates and dates[0][0] <= 2 else None


def _invoice_number(doc: Document, found: Found) -> Hit | None:
    """By its label; else in the title ("INVOICE 2024-17"); else under the title word heading a column."""
    return (
        labelled(doc.lines, L.INVOICE_NUMBER, _id_value, _id_value_next)
        or _title_number(doc.lines)
        or labelled(doc.lines, L.INVOICE_NUMBER_COLUMN, _no_value, _id_value_next, _COLUMN_HEADING)
    )


def _invoice_date(doc: Document, found: Found) -> Hit | None:
    """By its label (a bare "Date" last and as a generic one); else the first date in the document."""
    by_label = labelled(doc.lines, L.INVOICE_DATE, doc.date_of, doc.date_first, LabelSearch(generic_last=True))
    return by_label or _first_date(doc)


def _due_date(doc: Document, found: Found) -> Hit | None:
    """By its label, also in a cell a few lines down its column; else from the payment terms."""
    by_label = labelled(doc.lines, L.DUE_DATE, doc.date_of, doc.date_first, LabelSearch(under=doc.laid_out))
    return by_label or _due_from_terms(doc, found)


def _currency(doc: Document, found: Found) -> Hit | None:
    """The currency written on the total's line wins; otherwise the document's most used one."""
    total = doc.sums.total
    if total is not None:
        for line in doc.lines:
            if any(a.value == total[0] for a in find_amounts(line)):
                code = currency_in(line)
                if code:
                    return code, SPECIFIC
    code = detect_currency(doc.text)
    return (code, GENERIC) if code else None


def _po_number(doc: Document, found: Found) -> Hit | None:
    return labelled(doc.lines, L.PO_NUMBER, _id_value, _id_value_next)


def _vendor_tax_id(doc: Document, found: Found) -> Hit | None:
    """By its label, unless the label names the customer's number; else an EU VAT id printed alone."""
    sellers = LabelSearch(exclude_before=_CUSTOMER_BEFORE)
    return labelled(doc.lines, L.TAX_ID, _tax_id_value, _tax_id_value, sellers) or _eu_vat_id(doc.lines)


def _iban(doc: Document, found: Found) -> Hit | None:
    """An IBAN anywhere in the text; else the account printed after a bank-account label."""
    iban = find_iban(doc.text)
    return (iban, SPECIFIC) if iban else labelled(doc.lines, L.BANK_ACCOUNT, _account_value, _account_value)


def _customer_name(doc: Document, found: Found) -> Hit | None:
    """Under a customer heading; else after a customer label opening its cell; else the recipient a
    return-address line stands over."""
    return (
        party_name(doc.lines, L.CUSTOMER)
        or party_block(doc.lines, L.CUSTOMER)
        or labelled(doc.lines, L.CUSTOMER, name_value, name_value, LabelSearch(column_start=True))
        or (doc.sender[1] if doc.sender else None)
    )


def _vendor_name(doc: Document, found: Found) -> Hit | None:
    return vendor(doc.lines, doc.header, doc.sender[0] if doc.sender else None)


def _vendor_address(doc: Document, found: Found) -> Hit | None:
    """The address in the seller's header, only where a seller was found to go with it."""
    return (doc.header.address, doc.header.confidence) if doc.header.address and "vendor_name" in found else None


Finder = Callable[[Document, Found], Hit | None]

# Which field comes from which finder, in the order they run: a finder may read what those above it found.
FINDERS: tuple[tuple[str, Finder], ...] = (
    ("invoice_number", _invoice_number),
    ("invoice_date", _invoice_date),
    ("due_date", _due_date),  # payment terms count their days from the invoice date
    # the amounts are found together, checked against each other, when the document is read (``sums``)
    ("line_items", lambda doc, found: doc.sums.line_items),
    ("total", lambda doc, found: doc.sums.total),
    ("prepaid", lambda doc, found: doc.sums.prepaid),
    ("amount_due", lambda doc, found: doc.sums.amount_due),
    ("subtotal", lambda doc, found: doc.sums.subtotal),
    ("tax_total", lambda doc, found: doc.sums.tax_total),
    ("currency", _currency),
    ("po_number", _po_number),
    ("vendor_tax_id", _vendor_tax_id),
    ("iban", _iban),
    ("customer_name", _customer_name),
    ("vendor_name", _vendor_name),
    ("vendor_address", _vendor_address),  # the header's address, where the seller was found
)


def extract_fields(text: str) -> RulesResult:
    """Extract invoice fields from a document's text using labels in EN/DE/FR/NL."""
    doc = Document.read(text)
    found: Found = {}
    for name, finder in FINDERS:
        hit = finder(doc, found)
        if hit is not None and hit[0] not in (None, ""):
            found[name] = hit
    document_type = _document_type(doc.lines)
    if document_type == "credit_note":
        _as_credit_note(found)
    adjust_confidence(found)
    fields = InvoiceFields(**{name: value for name, (value, _) in found.items()})
    confidence = {name: conf for name, (_, conf) in found.items()}
    return RulesResult(fields=fields, confidence=confidence, document_type=document_type)


def _as_credit_note(found: Found) -> None:
    """A credit note's type carries the sign; its amounts stay positive."""
    for name in ("subtotal", "tax_total", "total"):
        if name in found:
            found[name] = (abs(found[name][0]), found[name][1])
    if "line_items" in found:
        for item in found["line_items"][0]:
            item.amount = abs(item.amount) if item.amount is not None else None


def _due_from_terms(doc: Document, found: Found) -> tuple[date, float] | None:
    """Without a due-date label, the payment terms: a date they print, or days after the invoice date."""
    issued = found.get("invoice_date")
    invoice_date = issued[0] if issued and isinstance(issued[0], date) else None
    terms = due_from_terms(doc.lines, invoice_date, lambda s: find_dates(s, doc.dayfirst))
    if terms is None:
        return None
    return terms[0], GENERIC if terms[1] == "date" else GUESSED + 0.1


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
    """ "INVOICE 2024-17" as a title; or a title line alone with "# 2024-17" on the next line."""
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


def _first_date(doc: Document) -> tuple[date, float] | None:
    """Without a label, the first date in the document is most often the issue date."""
    for line in doc.lines:
        found = doc.date_of(line)
        if found:
            return found, GUESSED
    return None


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
