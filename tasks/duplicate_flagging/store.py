"""The duplicate-flagging workflow's reads of the records store, and the operator's import into it.

The records store stands in for a CRM or vendor master. An import loads source rows as they are
(new ids inserted, changed rows updated, absent ids left alone) and never touches a merge; the
workflow then reads the live records (those not merged into another), learns which are new or
changed since a run last matched them, and keeps the model it fitted for the next incremental run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, update

from opsgate.store import audit
from opsgate import AuditEvent
from opsgate import Status, digest
from opsgate.store.db import transaction
from opsgate.store.tables import MatchModelRow, ProposalRow, RecordMergeRow, RecordRow
from opsgate import RecordMerge, RecordsMerge
from tasks.duplicate_flagging.comparing import COMPARATORS
from tasks.duplicate_flagging.fields import Field
from tasks.duplicate_flagging.scoring import MatchModel

ID_COLUMN = "_record_id"  # the frame's column of record ids; no source column is called this
CHUNK = 5_000


@dataclass
class Imported:
    inserted: int
    updated: int
    unchanged: int


@dataclass
class StoredRecords:
    """The live records of one kind, as a frame of text columns, with what the store knows of each."""

    frame: pd.DataFrame  # ID_COLUMN plus every data column, "" where a record has no value
    row_ids: np.ndarray  # the store's record ids, in frame order
    changed: np.ndarray  # bool: new or changed since a run last matched the record
    updated_at: list[datetime]


def import_records(kind: str, frame: pd.DataFrame, id_column: str, *, workflow: str, run_id: str | None, actor: str, source: str) -> Imported:
    """Upsert ``frame``'s rows by id: a row whose data is unchanged is not touched."""
    columns = [c for c in frame.columns if c != id_column]
    rows = [(str(external_id), {c: str(v) for c, v in zip(columns, values) if v != ""}) for external_id, *values in frame[[id_column, *columns]].itertuples(index=False)]
    with transaction() as session:
        known = {external_id: (record_id, data_digest) for record_id, external_id, data_digest in session.execute(
            select(RecordRow.id, RecordRow.external_id, RecordRow.data_digest).where(RecordRow.kind == kind)
        )}
        new, changed = [], []
        for external_id, data in rows:
            data_digest = digest(data)
            if external_id not in known:
                new.append({"kind": kind, "external_id": external_id, "data": data, "data_digest": data_digest})
            elif known[external_id][1] != data_digest:
                changed.append({"id": known[external_id][0], "data": data, "data_digest": data_digest})
        for start in range(0, len(new), CHUNK):
            session.execute(insert(RecordRow), new[start:start + CHUNK])
        for start in range(0, len(changed), CHUNK):
            session.execute(update(RecordRow), changed[start:start + CHUNK])
        inserted, updated = len(new), len(changed)
        counts = Imported(inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated)
        audit.append(session, AuditEvent.IMPORTED, workflow=workflow, run_id=run_id, actor=actor, data={"kind": kind, "source": source, **counts.__dict__})
    return counts


def live_records(kind: str) -> StoredRecords:
    """Every record of ``kind`` not merged into another, oldest first."""
    with transaction() as session:
        rows = session.execute(
            select(RecordRow.id, RecordRow.external_id, RecordRow.data, RecordRow.data_digest, RecordRow.checked_digest, RecordRow.updated_at)
            .where(RecordRow.kind == kind, RecordRow.merged_into.is_(None))
            .order_by(RecordRow.id)
        ).all()
    frame = pd.DataFrame.from_records([r.data for r in rows]) if rows else pd.DataFrame()
    frame = frame.fillna("").astype(str) if len(frame.columns) else frame
    frame.insert(0, ID_COLUMN, [r.external_id for r in rows])
    return StoredRecords(
        frame=frame,
        row_ids=np.array([r.id for r in rows], dtype=np.int64),
        changed=np.array([r.checked_digest != r.data_digest for r in rows], dtype=bool),
        updated_at=[r.updated_at for r in rows],
    )


def mark_matched(row_ids: list[int]) -> None:
    """These records have been matched as they are now: the next incremental run leaves them be."""
    with transaction() as session:
        for start in range(0, len(row_ids), CHUNK):
            session.execute(
                update(RecordRow).where(RecordRow.id.in_(row_ids[start:start + CHUNK])).values(checked_digest=RecordRow.data_digest).execution_options(synchronize_session=False)
            )


