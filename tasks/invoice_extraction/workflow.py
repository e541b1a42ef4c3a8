"""What the invoice workflow is, for the CLI and the demo: its name, parameters, commands, sample
inputs, and where its flow lives.

Kept apart from the flow module so that reading it imports nothing heavy: `opsgate extract` and
`opsgate policy ...` start in well under a second, and Prefect loads only when a run starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel, Field

from opsgate.workflows import WorkflowSpec
from tasks.invoice_extraction.commands import extract
from tasks.invoice_extraction.history_commands import history
from tasks.invoice_extraction.outcomes import compare_outcomes
from tasks.invoice_extraction.replay import replay

WORKFLOW = "invoice_extraction"
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "invoices"


class InvoiceParams(BaseModel):
    inbox: Path = Field(description="Folder of invoices, credit notes and receipts (PDF, text, e-invoice XML) to read.")


def demo_params(scratch: Path) -> InvoiceParams:
    """The sample inbox, copied so the demo never changes the shipped files."""
    inbox = scratch / "inbox"
    shutil.copytree(SAMPLES, inbox, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README*"))
    return InvoiceParams(inbox=inbox)


SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="invoices",
    flow="flows.invoice_extraction:invoice_extraction",
    params_model=InvoiceParams,
    summary="Propose postings for the invoices in an inbox; post what is approved.",
    commands=[extract, history],
    demo_params=demo_params,
    compare_outcomes=compare_outcomes,
    replay=replay,
)
