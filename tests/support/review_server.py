"""The review screen served by uvicorn on a free port of this machine, in a thread of the test's
process: a browser (or any HTTP client) talks to it as an approver's would."""

from __future__ import annotations

import contextvars
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from opsgate.web.app import create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def review_server(host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``create_app()`` (the settings as they are now) until the block ends; yields its base URL.

    The server's thread runs in a copy of this thread's context, so the Prefect settings a test set
    (its server's API URL) are the ones the app wakes runs through."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host=host, port=port, log_level="warning", proxy_headers=False, lifespan="on")
    )
    thread = threading.Thread(target=contextvars.copy_context().run, args=(server.run,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the review screen did not start")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
