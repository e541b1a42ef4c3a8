"""`opsgate run` waits in one process while `opsgate approvals` decides from another, both on the
same Prefect server and store, exactly as two terminals would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow
from tests.support.batches import write_inbox


def _pending(runner: CliRunner, timeout: float = 90) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = runner.invoke(app, ["approvals", "list", "--json"])
        assert result.exit_code == 0, result.output
        pending = json.loads(result.stdout)
        if pending:
            return pending
        time.sleep(0.5)
    raise AssertionError("the run never asked for approval")


def test_run_in_one_process_approved_from_another(flow_env: str, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox")
    env = {**os.environ, "PREFECT_API_URL": flow_env}
    run = subprocess.Popen(
        [sys.executable, "-m", "opsgate", "run", "invoices", "--inbox", str(inbox)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        runner = CliRunner()
        pending = _pending(runner)
        assert [(p["workflow"], p["proposals"]) for p in pending] == [("invoice_extraction", 3)]
        for _ in range(60):  # the request is recorded just before the run enters Paused
            if pending[0]["state"] == "Paused":
                break
            time.sleep(0.5)
            pending = _pending(runner)
        assert pending[0]["state"] == "Paused"
        run_id = str(pending[0]["id"])

        shown = runner.invoke(app, ["approvals", "show", run_id[:8]])
        assert shown.exit_code == 0 and "BOS-24-0317" in shown.stdout

        nameless = runner.invoke(app, ["approvals", "approve", run_id])
        assert nameless.exit_code != 0, "an approval without the approver's name is refused"

        approved = runner.invoke(app, ["approvals", "approve", run_id, "--as", "dana"])
        assert approved.exit_code == 0, approved.output
        output, _ = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 0, output
    with transaction() as session:
        assert len(session.execute(select(PayableRow)).scalars().all()) == 3

    exported = runner.invoke(app, ["audit", "export", "--format", "jsonl"])
    events = [json.loads(line)["event"] for line in exported.stdout.splitlines()]
    assert {"triggered", "proposed", "approval_requested", "approved", "executed", "completed"} <= set(events)
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    assert runner.invoke(app, ["approvals", "list", "--json"]).stdout.strip() == "[]"


def test_a_case_taken_up_from_the_cli_waits_in_its_process_and_is_recorded_in_the_typed_name(flow_env: str) -> None:
    """`opsgate escalations take` records the request in the name typed (--as, nobody checked it),
    runs the take-up in its own process until an approver from another answers, and the answer
    to the escalation says how the person was known."""
    from opsgate.governance import escalations
    from opsgate.governance.answers import answer_for
    from opsgate.orchestration.resume import submit
    from opsgate.store.tables import AuditRow, TakeUpRequestRow, TicketRow
    from tests.integration.conftest import wait_for_request
    from tests.support.escalated import out_of_scope_request
    from tests.support.processes import start

    triage = "request_triage"
    case = out_of_scope_request("mail/3.eml", "<q3@x>", "Invoice 88", "Invoice 88?")
    taking = start(flow_env, "escalations", "take", case.id[:8], "--as", "bob", "--set", "queue=billing")
    try:
        request = wait_for_request(triage, timeout=120)
        submit(request, answer_for(request, "carol"))
        output, _ = taking.communicate(timeout=120)
    finally:
        taking.kill()
    assert taking.returncode == 0, output
    with transaction() as session:
        (ticket,) = session.execute(select(TicketRow)).scalars()
        assert (ticket.request, ticket.queue) == ("<q3@x>", "billing")
        (asked,) = session.execute(select(TakeUpRequestRow)).scalars()
        assert (asked.requested_by, asked.authenticated_by, asked.run_id) == ("bob", "typed", request.flow_run_id)
        (taken,) = session.execute(select(AuditRow).where(AuditRow.event == "taken_up")).scalars()
        assert (taken.actor, taken.data["authenticated_by"]) == ("bob", "typed")
    assert escalations.open_escalations(triage) == []
