"""`opsgate reports`: the published reports, and one exported as Markdown with its charts and as HTML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_text
from opsgate.errors import InputError
from opsgate.reports import sheets as report_store

app = typer.Typer(help="Published reports: list them, export one.", no_args_is_help=True)


@app.command("list")
@exits_cleanly
def list_(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's reports.")] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only reports whose subject starts with this, e.g. 2026-W47.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Newest reports to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array of reports (without their bodies).")] = False,
) -> None:
    """The newest reports first, with their status and where they were posted."""
    found = report_store.reports(workflow, subject, limit)
    if as_json:
        typer.echo(
            json.dumps([r.model_dump(mode="json", exclude={"markdown", "html", "charts"}) for r in found], indent=2)
        )
        return
    table = Table("report", "workflow", "subject", "status", "published", "headline", "channels")
    for r in found:
        posted = ", ".join(f"{name}: {d.get('status', '?')}" for name, d in r.deliveries.items()) or "-"
        table.add_row(
            *map(
                terminal_text,
                (
                    str(r.id),
                    r.workflow,
                    r.subject,
                    r.status,
                    f"{r.published_at:%Y-%m-%d %H:%M}",
                    r.narrative.headline,
                    posted,
                ),
            )
        )
    Console().print(table)


@app.command()
@exits_cleanly
def export(
    report_id: Annotated[int, typer.Argument(help="The report's number (see `opsgate reports list`).")],
    out: Annotated[Path, typer.Option(help="Directory to write report.md, report.html and charts/ into.")] = Path("."),
) -> None:
    """Write one report as Markdown (charts beside it) and as a self-contained HTML page."""
    report = report_store.published_report(report_id)
    try:
        (out / "charts").mkdir(parents=True, exist_ok=True)
        for chart in report.charts:
            (out / report_store.chart_path(chart)).write_bytes(chart.png)
        (out / "report.md").write_text(report.markdown, encoding="utf-8")
        (out / "report.html").write_text(report.html, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {out}: {exc.strerror}") from exc
    Console().print(
        terminal_text(
            f"report {report.id} ({report.subject}, {report.status}) written to {out / 'report.md'} and {out / 'report.html'}"
        )
    )
