"""A 429 pauses a source until its reset; it is not an outage. Through the real tweepy client
against the X emulator (429 with x-rate-limit-reset, 503), stored on SQLite and PostgreSQL, read
back the way ``listener status`` reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from listener.cli.status import render_table, source_record
from listener.collectors.twitter import TwitterCollector
from listener.emulators.base import Fault
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator
from listener.pipeline import RATE_LIMIT_MARGIN, CollectResult, collect_once
from listener.store.sql import SqlStore
from listener.store.status import SqlStatus
from tests.test_twitter_collector import AURORA, NOW, TOKEN, make_tweets


class NoReplies:
    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        return 0


@pytest.fixture
def emulator() -> Iterator[TwitterEmulator]:
    emu = TwitterEmulator(bearer_token=TOKEN).start()
    emu.add(make_tweets(5, NOW))
    yield emu
    emu.stop()


def _poll(emu: TwitterEmulator, store: SqlStore, now: datetime) -> CollectResult:
    source = TwitterCollector(bearer_token=TOKEN, api_base=emu.base_url)  # type: ignore[arg-type]
    return collect_once(
        collector=source,
        store=store,
        outbox=NoReplies(),  # type: ignore[arg-type]
        query=AURORA,
        now=now,
    )


def _limit(emu: TwitterEmulator, reset: datetime) -> None:
    headers = {
        "x-rate-limit-limit": "450",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(reset.timestamp())),
    }
    body = json.dumps({"title": "Too Many Requests", "status": 429, "type": "about:blank"})
    emu.inject(Fault(path_prefix=SEARCH_PATH, status=429, headers=headers, body=body.encode()))


def _down(emu: TwitterEmulator) -> None:
    emu.inject(Fault(path_prefix=SEARCH_PATH, status=503))


def _status(engine: Engine, now: datetime) -> dict[str, Any]:
    (row,) = SqlStatus(engine).sources()
    return source_record(row, now)


def _table(engine: Engine, now: datetime) -> str:
    report = {
        "sources": [_status(engine, now)],
        "outbox": {"pending": 0, "failed": 0, "oldest_pending_at": None},
        "scoring": {"model": None, "unscored": 0, "queued": 0, "oldest_queued_at": None},
    }
    return "\n".join(render_table(report, now))


def _called(emu: TwitterEmulator) -> int:
    return len(emu.received(SEARCH_PATH))


def test_a_429_pauses_until_the_reset_without_escalating_the_backoff(
    engine: Engine, emulator: TwitterEmulator
) -> None:
    store = SqlStore(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    reset = now + timedelta(minutes=7)
    _limit(emulator, reset)
    limited = _poll(emulator, store, now)
    assert limited.skipped_until == reset + RATE_LIMIT_MARGIN and limited.rate_limited
    assert limited.error is None  # not a failure: the source answered, it asked us to wait
    state = store.source_state("twitter", AURORA.brand)
    assert state.failures == 0 and state.retry_at == reset + RATE_LIMIT_MARGIN

    shown = _status(engine, now)
    assert shown["state"] == "rate limited" and shown["failures"] == 0
    assert shown["rate_limited_until"] == (reset + RATE_LIMIT_MARGIN).isoformat()
    assert shown["retry_at"] == shown["rate_limited_until"]
    table = _table(engine, now)
    assert "rate limited" in table and "in a row" not in table and "failing" not in table

    # before the reset (and at it: the margin) nothing is called
    for at in (now + timedelta(minutes=5), reset):
        assert _poll(emulator, store, at).skipped_until == reset + RATE_LIMIT_MARGIN
    assert _called(emulator) == 1

    done = _poll(emulator, store, reset + RATE_LIMIT_MARGIN)
    assert done.added == 5 and done.error is None and _called(emulator) == 2
    state = store.source_state("twitter", AURORA.brand)
    assert state.failures == 0 and state.retry_at is None and state.last_error is None
    assert _status(engine, reset + RATE_LIMIT_MARGIN)["state"] == "ok"


def test_an_outage_still_escalates(engine: Engine, emulator: TwitterEmulator) -> None:
    store = SqlStore(engine)
    now = datetime.now(UTC)
    _down(emulator)
    _down(emulator)
    first = _poll(emulator, store, now).skipped_until
    assert first is not None and timedelta(seconds=15) <= first - now <= timedelta(seconds=30)
    second = _poll(emulator, store, first).skipped_until
    assert second is not None and timedelta(seconds=30) <= second - first <= timedelta(seconds=60)
    shown = _status(engine, first)
    assert shown["state"] == "backing off" and shown["failures"] == 2
    assert shown["rate_limited_until"] is None
    assert "[2 in a row]" in _table(engine, first)
    assert _poll(emulator, store, second).added == 5
    assert store.source_state("twitter", AURORA.brand).failures == 0


def test_outages_and_rate_limits_alternating(engine: Engine, emulator: TwitterEmulator) -> None:
    store = SqlStore(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    _down(emulator)
    at = _poll(emulator, store, now).skipped_until
    assert at is not None and store.source_state("twitter", AURORA.brand).failures == 1

    # a 429 after an outage: wait for the reset; the outage count neither grows nor resets
    reset = (at + timedelta(minutes=15)).replace(microsecond=0)  # the header has seconds
    _limit(emulator, reset)
    limited = _poll(emulator, store, at)
    assert limited.rate_limited and limited.skipped_until == reset + RATE_LIMIT_MARGIN
    state = store.source_state("twitter", AURORA.brand)
    assert state.failures == 1 and state.retry_at == reset + RATE_LIMIT_MARGIN
    assert _status(engine, at)["state"] == "rate limited"

    # the next outage escalates from the outages alone (1 before it: 30 to 60 s)
    at = reset + RATE_LIMIT_MARGIN
    _down(emulator)
    again = _poll(emulator, store, at).skipped_until
    assert again is not None and timedelta(seconds=30) <= again - at <= timedelta(seconds=60)
    assert store.source_state("twitter", AURORA.brand).failures == 2
    shown = _status(engine, at)
    assert shown["state"] == "backing off" and shown["rate_limited_until"] is None

    # a 429 after the backoff, then success: both clear
    reset = (again + timedelta(minutes=1)).replace(microsecond=0)
    _limit(emulator, reset)
    assert _poll(emulator, store, again).rate_limited
    assert store.source_state("twitter", AURORA.brand).failures == 2
    assert _poll(emulator, store, reset + RATE_LIMIT_MARGIN).added == 5
    state = store.source_state("twitter", AURORA.brand)
    assert state.failures == 0 and state.retry_at is None
    assert _called(emulator) == 5
