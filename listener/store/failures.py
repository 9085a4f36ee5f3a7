"""Database failures that no retry of the same rows can fix, as one clear line for every job.

``install`` hooks the engine's ``handle_error`` event, so every statement of every store
(mentions, scores, outbox, migrations) raises ``StoreError("database full at sqlite:///x.db:
database or disk is full")`` instead of a driver error with its SQL. Errors that belong to one
row (a value too long, a constraint) are left as they are: the caller may store the other rows.
The URL in the message has its password masked, and the password never appears in the detail.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, ExceptionContext

from listener.errors import StoreError

FULL = "database full"
READ_ONLY = "database read-only"
DENIED = "database permission denied"
LOGIN = "database login rejected"
UNREACHABLE = "database unreachable"

# PostgreSQL errors carry a SQLSTATE: only that is read, never the message (which may quote data).
_BY_STATE: tuple[tuple[str, str], ...] = (
    ("53100", FULL),
    ("53300", "database has too many connections"),
    ("25006", READ_ONLY),
    ("42501", DENIED),
    ("28", LOGIN),
    ("3D000", "database not found"),
    ("08", UNREACHABLE),
    ("57P", UNREACHABLE),
)
# sqlite3 has no SQLSTATE and psycopg has none for a failed connection: their first line is read.
_BY_MESSAGE: tuple[tuple[str, str], ...] = (
    ("database or disk is full", FULL),
    ("No space left on device", FULL),
    ("readonly database", READ_ONLY),
    ("access permission denied", DENIED),
    ("unable to open database file", "cannot open the database file"),
    ("password authentication failed", LOGIN),
    ("no pg_hba.conf entry", LOGIN),
    ("database is locked", "database locked by another process"),
    ("file is not a database", "database file is damaged"),
    ("disk image is malformed", "database file is damaged"),
    ("disk I/O error", "database disk I/O error"),
)
_ROW_ERRORS = ("IntegrityError", "DataError")
_CONNECTING = ("connection failed", "failed to resolve", "connection is bad", "consuming input")


def headline(exc: BaseException, *, is_disconnect: bool = False) -> str | None:
    """What kind of infrastructure failure ``exc`` (a DB-API error) is, or None when it may
    concern only the rows at hand (a value too long, a constraint)."""
    state: str | None = getattr(exc, "sqlstate", None)
    if state is not None:
        found = next((title for prefix, title in _BY_STATE if state.startswith(prefix)), None)
        return found or (UNREACHABLE if is_disconnect else None)
    if type(exc).__name__ in _ROW_ERRORS:  # a constraint or a value: the caller's to handle
        return None
    first = _first_line(exc)
    if re.search(r'FATAL: +role ".*" does not exist', first):
        return LOGIN
    if re.search(r'FATAL: +database ".*" does not exist', first):
        return "database not found"
    found = next((title for needle, title in _BY_MESSAGE if needle in first), None)
    connecting = type(exc).__name__ == "OperationalError" and first.startswith(_CONNECTING)
    return found or (UNREACHABLE if is_disconnect or connecting else None)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return " ".join(lines[0].split())


def detail(exc: BaseException, *, password: str | None = None) -> str:
    """The first line of a driver error, without its SQL, prefixes or the password."""
    text = _first_line(getattr(exc, "orig", None) or exc).removeprefix("connection failed: ")
    if password:
        text = text.replace(password, "***")
    return text


def where(url: URL) -> str:
    """``url`` as it may be shown: the password masked."""
    return url.render_as_string(hide_password=True)


def install(engine: Engine) -> None:
    """Make ``engine`` raise StoreError with one clear line for infrastructure failures."""
    shown, password = where(engine.url), engine.url.password

    def translate(ctx: ExceptionContext) -> BaseException | None:
        if ctx.is_pre_ping:  # the pool reconnects by itself after a pre-ping failure
            return None
        title = headline(ctx.original_exception, is_disconnect=ctx.is_disconnect)
        if title is None:
            return None
        text = detail(ctx.original_exception, password=password)
        return StoreError(f"{title} at {shown}: {text}")

    event.listen(engine, "handle_error", translate)
