"""`listener status` and `listener db current`, on SQLite and PostgreSQL: collect runs through
the real tweepy and praw clients against the emulators record last success / last error /
backoff per source, and the migration that added those columns keeps existing rows."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text, update

from listener.app import App
from listener.cli import main
from listener.config import load_settings
from listener.domain import Batch, NewAlert, Score, utcnow
from listener.emulators.base import Fault
from listener.emulators.corpus import sample_path
from listener.emulators.reddit import RedditEmulator
from listener.emulators.twitter import TwitterEmulator
from listener.store.db import connect, upgrade
from listener.store.schema import cursors
from listener.store.sql import SqlStore
from listener.store.status import SqlStatus
from tests.conftest import PG_ADMIN_URL
from tests.factories import QUERY as FACTORY_QUERY
from tests.factories import T0, mention, sentiment

BRAND = "Aurora Air"
QUERY = '("Aurora Air" OR @AuroraAir OR AuroraAir) -purifier -borealis'


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture()
def apis() -> Iterator[tuple[TwitterEmulator, RedditEmulator]]:
    x = TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token="status-x-token")
    reddit = RedditEmulator.from_jsonl(
        sample_path("reddit.jsonl"), client_id="status-id", client_secret="status-secret"
    )
    with x, reddit:
        yield x, reddit


def _config(tmp_path: Path, url: str, x: TwitterEmulator, reddit: RedditEmulator) -> Path:
    path = tmp_path / "status.toml"
    path.write_text(
        f"""
[storage]
url = "{url}"
[model]
name = "{tmp_path / "no-model-here"}"
[twitter]
bearer_token = "status-x-token"
api_base = "{x.base_url}"
[reddit]
client_id = "status-id"
client_secret = "status-secret"
user_agent = "listener-tests"
api_base = "{reddit.base_url}"
auth_base = "{reddit.base_url}"
[[brands]]
name = "{BRAND}"
query = '{QUERY}'
subreddits = ["travel", "Latvia"]
""",
        encoding="utf-8",
    )
    return path


def _status(config: Path) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["--config", str(config), "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_status_shows_cursor_last_success_backoff_and_last_error(
    tmp_path: Path, engine: Engine, apis: tuple[TwitterEmulator, RedditEmulator]
) -> None:
    x, reddit = apis
    config = _config(tmp_path, _url(engine), x, reddit)
    reddit.inject(Fault(path_prefix="/r/", status=503, times=1000))
    with App(load_settings(config)) as app:
        added = app.collect("twitter", BRAND).added
        assert added > 10
        assert app.collect("reddit", BRAND).error is not None
        app.outbox.add_alerts(
            [NewAlert(kind="spike", brand=BRAND, dedupe_key="s1", reason="test", details={})],
            now=utcnow() - timedelta(minutes=7),
        )

    report = _status(config)
    by_source = {s["source"]: s for s in report["sources"]}
    tw, rd = by_source["twitter"], by_source["reddit"]
    assert tw["state"] == "ok" and tw["cursor"] and tw["last_success_at"]
    assert tw["error"] is None and tw["last_failure"] is None and tw["failures"] == 0
    assert rd["state"] == "backing off" and rd["failures"] == 1
    assert rd["retry_at"] and rd["backoff_seconds"] > 0
    assert "503" in rd["error"] and rd["last_failure"] == rd["error"]
    assert rd["last_success_at"] is None and rd["last_failure_at"]
    assert report["outbox"]["pending"] == 1 and report["outbox"]["failed"] == 0
    assert 400 < report["outbox"]["oldest_pending_age_seconds"] < 900
    assert report["scoring"]["unscored"] == added  # nothing scored yet: every stored mention
    assert report["scoring"]["queued"] == added and report["scoring"]["oldest_queued_at"]
    assert report["scoring"]["oldest_queued_age_seconds"] >= 0

    table = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert table.exit_code == 0, table.output
    assert "backing off" in table.stdout and "[1 in a row]" in table.stdout
    assert "outbox: 1 pending, 0 failed (oldest pending raised 7m" in table.stdout
    assert f"scoring backlog: {added} mentions" in table.stdout
    assert f"; {added} queued for the score job (oldest queued " in table.stdout
    for secret in ("status-x-token", "status-secret"):
        assert secret not in table.output

    # the source recovers: the error clears, the last failure stays on record
    reddit.clear_faults()
    with engine.begin() as conn:
        conn.execute(update(cursors).values(retry_at=utcnow() - timedelta(seconds=1)))
    with App(load_settings(config)) as app:
        assert app.collect("reddit", BRAND).error is None
    rd = {s["source"]: s for s in _status(config)["sources"]}["reddit"]
    assert rd["state"] == "ok" and rd["error"] is None and rd["failures"] == 0
    assert rd["last_success_at"] and "503" in rd["last_failure"]


def test_status_lists_configured_sources_that_never_ran(
    tmp_path: Path, engine: Engine, apis: tuple[TwitterEmulator, RedditEmulator]
) -> None:
    config = _config(tmp_path, _url(engine), *apis)
    report = _status(config)
    assert [(s["source"], s["state"]) for s in report["sources"]] == [
        ("twitter", "never run"),
        ("reddit", "never run"),
    ]
    assert report["outbox"] == {
        "pending": 0,
        "failed": 0,
        "oldest_pending_at": None,
        "oldest_pending_age_seconds": 0.0,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no schema at all (PostgreSQL: a database of its own)."""
    if request.param == "sqlite":
        eng = connect(f"sqlite:///{tmp_path / 'old.db'}")
        yield eng
        eng.dispose()
        return
    request.getfixturevalue("pg_url")  # skips when PostgreSQL is not there
    name = f"listener_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = connect(admin.url.set(database=name).render_as_string(hide_password=False))
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_source_health_migration_keeps_cursor_rows_and_db_current_reports_it(
    tmp_path: Path, empty_engine: Engine
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "{_url(empty_engine)}"\n[[brands]]\nname = "A"\nquery = "a"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    empty = runner.invoke(main, ["--config", str(config), "db", "current", "--check"])
    assert empty.exit_code == 1 and "database empty (no schema yet)" in empty.stdout

    upgrade(empty_engine, "0001")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cursors (source, brand, query, cursor, failures, retry_at,"
                " last_error, updated_at) VALUES ('twitter', 'A', 'a', '1863', 2, NULL,"
                " 'unavailable: 502', :now)"
            ),
            {"now": utcnow().replace(tzinfo=None)},
        )
    old = runner.invoke(main, ["--config", str(config), "db", "current"])
    assert old.exit_code == 0 and "at revision 0001; latest is" in old.stdout

    assert runner.invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    current = runner.invoke(main, ["--config", str(config), "db", "current", "--check"])
    assert current.exit_code == 0 and "(latest)" in current.stdout

    report = _status(config)
    (row,) = [s for s in report["sources"] if s["source"] == "twitter"]
    assert (row["cursor"], row["failures"], row["error"]) == ("1863", 2, "unavailable: 502")
    assert row["last_success_at"] is None and row["last_failure"] is None
    assert row["state"] == "failing"


