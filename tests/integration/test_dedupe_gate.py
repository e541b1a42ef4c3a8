"""The duplicate-flagging workflow end to end on a real Prefect server and real stores: merges wait
for a person, approved ones mark records (never delete), undo restores them, rejected clusters are
not proposed again, incremental runs look only at new records, and bad rows end recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from opsgate.errors import PolicyDenied
from opsgate.governance import executor, requests
from opsgate.governance.answers import answer_for
from opsgate.orchestration.resume import submit, wait_until_resumable
from opsgate.policy.loader import load_policy
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, MatchModelRow, ProposalRow, RecordRow
from tests.integration.conftest import undo_from_the_cli, wait_for_request
from tests.support.records import PLANTED, company_records, write_csv

WORKFLOW = "duplicate_flagging"


def _records() -> dict[str, RecordRow]:
    with transaction() as session:
        rows = session.execute(select(RecordRow).where(RecordRow.kind == "customers")).scalars().all()
        session.expunge_all()
    return {r.external_id: r for r in rows}


def _merged_pairs(records: dict[str, RecordRow]) -> set[frozenset[str]]:
    """Each merged record with the record it was merged into."""
    by_row_id = {r.id: r.external_id for r in records.values()}
    return {
        frozenset((external_id, by_row_id[r.merged_into]))
        for external_id, r in records.items()
        if r.merged_into is not None
    }


def _members(request: requests.PendingRequest) -> set[frozenset[str]]:
    return {frozenset([p.payload["survivor"], *p.payload["duplicates"]]) for p in request.proposals if p.payload}


def _companies(tmp_path: Path, name: str = "customers.csv") -> tuple[Path, set[frozenset[str]]]:
    rows, truth = company_records()
    return write_csv(tmp_path / name, rows), truth


def test_merges_wait_for_approval_then_mark_records_and_undo_restores_them(
    start_dedupe, flow_env: str, tmp_path: Path
) -> None:
    path, truth = _companies(tmp_path)
    run = start_dedupe(file=path, id_column="id")
    request = wait_for_request(WORKFLOW)
    wait_until_resumable(request)

    assert _members(request) == {frozenset(pair) for pair in truth}
    assert all(r.merged_into is None for r in _records().values()), "nothing is merged while the run waits at the gate"
    first = request.proposals[0]
    with pytest.raises(PolicyDenied):  # the executor will not act on a proposal nobody approved
        executor.execute_one(load_policy(WORKFLOW), first.id)
    assert all(r.merged_into is None for r in _records().values())

    submit(request, answer_for(request, "dana"))
    summary = run.finish()

    assert summary.counts == {"executed": 3}
    records = _records()
    assert len(records) == 75, "a merge never deletes a record"
    assert _merged_pairs(records) == truth

    # the copy without a postcode (d3) merged with its original keeps the original's postcode
    original, copy = next((o, c) for o, c, how in PLANTED if "postcode" in how)
    survivor = records[original] if records[original].merged_into is None else records[copy]
    assert survivor.data["postcode"] == records[original].data["postcode"] != ""

    def while_waiting(pending: Any) -> None:
        (proposal,) = pending.proposals
        assert (proposal.tool, proposal.case_type, proposal.payload["proposal_id"]) == (
            "records.unmerge",
            "undo",
            first.id,
        )
        assert _merged_pairs(_records()) == truth, "nothing is unmerged while the undo waits at the gate"

    output = undo_from_the_cli(flow_env, WORKFLOW, first.id, "dana", "erin", "wrong merge", {request.id}, while_waiting)
    assert "executed" in output
    after = _records()
    assert all(after[i].merged_into is None for i in first.payload["duplicates"])
    assert after[first.payload["survivor"]].data == _imported(first.payload["survivor"])
    assert _merged_pairs(after) == truth - {frozenset([first.payload["survivor"], *first.payload["duplicates"]])}
    (undone,) = _undone()
    assert (undone.proposal_id, undone.data["reason"]) == (first.id, "wrong merge")


def _undone() -> list[AuditRow]:
    with transaction() as session:
        rows = (
            session.execute(select(AuditRow).where(AuditRow.event == "undone").order_by(AuditRow.seq)).scalars().all()
        )
        session.expunge_all()
    return list(rows)


def _imported(external_id: str) -> dict[str, str]:
    """A record's data as the import stored it: every non-empty column but the id."""
    rows, _ = company_records()
    row = next(r for r in rows if r["id"] == external_id)
    return {k: v for k, v in row.items() if k != "id" and v}


