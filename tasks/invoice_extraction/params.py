"""What a run of the invoice workflow takes (the CLI's options, the Prefect UI's form), and the
demo's inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel, Field

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "invoices"


class InvoiceParams(BaseModel):
    inbox: Path = Field(description="Folder of invoices, credit notes and receipts (PDF, text, e-invoice XML) to read.")


def demo_params(scratch: Path) -> InvoiceParams:
    """The sample inbox, copied so the demo never changes the shipped files."""
    inbox = scratch / "inbox"
    shutil.copytree(SAMPLES, inbox, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README*"))
    return InvoiceParams(inbox=inbox)
