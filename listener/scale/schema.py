"""Schema set-up that many processes may start at once: one at a time, under a PostgreSQL
advisory lock; procrastinate's own tables are created once, beside ours."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, inspect, text

log = logging.getLogger(__name__)

UPGRADE_LOCK = 0x6C69737475706772  # 'listupgr': held while one process migrates


@contextmanager
def one_at_a_time(engine: Engine) -> Iterator[None]:
    """Hold the upgrade lock on PostgreSQL (a no-op on SQLite, where one file is one writer):
    a scheduler and N workers started together migrate once, the others wait and see it done."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK})
            conn.commit()


def ensure_queue_schema(engine: Engine, schema_sql: Callable[[], str]) -> bool:
    """Create procrastinate's tables unless they exist; True when it did. Call it inside
    ``one_at_a_time``."""
    if "procrastinate_jobs" in inspect(engine).get_table_names():
        return False
    log.info("creating the job queue's tables (procrastinate)")
    with engine.begin() as conn:
        conn.exec_driver_sql(schema_sql().replace("%", "%%"))
    return True
