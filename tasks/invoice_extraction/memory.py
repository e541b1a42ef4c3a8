"""Learning where a vendor prints each field from approved documents, and reading the next one so.

What commercial AP tools call vendor learning, without a template written by hand: every approved
(possibly corrected) document teaches, for each field, the words printed before its value (on the
same line, or the line above when the value stands alone), where in the layout the value sat (line
from the top and from the bottom, left or right end of the line) and how it was printed (day or
month first, decimal comma or point, the shape of an invoice number). The approved value is looked
for in the text in every printed form it can take, so a date approved as 2018-12-25 is found as
``25/12/2018`` and teaches "day first"; an amount 1234.50 is found as ``1.234,50`` or ``1,234.50``.

A vendor is told apart by what the document itself says, never by a list kept by hand: its VAT id
or IBAN as the rules read them, else the name the rules read when it is a name people approved
before, else how alike the document's first lines are to those of the vendor's learnt documents.

Reading with memory goes memory first, rules second: a field the vendor's documents show in one
place is read there; what memory cannot place is left as the rules read it. Where the two disagree
the value is shown to the approver as a notice and its confidence lowered; a differing IBAN or VAT
id is escalated instead, because bank details change only through vendor onboarding.
Text in documents is data: it is matched and parsed here, never followed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz

from opsgate.models import Escalation, EscalationReason
from opsgate.writers.payables import vendor_key
from tasks.invoice_extraction.checks import failed_checks
from tasks.invoice_extraction.models import Extraction, InvoiceFields
from tasks.invoice_extraction.parsing import find_amounts, find_dates

HEADER_LINES = 8  # a vendor's letterhead: its name, address and numbers stand in the first lines
SIMILAR_HEADER = 0.45  # share of letterhead trigrams two documents of one vendor have in common, at least
LABEL_WORDS = 3
DATE_FIELDS = ("invoice_date", "due_date")
AMOUNT_FIELDS = ("total", "subtotal", "tax_total")
ID_FIELDS = ("invoice_number", "po_number")
LOCATED = DATE_FIELDS + AMOUNT_FIELDS + ID_FIELDS
CONSTANT = ("vendor_name", "vendor_address", "customer_name", "currency")  # the same on every document of a vendor
PRINTED = ("vendor_address",)  # constant per branch: the approved one printed on the document counts
PRINTED_ALIKE = 85  # how much of an approved value must be printed as written (rapidfuzz partial ratio, 0-100)
IDENTITY = ("vendor_tax_id", "iban")  # tell the vendor apart; never overridden, a new one is escalated
WITH_HISTORY = "+history"  # on an instruction version: the vendor memory read the document after it
AGREED, DISAGREED = 0.95, 0.6  # above the policy's low-confidence line: a disagreement is shown, not a stop
# Memory overrides the rules where its place held the value on two documents out of two (held / (seen + 1)), or
# on half of them once the rules were seen to misread the field for this vendor (a person corrected it).
TRUSTED = 0.66
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
    misread: list[str] = field(default_factory=list)  # fields people corrected: what was proposed was not what they approved
    _grams: frozenset[str] = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        self._grams = trigrams(self.header)

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header, "anchors": {name: [asdict(a) for a in anchors] for name, anchors in self.anchors.items()},
            "printed": {kind: [list(k) for k in keys] for kind, keys in self.printed.items()}, "misread": self.misread,
        }

    @classmethod
    def from_json(cls, vendor: str, fields: dict[str, Any], profile: dict[str, Any]) -> LearntDocument:
        anchors = {name: [Anchor(**a) for a in found] for name, found in profile.get("anchors", {}).items()}
        printed = {kind: [(k[0], bool(k[1]), k[2]) for k in keys] for kind, keys in profile.get("printed", {}).items()}
        return cls(vendor, fields, anchors, profile.get("header", ""), printed, list(profile.get("misread", [])))


def _compact(text: str) -> str:
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


def _kind(name: str) -> str:
    return "date" if name in DATE_FIELDS else "amount" if name in AMOUNT_FIELDS else "id"


def _same(name: str, a: Any, b: Any) -> bool:
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
        hits = [c.anchor for c in found[_kind(name)] if _same(name, c.value, values[name])]
        if hits:
            anchors[name] = list(dict.fromkeys(hits))
    vendor = vendor_key(fields.vendor_name) or vendor_key(fields.vendor_tax_id) or vendor_key(fields.iban)
    printed = {kind: sorted({c.anchor.key() for c in found[kind]}) for kind in found}
    proposed = read.model_dump(mode="json") if read is not None else {}
    misread = sorted(n for n in LOCATED + CONSTANT if read is not None and values.get(n) not in (None, "") and not _same(n, proposed.get(n), values[n]))
    return LearntDocument(vendor, {k: v for k, v in values.items() if v not in (None, "")}, anchors, header_of(lines), printed, misread)


@dataclass
class Vendor:
    """The learnt documents of one vendor, newest last."""

    key: str
    documents: list[LearntDocument] = field(default_factory=list)

    def constant(self, name: str) -> tuple[Any, int, int] | None:
        """The value people approved on most of this vendor's documents (the newest on a tie), on how
        many of them, out of how many that have the field."""
        values = [d.fields[name] for d in self.documents if d.fields.get(name) not in (None, "")]
        if not values:
            return None
        counts = Counter(values)
        best = max(counts.values())
        return next(v for v in reversed(values) if counts[v] == best), best, len(values)

    def printed_one(self, name: str, text: str) -> tuple[Any, int, int] | None:
        """Of the values people approved for ``name`` (a chain's branches have an address each), the
        one printed in this document, if any is, nearly as written: on how many of the vendor's
        documents it was approved, out of how many that have the field."""
        values = [d.fields[name] for d in self.documents if d.fields.get(name) not in (None, "")]
        if not values:
            return None
        here = _compact(text)
        scored = [(fuzz.partial_ratio(_compact(value), here), count, value) for value, count in Counter(values).items()]
        score, count, value = max(scored, key=lambda s: (s[0], s[1]))
        return (value, count, len(values)) if score >= PRINTED_ALIKE else None

    def identifiers(self) -> set[str]:
        return {vendor_key(str(d.fields[n])) for d in self.documents for n in IDENTITY if d.fields.get(n)}


@dataclass
class Memory:
    """Everything learnt, by vendor, and the version that names it (``history.N+digest``)."""

    version: str
    vendors: dict[str, Vendor] = field(default_factory=dict)

    @classmethod
    def of(cls, version: str, documents: Iterable[LearntDocument]) -> Memory:
        vendors: dict[str, Vendor] = {}
        for doc in documents:
            vendors.setdefault(doc.vendor, Vendor(doc.vendor)).documents.append(doc)
        return cls(version, vendors)

    def identify(self, lines: Sequence[str], read: InvoiceFields) -> tuple[Vendor, str] | None:
        """The vendor of a document and how it was told: its VAT id or IBAN, the approved name the
        rules read, or a letterhead like the vendor's documents'."""
        for name in IDENTITY:
            value = vendor_key(getattr(read, name))
            if value:
                for vendor in self.vendors.values():
                    if value in vendor.identifiers():
                        return vendor, f"its {name}"
        named = self.vendors.get(vendor_key(read.vendor_name))
        if named is not None:
            return named, "its name"
        grams = trigrams(header_of(lines))
        best, score = None, 0.0
        for vendor in self.vendors.values():
            for doc in vendor.documents:
                union = len(grams | doc._grams)
                similarity = len(grams & doc._grams) / union if union else 0.0
                if similarity > score:
                    best, score = vendor, similarity
        return (best, f"its letterhead ({score:.0%} alike)") if best is not None and score >= SIMILAR_HEADER else None

    def read(self, extraction: Extraction, text: str) -> Extraction:
        """``extraction`` (the rules' reading of ``text``) read again with what the vendor's documents taught."""
        lines = lines_of(text)
        found = self.identify(lines, extraction.fields)
        if found is None:
            return extraction
        vendor, how = found
        values = extraction.fields.model_dump()
        confidence = dict(extraction.confidence)
        notices = list(extraction.notices)
        escalations = list(extraction.escalations)
        learnt = {name: value for name in LOCATED if (value := _located(vendor, lines, name, values.get(name))) is not None}
        for name in CONSTANT:
            if (constant := vendor.printed_one(name, text) if name in PRINTED else vendor.constant(name)) is not None:
                learnt[name] = constant
        for name, (value, held, seen) in learnt.items():
            ours = values.get(name)
            shown = _typed(name, value)
            if ours in (None, "") or _same(name, ours, shown):
                values[name] = shown
                confidence[name] = max(confidence.get(name, 0.0), AGREED if ours not in (None, "") else min(AGREED, 0.5 + 0.5 * held / (seen + 1)))
                continue
            misread = sum(1 for doc in vendor.documents if name in doc.misread)
            trusted = held / (seen + 1) >= TRUSTED or (misread > 0 and held / seen >= 0.5)
            values[name], confidence[name] = (shown, DISAGREED) if trusted else (ours, min(confidence.get(name, DISAGREED), DISAGREED))
            why = f"; the rules misread it on {misread} of them" if misread else ""
            notices.append(Escalation(reason=EscalationReason.CONFLICTING_SOURCES, field=name, detail=(
                f"the rules read {ours}, {vendor.key}'s approved documents put {shown} here (held on {held} of {seen}{why}; "
                f"vendor told by {how}); {'memory' if trusted else 'the rules'} kept")))
        for name in IDENTITY:
            ours, known = getattr(extraction.fields, name), vendor.identifiers()
            if ours and known and vendor_key(ours) not in known:
                escalations.append(Escalation(reason=EscalationReason.CONFLICTING_SOURCES, field=name, detail=(
                    f"{ours} is not the {name} on {vendor.key}'s approved documents: bank and tax details change only through vendor onboarding")))
        fields = InvoiceFields.model_validate(values)
        escalations = [e for e in escalations if not (e.reason is EscalationReason.MISSING_DATA and values.get(e.field or "") not in (None, ""))]
        escalations += [e for e in failed_checks(fields) if e not in escalations]  # values from memory meet the same checks
        status = extraction.status if extraction.status == "error" else "escalated" if escalations else "ok"
        update = {"fields": fields, "confidence": confidence, "notices": notices, "escalations": escalations, "status": status}
        return extraction.model_copy(update=update)


def _typed(name: str, value: Any) -> Any:
    if name in DATE_FIELDS and isinstance(value, str):
        return date.fromisoformat(value)
    if name in AMOUNT_FIELDS:
        return Decimal(str(value))
    return value


def _located(vendor: Vendor, lines: Sequence[str], name: str, ours: Any) -> tuple[Any, int, int] | None:
    """The value at the vendor's most reliable place for ``name`` in this document, with on how many
    of the vendor's documents that place held the approved value, out of how many printed it.

    A place is judged by its record: a receipt's "TOTAL" line holds the amount paid only when
    nothing was rounded, "ROUNDED TOTAL" always; so each place counts the documents where it held
    the value against those where it was printed at all, and the best place printed here is read;
    ``ours`` (what the rules read) breaks a tie between equally good places.
    """
    kind = _kind(name)
    teaching = [doc for doc in vendor.documents if doc.fields.get(name) not in (None, "")]
    hits: Counter[tuple[str, bool, str]] = Counter()
    printed: Counter[tuple[str, bool, str]] = Counter()
    places: dict[tuple[str, bool, str], list[Anchor]] = defaultdict(list)
    for doc in teaching:
        for anchor in doc.anchors.get(name, []):
            places[anchor.key()].append(anchor)
        hits.update({anchor.key() for anchor in doc.anchors.get(name, [])})
        printed.update(set(doc.printed.get(kind, [])))
    if not hits:
        return None
    here: dict[tuple[str, bool, str], list[Candidate]] = defaultdict(list)
    for candidate in candidates(lines, kind):
        here[candidate.anchor.key()].append(candidate)
    def record(key: tuple[str, bool, str]) -> tuple[float, bool]:
        return hits[key] / (max(printed[key], hits[key]) + 1), bool(key[0])  # words beat a bare position

    read: list[tuple[tuple[float, bool], Any, tuple[str, bool, str]]] = []
    for key in sorted(hits, key=lambda k: (record(k), hits[k]), reverse=True):
        if read and record(key) < read[0][0]:
            break  # only the places with the best record that are printed here count
        learnt = places[key]
        found = here.get(key, [])
        if not key[0]:  # no words before it: only the same line (counted from the top or the bottom) counts
            found = [c for c in found if any(abs(c.anchor.line - a.line) <= 1 or abs(c.anchor.from_bottom - a.from_bottom) <= 1 for a in learnt)]
        if name in ID_FIELDS:
            found = [c for c in found if any(_loose(c.anchor.form) == _loose(a.form) for a in learnt)]
        if found:
            near = min(found, key=lambda c: min(min(abs(c.anchor.line - a.line), abs(c.anchor.from_bottom - a.from_bottom)) for a in learnt))
            read.append((record(key), abs(near.value) if name in AMOUNT_FIELDS else near.value, key))
    if not read:
        return None
    # Places with the same record that point at different values here (the total before and after
    # rounding, equal on every document learnt so far) cannot tell which is meant: the rules decide.
    chosen = next(((v, k) for _, v, k in read if _same(name, v, ours)), (read[0][1], read[0][2]))
    return chosen[0], hits[chosen[1]], max(printed[chosen[1]], hits[chosen[1]])


def _loose(form: str) -> str:
    """An id's shape with runs of digits as one: INV-9999 and INV-99999 are the same numbering."""
    return re.sub(r"9+", "9", form)


def with_memory(extraction: Extraction, memory: Memory | None) -> Extraction:
    """``extraction`` read again with ``memory`` where it came from text. The memory's exact version
    goes into its ``inputs`` (what the audit and replay see); where the memory knew the vendor and
    so read the document, the instruction version gets ``+history``, which the policy's ``go_live``
    must release like a prompt version: the memory's state changes with every approval (each one a
    person's decision), reading with memory at all is what a release decides."""
    if memory is None or extraction.status == "error" or not extraction.text:
        return extraction
    read = memory.read(extraction, extraction.text)
    version = extraction.instruction_version + (WITH_HISTORY if read is not extraction else "")
    return read.model_copy(update={"inputs": {**extraction.inputs, "memory": memory.version}, "instruction_version": version})
