"""What ``check-config`` checks beyond the file itself: something to listen for, and a
database that answers (without creating one)."""

from __future__ import annotations

import os
from pathlib import Path

from listener.config import Settings
from listener.errors import StoreError

CONNECT_TIMEOUT_S = 10


def listening_problems(settings: Settings) -> list[str]:
    """What makes a config that loads useless for ``once``/``run``: no brand, no source."""
    problems = []
    if not settings.brands:
        problems.append("no [[brands]]: nothing to listen for")
    if not settings.sources():
        from listener import plugins

        kinds = ", ".join(plugins.kinds(plugins.SOURCES))
        problems.append(f"no source: add a [sources.KIND] section (installed kinds: {kinds})")
    return problems


def check_database(settings: Settings) -> str:
    """Connect to ``storage.url`` and run one query; returns how it went, e.g.
    ``postgresql+psycopg://u@h/db (reachable)``. Raises StoreError naming the database.

    An SQLite file that does not exist yet is not created: its folder must be writable.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from listener.store.db import connect

    url = make_url(settings.storage.url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return f"{shown} (in memory)"
        path = Path(url.database).expanduser()
        if not path.exists():
            _creatable(path)
            return f"{shown} (created on first use)"
        query = "PRAGMA schema_version"  # reads the file: a damaged one fails here
    else:
        query = "SELECT 1"
        if "connect_timeout" not in url.query:  # an unroutable host fails in seconds, not minutes
            url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    engine = connect(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(query)
    except SQLAlchemyError as exc:  # a failure the store did not translate already
        orig = getattr(exc, "orig", None) or exc
        lines = str(orig).strip().splitlines() or [type(orig).__name__]
        raise StoreError(f"database at {shown} does not answer: {lines[0]}") from exc
    finally:
        engine.dispose()
    return f"{shown} (reachable)"


def _creatable(path: Path) -> None:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise StoreError(f"cannot create the database {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"cannot create the database {path}: {folder} is not writable")
