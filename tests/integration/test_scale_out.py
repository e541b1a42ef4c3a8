"""Scale-out on Prefect's own machinery, as a team that outgrew one process runs opsgate: the
Prefect server on PostgreSQL (`opsgate server start --database-url`), the store on PostgreSQL, two
process workers on one pool. Four runs of the invoice deployment on overlapping inboxes start
together and are approved from the CLI at once: every invoice is posted exactly once, the other
cases for it go to the owner as possible duplicates, every case ends, the audit chain holds, and
no log shows a server error."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import create_engine, func, select, text

from opsgate.governance import requests
from opsgate.models import TERMINAL, Status
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow, ProposalRow
from tests.conftest import POSTGRES_URL
from tests.support.batches import write_inbox
from tests.support.processes import environment, free_port, start
from tests.support.samples import DE_INVOICE, UK_INVOICE, US_INVOICE
from tests.support.workers import PROJECT, deploy_invoices, process_worker, start_deployment, wait_for_state

SERVER_ERRORS = ("Internal Server Error", "Service Unavailable", "status code 500", "status code 503", "Traceback")


@pytest.fixture
def prefect_on_postgres(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A Prefect server of its own on a PostgreSQL database of its own, started and stopped with
    opsgate's CLI; its API URL, its log, and its database's name."""
    database = f"prefect_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    home = tmp_path / "server"
    env = {**environment(""), "OPSGATE_DATA_DIR": str(home), "OPSGATE_PREFECT_PORT": str(free_port())}
    env.pop("PREFECT_API_URL")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
    command = [sys.executable, "-m", "opsgate", "server"]
    started = subprocess.run(
        [*command, "start", "--database-url", url], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=240
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        api_url = re.search(r"\(API (\S+)\)", started.stdout)
        assert api_url is not None, started.stdout
        yield api_url.group(1), home / "prefect-server.log", database
    finally:
        subprocess.run([*command, "stop"], env=env, cwd=PROJECT, capture_output=True, timeout=60)
        with admin.connect() as connection:
            connection.execute(
                text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        admin.dispose()


def _all_at_the_gate(flow_runs: list[str], timeout: float = 240) -> None:
    """Wait until each run has opened its gate (its pending request is in the store)."""
    deadline = time.monotonic() + timeout
    while {r.flow_run_id for r in requests.pending_requests("invoice_extraction")} < set(flow_runs):
        assert time.monotonic() < deadline, "not every run reached its gate"
        time.sleep(0.5)


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_four_runs_on_two_workers_post_every_invoice_once(
    opsgate_env: str, prefect_on_postgres: tuple[str, Path, str], tmp_path: Path
) -> None:
    api_url, server_log, database = prefect_on_postgres
    documents = {"us.pdf": US_INVOICE, "de.pdf": DE_INVOICE, "uk.pdf": UK_INVOICE}
    overlapping = [("us.pdf", "de.pdf"), ("de.pdf", "uk.pdf"), ("uk.pdf", "us.pdf"), ("us.pdf", "de.pdf", "uk.pdf")]
    inboxes = [
        write_inbox(tmp_path / f"inbox-{i}", {name: documents[name] for name in names})
        for i, names in enumerate(overlapping)
    ]
    pool = f"opsgate-{uuid.uuid4().hex[:8]}"
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    with (
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        process_worker(api_url, pool, logs[0]),
        process_worker(api_url, pool, logs[1]),
    ):
        deployment = deploy_invoices(pool, "invoices-at-scale", inboxes[0])
        flow_runs = [start_deployment(deployment, {"params": {"inbox": str(inbox)}}) for inbox in inboxes]
        _all_at_the_gate(flow_runs)
        for flow_run_id in flow_runs:
            wait_for_state(flow_run_id, "Suspended", "Paused")
        approvers = [start(api_url, "approvals", "approve", run, "--as", "alice") for run in flow_runs]
        for approver in approvers:
            output, _ = approver.communicate(timeout=240)
            assert approver.returncode == 0, output
        for flow_run_id in flow_runs:
            wait_for_state(flow_run_id, "Completed", timeout=300)
        shown = {path.name: path.read_text(errors="replace") for path in [*logs, server_log]}

    with transaction() as session:
        posted = session.execute(
            select(PayableRow.invoice_number, func.count()).group_by(PayableRow.invoice_number)
        ).all()
        cases = session.execute(select(ProposalRow)).scalars().all()
        chain = audit.verify(session)
    assert len(posted) == 3 and all(times == 1 for _, times in posted), posted
    statuses = Counter(c.status for c in cases)
    assert statuses == {Status.EXECUTED: 3, Status.ESCALATED: 6}, statuses
    assert all(c.status in TERMINAL for c in cases)
    assert all(
        [e["reason"] for e in c.escalations] == ["possible_duplicate"] for c in cases if c.status == Status.ESCALATED
    )
    assert chain.ok, chain.problem
    prefect_db = create_engine(POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}")
    with prefect_db.connect() as connection:
        kept = connection.execute(text("SELECT count(*) FROM flow_run WHERE deployment_id IS NOT NULL")).scalar_one()
    prefect_db.dispose()
    assert kept == 4, "the Prefect server keeps its runs in PostgreSQL"
    for name, content in shown.items():
        assert not [marker for marker in SERVER_ERRORS if marker in content], f"{name} shows a server error"
