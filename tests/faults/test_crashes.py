"""A run's process killed (SIGKILL) at every step: while reading, after proposing, while paused,
between two writes, between a write and its audit row, and recovery itself killed mid-way. Each
ends the same way: no decision lost, every approved action written exactly once, nothing written
without its approval, no case left open that recovery could finish, the audit chain intact, the
Prefect flow run closed. On SQLite and PostgreSQL, with real processes and a real Prefect server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.models import TERMINAL, Status
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditRow, ExecutionRow, PayableRow, ProposalRow, RunRow
from tests.support.batches import write_inbox
from tests.support.policies import use_policy_variant
from tests.support.prefect_api import resume_over_api
from tests.support.processes import cli, flow_run_state, kill, lines, opsgate, paused_request, start
from tests.support.receiver import Receiver


def store_state() -> dict[str, object]:
    """What the store holds after the fault: cases by status, writes, executed events, chain."""
    with transaction() as session:
        statuses = session.execute(select(ProposalRow.status)).scalars().all()
        executed_events = session.execute(
            select(func.count()).select_from(AuditRow).where(AuditRow.event == "executed")
        ).scalar_one()
        return {
            "cases": sorted(statuses),
            "payables": session.execute(select(func.count()).select_from(PayableRow)).scalar_one(),
            "executions": session.execute(select(func.count()).select_from(ExecutionRow)).scalar_one(),
            "executed_events": executed_events,
            "runs": sorted(session.execute(select(RunRow.status)).scalars().all()),
            "chain": audit.verify(session).ok,
        }


def recover(api: str) -> list[dict[str, object]]:
    result = cli("recover", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return lines(result.stdout)


def run_id_of(flow_run_id: str) -> str:
    with transaction() as session:
        return session.execute(select(RunRow.id).where(RunRow.flow_run_id == flow_run_id)).scalar_one()


def test_killed_while_reading_leaves_no_case_and_the_next_run_reads_everything(flow_env: str, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox")
    crashed = opsgate(flow_env, "run", "invoices", "--inbox", str(inbox), crash_at="reading")
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert store_state()["cases"] == [] and store_state()["runs"] == ["running"]

    (report,) = recover(flow_env)
    assert report["closed"] is True and report["counts"] == {}
    assert flow_run_state(str(report["flow_run_id"])) == ("CRASHED", "Recovered")

    again = start(flow_env, "run", "invoices", "--inbox", str(inbox))
    request = paused_request(again)
    assert len(request.proposals) == 3, "the documents are still in the inbox: nothing was lost"
    assert cli("approvals", "approve", request.flow_run_id, "--as", "alice").returncode == 0
    assert again.wait(120) == 0
    assert store_state()["payables"] == 3


def test_killed_after_proposing_expires_the_cases_for_a_later_run(
    flow_env: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner is told, and so are the approval channels (the dead run cannot tell them)."""

    def notify_a_channel(policy: dict[str, Any]) -> None:
        policy["channels"] = {"ap": {"kind": "webhook", "url": receiver.url}}
        policy["approvals"]["notify"] = ["ap"]

    use_policy_variant(tmp_path / "policies", monkeypatch, notify_a_channel)
    inbox = write_inbox(tmp_path / "inbox")
    crashed = opsgate(flow_env, "run", "invoices", "--inbox", str(inbox), crash_at="proposed")
    assert crashed.returncode == -9
    assert store_state()["cases"] == [Status.PROPOSED] * 3

    (report,) = recover(flow_env)
    assert (report["expired"], report["closed"]) == (3, True)
    state = store_state()
    assert state["cases"] == [Status.EXPIRED] * 3 and state["payables"] == 0 and state["chain"]
    with transaction() as session:
        escalated = session.execute(select(AuditRow).where(AuditRow.event == "escalated")).scalars().all()
    assert len(escalated) == 3 and all("ap-lead@example.com" in e.data["to"] for e in escalated), "the owner is told"
    (notice,) = receiver.requests
    assert (notice.json()["event"], notice.json()["data"]["proposals"]) == ("approval.expired", 3)


def test_killed_while_paused_then_approved_from_the_cli(flow_env: str, tmp_path: Path) -> None:
    """The decision is recorded and kept although nothing runs to act on it; recovery writes it."""
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    request = paused_request(run)
    assert [(r["id"], r["process"]) for r in json.loads(cli("approvals", "list", "--json").stdout)] == [
        (request.flow_run_id, "running")
    ]
    kill(run)
    assert [(r["id"], r["process"]) for r in json.loads(cli("approvals", "list", "--json").stdout)] == [
        (request.flow_run_id, "gone")
    ]

    approved = cli("approvals", "approve", request.flow_run_id, "--as", "alice")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "recorded; the run's process is gone, so the decision is kept for `opsgate recover`" in " ".join(
        approved.stdout.split()
    )
    with transaction() as session:
        assert {a.approver for a in session.execute(select(ApprovalRow)).scalars()} == {"alice"}
    assert store_state()["cases"] == [Status.APPROVED] * 3 and store_state()["payables"] == 0

    (report,) = recover(flow_env)
    assert (report["executed"], report["closed"]) == (3, True)
    state = store_state()
    assert (
        state["cases"] == [Status.EXECUTED] * 3
        and state["payables"] == state["executed_events"] == 3
        and state["chain"]
    )
    assert flow_run_state(request.flow_run_id) == ("CRASHED", "Recovered")
    assert recover(flow_env) == [], "nothing is left for a second recovery"


