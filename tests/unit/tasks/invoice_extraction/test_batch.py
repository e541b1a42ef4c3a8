"""Reading a batch through the reader processes: the same results as reading in this process, in
input order, failures named, and the model asked here with what the reader process read."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from opsgate.errors import ConfigurationError
from opsgate.inputs.isolation import MB, Limits
from tasks.invoice_extraction.batch import ReadJob, extract_documents, read_options
from tasks.invoice_extraction.extracting import ReadOptions, extract_document
from tests.support.batches import write_inbox
from tests.support.fake_llm import FakeLlm, llm_configured
from tests.support.pdf_builder import flate_bomb_pdf, image_only_pdf
from tests.support.samples import DE_INVOICE, UK_INVOICE, US_INVOICE

REQUIRED = ("invoice_number", "invoice_date", "currency", "total")
TEXT = "Kestrel Supplies Ltd\nInvoice No: KS-2291\nDate: 14 March 2024\nTotal due GBP 1,200.00\n"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    inbox = write_inbox(
        tmp_path / "inbox",
        {
            "us.pdf": US_INVOICE,
            "de.pdf": DE_INVOICE,
            "scan.pdf": image_only_pdf(),
            "uk.pdf": UK_INVOICE,
            "bad.pdf": b"%PDF-1.7 x",
        },
    )
    (inbox / "note.txt").write_text(TEXT)
    return inbox


def _jobs(paths: list[Path], backend: str = "rules") -> list[ReadJob]:
    return [ReadJob(path, str(path), REQUIRED, read_options(backend)) for path in paths]  # type: ignore[arg-type]


def test_the_isolated_reader_reads_what_this_process_reads_in_input_order(inbox: Path) -> None:
    paths = sorted(inbox.iterdir(), reverse=True)
    done: list[int] = []

    isolated = list(extract_documents(_jobs(paths), progress=done.append))

    assert [r.model_dump() for r in isolated] == [extract_document(p, REQUIRED).model_dump() for p in paths]
    assert [r.inputs for r in isolated] == [extract_document(p, REQUIRED).inputs for p in paths]
    assert done == list(range(1, len(paths) + 1))


def test_a_reader_that_dies_fails_its_document_with_the_reason_and_the_file(tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox", {"bomb.pdf": flate_bomb_pdf(400), "us.pdf": US_INVOICE})
    options = ReadOptions(max_expanded=100_000 * MB)  # past the pre-check: pdfium meets it
    jobs = [ReadJob(inbox / name, f"mail/{name}", REQUIRED, options) for name in ("bomb.pdf", "us.pdf")]

    bomb, us = extract_documents(jobs, limits=Limits(512 * MB, 60, 120, 64 * MB, 1))

    assert (bomb.source, bomb.status, bomb.error) == (
        "mail/bomb.pdf",
        "error",
        "bomb.pdf: reader_crashed: the reader process was killed by SIGABRT",
    )
    assert us.status == "ok" and us.fields.invoice_number == "BOS-24-0317"


def test_an_unknown_required_field_is_a_policy_mistake_raised_here(inbox: Path) -> None:
    with pytest.raises(ConfigurationError, match="amount"):
        list(extract_documents([ReadJob(inbox / "us.pdf", "us.pdf", ("amount",), read_options("rules"))]))


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with llm_configured(monkeypatch):
        yield


def test_the_model_is_asked_in_this_process_with_what_the_reader_read(inbox: Path, configured: None) -> None:
    answer = {
        "document_type": "invoice",
        "vendor_name": "Kestrel Supplies Ltd",
        "invoice_number": "KS-2291",
        "invoice_date": "2024-03-14",
        "currency": "GBP",
        "total": 1200.0,
    }
    fake = FakeLlm(answer)  # its client cannot cross a process boundary: only this process can ask it

    note, bad = extract_documents(_jobs([inbox / "note.txt", inbox / "bad.pdf"], "llm"), client=fake.client())

    assert (note.status, note.fields.invoice_number, note.fields.total) == ("ok", "KS-2291", Decimal("1200.00"))
    assert note.instruction_version.startswith("extract_invoice.v1+") and note.inputs["bytes"] == len(TEXT)
    assert bad.status == "error"
    (request,) = fake.requests
    assert "Invoice No: KS-2291" in request["messages"][1]["content"], "the text the reader process read, quoted"


def test_auto_reads_with_the_rules_in_the_reader_and_asks_the_model_for_the_rest(inbox: Path, configured: None) -> None:
    fake = FakeLlm({"document_type": "invoice", "customer_name": "Acme Analytics", "total": 1200.0})

    (note,) = extract_documents(_jobs([inbox / "note.txt"], "auto"), client=fake.client())

    assert note.fields.customer_name == "Acme Analytics" and note.fields.invoice_number == "KS-2291"
    assert note.instruction_version.startswith("rules-v1+extract_invoice.v1+") and len(fake.requests) == 1
