"""Reddit read-back after downtime, gaps beyond Reddit's listing cap, malformed pages: through
the real praw/prawcore against the Reddit emulator, stored on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from listener.collectors.reddit import RedditCollector
from listener.domain import BrandQuery, utcnow
from listener.emulators.base import Fault
from listener.emulators.reddit import RedditEmulator
from listener.pipeline import CollectResult, collect_once
from listener.store.schema import quarantine
from listener.store.sql import SqlStore
from tests.test_reddit_collector import SECRET, SIMPLE, things


@pytest.fixture
def emulator() -> Iterator[RedditEmulator]:
    emu = RedditEmulator(client_secret=SECRET).start()
    yield emu
    emu.stop()


class NoReplies:
    """The Outbox part collect_once uses (brand replies): none in these tests."""

    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        return 0


def reddit(emu: RedditEmulator, **options: Any) -> RedditCollector:
    return RedditCollector(
        client_id="emulator-client",
        client_secret=SECRET,
        user_agent="listener-tests/0.1",
        api_base=emu.base_url,
        auth_base=emu.base_url,
        **options,
    )


def poll(source: RedditCollector, store: SqlStore, query: BrandQuery = SIMPLE) -> CollectResult:
    return collect_once(
        collector=source,
        store=store,
        outbox=NoReplies(),  # type: ignore[arg-type]
        query=query,
        now=utcnow(),
    )


def stored(store: SqlStore) -> set[str]:
    return {m.mention.external_id for m in store.iter_mentions(brand=SIMPLE.brand)}


def gap_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cannot read back" in r.getMessage()]


def test_everything_posted_while_down_is_read_back_page_by_page(
    engine: Engine, emulator: RedditEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore(engine)
    start = time.time() - 7200
    emulator.add(things(5, start))
    source = reddit(emulator, limit=100, overlap=timedelta(seconds=30))
    assert poll(source, store).added == 5 + 2  # 5 posts, the 2 comments that name the brand
    before = len(emulator.received("/r/"))
    emulator.add(things(300, start + 600, prefix="d"))  # 300 posts + 300 comments while down
    result = poll(source, store)
    assert {f"t3_d{i}" for i in range(300)} <= stored(store)
    assert {f"t1_cd{i}" for i in range(1, 300, 2)} <= stored(store)
    assert result.added == 300 + 150 and result.error is None
    pages = emulator.received("/r/telco/new")[1:]
    assert [p.param("after") for p in pages] == [None, "t3_d200", "t3_d100", "t3_d0"]
    assert all(p.param("limit") == "100" for p in pages)
    assert not gap_lines(caplog)
    caplog.clear()
    during = len(emulator.received("/r/")) - before
    assert poll(source, store).added == 0 and len(emulator.received("/r/")) - before == during + 3
    assert not gap_lines(caplog)


def test_a_gap_beyond_the_listing_cap_is_one_warning_and_the_rest_is_stored(
    engine: Engine, emulator: RedditEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore(engine)
    start = time.time() - 7200
    emulator.add(things(5, start))
    source = reddit(emulator, limit=100)
    poll(source, store)
    emulator.listing_cap = 250  # Reddit lists about 1000; 250 keeps the test short
    emulator.add(things(400, start + 600, prefix="d"))
    result = poll(source, store)
    assert result.error is None
    assert {f"t3_d{i}" for i in range(150, 400)} <= stored(store)
    assert {f"t1_cd{i}" for i in range(151, 400, 2)} <= stored(store)
    assert not {f"t3_d{i}" for i in range(150)} & stored(store)  # out of Reddit's reach
    [line] = gap_lines(caplog)
    reached = datetime.fromtimestamp(start + 600 + 150, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    last = datetime.fromtimestamp(start + 4, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    assert line.startswith("reddit Nordlys Mobile: cannot read back to the last item collected")
    for listing in ("/r/telco/search", "/r/telco/new", "/r/telco/comments"):
        assert f"{listing} reaches back to {reached} (250 items read, kept)" in line
    assert f"the last item collected is from {last}" in line and "about 1000 items" in line
    caplog.clear()
    emulator.add(things(3, start + 3600, prefix="n"))
    assert poll(source, store).added == 3 + 1 and not gap_lines(caplog)  # the gap is not re-warned


def test_the_read_back_is_bounded(
    emulator: RedditEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    start = time.time() - 7200
    emulator.add(things(5, start))
    source = reddit(emulator, limit=100, max_items=150)
    first = source.collect(SIMPLE, None)
    emulator.add(things(200, start + 600, prefix="d"))
    second = source.collect(SIMPLE, first.cursor)
    assert {f"t3_d{i}" for i in range(50, 200)} <= {m.external_id for m in second.mentions}
    assert [p.param("limit") for p in emulator.received("/r/telco/new")[1:]] == ["100", "50"]
    [line] = gap_lines(caplog)
    assert "/r/telco/new reaches back to" in line and "stopped at the bound of 150 items" in line


def test_a_quiet_listing_is_not_a_gap(
    emulator: RedditEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.add(things(2, time.time() - 120))  # both within the 15-minute overlap of the mark
    source = reddit(emulator)
    first = source.collect(SIMPLE, None)
    emulator.add(things(1, time.time(), prefix="n"))
    assert [m.external_id for m in source.collect(SIMPLE, first.cursor).mentions] == ["t3_n0"]
    assert not gap_lines(caplog)


def test_a_malformed_page_is_quarantined_without_backoff_and_read_again(
    engine: Engine, emulator: RedditEmulator
) -> None:
    store = SqlStore(engine)
    emulator.add(things(150, time.time() - 3600))
    source = reddit(emulator, limit=1000)
    emulator.inject(Fault(path_prefix="/r/telco/new", truncate=True, after=1))  # /new page 2
    emulator.inject(Fault(path_prefix="/r/telco/search", status=200, body=b"<html>oops"))
    first = poll(source, store)
    assert first.error is None and first.skipped_until is None and first.quarantined == 2
    state = store.source_state("reddit", SIMPLE.brand)
    assert state.failures == 0 and state.retry_at is None
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine).order_by(quarantine.c.location)).all()
    assert [(r.location, r.payload[:10]) for r in rows] == [
        ("/r/telco/new page 2", '{"kind": "'),
        ("/r/telco/search page 1", "<html>oops"),
    ]
    assert rows[1].reason == "Reddit sent a page that is not JSON for /r/telco/search"
    assert len(stored(store)) == 100 + 75  # /new page 1 and the comments
    poll(source, store)  # both listings kept their marks: read again in full
    assert {f"t3_p{i}" for i in range(150)} <= stored(store)


def test_a_page_with_nul_bytes_is_quarantined_on_every_database(
    engine: Engine, emulator: RedditEmulator
) -> None:
    store = SqlStore(engine)
    emulator.inject(Fault(path_prefix="/r/telco/search", status=200, body=b"<html>\x00garbage"))
    result = poll(reddit(emulator), store)
    assert result.error is None and result.quarantined == 1
    with engine.connect() as conn:
        [row] = conn.execute(select(quarantine)).all()
    assert row.payload == "<html>\\u0000garbage"
