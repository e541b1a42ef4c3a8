"""The executor writes only approved, unchanged actions, exactly once, with an undo record and
an audit event in the same transaction. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import DuplicateWrite, ExecutionError, InputError, PolicyDenied
from opsgate.governance import executor, runs, undoing
from opsgate.governance.answers import answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import EscalationReason, Outcome, Route, Status, action_digest, digest
from opsgate.settings import PROJECT_ROOT
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, ExecutionRow, PayableRow, ProposalRow, UndoRow
from opsgate.writers.payables import PayablePosting, PayablesPost
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import US_INVOICE
from tests.support.undo import undo_through_gate
from tests.unit.platform.conftest import StoreProbe, by_source

WORKFLOW = "invoice_extraction"


def approve_all(request: PendingRequest) -> list[str]:
    return [d.proposal_id for d in decide(request.id, answer_for(request, "alice"))]


def assert_refused(store: StoreProbe, batch: Batch, proposal_id: str, *words: str) -> PolicyDenied:
    before = store.count(ExecutionRow)
    with pytest.raises(PolicyDenied) as caught:
        executor.execute_one(batch.run.policy, proposal_id)
    for word in words:
        assert word in str(caught.value)
    assert store.count(PayableRow, PayableRow.proposal_id == proposal_id) == 0
    assert store.count(ExecutionRow) == before
    refused = store.events("execution_refused", proposal_id)
    assert refused, "a refusal must be audited"
    assert all(word in refused[-1].data["reason"] for word in words)
    return caught.value


# --- no approval -----------------------------------------------------------------------------


def test_without_an_approval_nothing_is_written(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    pid = request_.proposals[0].id
    assert_refused(store, batch, pid)
    assert store.count(PayableRow) == 0
    assert store.get(ProposalRow, pid).status == Status.AWAITING_APPROVAL


def test_an_unknown_proposal_is_refused(store: StoreProbe, batch: Batch) -> None:
    with pytest.raises(PolicyDenied):
        executor.execute_one(batch.run.policy, "00000000-0000-0000-0000-000000000000")
    assert store.count(PayableRow) == 0


# --- approve, execute, replay ----------------------------------------------------------------


def test_approved_proposals_are_written_once_each(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    approved = approve_all(request_)
    assert sorted(approved) == sorted(p.id for p in batch.proposals)
    for pid in approved:
        outcome = executor.execute_one(batch.run.policy, pid)
        assert outcome.status is Status.EXECUTED
        assert outcome.target is not None and outcome.target.startswith("payables/")
    assert store.count(PayableRow) == 3
    for pid in approved:
        assert store.count(PayableRow, PayableRow.proposal_id == pid) == 1
        assert store.count(ExecutionRow, ExecutionRow.proposal_id == pid) == 1
        assert store.get(ProposalRow, pid).status == Status.EXECUTED
        (executed,) = store.events("executed", pid)
        assert executed.data["approval"]["approver"] == "alice"
    assert store.count(UndoRow) == 3
    assert {u.undo_tool for u in store.rows(UndoRow)} == {"payables.reverse"}


def test_the_written_row_is_the_approved_invoice(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    approve_all(request_)
    pid = by_source(batch, "us.pdf")
    executor.execute_one(batch.run.policy, pid)
    (row,) = store.rows(PayableRow, PayableRow.proposal_id == pid)
    # Expected values come from the sample document (tests.support.samples.US_INVOICE).
    assert row.vendor_name == "Brightline Office Supply LLC"
    assert row.invoice_number == "BOS-24-0317"
    assert row.currency == "USD"
    assert row.total == Decimal("1222.56")
    assert row.status == "posted"


def test_a_replay_writes_nothing_new(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    pid = approve_all(request_)[0]
    first = executor.execute_one(batch.run.policy, pid)
    again = executor.execute_one(batch.run.policy, pid, attempt=2)
    assert again.status is Status.EXECUTED
    assert again.target == first.target
    assert store.count(PayableRow) == 1
    assert store.count(ExecutionRow) == 1
    assert store.count(UndoRow) == 1
    assert len(store.events("executed", pid)) == 1


# --- a crash between the write and its audit event -------------------------------------------


def test_a_crash_before_the_audit_event_leaves_nothing_behind(
    store: StoreProbe, batch: Batch, request_: PendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = approve_all(request_)[0]
    real_append = executor.audit.append
    calls = {"n": 0}

    def crash_once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("connection lost while auditing")
        return real_append(*args, **kwargs)

    monkeypatch.setattr(executor.audit, "append", crash_once)
    with pytest.raises(ConnectionError):
        executor.execute_one(batch.run.policy, pid)
    assert calls["n"] == 1
    assert store.count(PayableRow) == 0
    assert store.count(ExecutionRow) == 0
    assert store.count(UndoRow) == 0
    assert store.events("executed") == []
    assert store.get(ProposalRow, pid).status == Status.APPROVED

    outcome = executor.execute_one(batch.run.policy, pid, attempt=2)
    assert outcome.status is Status.EXECUTED
    assert store.count(PayableRow, PayableRow.proposal_id == pid) == 1
    assert store.count(ExecutionRow) == 1
    (executed,) = store.events("executed", pid)
    assert executed.data["attempt"] == 2


# --- tampering after approval ----------------------------------------------------------------


def test_a_proposal_changed_after_approval_is_refused(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    pid = approve_all(request_)[0]
    with transaction() as session:
        row = session.get(ProposalRow, pid)
        session.execute(
            update(ProposalRow).where(ProposalRow.id == pid).values(payload={**row.payload, "total": "99999.00"})
        )
    assert_refused(store, batch, pid, "digest")
    assert store.count(PayableRow) == 0


def test_a_proposal_changed_with_an_unkeyed_digest_is_refused(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    """Someone with the database but not the audit key can only compute a plain SHA-256."""
    pid = approve_all(request_)[0]
    with transaction() as session:
        row = session.get(ProposalRow, pid)
        payload = {**row.payload, "total": "99999.00"}
        row.payload, row.digest = payload, digest({"proposal": pid, "tool": row.tool, "payload": payload})
    assert_refused(store, batch, pid, "digest mismatch")
    assert store.count(PayableRow) == 0


def test_a_proposal_changed_with_its_keyed_digest_recomputed_is_refused(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    """Even someone holding the key cannot make the rewrite fit what the audit log recorded."""
    pid = approve_all(request_)[0]
    with transaction() as session:
        row = session.get(ProposalRow, pid)
        payload = {**row.payload, "total": "99999.00"}
        row.payload, row.digest = payload, action_digest(pid, row.tool, payload)
    assert_refused(store, batch, pid, "no intact proposed audit event")
    assert store.count(PayableRow) == 0


def test_an_approved_action_changed_after_approval_is_refused(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    pid = approve_all(request_)[0]
    with transaction() as session:
        approval = session.execute(ApprovalRow.__table__.select().where(ApprovalRow.proposal_id == pid)).one()
        session.execute(
            update(ApprovalRow)
            .where(ApprovalRow.id == approval.id)
            .values(action_payload={**approval.action_payload, "iban": "GB00EVIL00000000000000"})
        )
    assert_refused(store, batch, pid, "digest")
    assert store.count(PayableRow) == 0


# --- rejected, expired -----------------------------------------------------------------------


def test_a_rejected_proposal_is_refused(store: StoreProbe, batch: Batch, request_: PendingRequest) -> None:
    pid = by_source(batch, "uk.pdf")
    decide(request_.id, answer_for(request_, "alice", rejections={pid: "not ours"}))
    assert_refused(store, batch, pid)
    assert store.count(PayableRow) == 0


# --- auto ------------------------------------------------------------------------------------


@pytest.fixture
def auto_policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped policy with invoices on `auto`, as the policy directory."""
    return use_policy_variant(
        tmp_path / "policies", monkeypatch, lambda policy: policy["autonomy"].update(invoice="auto")
    ).parent


