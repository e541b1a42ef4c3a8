"""`opsgate escalations`: the escalated cases nobody has answered, and a person's answer to one:
take it up (it is proposed again with the values given and waits at the gate like any write), or
close it (dealt with elsewhere, or, with --not-ours, nothing of the workflow's fits it). What cases
carry is shown with ``display.terminal_text``: never as rich markup."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_text
from opsgate.errors import ConfigurationError
from opsgate.governance import escalations

app = typer.Typer(help="Escalated cases: list the open ones, take one up, or close it.", no_args_is_help=True)

AS = Annotated[str, typer.Option("--as", help="Your name, recorded with the answer in the audit log.")]


@app.command("list")
@exits_cleanly
def list_open(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's (name or alias).")] = None,
) -> None:
    """The escalated cases nobody has answered yet, newest first, with why they were escalated and
    who asked to take one up where that run has not proposed it yet (a worker may not be running)."""
    from opsgate.workflows import by_name

    name = by_name(workflow).name if workflow else None
    found = escalations.open_escalations(name)
    table = Table("case", "workflow", "source", "escalated", "why", "take-up asked by")
    for case in found:
        table.add_row(
            *map(
                terminal_text,
                (
                    case.proposal_id[:8],
                    case.workflow,
                    case.source,
                    f"{case.escalated_at:%Y-%m-%d %H:%M}",
                    case.detail,
                    _asked(case),
                ),
            )
        )
    Console().print(table if found else terminal_text("no open escalations"))


def _asked(case: escalations.OpenEscalation) -> str:
    if case.asked_by is None:
        return ""
    return f"{case.asked_by} (run {case.asked_run[:8]})" if case.asked_run else f"{case.asked_by} (no run started)"


def _fields(assignments: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for value in assignments:
        field, sep, new = value.partition("=")
        if not sep or not field.strip():
            raise ConfigurationError(f"--set takes FIELD=VALUE, got {value!r}")
        fields[field.strip()] = new
    return fields


@app.command()
@exits_cleanly
def take(
    proposal_id: Annotated[
        str, typer.Argument(help="The escalated case's id, or the start of it `opsgate escalations list` shows.")
    ],
    by: AS,
    assignments: Annotated[
        list[str], typer.Option("--set", help="FIELD=VALUE the action takes, e.g. queue=returns; repeatable.")
    ] = [],  # noqa: B006 (typer reads the default)
) -> None:
    """Take an escalated case up: it is proposed again with your values, checked by the policy, and
    waits at the gate for an approver (Prefect UI, review screen or `opsgate approvals`)."""
    from opsgate.cli.outcomes import print_outcomes
    from opsgate.orchestration.server import prefect_api
    from opsgate.orchestration.take_up import TakeUpParams, take_up_case

    fields = _fields(assignments)
    proposal_id, _ = escalations.case_named(proposal_id)
    asked = escalations.ask_take_up(proposal_id, fields, by)  # a clear error before any run starts
    with prefect_api():
        summary = take_up_case(TakeUpParams(request=asked.id))
    print_outcomes(summary)


@app.command()
@exits_cleanly
def close(
    proposal_id: Annotated[
        str, typer.Argument(help="The escalated case's id, or the start of it `opsgate escalations list` shows.")
    ],
    by: AS,
    reason: Annotated[str, typer.Option(help="What became of it: recorded in the audit log.")],
    not_ours: Annotated[
        bool,
        typer.Option(
            "--not-ours", help="Nothing of this workflow's fits it (another team's, spam): the workflow may learn it."
        ),
    ] = False,
) -> None:
    """Close an escalated case with nothing written: dealt with elsewhere, or not ours. Only someone
    the policy lets decide the case may; with a local account (or where the policy requires a
    verified person) you are asked for its password, as when approving."""
    from opsgate.cli.approvals import authenticate

    case, workflow = escalations.case_named(proposal_id)
    proven = authenticate(by.strip(), escalations.verified_required(workflow))
    answer = escalations.close(case, by, reason, not_ours, authenticated_by=proven)
    Console().print(terminal_text(f"case {proposal_id} closed ({answer}) by {by.strip()}"))
