"""The review screen in-process (Starlette's test client over the real app, store and policies)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsgate.errors import ConfigurationError
from opsgate.governance import identity, requests
from opsgate.orchestration import resume
from opsgate.web.app import create_app
from tests.support.batches import open_request, proposed_batch, write_inbox
from tests.unit.platform.conftest import StoreProbe

PASSWORD = "correct horse battery"


@pytest.fixture
def store(opsgate_env: str) -> StoreProbe:
    return StoreProbe()


@pytest.fixture
def client(store: StoreProbe, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app over the test store. Its requests belong to no real flow run: an answer is recorded
    and the run, not there to be woken, would find it itself (the browser tests wake real runs)."""

    def not_paused(request: requests.PendingRequest, timeout: float = 60) -> None:
        raise ConfigurationError("no run waits")

    monkeypatch.setattr(resume, "wait_until_resumable", not_paused)
    with TestClient(create_app(), base_url="http://127.0.0.1:8400", follow_redirects=False) as started:
        yield started


@pytest.fixture
def pending(store: StoreProbe, tmp_path: Path) -> requests.PendingRequest:
    """Three invoices (shipped policy: ap-clerks decide invoices) waiting at the gate."""
    return open_request(proposed_batch(write_inbox(tmp_path / "inbox")))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "every form carries the session's CSRF token"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD, add: bool = True) -> None:
    if add:
        identity.add_user(name, password, by="test")
    token = csrf_of(client.get("/login").text)
    signed = client.post("/login", data={"username": name, "password": password, "csrf": token})
    assert signed.status_code == 303, signed.text
