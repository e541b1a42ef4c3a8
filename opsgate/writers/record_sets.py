"""The records store as workflows read it, and the operator's import into it.

The records writer (``records``) merges; everything else a workflow needs of the records lives
here, as plain data. An import loads source rows as they are (new ids inserted, changed rows
updated, absent ids left alone) and never touches a merge; a workflow then reads the live records
(those not merged into another), learns which are new or changed since a run last matched them
(``data_digest`` against ``checked_digest``), and reads the merges people approved to learn from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from opsgate.models import digest
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import RecordMergeRow, RecordRow

CHUNK = 5_000  # rows per statement: a big import stays within the drivers' limits on bound parameters


@dataclass(frozen=True)
class ImportCounts:
    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class LiveRecord:
    """A record not merged into another: its store id, its id in the source, its values."""

    id: int
    external_id: str
    data: dict[str, str]
    changed: bool  # new or changed since a run last matched it
    updated_at: datetime


def import_record_set(
    kind: str,
    rows: Sequence[tuple[str, dict[str, str]]],
    *,
    workflow: str,
    run_id: str | None,
    actor: str,
    source: str,
) -> ImportCounts:
    """Upsert (external id, values) rows of ``kind``: a row whose values are unchanged is not
    touched. The import and its audit event are one transaction."""
    with transaction() as session:
        known = {
            external_id: (record_id, data_digest)
            for record_id, external_id, data_digest in session.execute(
                select(RecordRow.id, RecordRow.external_id, RecordRow.data_digest).where(RecordRow.kind == kind)
            )
        }
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for external_id, data in rows:
            data_digest = digest(data)
            if external_id not in known:
                new.append({"kind": kind, "external_id": external_id, "data": data, "data_digest": data_digest})
            elif known[external_id][1] != data_digest:
                changed.append({"id": known[external_id][0], "data": data, "data_digest": data_digest})
        for start in range(0, len(new), CHUNK):
            session.execute(insert(RecordRow), new[start : start + CHUNK])
        for start in range(0, len(changed), CHUNK):
            session.execute(update(RecordRow), changed[start : start + CHUNK])
        counts = ImportCounts(inserted=len(new), updated=len(changed), unchanged=len(rows) - len(new) - len(changed))
        audit.append(
            session,
            AuditEvent.IMPORTED,
            workflow=workflow,
            run_id=run_id,
            actor=actor,
            data={"kind": kind, "source": source, **counts.__dict__},
        )
    return counts


def live_record_set(kind: str) -> list[LiveRecord]:
    """Every record of ``kind`` not merged into another, oldest first."""
    with transaction() as session:
        rows = session.execute(
            select(
                RecordRow.id,
                RecordRow.external_id,
                RecordRow.data,
                RecordRow.data_digest,
                RecordRow.checked_digest,
                RecordRow.updated_at,
            )
            .where(RecordRow.kind == kind, RecordRow.merged_into.is_(None))
            .order_by(RecordRow.id)
        ).all()
    return [LiveRecord(r.id, r.external_id, r.data, r.checked_digest != r.data_digest, r.updated_at) for r in rows]


def mark_matched(record_ids: Sequence[int]) -> None:
    """These records have been matched as they are now: the next incremental run leaves them be."""
    with transaction() as session:
        for start in range(0, len(record_ids), CHUNK):
            session.execute(
                update(RecordRow)
                .where(RecordRow.id.in_(record_ids[start : start + CHUNK]))
                .values(checked_digest=RecordRow.data_digest)
                .execution_options(synchronize_session=False)
            )


def approved_pairs(kind: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Pairs people approved as one record, as their data when they were merged: each merged
    record with its survivor's image from before the merge (neither changes while the merge stands)."""
    with transaction() as session:
        merges = (
            session.execute(
                select(RecordMergeRow).where(RecordMergeRow.kind == kind, RecordMergeRow.status == "merged")
            )
            .scalars()
            .all()
        )
        ids = [record_id for merge in merges for record_id in merge.merged_ids]
        data = (
            {
                row.id: row.data
                for row in session.execute(select(RecordRow.id, RecordRow.data).where(RecordRow.id.in_(ids)))
            }
            if ids
            else {}
        )
        return [
            (dict(merge.survivor_before), dict(data[record_id]))
            for merge in merges
            for record_id in merge.merged_ids
            if record_id in data
        ]


def records_merged_in_window(start: datetime, end: datetime) -> int:
    """Records folded into a survivor by merges executed in [start, end) and not undone."""
    with transaction() as session:
        merges = (
            session.execute(
                select(RecordMergeRow.merged_ids).where(
                    RecordMergeRow.status == "merged", RecordMergeRow.merged_at >= start, RecordMergeRow.merged_at < end
                )
            )
            .scalars()
            .all()
        )
    return sum(len(ids) for ids in merges)
