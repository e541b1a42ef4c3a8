"""`opsgate audit`: verify the hash chain, export it, and show a run's trail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly, stderr
from opsgate.display import terminal_text
from opsgate.errors import AuditIntegrityError, ConfigurationError
from opsgate.notify.channels import Message, post
from opsgate.policy.loader import load_policy
from opsgate.store import audit as audit_log
from opsgate.store.db import transaction

app = typer.Typer(help="Verify, export and read the audit log.", no_args_is_help=True)


@app.command()
@exits_cleanly
def verify(
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor", help="A file of anchors written by `opsgate audit anchor --to`: the chain must still hold each."
        ),
    ] = None,
) -> None:
    """Check every row of the chain (keyed hashes), that every execution, approval, run and case in
    the store has its events, and the anchors given; exit 4 naming the first problem."""
    anchors = audit_log.read_anchors(anchor.read_text(encoding="utf-8").splitlines(), str(anchor)) if anchor else None
    with transaction() as session:
        result = audit_log.verify(session, anchors)
    if not result.ok:
        where = f" (first bad row: {result.first_bad_seq})" if result.first_bad_seq is not None else ""
        raise AuditIntegrityError(f"audit log does not verify: {result.problem}{where}")
    anchored = (
        f"; nothing up to row {result.anchored} changed since it was anchored" if result.anchored is not None else ""
    )
    Console().print(f"[green]ok[/]: {result.rows} audit rows, chain intact{anchored}", highlight=False)


@app.command("anchor")
@exits_cleanly
def anchor_head(
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", help="Append the anchor to this file (keep it where the database's administrators cannot write)."
        ),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Also post it to this channel, as WORKFLOW:CHANNEL from that workflow's policy.")
    ] = None,
) -> None:
    """Take the verified head of the chain (row number, hash, time), sign it with the audit key and
    keep it outside the database: `opsgate audit verify --anchor FILE` then proves nothing up to
    that row changed since. Refused when the chain does not verify."""
    with transaction() as session:
        taken = audit_log.anchor(session)
    line = taken.model_dump_json()
    if to is None and channel is None:
        typer.echo(line)
    if to is not None:
        with to.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        stderr.print(f"anchored row {taken.seq} in {to}", highlight=False)
    if channel is not None:
        _post_anchor(channel, taken)


def _post_anchor(target: str, taken: audit_log.Anchor) -> None:
    workflow, _, name = target.partition(":")
    policy = load_policy(workflow)
    if name not in policy.channels:
        raise ConfigurationError(f"--channel {target}: {workflow}'s policy has no channel {name!r}")
    message = Message(
        event="audit.anchor",
        title=f"opsgate audit anchor: row {taken.seq}",
        text=f"The audit log's head at {taken.at.isoformat()}: row {taken.seq}, hash {taken.hash}.",
        fields={"row": str(taken.seq), "hash": taken.hash},
        data=taken.model_dump(mode="json"),
    )
    post(name, policy.channels[name], message, idempotency_key=f"audit-anchor-{taken.seq}-{taken.hash[:16]}")
    stderr.print(f"anchored row {taken.seq} on {target}", highlight=False)


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
        cells = (
            str(row["seq"]),
            str(row["at"])[11:19],
            str(row["event"]),
            str(row["actor"]),
            str(row["proposal_id"] or "")[:8],
            f"{what} {extra}".strip(),
        )
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
