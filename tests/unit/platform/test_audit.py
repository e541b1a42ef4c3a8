"""The hash-chained audit log: appends verify, any change or removal is caught and located,
and exports carry every event. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opsgate.errors import AuditIntegrityError, ConfigurationError
from opsgate.governance import executor
from opsgate.governance.answers import answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.learning.decisions import decide
from opsgate.models import digest
from opsgate.settings import get_settings
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AuditHeadRow, AuditRow, ExecutionRow, UserRow
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.receiver import Receiver
from tests.unit.platform.conftest import StoreProbe

EVENTS = [
    (AuditEvent.TRIGGERED, "cron", {"trigger": "cron", "parameters": {"inbox": "in"}}),
    (AuditEvent.PROPOSED, "rules-v1", {"source": "a.pdf", "payload": {"total": "12.50", "currency": "EUR"}}),
    (AuditEvent.APPROVED, "alice", {"approver": "alice", "edits": {}}),
    (AuditEvent.EXECUTED, "opsgate-executor", {"target": "payables/1", "attempt": 1}),
    (AuditEvent.COMPLETED, "opsgate", {"counts": {"executed": 1}, "open": []}),
]


@pytest.fixture
def five_events(store: StoreProbe) -> list[int]:
    """Five events appended in two transactions; returns their sequence numbers."""
    seqs = []
    with transaction() as session:
        for event, actor, data in EVENTS[:2]:
            seqs.append(audit.append(session, event, workflow="wf", actor=actor, run_id="run-1", data=data).seq)
    with transaction() as session:
        for event, actor, data in EVENTS[2:]:
            seqs.append(
                audit.append(
                    session, event, workflow="wf", actor=actor, run_id="run-1", proposal_id="p-1", data=data
                ).seq
            )
    return seqs


def verify() -> audit.VerifyResult:
    with transaction() as session:
        return audit.verify(session)


def test_an_empty_log_verifies(store: StoreProbe) -> None:
    result = verify()
    assert result.ok and result.rows == 0


def test_appended_events_are_numbered_and_chained(five_events: list[int]) -> None:
    assert five_events == [1, 2, 3, 4, 5]
    result = verify()
    assert result.ok, result.problem
    assert result.rows == 5


def test_a_rolled_back_append_leaves_no_gap(five_events: list[int], store: StoreProbe) -> None:
    with pytest.raises(RuntimeError), transaction() as session:
        audit.append(session, AuditEvent.FAILED, workflow="wf", actor="x")
        raise RuntimeError("the work failed")
    with transaction() as session:
        row = audit.append(session, AuditEvent.COMPLETED, workflow="wf", actor="x")
    assert row.seq == 6
    assert verify().ok


def test_changed_data_is_caught_at_that_row(five_events: list[int]) -> None:
    with transaction() as session:
        session.execute(update(AuditRow).where(AuditRow.seq == 3).values(data={"approver": "mallory", "edits": {}}))
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 3


def test_changed_actor_is_caught_at_that_row(five_events: list[int]) -> None:
    with transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4"))
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 4


def test_a_removed_middle_row_is_caught(five_events: list[int]) -> None:
    with transaction() as session:
        session.execute(delete(AuditRow).where(AuditRow.seq == 2))
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 2


def test_a_removed_last_row_is_caught_by_the_head(five_events: list[int]) -> None:
    with transaction() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 5


def test_a_rewritten_hash_is_still_caught_by_the_next_row(five_events: list[int]) -> None:
    """Changing a row and recomputing its own hash breaks the link from the row after it."""
    with transaction() as session:
        row = session.get(AuditRow, 2)
        assert row is not None
        row.actor = "mallory"
        row.hash = audit._row_hash(row.prev_hash, row)
    result = verify()
    assert not result.ok
    assert result.first_bad_seq == 3


def _one_waits_on_the_other(first: list[Callable[[Session], None]], second: Callable[[Session], None]) -> dict:
    """Run the ``first`` transaction's steps, stopping between them (holding what it took) until the
    ``second`` transaction has had time to reach the store and wait on it; each one's outcome:
    "committed", or what it raised."""
    held, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def run(name: str, steps: list[Callable[[Session], None]]) -> None:
        try:
            with transaction() as session:
                for n, step in enumerate(steps):
                    if n:
                        held.set()
                        assert release.wait(30)
                    step(session)
            outcome[name] = "committed"
        except Exception as exc:  # noqa: BLE001 - how each one ends is the point
            outcome[name] = exc

    first_writer = threading.Thread(target=run, args=("first", first))
    first_writer.start()
    assert held.wait(30)
    second_writer = threading.Thread(target=run, args=("second", [second]))
    second_writer.start()
    second_writer.join(0.5)  # long enough to reach the store and wait on the first transaction
    release.set()
    first_writer.join(30)
    second_writer.join(30)
    return outcome


def _event(actor: str) -> Callable[[Session], None]:
    return lambda session: audit.append(session, AuditEvent.TRIGGERED, workflow="wf", actor=actor)


def test_a_writer_queues_on_the_head_before_its_pending_rows_go_out(store: StoreProbe) -> None:
    """A transaction that holds the head and later writes a row, and another that adds the same row
    and then appends: the second waits for the head before writing anything, so it meets the first
    one's committed row as a plain conflict. Written first, its row would wait on the first
    transaction while the first waits on it: a deadlock the database settles by failing one."""
    with transaction() as session:
        _event("before")(session)

    def holder_writes(session: Session) -> None:
        session.add(UserRow(key="ana", name="Ana", password_hash="x"))
        _event("holder")(session)
        audit.write_held(session)

    def second(session: Session) -> None:
        session.add(UserRow(key="ana", name="Ana", password_hash="y"))
        _event("second")(session)

    outcome = _one_waits_on_the_other([audit.hold_head, holder_writes], second)
    assert outcome["first"] == "committed", outcome
    assert isinstance(outcome["second"], IntegrityError) and "users" in str(outcome["second"]), outcome
    assert [e.actor for e in store.events("triggered")] == ["before", "holder"] and verify().ok


def test_the_first_two_writers_of_a_new_store_queue_on_its_head(store: StoreProbe) -> None:
    """The store is made with its head: the first writer locks it and the second waits, where both
    once found no head, each made one, and the second failed on the key."""
    assert store.count(AuditRow) == 0
    outcome = _one_waits_on_the_other([_event("first"), lambda _: None], _event("second"))
    assert outcome == {"first": "committed", "second": "committed"}
    assert [e.actor for e in store.events("triggered")] == ["first", "second"] and verify().ok


def parse_jsonl(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def parse_csv(out: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(out)))
    return [{**row, "seq": int(row["seq"]), "data": json.loads(row["data"])} for row in rows]


@pytest.mark.parametrize("fmt, parse", [("jsonl", parse_jsonl), ("csv", parse_csv)])
def test_export_round_trips_every_event(five_events: list[int], fmt: str, parse) -> None:  # noqa: ANN001
    out = io.StringIO()
    with transaction() as session:
        count = audit.write_export(audit.export_rows(session), out, fmt)
    rows = parse(out.getvalue())
    assert count == len(rows) == len(EVENTS)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["event"] for r in rows] == [str(event) for event, _, _ in EVENTS]
    assert [r["actor"] for r in rows] == [actor for _, actor, _ in EVENTS]
    assert [r["data"] for r in rows] == [data for _, _, data in EVENTS]
    # Each exported row carries the link to the one before it.
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert all(row["prev_hash"] == prev["hash"] for prev, row in zip(rows, rows[1:]))


def test_export_filters_by_workflow(five_events: list[int]) -> None:
    with transaction() as session:
        audit.append(session, AuditEvent.TRIGGERED, workflow="other", actor="cron")
    out = io.StringIO()
    with transaction() as session:
        audit.write_export(audit.export_rows(session, "other"), out, "jsonl")
    rows = parse_jsonl(out.getvalue())
    assert [(r["workflow"], r["seq"]) for r in rows] == [("other", 6)]


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli():  # noqa: ANN201
    from opsgate.cli.app import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def flat(text_: str) -> str:
    """Rich wraps long lines; compare with whitespace collapsed."""
    return " ".join(text_.split())


def test_cli_verify_passes_on_an_intact_log(five_events: list[int], cli) -> None:  # noqa: ANN001
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "5 audit rows" in flat(result.output)


def test_cli_verify_exits_4_and_names_the_changed_row(five_events: list[int], cli) -> None:  # noqa: ANN001
    with transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    result = cli("audit", "verify")
    assert result.exit_code == 4, result.output
    assert re.search(r"first bad row: 3\b", flat(result.output)), result.output


def test_cli_verify_exits_4_when_the_last_row_is_gone(five_events: list[int], cli) -> None:  # noqa: ANN001
    with transaction() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    result = cli("audit", "verify")
    assert result.exit_code == 4, result.output
    assert re.search(r"first bad row: 5\b", flat(result.output)), result.output


def test_cli_export_csv(five_events: list[int], cli) -> None:  # noqa: ANN001
    result = cli("audit", "export", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = parse_csv(result.stdout)
    assert [r["event"] for r in rows] == [str(event) for event, _, _ in EVENTS]


def test_cli_export_jsonl(five_events: list[int], cli) -> None:  # noqa: ANN001
    result = cli("audit", "export", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = parse_jsonl(result.stdout)
    assert [r["event"] for r in rows] == [str(event) for event, _, _ in EVENTS]
    assert [r["data"] for r in rows] == [data for _, _, data in EVENTS]


# --- an insider: the database without the key, the key without an anchor ----------------------


def _rechain(session, start: int, hasher) -> None:  # noqa: ANN001
    """Recompute every hash from row ``start`` on, and the head, as someone rewriting history would."""
    rows = session.query(AuditRow).order_by(AuditRow.seq).all()
    prev = rows[start - 2].hash if start > 1 else audit.GENESIS
    for row in rows[start - 1 :]:
        row.prev_hash = prev
        row.hash = hasher(prev, row)
        prev = row.hash
    session.flush()
    session.execute(update(AuditHeadRow).values(seq=rows[-1].seq, hash=prev))


def _unkeyed(prev: str, row: AuditRow) -> str:
    """The best someone without the audit key can do: a plain SHA-256 of the same content."""
    return digest({"prev": prev, "row": audit._content(row)})


def test_a_rewrite_with_plain_hashes_does_not_verify(five_events: list[int]) -> None:
    with transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
        _rechain(session, 3, _unkeyed)
    result = verify()
    assert not result.ok and result.first_bad_seq == 3
    assert "without the audit key" in result.problem


def test_the_log_does_not_verify_under_another_key(five_events: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGATE_AUDIT_KEY", "k" * 40)
    get_settings.cache_clear()
    result = verify()
    assert not result.ok and result.first_bad_seq == 1


def test_a_short_audit_key_is_refused(store: StoreProbe, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGATE_AUDIT_KEY", "short")
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="needs at least 32"), transaction() as session:
        audit.append(session, AuditEvent.TRIGGERED, workflow="wf", actor="cron")


@pytest.fixture
def executed(store: StoreProbe, batch: Batch, request_: PendingRequest) -> list[str]:
    """The three invoices approved and written: payables, executions and their audit events."""
    decisions = decide(request_.id, answer_for(request_, "alice"))
    for decision in decisions:
        executor.execute_one(batch.run.policy, decision.proposal_id)
    assert store.count(ExecutionRow) == 3
    return [d.proposal_id for d in decisions]


def test_an_emptied_log_does_not_verify_while_executions_remain(executed: list[str]) -> None:
    with transaction() as session:
        session.execute(delete(AuditRow))
        session.execute(delete(AuditHeadRow))
    result = verify()
    assert not result.ok and result.rows == 0
    assert re.search(r"3 execution\(s\) in the store have no executed audit event", result.problem), result.problem


def test_a_cut_tail_with_the_head_moved_back_does_not_verify(executed: list[str]) -> None:
    """The newest rows removed and the last surviving hash copied into the head: the chain itself
    is consistent, but the store's executions are not in it."""
    with transaction() as session:
        (first_executed,) = session.execute(select(func.min(AuditRow.seq)).where(AuditRow.event == "executed")).one()
        survivor = session.get(AuditRow, first_executed - 1)
        session.execute(delete(AuditRow).where(AuditRow.seq >= first_executed))
        session.execute(update(AuditHeadRow).values(seq=survivor.seq, hash=survivor.hash))
    result = verify()
    assert not result.ok
    assert "have no executed audit event" in result.problem