def test_auto_writes_without_a_person(store: StoreProbe, auto_policy_dir: Path, inbox: Path) -> None:
    batch = proposed_batch(inbox)
    assert {v.route for v in batch.verdicts} == {Route.AUTO}
    pid = by_source(batch, "de.pdf")
    assert store.get(ProposalRow, pid).status == Status.APPROVED
    outcome = executor.execute_one(batch.run.policy, pid)
    assert outcome.status is Status.EXECUTED
    assert store.count(ApprovalRow) == 0
    (execution,) = store.rows(ExecutionRow)
    assert execution.approval_id is None
    (row,) = store.rows(PayableRow)
    assert (row.invoice_number, row.total) == ("NT-2024-0815", Decimal("1493.45"))
    (executed,) = store.events("executed", pid)
    assert executed.data["approval"] == "auto (policy)"


def test_an_auto_proposal_needs_an_approval_under_a_reviewed_policy(
    store: StoreProbe, auto_policy_dir: Path, inbox: Path
) -> None:
    """`auto` is the policy's word at execution time: a policy put back to reviewed stops it."""
    from opsgate.policy.loader import load_policy_file

    batch = proposed_batch(inbox)
    reviewed = load_policy_file(PROJECT_ROOT / "policies" / "invoice_extraction.yaml")
    with pytest.raises(PolicyDenied, match="no approval"):
        executor.execute_one(reviewed, batch.proposals[0].id)
    assert store.count(PayableRow) == 0


