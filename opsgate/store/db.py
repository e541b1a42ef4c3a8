"""Engines, migrations and transactions for the store.

Every process migrates the store to the newest revision once, on first use, so a fresh SQLite
file or an empty PostgreSQL schema is ready without a separate step. A store already at the
newest revision is told so by one query: Alembic and the migration scripts are loaded only when
there is something to migrate (about a fifth of a second off every command).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from opsgate.errors import ConfigurationError
from opsgate.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def newest_revision() -> str:
    """The newest migration's revision: the scripts are numbered (``0017_….py`` is revision
    0017) and each revises the one before, so the highest number is the head."""
    return max(path.name.partition("_")[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """WAL lets a paused run's process and an approving CLI use one file; FKs are off by default.

    The driver's own transaction handling is switched off so that ``_sqlite_begin`` decides.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    """Take the write lock at BEGIN: two writers that both read the audit head first would
    otherwise deadlock when upgrading their read locks."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def _revision(engine: Engine) -> str | None:
    """The store's revision, or None for a store Alembic has not migrated yet."""
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, "alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the store's schema to the newest Alembic revision."""
    if _revision(engine) == newest_revision():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """The migrated engine for ``url``, one per process. Alembic keeps global state while it
    migrates, so threads that open the store at once take turns."""
    with _engines_lock:
        if url not in _engines:
            try:
                engine = _create_engine(url)
                migrate(engine)
            except Exception as exc:  # the driver's own errors vary; the user needs the URL and the cause
                safe = make_url(url).render_as_string(hide_password=True)
                raise ConfigurationError(f"cannot open the opsgate store at {safe}: {exc}") from exc
            _engines[url] = engine
        return _engines[url]


def forget_engine(url: str) -> None:
    """Close and drop the engine of ``url`` (tests that drop their database call this)."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def get_engine() -> Engine:
    return engine_for(get_settings().store_url)


@lru_cache
def _sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back when it raises."""
    with _sessions(engine or get_engine()).begin() as session:
        yield session
