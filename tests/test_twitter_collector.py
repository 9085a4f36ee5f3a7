"""The X collector through the real tweepy client against the X API emulator on 127.0.0.1."""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from listener.collectors.twitter import TwitterCollector
from listener.domain import BrandQuery
from listener.emulators.base import Fault
from listener.emulators.corpus import format_x_time, sample_path
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator, snowflake
from listener.errors import AuthError, RateLimited, SourceUnavailable
from listener.query import matches, parse
from tests.cursors import NOT_AN_OBJECT, assert_one_warning, collect_over, not_json

TOKEN = "AAAA-secret-bearer-token-1234"
AURORA = BrandQuery(
    brand="Aurora Air", query='("Aurora Air" OR @AuroraAir OR #AuroraAir) -purifier -borealis'
)
NORDLYS = BrandQuery(
    brand="Nordlys Mobile",
    query='("Nordlys Mobile" OR @NordlysMobile OR #NordlysMobile OR Nordlys) -festival',
)


def make_tweets(
    count: int, start: datetime, text: str = "Flight {i} with @AuroraAir"
) -> list[dict]:
    tweets = []
    for i in range(count):
        at = start + timedelta(seconds=i)
        tweets.append(
            {
                "id": snowflake(at, i),
                "text": text.format(i=i),
                "created_at": format_x_time(at),
                "author_id": str(100 + i % 5),
                "lang": "en",
                "public_metrics": {
                    "like_count": 2,
                    "retweet_count": 1,
                    "reply_count": 1,
                    "quote_count": 0,
                },
                "author": {
                    "id": str(100 + i % 5),
                    "username": f"user{i % 5}",
                    "name": "U",
                    "verified": False,
                    "public_metrics": {"followers_count": 1000 + i % 5},
                },
            }
        )
    return tweets


@pytest.fixture
def emulator() -> Iterator[TwitterEmulator]:
    emu = TwitterEmulator(bearer_token=TOKEN).start()
    yield emu
    emu.stop()


@pytest.fixture
def sample() -> Iterator[TwitterEmulator]:
    emu = TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token=TOKEN).start()
    yield emu
    emu.stop()


def collector(emu: TwitterEmulator, **options: object) -> TwitterCollector:
    return TwitterCollector(bearer_token=TOKEN, api_base=emu.base_url, **options)  # type: ignore[arg-type]


NOW = datetime.now(UTC) - timedelta(hours=2)


def test_two_pages_are_followed_and_mapped(emulator: TwitterEmulator) -> None:
    emulator.add(make_tweets(150, NOW))
    batch = collector(emulator).collect(AURORA, None)
    assert len(batch.mentions) == 150 and len({m.external_id for m in batch.mentions}) == 150
    searches = emulator.received(SEARCH_PATH)
    assert len(searches) == 2 and searches[1].param("next_token")
    assert searches[0].param("max_results") == "100" and "since_id" not in searches[0].query
    assert "public_metrics" in (searches[0].param("user.fields") or "")
    newest = max(batch.mentions, key=lambda m: int(m.external_id))
    assert newest.author == "user4" and newest.author_reach == 1004 and newest.engagement == 4
    assert newest.url == f"https://x.com/user4/status/{newest.external_id}"
    assert newest.created_at.tzinfo is not None and newest.raw["author"]["username"] == "user4"
    assert json.loads(batch.cursor or "") == {"since_id": newest.external_id}


def test_since_id_polling_returns_only_new_mentions(emulator: TwitterEmulator) -> None:
    emulator.add(make_tweets(30, NOW))
    source = collector(emulator)
    first = source.collect(AURORA, None)
    assert len(first.mentions) == 30
    assert source.collect(AURORA, first.cursor).mentions == []
    emulator.add(make_tweets(5, NOW + timedelta(minutes=10), "new {i} #AuroraAir"))
    third = source.collect(AURORA, first.cursor)
    assert sorted(m.text for m in third.mentions) == [f"new {i} #AuroraAir" for i in range(5)]
    assert (
        emulator.received(SEARCH_PATH)[-1].param("since_id")
        == json.loads(first.cursor or "")["since_id"]
    )


def test_stopping_at_max_pages_fills_the_gap_on_later_runs(emulator: TwitterEmulator) -> None:
    emulator.add(make_tweets(250, NOW))
    source = collector(emulator, max_pages=1)
    seen: list[str] = []
    cursor = None
    for _ in range(3):
        batch = source.collect(AURORA, cursor)
        seen += [m.external_id for m in batch.mentions]
        cursor = batch.cursor
    assert len(seen) == len(set(seen)) == 250
    emulator.add(make_tweets(3, NOW + timedelta(hours=1), "later {i} @AuroraAir"))
    assert len(source.collect(AURORA, cursor).mentions) == 3


