"""Publishing a report to the reports store, and withdrawing it.

The approved action is the narrative (a ``Summary``) plus a pointer to the fact sheet the run
stored; the writer renders the report from both, so what is published is exactly what was
approved around figures no one could edit. Every figure in the narrative is checked against the
stored facts before approval (``check``) and again at the write: a person's edit is held to the
same rule as a model's draft. Posting the published report to channels happens after the commit
(``opsgate.notify.delivery``), because a webhook cannot take part in the store's transaction.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import ExecutionError
from opsgate.reports.sheets import load_sheet, render_html, render_markdown
from opsgate.reports.summaries import Summary
from opsgate.store.tables import ReportRow
from opsgate.writers.base import Writer


class ReportPublication(Summary):
    """The one action the reports writer accepts: publish this narrative over that fact sheet."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        min_length=1,
        description="What the report is about, e.g. the week 2026-W47; a newer report on it supersedes the live one.",
    )
    title: str = Field(min_length=1, max_length=300)
    fact_sheet: int = Field(description="The fact sheet the run stored; leave as it is.")
    facts_digest: str = Field(description="Identifies the exact facts shown; leave as it is.")
    channels: list[str] = Field(
        default_factory=list,
        description="Policy channels the published report is posted to; remove one to keep it off that channel.",
    )

    def narrative(self) -> Summary:
        return Summary.model_validate(self.model_dump(include=set(Summary.model_fields)))


class ReportsPublish(Writer):
    tool: ClassVar[str] = "reports.publish"
    undo_tool: ClassVar[str] = "reports.withdraw"
    table: ClassVar[str] = "reports"
    payload_model: ClassVar[type[BaseModel]] = ReportPublication

    def check(self, session: Session, payload: ReportPublication) -> list[str]:
        stored = load_sheet(session, payload.fact_sheet)
        if stored.digest != payload.facts_digest or stored.sheet.subject != payload.subject:
            return [
                f"fact sheet {payload.fact_sheet} is not the one this report was drafted from (subject or digest differs)"
            ]
        try:
            Summary.model_validate(payload.narrative().model_dump(), context={"facts": stored.sheet.facts})
        except ValidationError as exc:
            return [
                f"the summary states what the facts do not hold: {error['msg'].removeprefix('Value error, ')}"
                for error in exc.errors()
            ]
        return []

    def apply(self, session: Session, payload: ReportPublication, proposal_id: str) -> str:
        problems = self.check(session, payload)
        if problems:
            raise ExecutionError("; ".join(problems), retryable=False)
        sheet = load_sheet(session, payload.fact_sheet).sheet
        live = session.execute(
            select(ReportRow)
            .where(
                ReportRow.workflow == sheet.workflow,
                ReportRow.subject == payload.subject,
                ReportRow.status == "published",
            )
            .with_for_update()
        ).scalar_one_or_none()
        if live is not None:
            live.status = "superseded"
        summary = payload.narrative()
        report = ReportRow(
            workflow=sheet.workflow,
            subject=payload.subject,
            title=payload.title,
            fact_sheet_id=payload.fact_sheet,
            proposal_id=proposal_id,
            narrative=summary.model_dump(mode="json"),
            markdown=render_markdown(payload.title, summary, sheet, images="files"),
            html=render_html(render_markdown(payload.title, summary, sheet, images="inline"), payload.title),
            status="published",
            supersedes_id=live.id if live else None,
            channels=list(payload.channels),
            deliveries={channel: {"status": "pending"} for channel in payload.channels},
        )
        session.add(report)
        session.flush()
        return str(report.id)

    def undo(self, session: Session, target_id: str) -> None:
        """Withdraw the report; the one it superseded is in force again. A message already posted
        to a channel cannot be recalled from here: the withdrawal is in the store and the audit."""
        report = session.get(ReportRow, int(target_id), with_for_update=True)
        if report is None or report.status == "withdrawn":
            raise ExecutionError(f"report {target_id} is not published; nothing to withdraw", retryable=False)
        if report.status == "published" and report.supersedes_id is not None:
            earlier = session.get(ReportRow, report.supersedes_id, with_for_update=True)
            if earlier is not None and earlier.status == "superseded":
                earlier.status = "published"
        report.status = "withdrawn"
