"""A run that may wait long for a decision holds no process: the gate suspends it, its process
ends, and a Prefect worker starts it again once someone answers; the run then finds its cases in
the store, proposes nothing again, and writes what was approved. With no process alive, the
recovery flow reminds, expires and wakes it."""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from opsgate.governance.requests import PendingRequest
from opsgate.governance.runs import process_state
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow
from tests.integration.conftest import payables_count, wait_for_request
from tests.support.batches import write_inbox
from tests.support.policies import use_policy_variant
from tests.support.processes import cli
from tests.support.receiver import Receiver
from tests.support.workers import deploy_invoices, process_worker, start_deployment, wait_for_state


def _events(kind: str) -> list[AuditRow]:
    with transaction() as session:
        rows = session.execute(select(AuditRow).where(AuditRow.event == kind).order_by(AuditRow.seq)).scalars().all()
        session.expunge_all()
    return list(rows)


def _gone(pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _suspended_invoice_run(pool: str, inbox: Path) -> tuple[str, PendingRequest, AuditRow]:
    """A run of the invoice deployment started on ``pool``, once it waits at its gate suspended and
    its process has ended: its flow run id, its pending request and its `suspended` event."""
    flow_run_id = start_deployment(deploy_invoices(pool, f"invoices-{pool}", inbox))
    request = wait_for_request(timeout=180)
    assert request.flow_run_id == flow_run_id
    wait_for_state(flow_run_id, "Suspended")
    (suspended,) = _events("suspended")
    assert _gone(suspended.data["pid"]), "the run's process ended while it waits"
    return flow_run_id, request, suspended


def test_a_long_wait_holds_no_process_and_the_run_resumes_after_the_cli_approves(flow_env: str, tmp_path: Path) -> None:
    pool = f"opsgate-test-{uuid.uuid4().hex[:8]}"
    with process_worker(flow_env, pool, tmp_path / "worker.log"):
        flow_run_id, _, suspended = _suspended_invoice_run(pool, write_inbox(tmp_path / "inbox"))
        assert process_state(flow_run_id) == "suspended"
        listed = cli("approvals", "list", "--json")
        assert '"process": "suspended"' in listed.stdout

        approved = cli("approvals", "approve", flow_run_id, "--as", "alice")
        assert approved.returncode == 0 and "run resumes" in approved.stdout, approved.stdout
        wait_for_state(flow_run_id, "Completed")

    assert payables_count() == 3
    assert len(_events("proposed")) == 3, "nothing was proposed again"
    assert len(_events("triggered")) == 1 and len(_events("resumed")) == 1
    (resumed,) = _events("resumed")
    assert resumed.data["pid"] != suspended.data["pid"], "a new process finished the run"
    assert {e.data["approval"]["approver"] for e in _events("executed")} == {"alice"}
    with transaction() as session:
        assert audit.verify(session).ok


def test_with_no_process_alive_recovery_reminds_expires_and_wakes_a_suspended_run(
    flow_env: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decisions due 20 s after the gate opens, a reminder 15 s before; the run is suspended (it may
    wait longer than the 1 s the test allows a paused process). Nobody answers. Recovery, run twice
    with no process of the run alive, reminds once the deadline is near, then expires the cases
    (the owner and the channels are told) and starts the flow run again: it writes nothing and ends
    `Expired`."""

    def due_soon(policy: dict[str, Any]) -> None:
        policy["channels"] = {"ap-room": {"kind": "webhook", "url": receiver.url}}
        policy["approvals"].update(notify=["ap-room"], deadline_minutes=20 / 60, remind_before_minutes=15 / 60)

    use_policy_variant(tmp_path / "policies", monkeypatch, due_soon)
    pool = f"opsgate-test-{uuid.uuid4().hex[:8]}"
    with process_worker(flow_env, pool, tmp_path / "worker.log", OPSGATE_APPROVAL_SUSPEND_AFTER="1"):
        flow_run_id, request, _ = _suspended_invoice_run(pool, write_inbox(tmp_path / "inbox"))

        while datetime.now(timezone.utc) < request.deadline - timedelta(seconds=14):
            time.sleep(0.2)  # inside the reminder's window
        reminding = cli("recover", "--json")
        assert reminding.returncode == 0, reminding.stdout
        assert json.loads(reminding.stdout)["waiting"] == 3 and len(_events("reminded")) == 1
        assert cli("recover", "--json").returncode == 0 and len(_events("reminded")) == 1, "reminded once"

        while datetime.now(timezone.utc) <= request.deadline:
            time.sleep(0.2)
        expiring = cli("recover", "--json")
        assert expiring.returncode == 0, expiring.stdout
        report = json.loads(expiring.stdout)
        assert (report["expired"], report["waiting"], report["woken"]) == (3, 0, True)
        wait_for_state(flow_run_id, "Expired")

    assert payables_count() == 0 and len(_events("proposed")) == 3 and len(_events("resumed")) == 1
    assert len([e for e in _events("escalated") if e.data["reasons"][0]["reason"] == "approval_timeout"]) == 3
    assert [r.json()["event"] for r in receiver.requests] == [
        "approval.waiting",
        "approval.reminder",
        "approval.expired",
    ]
    with transaction() as session:
        assert audit.verify(session).ok


CRASHING = "tests/support/crashing_flows.py:invoice_extraction"


def _crashed_while_suspending(flow_env: str, tmp_path: Path, point: str, state: str) -> tuple[str, AuditRow]:
    """A run of the invoice deployment whose process is killed at ``point``: after the store
    recorded it suspended, before Prefect was asked to; once its flow run shows ``state``. Its flow
    run id and its `suspended` event."""
    pool = f"opsgate-test-{uuid.uuid4().hex[:8]}"
    inbox = write_inbox(tmp_path / "inbox")
    with process_worker(flow_env, pool, tmp_path / "worker.log", OPSGATE_CRASH_AT=point):
        flow_run_id = start_deployment(deploy_invoices(pool, f"invoices-{pool}", inbox, CRASHING))
        assert wait_for_request(timeout=180).flow_run_id == flow_run_id
        (suspended,) = _events_when("suspended")
        assert _gone(suspended.data["pid"]), "the run's process was killed"
        wait_for_state(flow_run_id, state)
    assert process_state(flow_run_id) == "suspended", "the store still holds the run suspended"
    return flow_run_id, suspended


def _events_when(kind: str, timeout: float = 120) -> list[AuditRow]:
    deadline = time.monotonic() + timeout
    while not (found := _events(kind)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _recover() -> list[dict[str, Any]]:
    recovering = cli("recover", "--json")
    assert recovering.returncode == 0, recovering.stdout
    return [json.loads(line) for line in recovering.stdout.splitlines()]


# the crash window is Prefect's and the process's; the store's side is the other tests': one store (production's) here
ON_POSTGRES = pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@ON_POSTGRES
def test_a_run_killed_between_its_suspension_and_prefects_is_finished_by_recovery(
    flow_env: str, tmp_path: Path
) -> None:
    """The worker sees the process die and Prefect marks the flow run Crashed: no worker will ever
    start it again, though the store says suspended. The approver's decision is kept, and recovery
    hands the run to the dead runs and writes it, once each."""
    flow_run_id, _ = _crashed_while_suspending(flow_env, tmp_path, "suspending", "Crashed")

    approved = cli("approvals", "approve", flow_run_id, "--as", "alice")
    assert approved.returncode == 0 and "decision is recorded" in approved.stdout, approved.stdout
    (report,) = _recover()
    assert (report["executed"], report["waiting"], report["closed"]) == (3, 0, True), report
    assert _recover() == [], "nothing is left to recover"

    assert payables_count() == 3
    (lost,) = _events("suspension_lost")
    assert "Crashed" in lost.data["why"]
    assert {e.data["approval"]["approver"] for e in _events("executed")} == {"alice"}
    with transaction() as session:
        assert audit.verify(session).ok


@ON_POSTGRES
def test_a_run_whose_machine_went_while_it_suspended_is_finished_after_the_grace_period(
    flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies with the process, so Prefect shows the flow run Running for ever. Within
    the grace period recovery takes that for a process on its way to suspending and leaves the run
    waiting; after it, the run is finished as dead: the decision recorded then is written by the
    next recovery, and the flow run is closed Crashed/Recovered."""
    from opsgate.settings import get_settings

    flow_run_id, _ = _crashed_while_suspending(flow_env, tmp_path, "suspending-host", "Running")

    (waiting,) = _recover()
    assert (waiting["waiting"], waiting["closed"]) == (3, False) and _events("suspension_lost") == []

    monkeypatch.setenv("OPSGATE_HEARTBEAT_GRACE", "1")
    get_settings.cache_clear()
    time.sleep(1.5)
    (dead,) = _recover()
    assert (dead["executed"], dead["waiting"], dead["closed"]) == (0, 3, False), dead
    assert "Running" in _events("suspension_lost")[0].data["why"]

    approved = cli("approvals", "approve", flow_run_id, "--as", "alice")
    assert approved.returncode == 0 and "process is gone" in approved.stdout, approved.stdout
    (finished,) = _recover()
    assert (finished["executed"], finished["closed"]) == (3, True), finished
    wait_for_state(flow_run_id, "Recovered", timeout=10)
    assert payables_count() == 3
    with transaction() as session:
        assert audit.verify(session).ok
