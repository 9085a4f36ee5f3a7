"""The Reddit collector through the real praw/prawcore against the Reddit emulator on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from listener.collectors._reddit_parts import FUTURE_SKEW
from listener.collectors.reddit import RedditCollector
from listener.domain import BrandQuery
from listener.emulators.base import Fault
from listener.emulators.corpus import read_jsonl, sample_path
from listener.emulators.reddit import TOKEN_PATH, RedditEmulator
from listener.errors import AuthError, RateLimited, SourceUnavailable
from listener.query import matches, parse
from listener.store.sql import SqlStore
from tests.cursors import NOT_AN_OBJECT, assert_one_warning, collect_over, not_json

SECRET = "reddit-client-secret-9876"
NORDLYS = BrandQuery(
    brand="Nordlys Mobile",
    query='("Nordlys Mobile" OR @NordlysMobile OR #NordlysMobile OR Nordlys) -festival',
    subreddits=("telecom", "Latvia", "Polska", "lithuania", "Slovenia", "Israel"),
)
AURORA = BrandQuery(
    brand="Aurora Air",
    query='("Aurora Air" OR @AuroraAir OR #AuroraAir OR AuroraAir) -purifier -borealis',
    subreddits=("travel", "aviation", "Latvia", "Polska", "lithuania", "Slovenia", "Israel"),
)
SIMPLE = BrandQuery(brand="Nordlys Mobile", query="Nordlys", subreddits=("telco",))


def things(count: int, start: float, prefix: str = "p") -> list[dict]:
    out = []
    for i in range(count):
        out.append(
            {
                "kind": "t3",
                "data": {
                    "id": f"{prefix}{i}",
                    "name": f"t3_{prefix}{i}",
                    "title": f"Nordlys review {i}",
                    "selftext": "",
                    "subreddit": "telco",
                    "author": "bob",
                    "created_utc": start + i,
                    "permalink": f"/r/telco/comments/{prefix}{i}/x/",
                    "score": 3,
                    "num_comments": 2,
                },
            }
        )
        out.append(
            {
                "kind": "t1",
                "data": {
                    "id": f"c{prefix}{i}",
                    "name": f"t1_c{prefix}{i}",
                    "body": f"my Nordlys bill {i}" if i % 2 else "off topic",
                    "subreddit": "telco",
                    "author": "amy",
                    "created_utc": start + i,
                    "parent_id": f"t3_{prefix}{i}",
                    "permalink": f"/r/telco/comments/{prefix}{i}/x/c{prefix}{i}/",
                    "score": 5,
                },
            }
        )
    return out


@pytest.fixture
def emulator() -> Iterator[RedditEmulator]:
    emu = RedditEmulator(client_secret=SECRET).start()
    yield emu
    emu.stop()


def collector(emu: RedditEmulator, **options: Any) -> RedditCollector:
    defaults: dict[str, Any] = {"limit": 1000}
    return RedditCollector(
        client_id="emulator-client",
        client_secret=SECRET,
        user_agent="listener-tests/0.1",
        api_base=emu.base_url,
        auth_base=emu.base_url,
        **{**defaults, **options},
    )  # type: ignore[arg-type]


def test_search_new_and_comments_are_paged_and_mapped(emulator: RedditEmulator) -> None:
    emulator.add(things(150, time.time() - 3600))
    batch = collector(emulator).collect(SIMPLE, None)
    ids = [m.external_id for m in batch.mentions]
    assert (
        len(ids) == len(set(ids)) == 150 + 75
    )  # submissions once (search and /new overlap), matching comments
    assert emulator.received(TOKEN_PATH)
    search = emulator.received("/r/telco/search")
    assert (
        len(search) == 2
        and search[0].param("sort") == "new"
        and search[0].param("syntax") == "lucene"
    )
    post = next(m for m in batch.mentions if m.external_id == "t3_p7")
    assert (
        post.text == "Nordlys review 7"
        and post.engagement == 5
        and post.url == "https://www.reddit.com/r/telco/comments/p7/x/"
    )
    comment = next(m for m in batch.mentions if m.external_id == "t1_cp7")
    assert (
        comment.in_reply_to == "t3_p7"
        and comment.text == "my Nordlys bill 7"
        and comment.raw["kind"] == "t1"
    )


def test_repeated_runs_and_resurfaced_items_never_reemit(emulator: RedditEmulator) -> None:
    emulator.add(things(20, time.time() - 600))
    source = collector(emulator)
    first = source.collect(SIMPLE, None)
    assert len(first.mentions) == 30
    assert source.collect(SIMPLE, first.cursor).mentions == []
    emulator.resurface("t3_p3")  # praw#2090: an old item shows up again as new
    emulator.resurface("t1_cp5")
    emulator.add(things(2, time.time(), prefix="n"))
    third = source.collect(SIMPLE, first.cursor)
    assert sorted(m.external_id for m in third.mentions) == ["t1_cn1", "t3_n0", "t3_n1"]
    assert "t3_p3" in json.loads(third.cursor or "")["seen"]


def test_429_maps_to_rate_limited_from_reset_seconds(emulator: RedditEmulator) -> None:
    headers = {"x-ratelimit-used": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "120"}
    emulator.inject(
        Fault(
            path_prefix="/r/",
            status=429,
            headers=headers,
            body=b'{"message": "Too Many Requests", "error": 429}',
        )
    )
    before = time.time()
    with pytest.raises(RateLimited) as info:
        collector(emulator).collect(SIMPLE, None)
    assert before + 115 < info.value.retry_at.timestamp() < time.time() + 125


def test_a_spent_budget_is_rate_limited_without_sleeping(emulator: RedditEmulator) -> None:
    emulator.add(things(3, time.time() - 60))
    emulator.rate_limit = 2  # the token request does not count; two listing pages do
    source = collector(emulator)
    started = time.monotonic()
    batch = source.collect(SIMPLE, None)  # search + new succeed, comments hit the spent budget
    assert {m.external_id for m in batch.mentions} == {"t3_p0", "t3_p1", "t3_p2"}
    assert [r.path for r in emulator.received("/r/")] == ["/r/telco/search", "/r/telco/new"]
    with pytest.raises(RateLimited):
        source.collect(SIMPLE, batch.cursor)
    assert len(emulator.received("/r/")) == 2  # refused locally: the budget was known to be spent
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault(path_prefix="/r/", status=500),
        Fault(path_prefix="/r/", status=503),
        Fault(path_prefix="/r/", drop=True),
    ],
)
def test_server_errors_are_unavailable_without_prawcore_retry_sleeps(
    emulator: RedditEmulator, fault: Fault
) -> None:
    emulator.inject(fault)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable):
        collector(emulator).collect(SIMPLE, None)
    assert time.monotonic() - started < 1.5
    assert len(emulator.received("/r/")) == 1


def test_slow_response_beyond_timeout_is_unavailable(emulator: RedditEmulator) -> None:
    emulator.inject(Fault(path_prefix="/r/", delay=1.5))
    with pytest.raises(SourceUnavailable):
        collector(emulator, timeout=0.3).collect(SIMPLE, None)


def test_bad_credentials_are_an_auth_error_without_the_secret(
    emulator: RedditEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-secret-abcdef"
    source = RedditCollector(
        client_id="emulator-client",
        client_secret=wrong,
        user_agent="listener-tests/0.1",
        api_base=emulator.base_url,
        auth_base=emulator.base_url,
    )
    with pytest.raises(AuthError) as info:
        source.collect(SIMPLE, None)
    assert "401" in str(info.value) and wrong not in str(info.value) and wrong not in caplog.text


def test_a_revoked_token_is_an_auth_error_then_a_new_token_is_fetched(
    emulator: RedditEmulator,
) -> None:
    emulator.add(things(2, time.time() - 60))
    source = collector(emulator)
    source.collect(SIMPLE, None)
    emulator.tokens.clear()
    with pytest.raises(AuthError):
        source.collect(SIMPLE, None)
    assert len(source.collect(SIMPLE, None).mentions) == 3
    assert len(emulator.received(TOKEN_PATH)) == 2


def test_a_later_listing_failure_keeps_the_others(emulator: RedditEmulator) -> None:
    emulator.add(things(4, time.time() - 60))
    emulator.inject(Fault(path_prefix="/r/telco/comments", status=502))
    source = collector(emulator)
    batch = source.collect(SIMPLE, None)
    assert {m.external_id for m in batch.mentions} == {f"t3_p{i}" for i in range(4)}
    assert {m.external_id for m in source.collect(SIMPLE, batch.cursor).mentions} == {
        "t1_cp1",
        "t1_cp3",
    }


def test_items_missing_fields_are_quarantined(emulator: RedditEmulator) -> None:
    good = things(2, time.time() - 60)[0]
    broken = [
        {
            "kind": "t3",
            "data": {"name": "t3_x1", "title": "Nordlys no date", "permalink": "/r/telco/x1/"},
        },
        {
            "kind": "t3",
            "data": {"name": "t3_x2", "created_utc": time.time(), "title": "Nordlys no link"},
        },
        "Nordlys not a thing",
    ]
    listing = {"kind": "Listing", "data": {"after": None, "children": [good, *broken]}}
    emulator.inject(
        Fault(path_prefix="/r/telco/search", status=200, body=json.dumps(listing).encode())
    )
    batch = collector(emulator).collect(
        BrandQuery(brand="N", query="Nordlys", subreddits=("telco",)), None
    )
    assert [m.external_id for m in batch.mentions] == ["t3_p0"]
    reasons = sorted(q.reason for q in batch.quarantined)
    assert reasons == [
        "listing child is not a {kind, data} object",
        "t3_x1 has no valid created_utc (got None)",
        "t3_x2 has no permalink",
    ]


def test_sample_corpus_round_trips_every_language_byte_for_byte() -> None:
    seeded = {t["data"]["name"]: t for t in read_jsonl(sample_path("reddit.jsonl"))}
    with RedditEmulator.from_jsonl(sample_path("reddit.jsonl"), client_secret=SECRET) as emu:
        got = {
            m.external_id: m
            for q in (AURORA, NORDLYS)
            for m in collector(emu).collect(q, None).mentions
        }  # type: ignore[arg-type]
    expected = set()
    for name, thing in seeded.items():
        data = thing["data"]
        text = "\n".join(
            p for p in (data.get("title"), data.get("selftext"), data.get("body")) if p
        )
        if any(matches(parse(q.query), text) for q in (AURORA, NORDLYS)):
            expected.add(name)
    assert set(got) == expected and len(expected) >= 100
    for name, mention in got.items():
        data = seeded[name]["data"]
        original = data.get("body") or (
            data["title"] + (f"\n\n{data['selftext']}" if data["selftext"] else "")
        )
        assert mention.text.encode("utf-8") == original.encode("utf-8")
    assert any(len(m.text) > 5000 for m in got.values())
    assert any("&lt;" in m.text for m in got.values())  # typed by the user: kept as is


def test_a_private_subreddit_is_left_out_and_the_others_still_read() -> None:
    emu = RedditEmulator(client_secret=SECRET, closed=["secretclub"]).start()
    try:
        emu.add(things(5, time.time() - 600))
        query = BrandQuery(
            brand="Nordlys Mobile", query="Nordlys", subreddits=("telco", "secretclub")
        )
        reddit = collector(emu)
        first = reddit.collect(query, None)
        assert {m.external_id for m in first.mentions} >= {f"t3_p{i}" for i in range(5)}
        combined = len(emu.received("/r/telco+secretclub/"))
        second = reddit.collect(query, first.cursor)  # remembered: no combined request again
        assert second.mentions == [] and len(emu.received("/r/telco+secretclub/")) == combined
        lonely = BrandQuery(brand="X", query="Nordlys", subreddits=("secretclub",))
        with pytest.raises((AuthError, SourceUnavailable)) as err:
            reddit.collect(lonely, None)
        assert "secretclub" in str(err.value) or "403" in str(err.value)
    finally:
        emu.stop()


BAD_FIELDS = [
    ("t3", "score", -math.inf, "t3_p0 has a score that is not a whole number (got -inf)"),
    ("t3", "score", math.nan, "t3_p0 has a score that is not a whole number (got nan)"),
    ("t3", "score", "12", "t3_p0 has a score that is not a whole number (got '12')"),
    (
        "t3",
        "num_comments",
        math.inf,
        "t3_p0 has a num_comments that is not a whole number (got inf)",
    ),
    (
        "t3",
        "author_karma",
        -math.inf,
        "t3_p0 has an author_karma that is not a whole number (got -inf)",
    ),
    ("t1", "score", math.inf, "t1_cp0 has a score that is not a whole number (got inf)"),
    ("t1", "score", True, "t1_cp0 has a score that is not a whole number (got True)"),
    ("t1", "author", ["amy"], "t1_cp0 has an author that is not a string (got ['amy'])"),
    ("t1", "parent_id", 3, "t1_cp0 has a parent_id that is not a string (got 3)"),
    ("t3", "created_utc", -7.0e16, "t3_p0 has no valid created_utc (got -7e+16)"),  # OSError
    ("t3", "created_utc", 1e300, "t3_p0 has no valid created_utc (got 1e+300)"),
    ("t1", "created_utc", math.inf, "t1_cp0 has no valid created_utc (got inf)"),
    ("t1", "created_utc", "1795000000", "t1_cp0 has no valid created_utc (got '1795000000')"),
    ("t3", "name", "t3_p0\nx", "t3 has no fullname/id (got 't3_p0\\nx')"),
    ("t1", "name", "t1_Cp0", "t1 has no fullname/id (got 't1_Cp0')"),
    ("t1", "name", "t3_cp0", "t1 has no fullname/id (got 't3_cp0')"),
]


@pytest.mark.parametrize(("kind", "key", "value", "reason"), BAD_FIELDS)
def test_a_thing_with_a_bad_field_is_quarantined_naming_it(
    emulator: RedditEmulator, kind: str, key: str, value: object, reason: str
) -> None:
    post, comment = things(1, time.time() - 60)
    bad = post if kind == "t3" else comment
    original = bad["data"]["name"]
    bad["data"][key] = value
    good = things(1, time.time() - 30, prefix="g")
    listing = {"kind": "Listing", "data": {"after": None, "children": [post, comment, *good]}}
    body = json.dumps(listing).encode()  # math.inf -> Infinity, which Python's JSON reads back
    emulator.inject(Fault(path_prefix="/r/telco/search", status=200, body=body))
    batch = collector(emulator).collect(SIMPLE, None)  # search keeps every child it is sent
    names = {"t3_p0", "t1_cp0", "t3_g0", "t1_cg0"} - {original}
    assert {m.external_id for m in batch.mentions} == names
    [quarantined] = batch.quarantined
    position = 0 if kind == "t3" else 1
    assert (quarantined.reason, quarantined.location) == (
        reason,
        f"/r/telco/search page 1 item {position}",
    )
    assert json.loads(quarantined.payload)["data"]["name"] == bad["data"]["name"]


@pytest.mark.parametrize("created", [1e300, 253402300800.0])  # past time_t; the year 10000
def test_a_bad_created_utc_never_moves_the_high_water_mark(
    emulator: RedditEmulator, created: float
) -> None:
    bogus = things(1, created, prefix="z")[0]
    emulator.add([*things(2, time.time() - 600), bogus])
    source = collector(emulator)
    first = source.collect(SIMPLE, None)
    assert [q.reason for q in first.quarantined] == [
        f"t3_z0 has no valid created_utc (got {created!r})"
    ]
    marks = json.loads(first.cursor or "")["high_water"]
    assert marks and all(mark < time.time() for mark in marks.values())
    emulator.add(things(2, time.time(), prefix="n"))
    later = source.collect(SIMPLE, first.cursor)
    assert sorted(m.external_id for m in later.mentions) == ["t1_cn1", "t3_n0", "t3_n1"]


def test_a_cursor_mark_no_item_could_have_is_read_afresh(emulator: RedditEmulator) -> None:
    emulator.add(things(2, time.time() - 600))
    cursor = json.dumps({"high_water": {"search": math.inf, "new": math.nan}, "seen": []})
    batch = collector(emulator).collect(SIMPLE, cursor)
    assert sorted(m.external_id for m in batch.mentions) == ["t1_cp1", "t3_p0", "t3_p1"]


CORRUPT_CURSORS = [
    not_json('{"high_water": {"search": 17'),
    NOT_AN_OBJECT,
    (
        "fields of the wrong type",
        '{"high_water": [1700000000], "seen": {"t3_p0": 1}}',
        "'high_water' must be an object, got list; 'seen' must be a list, got dict",
    ),
    (
        "entries of the wrong type",
        '{"high_water": {"search": "soon"}, "seen": [7]}',
        "1 entry of 'high_water' not a timestamp; 1 entry of 'seen' not a fullname",
    ),
]


@pytest.mark.parametrize(
    ("cursor", "problem"), [c[1:] for c in CORRUPT_CURSORS], ids=[c[0] for c in CORRUPT_CURSORS]
)
def test_a_corrupt_cursor_is_logged_once_and_the_listings_read_afresh(
    emulator: RedditEmulator,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    cursor: str,
    problem: str,
) -> None:
    emulator.add(things(2, time.time() - 600))
    result, warnings = collect_over(
        cursor, engine=engine, collector=collector(emulator), query=SIMPLE, caplog=caplog
    )
    assert (result.error, result.fetched, result.added) == (None, 3, 3)
    assert_one_warning(
        warnings, source="reddit", brand="Nordlys Mobile", problem=problem, cursor=cursor
    )


@pytest.mark.parametrize("created", [4102444800.0, 253402300799.0])  # 2100; 9999-12-31
def test_a_far_future_item_is_quarantined_and_never_moves_the_mark(
    emulator: RedditEmulator, engine: Engine, created: float
) -> None:
    future = things(1, created, prefix="f")[0]
    emulator.add([*things(2, time.time() - 600), future])
    store, source = SqlStore(engine), collector(emulator)
    first = source.collect(SIMPLE, None)
    store.add_batch("reddit", SIMPLE, first)
    assert sorted(m.external_id for m in first.mentions) == ["t1_cp1", "t3_p0", "t3_p1"]
    [quarantined] = first.quarantined
    assert quarantined.reason.startswith(f"t3_f0 has a created_utc in the future (got {created!r}")
    assert f"more than {FUTURE_SKEW:.0f} s ahead of this host's clock" in quarantined.reason
    assert json.loads(quarantined.payload)["data"]["name"] == "t3_f0"
    marks = json.loads(first.cursor or "")["high_water"]
    assert marks and all(mark < time.time() for mark in marks.values())
    emulator.add(things(2, time.time(), prefix="n"))
    later = source.collect(SIMPLE, store.source_state("reddit", SIMPLE.brand).cursor)
    store.add_batch("reddit", SIMPLE, later)
    assert sorted(m.external_id for m in later.mentions) == ["t1_cn1", "t3_n0", "t3_n1"]
    assert later.quarantined == []  # seen once: not quarantined again on every poll
    for name in ("t1_cp1", "t3_p0", "t3_p1", "t1_cn1", "t3_n0", "t3_n1"):
        assert store.find_mention("reddit", name) is not None, name
    assert store.find_mention("reddit", "t3_f0") is None
    assert store.counts()["quarantined"] == 1


def test_a_cursor_mark_in_the_future_is_dropped_with_a_warning(
    emulator: RedditEmulator, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A mark a far-future item left before such items were quarantined: read afresh."""
    emulator.add(things(2, time.time() - 600))
    cursor = json.dumps({"high_water": {"search": 4102444800.0}, "seen": []})
    result, warnings = collect_over(
        cursor, engine=engine, collector=collector(emulator), query=SIMPLE, caplog=caplog
    )
    assert (result.error, result.fetched, result.added) == (None, 3, 3)
    assert_one_warning(
        warnings,
        source="reddit",
        brand="Nordlys Mobile",
        problem=f"1 entry of 'high_water' more than {FUTURE_SKEW:.0f} s in the future",
        cursor=cursor,
    )
