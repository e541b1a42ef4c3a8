"""Earned autonomy on real stores: a case type whose figures meet its rule is proposed for `auto`;
only the people the policy names for `autonomy` cases may approve it; once granted, its cases are
written without a person (never above the rule's amount); an incident or a correction puts it back
to `reviewed` at once; undoing the promotion revokes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsgate.errors import ApprovalRejected
from opsgate.governance import executor, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning import autonomy
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.learning.incidents import report_incident
from opsgate.models import Route, Status
from opsgate.policy.schema import Autonomy
from opsgate.store.tables import AutonomyGrantRow
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import renumbered
from tests.support.undo import undo_through_gate
from tests.unit.platform.conftest import StoreProbe, by_source

WORKFLOW = "invoice_extraction"


def _rule(**changes: Any) -> Any:
    def change(policy: dict[str, Any]) -> None:
        rule = {
            "after_cases": 3,
            "window_days": 30,
            "min_approval_rate": 0.6,
            "max_correction_rate": 0.5,
            "max_tool_error_rate": 0.4,
        }
        policy["earned_autonomy"] = {
            "invoice": {**rule, "never_above": {"field": "total", "amount": "1400.00"}, **changes}
        }

    return change


def _approve_and_write(
    batch: Batch,
    approver: str = "alice",
    edits: dict[str, dict[str, str]] | None = None,
    flow_run_id: str = "no-flow-run",
) -> None:
    request = open_request(batch, flow_run_id)
    for decision in decide(request.id, answer_for(request, approver, edits=edits)):
        executor.execute_one(batch.run.policy, decision.proposal_id)


def _promote(tmp_path: Path) -> str:
    """Three invoices approved as proposed, then the promotion proposed, approved by the AP lead
    and written. Returns the promotion's proposal id."""
    _approve_and_write(proposed_batch(write_inbox(tmp_path / "first")))
    run = runs.start_run(governing(WORKFLOW), "cli:lena")
    (promotion,) = autonomy.promotions(run.policy)
    (verdict,) = runs.check_policy(run, [promotion])
    assert verdict.route is Route.APPROVE, "a promotion is always a person's decision"
    request = requests.open_request(WORKFLOW, run.id, "review-run", "review-1", [promotion], requests.deadline_in(600))
    with pytest.raises(ApprovalRejected, match="alice may not decide on autonomy cases"):
        decide(request.id, answer_for(request, "alice"))
    (decision,) = decide(request.id, answer_for(request, "olga"))
    executor.execute_one(run.policy, decision.proposal_id)
    return promotion.id


def test_figures_that_meet_the_rule_earn_auto_through_the_owner_and_never_above_its_amount(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _rule())
    promotion = _promote(tmp_path)
    (proposed,) = store.events("proposed", promotion)
    evidence = proposed.data["payload"]["evidence"]
    assert (evidence["approved"], evidence["rejected"], evidence["approval_rate"], evidence["correction_rate"]) == (
        3,
        0,
        1.0,
        0.0,
    )
    assert autonomy.grants_in_force(WORKFLOW) == {"invoice": "auto"}

    later = proposed_batch(write_inbox(tmp_path / "later", renumbered("2")))
    assert later.run.policy.autonomy["invoice"] is Autonomy.AUTO and "+earned:" in later.run.policy_version
    routes = {Path(p.source).name: v.route for p, v in zip(later.proposals, later.verdicts)}
    assert routes == {"us.pdf": Route.AUTO, "uk.pdf": Route.AUTO, "de.pdf": Route.APPROVE}, (
        "1,493.45 is above the earned limit of 1,400"
    )
    (triggered,) = [e for e in store.events("triggered") if e.run_id == later.run.id]
    assert triggered.data["earned_autonomy"] == {"invoice": "auto"}


