"""Recovery finishes what a run whose process died left open: what people approved is written once,
what passed its deadline expires, what never reached a person expires, a run with nothing open is
closed, and cases still waiting for a person keep waiting. Runs whose process lives are left alone.
SQLite and PostgreSQL; the Prefect side is in tests/faults."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from opsgate.governance import executor, recovery, requests
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.models import Status
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRequestRow, ExecutionRow, PayableRow, ProposalRow, RunRow
from tests.support.batches import Batch, open_request, proposed_batch
from tests.support.policies import use_policy_variant
from tests.unit.platform.conftest import StoreProbe


def a_dead_pid() -> int:
    """The id of a process of this machine that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def process_dies(batch: Batch) -> None:
    """The run's process is gone, as after `kill -9`: its pid names no process any more."""
    with transaction() as session:
        session.execute(update(RunRow).where(RunRow.id == batch.run.id).values(pid=a_dead_pid()))


def recover() -> list[recovery.RunRecovery]:
    return [recovery.recover_run(dead) for dead in recovery.dead_runs()]


def test_a_run_whose_process_lives_is_left_alone(
    store: StoreProbe, batch: Batch, request_: requests.PendingRequest
) -> None:
    assert recovery.dead_runs() == []


def test_approved_cases_are_written_once_and_the_run_is_closed(
    store: StoreProbe, batch: Batch, request_: requests.PendingRequest
) -> None:
    """Killed after the first of three writes."""
    decisions = decide(request_.id, answer_for(request_, "alice"))
    executor.execute_one(batch.run.policy, decisions[0].proposal_id)
    process_dies(batch)
    (report,) = recover()
    assert (report.executed, report.expired, report.waiting, report.closed) == (2, 0, 0, True)
    assert store.count(PayableRow) == 3 and store.count(ExecutionRow) == 3
    assert {r.status for r in store.rows(ProposalRow)} == {Status.EXECUTED}
    assert store.get(RunRow, batch.run.id).status == "recovered"
    (event,) = store.events("recovered")
    assert event.data["executed"] == 2 and event.data["closed"] is True
    assert recover() == [], "a closed run is not recovered again"
    with transaction() as session:
        assert audit.verify(session).ok


def test_cases_waiting_for_a_person_keep_waiting_and_a_later_decision_is_written(
    store: StoreProbe, batch: Batch, request_: requests.PendingRequest
) -> None:
    """Killed while paused: the approver answers afterwards (the CLI records the decision); the
    next recovery writes it."""
    process_dies(batch)
    (report,) = recover()
    assert (report.executed, report.expired, report.waiting, report.closed) == (0, 0, 3, False)
    assert store.events("recovered") == [], "nothing done, nothing to audit"
    decide(request_.id, answer_for(request_, "alice"))
    (report,) = recover()
    assert (report.executed, report.closed) == (3, True)
    assert store.count(PayableRow) == 3


def test_requests_past_their_deadline_expire(
    store: StoreProbe, batch: Batch, request_: requests.PendingRequest
) -> None:
    with transaction() as session:
        session.execute(
            update(ApprovalRequestRow)
            .where(ApprovalRequestRow.id == request_.id)
            .values(deadline=datetime.now(timezone.utc) - timedelta(minutes=1))
        )
    process_dies(batch)
    (report,) = recover()
    assert (report.expired, report.closed) == (3, True)
    assert {r.status for r in store.rows(ProposalRow)} == {Status.EXPIRED}
    assert len(store.events("escalated")) == 3 and store.count(PayableRow) == 0


def test_cases_that_never_reached_a_person_expire(store: StoreProbe, batch: Batch) -> None:
    """Killed after proposing, before the gate opened a request."""
    process_dies(batch)
    (report,) = recover()
    assert (report.expired, report.closed) == (3, True)
    rows = store.rows(ProposalRow)
    assert {r.status for r in rows} == {Status.EXPIRED} and all("process ended" in r.detail for r in rows)


def test_auto_cases_are_written_by_recovery(
    store: StoreProbe, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda p: p["autonomy"].update(invoice="auto"))
    batch = proposed_batch(inbox)
    assert {r.status for r in store.rows(ProposalRow)} == {Status.APPROVED}
    process_dies(batch)
    (report,) = recover()
    assert (report.executed, report.closed) == (3, True)


def test_a_silent_run_on_another_machine_is_dead_after_the_grace_period(
    store: StoreProbe, batch: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction() as session:
        session.execute(
            update(RunRow)
            .where(RunRow.id == batch.run.id)
            .values(host="elsewhere/boot/1", heartbeat_at=datetime.now(timezone.utc) - timedelta(seconds=60))
        )
    monkeypatch.setenv("OPSGATE_HEARTBEAT_GRACE", "120")
    from opsgate.settings import get_settings

    get_settings.cache_clear()
    assert recovery.dead_runs() == [], "silent for 60 s, within the grace period"
    monkeypatch.setenv("OPSGATE_HEARTBEAT_GRACE", "30")
    get_settings.cache_clear()
    assert [d.run_id for d in recovery.dead_runs()] == [batch.run.id]


def test_two_recoveries_at_once_write_each_case_once(
    store: StoreProbe, batch: Batch, request_: requests.PendingRequest
) -> None:
    decide(request_.id, answer_for(request_, "alice"))
    process_dies(batch)
    (dead,) = recovery.dead_runs()
    barrier = threading.Barrier(2)
    reports: list[recovery.RunRecovery] = []

    def one() -> None:
        barrier.wait()
        reports.append(recovery.recover_run(dead))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(reports) == 2
    assert store.count(PayableRow) == 3 and store.count(ExecutionRow) == 3 and len(store.events("executed")) == 3
    assert store.get(RunRow, batch.run.id).status == "recovered"


def test_a_four_eyes_case_approved_once_waits_for_its_second_approver(
    store: StoreProbe, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda p: p["approvals"].update(four_eyes=[{"case_type": "invoice", "field": "total", "above": "1.00"}]),
    )
    batch = proposed_batch(inbox)
    request = open_request(batch)
    decide(request.id, answer_for(request, "alice"))
    process_dies(batch)
    (report,) = recover()
    assert (report.executed, report.waiting, report.closed) == (0, 3, False)
    second = requests.next_request(request.flow_run_id)
    assert second is not None, "the second round was opened with the first approval; no process needed"
    decide(second.id, answer_for(second, "carol"))
    (report,) = recover()
    assert (report.executed, report.closed) == (3, True)
