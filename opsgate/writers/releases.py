"""Letting a new instruction version propose live: a release the workflow's owner approved at the
gate, on the evidence of a replay; taken back by withdrawing it (its cases are shadowed again)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from opsgate.errors import ExecutionError
from opsgate.store.tables import InstructionReleaseRow
from opsgate.writers.base import Writer


class Release(BaseModel):
    """The one action the release writer accepts: this version may now propose live."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1)
    version: str = Field(min_length=1, description="The instruction version, exactly as its proposals carry it.")
    reason: str = Field(min_length=1)
    evidence: dict[str, Any] = Field(
        default_factory=dict, description="The replay's figures the release rests on; leave as they are."
    )


class InstructionRelease(Writer):
    tool: ClassVar[str] = "instructions.release"
    undo_tool: ClassVar[str] = "instructions.withdraw"
    table: ClassVar[str] = "instruction_releases"
    payload_model: ClassVar[type[BaseModel]] = Release

    def apply(self, session: Session, payload: Release, proposal_id: str) -> str:
        row = InstructionReleaseRow(
            workflow=payload.workflow,
            version=payload.version,
            reason=payload.reason,
            evidence=payload.evidence,
            proposal_id=proposal_id,
        )
        session.add(row)
        session.flush()
        return str(row.id)

    def undo(self, session: Session, target_id: str) -> None:
        row = session.get(InstructionReleaseRow, int(target_id), with_for_update=True)
        if row is None or row.status != "in_force":
            raise ExecutionError(f"release {target_id} is not in force; nothing to withdraw", retryable=False)
        row.status = "withdrawn"
