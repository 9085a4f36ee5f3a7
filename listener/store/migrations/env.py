"""Alembic environment: runs on the Engine handed over by ``listener.store.db.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from listener.store.schema import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through `listener db upgrade`, not the alembic CLI")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
