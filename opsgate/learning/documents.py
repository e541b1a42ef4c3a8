"""Documents a workflow learns from: the texts its proposals were read from, and what each approved
document taught it.

A workflow that learns from approved cases keeps two things here. The text of each document it
read, by the SHA-256 of the document's bytes (``keep_texts``), so it can learn from the document
once people approved it. And one learnt document per approved document (``learn``, keyed by the
workflow and an ``origin`` such as ``import:<digest>`` or ``proposal:<id>``), with what the
workflow's own learner made of it: the platform stores and returns it, the workflow interprets it.

Postings people approved are learnt from the payables ledger, the record of what was approved
(corrections included): ``learnt_documents(..., postings=teach)`` first learns the postings executed
since the workflow last looked and forgets those reversed since (a write people took back teaches
nothing), then reads what is learnt, all in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, exists, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsgate.store.db import transaction
from opsgate.store.tables import DocumentTextRow, LearntDocumentRow, PayableRow, ProposalRow, as_utc
from opsgate.writers.payables import PayablePosting

logger = logging.getLogger(__name__)

POSTED = tuple(PayablePosting.model_fields)  # the values a posting holds, as people approved them


@dataclass(frozen=True)
class Learnt:
    """One approved document a workflow learnt from: where it came from, its text, and what the
    workflow's learner made of it (``subject``: what it is about, e.g. the vendor; ``fields``: the
    approved values; ``profile``: what they taught). ``learnt_at`` is set once it is stored."""

    origin: str
    digest: str
    subject: str
    fields: dict[str, Any]
    profile: dict[str, Any]
    text: str
    learnt_at: datetime | None = None


@dataclass(frozen=True)
class ApprovedPosting:
    """A posting executed through the gate whose document text was kept: what it is learnt from."""

    origin: str  # proposal:<id>
    digest: str
    text: str
    posted: dict[str, Any]  # the ledger's values: what people approved, corrections included
    proposed: dict[str, Any]  # the proposal's payload: what was read


class HasOrigin(Protocol):
    """Whatever a workflow learns from: ``origin`` tells whether it was learnt already."""

    @property
    def origin(self) -> str: ...


Document = TypeVar("Document", bound=HasOrigin)


def keep_texts(texts: Mapping[str, str]) -> int:
    """Keep each text by the digest of its document's bytes, unless kept already: how many were new.
    Two runs reading the same document at once (two inboxes that share an invoice) may both find
    its text new; the one that keeps it second leaves the first's as it is, rather than failing
    its whole batch on the duplicate."""
    if not texts:
        return 0
    with transaction() as session:
        known = set(
            session.execute(select(DocumentTextRow.digest).where(DocumentTextRow.digest.in_(list(texts)))).scalars()
        )
        new = [{"digest": sha, "text": text} for sha, text in texts.items() if sha not in known]
        if new:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            session.execute(dialect.insert(DocumentTextRow).on_conflict_do_nothing(index_elements=["digest"]), new)
    return len(new)


def _learn_one(session: Session, workflow: str, learnt: Learnt) -> None:
    session.add(
        LearntDocumentRow(
            workflow=workflow,
            origin=learnt.origin,
            digest=learnt.digest,
            vendor=learnt.subject,
            fields=learnt.fields,
            profile=learnt.profile,
            text=learnt.text,
        )
    )
    session.flush()


def _is_learnt(session: Session, workflow: str, origin: str) -> bool:
    query = select(LearntDocumentRow.id).where(
        LearntDocumentRow.workflow == workflow, LearntDocumentRow.origin == origin
    )
    return session.execute(query).first() is not None


def learn_documents(workflow: str, documents: Iterable[Document], teach: Callable[[Document], Learnt]) -> int:
    """Learn each document not learnt yet (by its origin), in one transaction; ``teach`` runs only
    for those. How many were learnt."""
    added = 0
    with transaction() as session:
        for document in documents:
            if not _is_learnt(session, workflow, document.origin):
                _learn_one(session, workflow, teach(document))
                added += 1
    return added


def _follow_postings(session: Session, workflow: str, teach: Callable[[ApprovedPosting], Learnt]) -> tuple[int, int]:
    """(learnt, forgotten). Two queries find them, so a run does not read the whole ledger. A posting
    whose document text was not kept has nothing to learn from and is passed over."""
    origin = literal("proposal:") + PayableRow.proposal_id
    learnt = select(LearntDocumentRow.id).where(
        LearntDocumentRow.workflow == workflow, LearntDocumentRow.origin == origin
    )
    gone = session.execute(select(origin).where(PayableRow.status != "posted", exists(learnt))).scalars().all()
    if gone:
        session.execute(
            delete(LearntDocumentRow).where(LearntDocumentRow.workflow == workflow, LearntDocumentRow.origin.in_(gone))
        )
    new = session.execute(
        select(PayableRow, ProposalRow, DocumentTextRow)
        .join(ProposalRow, ProposalRow.id == PayableRow.proposal_id)
        .join(DocumentTextRow, DocumentTextRow.digest == ProposalRow.inputs["sha256"].as_string())
        .where(PayableRow.status == "posted", ~exists(learnt))
        .order_by(PayableRow.id)
    ).all()
    for payable, proposal, text in new:
        origin_of = f"proposal:{proposal.id}"
        if _is_learnt(session, workflow, origin_of):
            continue
        posted = {name: getattr(payable, name) for name in POSTED}
        _learn_one(
            session,
            workflow,
            teach(ApprovedPosting(origin_of, text.digest, text.text, posted, dict(proposal.payload or {}))),
        )
    return len(new), len(gone)


def follow_postings(workflow: str, teach: Callable[[ApprovedPosting], Learnt]) -> tuple[int, int]:
    """Learn the postings executed since the workflow last looked, and forget those reversed since:
    (learnt, forgotten)."""
    with transaction() as session:
        return _follow_postings(session, workflow, teach)


def _as_learnt(row: LearntDocumentRow) -> Learnt:
    learnt_at = as_utc(row.learnt_at)  # SQLite keeps moments naive
    return Learnt(row.origin, row.digest, row.vendor, row.fields, row.profile, row.text, learnt_at)


def learnt_documents(workflow: str, postings: Callable[[ApprovedPosting], Learnt] | None = None) -> list[Learnt]:
    """What ``workflow`` has learnt, in the order it learnt it; after learning the postings executed
    since (``follow_postings``) when ``postings`` teaches them. Another run learning the same
    posting at the same moment (PostgreSQL) does not stop this one: it reads what is stored."""
    with transaction() as session:
        if postings is not None:
            try:
                with session.begin_nested():
                    _follow_postings(session, workflow, postings)
            except IntegrityError:
                logger.info("%s learnt new postings in another run meanwhile; reading what is stored", workflow)
        rows = session.execute(
            select(LearntDocumentRow).where(LearntDocumentRow.workflow == workflow).order_by(LearntDocumentRow.id)
        ).scalars()
        return [_as_learnt(row) for row in rows]
