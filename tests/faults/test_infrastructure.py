"""The machinery around a run failing under it: the Prefect server killed and restarted while a run
waits, the database connection dropped in the middle of a write, two workers running the same inbox.
No decision is lost and nothing is written twice. Real processes, a Prefect server of the test's
own where it is killed, SQLite and PostgreSQL (the dropped connection: PostgreSQL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from opsgate.governance.answers import answer_for
from opsgate.models import Status
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, PayableRow, ProposalRow
from opsgate.writers.payables import PayablesPost
from tests.support.batches import write_inbox
from tests.support.processes import cli, paused_request, start


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrefectServer:
    """A Prefect API server of this test's own (SQLite under ``home``), to kill and start again."""

    def __init__(self, home: Path) -> None:
        self.home, self.port = home, _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.home / 'prefect.db'}",
        }
        env.pop("PREFECT_API_URL", None)
        log = (self.home / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the Prefect server did not start; see {self.home / 'server.log'}")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


@pytest.fixture
def own_server(opsgate_env: str, tmp_path: Path) -> Iterator[PrefectServer]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = PrefectServer(tmp_path / "prefect")
    server.home.mkdir()
    server.start()
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.url}):  # this test's own client talks to it too
            yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


def counts() -> dict[str, Any]:
    with transaction() as session:
        return {
            "payables": session.execute(select(func.count()).select_from(PayableRow)).scalar_one(),
            "executed_events": session.execute(
                select(func.count()).select_from(AuditRow).where(AuditRow.event == "executed")
            ).scalar_one(),
            "cases": sorted(session.execute(select(ProposalRow.status)).scalars()),
            "chain": audit.verify(session).ok,
        }


def test_the_prefect_server_killed_and_restarted_while_a_run_waits(own_server: PrefectServer, tmp_path: Path) -> None:
    """The decision is taken after the restart; whether the run survived the outage (the client
    retries) or died of it (recovery then finishes it), every approved invoice is posted once."""
    run = start(own_server.url, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    try:
        request = paused_request(run)
        own_server.kill()
        time.sleep(3)
        own_server.start()
        approved = cli("approvals", "approve", request.flow_run_id, "--as", "alice")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        try:
            run.wait(120)
        except subprocess.TimeoutExpired:
            pytest.fail("the run neither finished nor died after the restart")
        recovered = cli("recover", "--json")
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    finally:
        run.kill()
    state = counts()
    assert (
        state["cases"] == [Status.EXECUTED] * 3
        and state["payables"] == state["executed_events"] == 3
        and state["chain"]
    )


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_database_connection_dropped_in_the_middle_of_a_write(
    start_flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the executor's connection inside its first write: that transaction is lost
    whole, the task retries it on a new connection (the write is idempotent), and the batch goes on."""
    from tests.integration.conftest import wait_for_request

    original = PayablesPost.apply
    dropped: list[str] = []

    def apply_once_dropped(self: PayablesPost, session: Any, payload: Any, proposal_id: str) -> str:
        if not dropped:
            dropped.append(proposal_id)
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return original(self, session, payload, proposal_id)

    monkeypatch.setattr(PayablesPost, "apply", apply_once_dropped)
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    from opsgate.orchestration.resume import RESUMED, submit, wait_until_resumable

    wait_until_resumable(request)  # the write under test is the one after a resume
    assert submit(request, answer_for(request, "alice")) == RESUMED
    assert run.finish().counts == {"executed": 3}
    state = counts()
    assert state["payables"] == state["executed_events"] == 3 and state["chain"]
    with transaction() as session:
        (event,) = session.execute(
            select(AuditRow).where(AuditRow.event == "executed", AuditRow.proposal_id == dropped[0])
        ).scalars()
    assert event.data["attempt"] == 2, "written on the retry, once"


def test_two_workers_on_one_inbox_post_each_invoice_once(flow_env: str, tmp_path: Path) -> None:
    """Both runs wait at their gates at once, each with the three invoices (nothing is posted yet, so
    neither sees a duplicate); whichever is approved second finds them posted: the executor refuses a
    double payment, and the cases go to the owner as possible duplicates, with that reason. (The second run
    starts once the first waits: the test's Prefect server keeps its own state in SQLite, which
    refuses two runs changing state in the same instant.)"""
    inbox = str(write_inbox(tmp_path / "inbox"))
    first = start(flow_env, "run", "invoices", "--inbox", inbox)
    second = None
    try:
        one = paused_request(first)
        second = start(flow_env, "run", "invoices", "--inbox", inbox)
        other = paused_request(second, besides={one.id})
        assert len(one.proposals) == len(other.proposals) == 3, "neither worker knows of the other's proposals"
        assert cli("approvals", "approve", one.flow_run_id, "--as", "alice").returncode == 0
        assert first.wait(120) == 0
        assert cli("approvals", "approve", other.flow_run_id, "--as", "bob").returncode == 0
        assert second.wait(120) == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
    state = counts()
    assert state["payables"] == state["executed_events"] == 3 and state["chain"]
    assert state["cases"] == sorted([Status.EXECUTED] * 3 + [Status.ESCALATED] * 3)
    with transaction() as session:
        escalated = session.execute(select(ProposalRow).where(ProposalRow.status == Status.ESCALATED)).scalars().all()
        reasons = [[e["reason"] for e in row.escalations] for row in escalated]
        details = [row.detail for row in escalated]
    assert reasons == [["possible_duplicate"]] * 3
    assert all(d.startswith("possible_duplicate: ") and "refusing a double payment" in d for d in details)
