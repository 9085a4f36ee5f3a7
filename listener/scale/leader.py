"""Leader election with a PostgreSQL advisory lock: one scheduler collects, the others wait.

The lock is held by one session, on a connection of its own: when the leader's process dies
(SIGKILL included) PostgreSQL ends that session and frees the lock, and a standby, trying every
``poll``, takes over. A leader whose connection is lost (network, server restart) can no longer
tell that it is the only one: ``held`` says False and it must stop collecting at once.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

LOCK_KEY = 0x6C697374656E6572  # 'listener' in ASCII: the one lock all schedulers compete for


class Leadership:
    """The scheduler lock of the database at ``conninfo`` (libpq string)."""

    def __init__(self, conninfo: str, *, poll: timedelta, key: int = LOCK_KEY) -> None:
        self._conninfo = conninfo
        self._poll = poll.total_seconds()
        self._key = key
        self._conn: Any = None
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this process holds the lock (True) or ``stop`` is set (False)."""
        import psycopg

        waiting_logged = False
        while not stop.is_set():
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self._conninfo, autocommit=True)
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
                if row and row[0]:
                    return True
                if not waiting_logged:
                    log.info("another scheduler is the leader: standing by")
                    waiting_logged = True
            except psycopg.Error as exc:
                log.warning("leader election: database unavailable: %s", type(exc).__name__)
                self._close()
            stop.wait(self._poll)
        return False

    def held(self) -> bool:
        """Whether the lock is still ours (its session answers and holds it)."""
        import psycopg

        with self._lock:
            if self._conn is None or self._conn.closed:
                return False
            try:  # a session lock lives as long as its session: a live session still holds it
                self._conn.execute("SELECT 1")
            except psycopg.Error:
                return False
            return True

    def release(self) -> None:
        """Give the lock up (closing the session frees it)."""
        self._close()

    def _close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):  # a broken connection: closing it cannot fail usefully
                conn.close()
