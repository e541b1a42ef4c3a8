"""What the payables ledger holds, as plain data: the reads workflows and reports make of it.

The payables writer owns the table; a workflow asks it questions (is this invoice posted, was this
vendor paid before, what was posted in a week) and gets dataclasses back, never a row or a
session, so a change of the ledger's storage stays inside the platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow
from opsgate.writers.payables import known_vendors, posted_among

LedgerKey = tuple[str, str]  # (vendor key, invoice number): one live posting each


@dataclass(frozen=True)
class PostedPayable:
    """A live posting: enough to name it to an approver and to tell whose it is."""

    id: int
    vendor_key: str
    invoice_number: str
    source: str
    proposal_id: str


@dataclass(frozen=True)
class LedgerLookup:
    """What the ledger says about a batch: the live postings among its keys, the vendors paid before."""

    posted: dict[LedgerKey, PostedPayable]
    known_vendors: set[str]


@dataclass(frozen=True)
class WeekPosting:
    """One live posting of a window, as the spend figures need it."""

    vendor_key: str
    vendor_name: str | None
    currency: str
    document_type: str
    total: Decimal


@dataclass(frozen=True)
class PostingsInWindow:
    """Postings made in a window: how many have each status now, and the live ones, oldest first."""

    by_status: dict[str, int]
    live: list[WeekPosting]


def _posted(row: PayableRow) -> PostedPayable:
    return PostedPayable(row.id, row.vendor_key, row.invoice_number, row.source, row.proposal_id)


def look_up(keys: set[LedgerKey], *, postings: bool = True) -> LedgerLookup:
    """The ledger for a batch of (vendor key, invoice number) pairs, read once in one transaction:
    the live postings among them (only when ``postings``: the double-payment check may be off) and
    the vendor keys among them that have a live posting."""
    with transaction() as session:
        posted = posted_among(session, keys) if postings else {}
        known = known_vendors(session, {vendor for vendor, _ in keys})
        return LedgerLookup({key: _posted(row) for key, row in posted.items()}, known)


def live_postings_of(proposal_ids: Iterable[str]) -> dict[str, PostedPayable]:
    """The live posting each of these proposals wrote, by proposal id (none for one not posted)."""
    ids = list(proposal_ids)
    if not ids:
        return {}
    with transaction() as session:
        rows = session.execute(
            select(PayableRow).where(PayableRow.proposal_id.in_(ids), PayableRow.status == "posted")
        ).scalars()
        return {row.proposal_id: _posted(row) for row in rows}


def postings_in_window(start: datetime, end: datetime) -> PostingsInWindow:
    """Postings made in [start, end) (UTC bounds): counted by their status now, so a reversal after
    the window still shows against the window its posting belongs to; the live ones in posting order."""
    posted = (PayableRow.posted_at >= start, PayableRow.posted_at < end)
    with transaction() as session:
        by_status: dict[str, int] = dict(
            session.execute(select(PayableRow.status, func.count()).where(*posted).group_by(PayableRow.status)).all()
        )
        live = session.execute(
            select(
                PayableRow.vendor_key,
                PayableRow.vendor_name,
                PayableRow.currency,
                PayableRow.document_type,
                PayableRow.total,
            )
            .where(*posted, PayableRow.status == "posted")
            .order_by(PayableRow.posted_at, PayableRow.id)
        ).all()
    return PostingsInWindow(by_status, [WeekPosting(*row) for row in live])
