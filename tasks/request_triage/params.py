"""What a run of the triage workflow takes (the CLI's options, the Prefect UI's form)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, model_validator


class TriageParams(BaseModel):
    input: Path | None = Field(
        None,
        description="Requests to read: an .eml, mbox, .txt or CSV/JSON-lines file, or a folder of them.",
    )
    mailbox: str | None = Field(
        None, description="Instead of files: a mailbox of the policy's `mailboxes:`, whose new messages are read."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.input is None) == (self.mailbox is None):
            raise ValueError(
                "give either --input (a file or folder of requests) or --mailbox (a mailbox named in the policy)"
            )
        return self
