"""A write that fails: retried when it may succeed (and the retry is in the audit), recorded as a
failed case escalated to the owner when it cannot, and the rest of the batch is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from opsgate.errors import ExecutionError
from opsgate.governance.answers import answer_for
from opsgate.models import Status
from opsgate.orchestration.resume import submit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow
from opsgate.writers.payables import PayablesPost
from tests.integration.conftest import payables_count, wait_for_request
from tests.support.batches import write_inbox


def _fail_for(monkeypatch: pytest.MonkeyPatch, invoice_number: str, times: int, retryable: bool) -> list[str]:
    """Make the payables writer fail ``times`` times for one invoice; returns the call log."""
    calls: list[str] = []
    original = PayablesPost.apply

    def apply(self, session, payload, proposal_id):  # type: ignore[no-untyped-def]
        calls.append(payload.invoice_number)
        if payload.invoice_number == invoice_number and calls.count(invoice_number) <= times:
            raise ExecutionError("ledger connection reset", retryable=retryable)
        return original(self, session, payload, proposal_id)

    monkeypatch.setattr(PayablesPost, "apply", apply)
    return calls


def _executed_events() -> dict[str, dict]:
    with transaction() as session:
        rows = session.execute(select(AuditRow).where(AuditRow.event == "executed")).scalars()
        return {row.data["action"]["invoice_number"]: row.data for row in rows}


def test_a_transient_failure_is_retried_and_the_retry_audited(
    start_flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fail_for(monkeypatch, "HPD-1187", times=1, retryable=True)
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    submit(request, answer_for(request, "alice"))
    summary = run.finish()

    assert summary.counts == {"executed": 3}
    assert calls.count("HPD-1187") == 2
    events = _executed_events()
    assert (events["HPD-1187"]["attempt"], events["HPD-1187"]["retries"]) == (2, 1)
    assert events["BOS-24-0317"]["retries"] == 0
    assert payables_count() == 3


def test_a_permanent_failure_fails_the_case_and_escalates_it(
    start_flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fail_for(monkeypatch, "HPD-1187", times=99, retryable=False)
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    submit(request, answer_for(request, "alice"))
    summary = run.finish()

    by_number = {Path(o.source).name: o for o in summary.outcomes}
    assert by_number["uk.pdf"].status == Status.FAILED and "ledger connection reset" in by_number["uk.pdf"].detail
    assert by_number["us.pdf"].status == by_number["de.pdf"].status == Status.EXECUTED
    assert calls.count("HPD-1187") == 1, "an error that cannot succeed is not retried"
    with transaction() as session:
        escalated = session.execute(select(AuditRow).where(AuditRow.event == "escalated")).scalars().all()
    assert [e.data["reasons"][0]["reason"] for e in escalated] == ["tool_failure"]
    assert payables_count() == 2
