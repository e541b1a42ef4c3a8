"""`opsgate incident report`: say that an executed action went wrong."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_text
from opsgate.learning.incidents import report_incident
from opsgate.orchestration.server import run_link

app = typer.Typer(help="Incidents against executed actions.", no_args_is_help=True)


@app.command()
@exits_cleanly
def report(
    proposal_id: Annotated[str, typer.Argument(help="The executed proposal that went wrong.")],
    reason: Annotated[str, typer.Option(help="What went wrong.")],
    by: Annotated[str, typer.Option("--as", help="Your name, recorded in the audit log.")],
) -> None:
    """Record an incident against an executed action, escalate it to the workflow's owner and tell
    the policy's channels. Nothing is undone: propose that with `opsgate undo`."""
    incident = report_incident(proposal_id, reason, by, run_link)
    told = ", ".join(f"{name}: {status}" for name, status in incident.channels.items()) or "no channel configured"
    Console().print(
        Text.assemble(
            terminal_text("incident", "red"),
            terminal_text(
                f" on {incident.target} ({incident.workflow}, {incident.case_type}) recorded; owner escalated; channels: {told}"
            ),
        )
    )
