"""The `opsgate` command, assembled from its command groups and the installed workflows.

Every command is named here with its one-line summary and loaded only when it runs, so `opsgate
--help` imports neither the store nor Prefect nor any workflow's code (the specs are names only).
"""

from __future__ import annotations

import click
import typer
from typer.core import TyperGroup

from opsgate.cli.errors import exits_cleanly
from opsgate.workflows import Command, load, workflows

PLATFORM = (
    Command(
        "demo",
        "opsgate.cli.demo:demo",
        "Run the invoice workflow on the sample invoices and walk through the approval.",
    ),
    Command("undo", "opsgate.cli.undo:undo", "Propose the undo of an executed write (e.g. reverse a posting)."),
    Command(
        "metrics",
        "opsgate.cli.metrics:metrics",
        "Completion, approval, correction, escalation and tool-error rates, incidents and time saved.",
    ),
    Command(
        "eval",
        "opsgate.cli.eval:evaluate",
        "Compare a workflow's shadow proposals with what people did. Writes nothing.",
    ),
    Command(
        "replay",
        "opsgate.cli.replay:replay",
        "Propose again for past cases with another instruction version and compare. Writes nothing.",
    ),
    Command(
        "release",
        "opsgate.cli.release:release",
        "Replay a new instruction version and, when it meets the go_live rule, propose its release.",
    ),
    Command(
        "recover",
        "opsgate.cli.recover:recover",
        "Finish what runs whose process died left open, exactly once, and audit it.",
    ),
    Command("run", "opsgate.cli.run:app", "Run a workflow now (it waits at its gate for a decision)."),
    Command("runs", "opsgate.cli.runs:app", "Look up past and current runs and their cases."),
    Command("approvals", "opsgate.cli.approvals:app", "Review and decide the proposals waiting at a gate."),
    Command(
        "escalations",
        "opsgate.cli.escalations:app",
        "Escalated cases: list the open ones, take one up through the gate, or close it.",
    ),
    Command(
        "users",
        "opsgate.cli.users:app",
        "Approvers' local accounts: add, list, disable, enable, set a password; sign a person out.",
    ),
    Command("review", "opsgate.cli.review:app", "The review screen: a web page approvers decide in, signed in."),
    Command("audit", "opsgate.cli.audit:app", "Verify, export and read the audit log."),
    Command("policy", "opsgate.cli.policy:app", "Check and review workflow policies."),
    Command("reports", "opsgate.cli.reports:app", "Published reports: list them, export one."),
    Command("incident", "opsgate.cli.incident:app", "Incidents against executed actions."),
    Command(
        "autonomy",
        "opsgate.cli.autonomy:app",
        "Earned autonomy: each case type's mode, and promotions through the gate.",
    ),
    Command("server", "opsgate.cli.server:app", "Start, inspect or stop the local Prefect server."),
)


def commands() -> dict[str, Command]:
    """The platform's commands, then each installed workflow's."""
    table = {command.name: command for command in PLATFORM}
    for spec in workflows().values():
        table.update({command.name: command for command in spec.commands})
    return table


def _click_command(command: Command) -> click.Command:
    """The command, imported now: a typer group as it is, a function as a command of its own."""
    target = load(command.target)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)  # a group even when it holds one command (`opsgate summary facts`)
        group.name = command.name
        return group
    single = typer.Typer(pretty_exceptions_enable=False)
    # a workflow's own command turns opsgate's errors into messages and exit codes, like the platform's
    single.command(command.name)(target if command in PLATFORM else exits_cleanly(target))
    return typer.main.get_command(single)


class _Commands(TyperGroup):
    """Lists commands from the table; imports one only when it is run (or its own help is asked)."""

    listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(commands())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = commands().get(cmd_name)
        if command is None:
            return None
        if self.listing:
            return click.Command(command.name, help=command.summary)
        return _click_command(command)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    name="opsgate",
    cls=_Commands,
    help="Governed AI workflows for back-office teams: agents propose, people approve, one executor writes, everything is audited.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _opsgate() -> None:
    """Governed AI workflows for back-office teams: agents propose, people approve, one executor writes, everything is audited."""


def main() -> None:
    app()