def _merges(workflow: str, statuses: set[Status]) -> list[tuple[str, RecordMerge]]:
    with transaction() as session:
        rows = session.execute(
            select(ProposalRow.id, ProposalRow.payload).where(
                ProposalRow.workflow == workflow, ProposalRow.tool == RecordsMerge.tool, ProposalRow.status.in_([str(s) for s in statuses])
            )
        ).all()
    return [(proposal_id, RecordMerge.model_validate(payload)) for proposal_id, payload in rows]


def rejected_groups(workflow: str, kind: str) -> list[frozenset[str]]:
    """Record sets people decided are not one record: not proposed again while their data stands."""
    return [frozenset([m.survivor, *m.duplicates]) for _, m in _merges(workflow, {Status.REJECTED}) if m.kind == kind]


def unsettled_records(workflow: str, run_id: str) -> set[str]:
    """Ids in this run's merge proposals that ended without a decision (expired, failed): a later
    run proposes them again, so they are not marked as matched."""
    with transaction() as session:
        rows = session.execute(
            select(ProposalRow.payload).where(
                ProposalRow.run_id == run_id, ProposalRow.tool == RecordsMerge.tool,
                ProposalRow.status.in_([str(Status.EXPIRED), str(Status.FAILED)]),
            )
        ).scalars()
        merges = [RecordMerge.model_validate(payload) for payload in rows]
    return {external_id for m in merges for external_id in (m.survivor, *m.duplicates)}


def approved_pairs(kind: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """Pairs people approved as one record, as their data when they were merged: each merged
    record with its survivor's image from before the merge (neither changes while the merge stands)."""
    with transaction() as session:
        merges = session.execute(select(RecordMergeRow).where(RecordMergeRow.kind == kind, RecordMergeRow.status == "merged")).scalars().all()
        ids = [record_id for merge in merges for record_id in merge.merged_ids]
        data = {row.id: row.data for row in session.execute(select(RecordRow.id, RecordRow.data).where(RecordRow.id.in_(ids)))} if ids else {}
        return [(dict(merge.survivor_before), dict(data[record_id])) for merge in merges for record_id in merge.merged_ids if record_id in data]


@dataclass
class StoredModel:
    """A fitted model as the store keeps it: its id (which cases name), the fields it compares."""

    id: int
    fields: list[Field]
    model: MatchModel


def save_model(workflow: str, kind: str, fields: list[Field], model: MatchModel, run_id: str, confirmed: int) -> StoredModel:
    """``confirmed``: how many approved pairs refined it, for whoever wonders why it changed."""
    stored: dict[str, Any] = {"m": [m.tolist() for m in model.m], "u": [u.tolist() for u in model.u], "prior": model.prior, "confirmed_pairs": confirmed}
    with transaction() as session:
        row = MatchModelRow(workflow=workflow, kind=kind, fields=[f.model_dump(mode="json") for f in fields], model=stored, run_id=run_id)
        session.add(row)
        session.flush()
        return StoredModel(row.id, fields, model)


def _stored(row: MatchModelRow) -> StoredModel | None:
    """The row as a model; None when it was fitted on other comparison levels than the comparators have now
    (an earlier version of the matching rules), since its weights would not fit the levels compared today."""
    fields = [Field.model_validate(f) for f in row.fields]
    m, u = row.model["m"], row.model["u"]
    if [len(x) for x in m] != [COMPARATORS[f.kind].levels for f in fields]:
        return None
    return StoredModel(row.id, fields, MatchModel(fields=[f.column for f in fields], m=[np.asarray(x) for x in m], u=[np.asarray(x) for x in u], prior=float(row.model["prior"])))


def latest_model(workflow: str, kind: str, fields: list[Field]) -> StoredModel | None:
    """The model the last full run fitted on these same fields, if there is one."""
    with transaction() as session:
        row = session.execute(
            select(MatchModelRow).where(MatchModelRow.workflow == workflow, MatchModelRow.kind == kind).order_by(MatchModelRow.id.desc()).limit(1)
        ).scalar_one_or_none()
        if row is None or row.fields != [f.model_dump(mode="json") for f in fields]:
            return None
        return _stored(row)


def stored_model(model_id: int) -> StoredModel | None:
    """A model by the id a case recorded: the one that scored its records then."""
    with transaction() as session:
        row = session.get(MatchModelRow, model_id)
        return _stored(row) if row is not None else None