def test_rejected_clusters_are_not_proposed_again(start_dedupe, tmp_path: Path) -> None:
    path, truth = _companies(tmp_path)
    run = start_dedupe(file=path, id_column="id")
    request = wait_for_request(WORKFLOW)
    assert _members(request) == {frozenset(pair) for pair in truth}
    submit(request, answer_for(request, "erin", {p.id: "different branches" for p in request.proposals}))
    assert run.finish().counts == {"rejected": 3}

    again = start_dedupe(kind="customers").finish()
    assert again.counts == {}, "a full run proposes nothing people already rejected"
    assert requests.pending_requests(WORKFLOW) == []
    assert all(r.merged_into is None for r in _records().values())


def test_incremental_run_matches_only_new_records_with_the_stored_model(start_dedupe, tmp_path: Path) -> None:
    rows, truth = company_records()
    (first_original, first_copy, _), *later = PLANTED
    arriving = {copy for _, copy, _ in later}
    existing = write_csv(tmp_path / "existing.csv", [r for r in rows if r["id"] not in arriving])
    run = start_dedupe(file=existing, id_column="id")
    request = wait_for_request(WORKFLOW)
    assert _members(request) == {frozenset((first_original, first_copy))}
    submit(request, answer_for(request, "finn"))
    assert run.finish().counts == {"executed": 1}

    new = write_csv(tmp_path / "new.csv", [r for r in rows if r["id"] in arriving])
    run = start_dedupe(file=new, id_column="id", incremental=True)
    request = wait_for_request(WORKFLOW, exclude={request.id})
    assert _members(request) == {frozenset((original, copy)) for original, copy, _ in later}
    submit(request, answer_for(request, "finn"))
    assert run.finish().counts == {"executed": 2}

    with transaction() as session:
        assert session.execute(select(func.count()).select_from(MatchModelRow)).scalar_one() == 1, (
            "an incremental run fits no new model"
        )
    assert _merged_pairs(_records()) == truth  # one merged by the full run, two by the incremental one

    run = start_dedupe()  # a full run: fits again, and learns from the approved merges
    request = wait_for_request(WORKFLOW, exclude={request.id}, run=run)
    if request is not None:  # possible duplicates among the distinct rest; none may touch a merged record
        live = {external_id for external_id, r in _records().items() if r.merged_into is None}
        assert all(members <= live for members in _members(request))
        submit(request, answer_for(request, "finn", {p.id: "distinct companies" for p in request.proposals}))
    run.finish()
    with transaction() as session:
        latest = session.execute(select(MatchModelRow).order_by(MatchModelRow.id.desc()).limit(1)).scalar_one()
    assert latest.model["confirmed_pairs"] == 3, "the full run's model learnt from the three approved merges"


def test_bad_rows_end_failed_with_their_reason_and_the_rest_is_matched(start_dedupe, tmp_path: Path) -> None:
    rows, truth = company_records()
    path = write_csv(tmp_path / "customers.csv", rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("broken,row,with,too,many,fields,here,and,more\n")
        handle.write(",Nameless Ltd,1 Nowhere,London,SW1A 1AA,,\n")
    run = start_dedupe(file=path, id_column="id")
    request = wait_for_request(WORKFLOW)
    assert _members(request) == {frozenset(pair) for pair in truth}
    submit(request, answer_for(request, "gus"))
    summary = run.finish()

    assert summary.counts == {"executed": 3, "failed": 2}
    with transaction() as session:
        failed = session.execute(select(ProposalRow).where(ProposalRow.status == "failed")).scalars().all()
        events = session.execute(select(AuditRow.event)).scalars().all()
    assert {(f.source, f.detail) for f in failed} == {
        (f"{path} the row 'broken,row,with,too,many,fields,here,and,more'", "9 fields where the header has 7"),
        (
            f"{path} record 76",
            "no value in the id column 'id'",
        ),  # after the 75 good rows; the broken row is not a record
    }
    assert {f.tool for f in failed} == {None}
    assert "imported" in events
