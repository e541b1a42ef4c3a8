"""Fixtures shared by every test: an isolated opsgate store (SQLite or PostgreSQL) and data dir,
and one real Prefect API server for the session (Prefect's own test harness)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from opsgate.settings import get_settings  # noqa: E402
from opsgate.store.db import forget_engine  # noqa: E402
from tests.support.receiver import Receiver, webhook_receiver  # noqa: E402

POSTGRES_URL = os.environ.get("OPSGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or a schema of its own in the `test` database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opsgate.db'}"
        return
    schema = f"opsgate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        forget_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def opsgate_env(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point opsgate's settings at the test store and a scratch data directory."""
    monkeypatch.setenv("OPSGATE_DATABASE_URL", store_url)
    monkeypatch.setenv("OPSGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPSGATE_APPROVAL_POLL_INTERVAL", "1")
    get_settings.cache_clear()
    yield store_url
    get_settings.cache_clear()
    forget_engine(store_url)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real Prefect API server (SQLite-backed, in a subprocess) for the whole session."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on the loopback that records what it is sent."""
    with webhook_receiver() as started:
        yield started
