"""The append-only, hash-chained audit log.

Each row's hash covers its own content and the previous row's hash, and a one-row head table
holds the newest number and hash. Changing a row breaks its hash, removing one breaks the chain
or the head. The chain proves integrity against accidents and casual edits; an adversary who can
rewrite the whole table and the head needs an external anchor (export and keep the head hash).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.models import canonical_json, digest
from opsgate.store.tables import AuditHeadRow, AuditRow, as_utc

GENESIS = "0" * 64


class AuditEvent(StrEnum):
    TRIGGERED = "triggered"
    PROPOSED = "proposed"
    ESCALATED = "escalated"
    SHADOWED = "shadowed"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CORRECTED = "corrected"
    APPROVAL_REFUSED = "approval_refused"
    EXPIRED = "expired"
    EXECUTED = "executed"
    EXECUTION_REFUSED = "execution_refused"
    FAILED = "failed"
    UNDONE = "undone"
    INCIDENT = "incident"  # someone reported that an executed action went wrong
    AUTONOMY_DEMOTED = "autonomy_demoted"  # an `auto` case type went back to `reviewed` on the evidence
    REMINDED = "reminded"  # a run still waits for decisions close to its deadline
    DELIVERED = "delivered"  # a message (published report, approval notice) posted to a channel
    DELIVERY_FAILED = "delivery_failed"
    IMPORTED = "imported"  # source records loaded into the embedded records store by an operator
    QUARANTINED = "quarantined"  # an input that kept failing was moved aside before it was read again
    COMPLETED = "completed"


def _content(row: AuditRow) -> dict[str, Any]:
    """What a row's hash covers: everything but the hashes themselves."""
    return {
        "seq": row.seq,
        "at": as_utc(row.at).isoformat(),
        "workflow": row.workflow,
        "run_id": row.run_id,
        "event": row.event,
        "proposal_id": row.proposal_id,
        "actor": row.actor,
        "data": row.data,
    }


def _row_hash(prev_hash: str, row: AuditRow) -> str:
    return digest({"prev": prev_hash, "row": _content(row)})


def append(
    session: Session,
    event: AuditEvent,
    *,
    workflow: str,
    actor: str,
    run_id: str | None = None,
    proposal_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditRow:
    """Append one event in the caller's transaction, so it commits or rolls back with the work."""
    head = session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHeadRow(id=1, seq=0, hash=GENESIS)
        session.add(head)
    row = AuditRow(
        seq=head.seq + 1,
        at=datetime.now(timezone.utc),
        workflow=workflow,
        run_id=run_id,
        event=str(event),
        proposal_id=proposal_id,
        actor=actor,
        data=json.loads(canonical_json(data or {})),
        prev_hash=head.hash,
    )
    row.hash = _row_hash(head.hash, row)
    session.add(row)
    head.seq, head.hash = row.seq, row.hash
    session.flush()
    return row


@dataclass(frozen=True)
class VerifyResult:
    rows: int
    first_bad_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and not self.problem


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the first row; report the first row that does not verify."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for row in session.execute(select(AuditRow).order_by(AuditRow.seq)).scalars():
        if row.seq != expected_seq:
            return VerifyResult(count, expected_seq, f"row {expected_seq} is missing (next row is {row.seq})")
        if row.prev_hash != prev_hash:
            return VerifyResult(count, row.seq, f"row {row.seq} does not follow row {row.seq - 1} (previous hash differs)")
        if _row_hash(prev_hash, row) != row.hash:
            return VerifyResult(count, row.seq, f"row {row.seq} was changed after it was written (hash differs)")
        prev_hash, expected_seq, count = row.hash, expected_seq + 1, count + 1
    head = session.get(AuditHeadRow, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (count, prev_hash):
        return VerifyResult(count, count + 1, f"rows after {count} are missing: the head records {head_seq} rows")
    return VerifyResult(count)


EXPORT_COLUMNS = ("seq", "at", "workflow", "run_id", "event", "proposal_id", "actor", "data", "prev_hash", "hash")


def export_rows(session: Session, workflow: str | None = None) -> Iterator[dict[str, Any]]:
    query = select(AuditRow).order_by(AuditRow.seq)
    if workflow:
        query = query.where(AuditRow.workflow == workflow)
    for row in session.execute(query).scalars():
        yield {**_content(row), "prev_hash": row.prev_hash, "hash": row.hash}


def write_export(rows: Iterable[dict[str, Any]], out: IO[str], fmt: str) -> int:
    """Write rows as JSON lines or CSV (``data`` as a JSON string in CSV); returns the count."""
    count = 0
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in rows:
        if writer is None:
            out.write(canonical_json(row) + "\n")
        else:
            writer.writerow({**row, "data": canonical_json(row["data"])})
        count += 1
    return count
