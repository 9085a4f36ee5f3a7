"""The Mastodon collector through the real Mastodon.py client against the instance emulator on
127.0.0.1: search, hashtag timelines and mentions, Link-header pagination, rate limits, errors,
dedupe, reach and HTML to text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from listener.collectors.mastodon import MastodonBrandOptions, MastodonCollector, html_to_text
from listener.domain import BrandQuery, utcnow
from listener.emulators.base import Fault
from listener.emulators.mastodon import (
    NOTIFICATIONS_PATH,
    SEARCH_PATH,
    TAG_PATH,
    MastodonEmulator,
)
from listener.errors import AuthError, RateLimited, SourceUnavailable
from tests.cursors import NOT_AN_OBJECT, assert_one_warning, collect_over, not_json
from tests.fedi_posts import masto_status

TOKEN = "masto-token-0123456789"
BRAND_TOKEN = "aurora-own-token-98765"
QUERY = '("Aurora Air" OR #AuroraAir) -(northern lights)'


def brand(**options: object) -> BrandQuery:
    return BrandQuery(
        brand="Aurora Air",
        query=QUERY,
        options=MastodonBrandOptions(**options),  # type: ignore[arg-type]
    )


@pytest.fixture()
def emu() -> Iterator[MastodonEmulator]:
    with MastodonEmulator(tokens={TOKEN: "listener", BRAND_TOKEN: "AuroraAir"}) as emulator:
        yield emulator


def collector(emu: MastodonEmulator, **kwargs: object) -> MastodonCollector:
    return MastodonCollector(instance=emu.base_url, access_token=TOKEN, **kwargs)  # type: ignore[arg-type]


def published(emu: MastodonEmulator, count: int, *, start: int = 0, **kwargs: object) -> None:
    base = utcnow() - timedelta(hours=1)
    emu.add(
        masto_status(start + i, base + timedelta(seconds=start + i), **kwargs)  # type: ignore[arg-type]
        for i in range(count)
    )


def test_search_is_incremental_across_polls(emu: MastodonEmulator) -> None:
    published(emu, 30)
    emu.add(
        [masto_status(900, utcnow() - timedelta(minutes=5), "Aurora Air under northern lights")]
    )
    mastodon = collector(emu)
    first = mastodon.collect(brand(), None)
    assert len(first.mentions) == 30  # the northern lights status is found, then filtered out
    second = mastodon.collect(brand(), first.cursor)
    assert second.mentions == []
    published(emu, 2, start=500, text="#AuroraAir lost my bag {i}")
    third = mastodon.collect(brand(), second.cursor)
    assert sorted(m.text for m in third.mentions) == [
        "#AuroraAir lost my bag 500",
        "#AuroraAir lost my bag 501",
    ]
    last = [r for r in emu.received(SEARCH_PATH) if r.param("q") == '"Aurora Air"'][-1]
    assert last.param("type") == "statuses"


def test_hashtag_timeline_follows_the_link_header_forward(emu: MastodonEmulator) -> None:
    published(emu, 5, text="tagged {i}", tags=("AuroraAir",))
    mastodon = collector(emu, page_size=10)
    query = brand(hashtags=["#AuroraAir"], search=False)
    first = mastodon.collect(query, None)
    assert len(first.mentions) == 5  # a hashtag timeline is kept whole, no query filter
    published(emu, 95, start=100, text="tagged {i}", tags=("auroraair",))
    second = mastodon.collect(query, first.cursor)
    assert len(second.mentions) == 95
    calls = emu.received(TAG_PATH)[1:]
    assert len(calls) >= 10 and all(r.param("min_id") for r in calls)  # Link rel="prev"
    third = mastodon.collect(query, second.cursor)
    assert third.mentions == []


def test_a_poll_cut_by_max_pages_resumes_where_it_stopped(emu: MastodonEmulator) -> None:
    published(emu, 1, tags=("AuroraAir",))
    mastodon = collector(emu, page_size=10, max_pages=2)
    query = brand(hashtags=["AuroraAir"], search=False)
    cursor = mastodon.collect(query, None).cursor
    published(emu, 45, start=10, tags=("AuroraAir",))
    got: list[str] = []
    for _ in range(3):
        batch = mastodon.collect(query, cursor)
        got += [m.external_id for m in batch.mentions]
        cursor = batch.cursor
    assert len(got) == len(set(got)) == 45


def test_429_backs_off_until_the_reset_and_loses_nothing(emu: MastodonEmulator) -> None:
    published(emu, 50)
    mastodon = collector(emu, page_size=20)
    reset = (utcnow() + timedelta(minutes=4)).replace(microsecond=0)
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z"),
    }
    fault = Fault(path_prefix=SEARCH_PATH, status=429, body=b'{"error":"Too many requests"}')
    fault.headers = headers
    emu.inject(fault)
    with pytest.raises(RateLimited) as caught:
        mastodon.collect(brand(), None)
    assert abs((caught.value.retry_at - reset).total_seconds()) < 2
    first = mastodon.collect(brand(), None)
    published(emu, 50, start=100)
    emu.inject(
        Fault(path_prefix=SEARCH_PATH, status=429, body=b'{"error":"Too many requests"}', after=1)
    )
    second = mastodon.collect(brand(), first.cursor)
    assert len(second.mentions) == 20  # the first page; the 429 ends the poll
    third = mastodon.collect(brand(), second.cursor)
    assert len({m.external_id for m in [*first.mentions, *second.mentions, *third.mentions]}) == 100


def test_a_429_on_one_listing_leaves_the_others_for_the_next_poll(emu: MastodonEmulator) -> None:
    published(emu, 3, tags=("AuroraAir",))
    mastodon = collector(emu)
    query = brand(hashtags=["AuroraAir"])
    body = b'{"error":"Too many requests"}'
    emu.inject(Fault(path_prefix=SEARCH_PATH, status=429, body=body, after=1))
    first = mastodon.collect(query, None)
    assert len(first.mentions) == 3 and emu.received(TAG_PATH) == []
    second = mastodon.collect(query, first.cursor)
    assert second.mentions == [] and len(emu.received(TAG_PATH)) == 1


def test_a_spent_budget_stops_the_poll_and_the_next_goes_on(emu: MastodonEmulator) -> None:
    published(emu, 1)
    mastodon = collector(emu, page_size=10)
    cursor = mastodon.collect(brand(), None).cursor
    published(emu, 30, start=10)
    emu.rate_limit = len(emu.requests) + 1  # the next answer says X-RateLimit-Remaining: 0
    first = mastodon.collect(brand(), cursor)
    assert len(first.mentions) == 10
    emu.rate_limit = 300
    second = mastodon.collect(brand(), first.cursor)
    assert len(first.mentions) + len(second.mentions) == 30


def test_a_wrong_token_is_an_auth_error_without_the_token(emu: MastodonEmulator) -> None:
    bad = MastodonCollector(instance=emu.base_url, access_token="not-a-valid-token-42")
    with pytest.raises(AuthError) as caught:
        bad.collect(brand(), None)
    assert "not-a-valid-token-42" not in str(caught.value)
    assert "access token is invalid" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(status=503, body=b"<html>down</html>"), "503"),
        (Fault(status=500, body=b'{"error":"boom"}'), "boom"),
        (Fault(status=422, body=b'{"error":"Validation failed"}'), "Validation failed"),
        (Fault(drop=True), "unreachable"),
    ],
)
def test_server_errors_are_source_unavailable(
    emu: MastodonEmulator, fault: Fault, expected: str
) -> None:
    fault.path_prefix = SEARCH_PATH
    emu.inject(fault)
    with pytest.raises(SourceUnavailable) as caught:
        collector(emu).collect(brand(), None)
    assert expected in str(caught.value) and TOKEN not in str(caught.value)


def test_a_malformed_page_is_quarantined_and_the_listing_read_again(emu: MastodonEmulator) -> None:
    published(emu, 1, tags=("AuroraAir",))
    mastodon = collector(emu)
    query = brand(hashtags=["AuroraAir"], search=False)
    cursor = mastodon.collect(query, None).cursor
    published(emu, 6, start=20, tags=("AuroraAir",))
    emu.malformed_pages(TAG_PATH)
    broken = mastodon.collect(query, cursor)
    assert broken.mentions == [] and len(broken.quarantined) == 1
    assert json.loads(broken.cursor or "{}")["marks"] == json.loads(cursor or "{}")["marks"]
    assert len(mastodon.collect(query, broken.cursor).mentions) == 6


def test_a_bad_status_is_quarantined_and_the_rest_kept(emu: MastodonEmulator) -> None:
    published(emu, 3)
    bad = masto_status(50, utcnow() - timedelta(minutes=3))
    del bad["account"]
    emu.add([bad])
    batch = collector(emu).collect(brand(), None)
    assert len(batch.mentions) == 3
    assert [q.reason for q in batch.quarantined] == [f"status {bad['uri']} has no account acct"]


def test_a_status_in_search_and_hashtag_is_one_mention(emu: MastodonEmulator) -> None:
    emu.add([masto_status(1, utcnow() - timedelta(minutes=1), "#AuroraAir", tags=("AuroraAir",))])
    batch = collector(emu).collect(brand(hashtags=["AuroraAir"]), None)
    assert len(batch.mentions) == 1
    assert len(emu.received(SEARCH_PATH)) == 2 and len(emu.received(TAG_PATH)) == 1


def test_mentions_of_the_brand_account_with_its_own_token(emu: MastodonEmulator) -> None:
    at = utcnow() - timedelta(minutes=2)
    emu.add([
        masto_status(1, at, "@AuroraAir where is my refund?", mentions=("AuroraAir",)),
        masto_status(2, at, "@someone else entirely", mentions=("someone",)),
    ])  # fmt: skip
    query = brand(mentions=True, search=False, access_token=BRAND_TOKEN)
    batch = collector(emu).collect(query, None)
    assert [m.text for m in batch.mentions] == ["@AuroraAir where is my refund?"]
    call = emu.received(NOTIFICATIONS_PATH)[0]
    assert call.headers["authorization"] == f"Bearer {BRAND_TOKEN}"
    assert call.query.get("types[]") == ["mention"]


def test_reblogs_are_not_new_mentions(emu: MastodonEmulator) -> None:
    boost = masto_status(3, utcnow() - timedelta(minutes=1), "#AuroraAir", tags=("AuroraAir",))
    boost["reblog"] = masto_status(2, utcnow() - timedelta(hours=2), "#AuroraAir")
    emu.add([boost])
    assert collector(emu).collect(brand(hashtags=["AuroraAir"], search=False), None).mentions == []


def test_mention_fields_reach_language_and_plain_text(emu: MastodonEmulator) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    html = (
        '<p>Aurora Air &amp; <a href="https://x.example/tags/AuroraAir" class="mention hashtag">'
        '#<span>AuroraAir</span></a> &lt;!channel&gt;<br>zgubili bagaż <a href="https://t.co/x">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com/long</span>'
        "</a></p><p>second</p><script>alert(1)</script>"
    )
    emu.add([masto_status(4, at, content=html, lang="pl", followers=4321)])
    (m,) = collector(emu).collect(brand(), None).mentions
    assert m.text == "Aurora Air & #AuroraAir <!channel>\nzgubili bagaż example.com/long\n\nsecond"
    assert m.lang == "pl" and m.author_reach == 4325 and m.author == "user4@other.example"
    assert m.created_at == at and m.engagement == 3
    assert m.external_id.startswith("https://other.example/users/user4/statuses/")
    assert json.dumps(m.raw)  # the stored payload is plain JSON


def test_html_to_text_leaves_out_scripts_and_decodes_once() -> None:
    assert html_to_text("<p>a &amp;amp; b</p><style>p{}</style>") == "a &amp; b"
    assert html_to_text("<p>one</p><p>two<br/>three</p>") == "one\n\ntwo\nthree"
    assert html_to_text("<b>unclosed <i>tags") == "unclosed tags"


def test_a_search_cut_short_fills_its_gap_before_moving_on(emu: MastodonEmulator) -> None:
    published(emu, 1)
    mastodon = collector(emu, page_size=10, max_pages=2)
    cursor = mastodon.collect(brand(), None).cursor
    published(emu, 45, start=10)
    got: list[str] = []
    for _ in range(4):
        batch = mastodon.collect(brand(), cursor)
        got += [m.external_id for m in batch.mentions]
        cursor = batch.cursor
    assert len(got) == len(set(got)) == 45
    marks = json.loads(cursor or "{}")["marks"]
    assert ":" not in marks['search:"Aurora Air"']  # the gap is closed
    # only max_id bounds the search: the mark is checked by the collector
    assert not any(r.param("min_id") for r in emu.received(SEARCH_PATH))


CORRUPT_CURSORS = [
    not_json('{"marks": {"search:\\"Aurora Air\\"": "10'),
    NOT_AN_OBJECT,
    (
        "fields of the wrong type",
        '{"marks": ["109"], "seen": "109"}',
        "'marks' must be an object, got list; 'seen' must be a list, got str",
    ),
    (
        "entries of the wrong type",
        '{"marks": {"search:\\"Aurora Air\\"": [109]}, "seen": [109]}',
        "1 entry of 'marks' not a status id; 1 entry of 'seen' not a status id",
    ),
]


@pytest.mark.parametrize(
    ("cursor", "problem"), [c[1:] for c in CORRUPT_CURSORS], ids=[c[0] for c in CORRUPT_CURSORS]
)
def test_a_corrupt_cursor_is_logged_once_and_the_listings_read_afresh(
    emu: MastodonEmulator,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    cursor: str,
    problem: str,
) -> None:
    published(emu, 5)
    result, warnings = collect_over(
        cursor, engine=engine, collector=collector(emu), query=brand(), caplog=caplog
    )
    assert (result.error, result.fetched, result.added) == (None, 5, 5)
    assert_one_warning(
        warnings, source="mastodon", brand="Aurora Air", problem=problem, cursor=cursor
    )
