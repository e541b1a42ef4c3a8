"""`opsgate users`: approvers' local accounts, so a decision's approver can be checked, not just typed.

An approver with an account is asked for its password by `opsgate approvals approve/reject --as`;
a policy with `approvals.identity: verified` accepts only such answers. Passwords are read from a
hidden prompt, never echoed, and kept only as argon2 hashes.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_text
from opsgate.governance import identity, signins

app = typer.Typer(
    help="Approvers' local accounts: add, list, disable, enable, set a password; sign a person out.",
    no_args_is_help=True,
)

NAME = Annotated[str, typer.Argument(help="The approver's name, as they type it with --as.")]


def _operator() -> str:
    """Who changes accounts, as the audit log records them: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@app.command()
@exits_cleanly
def add(
    name: NAME,
    password: Annotated[
        str | None, typer.Option(help="The password; asked for (hidden, twice) when left out.", show_default=False)
    ] = None,
) -> None:
    """Open an account for an approver (audited)."""
    if password is None:
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    user = identity.add_user(name, password, by=_operator())
    Console().print(terminal_text(f"account {user.name!r} added"))


@app.command("list")
@exits_cleanly
def list_(as_json: Annotated[bool, typer.Option("--json", help="A JSON array of accounts.")] = False) -> None:
    """Every account, by name, with whether it is disabled."""
    users = identity.list_users()
    if as_json:
        typer.echo(json.dumps([u.model_dump(mode="json") for u in users], indent=2))
        return
    table = Table("name", "created", "disabled")
    for user in users:
        table.add_row(
            *map(terminal_text, (user.name, f"{user.created_at:%Y-%m-%d %H:%M}", "yes" if user.disabled else "no"))
        )
    Console().print(table if users else "no accounts")


@app.command()
@exits_cleanly
def disable(name: NAME) -> None:
    """Disable an account (audited): its password no longer authenticates anyone; its past decisions stay."""
    identity.disable_user(name, by=_operator())
    Console().print(terminal_text(f"account {name.strip()!r} disabled"))


@app.command()
@exits_cleanly
def enable(name: NAME) -> None:
    """Enable a disabled account again (audited)."""
    identity.enable_user(name, by=_operator())
    Console().print(terminal_text(f"account {name.strip()!r} enabled"))


@app.command()
@exits_cleanly
def password(
    name: NAME,
    new: Annotated[
        str | None,
        typer.Option(
            "--password", help="The new password; asked for (hidden, twice) when left out.", show_default=False
        ),
    ] = None,
) -> None:
    """Give an account a new password (audited): for a forgotten one, or one that may be known."""
    if new is None:
        new = typer.prompt(f"new password for {name}", hide_input=True, confirmation_prompt=True)
    identity.set_password(name, new, by=_operator())
    Console().print(terminal_text(f"password of {name.strip()!r} changed"))


@app.command("sign-out")
@exits_cleanly
def sign_out(name: NAME) -> None:
    """End every review-screen session of this person (audited), wherever they signed in: a lost
    laptop, a shared machine. Their account, if any, stays as it is."""
    ended = signins.end_sessions(name, "signed out by an operator", by=_operator())
    Console().print(terminal_text(f"{ended} review-screen session(s) of {name.strip()!r} ended"))
