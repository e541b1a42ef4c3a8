"""What a run of the invoice workflow takes (the CLI's options, the Prefect UI's form), and the
demo's inputs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, model_validator

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "invoices"


class InvoiceParams(BaseModel):
    inbox: Path | None = Field(
        None, description="Folder of invoices, credit notes and receipts (PDF, text, e-invoice XML) to read."
    )
    mailbox: str | None = Field(
        None,
        description="Instead of a folder: a mailbox of the policy's `mailboxes:`, whose messages' attachments are read.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.inbox is None) == (self.mailbox is None):
            raise ValueError("give either --inbox (a folder) or --mailbox (a mailbox named in the policy)")
        return self


def demo_params(scratch: Path) -> InvoiceParams:
    """The sample inbox, copied so the demo never changes the shipped files."""
    inbox = scratch / "inbox"
    shutil.copytree(SAMPLES, inbox, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README*"))
    return InvoiceParams(inbox=inbox)
