"""Quarantine: a source that failed as often as the policy allows is moved aside before it is read
again, and audited; the move never loses the file (both stores)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from opsgate.governance import runs
from opsgate.inputs.quarantine import FOLDER, quarantine
from opsgate.learning.governing import governing
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow
from tasks.invoice_extraction.steps import list_inbox
from tests.support.batches import proposed_batch, write_inbox
from tests.support.samples import US_INVOICE

BROKEN = b"%PDF-1.7 nothing else"


def _quarantined() -> list[dict]:
    with transaction() as session:
        return [
            row.data
            for row in session.execute(
                select(AuditRow).where(AuditRow.event == "quarantined").order_by(AuditRow.seq)
            ).scalars()
        ]


def _fail_runs(inbox: Path, times: int) -> None:
    for _ in range(times):
        proposed_batch(inbox)


def test_a_source_that_failed_as_often_as_the_policy_says_is_moved_aside_and_audited(
    opsgate_env: str, tmp_path: Path
) -> None:
    inbox = write_inbox(tmp_path / "inbox", {"us.pdf": US_INVOICE, "broken.pdf": BROKEN})
    _fail_runs(inbox, 2)
    run = runs.start_run(governing("invoice_extraction"), "test")
    assert [p.name for p in quarantine(run, list_inbox(inbox), inbox / FOLDER)] == ["broken.pdf", "us.pdf"], (
        "two failures: still read"
    )

    _fail_runs(inbox, 1)  # the third failure is escalated as repeated_failure: it counts as failed too
    run = runs.start_run(governing("invoice_extraction"), "test")
    kept = quarantine(run, list_inbox(inbox), inbox / FOLDER)

    assert [p.name for p in kept] == ["us.pdf"]
    assert not (inbox / "broken.pdf").exists() and (inbox / FOLDER / "broken.pdf").read_bytes() == BROKEN
    assert [p.name for p in list_inbox(inbox)] == ["us.pdf"], "the hidden folder is no document"
    (row,) = _quarantined()
    assert (row["source"], row["moved_to"], row["failures"]) == (
        str(inbox / "broken.pdf"),
        str(inbox / FOLDER / "broken.pdf"),
        3,
    )
    assert "does not start like a PDF" in row["last_error"] or "damaged" in row["last_error"]
    with transaction() as session:
        assert audit.verify(session).ok


def test_a_file_put_back_after_its_quarantine_starts_counting_again(opsgate_env: str, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox", {"broken.pdf": BROKEN})
    _fail_runs(inbox, 3)
    quarantine(runs.start_run(governing("invoice_extraction"), "test"), list_inbox(inbox), inbox / FOLDER)
    (inbox / FOLDER / "broken.pdf").rename(inbox / "broken.pdf")  # a person put it back

    assert [
        p.name
        for p in quarantine(runs.start_run(governing("invoice_extraction"), "test"), list_inbox(inbox), inbox / FOLDER)
    ] == ["broken.pdf"]
    _fail_runs(inbox, 3)
    assert quarantine(runs.start_run(governing("invoice_extraction"), "test"), list_inbox(inbox), inbox / FOLDER) == []
    assert (inbox / FOLDER / "broken.pdf").read_bytes() == BROKEN
    assert [row["failures"] for row in _quarantined()] == [3, 3]


def test_a_name_taken_in_the_folder_is_not_overwritten(opsgate_env: str, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox", {"broken.pdf": BROKEN})
    (inbox / FOLDER).mkdir()
    (inbox / FOLDER / "broken.pdf").write_bytes(b"put aside earlier")
    _fail_runs(inbox, 3)
    quarantine(runs.start_run(governing("invoice_extraction"), "test"), list_inbox(inbox), inbox / FOLDER)

    assert (inbox / FOLDER / "broken.pdf").read_bytes() == b"put aside earlier"
    assert (inbox / FOLDER / "broken.1.pdf").read_bytes() == BROKEN


def test_a_file_moved_without_its_audit_row_is_audited_by_the_next_run(opsgate_env: str, tmp_path: Path) -> None:
    """A crash between the move and the audit row leaves the file in the folder: nothing is lost,
    and the next run records it."""
    inbox = write_inbox(tmp_path / "inbox", {"us.pdf": US_INVOICE})
    (inbox / FOLDER).mkdir()
    (inbox / FOLDER / "moved.pdf").write_bytes(BROKEN)

    quarantine(runs.start_run(governing("invoice_extraction"), "test"), list_inbox(inbox), inbox / FOLDER)
    quarantine(runs.start_run(governing("invoice_extraction"), "test"), list_inbox(inbox), inbox / FOLDER)

    (row,) = _quarantined()
    assert row["moved_to"] == str(inbox / FOLDER / "moved.pdf") and "without an audit row" in row["found"]


def test_without_the_rule_nothing_is_moved(opsgate_env: str, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox", {"broken.pdf": BROKEN})
    _fail_runs(inbox, 4)
    run = runs.start_run(governing("invoice_extraction"), "test")
    run.policy.escalation.quarantine = None

    assert [p.name for p in quarantine(run, list_inbox(inbox), inbox / FOLDER)] == ["broken.pdf"]
    assert _quarantined() == []
