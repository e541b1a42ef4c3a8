"""Build real runs, proposals and approval requests in the store without Prefect, for tests of
the platform's plain steps (the gate's Prefect side is covered by the integration tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opsgate.governance import requests, runs
from opsgate.governance.requests import PendingRequest
from opsgate.governance.runs import Run
from opsgate.learning.governing import governing
from opsgate.models import Proposal, Route, Verdict
from tasks.invoice_extraction.extracting import extract_document
from tasks.invoice_extraction.proposing import propose_all
from tasks.invoice_extraction.steps import list_inbox
from tests.support.pdf_builder import text_pdf
from tests.support.samples import DE_INVOICE, UK_INVOICE, US_INVOICE

WORKFLOW = "invoice_extraction"


@dataclass
class Batch:
    run: Run
    proposals: list[Proposal]
    verdicts: list[Verdict]

    def routed(self, route: Route) -> list[Proposal]:
        ids = {v.proposal_id for v in self.verdicts if v.route is route}
        return [p for p in self.proposals if p.id in ids]


def write_inbox(inbox: Path, documents: dict[str, list[str] | bytes] | None = None) -> Path:
    """An inbox of text PDFs (lines) or raw files (bytes); three good invoices by default."""
    inbox.mkdir(parents=True, exist_ok=True)
    documents = (
        documents if documents is not None else {"us.pdf": US_INVOICE, "de.pdf": DE_INVOICE, "uk.pdf": UK_INVOICE}
    )
    for name, content in documents.items():
        (inbox / name).write_bytes(content if isinstance(content, bytes) else text_pdf(content))
    return inbox


def generated_inbox(folder: Path, count: int) -> list[Path]:
    """``count`` text PDFs: the three sample layouts in turn, each with its own invoice number."""
    folder.mkdir(parents=True, exist_ok=True)
    layouts = [US_INVOICE, DE_INVOICE, UK_INVOICE]
    paths = []
    for i in range(count):
        lines = [
            line.replace("0317", f"{i:04d}").replace("0815", f"{i:04d}").replace("1187", f"{i:04d}")
            for line in layouts[i % 3]
        ]
        path = folder / f"invoice-{i:05d}.pdf"
        path.write_bytes(text_pdf(lines))
        paths.append(path)
    return paths


def proposed_batch(inbox: Path, trigger: str = "test") -> Batch:
    """Start a run and propose and route every document of the inbox, as the flow does."""
    run = runs.start_run(governing(WORKFLOW), trigger)
    required = run.policy.escalation.missing_data.fields if run.policy.escalation.missing_data else []
    proposals = propose_all([extract_document(path, required) for path in list_inbox(inbox)], run.policy)
    return Batch(run, proposals, runs.check_policy(run, proposals))


def open_request(batch: Batch, flow_run_id: str = "no-flow-run") -> PendingRequest:
    to_review = batch.routed(Route.APPROVE)
    return requests.open_request(
        batch.run.workflow, batch.run.id, flow_run_id, "test-approval-1", to_review, requests.deadline_in(3600)
    )
