"""The workflow's propose step keeps going when one document trips a bug in the extractor, and
every proposal says which bytes it was proposed from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opsgate import runs
from tasks.invoice_extraction import backends
from tasks.invoice_extraction.steps import list_inbox, propose_postings
from tests.support.batches import write_inbox
from tests.support.pdf_builder import image_only_pdf
from tests.support.samples import US_INVOICE


def test_one_crashing_document_fails_alone(opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = backends.extract_fields

    def fragile(text: str):  # type: ignore[no-untyped-def]
        if "Harrowgate" in text:
            raise IndexError("list index out of range")
        return real(text)

    monkeypatch.setattr(backends, "extract_fields", fragile)
    inbox = write_inbox(tmp_path / "inbox")
    proposals = propose_postings.fn(runs.start_run("invoice_extraction", "test"), list_inbox(inbox))

    by_file = {Path(p.source).name: p for p in proposals}
    assert by_file["uk.pdf"].error is not None and "IndexError" in by_file["uk.pdf"].error
    assert by_file["us.pdf"].tool == by_file["de.pdf"].tool == "payables.post"


def test_every_document_read_is_proposed_with_the_digest_of_its_bytes(opsgate_env: str, tmp_path: Path) -> None:
    """Posted, escalated or failed, a document whose bytes were read names them; an empty file was never read."""
    inbox = write_inbox(tmp_path / "inbox", {"us.pdf": US_INVOICE, "scan.pdf": image_only_pdf(), "bad.pdf": b"%PDF-1.7 nothing else", "empty.pdf": b""})
    proposals = propose_postings.fn(runs.start_run("invoice_extraction", "test"), list_inbox(inbox))

    by_file = {Path(p.source).name: p for p in proposals}
    assert (by_file["us.pdf"].tool, [e.reason for e in by_file["scan.pdf"].escalations], by_file["bad.pdf"].error is not None) == ("payables.post", ["needs_ocr"], True)
    for name in ("us.pdf", "scan.pdf", "bad.pdf"):
        data = (inbox / name).read_bytes()
        assert by_file[name].inputs == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}, name
    assert by_file["empty.pdf"].error is not None and by_file["empty.pdf"].inputs == {}
