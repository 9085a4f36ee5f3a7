"""Engine creation and schema migrations (Alembic, run programmatically)."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from listener.errors import ConfigError, StoreError
from listener.store.failures import detail, install

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def connect(url: str) -> Engine:
    """An Engine for ``url``. SQLite gets WAL, foreign keys and a busy timeout; a relative
    SQLite path is created with its folder. The password never appears in errors or logs.
    Infrastructure failures (full, read-only, unreachable, ...) raise one-line StoreErrors."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"storage.url: not a database URL: {_redact(url)!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the database folder {folder}: {exc.strerror}"
                ) from exc
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        install(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(
            f"storage.url: unsupported database URL {_redact(url)!r}: {exc}"
        ) from None
    install(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _alembic_config(engine: Engine) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), revision)  # type: ignore[arg-type]
    except StoreError as exc:
        raise StoreError(f"database migration failed: {exc}") from exc
    except SQLAlchemyError as exc:
        why = detail(exc, password=engine.url.password)
        raise StoreError(f"database migration failed: {type(exc).__name__}: {why}") from exc


def current_revision(engine: Engine) -> str | None:
    """The applied migration revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def ensure_schema(engine: Engine) -> None:
    """Upgrade an empty or outdated database (what ``once`` and ``run`` do on start)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if current_revision(engine) != head:
        log.info("upgrading database schema to %s", head)
        upgrade(engine)
