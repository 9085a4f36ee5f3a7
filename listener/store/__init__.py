"""Storage: SQLAlchemy 2 tables, the SQL Store and Outbox, Alembic migrations."""
