"""The workflow's read and propose steps keep going when one document kills its reader, and every
proposal says which bytes it was proposed from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opsgate.governance import runs
from opsgate.learning.governing import governing
from opsgate.models import Proposal
from opsgate.settings import get_settings
from tasks.invoice_extraction.batch import read_options
from tasks.invoice_extraction.steps import list_inbox, propose_postings, read_documents
from tests.support.batches import write_inbox
from tests.support.pdf_builder import flate_bomb_pdf, image_only_pdf
from tests.support.samples import DE_INVOICE, US_INVOICE


def _proposed(inbox: Path) -> list[Proposal]:
    """The inbox read and proposed by the flow's steps, in this process, outside Prefect."""
    run = runs.start_run(governing("invoice_extraction"), "test")
    missing_data = run.policy.escalation.missing_data
    required = tuple(missing_data.fields if missing_data else ())
    return propose_postings.fn(run, read_documents.fn(list_inbox(inbox), required, read_options()))


def test_a_document_that_kills_its_reader_fails_alone(
    opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the pre-check's budget out of the way, pdfium itself meets the bomb in a reader process
    capped at 600 MB: that process dies, the document fails with how, the others are proposed."""
    monkeypatch.setenv("OPSGATE_READER_MAX_EXPANDED_MB", "100000")
    monkeypatch.setenv("OPSGATE_READER_MEMORY_MB", "600")
    get_settings.cache_clear()
    inbox = write_inbox(
        tmp_path / "inbox", {"us.pdf": US_INVOICE, "bomb.pdf": flate_bomb_pdf(400), "de.pdf": DE_INVOICE}
    )
    proposals = _proposed(inbox)

    by_file = {Path(p.source).name: p for p in proposals}
    assert (
        by_file["bomb.pdf"].error is not None
        and "bomb.pdf: reader_crashed: the reader process was killed by SIGABRT" in by_file["bomb.pdf"].error
    )
    assert by_file["us.pdf"].tool == by_file["de.pdf"].tool == "payables.post"


def test_every_document_read_is_proposed_with_the_digest_of_its_bytes(opsgate_env: str, tmp_path: Path) -> None:
    """Posted, escalated or failed, a document whose bytes were read names them; an empty file was never read."""
    inbox = write_inbox(
        tmp_path / "inbox",
        {"us.pdf": US_INVOICE, "scan.pdf": image_only_pdf(), "bad.pdf": b"%PDF-1.7 nothing else", "empty.pdf": b""},
    )
    proposals = _proposed(inbox)

    by_file = {Path(p.source).name: p for p in proposals}
    assert (
        by_file["us.pdf"].tool,
        [e.reason for e in by_file["scan.pdf"].escalations],
        by_file["bad.pdf"].error is not None,
    ) == ("payables.post", ["needs_ocr"], True)
    for name in ("us.pdf", "scan.pdf", "bad.pdf"):
        data = (inbox / name).read_bytes()
        assert by_file[name].inputs == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}, name
    assert by_file["empty.pdf"].error is not None and by_file["empty.pdf"].inputs == {}
