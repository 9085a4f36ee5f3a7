"""The Bluesky collector through the real atproto client against the PDS emulator on 127.0.0.1:
incremental search, pagination, rate limits, errors, dedupe and reach."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from listener.collectors.bluesky import BlueskyBrandOptions, BlueskyCollector
from listener.domain import BrandQuery, utcnow
from listener.emulators.base import Fault
from listener.emulators.bluesky import PROFILES_PATH, SEARCH_PATH, SESSION_PATH, BlueskyEmulator
from listener.errors import AuthError, RateLimited, SourceUnavailable
from tests.cursors import NOT_AN_OBJECT, assert_one_warning, collect_over, not_json
from tests.fedi_posts import bsky_post

PASSWORD = "abcd-efgh-ijkl-mnop"
AURORA = BrandQuery(brand="Aurora Air", query='("Aurora Air" OR #AuroraAir) -(northern lights)')


@pytest.fixture()
def emu() -> Iterator[BlueskyEmulator]:
    with BlueskyEmulator(handle="listener.test", password=PASSWORD) as emulator:
        yield emulator


def collector(emu: BlueskyEmulator, **kwargs: object) -> BlueskyCollector:
    return BlueskyCollector(
        handle="listener.test", app_password=PASSWORD, api_base=emu.base_url, **kwargs
    )  # type: ignore[arg-type]


def published(emu: BlueskyEmulator, count: int, *, start: int = 0, **kwargs: object) -> None:
    base = utcnow() - timedelta(hours=2)
    emu.add(
        bsky_post(start + i, base + timedelta(seconds=start + i), **kwargs)  # type: ignore[arg-type]
        for i in range(count)
    )


def test_incremental_across_polls_reads_only_what_is_new(emu: BlueskyEmulator) -> None:
    published(emu, 30)
    emu.add([bsky_post(900, utcnow() - timedelta(hours=1), "Aurora Air under northern lights")])
    bluesky = collector(emu)
    first = bluesky.collect(AURORA, None)
    assert len(first.mentions) == 30  # the northern lights post is found, then filtered out
    assert {m.source for m in first.mentions} == {"bluesky"}
    assert all(m.external_id.startswith("at://") for m in first.mentions)
    second = bluesky.collect(AURORA, first.cursor)
    assert second.mentions == []
    published(emu, 3, start=100, text="#AuroraAir lost my bag {i}")
    third = bluesky.collect(AURORA, second.cursor)
    assert sorted(m.text for m in third.mentions) == [
        f"#AuroraAir lost my bag {i}" for i in (100, 101, 102)
    ]
    searches = emu.received(SEARCH_PATH)
    assert searches[-1].param("since") is not None and searches[-1].param("sort") == "latest"
    assert {r.param("q") for r in searches} == {'"Aurora Air"', "#AuroraAir"}


def test_pages_with_the_cursor_and_fills_the_gap_a_short_poll_left(emu: BlueskyEmulator) -> None:
    published(emu, 120)
    bluesky = collector(emu, page_size=25, max_pages=2)
    query = BrandQuery(brand="Aurora Air", query='"Aurora Air"')
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        batch = bluesky.collect(query, cursor)
        seen += [m.external_id for m in batch.mentions]
        cursor = batch.cursor
    assert len(seen) == len(set(seen)) == 120
    cursors = [r.param("cursor") for r in emu.received(SEARCH_PATH)]
    assert "25" in cursors  # the search's own cursor was followed
    assert json.loads(cursor or "{}")["searches"]['q:"Aurora Air"'].keys() == {"since"}


def test_429_backs_off_until_the_reset_and_loses_nothing(emu: BlueskyEmulator) -> None:
    published(emu, 40)
    bluesky = collector(emu, page_size=25)
    query = BrandQuery(brand="Aurora Air", query='"Aurora Air"')
    reset = int(time.time()) + 120
    body = json.dumps({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}).encode()
    headers = {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
    emu.inject(Fault(path_prefix=SEARCH_PATH, status=429, body=body, headers=headers))
    with pytest.raises(RateLimited) as caught:
        bluesky.collect(query, None)
    assert caught.value.retry_at.timestamp() == reset
    # a 429 on the second page keeps the first and the rest comes next time
    emu.inject(Fault(path_prefix=SEARCH_PATH, status=429, body=body, headers=headers, after=1))
    first = bluesky.collect(query, None)
    assert len(first.mentions) == 25
    second = bluesky.collect(query, first.cursor)
    assert len({m.external_id for m in [*first.mentions, *second.mentions]}) == 40


def test_a_spent_budget_stops_the_poll_and_the_next_goes_on(emu: BlueskyEmulator) -> None:
    published(emu, 60)
    bluesky = collector(emu, page_size=20)
    query = BrandQuery(brand="Aurora Air", query='"Aurora Air"')
    emu.rate_limit = len(emu.requests) + 3  # login, getProfile, one search page: then 0 left
    first = bluesky.collect(query, None)
    assert len(first.mentions) == 20 and len(emu.received(SEARCH_PATH)) == 1
    emu.rate_limit = 3000
    second = bluesky.collect(query, first.cursor)
    assert len({m.external_id for m in [*first.mentions, *second.mentions]}) == 60


def test_wrong_app_password_is_an_auth_error_without_the_secret(emu: BlueskyEmulator) -> None:
    bad = BlueskyCollector(
        handle="listener.test", app_password="wrong-pass-1234", api_base=emu.base_url
    )
    with pytest.raises(AuthError) as caught:
        bad.collect(AURORA, None)
    assert "wrong-pass-1234" not in str(caught.value)
    assert "AuthenticationRequired" in str(caught.value)


def test_an_expired_session_logs_in_again_once(emu: BlueskyEmulator) -> None:
    published(emu, 5)
    bluesky = collector(emu)
    cursor = bluesky.collect(AURORA, None).cursor
    emu.expire_sessions()
    published(emu, 2, start=50)
    again = bluesky.collect(AURORA, cursor)
    assert len(again.mentions) == 2
    assert len(emu.received(SESSION_PATH)) == 2


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(status=400, body=b'{"error":"InvalidRequest","message":"Error: bad q"}'), "bad q"),
        (Fault(status=502, body=b"<html>Bad Gateway</html>"), "502"),
        (Fault(status=500, body=b'{"error":"InternalServerError","message":"boom"}'), "boom"),
        (Fault(drop=True), "Bluesky unavailable"),
    ],
)
def test_server_errors_are_source_unavailable(
    emu: BlueskyEmulator, fault: Fault, expected: str
) -> None:
    bluesky = collector(emu)
    bluesky.collect(AURORA, None)  # logged in
    fault.path_prefix = SEARCH_PATH
    emu.inject(fault)
    with pytest.raises(SourceUnavailable) as caught:
        bluesky.collect(AURORA, None)
    assert expected in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_malformed_page_is_quarantined_and_read_again(emu: BlueskyEmulator) -> None:
    published(emu, 10)
    bluesky = collector(emu)
    query = BrandQuery(brand="Aurora Air", query='"Aurora Air"')
    emu.malformed_pages()
    first = bluesky.collect(query, None)
    assert first.mentions == [] and len(first.quarantined) == 1
    assert "not JSON" in first.quarantined[0].reason
    second = bluesky.collect(query, first.cursor)
    assert len(second.mentions) == 10


def test_a_bad_post_is_quarantined_with_its_reason_and_the_rest_kept(emu: BlueskyEmulator) -> None:
    published(emu, 4)
    broken = bsky_post(77, utcnow() - timedelta(minutes=30))
    del broken["record"]["createdAt"]
    broken["indexedAt"] = bsky_post(0, utcnow() - timedelta(minutes=30))["indexedAt"]
    emu.add([broken])
    batch = collector(emu).collect(BrandQuery(brand="Aurora Air", query='"Aurora Air"'), None)
    assert len(batch.mentions) == 4
    assert [q.reason for q in batch.quarantined] == [
        f"post {broken['uri']} has no readable record.createdAt"
    ]


def test_a_far_future_post_is_quarantined_and_never_moves_the_mark(emu: BlueskyEmulator) -> None:
    published(emu, 3)
    future = datetime(2100, 1, 1, tzinfo=UTC)
    bogus = bsky_post(77, future, "Aurora Air from the future", indexed=future)
    emu.add([bogus])
    bluesky, query = collector(emu), BrandQuery(brand="Aurora Air", query='"Aurora Air"')
    first = bluesky.collect(query, None)
    assert sorted(m.text for m in first.mentions) == [
        f"Flight {i} with Aurora Air" for i in range(3)
    ]
    [quarantined] = first.quarantined
    assert quarantined.reason == (
        f"post {bogus['uri']} is dated in the future (record.createdAt"
        " '2100-01-01T00:00:00.000Z', indexedAt '2100-01-01T00:00:00.000Z';"
        " more than 300 s ahead of this host's clock)"
    )
    assert all(
        v < "2099" for m in json.loads(first.cursor or "")["searches"].values() for v in m.values()
    )
    published(emu, 2, start=100, text="Aurora Air lost my bag {i}")
    later = bluesky.collect(query, first.cursor)
    assert sorted(m.text for m in later.mentions) == [
        f"Aurora Air lost my bag {i}" for i in (100, 101)
    ]


def test_one_post_found_by_two_searches_is_one_mention(emu: BlueskyEmulator) -> None:
    emu.add([bsky_post(1, utcnow() - timedelta(minutes=9), "Aurora Air again #AuroraAir")])
    batch = collector(emu).collect(AURORA, None)
    assert len(batch.mentions) == 1
    assert len(emu.received(SEARCH_PATH)) == 2


def test_a_post_indexed_late_within_the_overlap_is_still_collected(emu: BlueskyEmulator) -> None:
    now = utcnow()
    emu.add([bsky_post(1, now - timedelta(minutes=1), "Aurora Air one")])
    bluesky = collector(emu)
    cursor = bluesky.collect(AURORA, None).cursor
    # created 3 minutes ago, indexed only now: it sorts before the newest post read
    emu.add([bsky_post(2, now - timedelta(minutes=3), "Aurora Air two")])
    late = bluesky.collect(AURORA, cursor)
    assert [m.text for m in late.mentions] == ["Aurora Air two"]


def test_reach_is_the_authors_follower_count_in_batches_of_25(emu: BlueskyEmulator) -> None:
    base = utcnow() - timedelta(hours=1)
    emu.add(
        bsky_post(i, base + timedelta(seconds=i), author=i, followers=10 * i) for i in range(60)
    )
    bluesky = collector(emu)
    batch = bluesky.collect(AURORA, None)
    assert {m.author: m.author_reach for m in batch.mentions} == {
        f"user{i}.bsky.social": 10 * i for i in range(60)
    }
    calls = emu.received(PROFILES_PATH)
    assert sorted(len(r.query["actors"]) for r in calls) == [10, 25, 25]
    emu.add([bsky_post(99, utcnow(), author=3)])
    bluesky.collect(AURORA, batch.cursor)
    assert len(emu.received(PROFILES_PATH)) == 3  # user3's count came from the cache


def test_reach_is_zero_when_profiles_fail_and_the_mentions_are_kept(emu: BlueskyEmulator) -> None:
    published(emu, 3)
    emu.inject(Fault(path_prefix=PROFILES_PATH, status=503, body=b"{}"))
    batch = collector(emu).collect(AURORA, None)
    assert [m.author_reach for m in batch.mentions] == [0, 0, 0]


def test_brand_terms_are_searched_and_kept_as_found(emu: BlueskyEmulator) -> None:
    emu.add([bsky_post(1, utcnow() - timedelta(minutes=2), "new lounge at RIX by AU311 crew")])
    query = BrandQuery(
        brand="Aurora Air", query='"Aurora Air"', options=BlueskyBrandOptions(terms=["AU311"])
    )
    batch = collector(emu).collect(query, None)
    assert [m.text for m in batch.mentions] == ["new lounge at RIX by AU311 crew"]
    assert "AU311" in {r.param("q") for r in emu.received(SEARCH_PATH)}


def test_mention_fields(emu: BlueskyEmulator) -> None:
    emu.add([bsky_post(7, utcnow() - timedelta(minutes=2), "Aurora Air zgubiła bagaż", lang="pl")])
    (m,) = collector(emu).collect(AURORA, None).mentions
    assert m.lang == "pl" and m.author == "user2.bsky.social" and m.engagement == 6
    assert m.url == "https://bsky.app/profile/user2.bsky.social/post/3k00000000007"
    assert m.author_reach == 1002 and m.raw["cid"] == "bafyreipost7"


FEED = "at://did:plc:feedmaker/app.bsky.feed.generator/airlines"


def test_a_brand_feed_is_read_to_its_mark_and_filtered_by_the_query(emu: BlueskyEmulator) -> None:
    emu.add_feed(FEED, "flight OR lounge")
    now = utcnow()
    emu.add(
        [
            bsky_post(1, now - timedelta(minutes=30), "Aurora Air lounge at RIX is lovely"),
            bsky_post(2, now - timedelta(minutes=20), "some other airline flight"),
            bsky_post(3, now - timedelta(days=3), "Aurora Air flight, three days ago"),
        ]
    )
    query = BrandQuery(
        brand="Aurora Air", query="AuroraAir", options=BlueskyBrandOptions(feeds=[FEED])
    )
    bluesky = collector(emu)
    first = bluesky.collect(query, None)
    assert [m.text for m in first.mentions] == []  # the query 'AuroraAir' is one word
    query = BrandQuery(
        brand="Aurora Air", query='"Aurora Air"', options=BlueskyBrandOptions(feeds=[FEED])
    )
    first = bluesky.collect(query, None)
    # from the feed and the search alike, once; older than the first poll's backfill: left out
    assert [m.text for m in first.mentions] == ["Aurora Air lounge at RIX is lovely"]
    emu.add([bsky_post(4, utcnow(), "Aurora Air flight AU88 boarding now")])
    second = bluesky.collect(query, first.cursor)
    assert [m.text for m in second.mentions] == ["Aurora Air flight AU88 boarding now"]
    feed_calls = [r for r in emu.received("/xrpc/app.bsky.feed.getFeed")]
    assert feed_calls and all(r.param("feed") == FEED for r in feed_calls)
    assert json.loads(second.cursor or "{}")["searches"][f"f:{FEED}"]["since"]


def test_an_unknown_feed_fails_alone(emu: BlueskyEmulator) -> None:
    published(emu, 2)
    query = BrandQuery(
        brand="Aurora Air", query='"Aurora Air"', options=BlueskyBrandOptions(feeds=[FEED])
    )
    batch = collector(emu).collect(query, None)
    assert len(batch.mentions) == 2  # the search's; the feed's 400 UnknownFeed is logged


def test_feed_options_must_be_feed_generator_uris() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="feed generator URIs"):
        BlueskyBrandOptions(feeds=["https://bsky.app/profile/x/feed/y"])


def test_a_session_near_its_end_is_refreshed_by_the_client() -> None:
    with BlueskyEmulator(handle="listener.test", password=PASSWORD, access_ttl=600) as emu:
        published(emu, 2)
        bluesky = collector(emu)
        assert len(bluesky.collect(AURORA, None).mentions) == 2
        # atproto refreshes a token that ends within 15 minutes, with the refresh JWT
        assert emu.received("/xrpc/com.atproto.server.refreshSession")
        assert len(emu.received(SESSION_PATH)) == 1


CORRUPT_CURSORS = [
    not_json('{"searches": {}, "seen": ["at://'),
    NOT_AN_OBJECT,
    (
        "fields of the wrong type",
        '{"searches": [], "seen": "at://did:plc:x/app.bsky.feed.post/1"}',
        "'searches' must be an object, got list; 'seen' must be a list, got str",
    ),
    (
        "entries of the wrong type",
        '{"searches": {"q:\\"Aurora Air\\"": {"since": 1700000000}}, "seen": [1]}',
        "1 entry of 'searches' not an object of times (text); 1 entry of 'seen' not a URI",
    ),
]


@pytest.mark.parametrize(
    ("cursor", "problem"), [c[1:] for c in CORRUPT_CURSORS], ids=[c[0] for c in CORRUPT_CURSORS]
)
def test_a_corrupt_cursor_is_logged_once_and_the_searches_read_afresh(
    emu: BlueskyEmulator,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    cursor: str,
    problem: str,
) -> None:
    published(emu, 5)
    result, warnings = collect_over(
        cursor, engine=engine, collector=collector(emu), query=AURORA, caplog=caplog
    )
    assert (result.error, result.fetched, result.added) == (None, 5, 5)
    assert_one_warning(
        warnings, source="bluesky", brand="Aurora Air", problem=problem, cursor=cursor
    )
