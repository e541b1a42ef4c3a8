"""`opsgate replay`: a new instruction version on the inputs of past cases, before it goes live."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.cli.metrics import parse_moment
from opsgate.display import terminal_text
from opsgate.workflows import by_name

if TYPE_CHECKING:
    from opsgate.learning.replay import ReplayReport


@exits_cleanly
def replay(
    workflow: Annotated[str, typer.Argument(help="The workflow, by alias or name: invoices, dedupe, summary, triage.")],
    version: Annotated[str, typer.Option(help="The instruction version to try, e.g. rules-v1 or a prompt version.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Replay the cases created since (ISO 8601, UTC unless it has an offset). Default: 30 days ago."
        ),
    ] = None,
    min_agreement: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of the approved actions' fields the new version must agree with to be ready."
        ),
    ] = 1.0,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="A candidate policy file for the workflow, not live yet: propose and route under its rules and settings."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
) -> None:
    """Propose again for the past cases with another instruction version and compare with how they
    ended: the actions people approved, their rejections, escalations and failures. Writes nothing;
    exits 1 when the version is not ready, so a deployment can refuse it."""
    from opsgate.learning import replay as replaying

    now = datetime.now(timezone.utc)
    report = replaying.replay(
        by_name(workflow), version, parse_moment(since, now - timedelta(days=30)), now, min_agreement, policy
    )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print(report)
    if not report.ready:
        raise typer.Exit(1)


def _print(report: ReplayReport) -> None:
    from opsgate.learning.replay_views import headline, replay_tables

    console = Console()
    console.print(terminal_text(headline(report)))
    console.print(terminal_text(report.verdict))
    for found in replay_tables(report):
        table = Table(*found.columns, title=found.title)
        for row in found.rows:
            table.add_row(*map(terminal_text, row))
        console.print(table)
    for rule in report.rules:
        console.print(terminal_text(f"- {rule}", "dim"))
