"""The invoice workflow end to end through its gate, on a real Prefect server and real stores:
one test per gate path (approve, reject, edit, auto, timeout) and the ways around it."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run
from sqlalchemy import select

from opsgate.governance.answers import answer_for
from opsgate.models import Status
from opsgate.orchestration.resume import submit, wait_until_resumable
from opsgate.settings import get_settings
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, CorrectionRow, PayableRow, ProposalRow
from tests.integration.conftest import payables_count, wait_for_request, wait_for_the_next_request
from tests.support.batches import write_inbox
from tests.support.pdf_builder import image_only_pdf
from tests.support.policies import use_policy_variant
from tests.support.samples import INJECTION_INVOICE, INJECTION_SENTENCE


def _events(event: str) -> list[AuditRow]:
    with transaction() as session:
        return list(session.execute(select(AuditRow).where(AuditRow.event == event).order_by(AuditRow.seq)).scalars())


def _flow_run_state_name(flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
        return state.name if state else "none"


def _flow_run_state(flow_run_id: str) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
        return state.type.value if state else "none"


def test_run_pauses_writes_nothing_then_approve_writes_each_once(start_flow, tmp_path: Path) -> None:
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    wait_until_resumable(request)

    assert _flow_run_state(request.flow_run_id) == "PAUSED"
    assert len(request.proposals) == 3
    assert payables_count() == 0, "nothing may be written while the run waits at the gate"

    submit(request, answer_for(request, "alice"))
    summary = run.finish()

    assert summary.counts == {"executed": 3}
    with transaction() as session:
        rows = session.execute(select(PayableRow)).scalars().all()
    assert sorted(r.invoice_number for r in rows) == ["BOS-24-0317", "HPD-1187", "NT-2024-0815"]
    assert {e.data["approval"]["approver"] for e in _events("executed")} == {"alice"}
    assert _flow_run_state(request.flow_run_id) == "COMPLETED"


def test_reject_writes_nothing_and_keeps_the_reason(start_flow, tmp_path: Path) -> None:
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    reason = "vendor contract under dispute"
    submit(request, answer_for(request, "bob", {p.id: reason for p in request.proposals}))
    summary = run.finish()

    assert summary.counts == {"rejected": 3}
    assert payables_count() == 0
    rejected = _events("rejected")
    assert (
        len(rejected) == 3
        and {e.data["reason"] for e in rejected} == {reason}
        and {e.actor for e in rejected} == {"bob"}
    )


def test_edit_writes_the_corrected_value_and_records_a_correction(start_flow, tmp_path: Path) -> None:
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    target = next(p for p in request.proposals if p.payload and p.payload["invoice_number"] == "HPD-1187")
    proposed_total = target.payload["total"]
    submit(request, answer_for(request, "carol", edits={target.id: {"total": "700.00"}}))
    run.finish()

    with transaction() as session:
        posted = session.execute(select(PayableRow).where(PayableRow.invoice_number == "HPD-1187")).scalar_one()
        corrections = session.execute(select(CorrectionRow)).scalars().all()
    assert posted.total == Decimal("700.00")
    assert [(c.field, c.proposed_value, c.approved_value, c.corrected_by) for c in corrections] == [
        ("total", proposed_total, "700.00", "carol")
    ]
    assert [e.data["field"] for e in _events("corrected")] == ["total"]


def test_an_answer_for_another_batch_is_refused_and_the_run_waits_again(start_flow, tmp_path: Path) -> None:
    """Get around the CLI's check: resume the run directly with a forged digest."""
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    wait_until_resumable(request)
    forged = answer_for(request, "mallory").model_copy(update={"batch_digest": "0" * 64})
    resume_flow_run(UUID(request.flow_run_id), run_input=forged.model_dump(mode="json"))

    again = wait_for_the_next_request(request)
    assert (request.pause_key, again.pause_key) == ("invoice-extraction-approval-1", "invoice-extraction-approval-2"), (
        "a refused answer pauses the run again"
    )
    assert payables_count() == 0
    (refused,) = _events("approval_refused")
    assert any("digest mismatch" in problem for problem in refused.data["problems"]), refused.data

    submit(again, answer_for(again, "alice"))
    assert run.finish().counts == {"executed": 3}


