"""What one approved document teaches about its vendor: where each value is printed, and how.

Every approved (possibly corrected) document teaches, for each field, the words printed before its
value (on the same line, or the line above when the value stands alone), where in the layout the
value sat (line from the top and from the bottom, whether it ends its line) and how it was printed
(day or month first, decimal comma or point, the shape of an invoice number). The approved value is
looked for in the text in every printed form it can take, so a date approved as 2018-12-25 is found
as ``25/12/2018`` and teaches "day first"; an amount 1234.50 is found as ``1.234,50`` or
``1,234.50``. What the next document of the vendor makes of it is ``memory``'s.
Text in documents is data: it is matched and parsed here, never followed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from opsgate import vendor_key
from tasks.invoice_extraction.models import InvoiceFields
from tasks.invoice_extraction.parsing import find_amounts, find_dates

HEADER_LINES = 8  # a vendor's letterhead: its name, address and numbers stand in the first lines
LABEL_WORDS = 3
DATE_FIELDS = ("invoice_date", "due_date")
AMOUNT_FIELDS = ("total", "subtotal", "tax_total")
ID_FIELDS = ("invoice_number", "po_number")
LOCATED = DATE_FIELDS + AMOUNT_FIELDS + ID_FIELDS  # read where the vendor prints them
CONSTANT = ("vendor_name", "vendor_address", "customer_name", "currency")  # the same on every document of a vendor
_WORD = re.compile(r"[^\W\d_]+")
_ID = re.compile(r"(?<![\w/.-])[A-Za-z0-9][A-Za-z0-9/._-]*")
_COMMA_DECIMALS = re.compile(r",\d{1,2}$")
_FORMS = frozenset({"dmy", "mdy", "comma", "point", "whole"})


@dataclass(frozen=True)
class Anchor:
    """Where one value sat in one document: the words before it, its line, and how it was printed."""

    label: str  # up to three words before the value, upper case; "" when none
    above: bool  # the words were the line above (the value stood alone on its line)
    line: int  # from the top
    from_bottom: int
    right: bool  # the value ends its line
    form: str  # "dmy"/"mdy" for dates, "comma"/"point"/"whole" for amounts, the shape of an id

    def key(self) -> tuple[str, bool, str]:
        """What must match in another document: the words, where they stand, and for dates and
        amounts how the value is printed (an id's shape is compared loosely, see ``_located``)."""
        return self.label, self.above, self.form if self.form in _FORMS else ""


@dataclass(frozen=True)
class Candidate:
    """A value of some kind found in a document, with its anchor."""

    value: Any
    anchor: Anchor


@dataclass
class LearntDocument:
    """What one approved document taught about its vendor."""

    vendor: str
    fields: dict[str, Any]
    anchors: dict[str, list[Anchor]]
    header: str
    printed: dict[str, list[tuple[str, bool, str]]]  # per kind, the places any value of that kind stood
    misread: list[str] = field(
        default_factory=list
    )  # fields people corrected: what was proposed was not what they approved
    grams: frozenset[str] = field(
        default=frozenset(), init=False, repr=False, compare=False
    )  # of the letterhead, to tell the vendor

    def __post_init__(self) -> None:
        self.grams = trigrams(self.header)

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "anchors": {name: [asdict(a) for a in anchors] for name, anchors in self.anchors.items()},
            "printed": {kind: [list(k) for k in keys] for kind, keys in self.printed.items()},
            "misread": self.misread,
        }

    @classmethod
    def from_json(cls, vendor: str, fields: dict[str, Any], profile: dict[str, Any]) -> LearntDocument:
        anchors = {name: [Anchor(**a) for a in found] for name, found in profile.get("anchors", {}).items()}
        printed = {kind: [(k[0], bool(k[1]), k[2]) for k in keys] for kind, keys in profile.get("printed", {}).items()}
        return cls(vendor, fields, anchors, profile.get("header", ""), printed, list(profile.get("misread", [])))


