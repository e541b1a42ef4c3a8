"""Shadow evaluation of duplicate flagging against a merge log checked by hand, on SQLite and PostgreSQL.

One shadow run (the policy puts both case types on `shadow`) records five merge proposals, oldest first:

    P1 duplicate  keep c1,  merge c2          people merged c2 into c1: the same
    P2 duplicate  keep c3,  merge c4, c5      people merged only c4 into c3
    P3 review     keep c6,  merge c7          people merged nothing of it
    P4 review     keep c8,  merge c9          people merged c8 into c9: the same records, another survivor
    P5 duplicate  keep c11, merge c12         escalated (the policy's cluster size, as the workflow would);
                                              people merged c12 and c13 into c11
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.governance import runs
from opsgate.governance.runs import Run
from opsgate.learning import evaluation
from opsgate.learning.evaluation import EvaluationReport, FieldAgreement
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason, Proposal, digest
from opsgate.store.db import transaction
from opsgate.store.tables import (
    ApprovalRequestRow,
    ApprovalRow,
    AuditRow,
    ExecutionRow,
    ProposalRow,
    RecordMergeRow,
    RecordRow,
)
from opsgate.workflows import by_name
from opsgate.writers.records import RecordMerge
from tests.support.policies import use_policy_variant
from tests.unit.platform.conftest import StoreProbe

DEDUPE, MATCHER = "duplicate_flagging", "fellegi-sunter-v1"
RECORDS = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c11", "c12", "c13", "c20", "c21"]
runner = CliRunner()

# Rows 6 and 7 are bad: no merged ids; the survivor among its own merged records.
# c20 <- c21 is a merge no proposal holds a record of.
OUTCOMES = """\
survivor,merged
c1,c2
c3,c4
c9,c8
c11,c12|c13
c20,c21
c30,
c31,c31;c32
"""


def _merge(survivor: str, *duplicates: str, case_type: str, escalations: list[Escalation] | None = None) -> Proposal:
    merge = RecordMerge(kind="customers", survivor=survivor, duplicates=list(duplicates))
    return Proposal(
        workflow=DEDUPE,
        source=f"customers: {', '.join(sorted([survivor, *duplicates]))}",
        case_type=case_type,
        tool="records.merge",
        payload=merge.model_dump(mode="json"),
        instruction_version=MATCHER,
        tools_used=["records.read"],
        escalations=escalations or [],
    )


@pytest.fixture
def shadow_run(opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda policy: policy["autonomy"].update(duplicate="shadow", review="shadow"),
        workflow=DEDUPE,
    )
    with transaction() as session:  # the operator's import: the records the proposals name
        session.add_all(
            RecordRow(
                kind="customers",
                external_id=i,
                data={"name": f"Customer {i}"},
                data_digest=digest({"name": f"Customer {i}"}),
            )
            for i in RECORDS
        )
    too_large = Escalation(
        reason=EscalationReason.OUT_OF_POLICY, field="cluster", detail="more records than the policy merges at once"
    )
    run = runs.start_run(governing(DEDUPE), "test")
    runs.check_policy(
        run,
        [
            _merge("c1", "c2", case_type="duplicate"),
            _merge("c3", "c4", "c5", case_type="duplicate"),
            _merge("c6", "c7", case_type="review"),
            _merge("c8", "c9", case_type="review"),
            _merge("c11", "c12", case_type="duplicate", escalations=[too_large]),
        ],
    )
    return run


def _report(path: Path) -> EvaluationReport:
    now = datetime.now(timezone.utc)
    return evaluation.evaluate(by_name("dedupe"), path, now - timedelta(days=1), now + timedelta(seconds=1))


def _store_state(store: StoreProbe) -> dict[str, object]:
    return {
        "records": sorted((r.external_id, r.merged_into, json.dumps(r.data)) for r in store.rows(RecordRow)),
        "merges": store.count(RecordMergeRow),
        "approval requests": store.count(ApprovalRequestRow),
        "approvals": store.count(ApprovalRow),
        "executions": store.count(ExecutionRow),
        "audit rows": store.count(AuditRow),
        "proposals": sorted((r.source, r.status) for r in store.rows(ProposalRow)),
    }


def test_every_figure_matches_the_hand_count(shadow_run: Run, tmp_path: Path) -> None:
    store = StoreProbe()
    outcomes = tmp_path / "merges.csv"
    outcomes.write_text(OUTCOMES, encoding="utf-8")
    before = _store_state(store)
    assert before["proposals"] == [
        ("customers: c1, c2", "shadowed"),
        ("customers: c11, c12", "escalated"),
        ("customers: c3, c4, c5", "shadowed"),
        ("customers: c6, c7", "shadowed"),
        ("customers: c8, c9", "shadowed"),
    ]

    report = _report(outcomes)

    duplicate, review = report.groups
    assert (duplicate.case_type, duplicate.instruction_version, review.case_type) == ("duplicate", MATCHER, "review")
    # duplicate: P1, P2, P5. Pairs: P1 c1c2 agreed; P2 c3c4 agreed, c3c5 and c4c5 wrong; P5 c11c12 agreed, and people's
    # c11c13 and c12c13 missed (P5 is the only proposal holding their records).
    assert (duplicate.cases, duplicate.compared, duplicate.without_outcome) == (
        3,
        3,
        0,
    )  # the log is every merge: no case lacks an outcome
    assert (duplicate.action_agreed, duplicate.action_agreement_rate) == (
        2,
        0.6667,
    )  # P1, P2 would merge and were merged; P5 was escalated
    assert (duplicate.exact, duplicate.exact_rate) == (1, 0.3333)  # P1; P2's records differ, P5's action
    assert (duplicate.wrong_actions, duplicate.wrong_action_rate, duplicate.at_stake) == (
        1,
        0.3333,
        {"records": Decimal(1)},
    )  # P2 would fold c5 into c3
    assert (duplicate.should_have_escalated, duplicate.missed_actions) == (0, 1)  # P5: left to people, who merged
    assert duplicate.fields == [
        FieldAgreement(field="records", compared=3, agreed=1, rate=0.3333),
        FieldAgreement(field="survivor", compared=3, agreed=3, rate=1.0),
    ]
    assert duplicate.counts == {"pairs_agreed": 3, "pairs_wrong": 2, "pairs_missed": 2}
    assert duplicate.tools == {"records.merge": 3, "records.read": 3}
    # review: P3 (nothing merged: a wrong merge of c7, should have been escalated), P4 (same records, people kept c9)
    assert (review.cases, review.compared, review.action_agreed, review.exact, review.exact_rate) == (2, 2, 1, 0, 0.0)
    assert (review.wrong_actions, review.at_stake, review.should_have_escalated, review.missed_actions) == (
        1,
        {"records": Decimal(1)},
        1,
        0,
    )
    assert review.fields == [
        FieldAgreement(field="records", compared=1, agreed=1, rate=1.0),
        FieldAgreement(field="survivor", compared=1, agreed=0, rate=0.0),
    ]
    assert review.counts == {"pairs_agreed": 1, "pairs_wrong": 1, "pairs_missed": 0}

    o = report.overall
    assert (o.cases, o.compared, o.action_agreement_rate, o.exact_rate, o.wrong_action_rate) == (5, 5, 0.6, 0.2, 0.4)
    assert (o.at_stake, o.should_have_escalated, o.missed_actions) == ({"records": Decimal(2)}, 1, 1)
    assert o.fields == [
        FieldAgreement(field="records", compared=4, agreed=2, rate=0.5),
        FieldAgreement(field="survivor", compared=4, agreed=3, rate=0.75),
    ]
    assert o.counts == {"pairs_agreed": 4, "pairs_wrong": 3, "pairs_missed": 2}
    assert [(w.source, w.what, w.cost) for w in report.wrong_actions] == [
        ("customers: c3, c4, c5", "would merge c5 into c3; people did not", Decimal(1)),
        ("customers: c6, c7", "would merge c7 into c6; people did not", Decimal(1)),
    ]
    assert [(u.where, u.detail) for u in report.outcomes_without_proposal] == [
        ("the merge into 'c20'", "c20, c21: no shadow case holds any of them (1 pairs missed)")
    ]
    assert [(p.where, p.detail) for p in report.problems] == [
        ("record 6", "no value in the id column 'merged'"),
        ("the merge of 'c31;c32' into 'c31'", "the survivor 'c31' is among the merged records"),
    ]

    # evaluating wrote nothing: every record as imported, no merge, approval, execution or audit row
    assert _store_state(store) == before
    assert before["merges"] == before["approval requests"] == 0
    approve = runner.invoke(app, ["approvals", "approve", shadow_run.id, "--as", "dana"])
    assert approve.exit_code == 2 and "no pending approval" in approve.output


def test_merges_chain_and_kinds_keep_ids_apart(shadow_run: Run, tmp_path: Path) -> None:
    """b into a, then a into c is one record, c. With a kind column, a vendor c1 is not the customer c1."""
    outcomes = tmp_path / "merges.csv"
    outcomes.write_text("kind,survivor,merged\ncustomers,c2,c1\ncustomers,c3,c2;c4\nvendors,c6,c7\n", encoding="utf-8")
    report = _report(outcomes)
    o = report.overall
    # people's customers c1 c2 c3 c4 are one record, c3. P1 c1c2 agreed; P2 c3c4 agreed, c3c5 and c4c5 wrong; P3 c6c7 wrong
    # (people merged the vendors c6 and c7, not these customers); P4 c8c9 and P5 c11c12 wrong: 2 agreed, 2 + 1 + 1 + 1 wrong
    assert (o.counts["pairs_agreed"], o.counts["pairs_wrong"]) == (2, 5)
    # the cluster c1..c4 is touched first by P1: its 6 pairs less c1c2, c3c4 (proposed) are missed once, by P1
    assert o.counts["pairs_missed"] == 4
    assert [u.detail for u in report.outcomes_without_proposal] == [
        "c6, c7: no shadow case holds any of them (1 pairs missed)"
    ]


def test_the_command_answers_in_json(shadow_run: Run, tmp_path: Path) -> None:
    outcomes = tmp_path / "merges.csv"
    outcomes.write_text(OUTCOMES, encoding="utf-8")
    answer = runner.invoke(app, ["eval", "dedupe", "--outcomes", str(outcomes), "--json"])
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.stdout)
    assert [(g["case_type"], g["cases"], g["wrong_actions"]) for g in report["groups"]] == [
        ("duplicate", 3, 1),
        ("review", 2, 1),
    ]
    assert report["overall"]["at_stake"] == {"records": "2"}
