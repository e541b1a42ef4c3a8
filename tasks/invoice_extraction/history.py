"""The invoice memory in the store: what it learnt from, how it grows, and which version read a document.

Two things feed it. ``opsgate history import invoices FILE.jsonl`` loads documents people approved
before opsgate (``import_history``). And every posting executed through the gate: the proposal
step keeps the text each document was read from, by the SHA-256 of its bytes (``record_texts``);
once a posting is in the payables ledger, the next reading of the memory learns the document with
the values as approved, corrections included (``sync``). The ledger is the record of what was
approved, so nothing in the executor's transaction depends on learning, and a posting that was
reversed since (``opsgate undo``) is forgotten again: a write people took back teaches nothing.

The memory is versioned like a prompt: ``history.N+<digest>`` names the N documents it holds and
their approved values, and each proposal read with it keeps that version in its ``inputs``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opsgate import (
    ApprovedPosting,
    Learnt,
    digest,
    follow_postings,
    get_settings,
    keep_texts,
    learn_documents,
    learnt_documents,
)
from tasks.invoice_extraction.learning import LearntDocument, learn
from tasks.invoice_extraction.memory import Memory
from tasks.invoice_extraction.models import Extraction, InvoiceFields

WORKFLOW = "invoice_extraction"
POSTED_FIELDS = (
    "vendor_name",
    "invoice_number",
    "invoice_date",
    "due_date",
    "currency",
    "subtotal",
    "tax_total",
    "total",
    "po_number",
    "iban",
)


@dataclass(frozen=True)
class Approved:
    """One document people approved: its text, the values they approved, and what was proposed when known."""

    origin: str
    digest: str
    text: str
    fields: InvoiceFields
    proposed: InvoiceFields | None = None


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_texts(extractions: Iterable[Extraction]) -> int:
    """Keep the text of every document read from text, by its digest, for learning once it is posted."""
    texts: dict[str, str] = {}
    for extraction in extractions:
        sha = extraction.inputs.get("sha256")
        if extraction.text and sha:
            texts.setdefault(sha, extraction.text)
    return keep_texts(texts)


def _lesson(approved: Approved) -> Learnt:
    """What one approved document teaches, as the platform keeps it."""
    doc = learn(approved.text, approved.fields, approved.proposed)
    return Learnt(
        origin=approved.origin,
        digest=approved.digest,
        subject=doc.vendor or f"document:{approved.digest[:12]}",
        fields=doc.fields,
        profile=doc.to_json(),
        text=approved.text,
    )


def _posting_lesson(posting: ApprovedPosting) -> Learnt:
    """A posting executed through the gate: learnt with the values in the ledger (corrections included)."""
    fields = InvoiceFields.model_validate({name: posting.posted[name] for name in POSTED_FIELDS})
    proposed = InvoiceFields.model_validate({k: v for k, v in posting.proposed.items() if k in POSTED_FIELDS})
    return _lesson(Approved(posting.origin, posting.digest, posting.text, fields, proposed))


def add_all(approved: Sequence[Approved]) -> int:
    """Learn these approved documents, in one transaction: how many were new (not learnt already by origin)."""
    return learn_documents(WORKFLOW, approved, _lesson)


def add(approved: Approved) -> bool:
    """Learn one approved document; False when it was learnt already (same origin)."""
    return add_all([approved]) == 1


def sync() -> tuple[int, int]:
    """Learn the postings executed since the memory last looked, and forget those reversed since:
    (learnt, forgotten). A posting whose document text was not kept (read from e-invoice XML, or
    proposed while the policy stored no documents) has nothing to learn from and is passed over."""
    return follow_postings(WORKFLOW, _posting_lesson)


def load(*, learn_postings: bool = True) -> Memory | None:
    """The memory as the store holds it, after learning the postings executed since (``sync``)
    unless ``learn_postings`` is False; None when nothing was learnt yet."""
    return _memory(learnt_documents(WORKFLOW, _posting_lesson if learn_postings else None))


def learnt_history() -> list[Learnt]:
    """Every document learnt, in the order it was learnt: what ``as_of`` picks from."""
    return learnt_documents(WORKFLOW)


def as_of(learnt: Sequence[Learnt], moment: datetime, leave_out: str | None = None) -> Memory | None:
    """The memory as it stood at ``moment`` (what was learnt before it), without the document of
    origin ``leave_out``: what a replayed case would have been read with, never its own approval."""
    when = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)  # SQLite keeps moments naive
    then = [doc for doc in learnt if doc.learnt_at is not None and doc.learnt_at < when and doc.origin != leave_out]
    return _memory(then)


def stored_memory() -> Memory | None:
    """The memory for a command that writes nothing (``opsgate extract``): as stored, without
    learning new postings (the next run, import or ``opsgate history show`` learns them). An
    embedded store that does not exist yet holds no memory, and is not made just to be read."""
    settings = get_settings()
    if not settings.database_url and not (settings.data_dir / "opsgate.db").exists():
        return None
    return load(learn_postings=False)


def _memory(learnt: list[Learnt]) -> Memory | None:
    if not learnt:
        return None
    taught = (LearntDocument.from_json(doc.subject, doc.fields, doc.profile) for doc in learnt)
    return Memory.of(version(learnt), taught)


def version(learnt: list[Learnt]) -> str:
    """``history.N+<8 hex>``: how many documents, and a digest of which ones with which approved values."""
    held = sorted((doc.origin, doc.digest, doc.fields) for doc in learnt)
    return f"history.{len(learnt)}+{digest(held)[:8]}"


def approved_from(line: dict[str, Any]) -> InvoiceFields:
    """The approved values of one history line, checked as the extraction contract types them."""
    fields = line.get("fields")
    if not isinstance(fields, dict):
        raise ValueError('"fields" must be an object of approved values')
    unknown = sorted(set(fields) - set(InvoiceFields.model_fields))
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    return InvoiceFields.model_validate(fields)
