"""X malformed pages and a cursor older than recent search's 7 days, through the real tweepy
client against the X emulator; stored on SQLite and PostgreSQL where storage is involved."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from listener.collectors.twitter import TwitterCollector
from listener.emulators.base import Fault
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator, snowflake
from listener.errors import SourceUnavailable
from listener.pipeline import CollectResult, collect_once
from listener.store.schema import quarantine
from listener.store.sql import SqlStore
from tests.test_twitter_collector import AURORA, NOW, TOKEN, make_tweets


class NoReplies:
    """The Outbox part collect_once uses (brand replies): none in these tests."""

    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        return 0


@pytest.fixture
def emulator() -> Iterator[TwitterEmulator]:
    emu = TwitterEmulator(bearer_token=TOKEN).start()
    yield emu
    emu.stop()


def x(emu: TwitterEmulator, **options: int) -> TwitterCollector:
    return TwitterCollector(bearer_token=TOKEN, api_base=emu.base_url, **options)  # type: ignore[arg-type]


def poll(source: TwitterCollector, store: SqlStore, now: datetime) -> CollectResult:
    return collect_once(
        collector=source,
        store=store,
        outbox=NoReplies(),  # type: ignore[arg-type]
        query=AURORA,
        now=now,
    )


def test_malformed_pages_are_quarantined_and_never_pause_collection(
    engine: Engine, emulator: TwitterEmulator
) -> None:
    store = SqlStore(engine)
    source = x(emulator)
    now = datetime.now(UTC)
    emulator.add(make_tweets(30, NOW))
    first = poll(source, store, now)
    assert first.added == 30
    cursor = store.source_state("twitter", AURORA.brand).cursor
    emulator.add(make_tweets(20, NOW + timedelta(minutes=30), "new {i} @AuroraAir"))
    emulator.malformed_pages(4)
    for minute in range(1, 5):  # one poll a minute, as twitter.interval = 1m
        result = poll(source, store, now + timedelta(minutes=minute))
        assert result.error is None and result.skipped_until is None, result
        assert (result.fetched, result.quarantined) == (0, 1)
        state = store.source_state("twitter", AURORA.brand)
        assert (state.failures, state.retry_at, state.cursor) == (0, None, cursor)
    assert poll(source, store, now + timedelta(minutes=5)).added == 20  # nothing was skipped
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine)).all()
    assert len(rows) == 4 and {r.location for r in rows} == {"page 1"}
    assert rows[0].reason.startswith("X API sent a malformed JSON page (")
    assert rows[0].payload.startswith('{"data": [{"id": "')  # the page as received, cut short


def test_a_malformed_later_page_keeps_the_pages_before_it(emulator: TwitterEmulator) -> None:
    emulator.add(make_tweets(250, NOW))
    source = x(emulator)
    emulator.malformed_pages(after=1)
    first = source.collect(AURORA, None)
    assert len(first.mentions) == 100 and [q.location for q in first.quarantined] == ["page 2"]
    rest = source.collect(AURORA, first.cursor)
    got = {m.external_id for m in first.mentions} | {m.external_id for m in rest.mentions}
    assert len(got) == 250 and not rest.quarantined


def test_a_page_that_is_json_but_not_an_object_is_quarantined(emulator: TwitterEmulator) -> None:
    emulator.inject(Fault(path_prefix=SEARCH_PATH, status=200, body=b'["not", "a", "page"]'))
    batch = x(emulator).collect(AURORA, json.dumps({"since_id": snowflake(NOW)}))
    assert batch.mentions == [] and json.loads(batch.cursor or "") == {"since_id": snowflake(NOW)}
    [bad] = batch.quarantined
    assert bad.reason == "X API sent a page that is not a JSON object but list"
    assert bad.payload == '["not", "a", "page"]'


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_since_id_older_than_7_days_restarts_from_the_newest_7_days(
    emulator: TwitterEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    stale = snowflake(datetime.now(UTC) - timedelta(days=8))
    emulator.add(make_tweets(5, datetime.now(UTC) - timedelta(days=9), "old {i} @AuroraAir"))
    emulator.add(make_tweets(30, NOW))
    source = x(emulator)
    batch = source.collect(AURORA, json.dumps({"since_id": stale}))
    assert len(batch.mentions) == 30  # the 9-day-old ones are beyond recent search's reach
    refused, fresh = emulator.received(SEARCH_PATH)
    assert refused.param("since_id") == stale and "since_id" not in fresh.query
    [warning] = _warnings(caplog)
    assert warning.startswith(f"twitter Aurora Air: the saved position (since_id={stale}) is")
    assert "reading the newest 7 days instead" in warning
    newest = max(int(m.external_id) for m in batch.mentions)
    assert json.loads(batch.cursor or "") == {"since_id": str(newest)}
    caplog.clear()
    assert source.collect(AURORA, batch.cursor).mentions == [] and not _warnings(caplog)


def test_a_stale_gap_cursor_keeps_what_is_still_in_reach(
    emulator: TwitterEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    tweets = make_tweets(30, NOW)
    emulator.add(tweets)
    ids = sorted(int(t["id"]) for t in tweets)
    stale = snowflake(datetime.now(UTC) - timedelta(days=8))
    gap = {"since_id": stale, "until_id": str(ids[10]), "newest_id": str(ids[-1])}
    batch = x(emulator).collect(AURORA, json.dumps(gap))
    assert sorted(int(m.external_id) for m in batch.mentions) == ids[:10]  # the unread gap
    assert json.loads(batch.cursor or "") == {"since_id": str(ids[-1])}
    stale_until = {"since_id": stale, "until_id": stale, "newest_id": str(ids[20])}
    batch = x(emulator).collect(AURORA, json.dumps(stale_until))
    assert sorted(int(m.external_id) for m in batch.mentions) == ids[21:]
    assert len(_warnings(caplog)) == 2


def test_other_bad_requests_stay_unavailable(emulator: TwitterEmulator) -> None:
    problem = {
        "errors": [{"parameters": {"query": ["x"]}, "message": "There were errors processing"}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    emulator.inject(Fault(status=400, body=json.dumps(problem).encode()))
    with pytest.raises(SourceUnavailable, match="400 Bad Request: There were errors processing"):
        x(emulator).collect(AURORA, json.dumps({"since_id": snowflake(NOW)}))
    assert len(emulator.received(SEARCH_PATH)) == 1


def test_a_page_with_nul_bytes_is_quarantined_on_every_database(
    engine: Engine, emulator: TwitterEmulator
) -> None:
    store = SqlStore(engine)
    emulator.inject(Fault(path_prefix=SEARCH_PATH, status=200, body=b'{"data": [\x00\x01'))
    result = poll(x(emulator), store, datetime.now(UTC))
    assert result.error is None and result.quarantined == 1
    with engine.connect() as conn:
        [row] = conn.execute(select(quarantine)).all()
    assert row.payload == '{"data": [\\u0000\x01'


def test_a_stale_since_id_with_nothing_newer_is_replaced_all_the_same(
    emulator: TwitterEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    stale = json.dumps({"since_id": snowflake(datetime.now(UTC) - timedelta(days=8))})
    source = x(emulator)
    batch = source.collect(AURORA, stale)
    assert batch.mentions == [] and batch.cursor == "{}" and len(_warnings(caplog)) == 1
    caplog.clear()
    emulator.add(make_tweets(3, NOW))
    assert len(source.collect(AURORA, batch.cursor).mentions) == 3 and not _warnings(caplog)
