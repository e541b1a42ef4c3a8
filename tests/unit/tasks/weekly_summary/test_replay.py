"""Replay of the weekly summary on a past run built through the real path, on SQLite and PostgreSQL.

One run stores a fact sheet, drafts the template's narrative over it, and the owner approves it
with the headline edited. The approved action has 9 fields (headline, highlights, risks, actions,
subject, title, fact_sheet, facts_digest, channels). Replayed with the template, the new draft is
the original one: it agrees on 8 of 9 (every field but the edited headline). Replayed with a model
that keeps stating a figure the facts do not hold, the draft escalates: a case people published
that the version would not, and no field agrees. Any prompt version in the prompts folder can be
named (here a copy of the workflow's folder with a newer version added, given as ``prompts``).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from opsgate.errors import ConfigurationError
from opsgate.governance import executor, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.learning.replay import compare, past_cases, replay
from opsgate.models import Proposal
from opsgate.policy.loader import load_policy
from opsgate.proposing.prompts import load_prompt
from opsgate.reports.sheets import FactSheet, save_sheet
from opsgate.store.tables import ApprovalRow, AuditRow, ProposalRow, ReportRow
from opsgate.workflows import by_name
from opsgate.writers.reports import ReportPublication
from tasks.weekly_summary.narrative import PROMPTS, TEMPLATE_VERSION, current_prompt, template_summary
from tasks.weekly_summary.replay import replay as replay_summaries
from tests.support.fake_llm import FakeLlm, llm_configured
from tests.unit.platform.conftest import StoreProbe

WORKFLOW = "weekly_summary"
FACTS = {"week": "2026-W47", "timezone": "UTC", "opened": 412, "closed": 398, "backlog_end": 131, "sla_breaches": 7}
EDITED = "Week 2026-W47: 412 opened and 398 closed; 7 SLA breaches to look at."


def _published_week() -> str:
    run = runs.start_run(governing(WORKFLOW), "test")
    stored = save_sheet(
        run.id, FactSheet(workflow=WORKFLOW, subject="2026-W47 (UTC)", facts=FACTS, detail={}, appendix="")
    )
    draft = template_summary(FACTS)
    publication = ReportPublication(
        **draft.model_dump(),
        subject="2026-W47 (UTC)",
        title="Weekly operations summary, 2026-W47",
        fact_sheet=stored.id,
        facts_digest=stored.digest,
    )
    proposal = Proposal(
        workflow=WORKFLOW,
        source="2026-W47 (UTC)",
        case_type="template",
        tool="reports.publish",
        payload=publication.model_dump(mode="json"),
        instruction_version=TEMPLATE_VERSION,
    )
    runs.check_policy(run, [proposal])
    request = requests.open_request(WORKFLOW, run.id, "summary-run", "summary-1", [proposal], requests.deadline_in(600))
    (decision,) = decide(request.id, answer_for(request, "olga", edits={proposal.id: {"headline": EDITED}}))
    executor.execute_one(run.policy, decision.proposal_id)
    return proposal.id


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    return now - timedelta(days=1), now + timedelta(seconds=1)


def test_the_template_replayed_agrees_with_everything_but_the_owners_edit(opsgate_env: str) -> None:
    store = StoreProbe()
    _published_week()
    before = {table: store.count(table) for table in (ProposalRow, ApprovalRow, ReportRow, AuditRow)}
    report = replay(by_name(WORKFLOW), TEMPLATE_VERSION, *_window())
    assert (report.replayed, report.approved_actions, report.fields_compared, report.fields_agreed) == (1, 1, 9, 8)
    (changed,) = report.changed
    assert (changed.field, changed.final) == ("headline", EDITED)
    assert report.ready is False and report.wrong == [] and report.missed == []
    assert {table: store.count(table) for table in before} == before, "a replay writes nothing"


def test_a_model_that_invents_a_figure_escalates_and_agrees_on_nothing(
    opsgate_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _published_week()
    cases = past_cases(WORKFLOW, *_window())
    invented = {"headline": "Week 2026-W47: 500 opened.", "highlights": [], "risks": [], "actions": []}
    with llm_configured(monkeypatch, max_retries=1):
        (proposal,) = replay_summaries(
            cases, current_prompt().ident, load_policy(WORKFLOW), client=FakeLlm(invented).client()
        )
    assert [e.reason for e in proposal.escalations] == ["failed_check"]
    figures = compare(load_policy(WORKFLOW), current_prompt().ident, cases, [proposal], 1.0)
    assert (figures["fields_agreed"], len(figures["missed"])) == (0, 1)


def test_a_version_this_installation_cannot_draft_with_is_refused(opsgate_env: str) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"'summarise_week\.v9' cannot be replayed: no prompt summarise_week\.v9 in .*; versions there: summarise_week\.v1$",
    ):
        replay(by_name(WORKFLOW), "summarise_week.v9", *_window())
    with pytest.raises(
        ConfigurationError,
        match=r"'extract_invoice\.v1' cannot be replayed; name weekly-template-v1 .*prompt versions in .*: summarise_week\.v1$",
    ):
        replay(by_name(WORKFLOW), "extract_invoice.v1", *_window())


V2_SYSTEM = "You summarise a week of operations for its owner. Version two: lead with the risks."


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    """The workflow's prompts with a newer version beside them: v1 is no longer the newest."""
    folder = tmp_path / "prompts"
    shutil.copytree(PROMPTS, folder)
    user = (PROMPTS / "summarise_week.v1.md").read_text(encoding="utf-8").partition("\n---\n")[2]
    (folder / "summarise_week.v2.md").write_text(f"{V2_SYSTEM}\n---\n{user}", encoding="utf-8")
    return folder


@pytest.mark.parametrize("named", ["summarise_week.v1", "ident"])
def test_an_older_prompt_version_drafts_and_is_recorded(
    opsgate_env: str, monkeypatch: pytest.MonkeyPatch, prompts: Path, named: str
) -> None:
    _published_week()
    v1 = load_prompt(prompts / "summarise_week.v1.md")
    fake = FakeLlm(template_summary(FACTS).model_dump(mode="json"))  # a draft that passes the figure check
    with llm_configured(monkeypatch):
        (proposal,) = replay_summaries(
            past_cases(WORKFLOW, *_window()),
            v1.ident if named == "ident" else named,
            load_policy(WORKFLOW),
            client=fake.client(),
            prompts=prompts,
        )
    assert (proposal.case_type, proposal.instruction_version, proposal.escalations) == ("llm", v1.ident, [])
    assert [request["messages"][0]["content"] for request in fake.requests] == [v1.system]


def test_an_ident_whose_prompt_file_was_edited_since_is_refused(opsgate_env: str, prompts: Path) -> None:
    path = prompts / "summarise_week.v1.md"
    recorded = load_prompt(path).ident
    path.write_text(path.read_text(encoding="utf-8").replace("\n---\n", "\nKeep it short.\n---\n", 1), encoding="utf-8")
    with pytest.raises(
        ConfigurationError,
        match=r"cannot be replayed: .*summarise_week\.v1\.md was edited since summarise_week\.v1\+[0-9a-f]{8} was recorded",
    ):
        replay_summaries([], recorded, load_policy(WORKFLOW), prompts=prompts)
