"""Changing a case type's autonomy: a promotion the workflow's owner approved at the gate, taken
back by revoking it (the mode before it is in force again)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from opsgate.errors import ExecutionError
from opsgate.store.tables import AutonomyGrantRow
from opsgate.writers.base import Writer


class AutonomyChange(BaseModel):
    """The one action the autonomy writer accepts: this case type now runs in this mode."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1)
    case_type: str = Field(min_length=1)
    mode: Literal["auto", "reviewed"]
    reason: str = Field(min_length=1)
    evidence: dict[str, Any] = Field(
        default_factory=dict, description="The figures the change rests on; leave as they are."
    )


class AutonomyGrant(Writer):
    tool: ClassVar[str] = "autonomy.grant"
    undo_tool: ClassVar[str] = "autonomy.revoke"
    table: ClassVar[str] = "autonomy_grants"
    payload_model: ClassVar[type[BaseModel]] = AutonomyChange

    def apply(self, session: Session, payload: AutonomyChange, proposal_id: str) -> str:
        row = AutonomyGrantRow(
            workflow=payload.workflow,
            case_type=payload.case_type,
            mode=payload.mode,
            reason=payload.reason,
            evidence=payload.evidence,
            proposal_id=proposal_id,
        )
        session.add(row)
        session.flush()
        return str(row.id)

    def undo(self, session: Session, target_id: str) -> None:
        row = session.get(AutonomyGrantRow, int(target_id), with_for_update=True)
        if row is None or row.status != "in_force":
            raise ExecutionError(f"autonomy grant {target_id} is not in force; nothing to revoke", retryable=False)
        row.status = "revoked"
