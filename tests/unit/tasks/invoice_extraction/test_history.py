"""The vendor memory in the store (SQLite and PostgreSQL): imported history, postings approved
through the gate, the memory's version, and `opsgate extract` reading with it."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.governance import executor, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning import documents, releases
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.learning.replay import past_cases
from opsgate.models import EscalationReason
from opsgate.policy.loader import load_policy
from opsgate.store.db import transaction
from opsgate.store.tables import DocumentTextRow, LearntDocumentRow
from opsgate.workflows import by_name
from tasks.invoice_extraction import history
from tasks.invoice_extraction.batch import read_options
from tasks.invoice_extraction.memory import MEMORY_RELEASE
from tasks.invoice_extraction.models import Extraction
from tasks.invoice_extraction.replay import replay as replay_invoices
from tasks.invoice_extraction.steps import list_inbox, propose_postings, read_documents
from tests.support.batches import Batch, open_request
from tests.support.policies import use_policy_variant
from tests.unit.tasks.invoice_extraction.test_memory import FIRST, SECOND, WITH_GOODS_TOTAL, statement


def _read(run: runs.Run, documents: Path | list[Path]) -> list[Extraction]:
    """An inbox's documents read as the flow reads them (in this process), outside Prefect."""
    missing_data = run.policy.escalation.missing_data
    paths = list_inbox(documents) if isinstance(documents, Path) else documents
    return read_documents.fn(paths, tuple(missing_data.fields if missing_data else ()), read_options())


def _learnt() -> list[LearntDocumentRow]:
    with transaction() as session:
        return list(session.execute(select(LearntDocumentRow).order_by(LearntDocumentRow.id)).scalars())


def test_import_learns_the_good_lines_and_names_each_bad_one(opsgate_env: str, tmp_path: Path) -> None:
    (tmp_path / "second.txt").write_text(SECOND)
    lines = [
        json.dumps(
            {
                "text": FIRST,
                "fields": {
                    "vendor_name": "Kestrel Supplies Ltd",
                    "invoice_number": "KS/2024/0117",
                    "invoice_date": "2024-04-03",
                    "total": "128.50",
                },
            }
        ),
        "{not json",
        json.dumps(
            {
                "path": "second.txt",
                "fields": {"vendor_name": "Kestrel Supplies Ltd", "invoice_number": "KS/2024/0142", "total": "75.20"},
            }
        ),
        json.dumps({"text": FIRST, "fields": {"amount": "1.00"}}),
        json.dumps({"path": "gone.txt", "fields": {"total": "1.00"}}),
        json.dumps({"text": FIRST, "path": "second.txt", "fields": {}}),
        "",
        json.dumps({"text": FIRST, "fields": {"total": "a lot"}}),
    ]
    file = tmp_path / "history.jsonl"
    file.write_bytes(("\n".join(lines) + "\n").encode() + b'{"text": "caf\xe9", "fields": {}}\n')

    result = CliRunner().invoke(app, ["history", "import", "invoices", str(file)], env={"COLUMNS": "200"})

    assert result.exit_code == 1, result.output
    for number, reason in [
        (2, "not JSON"),
        (4, "unknown field(s): amount"),
        (5, "file not found"),
        (6, 'exactly one of "text" and "path"'),
        (8, "total"),
        (9, "not UTF-8"),
    ]:
        assert any(
            line.lstrip("│ ").startswith(str(number)) and reason in line for line in result.output.splitlines()
        ), (number, result.output)
    rows = _learnt()
    assert [(row.vendor, row.fields["invoice_number"]) for row in rows] == [
        ("kestrelsuppliesltd", "KS/2024/0117"),
        ("kestrelsuppliesltd", "KS/2024/0142"),
    ]
    assert rows[0].origin.startswith("import:") and rows[0].text == FIRST

    again = CliRunner().invoke(app, ["history", "import", "invoices", str(file)])
    assert len(_learnt()) == 2, again.output  # the same documents are not learnt twice


