"""`opsgate review serve`: the review screen, a web application approvers sign in to and decide in.

It answers through the same checks as the CLI and the Prefect UI, and wakes paused runs on the
Prefect server opsgate uses (``PREFECT_API_URL``, or the local one it keeps)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import typer

from opsgate.cli.errors import exits_cleanly
from opsgate.settings import get_settings

app = typer.Typer(help="The review screen: a web page approvers decide in, signed in.", no_args_is_help=True)


@app.command()
@exits_cleanly
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: OPSGATE_REVIEW_URL's host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: OPSGATE_REVIEW_URL's port).")] = None,
) -> None:
    """Serve the review screen until interrupted."""
    import uvicorn

    from opsgate.orchestration.server import prefect_api
    from opsgate.web.app import create_app

    settings = get_settings()
    address = urlsplit(settings.review_url)
    with prefect_api() as api_url:
        typer.echo(f"opsgate review on {settings.review_url} (Prefect API {api_url})")
        uvicorn.run(
            create_app(settings),
            host=host or address.hostname or "127.0.0.1",
            port=port or address.port or 8400,
            proxy_headers=False,  # who a client is, is decided by the trusted-proxy setting, not by headers
            log_level="warning",
        )
