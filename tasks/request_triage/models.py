"""What triage reads and what it proposes, as the JSON contract of `opsgate triage --json` has them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgate import Escalation


class Attachment(BaseModel):
    """A file that came with a request: kept for whoever handles it, never read by triage."""

    filename: str
    content_type: str
    size: int


class InboundRequest(BaseModel):
    """One request as read from its source: the text people wrote, and where it came from."""

    source: str
    id: str
    text: str = ""
    subject: str = ""
    sender: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    context: dict[str, str] = Field(
        default_factory=dict, description="Other columns of a ticket export, kept as they are."
    )
    error: str | None = Field(None, description="Why the request could not be read; it then ends as an error.")


class Triage(BaseModel):
    """The proposal for one request: where it goes, how urgent it is, and what the router needs."""

    source: str
    id: str
    status: Literal["ok", "escalated", "error"]
    queue: str | None = None
    priority: Literal["high", "normal", "low"] | None = None
    language: str | None = None
    confidence: float | None = Field(
        None, description="The queue's calibrated probability; null when no queue is given (out of scope, an error)."
    )
    entities: dict[str, list[Any]] = Field(default_factory=dict)
    note: str = ""
    escalations: list[Escalation] = Field(default_factory=list)
    reasons: dict[str, list[str]] = Field(
        default_factory=dict, description="Why each value was proposed, per field: the words that weighed."
    )
    instruction_version: str | None = None
    error: str | None = None

    def contract(self) -> dict[str, Any]:
        """The object `opsgate triage --json` prints, in the documented shape."""
        return {
            "source": self.source,
            "id": self.id,
            "status": self.status,
            "queue": self.queue,
            "priority": self.priority,
            "language": self.language,
            "confidence": self.confidence,
            "entities": self.entities,
            "note": self.note,
            "escalations": [{"reason": str(e.reason), "detail": e.detail} for e in self.escalations],
            "reasons": self.reasons,
            "instruction_version": self.instruction_version,
            "error": self.error,
        }