def anchored(path: Path) -> list[audit.Anchor]:
    with transaction() as session:
        taken = audit.anchor(session)
    path.write_text(taken.model_dump_json() + "\n", encoding="utf-8")
    return audit.read_anchors(path.read_text(encoding="utf-8").splitlines(), str(path))


def verify_against(anchors: list[audit.Anchor]) -> audit.VerifyResult:
    with transaction() as session:
        return audit.verify(session, anchors)


def test_an_anchor_holds_while_the_log_only_grows(five_events: list[int], tmp_path: Path) -> None:
    anchors = anchored(tmp_path / "anchors.jsonl")
    assert anchors[0].seq == 5
    with transaction() as session:
        audit.append(session, AuditEvent.COMPLETED, workflow="wf", actor="x")
    result = verify_against(anchors)
    assert result.ok and result.rows == 6 and result.anchored == 5


def test_a_rewrite_by_someone_holding_the_key_is_caught_by_the_anchor(five_events: list[int], tmp_path: Path) -> None:
    anchors = anchored(tmp_path / "anchors.jsonl")
    with transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
        _rechain(session, 2, audit._row_hash)
    assert verify().ok, "with the key, a consistent rewrite passes the chain alone"
    result = verify_against(anchors)
    assert not result.ok
    assert result.problem.startswith("row 5 differs from the anchor taken at"), result.problem


