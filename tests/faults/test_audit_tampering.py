"""A database administrator against the audit log and the approvals of a real governed run: the log
emptied, its tail cut with the head moved back, a row rewritten with every later hash recomputed
(by someone holding the key, against an anchor), an approved action rewritten before it is written.
`opsgate audit verify` exits 4 naming the problem, and the executor writes nothing it cannot hold
against the audit log. SQLite and PostgreSQL, through the CLI as an auditor would run it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from opsgate.models import Status, digest
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, AuditHeadRow, AuditRow, PayableRow, ProposalRow
from tests.support.batches import write_inbox
from tests.support.processes import cli, kill, lines, paused_request, start


@pytest.fixture
def governed(flow_env: str, tmp_path: Path) -> str:
    """Three invoices proposed, approved from the CLI and posted by a real run."""
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    request = paused_request(run)
    assert cli("approvals", "approve", request.flow_run_id, "--as", "alice").returncode == 0
    assert run.wait(120) == 0
    assert cli("audit", "verify").returncode == 0
    return flow_env


def verify(api: str, *args: str) -> tuple[int, str]:
    result = cli("audit", "verify", *args)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_an_emptied_audit_log_does_not_verify(governed: str) -> None:
    with transaction() as session:
        session.execute(delete(AuditRow))
        session.execute(delete(AuditHeadRow))
    code, output = verify(governed)
    assert code == 4 and "3 execution(s) in the store have no executed audit event" in output


def test_a_cut_tail_with_the_head_copied_back_does_not_verify(governed: str) -> None:
    with transaction() as session:
        first_approved = min(session.execute(select(AuditRow.seq).where(AuditRow.event == "approved")).scalars())
        survivor = session.get(AuditRow, first_approved - 1)
        session.execute(delete(AuditRow).where(AuditRow.seq >= first_approved))
        session.execute(update(AuditHeadRow).values(seq=survivor.seq, hash=survivor.hash))
    code, output = verify(governed)
    assert code == 4 and "have no executed audit event" in output


def test_a_rewrite_by_someone_holding_the_key_is_caught_by_the_anchor(governed: str, tmp_path: Path) -> None:
    anchors = tmp_path / "outside" / "anchors.jsonl"
    anchors.parent.mkdir()
    assert cli("audit", "anchor", "--to", str(anchors)).returncode == 0
    with transaction() as session:  # the approver's name changed, and every later hash recomputed with the key
        rows = session.execute(select(AuditRow).order_by(AuditRow.seq)).scalars().all()
        first = next(r for r in rows if r.event == "approved")
        first.actor, first.data = "mallory", {**first.data, "approver": "mallory"}
        prev = rows[first.seq - 2].hash
        for row in rows[first.seq - 1 :]:
            row.prev_hash, row.hash = prev, audit._row_hash(prev, row)
            prev = row.hash
        session.execute(update(AuditHeadRow).values(hash=prev))
    assert verify(governed)[0] == 0, "with the key the chain alone cannot tell"
    code, output = verify(governed, "--anchor", str(anchors))
    assert code == 4 and "differs from the anchor" in output


def test_an_approved_action_rewritten_before_it_is_written_is_refused(flow_env: str, tmp_path: Path) -> None:
    """The run dies after the approval is recorded; before recovery writes it, someone changes the
    approved IBAN and recomputes the (now keyed) digest as a plain SHA-256."""
    run = start(flow_env, "run", "invoices", "--inbox", str(write_inbox(tmp_path / "inbox")))
    request = paused_request(run)
    kill(run)
    assert cli("approvals", "approve", request.flow_run_id, "--as", "alice").returncode == 0
    with transaction() as session:
        approval = session.execute(select(ApprovalRow).order_by(ApprovalRow.id).limit(1)).scalar_one()
        payload = {**approval.action_payload, "iban": "GB33BUKB20201555555555"}
        approval.action_payload, approval.action_digest = (
            payload,
            digest({"proposal": approval.proposal_id, "tool": "payables.post", "payload": payload}),
        )
        target = approval.proposal_id
    (report,) = lines(cli("recover", "--json").stdout)
    assert (report["executed"], report["failed"]) == (2, 1)
    with transaction() as session:
        assert session.get(ProposalRow, target).status == Status.FAILED
        assert all(p.iban != "GB33BUKB20201555555555" for p in session.execute(select(PayableRow)).scalars())
        refused = session.execute(select(AuditRow).where(AuditRow.event == "execution_refused")).scalars().all()
    assert [r.proposal_id for r in refused] == [target] and "digest mismatch" in refused[0].data["reason"]
