"""The opsgate store: SQLAlchemy tables, migrations and sessions (SQLite by default, PostgreSQL by
URL), and the hash-chained audit log written in the same transactions."""
