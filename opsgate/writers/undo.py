"""Taking an executed write back, as an action of its own: proposed from the stored undo record,
approved by a person at the gate, and written by the executor like any other write.

The undo is the writer's own `undo`, run in the executor's transaction together with the undo
record's `undone` mark and the audit event, so it happens once or not at all.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import ExecutionError
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.tables import ExecutionRow, ProposalRow, UndoRow
from opsgate.writers.base import Writer


class UndoRequest(BaseModel):
    """The one action an undo writer accepts: take back what that executed proposal wrote."""

    model_config = ConfigDict(extra="forbid")

    proposal_id: str = Field(min_length=1, description="The executed proposal whose write is taken back.")
    target: str = Field(description="What it wrote (table/id), for people; leave as it is.")
    reason: str = Field(min_length=1, description="Why the write is taken back.")


def undo_record(session: Session, proposal_id: str) -> tuple[ExecutionRow, UndoRow]:
    """The execution and undo record of an executed proposal, or why it cannot be undone."""
    execution = session.execute(
        select(ExecutionRow).where(ExecutionRow.proposal_id == proposal_id)
    ).scalar_one_or_none()
    if execution is None:
        raise ExecutionError(f"proposal {proposal_id} was never executed; nothing to undo", retryable=False)
    record = session.execute(
        select(UndoRow).where(UndoRow.idempotency_key == execution.idempotency_key)
    ).scalar_one_or_none()
    if record is None:
        raise ExecutionError(
            f"proposal {proposal_id} wrote an undo, which is not undone in turn; propose the write again instead",
            retryable=False,
        )
    if record.undone_at is not None:
        raise ExecutionError(f"proposal {proposal_id} was already undone by {record.undone_by}", retryable=False)
    return execution, record


class UndoWriter(Writer):
    """The undo of one kind of write (e.g. `payables.reverse` for `payables.post`)."""

    payload_model: ClassVar[type[BaseModel]] = UndoRequest

    def __init__(self, undone: Writer) -> None:
        self.undone = undone
        self.tool = undone.undo_tool  # type: ignore[misc]  # per instance: one undo writer per kind of write
        self.table = undone.table  # type: ignore[misc]
        self.undo_tool = ""  # type: ignore[misc]  # an undo is not undone; the write is proposed again

    def check(self, session: Session, payload: UndoRequest) -> list[str]:
        try:
            execution, _ = undo_record(session, payload.proposal_id)
        except ExecutionError as exc:
            return [str(exc)]
        return (
            []
            if execution.tool == self.undone.tool
            else [f"proposal {payload.proposal_id} wrote {execution.tool}, which {self.tool} does not take back"]
        )

    def apply(self, session: Session, payload: UndoRequest, proposal_id: str) -> str:
        problems = self.check(session, payload)
        if problems:
            raise ExecutionError("; ".join(problems), retryable=False)
        _, record = undo_record(session, payload.proposal_id)
        self.undone.undo(session, record.target_id)
        record.undone_at, record.undone_by = datetime.now(timezone.utc), f"proposal {proposal_id}"
        original = session.get(ProposalRow, payload.proposal_id)
        assert original is not None, "an execution belongs to a proposal"
        audit.append(
            session,
            AuditEvent.UNDONE,
            workflow=original.workflow,
            run_id=original.run_id,
            proposal_id=original.id,
            actor=f"proposal {proposal_id}",
            data={
                "undo": self.tool,
                "target": f"{record.target_table}/{record.target_id}",
                "reason": payload.reason,
                "undo_proposal": proposal_id,
            },
        )
        return record.target_id

    def undo(self, session: Session, target_id: str) -> None:
        raise ExecutionError("an undo is not undone; propose the write again", retryable=False)
