"""Merging master records into a survivor, and taking a merge back.

A merge marks records as merged into the survivor and gives the survivor the merged values; it
never deletes a record. Its row in ``record_merges`` keeps the survivor's before and after images
and the records folded in, so undo restores exactly what was there, and refuses when someone has
changed the records since (an undo must not overwrite later work).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import ExecutionError
from opsgate.models import digest
from opsgate.store.tables import RecordMergeRow, RecordRow
from opsgate.writers.base import Writer

MAX_CHAIN = 1000  # merged_into chains longer than this mean a cycle: a corrupt store, not a merge


class RecordMerge(BaseModel):
    """The one action the records writer accepts: fold these records into the survivor."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, description="The record set: customers, vendors, people.")
    survivor: str = Field(min_length=1, max_length=200, description="Id of the record that stays.")
    duplicates: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1, description="Ids of the records merged into the survivor."
    )
    values: dict[str, Annotated[str, StringConstraints(max_length=10_000)]] = Field(
        default_factory=dict, description="The merged record's values; columns not named keep the survivor's."
    )


def lock_records(session: Session, kind: str, external_ids: list[str]) -> dict[str, RecordRow]:
    """The listed records, locked until the transaction ends, in one order for every writer, so
    two merges over the same records run one after the other instead of losing an update."""
    rows = (
        session.execute(
            select(RecordRow)
            .where(RecordRow.kind == kind, RecordRow.external_id.in_(external_ids))
            .order_by(RecordRow.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    found = {row.external_id: row for row in rows}
    missing = [external_id for external_id in external_ids if external_id not in found]
    if missing:
        raise ExecutionError(f"no {kind} record {', '.join(map(repr, missing))}", retryable=False)
    return found


def live_root(session: Session, row: RecordRow) -> RecordRow:
    """The record this one ends up in after every merge so far (itself when it is live)."""
    for _ in range(MAX_CHAIN):
        if row.merged_into is None:
            return row
        parent = session.get(RecordRow, row.merged_into, with_for_update=True)
        assert parent is not None, "merged_into is a foreign key"
        row = parent
    raise ExecutionError(f"record {row.external_id!r}: merged_into forms a cycle", retryable=False)


def set_data(row: RecordRow, data: dict[str, str]) -> None:
    row.data = data
    row.data_digest = digest(data)


class RecordsMerge(Writer):
    tool: ClassVar[str] = "records.merge"
    undo_tool: ClassVar[str] = "records.unmerge"
    table: ClassVar[str] = "record_merges"
    payload_model: ClassVar[type[BaseModel]] = RecordMerge

    def apply(self, session: Session, payload: RecordMerge, proposal_id: str) -> str:
        """Merge what is still live. A record an earlier merge folded into the same survivor is
        already where it belongs (when all are, the merge is recorded with nothing folded in and
        the survivor unchanged: the approved outcome holds). One merged elsewhere is a conflict a
        person must resolve."""
        rows = lock_records(session, payload.kind, sorted({payload.survivor, *payload.duplicates}))
        survivor = live_root(session, rows[payload.survivor])
        listed = [rows[external_id] for external_id in payload.duplicates]
        roots = {row.id: live_root(session, row) for row in listed}
        folding = {root.id: root for root in roots.values() if root.id != survivor.id}
        for row in listed:
            root = roots[row.id]
            if root.id != survivor.id and root.id != row.id and root.external_id not in payload.duplicates:
                raise ExecutionError(
                    f"{payload.kind} record {row.external_id!r} is already merged into {root.external_id!r}, not into {survivor.external_id!r}; "
                    "undo that merge first or leave the record out",
                    retryable=False,
                )
        before = dict(survivor.data)
        if folding:
            for row in folding.values():
                row.merged_into = survivor.id
            set_data(survivor, {**before, **payload.values})
        merge = RecordMergeRow(
            kind=payload.kind,
            survivor_id=survivor.id,
            merged_ids=sorted(folding),
            survivor_before=before,
            survivor_after=dict(survivor.data),
            proposal_id=proposal_id,
        )
        session.add(merge)
        session.flush()
        return str(merge.id)

    def undo(self, session: Session, target_id: str) -> None:
        merge = session.get(RecordMergeRow, int(target_id), with_for_update=True)
        if merge is None or merge.status != "merged":
            raise ExecutionError(f"record merge {target_id} is not in force; nothing to undo", retryable=False)
        survivor = session.get(RecordRow, merge.survivor_id)
        assert survivor is not None
        if survivor.data != merge.survivor_after:
            raise ExecutionError(
                f"{merge.kind} record {survivor.external_id!r} changed after the merge; undoing would overwrite that change, so it is left to a person",
                retryable=False,
            )
        folded = [session.get(RecordRow, record_id) for record_id in merge.merged_ids]
        moved = [row.external_id for row in folded if row is None or row.merged_into != merge.survivor_id]  # type: ignore[union-attr]
        if moved:
            raise ExecutionError(
                f"records {', '.join(moved)} no longer point at {survivor.external_id!r}; undo the later merge first",
                retryable=False,
            )
        for row in folded:
            row.merged_into = None  # type: ignore[union-attr]
        set_data(survivor, dict(merge.survivor_before))
        merge.status = "undone"
