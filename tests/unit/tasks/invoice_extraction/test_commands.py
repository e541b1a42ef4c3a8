"""`opsgate extract --json`: the output contract scripts rely on (DESIGN.md)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from tasks.invoice_extraction import commands
from tasks.invoice_extraction.commands import _extract_one
from tasks.invoice_extraction.models import Extraction
from tests.support.pdf_builder import text_pdf
from tests.support.samples import US_INVOICE

CONTRACT_FIELDS = {
    "vendor_name", "vendor_address", "vendor_tax_id", "customer_name", "invoice_number", "invoice_date", "due_date",
    "currency", "subtotal", "tax_total", "total", "po_number", "iban", "line_items",
}


def test_one_json_object_per_document_in_input_order(tmp_path: Path) -> None:
    good = tmp_path / "b_invoice.pdf"
    good.write_bytes(text_pdf(US_INVOICE))
    broken = tmp_path / "a_broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    missing = tmp_path / "nowhere.pdf"

    result = CliRunner().invoke(app, ["extract", str(good), str(broken), str(missing), "--json"])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["source"] for line in lines] == [str(good), str(broken), str(missing)]
    assert [line["status"] for line in lines] == ["ok", "error", "error"]
    first = lines[0]
    assert set(first["fields"]) == CONTRACT_FIELDS
    assert first["document_type"] == "invoice"
    assert (first["fields"]["invoice_number"], first["fields"]["invoice_date"], first["fields"]["currency"], first["fields"]["total"]) == (
        "BOS-24-0317", "2024-03-15", "USD", "1222.56",
    )
    assert all(0.0 <= value <= 1.0 for value in first["confidence"].values())
    assert lines[1]["error"] and lines[2]["error"]


READERS = "OPSGATE_TEST_READERS_LOG"  # where each reading process notes its pid (workers inherit the environment)
_met_another_reader = False


def _read_and_note_the_process(path: Path, **options: Any) -> Extraction:
    """The command's own reader, noting which process read ``path``. The first document a process
    reads waits until another process has read one too (30 s at most), so that one fast worker
    cannot take every chunk and the test does not depend on timing."""
    global _met_another_reader
    log = Path(os.environ[READERS])
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 30
    while not _met_another_reader and len(set(log.read_text(encoding="utf-8").split())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    _met_another_reader = True
    return _extract_one(path, **options)


def test_a_large_batch_is_read_in_parallel_and_printed_in_input_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readers = tmp_path / "readers.log"
    monkeypatch.setenv(READERS, str(readers))
    monkeypatch.setattr(commands, "_extract_one", _read_and_note_the_process)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # two workers, whatever this machine has
    paths = []
    for i in range(70):  # above the size from which worker processes are used
        path = tmp_path / f"{69 - i:02d}.txt"  # names in reverse, so input order is not name order
        path.write_text(f"Kestrel Supplies Ltd\nInvoice No: KS-{i:04d}\nDate: 2024-03-14\nTotal due GBP {i + 1}.00\n")
        paths.append(str(path))

    result = CliRunner().invoke(app, ["extract", *paths, "--json"])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["source"] for line in lines] == paths
    assert [line["fields"]["invoice_number"] for line in lines] == [f"KS-{i:04d}" for i in range(70)]
    assert [line["fields"]["total"] for line in lines] == [f"{i + 1}.00" for i in range(70)]
    noted = readers.read_text(encoding="utf-8").split()
    assert len(noted) == 70, "every document is read once"
    assert len(set(noted)) == 2 and str(os.getpid()) not in noted, f"read by processes {sorted(set(noted))}, this one is {os.getpid()}"
