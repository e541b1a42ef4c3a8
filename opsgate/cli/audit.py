"""`opsgate audit`: verify the hash chain, export it, and show a run's trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from opsgate import audit as audit_log
from opsgate.cli.errors import exits_cleanly, stderr
from opsgate.display import terminal_text
from opsgate.errors import AuditIntegrityError
from opsgate.store.db import transaction

app = typer.Typer(help="Verify, export and read the audit log.", no_args_is_help=True)


@app.command()
@exits_cleanly
def verify() -> None:
    """Check every row of the chain; exit 4 and name the first bad row if any was changed or removed."""
    with transaction() as session:
        result = audit_log.verify(session)
    if not result.ok:
        raise AuditIntegrityError(f"audit log does not verify: {result.problem} (first bad row: {result.first_bad_seq})")
    Console().print(f"[green]ok[/]: {result.rows} audit rows, chain intact", highlight=False)


@app.command()
@exits_cleanly
def export(
    format: Annotated[Literal["jsonl", "csv"], typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write; stdout when omitted.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's rows.")] = None,
) -> None:
    """Write the audit log as JSON lines or CSV, one row per event, with its hashes."""
    with transaction() as session:
        rows = list(audit_log.export_rows(session, workflow))
    if output is None:
        audit_log.write_export(rows, sys.stdout, format)
        return
    with output.open("w", newline="", encoding="utf-8") as out:
        count = audit_log.write_export(rows, out, format)
    stderr.print(f"{count} rows written to {output}", highlight=False)


def trail_table(rows: list[dict[str, object]]) -> Table:
    table = Table("#", "at", "event", "actor", "proposal", "what")
    for row in rows:
        data = row["data"] if isinstance(row["data"], dict) else {}
        what = Path(str(data["source"])).name if data.get("source") else data.get("trigger") or data.get("counts") or ""
        extra = data.get("target") or data.get("reason") or data.get("error") or ""
        cells = (str(row["seq"]), str(row["at"])[11:19], str(row["event"]), str(row["actor"]), str(row["proposal_id"] or "")[:8], f"{what} {extra}".strip())
        table.add_row(*map(terminal_text, cells))  # actors, sources, reasons and errors come from people and documents
    return table


@app.command()
@exits_cleanly
def show(
    run: Annotated[str | None, typer.Option(help="Only this opsgate run id.")] = None,
    limit: Annotated[int, typer.Option(help="Newest rows to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array of the rows instead of a table.")] = False,
) -> None:
    """Show the newest audit events."""
    with transaction() as session:
        rows = [r for r in audit_log.export_rows(session) if run is None or r["run_id"] == run][-limit:]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    Console().print(trail_table(rows))
