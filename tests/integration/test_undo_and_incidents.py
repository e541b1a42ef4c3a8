"""Incidents and undo on a real Prefect server, through the CLI: an incident is audited, escalated
to the owner, posted to the policy's channel and counted in the metrics; `opsgate undo` proposes
the reversal, which waits at the gate for someone the policy lets approve undos, and only then is
the posting reversed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from sqlalchemy import select
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ApprovalRejected
from opsgate.governance.answers import answer_for
from opsgate.learning.metrics import agent_metrics
from opsgate.orchestration.resume import submit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, PayableRow
from tests.integration.conftest import cli_process, wait_for_request
from tests.support.batches import write_inbox
from tests.support.policies import use_policy_variant
from tests.support.receiver import Receiver

WORKFLOW = "invoice_extraction"


def _postings() -> dict[str, str]:
    with transaction() as session:
        return {row.proposal_id: row.status for row in session.execute(select(PayableRow)).scalars()}


def _artifacts(key: str) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )


def _events(kind: str) -> list[AuditRow]:
    with transaction() as session:
        rows = session.execute(select(AuditRow).where(AuditRow.event == kind).order_by(AuditRow.seq)).scalars().all()
        session.expunge_all()
    return list(rows)


def test_an_incident_is_reported_and_the_undo_waits_for_an_approver(
    start_flow, flow_env: str, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def with_channel(policy: dict[str, Any]) -> None:
        policy["channels"] = {"ap-room": {"kind": "webhook", "url": receiver.url}}
        policy["approvals"]["notify"] = ["ap-room"]

    use_policy_variant(tmp_path / "policies", monkeypatch, with_channel)
    run = start_flow(write_inbox(tmp_path / "inbox"))
    request = wait_for_request()
    submit(request, answer_for(request, "alice"))
    assert run.finish().counts == {"executed": 3}
    wrong = request.proposals[0].id

    reported = CliRunner().invoke(
        app, ["incident", "report", wrong, "--reason", "paid to the wrong entity", "--as", "dana"]
    )
    assert reported.exit_code == 0, reported.output
    (incident,) = _events("incident")
    assert (incident.proposal_id, incident.actor, incident.data["reason"]) == (
        wrong,
        "dana",
        "paid to the wrong entity",
    )
    assert any(
        e.data["reasons"][0]["reason"] == "incident" and "ap-lead@example.com" in e.data["to"]
        for e in _events("escalated")
    )
    assert [r.json()["event"] for r in receiver.requests][-1] == "incident.reported"
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    (row,) = [
        m for m in agent_metrics(since, datetime.now(timezone.utc) + timedelta(hours=1)) if m.case_type == "invoice"
    ]
    assert row.incidents == 1
    published = CliRunner().invoke(app, ["metrics", "--artifact", "--json", "--since", since.isoformat()])
    assert published.exit_code == 0, published.output
    (table,) = [json.loads(a.data) for a in _artifacts("agent-metrics")]
    assert [(r["case_type"], r["incidents"], r["executed"]) for r in table] == [("invoice", "1", "3")]

    with cli_process(["undo", wrong, "--as", "dana", "--reason", "paid to the wrong entity"], flow_env) as undo:
        pending = wait_for_request(exclude={request.id}, timeout=120)
        (proposal,) = pending.proposals
        assert (proposal.tool, proposal.case_type, proposal.payload["proposal_id"]) == (
            "payables.reverse",
            "undo",
            wrong,
        )
        assert _postings()[wrong] == "posted", "nothing is reversed while the undo waits at the gate"
        with pytest.raises(ApprovalRejected, match="dana may not decide on undo cases"):
            submit(pending, answer_for(pending, "dana"))
        submit(pending, answer_for(pending, "olga"))
        output, _ = undo.communicate(timeout=120)
    assert undo.returncode == 0, output
    assert "executed" in output
    assert _postings()[wrong] == "reversed" and list(_postings().values()).count("posted") == 2
    (undone,) = _events("undone")
    assert undone.proposal_id == wrong and undone.data["reason"] == "paid to the wrong entity"
    again = CliRunner().invoke(app, ["undo", wrong, "--as", "olga", "--reason", "twice"])
    assert again.exit_code != 0 and "already undone" in again.output