# --- undo ------------------------------------------------------------------------------------


def test_undo_is_a_write_of_its_own_that_waits_for_a_person_and_happens_once(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    pid = approve_all(request_)[0]
    target = executor.execute_one(batch.run.policy, pid).target
    run = runs.start_run(governing(WORKFLOW), "cli:olga")
    proposal = undoing.propose_undo(run, pid, "posted to the wrong period")
    assert (proposal.tool, proposal.case_type, proposal.payload["target"]) == ("payables.reverse", "undo", target)
    (verdict,) = runs.check_policy(run, [proposal])
    assert verdict.route is Route.APPROVE, "taking a write back is never autonomous"
    with pytest.raises(PolicyDenied, match="not approved"):
        executor.execute_one(run.policy, proposal.id)
    assert [r.status for r in store.rows(PayableRow)] == ["posted"]

    outcome = undo_through_gate(pid, "olga", "posted to the wrong period")
    assert outcome.status == Status.EXECUTED and outcome.target == target
    (row,) = store.rows(PayableRow, PayableRow.proposal_id == pid)
    assert row.status == "reversed"
    (record,) = store.rows(UndoRow)
    assert record.undone_at is not None and record.undone_by == f"proposal {outcome.proposal_id}"
    (undone,) = store.events("undone", pid)
    assert undone.data["target"] == target and undone.data["reason"] == "posted to the wrong period"
    (approved,) = store.events("approved", outcome.proposal_id)
    assert approved.actor == "olga"

    with pytest.raises(InputError, match="already undone"):
        undoing.undo_workflow(pid)
    assert len(store.events("undone", pid)) == 1
    assert store.count(PayableRow) == 1  # reversal marks, never deletes


def test_undo_of_a_proposal_never_executed_is_refused(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    pid = approve_all(request_)[0]
    with pytest.raises(InputError, match="never executed"):
        undoing.undo_workflow(pid)
    assert store.events("undone") == []


# --- double postings -------------------------------------------------------------------------


def test_the_payables_writer_refuses_a_second_posting(store: StoreProbe) -> None:
    posting = PayablePosting(
        vendor_name="ACME Ltd.",
        invoice_number="A-1",
        invoice_date="2024-01-02",
        currency="EUR",
        total="10.00",
        source="a.pdf",
    )
    same_vendor_other_spelling = posting.model_copy(
        update={"vendor_name": "Acme Ltd", "invoice_number": " A-1 ", "source": "b.pdf"}
    )
    with transaction() as session:
        PayablesPost().apply(session, posting, "p-1")
    with pytest.raises(ExecutionError) as caught, transaction() as session:
        PayablesPost().apply(session, same_vendor_other_spelling, "p-2")
    assert caught.value.retryable is False
    assert "already posted" in str(caught.value)
    assert store.count(PayableRow) == 1


def test_two_approved_proposals_for_one_invoice_post_once(store: StoreProbe, tmp_path: Path) -> None:
    """Both runs proposed before either posted: the executor's writer is the last line."""
    first = proposed_batch(write_inbox(tmp_path / "in1", {"us.pdf": US_INVOICE}))
    second = proposed_batch(write_inbox(tmp_path / "in2", {"us-copy.pdf": US_INVOICE}))
    assert [v.route for v in first.verdicts + second.verdicts] == [Route.APPROVE, Route.APPROVE]
    (p1,) = approve_all(open_request(first, "flow-1"))
    (p2,) = approve_all(open_request(second, "flow-2"))
    executor.execute_one(first.run.policy, p1)
    with pytest.raises(ExecutionError) as caught:
        executor.execute_one(second.run.policy, p2)
    assert caught.value.retryable is False
    assert store.count(PayableRow) == 1
    assert store.count(ExecutionRow, ExecutionRow.proposal_id == p2) == 0


def test_an_invoice_already_posted_is_escalated_as_a_duplicate(
    store: StoreProbe, batch: Batch, request_: PendingRequest, tmp_path: Path
) -> None:
    approve_all(request_)
    executor.execute_one(batch.run.policy, by_source(batch, "us.pdf"))
    again = proposed_batch(write_inbox(tmp_path / "later", {"resent.pdf": US_INVOICE}))
    (verdict,) = again.verdicts
    assert verdict.route is Route.ESCALATE
    assert [e.reason for e in verdict.escalations] == [EscalationReason.POSSIBLE_DUPLICATE]
    assert store.get(ProposalRow, verdict.proposal_id).status == Status.ESCALATED
    assert store.count(PayableRow) == 1


# --- the database's own guard against double payment ------------------------------------------


def _posting(status: str) -> PayableRow:
    return PayableRow(
        vendor_name="Acme Ltd",
        vendor_key="acmeltd",
        invoice_number="A-1",
        document_type="invoice",
        invoice_date=date(2024, 1, 2),
        currency="EUR",
        total=Decimal("10.00"),
        source="a.pdf",
        proposal_id="p",
        status=status,
    )


def test_the_store_refuses_a_second_live_posting_of_one_invoice(store: StoreProbe) -> None:
    """The unique index under the writer's check: a second live posting of one invoice is refused
    by the database itself, a reversed one is not."""
    with transaction() as session:
        session.add(_posting("posted"))
    with pytest.raises(IntegrityError), transaction() as session:
        session.add(_posting("posted"))
    with transaction() as session:  # a reversed posting does not block posting the invoice again
        session.add(_posting("reversed"))
    assert store.count(PayableRow) == 2


# --- two executors at once --------------------------------------------------------------------


def _hold_until_the_other_waits(session: Session, other_called: threading.Event) -> None:
    """Keep this executor's transaction open, its write made, until the other executor is queued
    behind it. PostgreSQL shows the wait: a lock request on this transaction, not granted. SQLite
    has nothing to show (its writers queue at BEGIN IMMEDIATE), so the other gets a moment to
    arrive after it has called the executor."""
    assert other_called.wait(30), "the other executor was never called"
    if session.get_bind().dialect.name != "postgresql":
        time.sleep(0.5)
        return
    waiting_on_me = text(
        "SELECT count(*) FROM pg_locks w WHERE w.locktype = 'transactionid' AND NOT w.granted AND w.transactionid = "
        "(SELECT transactionid FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'transactionid' AND granted)"
    )
    deadline = time.monotonic() + 30
    while session.execute(waiting_on_me).scalar_one() == 0:
        if time.monotonic() > deadline:
            pytest.fail("the other executor never waited for this one's transaction: the proposal was not locked")
        time.sleep(0.05)


def test_two_executors_racing_on_one_approved_proposal_write_it_once(
    store: StoreProbe, batch: Batch, request_: PendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers (say, a retried task and `opsgate recover`) execute the same approved proposal at
    the same moment, released together by a barrier. The one that reaches the writer holds its
    transaction open until the other is queued behind it; the other must then find the write and
    write nothing, with no database error, and the audit chain must still verify."""
    pid = by_source(batch, "us.pdf")
    approve_all(request_)
    called = {name: threading.Event() for name in ("first", "second")}
    in_writer: list[str] = []
    real_apply = PayablesPost.apply

    def apply_and_hold(self: PayablesPost, session: Session, payload: PayablePosting, proposal_id: str) -> str:
        in_writer.append(threading.current_thread().name)
        target = real_apply(self, session, payload, proposal_id)
        (other,) = [event for name, event in called.items() if name != threading.current_thread().name]
        _hold_until_the_other_waits(session, other)
        return target

    monkeypatch.setattr(PayablesPost, "apply", apply_and_hold)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def execute(name: str) -> None:
        barrier.wait(30)
        called[name].set()
        try:
            results[name] = executor.execute_one(batch.run.policy, pid)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
            results[name] = exc

    threads = [threading.Thread(target=execute, args=(name,), name=name) for name in called]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "an executor is still running"

    assert len(in_writer) == 1, f"both executors reached the writer: {results}"
    (writer,) = in_writer
    written, other = results[writer], results[next(name for name in called if name != writer)]
    assert isinstance(written, Outcome) and written.status is Status.EXECUTED, written
    assert written.detail == f"written to {written.target}" and written.target.startswith("payables/")
    refused_cleanly = isinstance(other, PolicyDenied)
    found_the_write = isinstance(other, Outcome) and (other.status, other.detail, other.target) == (
        Status.EXECUTED,
        "already executed; nothing written again",
        written.target,
    )
    assert refused_cleanly or found_the_write, f"the second executor: {other!r}"
    assert store.count(PayableRow, PayableRow.proposal_id == pid) == 1
    assert store.count(ExecutionRow, ExecutionRow.proposal_id == pid) == 1
    assert store.count(UndoRow) == 1
    assert len(store.events("executed", pid)) == 1
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "chain intact" in verified.stdout, verified.output


# --- batches: one commit for many actions, each action whole ----------------------------------


def test_a_batch_writes_each_approved_action_once_with_its_own_key_undo_record_and_audit_event(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    approved = approve_all(request_)
    written, alone = executor.execute_batch(batch.run.policy, approved)
    assert alone == {} and list(written) == approved
    for pid in approved:
        assert written[pid].status is Status.EXECUTED and written[pid].detail == f"written to {written[pid].target}"
        assert store.count(PayableRow, PayableRow.proposal_id == pid) == 1
        assert store.count(ExecutionRow, ExecutionRow.proposal_id == pid) == 1
        assert store.count(UndoRow, UndoRow.idempotency_key == executor.idempotency_key(WORKFLOW, pid)) == 1
        (executed,) = store.events("executed", pid)
        assert executed.data["target"] == written[pid].target and executed.data["approval"]["approver"] == "alice"
    again, alone = executor.execute_batch(batch.run.policy, approved)
    assert alone == {} and {o.detail for o in again.values()} == {"already executed; nothing written again"}
    assert store.count(PayableRow) == 3 and len(store.events("executed")) == 3


def test_actions_that_fail_in_a_batch_are_undone_alone_while_the_others_commit(
    store: StoreProbe, batch: Batch, request_: PendingRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first failure rolls the whole batch back; the batch goes again without it, each action in
    a savepoint, and the second failure is undone there alone. Each write is made before it fails,
    so a leftover would show."""
    approved = approve_all(request_)
    failing = [approved[0], approved[2]]
    real_apply = PayablesPost.apply

    def apply_then_fail(self: PayablesPost, session: Session, payload: PayablePosting, proposal_id: str) -> str:
        target = real_apply(self, session, payload, proposal_id)  # its write is made, then the connection drops
        if proposal_id in failing:
            raise ConnectionError(f"connection lost while writing {proposal_id}")
        return target

    monkeypatch.setattr(PayablesPost, "apply", apply_then_fail)
    written, alone = executor.execute_batch(batch.run.policy, approved)
    assert list(alone) == failing and list(written) == [approved[1]]
    for pid in failing:
        assert isinstance(alone[pid], ConnectionError) and pid in str(alone[pid]), "each goes with its own error"
        assert store.count(PayableRow, PayableRow.proposal_id == pid) == 0, "its write went back"
        assert store.count(ExecutionRow, ExecutionRow.proposal_id == pid) == 0
        assert store.events("executed", pid) == [] and store.get(ProposalRow, pid).status == Status.APPROVED
    assert store.count(PayableRow) == 1 and len(store.events("executed")) == 1 and store.count(UndoRow) == 1

    monkeypatch.setattr(PayablesPost, "apply", real_apply)
    for pid in failing:
        assert executor.execute_one(batch.run.policy, pid, attempt=2).status is Status.EXECUTED
    assert store.count(PayableRow) == 3 and store.count(UndoRow) == 3
    with transaction() as session:
        assert executor.audit.verify(session).ok


def test_a_refused_action_in_a_batch_is_left_to_go_alone_where_its_refusal_is_recorded(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    rejected = request_.proposals[0].id
    decide(request_.id, answer_for(request_, "alice", rejections={rejected: "not ours"}))
    ids = [p.id for p in request_.proposals]
    written, alone = executor.execute_batch(batch.run.policy, ids)
    assert alone == {rejected: None} and sorted(written) == sorted(ids[1:])
    assert store.count(PayableRow, PayableRow.proposal_id == rejected) == 0
    assert_refused(store, batch, rejected, "rejected")
    assert store.count(PayableRow) == 2


CRASH_MID_BATCH = """
import os, sys
from opsgate.governance import executor
from opsgate.policy.loader import load_policy
from opsgate.writers.payables import PayablesPost

real_apply, seen = PayablesPost.apply, []

def apply_then_die_on_the_second(self, session, payload, proposal_id):
    seen.append(proposal_id)
    if len(seen) == 2:
        os._exit(9)  # the process dies with the first action written in the batch's open transaction
    return real_apply(self, session, payload, proposal_id)

PayablesPost.apply = apply_then_die_on_the_second
executor.execute_batch(load_policy(sys.argv[1]), sys.argv[2:])
"""


def test_a_process_killed_between_two_actions_of_a_batch_leaves_nothing_and_the_retry_writes_each_once(
    store: StoreProbe, batch: Batch, request_: PendingRequest
) -> None:
    approved = approve_all(request_)
    died = subprocess.run(
        [sys.executable, "-c", CRASH_MID_BATCH, WORKFLOW, *approved], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert died.returncode == 9, died.stderr
    assert store.count(PayableRow) == 0 and store.count(ExecutionRow) == 0 and store.events("executed") == []
    assert {store.get(ProposalRow, pid).status for pid in approved} == {Status.APPROVED}

    written, alone = executor.execute_batch(batch.run.policy, approved)
    assert alone == {} and {o.detail for o in written.values()} == {f"written to {o.target}" for o in written.values()}
    for pid in approved:
        assert store.count(PayableRow, PayableRow.proposal_id == pid) == 1
        assert len(store.events("executed", pid)) == 1
    with transaction() as session:
        assert executor.audit.verify(session).ok


def test_a_second_posting_refused_at_the_write_goes_to_the_owner_as_a_possible_duplicate(
    store: StoreProbe, tmp_path: Path
) -> None:
    """Two runs proposed one invoice before either posted; the second write is refused, and its case
    ends as the check at proposal time would have ended it: escalated as a possible duplicate, not a
    tool's failure (which would count against the case type's earned autonomy)."""
    first = proposed_batch(write_inbox(tmp_path / "in1", {"us.pdf": US_INVOICE}))
    second = proposed_batch(write_inbox(tmp_path / "in2", {"us-copy.pdf": US_INVOICE}))
    (p1,) = approve_all(open_request(first, "flow-1"))
    (p2,) = approve_all(open_request(second, "flow-2"))
    executor.execute_batch(first.run.policy, [p1])
    written, alone = executor.execute_batch(second.run.policy, [p2])
    assert written == {} and isinstance(alone[p2], DuplicateWrite)
    outcome = executor.record_failure(second.run.policy, p2, alone[p2])
    assert outcome.status is Status.ESCALATED and outcome.detail.startswith("possible_duplicate: invoice BOS-24-0317")
    row = store.get(ProposalRow, p2)
    assert row.status == Status.ESCALATED and [e["reason"] for e in row.escalations] == ["possible_duplicate"]
    (escalated,) = store.events("escalated", p2)
    assert escalated.data["reasons"][0]["reason"] == "possible_duplicate" and "ap-lead" in escalated.data["to"]
    assert store.events("failed", p2) == [] and store.count(PayableRow) == 1
