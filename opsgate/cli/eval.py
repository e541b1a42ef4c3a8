"""`opsgate eval`: how a workflow's shadow runs compare with what people did over the same period."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.cli.metrics import parse_moment
from opsgate.display import terminal_text
from opsgate.learning import evaluation, evaluation_views
from opsgate.learning.evaluation import EvaluationReport
from opsgate.workflows import by_name


@exits_cleanly
def evaluate(
    workflow: Annotated[str, typer.Argument(help="The workflow, by alias or name: invoices, dedupe, summary, triage.")],
    outcomes: Annotated[Path, typer.Option(help="What people did over the period, as CSV or Parquet.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Compare the shadow cases created since (ISO 8601, UTC unless it has an offset). Default: 30 days ago."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
    artifact: Annotated[
        bool,
        typer.Option("--artifact", help="Also publish the report with its chart to Prefect as a markdown artifact."),
    ] = False,
) -> None:
    """Compare a workflow's shadow proposals with what people did: agreement per action and per
    field, wrong actions and what they put at stake, cases that should have been escalated. Writes nothing."""
    spec = by_name(workflow)
    now = datetime.now(timezone.utc)
    report = evaluation.evaluate(spec, outcomes, parse_moment(since, now - timedelta(days=30)), now)
    if artifact:
        _publish(report)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    _print(report)


def _print(report: EvaluationReport) -> None:
    console = Console()
    console.print(terminal_text(evaluation_views.headline(report)))
    if report.overall.cases == 0:
        console.print(
            terminal_text(
                f"no shadow cases in the window: is a case type's autonomy `shadow` in the {report.workflow} policy?"
            )
        )
    for found in evaluation_views.report_tables(report):
        if found.rows:
            table = Table(*found.columns, title=found.title)
            for row in found.rows:
                table.add_row(*map(terminal_text, row))
            console.print(table)
    for rule in report.rules:
        console.print(terminal_text(f"- {rule}", "dim"))


def _publish(report: EvaluationReport) -> None:
    """The report and its chart as the workflow's `...-shadow-evaluation` artifact (Prefect loads only here)."""
    from opsgate.orchestration.publishing import publish_markdown

    key = f"{report.workflow.replace('_', '-')}-shadow-evaluation"
    markdown = evaluation_views.markdown(report, evaluation_views.agreement_chart(report))
    publish_markdown(key, markdown, f"Shadow cases of {report.workflow} against what people did")
    Console(stderr=True).print(terminal_text(f"published the artifact {key}"))
