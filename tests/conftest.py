"""Shared fixtures: a throwaway database on SQLite and on PostgreSQL for every storage test.

PostgreSQL is the server on 127.0.0.1:5432 (override with LISTENER_TEST_PG_URL, an URL to an
admin database); one database is created per test session and dropped at the end. When CI=true
a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from listener.store.db import connect, upgrade
from tests.factories import tiny_model

PG_ADMIN_URL = os.environ.get(
    "LISTENER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"listener_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc.orig}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset(engine: Engine) -> None:
    from listener.store.schema import metadata

    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database; the same tests run on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        eng = connect(f"sqlite:///{tmp_path / 'listener.db'}")
        upgrade(eng)
    else:
        eng = connect(request.getfixturevalue("pg_url"))
        upgrade(eng)
        _reset(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random classifier with negative/neutral/positive labels, shared by the session."""
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    return tiny_model(tmp_path_factory.mktemp("tiny-model") / "model", labels)
