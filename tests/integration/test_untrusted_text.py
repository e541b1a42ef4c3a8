"""A file name and a vendor name written to do harm, through a real invoice run on a real Prefect
server: the run page's artifacts, read back from the server and rendered as Prefect's UI renders
them, show them as text in their own table cells."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from opsgate.governance.answers import answer_for
from opsgate.orchestration.resume import submit
from tests.integration.conftest import wait_for_request
from tests.support.batches import write_inbox
from tests.support.markdown import render
from tests.support.samples import US_INVOICE

EVIL_FILE = "<img src=x onerror=alert(1)>|evil.pdf"
VENDOR = "[conceal]Acme[/conceal] <b>Office</b> | Supply LLC"


def _artifact(key: str) -> Any:
    with get_client(sync_client=True) as client:
        (found,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    return found


def test_the_run_page_shows_file_and_vendor_names_as_text(start_flow, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox", {EVIL_FILE: [VENDOR, *US_INVOICE[1:]]})
    (inbox / "invoice_\u202efdp.exe.pdf").write_bytes(b"")
    run = start_flow(inbox)
    request = wait_for_request()
    assert [p.payload["vendor_name"] for p in request.proposals] == [VENDOR]  # type: ignore[index]

    (shown,) = json.loads(_artifact("invoice-extraction-proposals").data)  # each text cell is Markdown to Prefect's UI
    row = {name: render(cell) for name, cell in shown.items()}
    assert (row["source"].text.strip(), row["vendor_name"].text.strip()) == (str(inbox / EVIL_FILE), VENDOR)
    assert all(cell.acting() == [] for cell in row.values())

    submit(request, answer_for(request, "alice"))
    run.finish()
    summary = render(_artifact("invoice-extraction-summary").data)
    ((header, *rows),) = summary.tables
    assert header == ["source", "status", "detail"] and all(len(r) == 3 for r in rows)
    assert sorted((Path(source).name, status) for source, status, _ in rows) == [
        (EVIL_FILE, "executed"),
        ("invoice_⟨U+202E⟩fdp.exe.pdf", "failed"),
    ]
    assert summary.acting() == []
