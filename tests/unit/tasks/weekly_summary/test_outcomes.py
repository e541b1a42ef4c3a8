"""Shadow evaluation of the weekly summary against reports people wrote by hand, on SQLite and PostgreSQL.

Three shadow runs (the policy puts `llm` and `template` on `shadow`) each store a fact sheet and the
template's draft over it; the first also fails on an unusable events row, as a run does:

    2026-W47  opened 412, previous_opened 380, closed 398, backlog_end 131, sla_breaches 7
              draft: headline "412 opened, 398 closed, 131 open at the end of the week"; highlights 412 (opened),
              398 (closed), 131 (backlog_end); risks "7 items breached their SLA" (sla_breaches) and
              "More items were opened than closed" (opened, closed, no figure): 7 figures
    2026-W48  opened 300, closed 310, backlog_end 121, sla_breaches 0
    2026-W49  opened 280, closed 290, backlog_end 111, sla_breaches 2
    failed    "exports/ops_events.csv record 3" (case type `summary`): no week, so no outcome

People's file, checked by hand:

    2026-W47  published: "412 opened, up from 380 the week before", "398 closed", "On-time rate 97%" and
              a dashboard link ending in 4411 (an address, not a figure): 4 figures, 3 in the facts
              (opened, previous_opened, closed), 97% in none; the draft states opened and closed
              (2 too) but not previous_opened; of the draft's 7 figures, 131 twice and 7 are of facts
              people did not state (3 draft only)
    2026w48   skipped: the draft would have published: should have escalated; nothing else compared
    2026W50   published, but no shadow case drafted that week: an outcome without a proposal
    2026-W99, 2026-W51 (action `archived`), 2026-W52 given three times (twice as 2026-W52, left out by the
              reader, and as 2026-w52), a row without a week: 6 rows not used
    2026-W49 has no row: a case without an outcome
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.governance import runs
from opsgate.learning import evaluation
from opsgate.learning.evaluation import EvaluationReport, FieldAgreement
from opsgate.learning.governing import governing
from opsgate.models import Proposal
from opsgate.reports.sheets import FactSheet, save_sheet
from opsgate.settings import PROJECT_ROOT
from opsgate.store.tables import (
    ApprovalRequestRow,
    ApprovalRow,
    AuditRow,
    ExecutionRow,
    FactSheetRow,
    ProposalRow,
    ReportRow,
)
from opsgate.workflows import by_name
from opsgate.writers.reports import ReportPublication
from tasks.weekly_summary.narrative import TEMPLATE_VERSION, template_summary
from tasks.weekly_summary.outcomes import compare_report, stated_facts
from tests.support.policies import use_policy_variant
from tests.unit.platform.conftest import StoreProbe

WORKFLOW = "weekly_summary"
runner = CliRunner()
WEEKS = {
    "2026-W47": {"opened": 412, "previous_opened": 380, "closed": 398, "backlog_end": 131, "sla_breaches": 7},
    "2026-W48": {"opened": 300, "closed": 310, "backlog_end": 121, "sla_breaches": 0},
    "2026-W49": {"opened": 280, "closed": 290, "backlog_end": 111, "sla_breaches": 2},
}
W47_TEXT = """\
# Operations, week 2026-W47

