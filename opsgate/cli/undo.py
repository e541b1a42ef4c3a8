"""`opsgate undo`: take one executed write back through its undo record."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from opsgate import executor
from opsgate.cli.errors import exits_cleanly


@exits_cleanly
def undo(
    proposal_id: Annotated[str, typer.Argument(help="The executed proposal's id.")],
    by: Annotated[str, typer.Option("--as", help="Your name, recorded in the audit log.")],
    reason: Annotated[str, typer.Option(help="Why the write is taken back.")],
) -> None:
    """Undo an executed write (e.g. reverse a posting); the history stays, the undo is audited."""
    target = executor.undo(proposal_id, by, reason)
    Console().print(f"[green]undone[/]: {target}", highlight=False)