def test_killed_while_paused_then_resumed_in_the_prefect_ui(flow_env: str, tmp_path: Path) -> None:
    """Someone presses Resume in the UI of a run whose process is gone: Prefect keeps the answer
    with the run, and recovery decides it through the same checks as any answer."""
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    request = paused_request(run)
    kill(run)
    answer = answer_for(request, "carol").model_dump(mode="json")
    resumed = resume_over_api(flow_env, request.flow_run_id, answer)
    assert resumed.status_code < 300 and resumed.json()["status"] == "ACCEPT", resumed.text
    assert store_state()["payables"] == 0, "nothing acts on it until recovery"

    (report,) = recover(flow_env)
    assert (report["answers"], report["executed"], report["closed"]) == (1, 3, True)
    with transaction() as session:
        assert {a.approver for a in session.execute(select(ApprovalRow)).scalars()} == {"carol"}
    assert flow_run_state(request.flow_run_id) == ("CRASHED", "Recovered")


def test_an_outsiders_answer_to_a_dead_run_is_refused_by_recovery(flow_env: str, tmp_path: Path) -> None:
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    request = paused_request(run)
    kill(run)
    forged = answer_for(request, "mallory").model_dump(mode="json")
    resume_over_api(flow_env, request.flow_run_id, forged).raise_for_status()
    (report,) = recover(flow_env)
    assert (report["answers"], report["executed"], report["waiting"], report["closed"]) == (0, 0, 3, False)
    with transaction() as session:
        refused = session.execute(select(AuditRow).where(AuditRow.event == "approval_refused")).scalars().all()
    assert [r.actor for r in refused] == ["mallory"] and store_state()["payables"] == 0


@pytest.mark.parametrize("point", ["first-write", "mid-batch", "write-before-audit"])
def test_killed_while_writing_every_approved_action_is_written_once(flow_env: str, tmp_path: Path, point: str) -> None:
    """Killed after the first of three writes committed (batches of one), between two writes of one
    batch, or inside the first write's transaction before its audit row: what was committed stays,
    once; nothing of an uncommitted batch is left; recovery writes what is left, once each."""
    batch = "1" if point == "first-write" else "500"
    inbox = str(write_inbox(tmp_path / "inbox"))
    run = start(flow_env, "run", "invoices", "--inbox", inbox, crash_at=point, OPSGATE_EXECUTE_BATCH_SIZE=batch)
    request = paused_request(run)
    assert cli("approvals", "approve", request.flow_run_id, "--as", "alice").returncode == 0
    assert run.wait(120) == -9
    state = store_state()
    written = state["payables"]
    assert written == (1 if point == "first-write" else 0)
    assert state["executions"] == state["executed_events"] == written, "a write, its key and its audit row, or none"

    (report,) = recover(flow_env)
    assert (report["executed"], report["closed"]) == (3 - written, True)
    state = store_state()
    assert state["cases"] == [Status.EXECUTED] * 3
    assert state["payables"] == state["executions"] == state["executed_events"] == 3 and state["chain"]


def test_recovery_killed_mid_way_is_finished_by_the_next(flow_env: str, tmp_path: Path) -> None:
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    request = paused_request(run)
    kill(run)
    assert cli("approvals", "approve", request.flow_run_id, "--as", "alice").returncode == 0
    assert opsgate(flow_env, "recover", crash_at="first-write", OPSGATE_EXECUTE_BATCH_SIZE="1").returncode == -9
    assert store_state()["payables"] == 1

    (report,) = recover(flow_env)
    assert (report["executed"], report["closed"]) == (2, True)
    state = store_state()
    assert (
        state["payables"] == state["executed_events"] == 3
        and all(s in TERMINAL for s in state["cases"])
        and state["chain"]
    )


def test_the_approvers_cli_killed_between_recording_and_waking_the_run(flow_env: str, tmp_path: Path) -> None:
    """The CLI records the decision, then dies before it wakes the run. The run, never woken, finds
    the decision in the store when its wait ends and writes it; nothing expires."""
    run = start(
        flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")), OPSGATE_APPROVAL_TIMEOUT="20"
    )
    request = paused_request(run)
    decide(request.id, answer_for(request, "alice"))  # what `approvals approve` does first; then it is gone
    assert run.wait(120) == 0
    state = store_state()
    assert (
        state["cases"] == [Status.EXECUTED] * 3
        and state["payables"] == state["executed_events"] == 3
        and state["chain"]
    )
    assert flow_run_state(request.flow_run_id)[0] == "COMPLETED"
