"""The weekly summary's steps as Prefect tasks: compute the week's facts, draft the narrative,
and, once the report is published, post it and show it on the run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from opsgate import (
    InputError,
    Outcome,
    Proposal,
    ReportPublication,
    RowProblem,
    Run,
    Status,
    StoredSheet,
    deliver_report,
    get_settings,
    llm_client,
    markdown_text,
    published_report,
    render_markdown,
    run_link,
    save_sheet,
    workflow_settings,
)
from tasks.weekly_summary.events import read_events
from tasks.weekly_summary.facts import week_facts
from tasks.weekly_summary.narrative import summarise
from tasks.weekly_summary.operations import operations_facts
from tasks.weekly_summary.params import SummaryParams
from tasks.weekly_summary.sheet import fact_sheet
from tasks.weekly_summary.weeks import last_full_week, parse_week, time_zone
from tasks.weekly_summary.workflow import SPEC

logger = logging.getLogger(__name__)
ARTIFACT = "weekly-summary"


@dataclass
class Computed:
    """The week's stored fact sheet, or why there is none; and the event rows left out."""

    title: str
    source: str
    channels: list[str]
    stored: StoredSheet | None = None
    error: str | None = None
    problems: list[RowProblem] = field(default_factory=list)


@task(name="compute-facts", cache_policy=NO_CACHE)
def compute_facts(run: Run, params: SummaryParams) -> Computed:
    """Every figure the report may state, from the events file and the store, stored with the run."""
    settings = workflow_settings(SPEC, run.policy)
    zone = time_zone(params.tz or settings.timezone)
    week = parse_week(params.week) if params.week else last_full_week(zone)
    events: Path | None = params.events or settings.events
    title = f"{settings.title}, {week.label}"
    computed = Computed(title=title, source=str(events) if events else "opsgate store", channels=settings.publish_to)
    tickets = None
    if events is None:
        logger.warning(
            "no events file (--events or the policy's settings.events): the summary covers opsgate's own store only"
        )
    else:
        try:
            loaded = read_events(events, zone)
        except InputError as exc:
            computed.error = str(exc)
            return computed
        tickets, computed.problems = week_facts(loaded, week, zone), loaded.problems
        logger.info("%s: %d events used, %d rows left out", events, len(loaded.opened), len(loaded.problems))
    start, end = week.bounds(zone)
    operations = operations_facts(start.to_pydatetime(), end.to_pydatetime(), settings.top_vendors)
    sheet = fact_sheet(title, week.label, zone.key, tickets, operations, len(computed.problems))
    computed.stored = save_sheet(run.id, sheet)
    create_table_artifact(
        key=f"{ARTIFACT}-facts",
        table=[
            {"fact": markdown_text(key), "value": "" if value is None else markdown_text(str(value))}
            for key, value in sheet.facts.items()
        ],
        description=f"Every figure the {week.label} summary may state (fact sheet {computed.stored.id})",
    )
    return computed


def _failed(run: Run, source: str, reason: str) -> Proposal:
    return Proposal(
        workflow=run.workflow,
        source=source,
        case_type="summary",
        error=reason,
        instruction_version=run.policy.instruction_version,
    )


@task(name="draft-summary", cache_policy=NO_CACHE)
def draft(run: Run, computed: Computed) -> list[Proposal]:
    """The narrative as a `reports.publish` proposal: the model's when it passes the figure check,
    else the template's, with the reason told to the owner (the draft still goes to the gate)."""
    failed = [_failed(run, f"{computed.source} {p.where}", p.reason) for p in computed.problems]
    if computed.stored is None:
        return [*failed, _failed(run, computed.source, computed.error or "no facts")]
    sheet = computed.stored.sheet
    client = llm_client() if get_settings().backend != "rules" else None
    result = summarise(sheet.facts, client)
    publication = ReportPublication(
        **result.summary.model_dump(),
        subject=sheet.subject,
        title=computed.title,
        fact_sheet=computed.stored.id,
        facts_digest=computed.stored.digest,
        channels=computed.channels,
    )
    if result.escalation:
        logger.warning("%s", result.escalation.describe())
    create_markdown_artifact(
        key=f"{ARTIFACT}-draft",
        markdown=render_markdown(
            computed.title, result.summary, sheet, status=f"Draft by the {result.source}, waiting for approval"
        ),
        description=f"The {sheet.subject} report as drafted: approve, edit the text, or reject it at the gate",
    )
    proposal = Proposal(
        workflow=run.workflow,
        source=sheet.subject,
        case_type=result.source,
        tool="reports.publish",
        payload=publication.model_dump(mode="json"),
        summary=result.summary.headline,
        instruction_version=result.instruction_version,
        notices=[result.escalation] if result.escalation else [],
        tools_used=["events.read", "store.read", *(["llm"] if client else [])],
    )
    return [*failed, proposal]


@task(name="deliver-report", cache_policy=NO_CACHE)
def deliver(run: Run, outcomes: list[Outcome]) -> None:
    """Post each published report to its channels, and show it on the run."""
    for outcome in outcomes:
        if outcome.status is not Status.EXECUTED or not (outcome.target or "").startswith("reports/"):
            continue
        report_id = int((outcome.target or "").split("/", 1)[1])
        deliver_report(run.policy, report_id, run.id, run_link(run.id))
        report = published_report(report_id)
        create_markdown_artifact(
            key=f"{ARTIFACT}-report",
            markdown=report.markdown_inline,
            description=f"The published report {report.subject} (report {report.id})",
        )