- **412** items opened, up from 380 the week before.
- 398 closed.
- On-time rate 97% ([dashboard](https://ops.example.com/board/4411)).
"""
ROWS = [
    ("2026-W47", "published", W47_TEXT),
    ("2026w48", "skipped", ""),
    ("2026W50", "published", "Quiet week: 120 opened."),
    ("2026-W99", "published", "A week that does not exist."),
    ("2026-W51", "archived", ""),
    ("2026-W52", "published", "Twice."),
    ("2026-w52", "skipped", ""),
    ("", "published", "No week."),
    ("2026-W52", "skipped", ""),
]
TABLES = (ProposalRow, AuditRow, FactSheetRow, ReportRow, ApprovalRequestRow, ApprovalRow, ExecutionRow)


def _draft_week(week: str, *failed: str) -> None:
    """One shadow run over ``week``'s stored facts, as the flow records it, plus events rows that failed."""
    run = runs.start_run(governing(WORKFLOW), "test")
    facts = {"week": week, "timezone": "UTC", **WEEKS[week]}
    subject = f"{week} (UTC)"
    stored = save_sheet(run.id, FactSheet(workflow=WORKFLOW, subject=subject, facts=facts, detail={}, appendix=""))
    publication = ReportPublication(
        **template_summary(facts).model_dump(),
        subject=subject,
        title=f"Weekly operations summary, {week}",
        fact_sheet=stored.id,
        facts_digest=stored.digest,
    )
    proposals = [
        Proposal(
            workflow=WORKFLOW,
            source=source,
            case_type="summary",
            error="no value in the id column 'id'",
            instruction_version=run.policy.instruction_version,
            tools_used=["events.read"],
        )
        for source in failed
    ]
    proposals.append(
        Proposal(
            workflow=WORKFLOW,
            source=subject,
            case_type="template",
            tool="reports.publish",
            payload=publication.model_dump(mode="json"),
            instruction_version=TEMPLATE_VERSION,
            tools_used=["events.read", "store.read"],
        )
    )
    runs.check_policy(run, proposals)


@pytest.fixture
def shadow_weeks(opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_policy_variant(
        tmp_path / "policies",
        monkeypatch,
        lambda policy: policy["autonomy"].update(llm="shadow", template="shadow"),
        workflow=WORKFLOW,
    )
    _draft_week("2026-W47", "exports/ops_events.csv record 3")
    _draft_week("2026-W48")
    _draft_week("2026-W49")


def _outcomes(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["week", "action", "text"])
        writer.writerows(ROWS)
    return path


def _report(path: Path) -> EvaluationReport:
    now = datetime.now(timezone.utc)
    return evaluation.evaluate(by_name("summary"), path, now - timedelta(days=1), now + timedelta(seconds=1))


def test_every_figure_matches_the_hand_count(shadow_weeks: None, tmp_path: Path) -> None:
    store = StoreProbe()
    before = {table.__tablename__: store.count(table) for table in TABLES}
    assert sorted((r.source, r.status) for r in store.rows(ProposalRow)) == [
        ("2026-W47 (UTC)", "shadowed"),
        ("2026-W48 (UTC)", "shadowed"),
        ("2026-W49 (UTC)", "shadowed"),
        ("exports/ops_events.csv record 3", "failed"),
    ]

    report = _report(_outcomes(tmp_path / "weeks.csv"))

    failed, template = report.groups
    assert (failed.case_type, failed.cases, failed.compared, failed.without_outcome, failed.counts) == (
        "summary",
        1,
        0,
        1,
        {},
    )
    assert failed.tools == {"events.read": 1}
    assert (template.case_type, template.instruction_version) == ("template", TEMPLATE_VERSION)
    assert (template.cases, template.compared, template.without_outcome) == (
        3,
        2,
        1,
    )  # W47, W48 compared; W49 has no row
    assert (template.action_agreed, template.action_agreement_rate) == (
        1,
        0.5,
    )  # W47 published both ways; W48 people skipped
    assert (template.exact, template.exact_rate) == (0, 0.0)  # W47: the draft leaves out previous_opened
    assert (template.wrong_actions, template.at_stake, template.should_have_escalated, template.missed_actions) == (
        0,
        {},
        1,
        0,
    )
    assert template.fields == [
        FieldAgreement(field="opened", compared=1, agreed=1, rate=1.0),
        FieldAgreement(field="previous_opened", compared=1, agreed=0, rate=0.0),
        FieldAgreement(field="closed", compared=1, agreed=1, rate=1.0),
    ]
    assert template.counts == {"people_figures": 4, "in_facts": 3, "draft_too": 2, "draft_only": 3, "not_in_facts": 1}
    assert template.tools == {"events.read": 3, "reports.publish": 3, "store.read": 3}

    o = report.overall
    assert (o.cases, o.compared, o.without_outcome, o.action_agreement_rate, o.exact_rate) == (4, 2, 2, 0.5, 0.0)
    assert (o.wrong_actions, o.should_have_escalated, o.missed_actions) == (0, 1, 0)
    assert o.counts == {
        "people_figures": 4,
        "in_facts": 3,
        "draft_too": 2,
        "draft_only": 3,
        "not_in_facts": 1,
    }  # the template's: the failed case has none
    assert report.wrong_actions == []
    assert [(u.where, u.detail) for u in report.outcomes_without_proposal] == [
        ("week 2026-W50", "people published its report; no shadow case drafted one for this week"),
    ]
    assert [(p.where, p.detail) for p in report.problems] == [
        ("record 6", "id '2026-W52' is used by more than one record; none of them is used"),
        ("record 8", "no value in the id column 'week'"),
        ("record 9", "id '2026-W52' is used by more than one record; none of them is used"),
        ("week '2026-W99'", "week '2026-W99' does not exist: 2026 has 53 ISO weeks"),
        ("week '2026-W51'", "action 'archived' is not one of published, skipped"),
        ("week '2026-w52'", "another row gives the week 2026-W52 too; none of them is used"),
    ]
    assert any("starts with its week" in rule for rule in report.rules)

    assert {table.__tablename__: store.count(table) for table in TABLES} == before, "an evaluation writes nothing"


def test_the_same_weeks_as_parquet(shadow_weeks: None, tmp_path: Path) -> None:
    path = tmp_path / "weeks.parquet"
    pd.DataFrame(ROWS, columns=["week", "action", "text"]).to_parquet(path)
    report = _report(path)
    assert report.overall.counts == {
        "people_figures": 4,
        "in_facts": 3,
        "draft_too": 2,
        "draft_only": 3,
        "not_in_facts": 1,
    }
    assert (report.overall.should_have_escalated, len(report.problems), len(report.outcomes_without_proposal)) == (
        1,
        6,
        1,
    )


def test_the_command_answers_in_json(shadow_weeks: None, tmp_path: Path) -> None:
    answer = runner.invoke(app, ["eval", "summary", "--outcomes", str(_outcomes(tmp_path / "weeks.csv")), "--json"])
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.stdout)
    assert [(g["case_type"], g["cases"], g["compared"]) for g in report["groups"]] == [
        ("summary", 1, 0),
        ("template", 3, 2),
    ]
    assert report["overall"]["counts"]["draft_too"] == 2 and report["overall"]["should_have_escalated"] == 1


def test_a_figure_of_several_facts_is_read_by_the_words_of_its_sentence() -> None:
    """About 400 is 412 opened and 398 closed; 7 is 7 SLA breaches and 7 incidents: the sentence's
    words pick one. Without a word of either key a figure stands for both."""
    facts = {"week": "2026-W47", "opened": 412, "closed": 398, "sla_breaches": 7, "incidents": 7}
    assert stated_facts("About 400 items closed. Then 7 SLA breaches.", facts) == [["closed"], ["sla_breaches"]]
    assert stated_facts("We saw 7 of them in 2026-W47, on 16 November 2026.", facts) == [["sla_breaches", "incidents"]]


def test_a_cited_fact_counts_as_stated_without_a_figure() -> None:
    """The draft's "More items were opened than closed" cites opened and closed: people's 412 opened
    is covered; people's 5 incidents is in the facts but not in the draft, which states 7 SLA breaches."""
    facts = {"opened": 412, "closed": 398, "sla_breaches": 7, "incidents": 5}
    draft = {
        "headline": "A busy week.",
        "actions": [],
        "highlights": [{"text": "More items were opened than closed.", "facts": ["opened", "closed"]}],
        "risks": [{"text": "7 items breached their SLA.", "facts": ["sla_breaches"]}],
    }
    fields, counts = compare_report("412 opened; 5 incidents.", draft, facts)
    assert fields == {"opened": True, "incidents": False}
    assert counts == {"people_figures": 2, "in_facts": 2, "draft_too": 1, "draft_only": 1, "not_in_facts": 0}


def test_the_spec_module_stays_light() -> None:
    """The CLI loads every workflow's spec at start-up: the matcher loads pandas and the store only when it runs."""
    code = "import sys, tasks.weekly_summary.workflow as w; assert w.SPEC.compare_outcomes; print([m for m in ('pandas', 'sqlalchemy') if m in sys.modules])"
    found = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
