"""What the invoice workflow is, for the platform: its name, where its flow, parameters, commands,
sample inputs and hooks live.

Names only, no imports of its own: `opsgate --help` and `opsgate policy check` read every
workflow's spec, and load what a spec names only when it is used.
"""

from __future__ import annotations

from opsgate import Command, WorkflowSpec

WORKFLOW = "invoice_extraction"

SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="invoices",
    summary="Propose postings for the invoices in an inbox folder or an AP mailbox; post what is approved.",
    flow="flows.invoice_extraction:invoice_extraction",
    params_model="tasks.invoice_extraction.params:InvoiceParams",
    commands=(
        Command(
            "extract",
            "tasks.invoice_extraction.commands:extract",
            "Extract invoice fields from documents. No writes, no server.",
        ),
        Command(
            "history",
            "tasks.invoice_extraction.history_commands:history",
            "Learning from approved history: import past documents, show what was learnt.",
        ),
    ),
    demo_params="tasks.invoice_extraction.params:demo_params",
    compare_outcomes="tasks.invoice_extraction.outcomes:compare_outcomes",
    replay="tasks.invoice_extraction.replay:replay",
)