def test_a_log_cut_below_its_anchor_is_caught(five_events: list[int], tmp_path: Path) -> None:
    anchors = anchored(tmp_path / "anchors.jsonl")
    with transaction() as session:
        survivor = session.get(AuditRow, 3)
        session.execute(delete(AuditRow).where(AuditRow.seq > 3))
        session.execute(update(AuditHeadRow).values(seq=3, hash=survivor.hash))
    assert verify().ok, "no store rows refer to the removed events"
    result = verify_against(anchors)
    assert not result.ok and "the log has 3 rows but was anchored at row 5" in result.problem


def test_an_anchor_not_signed_with_the_key_is_refused(five_events: list[int], tmp_path: Path) -> None:
    (taken,) = anchored(tmp_path / "anchors.jsonl")
    forged = taken.model_copy(update={"seq": 4, "hash": "f" * 64})
    result = verify_against([forged])
    assert not result.ok and "is not signed with this audit key" in result.problem


def test_a_broken_log_is_not_anchored(five_events: list[int]) -> None:
    with transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4"))
    with pytest.raises(AuditIntegrityError, match="not anchored"), transaction() as session:
        audit.anchor(session)


def test_an_actor_is_bounded_and_its_control_characters_shown(store: StoreProbe) -> None:
    with transaction() as session:
        row = audit.append(session, AuditEvent.APPROVAL_REFUSED, workflow="wf", actor="m\x1b[2J" + "a" * 400)
    assert len(row.actor) == audit.ACTOR_CHARS and row.actor.startswith("m\\x1b[2J") and row.actor.endswith("…")
    assert verify().ok