def test_a_later_page_failure_keeps_what_was_read_and_skips_nothing(
    emulator: TwitterEmulator,
) -> None:
    emulator.add(make_tweets(250, NOW))
    source = collector(emulator)
    emulator.inject(Fault(path_prefix=SEARCH_PATH, status=503, times=1))  # page 1 fails: raise
    with pytest.raises(SourceUnavailable):
        source.collect(AURORA, None)
    first = source.collect(AURORA, None)  # page 1 ok, page 2 fails below
    assert len(first.mentions) == 250
    emulator.add(make_tweets(150, NOW + timedelta(hours=1), "wave {i} @AuroraAir"))
    emulator.inject(Fault(path_prefix=SEARCH_PATH, status=500, after=1))
    partial = collector(emulator).collect(AURORA, first.cursor)
    assert len(partial.mentions) == 100
    rest = collector(emulator).collect(AURORA, partial.cursor)
    got = {m.external_id for m in partial.mentions} | {m.external_id for m in rest.mentions}
    assert len(got) == 150


def test_429_maps_to_rate_limited_with_the_reset_time(emulator: TwitterEmulator) -> None:
    reset = int((datetime.now(UTC) + timedelta(minutes=7)).timestamp())
    headers = {
        "x-rate-limit-limit": "450",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(reset),
    }
    body = json.dumps(
        {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
    )
    emulator.inject(Fault(status=429, headers=headers, body=body.encode()))
    with pytest.raises(RateLimited) as info:
        collector(emulator).collect(AURORA, None)
    assert info.value.retry_at == datetime.fromtimestamp(reset, UTC)


@pytest.mark.parametrize("fault", [Fault(status=500), Fault(status=503), Fault(drop=True)])
def test_server_errors_and_drops_are_unavailable(emulator: TwitterEmulator, fault: Fault) -> None:
    emulator.inject(fault)
    with pytest.raises(SourceUnavailable):
        collector(emulator).collect(AURORA, None)


def test_slow_response_beyond_timeout_is_unavailable(emulator: TwitterEmulator) -> None:
    emulator.inject(Fault(delay=1.5))
    with pytest.raises(SourceUnavailable, match="Timeout"):
        collector(emulator, timeout=0.3).collect(AURORA, None)


def test_401_is_an_auth_error_without_the_token(
    emulator: TwitterEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    bad = "wrong-token-5678-xyz"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        TwitterCollector(bearer_token=bad, api_base=emulator.base_url).collect(AURORA, None)
    assert "401" in str(info.value) and bad not in str(info.value)
    assert bad not in caplog.text and TOKEN not in caplog.text
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {bad}"


def test_items_missing_fields_are_quarantined_and_the_rest_kept(emulator: TwitterEmulator) -> None:
    good = make_tweets(3, NOW)
    page = {
        "data": [{k: v for k, v in t.items() if k != "author"} for t in good]
        + [
            {"id": "42", "created_at": "2025-01-01T00:00:00.000Z"},
            {"text": "no id"},
            {"id": "43", "text": "x", "created_at": "yesterday"},
        ],
        "includes": {"users": [t["author"] for t in good]},
        "meta": {"result_count": 6},
    }
    emulator.inject(
        Fault(
            status=200, body=json.dumps(page).encode(), headers={"content-type": "application/json"}
        )
    )
    batch = collector(emulator).collect(AURORA, None)
    assert len(batch.mentions) == 3
    reasons = sorted(q.reason for q in batch.quarantined)
    assert reasons == [
        "tweet 42 has no text",
        "tweet 43 has no valid created_at (got 'yesterday')",
        "tweet has no string id (got None)",
    ]
    assert all(q.payload and q.location.startswith("page 1") for q in batch.quarantined)
    assert json.loads(batch.cursor or "")["since_id"] == str(max(int(t["id"]) for t in good))


def test_sample_corpus_round_trips_every_language_byte_for_byte(sample: TwitterEmulator) -> None:
    seeded = {t["id"]: t for t in sample.tweets}  # the file's tweets, their ids moved to now
    got = {}
    for query in (AURORA, NORDLYS):
        for mention in collector(sample).collect(query, None).mentions:
            got[mention.external_id] = mention
    expected = {
        tid
        for tid, t in seeded.items()
        if any(matches(parse(q.query), t["text"], t["lang"]) for q in (AURORA, NORDLYS))
    }
    assert set(got) == expected and len(expected) >= 250
    assert {m.lang for m in got.values()} == {"en", "pl", "lv", "lt", "sl", "he"}
    for tid, mention in got.items():
        assert mention.text.encode("utf-8") == html.unescape(seeded[tid]["text"]).encode("utf-8")
    assert any("\u200d" in m.text for m in got.values()) and any(
        len(m.text) == 280 for m in got.values()
    )
    assert any("AT&T" in m.text for m in got.values())
    replies = [m for m in got.values() if m.in_reply_to]
    assert replies and all(r.in_reply_to in seeded for r in replies)


def test_language_filter_reaches_the_api(sample: TwitterEmulator) -> None:
    hebrew = BrandQuery(brand=AURORA.brand, query=AURORA.query, languages=("he",))
    mentions = collector(sample).collect(hebrew, None).mentions
    assert mentions and {m.lang for m in mentions} == {"he"}
    assert "lang:he" in (sample.received(SEARCH_PATH)[-1].param("query") or "")


def _page_fault(page: dict, *, after: int = 0) -> Fault:
    body = json.dumps(page, ensure_ascii=False).encode()  # math.inf -> -Infinity, as JSON allows
    return Fault(path_prefix=SEARCH_PATH, status=200, body=body, after=after)


def _x_page(tweets: list[dict]) -> dict:
    users = {t["author"]["id"]: t["author"] for t in tweets if isinstance(t.get("author"), dict)}
    return {
        "data": [{k: v for k, v in t.items() if k != "author"} for t in tweets],
        "includes": {"users": list(users.values())},
        "meta": {"result_count": len(tweets)},
    }


# (what a tweet (t) or its author (u) gets, the reason the tweet is quarantined with)
BAD_TWEETS = [
    ({"t.id": "²"}, "tweet id is not a 64-bit decimal number (got '²')"),
    ({"t.id": "١٢"}, "tweet id is not a 64-bit decimal number (got '١٢')"),
    ({"t.id": "9" * 20}, "tweet id is not a 64-bit decimal number (got '99999999999999999999')"),
    (
        {"t.created_at": "0001-01-01T00:00:00+01:00"},
        "tweet {id} has a created_at outside the years 1-9999 in UTC"
        " (got '0001-01-01T00:00:00+01:00')",
    ),
    (
        {"t.created_at": "9999-12-31T23:59:59-05:00"},
        "tweet {id} has a created_at outside the years 1-9999 in UTC"
        " (got '9999-12-31T23:59:59-05:00')",
    ),
    (
        {"t.public_metrics": {"like_count": -math.inf}},
        "tweet {id} has public_metrics.like_count that is not a count (got -inf)",
    ),
    (
        {"t.public_metrics": {"retweet_count": math.nan}},
        "tweet {id} has public_metrics.retweet_count that is not a count (got nan)",
    ),
    (
        {"t.public_metrics": {"quote_count": -1}},
        "tweet {id} has public_metrics.quote_count that is not a count (got -1)",
    ),
    (
        {"t.public_metrics": [3]},
        "tweet {id} has public_metrics that is not a JSON object (got [3])",
    ),
    (
        {"u.public_metrics": {"followers_count": math.inf}},
        "tweet {id} has author public_metrics.followers_count that is not a count (got inf)",
    ),
    (
        {"u.username": ["kasia"]},
        "tweet {id} has an author username that is not a string (got ['kasia'])",
    ),
    ({"t.author_id": 7}, "tweet {id} has an author_id that is not a string (got 7)"),
    ({"t.lang": 5}, "tweet {id} has a lang that is not a string (got 5)"),
    ({"t.referenced_tweets": 3}, "tweet {id} has referenced_tweets that is not a list (got 3)"),
    (
        {"t.referenced_tweets": True},
        "tweet {id} has referenced_tweets that is not a list (got True)",
    ),
    (
        {"t.referenced_tweets": ["1789"]},
        "tweet {id} has a referenced_tweets item that is not a JSON object (got '1789')",
    ),
    (
        {"t.referenced_tweets": [{"type": "replied_to"}]},
        "tweet {id} has a replied_to reference with no valid id (got None)",
    ),
]


@pytest.mark.parametrize(("change", "reason"), BAD_TWEETS, ids=[str(c) for c, _ in BAD_TWEETS])
def test_a_tweet_with_a_bad_field_is_quarantined_naming_it(
    emulator: TwitterEmulator, change: dict, reason: str
) -> None:
    tweets = make_tweets(4, NOW)
    bad, tid = tweets[0], tweets[0]["id"]
    for key, value in change.items():
        target = bad if key.startswith("t.") else bad["author"]
        target[key[2:]] = value
    emulator.inject(_page_fault(_x_page(tweets)))
    batch = collector(emulator).collect(AURORA, None)
    assert sorted(m.external_id for m in batch.mentions) == sorted(t["id"] for t in tweets[1:])
    [quarantined] = batch.quarantined
    assert quarantined.reason == reason.format(id=tid)
    assert quarantined.location == "page 1 item 0"
    assert json.loads(quarantined.payload)["id"] == bad["id"]  # the tweet as received
    newest = max(int(t["id"]) for t in tweets[1:])
    assert json.loads(batch.cursor or "") == {"since_id": str(newest)}


# (the page's envelope, the reason the whole page is quarantined with)
BAD_ENVELOPES = [
    ({"includes": {"users": 4}}, "X API sent a page whose includes.users is not a list but int"),
    ({"includes": ["users"]}, "X API sent a page whose includes is not a JSON object but list"),
    ({"data": {"id": "1"}}, "X API sent a page whose data is not a list but dict"),
    ({"meta": 5}, "X API sent a page whose meta is not a JSON object but int"),
    (
        {"meta": {"next_token": 5}},
        "X API sent a page whose meta.next_token is not a string but int",
    ),
]


@pytest.mark.parametrize(
    ("envelope", "reason"), BAD_ENVELOPES, ids=[str(e) for e, _ in BAD_ENVELOPES]
)
def test_a_page_whose_envelope_is_not_the_x_shape_is_a_malformed_page(
    emulator: TwitterEmulator, envelope: dict, reason: str
) -> None:
    page = _x_page(make_tweets(3, NOW)) | envelope
    emulator.inject(_page_fault(page))
    cursor = json.dumps({"since_id": snowflake(NOW - timedelta(hours=1))})
    batch = collector(emulator).collect(AURORA, cursor)
    assert batch.mentions == [] and batch.cursor == cursor  # the next poll asks again
    [bad] = batch.quarantined
    assert (bad.reason, bad.location) == (reason, "page 1")
    assert json.loads(bad.payload) == page


def test_a_later_page_with_a_bad_envelope_keeps_the_pages_before_it(
    emulator: TwitterEmulator,
) -> None:
    emulator.add(make_tweets(150, NOW))
    emulator.inject(_page_fault({"data": [], "includes": {"users": None}, "meta": []}, after=1))
    source = collector(emulator)
    first = source.collect(AURORA, None)
    assert len(first.mentions) == 100
    assert [(q.location, q.reason) for q in first.quarantined] == [
        ("page 2", "X API sent a page whose meta is not a JSON object but list")
    ]
    rest = source.collect(AURORA, first.cursor)
    got = {m.external_id for m in first.mentions} | {m.external_id for m in rest.mentions}
    assert len(got) == 150 and not rest.quarantined


def test_null_where_a_list_or_object_belongs_is_taken_as_absent(emulator: TwitterEmulator) -> None:
    tweets = make_tweets(2, NOW)
    page = _x_page(tweets) | {"includes": {"users": None}, "meta": None}
    page["data"][0] |= {"public_metrics": None, "referenced_tweets": None}
    emulator.inject(_page_fault(page))
    batch = collector(emulator).collect(AURORA, None)
    assert sorted(m.external_id for m in batch.mentions) == sorted(t["id"] for t in tweets)
    assert not batch.quarantined and {m.author for m in batch.mentions} == {"100", "101"}


CORRUPT_CURSORS = [
    not_json('{"since_id": "1790'),
    NOT_AN_OBJECT,
    ("nested too deep", "[" * 100_000, "not valid JSON: a number too long or nesting too deep"),
    (
        "ids of the wrong type",
        '{"since_id": ["1790"], "newest_id": true}',
        "'since_id' must be a tweet id (up to 19 digits), got list; 'newest_id'",
    ),
    ("a plain id too long", "9" * 40, "'since_id' must be a tweet id"),
]


@pytest.mark.parametrize(
    ("cursor", "problem"), [c[1:] for c in CORRUPT_CURSORS], ids=[c[0] for c in CORRUPT_CURSORS]
)
def test_a_corrupt_cursor_is_logged_once_and_the_newest_posts_read(
    emulator: TwitterEmulator,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    cursor: str,
    problem: str,
) -> None:
    emulator.add(make_tweets(5, NOW))
    result, warnings = collect_over(
        cursor, engine=engine, collector=collector(emulator), query=AURORA, caplog=caplog
    )
    assert (result.error, result.fetched, result.added) == (None, 5, 5)
    assert "since_id" not in emulator.received(SEARCH_PATH)[0].query
    assert_one_warning(
        warnings, source="twitter", brand="Aurora Air", problem=problem, cursor=cursor
    )
