"""The reports writer on real stores: it publishes only a narrative whose every figure is in the
stored facts (a person's edit included), renders the charts and escapes what models and files
wrote, supersedes the live report on the same subject, and undo puts the earlier one back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import ApprovalRejected, ExecutionError
from opsgate.governance import requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import Proposal
from opsgate.reports.sheets import Chart, FactSheet, published_report, save_sheet
from opsgate.store.db import transaction
from opsgate.store.tables import ReportRow
from opsgate.writers.reports import ReportPublication, ReportsPublish
from tests.support.markdown import render
from tests.unit.platform.conftest import StoreProbe

WRITER = ReportsPublish()
PNG = b"\x89PNG\r\n\x1a\n-a-chart-"
FACTS = {"week": "2026-W47", "opened": 412, "closed": 398, "sla_breaches": 7, "approval_rate": 0.9412}


def _sheet(
    run_id: str, appendix: str = "{{chart:volume}}\n\n| category | opened |\n|---|---|\n| billing | 412 |"
) -> tuple[int, str]:
    sheet = FactSheet(
        workflow="weekly_summary",
        subject="2026-W47 (UTC)",
        facts=FACTS,
        detail={},
        appendix=appendix,
        charts=[Chart(name="volume", title="Volume", png=PNG)],
    )
    stored = save_sheet(run_id, sheet)
    return stored.id, stored.digest


def _publication(sheet: tuple[int, str], **changes: Any) -> ReportPublication:
    values: dict[str, Any] = {
        "headline": "Week 2026-W47: 412 opened, 398 closed.",
        "highlights": [{"text": "94% of proposals were approved.", "facts": ["approval_rate"]}],
        "risks": [{"text": "7 SLA breaches.", "facts": ["sla_breaches"]}],
        "actions": ["Review the breaches."],
        "subject": "2026-W47 (UTC)",
        "title": "Weekly operations summary, 2026-W47",
        "fact_sheet": sheet[0],
        "facts_digest": sheet[1],
    }
    return ReportPublication.model_validate(values | changes)


def _publish(publication: ReportPublication, proposal_id: str = "p-1") -> str:
    with transaction() as session:
        return WRITER.apply(session, publication, proposal_id)


def _undo(target: str) -> None:
    with transaction() as session:
        WRITER.undo(session, target)


@pytest.fixture
def run_id(opsgate_env: str) -> str:
    return runs.start_run(governing("weekly_summary"), "test").id


def test_publish_renders_the_narrative_and_the_charts_and_escapes_what_others_wrote(
    store: StoreProbe, run_id: str
) -> None:
    sheet = _sheet(run_id)
    risky = [
        {
            "text": "7 SLA breaches <script>alert('x')</script> ![x](http://tracker.example/p.png)",
            "facts": ["sla_breaches"],
        }
    ]
    target = _publish(_publication(sheet, risks=risky))

    report = published_report(int(target))
    assert report.status == "published" and report.narrative.headline == "Week 2026-W47: 412 opened, 398 closed."
    assert "](charts/volume.png)" in report.markdown and report.markdown_inline.count("data:image/png;base64,") == 1
    assert "<script>" not in report.html and "&lt;script&gt;" in report.html
    assert 'src="http://tracker.example' not in report.html, "an image a model wrote stays text"
    assert report.html.count("<img ") == 1 and "<table>" in report.html


def test_a_report_shows_hidden_characters_and_markup_as_text_in_markdown_html_and_the_terminal(
    store: StoreProbe, run_id: str
) -> None:
    headline = "Week 2026-W47 [conceal]closed[/conceal]: 412 opened \u202esrotces\u202c."
    target = _publish(_publication(_sheet(run_id), headline=headline, title="Weekly <b>summary</b> \u2066x\u2069"))

    report = published_report(int(target))
    assert report.narrative.headline == headline  # stored as written
    markdown = render(report.markdown)
    for shown in (markdown.text, report.html):
        assert "412 opened ⟨U+202E⟩srotces⟨U+202C⟩." in shown and "\u202e" not in shown and "\u2066" not in shown
    assert "<title>Weekly &lt;b&gt;summary&lt;/b&gt; ⟨U+2066⟩x⟨U+2069⟩</title>" in report.html
    assert markdown.acting() == ["img"]  # the chart only
    listed = CliRunner().invoke(app, ["reports", "list"], env={"COLUMNS": "400"})
    assert (
        listed.exit_code == 0
        and "Week 2026-W47 [conceal]closed[/conceal]: 412 opened ⟨U+202E⟩srotces⟨U+202C⟩." in listed.stdout
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"headline": "Week 2026-W47: 413 opened."}, "states 413"),  # a mistyped figure
        ({"highlights": [{"text": "95.1% approved.", "facts": ["approval_rate"]}]}, "states 95.1%"),  # mis-rounded
        ({"actions": ["Hire 3 more people."]}, "states 3"),  # invented
        ({"highlights": [{"text": "7 breaches.", "facts": ["breaches"]}]}, "not keys of the facts"),
    ],
)
def test_a_figure_the_facts_do_not_hold_is_never_published(
    store: StoreProbe, run_id: str, change: dict[str, Any], problem: str
) -> None:
    publication = _publication(_sheet(run_id), **change)
    with transaction() as session:
        assert any(problem in p for p in WRITER.check(session, publication))
    with pytest.raises(ExecutionError, match="states what the facts do not hold"):
        _publish(publication)
    assert store.count(ReportRow) == 0


def test_the_facts_cannot_be_swapped_under_the_narrative(store: StoreProbe, run_id: str) -> None:
    sheet = _sheet(run_id)
    with transaction() as session:
        assert WRITER.check(session, _publication(sheet)) == []
        assert (
            "not the one this report was drafted from"
            in WRITER.check(session, _publication(sheet, facts_digest="0" * 64))[0]
        )
        assert "not the one" in WRITER.check(session, _publication(sheet, subject="2026-W48 (UTC)"))[0]


def test_a_new_report_supersedes_the_live_one_and_undo_puts_it_back(store: StoreProbe, run_id: str) -> None:
    first = _publish(_publication(_sheet(run_id)), "p-1")
    second = _publish(_publication(_sheet(run_id), headline="Week 2026-W47: 398 closed."), "p-2")
    statuses = lambda: {r.id: r.status for r in store.rows(ReportRow)}  # noqa: E731
    assert statuses() == {int(first): "superseded", int(second): "published"}
    _undo(second)
    assert statuses() == {int(first): "published", int(second): "withdrawn"}
    with pytest.raises(ExecutionError, match="nothing to withdraw"):
        _undo(second)


def test_the_gate_refuses_an_approval_whose_edit_invents_a_figure(store: StoreProbe, run_id: str) -> None:
    run = runs.start_run(governing("weekly_summary"), "test")
    publication = _publication(_sheet(run.id))
    proposal = Proposal(
        workflow=run.workflow,
        source="2026-W47 (UTC)",
        case_type="template",
        tool=WRITER.tool,
        payload=publication.model_dump(mode="json"),
        instruction_version="weekly-template-v1",
    )
    runs.check_policy(run, [proposal])
    request = requests.open_request(
        run.workflow, run.id, "flow-run-1", "weekly-summary-approval-1", [proposal], requests.deadline_in(600)
    )
    invented = answer_for(request, "olga", edits={proposal.id: {"headline": "Week 2026-W47: 500 opened."}})
    with pytest.raises(ApprovalRejected, match="states 500"):
        decide(request.id, invented)
    assert store.rows(ReportRow) == [] and len(store.events("approval_refused")) == 1
    (decision,) = decide(
        request.id, answer_for(request, "olga", edits={proposal.id: {"headline": "Week 2026-W47: 412 opened."}})
    )
    assert decision.proposal_id == proposal.id


def test_the_cli_lists_reports_and_exports_one_with_its_charts(store: StoreProbe, run_id: str, tmp_path: Path) -> None:
    target = _publish(_publication(_sheet(run_id)))
    listed = CliRunner().invoke(app, ["reports", "list", "--json", "--subject", "2026-W47"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["id"], row["status"], row["narrative"]["headline"]) == (
        int(target),
        "published",
        "Week 2026-W47: 412 opened, 398 closed.",
    )

    exported = CliRunner().invoke(app, ["reports", "export", target, "--out", str(tmp_path / "out")])
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "out" / "charts" / "volume.png").read_bytes() == PNG
    assert "![Volume](charts/volume.png)" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "412 opened" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert CliRunner().invoke(app, ["reports", "export", "999"]).exit_code != 0
