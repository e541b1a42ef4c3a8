"""`opsgate metrics`: how the agents did over a window, per workflow, case type and instruction version."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_text
from opsgate.errors import InputError


def parse_moment(text: str | None, default: datetime) -> datetime:
    """A window bound as the commands that take one read it (metrics, eval): ISO 8601, UTC without an offset."""
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{text!r} is not an ISO 8601 date or time, like 2026-11-16 or 2026-11-16T08:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


@exits_cleanly
def metrics(
    since: Annotated[
        str | None,
        typer.Option(help="Start of the window (ISO 8601, UTC unless it has an offset). Default: 30 days ago."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="End of the window, exclusive. Default: now.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array, one object per workflow, case type and instruction version.")
    ] = False,
    artifact: Annotated[
        bool,
        typer.Option("--artifact", help="Also publish the figures to Prefect as the `agent-metrics` table artifact."),
    ] = False,
) -> None:
    """Completion, approval, correction, escalation and tool-error rates, incidents and time saved."""
    from opsgate.learning.metrics import agent_metrics

    now = datetime.now(timezone.utc)
    start, end = parse_moment(since, now - timedelta(days=30)), parse_moment(until, now)
    if start >= end:
        raise InputError(f"the window is empty: --since {start.isoformat()} is not before --until {end.isoformat()}")
    rows = agent_metrics(start, end, workflow)
    if artifact:
        _publish(rows, start, end)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    table = Table(
        "workflow",
        "case type",
        "version",
        "cases",
        "completed",
        "approved",
        "corrected",
        "escalated",
        "tool errors",
        "incidents",
        "time saved",
        title=f"agent metrics {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
    )
    for r in rows:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.escalations_by_reason.items()))
        table.add_row(
            *map(
                terminal_text,
                (
                    r.workflow,
                    r.case_type,
                    r.instruction_version,
                    str(r.cases),
                    _percent(r.completion_rate),
                    _percent(r.approval_rate),
                    _percent(r.correction_rate),
                    _percent(r.escalation_rate) + (f" ({reasons})" if reasons else ""),
                    _percent(r.tool_error_rate),
                    str(r.incidents),
                    "-" if r.time_saved_minutes is None else f"{r.time_saved_minutes / 60:.1f} h",
                ),
            )
        )
    Console().print(table)


def _publish(rows: list[Any], start: datetime, end: datetime) -> None:
    from opsgate.orchestration.publishing import publish_table

    table = [
        {k: "" if v is None else str(v) for k, v in row.model_dump(mode="json").items() if k != "escalations_by_reason"}
        for row in rows
    ]
    publish_table("agent-metrics", table, f"Agent metrics {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
