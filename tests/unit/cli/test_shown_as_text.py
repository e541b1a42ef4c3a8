"""The terminal shows what documents, files and people wrote as it is: a vendor called
`[conceal]Acme[/conceal]` prints those brackets (rich would hide the name), and a bidirectional
control in a file or vendor name shows as its code point. The commands run as a person runs them,
through the CLI, on real stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.governance import runs
from tests.support.batches import open_request, proposed_batch, write_inbox
from tests.support.records import company_records, write_csv
from tests.support.samples import US_INVOICE

VENDORS = [
    "[conceal]Acme[/conceal] Office Supply LLC",
    "[red]Acme[/red] Office Supply LLC",
    "[link=www.evil.example]Acme[/link] Office Supply LLC",
]
EVIL_FILE = "<img src=x onerror=alert(1)>|evil.pdf"
DISGUISED = "invoice_\u202efdp.exe.pdf"
WIDE = {"COLUMNS": "400"}  # no table cell wraps, so each value can be found whole on its line


def _show(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=WIDE)
    assert result.exit_code == 0, result.output
    assert "\u202e" not in result.output, "a bidirectional control reached the terminal as it is"
    return result.stdout


@pytest.mark.parametrize("vendor", VENDORS)
def test_approvals_and_runs_show_vendor_and_file_names_as_they_are(
    opsgate_env: str, tmp_path: Path, vendor: str
) -> None:
    inbox = write_inbox(tmp_path / "inbox", {"us.pdf": [vendor, *US_INVOICE[1:]], EVIL_FILE: b"", DISGUISED: b""})
    batch = proposed_batch(inbox)
    request = open_request(batch)

    shown = _show("approvals", "show", request.flow_run_id)
    assert f'"vendor_name": "{vendor}"' in shown  # the payload
    assert any(vendor in line and "us.pdf" in line for line in shown.splitlines())  # the table's action

    runs.finish_run(batch.run)
    cases = {
        line.split("│")[2].strip(): line
        for line in _show("runs", "show", batch.run.id).splitlines()
        if line.count("│") == 5
    }
    assert set(cases) == {"us.pdf", EVIL_FILE, "invoice_⟨U+202E⟩fdp.exe.pdf"}
    assert vendor in cases["us.pdf"]
    trail = _show("audit", "show", "--run", batch.run.id)
    assert EVIL_FILE in trail and "invoice_⟨U+202E⟩fdp.exe.pdf" in trail


def test_an_error_message_shows_what_was_typed_as_it_is(opsgate_env: str) -> None:
    result = CliRunner().invoke(app, ["runs", "show", "[red]x[/red]"], env=WIDE)
    assert result.exit_code == 2 and "no single run matches '[red]x[/red]'" in result.output


def test_the_extract_table_shows_the_vendor_as_it_is(tmp_path: Path) -> None:
    documents = []
    for n, vendor in enumerate([*VENDORS, "Acme \u202eOffice\u202c Supply LLC"]):
        documents.append(tmp_path / f"invoice{n}.txt")
        documents[-1].write_text("\n".join([vendor, *US_INVOICE[1:]]), encoding="utf-8")

    lines = _show("extract", *map(str, documents)).splitlines()
    for vendor, document in zip(VENDORS, documents, strict=False):
        (row,) = [line for line in lines if str(document) in line]
        assert vendor in row and "│ ok " in row
    (disguised,) = [line for line in lines if str(documents[-1]) in line]
    assert "Acme ⟨U+202E⟩Office⟨U+202C⟩ Supply LLC" in disguised and "│ escalated " in disguised
    assert "failed_check (vendor_name)" in disguised


def test_the_dedupe_table_shows_ids_from_the_file_as_they_are(tmp_path: Path) -> None:
    rows, _ = company_records()
    renamed = {"d1": "[conceal]d1[/conceal]", "d2": "d\u202e2"}
    path = write_csv(tmp_path / "companies.csv", [{**row, "id": renamed.get(row["id"], row["id"])} for row in rows])
    shown = _show("dedupe", str(path), "--id-column", "id")
    assert "[conceal]d1[/conceal]" in shown and "d⟨U+202E⟩2" in shown
