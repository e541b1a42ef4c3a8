"""`opsgate summary facts`: the week's figures from an events file; writes nothing, needs no server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsgate import exits_cleanly, terminal_text

summary = typer.Typer(
    name="summary", help="The weekly operations summary: its facts, computed from the events.", no_args_is_help=True
)
stderr = Console(stderr=True, soft_wrap=True)


@summary.command()
@exits_cleanly
def facts(
    events: Annotated[
        Path, typer.Option(help="Events as CSV or Parquet: id, opened, closed, category, priority, owner, due.")
    ],
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W47: Monday 00:00 to the next Monday 00:00 in --tz.")],
    tz: Annotated[
        str, typer.Option(help="IANA time zone of the week's bounds and of timestamps without an offset.")
    ] = "UTC",
    json_output: Annotated[bool, typer.Option("--json", help="The facts as one JSON object on stdout.")] = False,
) -> None:
    """Compute the week's facts: volumes, backlog, SLA breaches, cycle times, changes, anomalies."""
    from tasks.weekly_summary.events import read_events
    from tasks.weekly_summary.facts import week_facts
    from tasks.weekly_summary.weeks import parse_week, time_zone

    zone, iso_week = time_zone(tz), parse_week(week)
    with stderr.status(f"reading {events}", spinner="dots"):
        loaded = read_events(events, zone)
        found = week_facts(loaded, iso_week, zone)
    for problem in loaded.problems:
        stderr.print(
            Text.assemble(terminal_text("skipped", "yellow"), terminal_text(f" {problem.where}: {problem.reason}"))
        )  # reasons quote the file's rows
    if json_output:
        sys.stdout.write(found.model_dump_json() + "\n")
        return
    table = Table(
        "figure",
        found.week,
        "week before",
        "change",
        title=f"{found.week} ({found.timezone}) · {found.events:,} events",
    )
    for name in ("opened", "closed", "backlog_end", "sla_breaches", "cycle_time_p50_hours", "cycle_time_p90_hours"):
        value, before, change = getattr(found, name), getattr(found.previous, name), found.changes[name]
        table.add_row(name, _shown(value), _shown(before), "" if change is None else f"{change:+g}")
    Console().print(table)
    for anomaly in found.anomalies:
        Console().print(
            (
                f"[magenta]unusual[/]: {anomaly.figure} {anomaly.value:g} against {anomaly.baseline_mean:g} "
                f"± {anomaly.baseline_std:g} over the 8 weeks before (z {anomaly.z:+.1f})"
            )
        )


def _shown(value: float | int | None) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