def test_extract_reads_with_the_stored_memory_unless_told_not_to(opsgate_env: str, tmp_path: Path) -> None:
    file = tmp_path / "history.jsonl"
    file.write_text(
        json.dumps(
            {
                "text": FIRST,
                "fields": {"vendor_name": "Kestrel Supplies Ltd", "invoice_number": "KS/2024/0117", "total": "128.50"},
            }
        )
        + "\n"
    )
    assert CliRunner().invoke(app, ["history", "import", "invoices", str(file)]).exit_code == 0
    (tmp_path / "second.txt").write_text(SECOND)

    with_memory = json.loads(CliRunner().invoke(app, ["extract", str(tmp_path / "second.txt"), "--json"]).stdout)
    without = json.loads(
        CliRunner().invoke(app, ["extract", str(tmp_path / "second.txt"), "--json", "--no-history"]).stdout
    )

    assert (with_memory["status"], with_memory["fields"]["invoice_number"], with_memory["fields"]["total"]) == (
        "ok",
        "KS/2024/0142",
        "75.20",
    )
    assert (without["status"], without["fields"]["invoice_number"], without["fields"]["total"]) == (
        "escalated",
        None,
        None,
    )


def test_the_version_names_how_many_documents_and_which(opsgate_env: str) -> None:
    history.add(history.Approved("import:a", "a" * 64, FIRST, history.approved_from({"fields": {"total": "128.50"}})))
    first = history.load()
    history.add(history.Approved("import:b", "b" * 64, SECOND, history.approved_from({"fields": {"total": "75.20"}})))
    second = history.load()
    assert first is not None and second is not None
    assert first.version.startswith("history.1+") and second.version.startswith("history.2+")
    assert len(first.version.split("+")[1]) == 8


def test_a_posting_approved_with_a_correction_teaches_the_next_document(opsgate_env: str, tmp_path: Path) -> None:
    """The rules take "Total goods" for the total; the approver corrects it to the balance. Once the
    posting is executed, the vendor's next statement is read at the balance, and the disagreement shown."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = ["Invoice No: KS-0150", "Bolts 4 x 15.00     60.00", "Total goods     60.00", "Carriage   15.20"]
    (inbox / "kestrel-0150.txt").write_text(statement("KS/2024/0150", "07/06/2024", rows, "75.20"))
    run = runs.start_run(governing("invoice_extraction"), "test")
    [proposal] = propose_postings.fn(run, _read(run, inbox))
    assert proposal.payload is not None and proposal.payload["total"] == "60.00"  # what the rules read
    batch = Batch(run, [proposal], runs.check_policy(run, [proposal]))
    request = open_request(batch)
    answer = answer_for(request, "alice", edits={proposal.id: {"total": "75.20"}})
    for decision in decide(request.id, answer):
        executor.execute_one(run.policy, decision.proposal_id)

    memory = history.load()
    [row] = _learnt()
    assert (row.origin, row.fields["total"], row.profile["misread"]) == (f"proposal:{proposal.id}", "75.20", ["total"])
    assert memory is not None and memory.version.startswith("history.1+")

    later = tmp_path / "later"
    later.mkdir()
    rows = ["Invoice No: KS-0161", "Nuts 10 x 4.00     40.00", "Total goods     40.00", "Carriage   12.10"]
    (later / "kestrel-0161.txt").write_text(statement("KS/2024/0161", "21/06/2024", rows, "52.10"))
    later_run = runs.start_run(governing("invoice_extraction"), "test")
    [next_one] = propose_postings.fn(later_run, _read(later_run, list_inbox(later)))

    assert next_one.payload is not None and next_one.payload["total"] == "52.10"
    assert next_one.confidence["total"] == 0.6
    assert [(n.reason, n.field) for n in next_one.notices] == [(EscalationReason.CONFLICTING_SOURCES, "total")]
    assert next_one.inputs["memory"] == memory.version
    assert next_one.instruction_version == "rules-v1"  # the reader's: the memory's own version is in the inputs


def test_a_reversed_posting_is_forgotten(opsgate_env: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "kestrel.txt").write_text(
        statement(
            "KS/2024/0150",
            "07/06/2024",
            ["Invoice No: KS-0150", "Bolts 4 x 15.00     60.00", "Total goods     60.00"],
            "60.00",
        )
    )
    run = runs.start_run(governing("invoice_extraction"), "test")
    [proposal] = propose_postings.fn(run, _read(run, inbox))
    assert proposal.tool == "payables.post" and not proposal.escalations
    request = open_request(Batch(run, [proposal], runs.check_policy(run, [proposal])))
    for decision in decide(request.id, answer_for(request, "alice")):
        executor.execute_one(run.policy, decision.proposal_id)
    history.sync()
    assert len(_learnt()) == 1

    from opsgate.store.tables import PayableRow

    with transaction() as session:
        payable = session.execute(select(PayableRow)).scalar_one()
        payable.status = (
            "reversed"  # what the executor's undo of the posting leaves (tests/unit/platform cover the undo itself)
        )
    assert history.sync() == (0, 1)
    assert _learnt() == []


def _post(inbox: Path, edits: dict[str, str] | None = None) -> str:
    """Propose the inbox's one document through the real step, approve it (with ``edits``) and execute it."""
    run = runs.start_run(governing("invoice_extraction"), "test")
    [proposal] = propose_postings.fn(run, _read(run, inbox))
    request = open_request(Batch(run, [proposal], runs.check_policy(run, [proposal])), flow_run_id=run.id)
    for decision in decide(request.id, answer_for(request, "lena", edits={proposal.id: edits} if edits else None)):
        executor.execute_one(run.policy, decision.proposal_id)
    return proposal.id


