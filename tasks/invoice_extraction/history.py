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
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsgate import digest
from opsgate import get_settings
from opsgate.store.db import transaction
from opsgate.store.tables import DocumentTextRow, LearntDocumentRow, PayableRow, ProposalRow, as_utc
from tasks.invoice_extraction.learning import LearntDocument, learn
from tasks.invoice_extraction.memory import Memory
from tasks.invoice_extraction.models import Extraction, InvoiceFields

logger = logging.getLogger(__name__)

WORKFLOW = "invoice_extraction"
POSTED_FIELDS = ("vendor_name", "invoice_number", "invoice_date", "due_date", "currency", "subtotal", "tax_total", "total", "po_number", "iban")


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


def record_texts(session: Session, extractions: Iterable[Extraction]) -> int:
    """Keep the text of every document read from text, by its digest, for learning once it is posted."""
    kept = 0
    for extraction in extractions:
        sha = extraction.inputs.get("sha256")
        if extraction.text and sha and session.get(DocumentTextRow, sha) is None:
            session.add(DocumentTextRow(digest=sha, text=extraction.text))
            kept += 1
    session.flush()
    return kept


def add(session: Session, approved: Approved) -> bool:
    """Learn one approved document; False when it was learnt already (same origin)."""
    exists = session.execute(select(LearntDocumentRow.id).where(LearntDocumentRow.workflow == WORKFLOW, LearntDocumentRow.origin == approved.origin)).first()
    if exists is not None:
        return False
    doc = learn(approved.text, approved.fields, approved.proposed)
    session.add(LearntDocumentRow(
        workflow=WORKFLOW, origin=approved.origin, digest=approved.digest, vendor=doc.vendor or f"document:{approved.digest[:12]}",
        fields=doc.fields, profile=doc.to_json(), text=approved.text,
    ))
    session.flush()
    return True


def _posted_fields(row: PayableRow) -> InvoiceFields:
    return InvoiceFields.model_validate({name: getattr(row, name) for name in POSTED_FIELDS})


def sync(session: Session) -> tuple[int, int]:
    """Learn the postings executed since the memory last looked, and forget those reversed since:
    (learnt, forgotten). Two queries find them, so a run does not read the whole ledger. A posting
    whose document text was not kept (read from e-invoice XML, or proposed while the policy stored
    no documents) has nothing to learn from and is passed over."""
    origin = literal("proposal:") + PayableRow.proposal_id
    learnt = select(LearntDocumentRow.id).where(LearntDocumentRow.workflow == WORKFLOW, LearntDocumentRow.origin == origin)
    gone = session.execute(select(origin).where(PayableRow.status != "posted", exists(learnt))).scalars().all()
    if gone:
        session.execute(delete(LearntDocumentRow).where(LearntDocumentRow.workflow == WORKFLOW, LearntDocumentRow.origin.in_(gone)))
    new = session.execute(
        select(PayableRow, ProposalRow, DocumentTextRow)
        .join(ProposalRow, ProposalRow.id == PayableRow.proposal_id)
        .join(DocumentTextRow, DocumentTextRow.digest == ProposalRow.inputs["sha256"].as_string())
        .where(PayableRow.status == "posted", ~exists(learnt))
        .order_by(PayableRow.id)
    ).all()
    for payable, proposal, text in new:
        proposed = InvoiceFields.model_validate({k: v for k, v in (proposal.payload or {}).items() if k in POSTED_FIELDS})
        add(session, Approved(f"proposal:{proposal.id}", text.digest, text.text, _posted_fields(payable), proposed))
    return len(new), len(gone)


def load(session: Session, *, learn_postings: bool = True) -> Memory | None:
    """The memory as the store holds it, after learning the postings executed since (``sync``)
    unless ``learn_postings`` is False; None when nothing was learnt yet."""
    if learn_postings:
        try:
            with session.begin_nested():
                sync(session)
        except IntegrityError:  # another run learnt the same posting at the same moment (PostgreSQL): read what is stored
            logger.info("the memory learnt new postings in another run meanwhile; reading it as stored")
    rows = session.execute(select(LearntDocumentRow).where(LearntDocumentRow.workflow == WORKFLOW).order_by(LearntDocumentRow.id)).scalars().all()
    return _memory(list(rows))


def as_of(session: Session, moment: datetime, leave_out: str | None = None) -> Memory | None:
    """The memory as it stood at ``moment`` (what was learnt before it), without the document of
    origin ``leave_out``: what a replayed case would have been read with, never its own approval."""
    rows = session.execute(select(LearntDocumentRow).where(LearntDocumentRow.workflow == WORKFLOW).order_by(LearntDocumentRow.id)).scalars().all()
    return _memory([row for row in rows if as_utc(row.learnt_at) < as_utc(moment) and row.origin != leave_out])  # SQLite keeps moments naive


def stored_memory() -> Memory | None:
    """The memory for a command that writes nothing (``opsgate extract``): as stored, without
    learning new postings (the next run, import or ``opsgate history show`` learns them). An
    embedded store that does not exist yet holds no memory, and is not made just to be read."""
    settings = get_settings()
    if not settings.database_url and not (settings.data_dir / "opsgate.db").exists():
        return None
    with transaction() as session:
        return load(session, learn_postings=False)


def _memory(rows: list[LearntDocumentRow]) -> Memory | None:
    if not rows:
        return None
    return Memory.of(version(rows), (LearntDocument.from_json(row.vendor, row.fields, row.profile) for row in rows))


def version(rows: list[LearntDocumentRow]) -> str:
    """``history.N+<8 hex>``: how many documents, and a digest of which ones with which approved values."""
    held = sorted((row.origin, row.digest, row.fields) for row in rows)
    return f"history.{len(rows)}+{digest(held)[:8]}"


def approved_from(line: dict[str, Any]) -> InvoiceFields:
    """The approved values of one history line, checked as the extraction contract types them."""
    fields = line.get("fields")
    if not isinstance(fields, dict):
        raise ValueError('"fields" must be an object of approved values')
    unknown = sorted(set(fields) - set(InvoiceFields.model_fields))
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    return InvoiceFields.model_validate(fields)
