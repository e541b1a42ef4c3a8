"""Reading a vendor's next document with what its approved documents taught (``learning``).

What commercial AP tools call vendor learning, without a template written by hand. A vendor is told
apart by what the document itself says, never by a list kept by hand: its VAT id or IBAN as the
rules read them, else the name the rules read when it is a name people approved before, else how
alike the document's first lines are to those of the vendor's learnt documents.

Reading with memory goes memory first, rules second: a field the vendor's documents show in one
place is read there; what memory cannot place is left as the rules read it. Where the two disagree
the value is shown to the approver as a notice and its confidence lowered; a differing IBAN or VAT
id is escalated instead, because bank details change only through vendor onboarding.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz

from opsgate import Escalation, EscalationReason, vendor_key
from tasks.invoice_extraction.checks import CONFIRMED, failed_checks
from tasks.invoice_extraction.learning import (
    AMOUNT_FIELDS,
    CONSTANT,
    DATE_FIELDS,
    ID_FIELDS,
    LOCATED,
    Anchor,
    Candidate,
    LearntDocument,
    candidates,
    compact,
    header_of,
    kind_of,
    lines_of,
    same_value,
    trigrams,
)
from tasks.invoice_extraction.models import Extraction, InvoiceFields

SIMILAR_HEADER = 0.45  # share of letterhead trigrams two documents of one vendor have in common, at least
PRINTED = ("vendor_address",)  # constant per branch: the approved one printed on the document counts
PRINTED_ALIKE = 85  # how much of an approved value must be printed as written (rapidfuzz partial ratio, 0-100)
_PRINTED_WITHIN, _PRINTED_LINES = 40, 6  # where a printed value is looked for: the first lines, a run of a few
IDENTITY = ("vendor_tax_id", "iban")  # tell the vendor apart; never overridden, a new one is escalated
WITH_HISTORY = "+history"  # after a replayed version: read with the memory as it stood when each case was proposed
# The name under which a policy's go_live releases the memory itself, whatever reader it follows: a
# policy with a go_live section that does not list it proposes from the readers alone.
MEMORY_RELEASE = "history"
AGREED, DISAGREED = 0.95, 0.6  # above the policy's low-confidence line: a disagreement is shown, not a stop
# Memory overrides the rules where its place held the value on two documents out of two (held / (seen + 1)), or
# on half of them once the rules were seen to misread the field for this vendor (a person corrected it).
TRUSTED = 0.66


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
        here = compact(text)
        scored = [(fuzz.partial_ratio(compact(value), here), count, value) for value, count in Counter(values).items()]
        score, count, value = max(scored, key=lambda s: (s[0], s[1]))
        return (_as_printed(value, lines_of(text)), count, len(values)) if score >= PRINTED_ALIKE else None

    def identifiers(self, name: str) -> set[str]:
        """The vendor's approved values of ``name`` (its VAT ids, or its IBANs), compacted."""
        return {vendor_key(str(d.fields[name])) for d in self.documents if d.fields.get(name)}


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
                    if value in vendor.identifiers(name):
                        return vendor, f"its {name}"
        named = self.vendors.get(vendor_key(read.vendor_name))
        if named is not None:
            return named, "its name"
        grams = trigrams(header_of(lines))
        best, score = None, 0.0
        for vendor in self.vendors.values():
            for doc in vendor.documents:
                union = len(grams | doc.grams)
                similarity = len(grams & doc.grams) / union if union else 0.0
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
        learnt = {
            name: value for name in LOCATED if (value := _located(vendor, lines, name, values.get(name))) is not None
        }
        for name in CONSTANT:
            if (constant := vendor.printed_one(name, text) if name in PRINTED else vendor.constant(name)) is not None:
                learnt[name] = constant
        for name, (value, held, seen) in learnt.items():
            ours = values.get(name)
            shown = _typed(name, value)
            if ours in (None, "") or same_value(name, ours, shown):
                values[name] = shown
                confidence[name] = max(
                    confidence.get(name, 0.0),
                    AGREED if ours not in (None, "") else min(AGREED, 0.5 + 0.5 * held / (seen + 1)),
                )
                continue
            misread = sum(1 for doc in vendor.documents if name in doc.misread)
            sure = (
                confidence.get(name, 0.0) >= CONFIRMED
            )  # the rules' reading was confirmed (a total its parts add up to)
            trusted = not sure and (held / (seen + 1) >= TRUSTED or (misread > 0 and held / seen >= 0.5))
            values[name], confidence[name] = (
                (shown, DISAGREED) if trusted else (ours, min(confidence.get(name, DISAGREED), DISAGREED))
            )
            why = f"; the rules misread it on {misread} of them" if misread else ""
            notices.append(
                Escalation(
                    reason=EscalationReason.CONFLICTING_SOURCES,
                    field=name,
                    detail=(
                        f"the rules read {ours}, {vendor.key}'s approved documents put {shown} here (held on {held} of {seen}{why}; "
                        f"vendor told by {how}); {'memory' if trusted else 'the rules'} kept"
                    ),
                )
            )
        for name in IDENTITY:
            ours, known = getattr(extraction.fields, name), vendor.identifiers(name)
            if ours and known and vendor_key(ours) not in known:
                escalations.append(
                    Escalation(
                        reason=EscalationReason.CONFLICTING_SOURCES,
                        field=name,
                        detail=(
                            f"{ours} is not the {name} on {vendor.key}'s approved documents: bank and tax details change only through vendor onboarding"
                        ),
                    )
                )
        fields = InvoiceFields.model_validate(values)
        escalations = [
            e
            for e in escalations
            if not (e.reason is EscalationReason.MISSING_DATA and values.get(e.field or "") not in (None, ""))
        ]
        escalations += [
            e for e in failed_checks(fields) if e not in escalations
        ]  # values from memory meet the same checks
        status = extraction.status if extraction.status == "error" else "escalated" if escalations else "ok"
        update = {
            "fields": fields,
            "confidence": confidence,
            "notices": notices,
            "escalations": escalations,
            "status": status,
        }
        return extraction.model_copy(update=update)