@pytest.mark.skipif(os.name != "posix", reason="POSIX only")
def test_status_needs_no_model(tmp_path: Path, engine: Engine) -> None:
    """status never loads (or assembles) the sentiment model: a missing one is no error."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "{_url(engine)}"\n[model]\nname = "{tmp_path / "missing"}"\n'
        '[[brands]]\nname = "A"\nquery = "a"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 0, result.output
    assert (
        "scoring backlog: 0 mentions not scored (nothing scored yet); 0 queued for the score job"
        in result.stdout
    )


def test_backlog_counts_unscored_by_the_model_and_the_queue_apart(engine: Engine) -> None:
    """The unscored (by the model) and the queued differ after a model change until the
    history is queued or re-scored; both are counted without an anti-join."""
    store, status = SqlStore(engine), SqlStatus(engine)
    store.add_batch("replay", FACTORY_QUERY, Batch(mentions=[mention(n) for n in range(6)]))
    ids = [q.id for q in store.queued(limit=10)]
    fresh = status.backlog(None)
    assert (fresh.model, fresh.unscored, fresh.queued) == (None, 6, 6)
    assert fresh.oldest_queued_at is not None and fresh.oldest_queued_at.tzinfo is not None

    def scored(model: str, of: list[int]) -> list[Score]:
        return [Score(mention_id=i, model=model, sentiment=sentiment(), scored_at=T0) for i in of]

    store.add_scores(scored("old@1", ids[:4]), done=ids[:4])
    live = status.backlog(None)  # the model of the latest score
    assert (live.model, live.unscored, live.queued) == ("old@1", 2, 2)

    # a model upgrade, daemon stopped: every mention is unscored by it, two are queued
    switched = status.backlog("new@2")
    assert (switched.model, switched.unscored, switched.queued) == ("new@2", 6, 2)
    store.add_scores(scored("new@2", ids[:3]))  # what `listener rescore` adds (interrupted)
    assert (status.backlog("new@2").unscored, status.backlog("new@2").queued) == (3, 2)
    assert store.requeue_unscored("new@2", now=T0) == 1  # the score job's start: the 4th
    assert (status.backlog("new@2").unscored, status.backlog("new@2").queued) == (3, 3)
    store.add_scores(scored("new@2", ids[3:]), done=ids)
    done = status.backlog("new@2")
    assert (done.unscored, done.queued, done.oldest_queued_at) == (0, 0, None)
    assert status.backlog("old@1").unscored == 2  # the old model never scored the last two
