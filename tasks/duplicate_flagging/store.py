"""The duplicate-flagging workflow's view of the records store, and of the models it fitted.

The platform keeps the records (``opsgate.writers.record_sets``: the operator's import, the live
records, the merges people approved) and the fitted models (``opsgate.learning.fitted``); this
module turns them into what the matcher works with: a frame of text columns, and a ``MatchModel``
with the fields it compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from opsgate import (
    FittedModel,
    ImportCounts,
    RecordMerge,
    RecordsMerge,
    Status,
    fitted_model,
    import_record_set,
    latest_fitted,
    live_record_set,
    proposed_actions,
    save_fitted,
)
from tasks.duplicate_flagging.comparing import COMPARATORS
from tasks.duplicate_flagging.fields import Field
from tasks.duplicate_flagging.scoring import MatchModel

ID_COLUMN = "_record_id"  # the frame's column of record ids; no source column is called this


@dataclass
class StoredRecords:
    """The live records of one kind, as a frame of text columns, with what the store knows of each."""

    frame: pd.DataFrame  # ID_COLUMN plus every data column, "" where a record has no value
    row_ids: np.ndarray  # the store's record ids, in frame order
    changed: np.ndarray  # bool: new or changed since a run last matched the record
    updated_at: list[datetime]


def import_records(
    kind: str,
    frame: pd.DataFrame,
    id_column: str,
    *,
    workflow: str,
    run_id: str | None,
    actor: str,
    source: str,
) -> ImportCounts:
    """Upsert ``frame``'s rows by id: a row whose data is unchanged is not touched."""
    columns = [c for c in frame.columns if c != id_column]
    rows = [
        (str(external_id), {c: str(v) for c, v in zip(columns, values) if v != ""})
        for external_id, *values in frame[[id_column, *columns]].itertuples(index=False)
    ]
    return import_record_set(kind, rows, workflow=workflow, run_id=run_id, actor=actor, source=source)


def live_records(kind: str) -> StoredRecords:
    """Every record of ``kind`` not merged into another, oldest first."""
    rows = live_record_set(kind)
    frame = pd.DataFrame.from_records([r.data for r in rows]) if rows else pd.DataFrame()
    frame = frame.fillna("").astype(str) if len(frame.columns) else frame
    frame.insert(0, ID_COLUMN, [r.external_id for r in rows])
    return StoredRecords(
        frame=frame,
        row_ids=np.array([r.id for r in rows], dtype=np.int64),
        changed=np.array([r.changed for r in rows], dtype=bool),
        updated_at=[r.updated_at for r in rows],
    )


def rejected_groups(workflow: str, kind: str) -> list[frozenset[str]]:
    """Record sets people decided are not one record: not proposed again while their data stands."""
    actions = proposed_actions(RecordsMerge.tool, {Status.REJECTED}, workflow=workflow)
    merges = [RecordMerge.model_validate(a.payload) for a in actions]
    return [frozenset([m.survivor, *m.duplicates]) for m in merges if m.kind == kind]


def unsettled_records(workflow: str, run_id: str) -> set[str]:
    """Ids in this run's merge proposals that ended without a decision (expired, failed): a later
    run proposes them again, so they are not marked as matched."""
    actions = proposed_actions(RecordsMerge.tool, {Status.EXPIRED, Status.FAILED}, run_id=run_id)
    merges = [RecordMerge.model_validate(a.payload) for a in actions]
    return {external_id for m in merges for external_id in (m.survivor, *m.duplicates)}


@dataclass
class StoredModel:
    """A fitted model as the store keeps it: its id (which cases name), the fields it compares."""

    id: int
    fields: list[Field]
    model: MatchModel


def save_model(
    workflow: str,
    kind: str,
    fields: list[Field],
    model: MatchModel,
    run_id: str,
    confirmed: int,
) -> StoredModel:
    """``confirmed``: how many approved pairs refined it, for whoever wonders why it changed."""
    stored: dict[str, Any] = {
        "m": [m.tolist() for m in model.m],
        "u": [u.tolist() for u in model.u],
        "prior": model.prior,
        "confirmed_pairs": confirmed,
    }
    model_id = save_fitted(workflow, kind, [f.model_dump(mode="json") for f in fields], stored, run_id)
    return StoredModel(model_id, fields, model)


def _stored(found: FittedModel) -> StoredModel | None:
    """The stored model as a ``MatchModel``; None when it was fitted on other comparison levels than
    the comparators have now (an earlier version of the matching rules), since its weights would not
    fit the levels compared today."""
    fields = [Field.model_validate(f) for f in found.fields]
    m, u = found.model["m"], found.model["u"]
    if [len(x) for x in m] != [COMPARATORS[f.kind].levels for f in fields]:
        return None
    match = MatchModel(
        fields=[f.column for f in fields],
        m=[np.asarray(x) for x in m],
        u=[np.asarray(x) for x in u],
        prior=float(found.model["prior"]),
    )
    return StoredModel(found.id, fields, match)


def latest_model(workflow: str, kind: str, fields: list[Field]) -> StoredModel | None:
    """The model the last full run fitted on these same fields, if there is one."""
    found = latest_fitted(workflow, kind)
    if found is None or found.fields != [f.model_dump(mode="json") for f in fields]:
        return None
    return _stored(found)


def stored_model(model_id: int) -> StoredModel | None:
    """A model by the id a case recorded: the one that scored its records then."""
    found = fitted_model(model_id)
    return _stored(found) if found is not None else None
