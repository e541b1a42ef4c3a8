"""Reports written from facts: the fact sheet a run stores, and the report rendered from it.

A report has two parts. The narrative (a ``Summary``) is what a model or template drafts and a
person may edit at the gate; everything else (tables, charts) is the fact sheet's fixed part,
computed before the gate and stored with the run, so no one edits a figure into it. The same
rendering serves the draft people review and the report the writer publishes.

Narrative text and fact-sheet text (category names, vendor names) come from models and input
files: they are escaped as Markdown (``display.markdown_text``) and the HTML is rendered without raw
HTML, so a summary that says ``<script>`` or ``![](http://tracker)`` shows those characters instead
of acting on them, and a hidden bidirectional control shows as its code point.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from markdown_it import MarkdownIt
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.display import html_text, markdown_text
from opsgate.errors import ExecutionError, InputError
from opsgate.models import digest
from opsgate.reports.summaries import Summary
from opsgate.store.db import transaction
from opsgate.store.tables import FactSheetRow, ReportRow

Images = Literal["inline", "files"]
_CHART = re.compile(r"\{\{chart:([a-z0-9_-]+)\}\}")


class Chart(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    title: str
    png: bytes


class FactSheet(BaseModel):
    """What a run computed for one report. ``appendix`` is Markdown in which ``{{chart:NAME}}``
    stands for a chart, so the same text renders with inline images or with image files."""

    workflow: str
    subject: str
    facts: dict[str, int | float | str | None] = Field(
        description="One key per figure: what a summary may state and cite."
    )
    detail: dict[str, Any] = Field(description="The full facts model, for people and later analysis.")
    appendix: str
    charts: list[Chart] = Field(default_factory=list)

    @property
    def digest(self) -> str:
        return digest(self.stored_charts() | {"facts": self.facts, "detail": self.detail, "appendix": self.appendix})

    def stored_charts(self) -> dict[str, Any]:
        return {
            "charts": [{"name": c.name, "title": c.title, "png": base64.b64encode(c.png).decode()} for c in self.charts]
        }


class StoredSheet(BaseModel):
    id: int
    digest: str
    sheet: FactSheet


def save_sheet(run_id: str, sheet: FactSheet) -> StoredSheet:
    with transaction() as session:
        row = FactSheetRow(
            run_id=run_id,
            workflow=sheet.workflow,
            subject=sheet.subject,
            facts=sheet.facts,
            detail=sheet.detail,
            appendix=sheet.appendix,
            charts=sheet.stored_charts()["charts"],
            digest=sheet.digest,
        )
        session.add(row)
        session.flush()
        return StoredSheet(id=row.id, digest=row.digest, sheet=sheet)


def load_sheet(session: Session, sheet_id: int) -> StoredSheet:
    row = session.get(FactSheetRow, sheet_id)
    if row is None:
        raise ExecutionError(f"no fact sheet {sheet_id}", retryable=False)
    charts = [Chart(name=c["name"], title=c["title"], png=base64.b64decode(c["png"])) for c in row.charts]
    sheet = FactSheet(
        workflow=row.workflow,
        subject=row.subject,
        facts=row.facts,
        detail=row.detail,
        appendix=row.appendix,
        charts=charts,
    )
    return StoredSheet(id=row.id, digest=row.digest, sheet=sheet)


def stored_sheets(sheet_ids: Iterable[int]) -> dict[int, StoredSheet]:
    """Fact sheets by id, read in one transaction: what a replay or an outcome comparison drafts
    from. A sheet that is not stored is refused (``ExecutionError``), not left out."""
    with transaction() as session:
        return {sheet_id: load_sheet(session, sheet_id) for sheet_id in sorted(set(sheet_ids))}


def chart_path(chart: Chart) -> str:
    """Where an exported report keeps a chart, relative to its Markdown file."""
    return f"charts/{chart.name}.png"


def _image(chart: Chart, images: Images) -> str:
    target = (
        f"data:image/png;base64,{base64.b64encode(chart.png).decode()}" if images == "inline" else chart_path(chart)
    )
    return f"![{markdown_text(chart.title)}]({target})"


def _items(heading: str, lines: list[str]) -> list[str]:
    return [f"### {heading}", "", *(f"- {markdown_text(line)}" for line in lines), ""] if lines else []


def narrative_markdown(summary: Summary) -> str:
    """The narrative alone: what a channel message carries."""
    lines = [f"## {markdown_text(summary.headline)}", ""]
    lines += _items("Highlights", [h.text for h in summary.highlights])
    lines += _items("Risks", [r.text for r in summary.risks])
    lines += _items("Actions", summary.actions)
    return "\n".join(lines).strip() + "\n"


def render_markdown(
    title: str, summary: Summary, sheet: FactSheet, images: Images = "inline", status: str | None = None
) -> str:
    """The report as Markdown: narrative first, then the fact sheet's tables and charts."""
    charts = {c.name: c for c in sheet.charts}
    appendix = _CHART.sub(lambda m: _image(charts[m[1]], images) if m[1] in charts else "", sheet.appendix)
    lines = [f"# {markdown_text(title)}", ""]
    if status:
        lines += [f"> {status}", ""]
    return "\n".join([*lines, narrative_markdown(summary), appendix.strip(), ""])


_HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.2rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
blockquote {{ color: #555; border-left: 3px solid #ccc; margin-left: 0; padding-left: 1rem; }}
</style></head><body>
{body}</body></html>
"""


def render_html(markdown: str, title: str) -> str:
    """One self-contained HTML page (charts inline) from the report's Markdown; raw HTML in the
    Markdown is shown as text, never run."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return _HTML_PAGE.format(title=html_text(title), body=body)


class PublishedReport(BaseModel):
    """A report as the store holds it, with its charts, for export and for showing on the run."""

    id: int
    workflow: str
    subject: str
    title: str
    status: str
    narrative: Summary
    markdown: str = Field(description="Charts linked as files under charts/.")
    html: str = Field(description="One self-contained page, charts inline.")
    charts: list[Chart]
    channels: list[str]
    deliveries: dict[str, Any]
    published_at: datetime

    @property
    def markdown_inline(self) -> str:
        """The Markdown with its charts inline, for viewers that cannot read files beside it (the Prefect UI)."""
        text = self.markdown
        for chart in self.charts:
            text = text.replace(
                f"]({chart_path(chart)})", f"](data:image/png;base64,{base64.b64encode(chart.png).decode()})"
            )
        return text


def _published(session: Session, row: ReportRow) -> PublishedReport:
    return PublishedReport(
        id=row.id,
        workflow=row.workflow,
        subject=row.subject,
        title=row.title,
        status=row.status,
        narrative=Summary.model_validate(row.narrative),
        markdown=row.markdown,
        html=row.html,
        charts=load_sheet(session, row.fact_sheet_id).sheet.charts,
        channels=row.channels,
        deliveries=row.deliveries,
        published_at=row.published_at,
    )


def published_report(report_id: int) -> PublishedReport:
    with transaction() as session:
        row = session.get(ReportRow, report_id)
        if row is None:
            raise InputError(f"no report {report_id}")
        return _published(session, row)


def reports(workflow: str | None = None, subject: str | None = None, limit: int = 20) -> list[PublishedReport]:
    """The newest reports first, optionally of one workflow and subject (a subject prefix such as a week)."""
    with transaction() as session:
        query = select(ReportRow).order_by(ReportRow.id.desc()).limit(limit)
        if workflow:
            query = query.where(ReportRow.workflow == workflow)
        if subject:
            query = query.where(ReportRow.subject.startswith(subject))
        return [_published(session, row) for row in session.execute(query).scalars()]
