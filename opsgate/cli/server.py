"""`opsgate server`: the local Prefect server opsgate starts when PREFECT_API_URL is unset.

Commands import the Prefect side when they run, so that the CLI starts fast for everything else.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from opsgate.cli.errors import exits_cleanly
from opsgate.errors import ConfigurationError

app = typer.Typer(help="Start, inspect or stop the local Prefect server.", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.command()
@exits_cleanly
def start(
    database_url: Annotated[
        str | None,
        typer.Option(
            help="The server's own database, e.g. postgresql+asyncpg://prefect@db/prefect (default: a SQLite file "
            "in the data directory). PostgreSQL is what several workers and many runs at once need."
        ),
    ] = None,
) -> None:
    """Start the local server (or find it running) and print its URL."""
    from opsgate.orchestration.server import ensure_local_server

    if database_url is not None and not database_url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        raise ConfigurationError(
            f"--database-url takes postgresql+asyncpg://... or sqlite+aiosqlite://..., got {database_url.split('://')[0]}://"
        )
    with console.status("starting the local Prefect server…"):
        api_url = ensure_local_server(database_url=database_url)
    console.print(f"Prefect server: {api_url.removesuffix('/api')}  (API {api_url})", highlight=False)


@app.command()
def status() -> None:
    """Which server opsgate uses, and whether it answers."""
    from opsgate.orchestration.server import configured_api_url, local_server_status

    configured = configured_api_url()
    if configured:
        console.print(f"PREFECT_API_URL is set: opsgate uses {configured}", highlight=False)
        return
    api_url, healthy, pid = local_server_status()
    state = "[green]running[/]" if healthy else "[red]not running[/]"
    owner = f", started by opsgate (pid {pid})" if pid else ""
    console.print(f"local server {api_url}: {state}{owner}", highlight=False)


@app.command()
def stop() -> None:
    """Stop the local server opsgate started."""
    from opsgate.orchestration.server import stop_local_server

    pid = stop_local_server()
    console.print(
        f"stopped the local server (pid {pid})" if pid else "no local server started by opsgate is running",
        highlight=False,
    )
