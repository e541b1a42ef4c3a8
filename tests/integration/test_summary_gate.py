"""The weekly summary end to end on a real Prefect server and real stores: the facts are stored with
the run, nothing is published before the owner approves, an edit that states a figure the facts
do not hold is refused (by the CLI's check and by the gate when the form is sent around it), the
published report embeds its charts, undo withdraws it, it is posted to a webhook channel served by
the test, and an unreachable model leaves the template's draft with an escalation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.flow_runs import resume_flow_run
from sqlalchemy import select

from opsgate.errors import ApprovalRejected, PolicyDenied
from opsgate.governance import executor
from opsgate.governance.answers import answer_for
from opsgate.orchestration.resume import submit, wait_until_resumable
from opsgate.policy.loader import load_policy
from opsgate.settings import get_settings
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, FactSheetRow, ReportRow
from tests.integration.conftest import FlowInThread, undo_from_the_cli, wait_for_request, wait_for_the_next_request
from tests.support.policies import use_policy_variant
from tests.support.receiver import Receiver

WORKFLOW = "weekly_summary"
# Week 2026-W47 in Europe/Berlin: Monday 16 November 00:00 to Monday 23 November 00:00 local time.
EVENTS = """id,opened,closed,category,priority,owner,due
T1,2026-11-16T09:00:00,2026-11-16T13:00:00,billing,high,ana,2026-11-16T17:00:00
T2,2026-11-17T10:00:00,2026-11-19T10:00:00,billing,low,ben,2026-11-18T10:00:00
T3,2026-11-18T08:00:00,,access,high,ana,2026-11-20T08:00:00
T4,2026-11-09T08:00:00,2026-11-10T08:00:00,access,low,ben,
T5,yesterday,,access,low,ben,
"""
# By hand for 2026-W47: opened T1 T2 T3 = 3; closed T1 T2 = 2; open at the week's end T3 = 1;
# SLA breaches: T2 (due 18th, closed 19th) and T3 (due 20th, open) = 2; cycle times 4 h and 48 h.
# The week before: opened T4 = 1, closed T4 = 1. T5 is unusable and ends as a failed case.


def _events(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(EVENTS, encoding="utf-8")
    return path


@pytest.fixture
def start_summary(flow_env: str) -> Iterator[Any]:
    started: list[FlowInThread] = []

    def start(**params: Any) -> FlowInThread:
        from flows.weekly_summary import weekly_summary
        from tasks.weekly_summary.params import SummaryParams

        run = FlowInThread(weekly_summary, SummaryParams(week="2026-W47", tz="Europe/Berlin", **params))
        started.append(run)
        return run

    yield start
    for run in started:
        run.thread.join(5)


def _reports() -> list[ReportRow]:
    with transaction() as session:
        rows = session.execute(select(ReportRow).order_by(ReportRow.id)).scalars().all()
        session.expunge_all()
    return list(rows)


def _events_of(kind: str) -> list[AuditRow]:
    with transaction() as session:
        rows = (
            session.execute(
                select(AuditRow).where(AuditRow.workflow == WORKFLOW, AuditRow.event == kind).order_by(AuditRow.seq)
            )
            .scalars()
            .all()
        )
        session.expunge_all()
    return list(rows)


def test_the_report_is_published_only_after_the_owner_approves_and_undo_withdraws_it(
    start_summary, flow_env: str, tmp_path: Path
) -> None:
    run = start_summary(events=_events(tmp_path))
    request = wait_for_request(WORKFLOW)
    wait_until_resumable(request)

    (proposal,) = request.proposals
    assert proposal.case_type == "template" and proposal.tool == "reports.publish"
    with transaction() as session:
        sheet = session.get(FactSheetRow, proposal.payload["fact_sheet"])
        facts = dict(sheet.facts)
    assert (facts["opened"], facts["closed"], facts["backlog_end"], facts["sla_breaches"]) == (3, 2, 1, 2)
    assert (facts["cycle_time_p50_hours"], facts["previous_opened"], facts["skipped_rows"]) == (26.0, 1, 1)
    assert "3 opened, 2 closed" in proposal.payload["headline"]
    assert _reports() == [], "nothing is published while the run waits at the gate"
    with pytest.raises(PolicyDenied):
        executor.execute_one(load_policy(WORKFLOW), proposal.id)
    assert _reports() == []

    edited = {"headline": "Week 2026-W47: 3 tickets opened, 2 closed, 2 SLA breaches to look at."}
    submit(request, answer_for(request, "olga", edits={proposal.id: edited}))
    summary = run.finish()

    assert summary.counts == {"executed": 1, "failed": 1}, "the report is written; the unusable event row ends failed"
    (report,) = _reports()
    assert report.status == "published" and report.narrative["headline"] == edited["headline"]
    assert edited["headline"] in report.markdown and "](charts/volume.png)" in report.markdown
    assert report.html.count('<img src="data:image/png;base64,') == 2, "volume and SLA charts inline in the HTML"
    assert [e.data["field"] for e in _events_of("corrected")] == ["headline"]

    def while_waiting(pending: Any) -> None:
        (withdrawal,) = pending.proposals
        assert (withdrawal.tool, withdrawal.case_type, withdrawal.payload["proposal_id"]) == (
            "reports.withdraw",
            "undo",
            proposal.id,
        )
        assert [r.status for r in _reports()] == ["published"], "nothing is withdrawn while the undo waits at the gate"

    output = undo_from_the_cli(
        flow_env, WORKFLOW, proposal.id, "lena", "olga", "sent too early", {request.id}, while_waiting
    )
    assert "executed" in output
    assert [r.status for r in _reports()] == ["withdrawn"]
    (undone,) = _events_of("undone")
    assert (undone.proposal_id, undone.data["reason"]) == (proposal.id, "sent too early")


def test_an_edit_that_states_an_invented_figure_is_refused_and_nothing_is_published(
    start_summary, tmp_path: Path
) -> None:
    run = start_summary(events=_events(tmp_path))
    request = wait_for_request(WORKFLOW)
    wait_until_resumable(request)
    (proposal,) = request.proposals
    invented = {proposal.id: {"headline": "Week 2026-W47: 30 tickets opened."}}

    with pytest.raises(ApprovalRejected, match="states 30"):  # the CLI's path checks before resuming
        submit(request, answer_for(request, "olga", edits=invented))

    # the Prefect UI's path: the form goes straight to the server; the gate refuses it and pauses again
    resume_flow_run(
        UUID(request.flow_run_id), run_input=answer_for(request, "olga", edits=invented).model_dump(mode="json")
    )
    again = wait_for_the_next_request(request)
    assert any("states 30" in p for e in _events_of("approval_refused") for p in e.data["problems"])
    assert _reports() == []

    submit(again, answer_for(again, "olga", rejections={proposal.id: "figures are from the wrong export"}))
    assert run.finish().counts == {"rejected": 1, "failed": 1}
    assert _reports() == []


def test_the_published_report_is_posted_to_the_policy_channel(
    start_summary, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = receiver.url

    def with_channel(policy: dict[str, Any]) -> None:
        policy["channels"] = {"ops-room": {"kind": "webhook", "url": url}}
        policy["settings"]["publish_to"] = ["ops-room"]

    use_policy_variant(tmp_path / "policies", monkeypatch, with_channel, workflow=WORKFLOW)
    run = start_summary(events=_events(tmp_path))
    request = wait_for_request(WORKFLOW)
    assert receiver.requests == [], "nothing is posted before approval"
    submit(request, answer_for(request, "olga"))
    run.finish()

    (message,) = receiver.requests
    (report,) = _reports()
    body = message.json()
    assert body["event"] == "report.published" and body["data"]["report_id"] == report.id
    assert request.proposals[0].payload["headline"].replace(".", "") in body["text"].replace("\\", "")
    assert message.headers["Idempotency-Key"] == f"{WORKFLOW}-report-{report.id}-ops-room"
    assert report.deliveries["ops-room"]["status"] == "delivered"
    assert [e.data["channel"] for e in _events_of("delivered")] == ["ops-room"]


def test_an_unreachable_model_leaves_the_templates_draft_with_an_escalation(
    start_summary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSGATE_BACKEND", "llm")
    monkeypatch.setenv("OPSGATE_LLM_MODEL", "summary-model")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the discard port: nothing answers
    get_settings.cache_clear()
    run = start_summary(events=_events(tmp_path))
    request = wait_for_request(WORKFLOW)
    (proposal,) = request.proposals
    assert proposal.case_type == "template"
    (escalation,) = _events_of("escalated")
    assert escalation.proposal_id == proposal.id and escalation.data["case_goes_on"] is True
    assert escalation.data["reasons"][0]["reason"] == "tool_failure"
    submit(request, answer_for(request, "olga", rejections={proposal.id: "not this week"}))
    assert run.finish().counts == {"rejected": 1, "failed": 1}
