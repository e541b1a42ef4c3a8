"""Invoice extraction: read the AP inbox, propose one posting per document, post what is approved.

Trigger: the `invoice-extraction` deployment's schedule (prefect.yaml), `opsgate run invoices
--inbox DIR`, or a run started in the Prefect UI. Proposes: `payables.post` per document, with the
extracted fields and their confidence. May write: the payables ledger, through the executor,
after approval. Policy: policies/invoice_extraction.yaml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect import flow
from pydantic import BaseModel, Field

from opsgate.models import RunSummary
from opsgate.orchestration.gate import gate
from opsgate.orchestration.steps import check_policy, execute, finish_run, start_run
from opsgate.workflows import WorkflowSpec
from tasks.invoice_extraction.commands import extract
from tasks.invoice_extraction.steps import load_invoices, propose_postings

WORKFLOW = "invoice_extraction"
SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "invoices"


class InvoiceParams(BaseModel):
    inbox: Path = Field(description="Folder of invoices, credit notes and receipts (PDF or text) to read.")
    trigger: str | None = Field(default=None, description="Who or what started the run; filled in by the CLI.")


@flow(name="invoice-extraction")
def invoice_extraction(params: InvoiceParams) -> RunSummary:
    """Read the inbox, propose postings, wait for approval, post, and record every step."""
    run = start_run(WORKFLOW, params.model_dump(mode="json"), params.trigger)
    documents = load_invoices(params.inbox)
    proposals = propose_postings(run, documents)
    verdicts = check_policy(run, proposals)
    decisions = gate(run, proposals, verdicts)
    execute(run, decisions)
    return finish_run(run)


def demo_params(scratch: Path) -> InvoiceParams:
    """The sample inbox, copied so the demo never changes the shipped files."""
    inbox = scratch / "inbox"
    shutil.copytree(SAMPLES, inbox, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README*"))
    return InvoiceParams(inbox=inbox, trigger="demo")


SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="invoices",
    flow=invoice_extraction,
    params_model=InvoiceParams,
    summary="Propose postings for the invoices in an inbox; post what is approved.",
    commands=[extract],
    demo_params=demo_params,
)
