"""`opsgate runs`: what ran, how it was triggered, and where each of its inputs ended. Sources,
triggers and details are shown with ``display.terminal_text``: never as rich markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_text
from opsgate.errors import ConfigurationError
from opsgate.governance import runs as run_store
from opsgate.governance.runs import RunRecord

app = typer.Typer(help="Look up past and current runs and their cases.", no_args_is_help=True)


@app.command("list")
@exits_cleanly
def list_(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's runs.")] = None,
    limit: Annotated[int, typer.Option(help="Newest runs to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array of runs.")] = False,
) -> None:
    """The newest runs, newest first."""
    records = run_store.recent_runs(limit, workflow)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json", exclude={"cases"}) for r in records], indent=2))
        return
    table = Table("run", "workflow", "trigger", "started", "status", "cases")
    for r in records:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(r.counts.items()))
        table.add_row(
            *map(terminal_text, (r.id[:8], r.workflow, r.trigger, f"{r.started_at:%Y-%m-%d %H:%M}", r.status, counts))
        )
    Console().print(table)


@app.command()
@exits_cleanly
def show(
    run_id: Annotated[str, typer.Argument(help="opsgate run id or Prefect flow run id (or a unique prefix).")],
    as_json: Annotated[bool, typer.Option("--json", help="The run and its cases as JSON.")] = False,
) -> None:
    """One run and where each of its inputs ended (escalations name their reason)."""
    record = run_store.run_record(run_id)
    if record is None:
        raise ConfigurationError(f"no single run matches {run_id!r}; see `opsgate runs list`")
    if as_json:
        typer.echo(record.model_dump_json(indent=2))
        return
    console = Console()
    heading = f" run {record.id} · flow run {record.flow_run_id} · {record.trigger} · {record.status}"
    console.print(Text.assemble(terminal_text(record.workflow, "bold"), terminal_text(heading)))
    console.print(cases_table(record))


def cases_table(record: RunRecord) -> Table:
    table = Table("proposal", "source", "status", "detail", title=f"every input of run {record.id[:8]}")
    for case in record.cases:
        table.add_row(
            *map(terminal_text, (case.proposal_id[:8], Path(case.source).name, str(case.status), case.detail))
        )
    return table