def test_too_few_or_too_poorly_approved_cases_earn_nothing(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _rule(min_approval_rate=0.9))
    batch = proposed_batch(write_inbox(tmp_path / "first"))
    request = open_request(batch)
    decide(request.id, answer_for(request, "alice", rejections={by_source(batch, "uk.pdf"): "not ours"}))
    assert autonomy.promotions(runs.start_run(governing(WORKFLOW), "test").policy) == [], (
        "2 of 3 approved is 67 %, below 90 %"
    )
    use_policy_variant(tmp_path / "policies", monkeypatch, _rule(after_cases=4, min_approval_rate=0.5))
    assert autonomy.promotions(runs.start_run(governing(WORKFLOW), "test").policy) == [], (
        "3 decided cases are fewer than 4"
    )


def test_an_incident_on_an_auto_case_puts_the_case_type_back_to_reviewed(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _rule())
    _promote(tmp_path)
    later = proposed_batch(write_inbox(tmp_path / "later", renumbered("2")))
    us = by_source(later, "us.pdf")
    executor.execute_one(later.run.policy, us)  # auto: no person
    report_incident(us, "posted to the wrong cost centre", "dana")

    assert autonomy.grants_in_force(WORKFLOW) == {"invoice": "reviewed"}
    (demoted,) = store.events("autonomy_demoted")
    assert demoted.data["case_type"] == "invoice" and "incident" in demoted.data["reason"]
    after = proposed_batch(write_inbox(tmp_path / "after", renumbered("3")))
    assert {v.route for v in after.verdicts} == {Route.APPROVE}


def test_a_correction_in_an_auto_case_type_demotes_it(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, _rule())
    promotion = _promote(tmp_path)
    later = proposed_batch(write_inbox(tmp_path / "later", renumbered("2")))
    de = by_source(later, "de.pdf")  # above the earned limit: a person approves it, and corrects it
    _approve_and_write(later, edits={de: {"po_number": "PO-7"}}, flow_run_id="later-run")
    assert autonomy.grants_in_force(WORKFLOW) == {"invoice": "reviewed"}
    assert "corrected" in store.events("autonomy_demoted")[0].data["reason"]

    undo_through_gate(promotion, "olga", "promoted too early")
    assert autonomy.grants_in_force(WORKFLOW) == {"invoice": "reviewed"}, "the demotion, newer, still holds"
    assert [e.data["undo"] for e in store.events("undone", promotion)] == ["autonomy.revoke"]


def test_undoing_a_promotion_in_force_revokes_it(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promotion is the only grant: once undone, the file's mode (`reviewed`) is back, in the
    store and in how the next run routes the invoices that `auto` wrote without a person."""
    use_policy_variant(tmp_path / "policies", monkeypatch, _rule())
    promotion = _promote(tmp_path)
    while_promoted = proposed_batch(write_inbox(tmp_path / "promoted", renumbered("2")))
    assert {Path(p.source).name: v.route for p, v in zip(while_promoted.proposals, while_promoted.verdicts)} == {
        "us.pdf": Route.AUTO,
        "uk.pdf": Route.AUTO,
        "de.pdf": Route.APPROVE,
    }

    outcome = undo_through_gate(promotion, "olga", "promoted too early")

    assert outcome.status is Status.EXECUTED
    (grant,) = store.rows(AutonomyGrantRow, AutonomyGrantRow.proposal_id == promotion)
    assert (grant.mode, grant.status) == ("auto", "revoked")
    assert autonomy.grants_in_force(WORKFLOW) == {}
    assert [e.data["undo"] for e in store.events("undone", promotion)] == ["autonomy.revoke"]
    after = proposed_batch(write_inbox(tmp_path / "after", renumbered("3")))
    assert after.run.policy.autonomy["invoice"] is Autonomy.REVIEWED and "+earned:" not in after.run.policy_version
    assert {Path(p.source).name: v.route for p, v in zip(after.proposals, after.verdicts)} == {
        "us.pdf": Route.APPROVE,
        "uk.pdf": Route.APPROVE,
        "de.pdf": Route.APPROVE,
    }