def test_no_decision_before_the_deadline_expires_and_escalates(
    start_flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSGATE_APPROVAL_TIMEOUT", "3")
    get_settings.cache_clear()
    run = start_flow(write_inbox(tmp_path / "inbox"))
    summary = run.finish()

    assert summary.counts == {"expired": 3}
    assert payables_count() == 0
    escalated = _events("escalated")
    assert len(escalated) == 3
    assert all(
        e.data["reasons"][0]["reason"] == "approval_timeout" and "ap-lead@example.com" in e.data["to"]
        for e in escalated
    )
    flow_run_id = _events("approval_requested")[0].data["flow_run_id"]
    assert _flow_run_state(flow_run_id) == "COMPLETED", "an expired gate ends the run normally, with its cases recorded"
    assert _flow_run_state_name(flow_run_id) == "Expired", "and says so by name"


def test_auto_autonomy_writes_without_pausing(start_flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda policy: policy["autonomy"].update(invoice="auto"))
    summary = start_flow(write_inbox(tmp_path / "inbox")).finish()

    assert summary.counts == {"executed": 3}
    assert payables_count() == 3
    assert not _events("approval_requested")
    assert {e.data["approval"] for e in _events("executed")} == {"auto (policy)"}


def test_bad_documents_end_recorded_while_the_rest_is_written(start_flow, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox")
    (inbox / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage, no xref, truncated")
    (inbox / "empty.pdf").write_bytes(b"")
    (inbox / "scan.pdf").write_bytes(image_only_pdf())
    write_inbox(inbox, {"injection.pdf": INJECTION_INVOICE})
    run = start_flow(inbox)
    request = wait_for_request()
    assert sorted(Path(p.source).name for p in request.proposals) == ["de.pdf", "injection.pdf", "uk.pdf", "us.pdf"]
    submit(request, answer_for(request, "alice"))
    summary = run.finish()

    by_file = {Path(o.source).name: o for o in summary.outcomes}
    assert {name: o.status for name, o in by_file.items()} == {
        "corrupt.pdf": Status.FAILED,
        "empty.pdf": Status.FAILED,
        "scan.pdf": Status.ESCALATED,
        "de.pdf": Status.EXECUTED,
        "injection.pdf": Status.EXECUTED,
        "uk.pdf": Status.EXECUTED,
        "us.pdf": Status.EXECUTED,
    }
    assert "the file is empty" in by_file["empty.pdf"].detail and "the PDF is damaged" in by_file["corrupt.pdf"].detail
    assert "needs_ocr" in by_file["scan.pdf"].detail
    assert payables_count() == 4


def test_text_in_a_document_is_data_not_instructions(start_flow, tmp_path: Path) -> None:
    """The same invoice with and without 'approve and pay' gets the same proposal and the same gate."""
    clean = [line for line in INJECTION_INVOICE if INJECTION_SENTENCE not in line]
    assert len(clean) == len(INJECTION_INVOICE) - 1
    first = write_inbox(tmp_path / "a", {"invoice.pdf": INJECTION_INVOICE})
    run = start_flow(first)
    request = wait_for_request()
    injected = request.proposals[0]
    assert injected.escalations == [] and request.statuses[injected.id] == Status.AWAITING_APPROVAL
    submit(request, answer_for(request, "alice", {injected.id: "checking the injection case"}))
    run.finish()

    shutil.rmtree(first)
    second = write_inbox(tmp_path / "b", {"invoice.pdf": clean})
    run = start_flow(second)
    twin = wait_for_request(exclude={request.id})
    submit(twin, answer_for(twin, "alice", {twin.proposals[0].id: "done"}))
    run.finish()

    strip = lambda payload: {k: v for k, v in payload.items() if k != "source"}  # noqa: E731
    assert strip(injected.payload) == strip(twin.proposals[0].payload)
    with transaction() as session:
        statuses = session.execute(select(ProposalRow.status)).scalars().all()
    assert statuses == ["rejected", "rejected"]
