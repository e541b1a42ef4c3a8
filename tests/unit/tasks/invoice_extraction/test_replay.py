"""Replay of the invoice workflow on past runs built through the real path (``decided`` in the
conftest: us approved with a corrected PO number, de approved, uk rejected), on SQLite and PostgreSQL.

Replayed with the rules (the version that proposed them), the new proposals are the original
ones: us agrees on 11 of its 12 approved fields, de on all 12 (23/24), and uk would be written
although people rejected it. A document whose bytes are no longer those the case stored a digest
of is not replayed; one whose case stored none (an older case) is.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from opsgate.errors import ConfigurationError
from opsgate.learning.replay import ChangedField, ReplayReport, compare, past_cases, replay
from opsgate.models import Status
from opsgate.policy.loader import load_policy
from opsgate.store.db import transaction
from opsgate.store.tables import (
    ApprovalRequestRow,
    ApprovalRow,
    AuditRow,
    ExecutionRow,
    PayableRow,
    ProposalRow,
    RunRow,
)
from opsgate.workflows import by_name
from tasks.invoice_extraction.llm_extraction import current_prompt
from tasks.invoice_extraction.replay import Reader, reader_for
from tasks.invoice_extraction.replay import replay as replay_invoices
from tests.support.batches import Batch
from tests.support.fake_llm import FakeLlm, llm_configured
from tests.support.pdf_builder import text_pdf
from tests.support.samples import DE_INVOICE
from tests.unit.platform.conftest import StoreProbe

SPEC = by_name("invoice_extraction")
TABLES = (RunRow, ProposalRow, ApprovalRequestRow, ApprovalRow, ExecutionRow, PayableRow, AuditRow)
US_AS_READ = {
    "document_type": "invoice",
    "vendor_name": "Brightline Office Supply LLC",
    "invoice_number": "BOS-24-0317",
    "invoice_date": "2024-03-15",
    "due_date": "2024-04-14",
    "currency": "USD",
    "subtotal": 1132.0,
    "tax_total": 90.56,
    "total": 1222.56,
    "po_number": "PO-55821",
}


def _replay(version: str) -> ReplayReport:
    now = datetime.now(timezone.utc)
    return replay(SPEC, version, now - timedelta(days=30), now + timedelta(seconds=1))


def _counts(store: StoreProbe) -> dict[str, int]:
    return {table.__tablename__: store.count(table) for table in TABLES}


def test_the_rules_replayed_agree_except_where_people_corrected_and_write_nothing(
    store: StoreProbe, decided: Batch
) -> None:
    before = _counts(store)

    report = _replay("rules-v1")

    assert _counts(store) == before  # no run, proposal, approval, execution, payable or audit row
    assert (report.cases, report.replayed, report.unavailable) == (3, 3, [])
    assert report.original_versions == {"rules-v1": 3} and report.new_versions == {"rules-v1": 3}
    assert (report.approved_actions, report.actions_agreed, report.fields_compared, report.fields_agreed) == (
        2,
        1,
        24,
        23,
    )
    assert report.agreement == round(23 / 24, 4)
    assert {f.field: (f.agreed, f.compared) for f in report.fields}["po_number"] == (1, 2)
    assert all((f.agreed, f.compared) == (2, 2) for f in report.fields if f.field != "po_number")
    (us,) = [p.source for p in decided.proposals if Path(p.source).name == "us.pdf"]
    assert report.changed == [ChangedField(source=us, field="po_number", final="PO-55812", new="PO-55821")]
    assert [(Path(c.source).name, c.original, c.new) for c in report.wrong] == [("uk.pdf", Status.REJECTED, "write")]
    assert (report.missed, report.new_failures, report.now_writes) == (
        [],
        [],
        [],
    )  # the executed postings are not duplicates of themselves
    assert not report.ready
    assert (
        report.verdict == "not ready: 23/24 fields of 2 approved actions agree (95.8%, minimum 100.0%); "
        "1 would write where people rejected, 0 would not write where people wrote, 0 new failures"
    )


def test_a_deleted_document_is_no_longer_available(store: StoreProbe, decided: Batch) -> None:
    (gone,) = [p.source for p in decided.proposals if Path(p.source).name == "de.pdf"]
    Path(gone).unlink()

    report = _replay("rules-v1")

    assert (report.cases, report.replayed) == (3, 2)
    assert [(u.source, u.reason) for u in report.unavailable] == [(gone, f"the document is gone: no file at {gone}")]
    assert (report.approved_actions, report.fields_compared, report.fields_agreed) == (1, 12, 11)


def _source(batch: Batch, name: str) -> Path:
    (source,) = [p.source for p in batch.proposals if Path(p.source).name == name]
    return Path(source)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_each_case_stored_the_digest_of_the_document_it_was_proposed_from(decided: Batch) -> None:
    now = datetime.now(timezone.utc)
    for case in past_cases("invoice_extraction", now - timedelta(days=1), now + timedelta(seconds=1)):
        data = Path(case.source).read_bytes()
        assert case.inputs == {"sha256": _sha(data), "bytes": len(data)}


def test_a_changed_document_is_no_longer_available_and_the_others_are_replayed(
    store: StoreProbe, decided: Batch
) -> None:
    de = _source(decided, "de.pdf")
    before = _sha(de.read_bytes())
    de.write_bytes(text_pdf([*DE_INVOICE, "Bankverbindung geändert"]))  # the same name, other bytes

    report = _replay("rules-v1")

    assert (report.cases, report.replayed) == (3, 2)
    assert [(u.source, u.reason) for u in report.unavailable] == [
        (str(de), f"the document changed since it was proposed: sha256 {before[:12]} now {_sha(de.read_bytes())[:12]}"),
    ]
    assert (report.approved_actions, report.fields_compared, report.fields_agreed) == (
        1,
        12,
        11,
    )  # us, untouched, replayed as before
    assert [(Path(c.source).name, c.new) for c in report.wrong] == [("uk.pdf", "write")]


def test_an_emptied_document_has_changed_too(store: StoreProbe, decided: Batch) -> None:
    de = _source(decided, "de.pdf")
    before = _sha(de.read_bytes())
    de.write_bytes(b"")

    report = _replay("rules-v1")

    assert [u.reason for u in report.unavailable] == [
        f"the document changed since it was proposed: sha256 {before[:12]} now an empty file"
    ]
    assert report.new_failures == []


def test_a_case_stored_without_a_digest_is_replayed_from_the_file_as_it_is(store: StoreProbe, decided: Batch) -> None:
    """Cases proposed before digests were kept cannot be checked: they are read as today."""
    de = _source(decided, "de.pdf")
    with transaction() as session:
        session.execute(update(ProposalRow).where(ProposalRow.source == str(de)).values(inputs=None))
    de.write_bytes(text_pdf([*DE_INVOICE, "Bankverbindung geändert"]))

    report = _replay("rules-v1")

    assert (report.cases, report.replayed, report.unavailable) == (3, 3, [])
    assert report.approved_actions == 2


def test_the_llm_version_is_replayed_through_the_endpoint(
    store: StoreProbe, decided: Batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake endpoint answers the US invoice's fields for every document: they fit the US
    invoice (11/12, the corrected PO number aside); for the others the invoice number is not in
    the text, the answer is refused and the case escalated: de, which people posted, is missed
    (0/12), uk, which they rejected, is rightly left to them."""
    cases = past_cases(
        "invoice_extraction",
        datetime.now(timezone.utc) - timedelta(days=1),
        datetime.now(timezone.utc) + timedelta(seconds=1),
    )
    before = _counts(store)
    with llm_configured(monkeypatch):
        proposals = replay_invoices(
            cases, current_prompt().ident, load_policy("invoice_extraction"), client=FakeLlm(US_AS_READ).client()
        )

    assert _counts(store) == before
    assert [p.instruction_version for p in proposals] == [current_prompt().ident] * 3
    figures = compare(load_policy("invoice_extraction"), current_prompt().ident, cases, proposals, 1.0)
    assert (figures["approved_actions"], figures["fields_compared"], figures["fields_agreed"]) == (2, 24, 11)
    assert [(Path(c.source).name, c.new) for c in figures["missed"]] == [("de.pdf", "escalate")]
    assert "tool_failure" in figures["missed"][0].detail
    assert (figures["wrong"], figures["new_failures"]) == ([], [])


def test_the_versions_it_can_replay() -> None:
    current = current_prompt()
    assert reader_for("rules-v1") == Reader("rules")
    assert reader_for(current.ident) == reader_for(f"extract_invoice.v{current.version}") == Reader("llm", current)
    assert reader_for(f"rules-v1+{current.ident}") == Reader("auto", current)
    with pytest.raises(
        ConfigurationError,
        match="'summarise_week.v1' cannot be replayed; name rules-v1 .*prompt versions in .*: extract_invoice.v1$",
    ):
        reader_for("summarise_week.v1")