def compact(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\f", "\n").split("\n")]


def header_of(lines: Sequence[str]) -> str:
    """The document's first non-empty lines, letters and digits only: its letterhead."""
    kept = [re.sub(r"[^0-9A-Z]+", " ", line.upper()).strip() for line in lines if line.strip()]
    return "\n".join(kept[:HEADER_LINES])


def trigrams(text: str) -> frozenset[str]:
    compact = re.sub(r"\s+", " ", text)
    return frozenset(compact[i : i + 3] for i in range(len(compact) - 2))


def _label(text: str) -> str:
    return " ".join(_WORD.findall(text.upper())[-LABEL_WORDS:])


def _anchor(lines: Sequence[str], i: int, start: int, end: int, form: str) -> Anchor:
    line = lines[i]
    label, above = _label(line[:start]), False
    if not label and not _label(line[end:]):
        previous = next((s for s in reversed(lines[:i]) if s), "")
        label, above = _label(previous), bool(previous)
    return Anchor(label, above and bool(label), i, len(lines) - 1 - i, not line[end:].strip(), form)


def _date_end(line: str, start: int) -> int:
    """Where a date that starts at ``start`` ends: one token when numeric, up to three when the month is a word."""
    m = re.match(r"\d{1,4}[./-]\S*", line[start:]) or re.match(r"\S+(?:[\s,]+\S+){0,2}", line[start:])
    return start + (m.end() if m else 0)


def shape(token: str) -> str:
    """An id's printed pattern: digits as 9, letters and punctuation kept ("INV-2024-0017" → "INV-9999-9999")."""
    return re.sub(r"\d", "9", token.upper())


def candidates(lines: Sequence[str], kind: str) -> list[Candidate]:
    """Every value of ``kind`` ("date", "amount" or "id") in the document, with where it stands."""
    found: list[Candidate] = []
    for i, line in enumerate(lines):
        if not line:
            continue
        if kind == "date":
            for form, dayfirst in (("dmy", True), ("mdy", False)):
                for start, value in find_dates(line, dayfirst):
                    found.append(Candidate(value, _anchor(lines, i, start, _date_end(line, start), form)))
        elif kind == "amount":
            for money in find_amounts(line):
                raw = line[money.start : money.end]
                form = "comma" if _COMMA_DECIMALS.search(raw) else "point" if money.has_decimals else "whole"
                found.append(Candidate(money.value, _anchor(lines, i, money.start, money.end, form)))
        else:
            for m in _ID.finditer(line):
                token = m.group(0).rstrip("._-/")
                if re.search(r"\d", token):
                    found.append(Candidate(token, _anchor(lines, i, m.start(), m.start() + len(token), shape(token))))
    return found


def kind_of(name: str) -> str:
    return "date" if name in DATE_FIELDS else "amount" if name in AMOUNT_FIELDS else "id"


def same_value(name: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if name in AMOUNT_FIELDS:
        return abs(Decimal(str(a))) == abs(Decimal(str(b)))
    if name in DATE_FIELDS:
        return str(a) == str(b)
    return vendor_key(str(a)) == vendor_key(str(b))


def learn(text: str, fields: InvoiceFields, read: InvoiceFields | None = None) -> LearntDocument:
    """What the approved ``fields`` of a document whose text is ``text`` teach about its vendor: for
    each located field, every place its value is printed (a total printed twice teaches both); and,
    given what was proposed (``read``), which fields people had to correct."""
    lines = lines_of(text)
    values = fields.model_dump(mode="json", exclude={"line_items"})
    anchors: dict[str, list[Anchor]] = {}
    found = {kind: candidates(lines, kind) for kind in ("date", "amount", "id")}
    for name in LOCATED:
        if values.get(name) in (None, ""):
            continue
        hits = [c.anchor for c in found[kind_of(name)] if same_value(name, c.value, values[name])]
        if hits:
            anchors[name] = list(dict.fromkeys(hits))
    vendor = vendor_key(fields.vendor_name) or vendor_key(fields.vendor_tax_id) or vendor_key(fields.iban)
    printed = {kind: sorted({c.anchor.key() for c in found[kind]}) for kind in found}
    proposed = read.model_dump(mode="json") if read is not None else {}
    misread = sorted(
        n
        for n in LOCATED + CONSTANT
        if read is not None and values.get(n) not in (None, "") and not same_value(n, proposed.get(n), values[n])
    )
    return LearntDocument(
        vendor, {k: v for k, v in values.items() if v not in (None, "")}, anchors, header_of(lines), printed, misread
    )
