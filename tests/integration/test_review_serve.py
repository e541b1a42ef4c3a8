"""`opsgate review serve` as an operator starts it: a process of its own that serves the sign-in
page on the address asked for, with its security headers, and signs an account holder in."""

from __future__ import annotations

import re
import time

import httpx

from opsgate.governance import identity
from tests.support.processes import free_port, start, stop

PASSWORD = "correct horse battery"


def test_the_command_serves_the_review_screen(flow_env: str) -> None:
    identity.add_user("carol", PASSWORD, by="test")
    port = free_port()
    server = start(flow_env, "review", "serve", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                login = httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "opsgate review serve did not answer within 60 s"
                time.sleep(0.2)
        assert login.status_code == 200 and login.headers["x-frame-options"] == "DENY"
        with httpx.Client(base_url=base, cookies=login.cookies) as browser:
            token = re.search(r'name="csrf" value="([^"]+)"', login.text)
            assert token is not None
            signed = browser.post("/login", data={"username": "carol", "password": PASSWORD, "csrf": token.group(1)})
            assert signed.status_code == 303
            assert browser.get("/api/queue").json() == []
    finally:
        stop(server)