def test_replay_with_history_reads_each_case_with_the_memory_of_its_day(opsgate_env: str, tmp_path: Path) -> None:
    """The first statement was corrected by hand (nothing learnt before it); the second was read with
    what the first taught. Replayed without history the second's total is the rules' again; with
    history it is what people approved, and the first is not read with its own approval."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "kestrel-0150.txt").write_text(
        statement(
            "KS/2024/0150", "07/06/2024", ["Invoice No: KS-0150", "Total goods     60.00", "Carriage   15.20"], "75.20"
        )
    )
    (second / "kestrel-0161.txt").write_text(
        statement(
            "KS/2024/0161", "21/06/2024", ["Invoice No: KS-0161", "Total goods     40.00", "Carriage   12.10"], "52.10"
        )
    )
    first_id = _post(first, {"total": "75.20"})
    second_id = _post(second)
    now = datetime.now(timezone.utc)
    cases = past_cases("invoice_extraction", now - timedelta(days=1), now + timedelta(seconds=1))

    plain = dict(
        zip(
            (c.proposal_id for c in cases),
            replay_invoices(cases, "rules-v1", load_policy("invoice_extraction")),
            strict=True,
        )
    )
    learnt = dict(
        zip(
            (c.proposal_id for c in cases),
            replay_invoices(cases, "rules-v1+history", load_policy("invoice_extraction")),
            strict=True,
        )
    )

    assert (plain[first_id].payload["total"], plain[second_id].payload["total"]) == ("60.00", "40.00")  # type: ignore[union-attr, index]
    assert (learnt[first_id].payload["total"], learnt[second_id].payload["total"]) == ("60.00", "52.10")  # type: ignore[union-attr, index]
    assert "memory" not in learnt[first_id].inputs and learnt[second_id].inputs["memory"].startswith("history.1+")  # type: ignore[union-attr]


def test_show_lists_the_version_and_each_vendors_documents(opsgate_env: str, tmp_path: Path) -> None:
    file = tmp_path / "history.jsonl"
    file.write_text(
        json.dumps(
            {
                "text": FIRST,
                "fields": {"vendor_name": "Kestrel Supplies Ltd", "invoice_number": "KS/2024/0117", "total": "128.50"},
            }
        )
        + "\n"
        + json.dumps(
            {
                "text": SECOND,
                "fields": {"vendor_name": "Kestrel Supplies Ltd", "invoice_number": "KS/2024/0142", "total": "75.20"},
            }
        )
        + "\n"
    )
    assert CliRunner().invoke(app, ["history", "import", "invoices", str(file)]).exit_code == 0

    shown = json.loads(CliRunner().invoke(app, ["history", "show", "invoices", "--json"]).stdout)

    assert shown["version"].startswith("history.2+")
    assert shown["vendors"] == {
        "kestrelsuppliesltd": {"documents": 2, "fields": ["invoice_number", "total", "vendor_name"]}
    }


def test_the_extract_table_shows_a_disagreement_as_a_note(opsgate_env: str, tmp_path: Path) -> None:
    first = statement(
        "KS/2024/0150", "07/06/2024", ["Invoice No: KS-0150", "Total goods     60.00", "Carriage   15.20"], "75.20"
    )
    file = tmp_path / "history.jsonl"
    file.write_text(
        json.dumps(
            {
                "text": first,
                "fields": {"vendor_name": "Kestrel Supplies Ltd", "invoice_number": "KS-0150", "total": "75.20"},
            }
        )
        + "\n"
    )
    assert CliRunner().invoke(app, ["history", "import", "invoices", str(file)]).exit_code == 0
    later = tmp_path / "kestrel-0161.txt"
    later.write_text(
        statement(
            "KS/2024/0161", "21/06/2024", ["Invoice No: KS-0161", "Total goods     40.00", "Carriage   12.10"], "52.10"
        )
    )

    shown = CliRunner().invoke(app, ["extract", str(later)], env={"COLUMNS": "400"})

    assert shown.exit_code == 0, shown.output
    assert "note: conflicting_sources (total): the rules read 40.00" in shown.output and "52.10" in shown.output


def test_a_posting_learnt_by_another_run_at_the_same_moment_does_not_stop_this_one(
    opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs that learn the same new posting at once: on PostgreSQL the second insert fails on the
    unique origin. The run reads the memory as stored instead of failing its propose step."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "kestrel.txt").write_text(
        statement("KS/2024/0150", "07/06/2024", ["Invoice No: KS-0150", "Total goods     60.00"], "60.00")
    )
    _post(inbox)
    history.add(
        history.Approved(
            "import:a",
            "a" * 64,
            FIRST,
            history.approved_from({"fields": {"vendor_name": "Kestrel Supplies Ltd", "total": "128.50"}}),
        )
    )

    def raced(session: Any, workflow: str, learnt: documents.Learnt) -> None:
        raise IntegrityError(
            "INSERT INTO learnt_documents ...", {}, Exception("duplicate key value violates unique constraint")
        )

    monkeypatch.setattr(documents, "_learn_one", raced)
    memory = history.load()

    assert memory is not None and memory.version.startswith(
        "history.1+"
    )  # the imported document; the posting is learnt next time


def test_the_same_document_twice_in_one_batch_keeps_its_text_once(opsgate_env: str) -> None:
    """Two files with the same bytes (a copy in the inbox) have one digest: one text is kept, and
    the batch is not refused by the store's key."""
    sha = "c" * 64
    copies = [
        Extraction(source=name, status="ok", text="INVOICE 7\nTotal 12.00", inputs={"sha256": sha, "size": 20})
        for name in ("inbox/a.txt", "inbox/copy-of-a.txt")
    ]
    assert history.record_texts(copies) == 1
    assert history.record_texts(copies) == 0
    with transaction() as session:
        kept = session.execute(select(DocumentTextRow.digest)).scalars().all()
    assert kept == [sha]


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_two_runs_keeping_the_same_document_s_text_at_once_both_go_on(opsgate_env: str) -> None:
    """Two inboxes share an invoice, and their runs keep its text at the same moment: the second
    finds the digest new, then meets the first's row, uncommitted, when it writes. It waits for it
    and leaves it as it is, rather than failing its whole batch on the duplicate key. (SQLite
    takes its write lock when a transaction begins, so there the second reads after the first.)"""
    sha = "d" * 64
    with transaction() as session:  # the store as opsgate makes it, before the other run writes there
        assert session.execute(select(DocumentTextRow.digest)).all() == []
    engine = create_engine(opsgate_env)
    pool = ThreadPoolExecutor(1)
    with engine.connect() as other:
        writing = other.begin()
        other.execute(
            insert(DocumentTextRow).values(digest=sha, text="the other run's", recorded_at=datetime.now(timezone.utc))
        )
        keeping = pool.submit(documents.keep_texts, {sha: "this run's", "e" * 64: "another document"})
        time.sleep(1.0)  # this run has read the digests and waits on the other's row to write
        assert not keeping.done(), "the write waits for the run that holds the row"
        writing.commit()
    assert keeping.result(timeout=30) == 2  # both were new when it looked
    pool.shutdown()
    engine.dispose()
    with transaction() as session:
        kept = dict(session.execute(select(DocumentTextRow.digest, DocumentTextRow.text)).all())
    assert kept == {sha: "the other run's", "e" * 64: "another document"}