def test_cli_anchor_then_verify_against_it(five_events: list[int], cli, tmp_path: Path) -> None:  # noqa: ANN001
    anchors = tmp_path / "anchors.jsonl"
    assert cli("audit", "anchor", "--to", str(anchors)).exit_code == 0
    result = cli("audit", "verify", "--anchor", str(anchors))
    assert result.exit_code == 0, result.output
    assert "nothing up to row 5 changed since it was anchored" in flat(result.output)
    with transaction() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
        _rechain(session, 1, audit._row_hash)
    result = cli("audit", "verify", "--anchor", str(anchors))
    assert result.exit_code == 4, result.output
    assert "differs from the anchor" in flat(result.output)


def test_without_store_documents_the_log_keeps_digests_not_values(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`logging.store_documents: false`: the audit log still verifies and still backs every write,
    but holds no value read from a document (the cases and the ledger hold those)."""
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda p: p["logging"].update(store_documents=False))
    batch = proposed_batch(write_inbox(tmp_path / "inbox"))
    request = open_request(batch)
    us = next(p for p in batch.proposals if p.source.endswith("us.pdf"))
    for decision in decide(request.id, answer_for(request, "alice", edits={us.id: {"po_number": "PO-1"}})):
        executor.execute_one(batch.run.policy, decision.proposal_id)
    assert store.count(ExecutionRow) == 3
    with transaction() as session:
        exported = json.dumps([row["data"] for row in audit.export_rows(session)])
    for value in ("BOS-24-0317", "Brightline", "1222.56", "PO-1"):
        assert value not in exported, value
    assert {e.data["field"] for e in store.events("corrected")} == {"po_number"}
    assert all(e.data["digest"] for e in store.events("proposed")) and verify().ok


def test_the_csv_export_never_hands_a_spreadsheet_a_formula(store: StoreProbe) -> None:
    """An approver's name is whatever was typed: `=HYPERLINK(...)` in the actor column would run when
    the export is opened. It is written as text, and JSON lines keep it exact."""
    with transaction() as session:
        audit.append(
            session,
            AuditEvent.APPROVAL_REFUSED,
            workflow="wf",
            actor='=HYPERLINK("http://evil.example","x")',
            data={"problems": ["-1"]},
        )
        audit.append(session, AuditEvent.REJECTED, workflow="@wf", actor="+alice", run_id="-2")
    out = io.StringIO()
    with transaction() as session:
        audit.write_export(audit.export_rows(session), out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["actor"] for r in rows] == ['\'=HYPERLINK("http://evil.example","x")', "'+alice"]
    assert [r["workflow"] for r in rows] == ["wf", "'@wf"] and rows[1]["run_id"] == "-2", (
        "a plain number stays a number"
    )
    out = io.StringIO()
    with transaction() as session:
        audit.write_export(audit.export_rows(session), out, "jsonl")
    assert [json.loads(line)["actor"] for line in out.getvalue().splitlines()] == [
        '=HYPERLINK("http://evil.example","x")',
        "+alice",
    ]


def test_cli_anchor_posted_to_a_channel_verifies_as_an_anchor_file(
    five_events: list[int], cli, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """The anchor a chat channel received, saved as it came, is an anchor `verify --anchor` accepts."""
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda p: p.update(channels={"audit-trail": {"kind": "webhook", "url": receiver.url}}),
    )
    result = cli("audit", "anchor", "--channel", "invoice_extraction:audit-trail")
    assert result.exit_code == 0, result.output
    (request,) = receiver.requests
    body = request.json()
    assert body["event"] == "audit.anchor" and body["data"]["seq"] == 5
    saved = tmp_path / "from-the-channel.jsonl"
    saved.write_text(json.dumps(body["data"]) + "\n", encoding="utf-8")
    assert cli("audit", "verify", "--anchor", str(saved)).exit_code == 0
    assert cli("audit", "anchor", "--channel", "invoice_extraction:nowhere").exit_code == 2
