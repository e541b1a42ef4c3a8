"""The workflow's propose step keeps going when one document trips a bug in the extractor."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate import runs
from tasks.invoice_extraction import backends
from tasks.invoice_extraction.steps import list_inbox, propose_postings
from tests.support.batches import write_inbox


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
