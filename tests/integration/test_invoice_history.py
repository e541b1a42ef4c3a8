"""Learning from approved history through the real flow, Prefect server and store: a total the
approver corrected on a vendor's first statement is where the second statement is read, and the
rules' other reading is shown with it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from opsgate.governance.answers import answer_for
from opsgate.orchestration.resume import submit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, PayableRow
from tests.integration.conftest import wait_for_request
from tests.unit.tasks.invoice_extraction.test_memory import statement


def _inbox(folder: Path, name: str, text: str) -> Path:
    folder.mkdir()
    (folder / name).write_text(text)
    return folder


def test_a_correction_at_the_gate_is_how_the_vendors_next_statement_is_read(start_flow, tmp_path: Path) -> None:
    first = _inbox(
        tmp_path / "monday",
        "kestrel-0150.txt",
        statement(
            "KS/2024/0150", "07/06/2024", ["Invoice No: KS-0150", "Total goods     60.00", "Carriage   15.20"], "75.20"
        ),
    )
    run = start_flow(first)
    request = wait_for_request()
    [proposal] = request.proposals
    assert (
        proposal.payload is not None and proposal.payload["total"] == "60.00"
    )  # the rules take "Total goods" for the total
    submit(request, answer_for(request, "alice", edits={proposal.id: {"total": "75.20"}}))
    assert run.finish().counts == {"executed": 1}

    second = _inbox(
        tmp_path / "tuesday",
        "kestrel-0161.txt",
        statement(
            "KS/2024/0161", "21/06/2024", ["Invoice No: KS-0161", "Total goods     40.00", "Carriage   12.10"], "52.10"
        ),
    )
    run = start_flow(second)
    request = wait_for_request(exclude={request.id})
    [proposal] = request.proposals
    assert proposal.payload is not None and proposal.payload["total"] == "52.10"
    assert proposal.confidence["total"] == 0.6
    shown = proposal.escalations  # the store keeps a case's notices with its reasons: what the approval form shows
    assert [n.field for n in shown] == ["total"] and "the rules read 40.00" in shown[0].detail
    submit(request, answer_for(request, "lena"))  # a vendor paid before: a small_known_vendor case, for the leads
    assert run.finish().counts == {"executed": 1}

    with transaction() as session:
        totals = sorted(str(p.total) for p in session.execute(select(PayableRow)).scalars())
        proposed = session.execute(
            select(AuditRow).where(AuditRow.event == "proposed", AuditRow.proposal_id == proposal.id)
        ).scalar_one()
        told = session.execute(
            select(AuditRow).where(AuditRow.event == "escalated", AuditRow.proposal_id == proposal.id)
        ).scalar_one()
    assert totals == ["52.10", "75.20"]
    assert (
        proposed.data["inputs"]["memory"].startswith("history.1+")
        and proposed.data["instruction_version"] == "rules-v1"
    )
    assert told.data["case_goes_on"] is True and [r["field"] for r in told.data["reasons"]] == ["total"]