def _as_printed(value: str, lines: Sequence[str]) -> str:
    """The run of lines that prints ``value`` in this document, as printed there (its own spelling,
    a scan's own misreadings), or ``value`` itself where no run of lines prints it nearly as written."""
    target = compact(value)
    rows = [line for line in lines[:_PRINTED_WITHIN] if line]
    best, best_score = value, 0.0
    for i in range(len(rows)):
        for j in range(i + 1, min(i + _PRINTED_LINES, len(rows)) + 1):
            window = ", ".join(rows[i:j])
            score = fuzz.ratio(compact(window), target)
            if score > best_score:
                best, best_score = window, score
    return best if best_score >= PRINTED_ALIKE else value


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
    kind = kind_of(name)
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
    for key in sorted(
        hits, key=lambda k: (record(k), hits[k], k), reverse=True
    ):  # the key last: the same order in every process
        if read and record(key) < read[0][0]:
            break  # only the places with the best record that are printed here count
        learnt = places[key]
        found = here.get(key, [])
        if not key[0]:  # no words before it: only the same line (counted from the top or the bottom) counts
            found = [
                c
                for c in found
                if any(
                    abs(c.anchor.line - a.line) <= 1 or abs(c.anchor.from_bottom - a.from_bottom) <= 1 for a in learnt
                )
            ]
        if name in ID_FIELDS:
            found = [c for c in found if any(_loose(c.anchor.form) == _loose(a.form) for a in learnt)]
        if found:
            # the one standing where the learnt ones stood: at the same end of its line first, then on the nearest line
            near = min(
                found,
                key=lambda c: min(
                    (
                        c.anchor.right != a.right,
                        min(abs(c.anchor.line - a.line), abs(c.anchor.from_bottom - a.from_bottom)),
                    )
                    for a in learnt
                ),
            )
            read.append((record(key), abs(near.value) if name in AMOUNT_FIELDS else near.value, key))
    if not read:
        return None
    # Places with the same record that point at different values here (the total before and after
    # rounding, equal on every document learnt so far) cannot tell which is meant: the rules decide,
    # or where the rules read none of them, most of those places.
    agreeing = Counter(str(v) for _, v, _ in read)  # else the value most of the best places point at
    chosen = next(((v, k) for _, v, k in read if same_value(name, v, ours)), None) or max(
        ((v, k) for _, v, k in read), key=lambda vk: (agreeing[str(vk[0])], hits[vk[1]])
    )
    return chosen[0], hits[chosen[1]], max(printed[chosen[1]], hits[chosen[1]])


def _loose(form: str) -> str:
    """An id's shape with runs of digits as one: INV-9999 and INV-99999 are the same numbering."""
    return re.sub(r"9+", "9", form)


def with_memory(extraction: Extraction, memory: Memory | None) -> Extraction:
    """``extraction`` read again with ``memory`` where it came from text, with the memory's version
    in its ``inputs``: what the proposal stores, the audit shows and replay compares.

    The instruction version stays the reader's (``rules-v1``): the memory changes with every
    approval, each itself a person's decision, and a release of a new reader (``rules-v2``) must
    not leave every known vendor's documents shadowed until a second release for the memory. The
    memory is released on its own instead, as ``MEMORY_RELEASE`` (``shadowed_memory``)."""
    if memory is None or extraction.status == "error" or not extraction.text:
        return extraction
    read = memory.read(extraction, extraction.text)
    return read.model_copy(update={"inputs": {**extraction.inputs, "memory": memory.version}})


def shadowed_memory(extraction: Extraction, memory: Memory | None) -> Extraction:
    """``extraction`` as its reader read it, with the version of the memory that was held back in
    its ``inputs``: the memory is not released, so the proposal is the reader's alone, and a replay
    of ``MEMORY_RELEASE`` later shows what the memory would have changed."""
    if memory is None or extraction.status == "error" or not extraction.text:
        return extraction
    return extraction.model_copy(update={"inputs": {**extraction.inputs, "memory_shadowed": memory.version}})
