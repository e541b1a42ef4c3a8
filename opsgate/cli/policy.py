"""`opsgate policy`: check every policy, review one workflow's access, print the policy schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsgate.cli.errors import exits_cleanly, stderr
from opsgate.display import terminal_text
from opsgate.policy.loader import check_all, load_policy, policy_path
from opsgate.policy.runtime import Policy
from opsgate.policy.schema import Access

app = typer.Typer(help="Check and review workflow policies.", no_args_is_help=True)


@app.command()
@exits_cleanly
def check() -> None:
    """Validate every policy file; exit 2 and list every problem if any is invalid."""
    loaded, problems = check_all()
    for name, policy in sorted(loaded.items()):
        Console(soft_wrap=True).print(
            f"[green]ok[/]  {policy_path(name)} (version {policy.fingerprint})", highlight=False
        )
    for problem in problems:
        stderr.print(
            Text.assemble(terminal_text("invalid", "bold red"), " ", terminal_text(problem))
        )  # a problem quotes the file's values
    if problems:
        raise typer.Exit(2)


def _review(policy: Policy) -> dict[str, object]:
    return {
        "workflow": policy.workflow,
        "version": policy.fingerprint,
        "owner": policy.owner.model_dump(),
        "reads": policy.tools_with(Access.READ),
        "writes": {name: {"approval": t.approval, "undo": t.undo} for name, t in policy.writes().items()},
        "forbidden": policy.tools_with(Access.FORBIDDEN),
        "logged": sorted(name for name, t in policy.tools.items() if t.logged),
        "autonomy": {case: mode.value for case, mode in policy.autonomy.items()},
        "escalation": policy.escalation.model_dump(mode="json", exclude_none=True),
        "approvals": policy.approvals.model_dump(mode="json", exclude_none=True),
        "go_live": policy.go_live.model_dump(mode="json") if policy.go_live else None,
    }


@app.command()
@exits_cleanly
def show(
    workflow: Annotated[str, typer.Argument(help="Workflow name, e.g. invoice_extraction.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the review as JSON.")] = False,
) -> None:
    """An access review: what the workflow can read and write, what needs approval, what is forbidden."""
    policy = load_policy(workflow)
    review = _review(policy)
    if as_json:
        typer.echo(json.dumps(review, indent=2, default=str))
        return
    console = Console()
    console.print(
        f"[bold]{policy.workflow}[/] policy {policy.fingerprint} · owner {policy.owner.name} <{policy.owner.contact}>",
        highlight=False,
    )
    if policy.description:
        console.print(terminal_text(policy.description.strip(), "dim"))
    table = Table("tool", "access", "approval", "undo", "logged", "description")
    order = {Access.WRITE: 0, Access.READ: 1, Access.FORBIDDEN: 2}
    for name, tool in sorted(policy.tools.items(), key=lambda item: (order[item[1].access], item[0])):
        style = {"write": "yellow", "forbidden": "red"}.get(tool.access.value, "")
        approval = {"always": "always, by a person", "by_autonomy": "by a person unless autonomy is auto"}.get(
            tool.approval or "", "-"
        )
        table.add_row(
            name,
            f"[{style}]{tool.access.value}[/]" if style else tool.access.value,
            approval,
            tool.undo or "-",
            "yes" if tool.logged else "no",
            tool.description,
        )
    console.print(table)
    autonomy = Table("case type", "autonomy")
    for case, mode in policy.autonomy.items():
        autonomy.add_row(case, mode.value)
    console.print(autonomy)
    console.print("escalates on: " + ", ".join(review["escalation"]), highlight=False)  # type: ignore[arg-type]
    rules = policy.approvals
    if rules.groups:
        approvers = Table("approver group", "members", "decides on")
        for name, group in rules.groups.items():
            approvers.add_row(name, ", ".join(group.members), ", ".join(group.case_types))
        console.print(approvers)
    else:
        console.print("[yellow]no approver groups: anyone who can reach the gate may decide[/]")
    for rule in rules.four_eyes:
        amount = f" above {rule.field} {rule.above}" if rule.field else ""
        console.print(
            f"four eyes: {rule.case_type} cases{amount} need two different approvers, neither the requester",
            highlight=False,
        )
    deadline = f"{rules.deadline_minutes:g} minutes" if rules.deadline_minutes else "OPSGATE_APPROVAL_TIMEOUT"
    reminder = f", reminder {rules.remind_before_minutes:g} minutes before" if rules.remind_before_minutes else ""
    console.print(
        f"deadline: {deadline}{reminder}; notified: {', '.join(rules.notify) or 'no channel'}", highlight=False
    )
    identity = (
        "verified: an approver proves who they are with a local account's password (`opsgate users`); "
        "the Prefect UI form's typed names are refused"
        if rules.identity == "verified"
        else "typed: the name an approver types is recorded, nobody checks it"
    )
    console.print(f"approver identity: {identity}", highlight=False)
    if policy.go_live:
        rule = policy.go_live
        console.print(
            f"live instruction versions (by this file): {', '.join(rule.released)}; another is shadowed until released "
            f"(replay over {rule.replay_days} days, agreement at least {rule.min_agreement:.0%}); `opsgate autonomy show` lists releases since",
            highlight=False,
        )
    else:
        console.print("[yellow]no go_live rule: any instruction version proposes live[/]")


@app.command()
def schema() -> None:
    """Print the JSON Schema of policy files (generated from the model; for editors and CI)."""
    typer.echo(json.dumps(Policy.model_json_schema(), indent=2))
