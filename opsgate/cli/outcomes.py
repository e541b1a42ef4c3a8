"""How a command that ran a governed flow (undo, release) reports where its cases ended."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from opsgate.display import terminal_text
from opsgate.models import RunSummary


def print_outcomes(summary: RunSummary) -> None:
    """One line per case: its final state in colour, the source and the detail (shown as text: they come from documents and people)."""
    console = Console()
    for outcome in summary.outcomes:
        colour = "green" if outcome.status == "executed" else "yellow"
        console.print(
            Text.assemble(
                terminal_text(outcome.status, colour),
                ": ",
                terminal_text(outcome.source),
                " · ",
                terminal_text(outcome.detail),
            )
        )
