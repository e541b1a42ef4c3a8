"""A real OpenID Connect provider for tests: ``oidc-provider-mock`` (an Authlib-based provider with
discovery, signing keys, the authorization-code flow and a sign-in form where the test says who
signs in), in a process of its own on a free port of the loopback."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from tests.support.processes import free_port, stop


@dataclass(frozen=True)
class Provider:
    issuer: str

    def add_user(self, subject: str, claims: dict[str, object]) -> None:
        """Make ``subject`` a person the provider signs in, with ``claims`` in their ID token."""
        answer = httpx.put(f"{self.issuer}/users/{quote(subject, safe='')}", json=claims, timeout=10)
        assert answer.status_code == 204, answer.text


@contextmanager
def oidc_provider(token_seconds: int = 3600) -> Iterator[Provider]:
    """The provider, requiring a nonce in every authorization request; its ID tokens expire
    ``token_seconds`` after they are issued (a negative number: already expired). Stopped afterwards."""
    port = free_port()
    log = tempfile.TemporaryFile("w+")  # its request log, read back if it fails to start
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
        + ["--require-nonce", "--no-refresh-token", "--token-max-age", str(token_seconds)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"the OpenID provider stopped: {log.read()[-2000:]}")
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the OpenID provider did not answer within 30 s"
            time.sleep(0.1)
        yield Provider(issuer)
    finally:
        stop(process)
        log.close()
