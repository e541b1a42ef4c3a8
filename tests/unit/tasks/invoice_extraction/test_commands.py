"""`opsgate extract --json`: the output contract scripts rely on (DESIGN.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.settings import get_settings
from tests.support.pdf_builder import text_pdf
from tests.support.samples import US_INVOICE

CONTRACT_FIELDS = {
    "vendor_name",
    "vendor_address",
    "vendor_tax_id",
    "customer_name",
    "invoice_number",
    "invoice_date",
    "due_date",
    "currency",
    "subtotal",
    "tax_total",
    "total",
    "prepaid",
    "amount_due",
    "po_number",
    "iban",
    "line_items",
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
    assert (
        first["fields"]["invoice_number"],
        first["fields"]["invoice_date"],
        first["fields"]["currency"],
        first["fields"]["total"],
    ) == (
        "BOS-24-0317",
        "2024-03-15",
        "USD",
        "1222.56",
    )
    assert all(0.0 <= value <= 1.0 for value in first["confidence"].values())
    assert lines[1]["error"] and lines[2]["error"]


def test_a_large_batch_is_printed_in_input_order_whatever_order_its_readers_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Two reader processes share the batch (which reads in parallel is the pool's to prove:
    tests/unit/platform/test_isolation.py); the output is still one line per document in input order."""
    monkeypatch.setenv("OPSGATE_READER_WORKERS", "2")
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    paths = []
    for i in range(70):
        path = tmp_path / f"{69 - i:02d}.txt"  # names in reverse, so input order is not name order
        path.write_text(f"Kestrel Supplies Ltd\nInvoice No: KS-{i:04d}\nDate: 2024-03-14\nTotal due GBP {i + 1}.00\n")
        paths.append(str(path))

    result = CliRunner().invoke(app, ["extract", *paths, "--json"])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["source"] for line in lines] == paths
    assert [line["fields"]["invoice_number"] for line in lines] == [f"KS-{i:04d}" for i in range(70)]
    assert [line["fields"]["total"] for line in lines] == [f"{i + 1}.00" for i in range(70)]
