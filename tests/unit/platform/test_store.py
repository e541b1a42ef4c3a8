"""The migrations build exactly the schema the models describe, on both stores, and a store is
migrated whenever it is behind."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from opsgate.store.db import MIGRATIONS, get_engine, migrate, newest_revision
from opsgate.store.tables import Base


def test_migrations_match_the_models(opsgate_env: str) -> None:
    with get_engine().connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_a_store_is_known_current_by_the_newest_script_alembic_finds(opsgate_env: str) -> None:
    """The head a store is compared with before Alembic is loaded is the one Alembic would reach."""
    scripts = ScriptDirectory.from_config(_config())
    assert newest_revision() == scripts.get_current_head()
    with get_engine().connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == newest_revision()


def test_a_store_behind_the_newest_revision_is_migrated_when_next_opened(opsgate_env: str) -> None:
    """A store an older opsgate made (here: taken back one revision) is brought up to date."""
    engine = get_engine()
    with engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() != newest_revision()
    migrate(engine)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == newest_revision()
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
