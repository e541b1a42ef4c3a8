"""What a run's page in the Prefect UI shows of documents: the run summary and proposals
artifacts and the approval form, read as Prefect's UI renders them (Markdown, raw HTML allowed).
A file name or a vendor name is shown as it is, never as a link, an image or HTML, keeps the
tables' columns, and shows a hidden bidirectional control as its code point."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from opsgate.governance.requests import PendingRequest
from opsgate.models import Outcome, Proposal, RunSummary, Status
from opsgate.orchestration.artifacts import ROWS_SHOWN, proposal_row, shown_proposals, summary_markdown
from opsgate.orchestration.form import approval_form
from tests.support.markdown import render

EVIL_FILE = "<img src=x onerror=alert(1)>|evil.pdf"
SHORT_EVIL_FILE = "<img src=x onerror=f()>|e.pdf"  # the form shows the last 32 characters of a source
DISGUISED = "invoice_\u202efdp.exe"
VENDOR = "[A](http://e.example) <b>B</b> **C**"  # short enough for the form to show whole


def _proposal(source: str) -> Proposal:
    payload = {
        "vendor_name": VENDOR,
        "invoice_number": "A|1",
        "invoice_date": "2024-03-15",
        "currency": "EUR",
        "total": "10.00",
        "source": source,
    }
    return Proposal(
        workflow="invoice_extraction",
        source=source,
        case_type="invoice",
        tool="payables.post",
        payload=payload,
        summary=f"{VENDOR} · A|1",
        confidence={"vendor_name": 0.5},
        instruction_version="rules-v1",
    )


def test_the_run_summary_shows_file_names_as_text_in_their_own_cells() -> None:
    summary = RunSummary(
        run_id="r",
        workflow="invoice_extraction",
        counts={"failed": 2},
        outcomes=[
            Outcome(
                proposal_id="a",
                source=EVIL_FILE,
                status=Status.FAILED,
                detail="not a PDF | [click](https://evil.example)\nsecond line",
            ),
            Outcome(proposal_id="b", source=DISGUISED, status=Status.FAILED, detail="empty"),
        ],
    )
    rendered = render(summary_markdown(summary))
    assert rendered.tables == [
        [
            ["source", "status", "detail"],
            [EVIL_FILE, "failed", "not a PDF | [click](https://evil.example) second line"],
            ["invoice_⟨U+202E⟩fdp.exe", "failed", "empty"],
        ]
    ]
    assert rendered.acting() == []


def test_the_proposals_table_cells_show_their_values_as_text() -> None:
    row = proposal_row(_proposal(EVIL_FILE))
    assert row["source"] != EVIL_FILE, "Prefect's UI renders each text cell as Markdown"
    shown = {name: render(cell) for name, cell in row.items()}
    assert {
        name: r.text.strip() for name, r in shown.items() if name in ("source", "vendor_name", "invoice_number")
    } == {
        "source": EVIL_FILE,
        "vendor_name": VENDOR,
        "invoice_number": "A|1",
    }
    assert all(r.acting() == [] for r in shown.values())


def test_the_approval_form_shows_document_text_as_text() -> None:
    request = PendingRequest(
        id=1,
        flow_run_id="f",
        pause_key="k",
        workflow="invoice_extraction",
        digest="d",
        proposals=[_proposal(SHORT_EVIL_FILE), _proposal(DISGUISED)],
        statuses={},
        requested_at=datetime(2026, 11, 16, tzinfo=UTC),
        deadline=datetime(2026, 11, 16, 8, tzinfo=UTC),
    )
    form = approval_form(request)
    rendered = render(form._description)  # type: ignore[attr-defined]
    ((header, *rows),) = rendered.tables
    assert len(header) == 7 and all(len(row) == 7 for row in rows), "a pipe in a value must not add a column"
    assert [row[1] for row in rows] == [SHORT_EVIL_FILE, "invoice_⟨U+202E⟩fdp.exe"]
    assert all(f"vendor_name: {VENDOR}" in row[3] and row[5] == f"{VENDOR} · A|1" for row in rows)
    assert rendered.acting() == []

    reviews = form.model_json_schema()["properties"]["reviews"]["prefixItems"]
    for review in reviews:
        notes = render(review["properties"]["source"]["description"])
        assert VENDOR in notes.text and notes.acting() == []
    assert [r.source for r in form(approver="alice").reviews] == [SHORT_EVIL_FILE, "invoice_⟨U+202E⟩fdp.exe"]  # type: ignore[attr-defined]


def test_the_approval_form_bounds_what_an_answer_may_carry() -> None:
    """Prefect checks a resume against this schema before the run sees it: names without control or
    bidirectional characters and at most 100 long, edited texts no longer than the ledger holds."""
    request = PendingRequest(
        id=1,
        flow_run_id="f",
        pause_key="k",
        workflow="invoice_extraction",
        digest="d",
        proposals=[_proposal(SHORT_EVIL_FILE)],
        statuses={},
        requested_at=datetime(2026, 11, 16, tzinfo=UTC),
        deadline=datetime(2026, 11, 16, 8, tzinfo=UTC),
    )
    schema = approval_form(request).model_json_schema()
    approver = schema["properties"]["approver"]
    assert approver["maxLength"] == 100
    pattern = re.compile(approver["pattern"])
    assert pattern.match("Olga Müller") and not any(
        pattern.match(name) for name in ("ali\x1bce", "ali\u202ece", "a\u200bb", "a\nb")
    )
    review = schema["$defs"][schema["properties"]["reviews"]["prefixItems"][0]["$ref"].rsplit("/", 1)[-1]]
    values = review["properties"]["fields"]["properties"]
    assert (
        values["vendor_name"]["maxLength"],
        values["invoice_number"]["maxLength"],
        values["currency"]["maxLength"],
    ) == (300, 100, 10_000)
    assert review["properties"]["fields"]["maxProperties"] == 200


def test_a_large_run_summary_shows_what_did_not_go_through_first_and_points_to_the_rest() -> None:
    outcomes = [
        Outcome(proposal_id=f"p{i}", source=f"inv-{i:05d}.pdf", status=Status.EXECUTED, detail="written")
        for i in range(1000)
    ]
    outcomes[700] = Outcome(proposal_id="p700", source="inv-00700.pdf", status=Status.FAILED, detail="reset")
    summary = RunSummary(run_id="run-1", workflow="invoice_extraction", counts={}, outcomes=outcomes)
    rendered = render(summary_markdown(summary))
    (table,) = rendered.tables
    assert len(table) == 1 + ROWS_SHOWN
    assert table[1] == ["inv-00700.pdf", "failed", "reset"], "what did not go through comes first"
    assert table[2][0] == "inv-00000.pdf" and table[-1][0] == f"inv-{ROWS_SHOWN - 2:05d}.pdf"
    assert f"… and {1000 - ROWS_SHOWN} more: opsgate runs show run-1" in rendered.text


def test_a_large_batch_shows_its_least_surely_read_proposals() -> None:
    proposals = [_proposal(f"inv-{i:05d}.pdf") for i in range(1000)]
    for i, proposal in enumerate(proposals):
        proposal.confidence = {"vendor_name": 0.5 + (i % 500) / 1000}
    shown = shown_proposals(proposals)
    assert len(shown) == ROWS_SHOWN
    assert max(_surest_of(p) for p in shown) < min(_surest_of(p) for p in proposals if p not in shown) + 1e-9
    assert shown_proposals(proposals[:3]) == proposals[:3], "a small batch is shown whole, in order"


def _surest_of(proposal: Proposal) -> float:
    return min(proposal.confidence.values())
