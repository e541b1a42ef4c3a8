"""How a command that ran a governed flow (undo, release) reports where its cases ended."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from opsgate.models import RunSummary


def print_outcomes(summary: RunSummary) -> None:
    """One line per case: its final state in colour, the source and the detail (escaped: they come from the store)."""
    console = Console()
    for outcome in summary.outcomes:
        colour = "green" if outcome.status == "executed" else "yellow"
        console.print(f"[{colour}]{outcome.status}[/]: {escape(outcome.source)} · {escape(outcome.detail)}", highlight=False)
