"""The opsgate store: SQLAlchemy tables, migrations and sessions (SQLite by default, PostgreSQL by URL)."""
