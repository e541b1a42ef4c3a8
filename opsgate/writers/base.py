"""What every writer provides to the executor."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from pydantic import BaseModel
from sqlalchemy.orm import Session


class Writer(Protocol):
    """Applies one approved action to a system of record and knows how to take it back.

    Both methods run inside the executor's transaction; neither commits.
    """

    tool: ClassVar[str]
    undo_tool: ClassVar[str]
    table: ClassVar[str]
    payload_model: ClassVar[type[BaseModel]]

    def apply(self, session: Session, payload: Any, proposal_id: str) -> str:
        """Write and return the id of the written row."""

    def undo(self, session: Session, target_id: str) -> None:
        """Take the write back without deleting history."""
