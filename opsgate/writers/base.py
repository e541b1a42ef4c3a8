"""What every writer provides to the executor."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy.orm import Session


class Writer(ABC):
    """Applies one approved action to a system of record and knows how to take it back.

    Every method runs inside the caller's transaction; none commits.
    """

    tool: ClassVar[str]
    undo_tool: ClassVar[str]
    table: ClassVar[str]
    payload_model: ClassVar[type[BaseModel]]
    # Fields that say what the action is about, not what it does (the request a ticket is for): an
    # approver who edits one is refused at the gate, so an edit cannot point an approval at another thing.
    fixed: ClassVar[frozenset[str]] = frozenset()

    def check(self, session: Session, payload: Any) -> list[str]:
        """Why this action cannot be written, as far as the store can tell before it is approved
        (the gate refuses such an approval, so the approver can fix it while the run waits)."""
        return []

    @abstractmethod
    def apply(self, session: Session, payload: Any, proposal_id: str) -> str:
        """Write and return the id of the written row."""

    @abstractmethod
    def undo(self, session: Session, target_id: str) -> None:
        """Take the write back without deleting history."""
