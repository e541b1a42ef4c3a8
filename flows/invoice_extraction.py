"""Invoice extraction: read the AP inbox, propose one posting per document, post what is approved.

Trigger: the `invoice-extraction` deployment's schedule (prefect.yaml), `opsgate run invoices
--inbox DIR` or `--mailbox NAME` (the attachments of an AP mailbox named in the policy), or a run
started in the Prefect UI (its spec: tasks/invoice_extraction/workflow.py). Proposes:
`payables.post` per document, with the extracted fields and their confidence. May write: the
payables ledger, through the executor, after approval. Policy: policies/invoice_extraction.yaml.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsgate import RunSummary, check_policy, execute, finish_run, gate, settle_mailbox, start_run
from tasks.invoice_extraction.params import InvoiceParams
from tasks.invoice_extraction.steps import load_invoices, propose_postings, read_invoices, take_documents
from tasks.invoice_extraction.workflow import WORKFLOW


@flow(name="invoice-extraction")
def invoice_extraction(params: InvoiceParams) -> State[RunSummary]:
    """Read the inbox, propose postings, wait for approval, post, and record every step."""
    run = start_run(WORKFLOW, params.model_dump(mode="json"), resumable=True)
    if run.resumed:  # suspended at the gate and started again once answered: its cases are in the store
        decisions = gate(run)
    else:
        if params.mailbox is not None:
            documents = take_documents(run, params.mailbox)
        else:
            assert params.inbox is not None
            documents = load_invoices(run, params.inbox)
        proposals = propose_postings(run, read_invoices(run, documents))
        decisions = gate(run, proposals, check_policy(run, proposals))
    execute(run, decisions)
    if params.mailbox is not None:
        settle_mailbox(run, params.mailbox)
    return finish_run(run)