def _goods_statement(folder: Path, number: str, issued: str, goods: str, carriage: str) -> list[Path]:
    """An inbox holding one Kestrel statement whose "Total goods" line the rules take for its total."""
    folder.mkdir()
    balance = f"{Decimal(goods) + Decimal(carriage):.2f}"
    rows = [f"Invoice No: KS-{number}", f"Total goods     {goods}", f"Carriage   {carriage}"]
    (folder / f"kestrel-{number}.txt").write_text(statement(f"KS/2024/{number}", issued, rows, balance))
    return list_inbox(folder)


def test_a_memory_the_policy_has_not_released_waits_in_shadow_until_its_release_is_approved(
    opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vendor's first statement was approved before opsgate (imported: its total is the amount
    after carriage). Under a policy whose go_live leaves the memory out, the second statement is the
    rules' reading ("Total goods") with the held-back memory's version beside it; the approver
    corrects it. A replay of the memory agrees with that correction, so its release is proposed;
    once approved, the third statement is read with the memory."""
    imported = tmp_path / "history.jsonl"
    imported.write_text(
        json.dumps({"text": WITH_GOODS_TOTAL, "fields": {"vendor_name": "Kestrel Supplies Ltd", "total": "75.20"}})
        + "\n"
    )
    assert CliRunner().invoke(app, ["history", "import", "invoices", str(imported)]).exit_code == 0

    def without_memory(policy: dict[str, Any]) -> None:
        policy["go_live"]["released"].remove(MEMORY_RELEASE)

    use_policy_variant(tmp_path / "policies", monkeypatch, without_memory)
    run = runs.start_run(governing("invoice_extraction"), "test")
    [proposal] = propose_postings.fn(
        run, _read(run, _goods_statement(tmp_path / "second", "0161", "21/06/2024", "40.00", "12.10"))
    )
    assert proposal.payload is not None and proposal.payload["total"] == "40.00", "the rules' reading alone"
    assert "memory" not in proposal.inputs and proposal.inputs["memory_shadowed"].startswith("history.1+")
    assert proposal.instruction_version == "rules-v1"
    request = open_request(Batch(run, [proposal], runs.check_policy(run, [proposal])), flow_run_id=run.id)
    for decision in decide(request.id, answer_for(request, "lena", edits={proposal.id: {"total": "52.10"}})):
        executor.execute_one(run.policy, decision.proposal_id)

    now = datetime.now(timezone.utc)
    (case,) = past_cases("invoice_extraction", now - timedelta(days=1), now + timedelta(seconds=1))
    (replayed,) = replay_invoices([case], MEMORY_RELEASE, load_policy("invoice_extraction"))
    assert replayed.payload["total"] == "52.10" and replayed.inputs["memory"].startswith("history.1+")  # type: ignore[union-attr, index]

    release_run = runs.start_run(governing("invoice_extraction"), "cli:lena")
    release, report = releases.propose_release(by_name("invoice_extraction"), release_run.policy, MEMORY_RELEASE)
    assert report.ready and release.payload["version"] == MEMORY_RELEASE
    runs.check_policy(release_run, [release])
    pending = requests.open_request(
        "invoice_extraction", release_run.id, "release-run", "release-1", [release], requests.deadline_in(600)
    )
    (decision,) = decide(pending.id, answer_for(pending, "olga"))
    executor.execute_one(release_run.policy, decision.proposal_id)

    live = runs.start_run(governing("invoice_extraction"), "test")
    [read] = propose_postings.fn(
        live, _read(live, _goods_statement(tmp_path / "third", "0170", "05/07/2024", "30.00", "9.90"))
    )
    assert read.payload is not None and read.payload["total"] == "39.90", "released: read with the memory"
    assert "memory_shadowed" not in read.inputs and read.inputs["memory"].startswith("history.")
