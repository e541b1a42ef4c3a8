"""The hash-chained audit log: appends verify, any change or removal is caught and located,
and exports carry every event. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import delete, text, update
from typer.testing import CliRunner

from opsgate import audit
from opsgate.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow
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
            seqs.append(audit.append(session, event, workflow="wf", actor=actor, run_id="run-1", proposal_id="p-1", data=data).seq)
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
