"""The review app served by uvicorn on a free port of the loopback, in a thread of the test's
process (so it shares the test's store, settings and monkeypatches), as `opsgate review serve`
serves it: the real TCP peer as the client address, no forwarded headers believed."""

from __future__ import annotations

import contextvars
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from opsgate.settings import get_settings
from opsgate.web.app import create_app


@contextmanager
def review_server(monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve the review app with ``env`` set (``OPSGATE_REVIEW_URL`` is its own address); yields
    its base URL and stops it afterwards. The socket is bound before the app is made, so the
    address the app is told is the one it listens on. The server's thread runs in a copy of this
    thread's context, so the Prefect settings a test set (its server's API URL) are the ones the
    app wakes runs through."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    for name, value in {"OPSGATE_REVIEW_URL": base_url, **(env or {})}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    config = uvicorn.Config(create_app(), proxy_headers=False, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(server.run,), kwargs={"sockets": [listening]}, daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the review app did not start"
            time.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(15)
        listening.close()
