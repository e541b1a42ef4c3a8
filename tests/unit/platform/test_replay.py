"""Replay's platform side: which past cases are replayed and with what final action, how new
proposals are judged against them (a hand count), the verdict, and the command's exit codes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ConfigurationError
from opsgate.governance import executor
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.replay import PastCase, Unavailable, compare, past_cases, replay
from opsgate.models import Escalation, EscalationReason, Proposal, Status
from opsgate.policy.loader import load_policy
from opsgate.settings import PROJECT_ROOT
from opsgate.workflows import WorkflowSpec
from tests.support.batches import Batch, open_request, proposed_batch
from tests.unit.platform.conftest import StoreProbe, by_source

WORKFLOW = "invoice_extraction"
NOW = datetime.now(timezone.utc)
runner = CliRunner()


def _all_approved_one_corrected(batch: Batch) -> str:
    """Approve the batch with the US invoice's PO number corrected, execute it; the US proposal's id."""
    request = open_request(batch)
    us = by_source(batch, "us.pdf")
    for decision in decide(request.id, answer_for(request, "alice", edits={us: {"po_number": "PO-55812"}})):
        executor.execute_one(batch.run.policy, decision.proposal_id)
    return us


def test_the_newest_decided_case_of_each_source_with_the_action_as_approved(
    store: StoreProbe, batch: Batch, inbox: Path
) -> None:
    us = _all_approved_one_corrected(batch)
    again = proposed_batch(
        inbox
    )  # read again: escalated as duplicates of their own postings, which does not hide what people decided
    assert {v.route for v in again.verdicts} == {"escalate"}

    cases = past_cases(WORKFLOW, NOW - timedelta(hours=1), datetime.now(timezone.utc) + timedelta(seconds=1))

    assert sorted(Path(c.source).name for c in cases) == ["de.pdf", "uk.pdf", "us.pdf"]
    assert {c.proposal_id for c in cases} == {p.id for p in batch.proposals}
    assert all(c.status is Status.EXECUTED and c.people_wrote for c in cases)
    (corrected,) = [c for c in cases if c.proposal_id == us]
    assert (corrected.payload["po_number"], corrected.final_action["po_number"]) == ("PO-55821", "PO-55812")
    assert past_cases(WORKFLOW, NOW - timedelta(hours=2), NOW - timedelta(hours=1)) == []


def _case(name: str, status: Status, final: dict[str, str] | None = None) -> PastCase:
    return PastCase(
        proposal_id=name,
        run_id="r",
        source=f"inbox/{name}.pdf",
        case_type="invoice",
        instruction_version="v1",
        status=status,
        tool="payables.post",
        payload=final,
        final_action=final,
        created_at=NOW,
    )


def _new(name: str, payload: dict[str, str] | None = None, escalate: bool = False, fail: bool = False) -> Proposal:
    return Proposal(
        workflow=WORKFLOW,
        source=f"inbox/{name}.pdf",
        case_type="invoice",
        instruction_version="v2",
        tool=None if fail or escalate else "payables.post",
        payload=None if fail or escalate else payload,
        error="unreadable" if fail else None,
        escalations=[Escalation(reason=EscalationReason.MISSING_DATA, field="total")] if escalate else [],
    )


def test_new_proposals_are_judged_against_how_each_case_ended() -> None:
    """By hand, two fields per approved action:

    a executed as {10.00 EUR}, new writes the same           2/2 agreed, action agreed
    b approved as {20.00 EUR}, new escalates                 0/2, missed
    c executed as {30.00 EUR}, new writes 31.00 EUR          1/2, total changed
    d rejected, new writes                                   wrong
    e escalated, new writes                                  now writes
    f failed, new fails                                      nothing to tell
    g rejected, new fails                                    new failure
    h executed, its input is gone                            unavailable
    """
    eur = lambda total: {"total": total, "currency": "EUR"}  # noqa: E731
    cases = [
        _case("a", Status.EXECUTED, eur("10.00")),
        _case("b", Status.APPROVED, eur("20.00")),
        _case("c", Status.EXECUTED, eur("30.00")),
        _case("d", Status.REJECTED),
        _case("e", Status.ESCALATED),
        _case("f", Status.FAILED),
        _case("g", Status.REJECTED),
        _case("h", Status.EXECUTED, eur("1.00")),
    ]
    results = [
        _new("a", eur("10.00")),
        _new("b", escalate=True),
        _new("c", eur("31.00")),
        _new("d", eur("5.00")),
        _new("e", eur("6.00")),
        _new("f", fail=True),
        _new("g", fail=True),
        Unavailable(source="inbox/h.pdf", reason="gone"),
    ]

    figures = compare(load_policy(WORKFLOW), "v2", cases, results, 0.5)

    assert (figures["cases"], figures["replayed"], [u.source for u in figures["unavailable"]]) == (
        8,
        7,
        ["inbox/h.pdf"],
    )
    assert (
        figures["approved_actions"],
        figures["actions_agreed"],
        figures["fields_compared"],
        figures["fields_agreed"],
    ) == (3, 1, 6, 3)
    assert figures["agreement"] == 0.5
    assert {f.field: (f.agreed, f.compared) for f in figures["fields"]} == {"total": (1, 3), "currency": (2, 3)}
    assert [(c.source, c.field, c.final, c.new) for c in figures["changed"]] == [
        ("inbox/c.pdf", "total", "30.00", "31.00")
    ]
    assert [c.source for c in figures["missed"]] == ["inbox/b.pdf"] and figures["missed"][
        0
    ].detail == "missing_data (total)"
    assert [c.source for c in figures["wrong"]] == ["inbox/d.pdf"]
    assert [c.source for c in figures["now_writes"]] == ["inbox/e.pdf"]
    assert [(c.source, c.detail) for c in figures["new_failures"]] == [("inbox/g.pdf", "unreadable")]
    assert figures["original_versions"] == {"v1": 8} and figures["new_versions"] == {"v2": 7}
    assert not figures["ready"]  # agreement meets the minimum, but one write people rejected
    assert figures["verdict"] == (
        "not ready: 3/6 fields of 3 approved actions agree (50.0%, minimum 50.0%); "
        "1 would write where people rejected, 1 would not write where people wrote, 1 new failures"
    )


def test_the_verdict_needs_evidence() -> None:
    policy = load_policy(WORKFLOW)
    agreeing = compare(
        policy, "v2", [_case("a", Status.EXECUTED, {"total": "10.00"})], [_new("a", {"total": "10.00"})], 1.0
    )
    assert (agreeing["ready"], agreeing["verdict"]) == (True, "ready: agrees with every approved action (1)")
    rejected_only = ([_case("d", Status.REJECTED)], [_new("d", escalate=True)])
    assert compare(policy, "v2", *rejected_only, 1.0)["verdict"] == (
        "not ready: no approved action to compare with; 0 would write where people rejected, 0 would not write where people wrote, 0 new failures"
    )
    assert compare(policy, "v2", *rejected_only, 0.0)["ready"]


def test_the_command_reports_as_json_and_exits_1_below_the_minimum(store: StoreProbe, batch: Batch) -> None:
    _all_approved_one_corrected(batch)  # 36 fields approved, the corrected PO number the one the rules read otherwise

    below = runner.invoke(app, ["replay", "invoices", "--version", "rules-v1", "--json"])
    assert below.exit_code == 1, below.output
    report = json.loads(below.stdout)
    assert (report["fields_compared"], report["fields_agreed"], report["agreement"], report["ready"]) == (
        36,
        35,
        0.9722,
        False,
    )
    assert [(Path(c["source"]).name, c["field"]) for c in report["changed"]] == [("us.pdf", "po_number")]

    enough = runner.invoke(app, ["replay", "invoices", "--version", "rules-v1", "--min-agreement", "0.97"])
    assert enough.exit_code == 0, enough.output
    assert "ready: 35/36 fields of 3 approved actions agree (97.2%, minimum 97.0%)" in enough.stdout
    assert "Changed actions" in enough.stdout


def test_a_workflow_without_replay_or_a_version_it_cannot_read_is_refused(store: StoreProbe) -> None:
    without = WorkflowSpec(
        name=WORKFLOW, alias="no-replay", summary="a workflow that cannot read its past inputs again"
    )
    with pytest.raises(ConfigurationError, match="workflow invoice_extraction has no replay"):
        replay(without, "rules-v1", NOW - timedelta(days=1), NOW)
    unknown = runner.invoke(app, ["replay", "invoices", "--version", "rules-v9"])
    assert unknown.exit_code == 2
    assert "'rules-v9' cannot be replayed" in unknown.output
    other = runner.invoke(app, ["replay", "dedupe", "--version", "fellegi-sunter-v2"])
    assert other.exit_code == 2
    assert "give the candidate policy file that names it" in other.output


def test_a_candidate_policy_must_be_for_the_workflow(store: StoreProbe, tmp_path: Path) -> None:
    candidate = tmp_path / "next.yaml"
    candidate.write_text(
        (PROJECT_ROOT / "policies" / "duplicate_flagging.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = runner.invoke(app, ["replay", "invoices", "--version", "rules-v1", "--policy", str(candidate)])
    assert result.exit_code == 2
    assert "workflow: names 'duplicate_flagging', not 'invoice_extraction'" in result.output
