"""A database that is full, read-only, out of reach or closed to us: every job fails with one
clear line naming what is wrong and where, never a driver error with its SQL, never a password."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from listener.collectors.replay import ReplayCollector
from listener.daemon import Job, run_job
from listener.domain import Sentiment
from listener.errors import StoreError
from listener.pipeline import collect_once, score_pending
from listener.store.db import connect, upgrade
from listener.store.failures import headline
from listener.store.outbox import SqlOutbox
from listener.store.schema import cursors
from listener.store.sql import SqlStore
from tests.conftest import PG_ADMIN_URL
from tests.factories import QUERY, T0, sentiment


class KeywordScorer:
    model_id = "keyword@1"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return [sentiment("positive") for _ in texts]


def _replay(tmp_path: Path, lines: int = 300) -> ReplayCollector:
    path = tmp_path / "in.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for n in range(lines):
            item = {
                "id": str(n),
                "text": f"aurora air {n} " + "x" * 2000,
                "created_at": "2026-11-20T10:00:00Z",
                "brand": "Aurora Air",
            }
            handle.write(json.dumps(item) + "\n")
    return ReplayCollector(patterns=[str(path)])


def _jobs(engine: Engine, collector: ReplayCollector) -> list[Job]:
    store, outbox = SqlStore(engine), SqlOutbox(engine)
    collect = partial(
        collect_once, collector=collector, store=store, outbox=outbox, query=QUERY, now=T0
    )
    score = partial(
        score_pending,
        store=store,
        outbox=outbox,
        scorer=KeywordScorer(),
        rule=lambda _m, _s: None,
        handles={},
        batch_size=10,
        max_batches=1,
        now=T0,
    )
    every = timedelta(minutes=1)
    return [
        Job(id="collect:replay:Aurora Air", func=collect, interval=every, stage="collect"),
        Job(id="score", func=score, interval=every, stage="score"),
    ]


def _failures(jobs: list[Job], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Run the jobs as the daemon does; the part of each log line after 'failed after N s: '."""
    caplog.clear()
    caplog.set_level(logging.INFO, logger="listener.daemon")
    for job in jobs:
        assert run_job(job) is None
    lines = [r.getMessage() for r in caplog.records if r.name == "listener.daemon"]
    assert len(lines) == len(jobs) and all("\n" not in line for line in lines)
    return [line.split("s: ", 1)[1] for line in lines]


def _on_connect(engine: Engine, *statements: str) -> Engine:
    engine.dispose()

    def run(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()

    event.listen(engine, "connect", run)
    return engine


def test_a_full_sqlite_database_is_one_line_for_every_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'listener.db'}"
    engine = connect(url)
    upgrade(engine)
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
    # a size limit is how SQLite reports a full disk too: SQLITE_FULL
    _on_connect(engine, f"PRAGMA max_page_count = {pages + 2}")
    collect, _ = _jobs(engine, _replay(tmp_path))
    assert _failures([collect], caplog) == [
        f"StoreError: database full at {url}: database or disk is full"
    ]
    _on_connect(engine, "PRAGMA query_only = ON")  # what a read-only file or mount says
    assert _failures([collect], caplog) == [
        f"StoreError: database read-only at {url}: attempt to write a readonly database"
    ]
    engine.dispose()


def test_a_sqlite_file_that_cannot_be_opened_or_created(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    url = f"sqlite:///{folder}"
    engine = connect(url)
    assert (
        _failures(_jobs(engine, _replay(tmp_path, 1)), caplog)
        == [f"StoreError: cannot open the database file at {url}: unable to open database file"] * 2
    )
    (tmp_path / "a-file").write_text("")
    with pytest.raises(StoreError) as caught:
        connect(f"sqlite:///{tmp_path / 'a-file' / 'listener.db'}")
    assert str(caught.value) == (
        f"cannot create the database folder {tmp_path / 'a-file'}: File exists"
    )


def test_an_unreachable_postgresql_is_one_line_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = connect("postgresql://listener:s3cret-pw@127.0.0.1:1/listener")
    shown = "postgresql+psycopg://listener:***@127.0.0.1:1/listener"
    refused = 'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    failures = _failures(_jobs(engine, _replay(tmp_path, 1)), caplog)
    assert failures == [f"StoreError: database unreachable at {shown}: {refused}"] * 2
    with pytest.raises(StoreError) as caught:
        upgrade(engine)
    assert (
        str(caught.value)
        == f"database migration failed: database unreachable at {shown}: {refused}"
    )
    assert "s3cret" not in " ".join(failures) + str(caught.value)


@pytest.fixture
def pg_role(pg_url: str) -> Iterator[Callable[[str], Engine]]:
    """Engines on the test database as a fresh role that was granted nothing."""
    role = f"listener_nobody_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    engines: list[Engine] = []

    def as_role(query: str = "") -> Engine:
        url = make_url(pg_url).set(username=role, password=None)
        engines.append(connect(url.render_as_string(hide_password=False) + query))
        return engines[-1]

    yield as_role
    for engine in engines:
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def test_postgresql_permission_denied_and_read_only(
    pg_url: str,
    pg_role: Callable[[str], Engine],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = connect(pg_url)
    upgrade(engine)
    with engine.begin() as conn:  # the session's database: start this source afresh
        conn.execute(cursors.delete())
    denied = pg_role("")
    failures = _failures(_jobs(denied, _replay(tmp_path, 1)), caplog)
    assert failures == [
        f"StoreError: database permission denied at {denied.url.render_as_string()}: "
        "permission denied for table cursors",
        f"StoreError: database permission denied at {denied.url.render_as_string()}: "
        "permission denied for table mentions",
    ]
    read_only = connect(
        engine.url.render_as_string(hide_password=False)
        + "?options=-c%20default_transaction_read_only%3Don"
    )
    (collect, _) = _jobs(read_only, _replay(tmp_path, 1))
    assert _failures([collect], caplog) == [
        f"StoreError: database read-only at {read_only.url.render_as_string()}: "
        "cannot execute INSERT in a read-only transaction"
    ]
    read_only.dispose()
    engine.dispose()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            psycopg.errors.DiskFull("could not extend file: No space left on device"),
            "database full",
        ),
        (psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT"), "database read-only"),
        (psycopg.errors.InsufficientPrivilege("permission denied"), "database permission denied"),
        (
            psycopg.errors.InvalidPassword("password authentication failed"),
            "database login rejected",
        ),
        (psycopg.errors.AdminShutdown("terminating connection"), "database unreachable"),
        # a row's own error is never taken for the database's, whatever data it quotes
        (psycopg.errors.StringDataRightTruncation("database or disk is full"), None),
        (psycopg.errors.CheckViolation("No space left on device"), None),
    ],
)
def test_postgresql_errors_are_told_by_sqlstate(error: Exception, expected: str | None) -> None:
    assert headline(error) == expected
