"""Fuzz the payload parsers: a replay line, an X API v2 page or tweet, a Reddit thing. Each
input becomes a Mention (tz-aware UTC time, plain types) or one PayloadError line that names
what is wrong; an X page either parses (its bad items are quarantined with their reason) or, when
its envelope (data, includes.users, meta) is not X's shape, is one MalformedPage line naming it.

300 inputs per parser in CI; ``HYPOTHESIS_PROFILE=long scripts/fuzz`` runs 10,000.
"""

from __future__ import annotations

import copy
import json
import math
import random
from datetime import UTC
from typing import Any

from hypothesis import strategies as st

from listener.collectors._quarantine import MalformedPage
from listener.collectors._reddit_parts import thing_mention
from listener.collectors._tweets import parse_page, tweet_mention
from listener.collectors.replay import parse_line
from listener.domain import Mention
from listener.errors import PayloadError
from tests.fuzzing import Crash, fuzz, one_line_naming

TIMES = [
    "2026-11-20T10:00:00Z",
    "2026-11-20T10:00:00.123+02:00",
    "2026-11-20",
    "2026-11-20T10:00:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-05:00",
    "yesterday",
    "",
]
NUMBERS = [0, -1, 2**31, 2**63, 10**30, 1.5, math.nan, math.inf, -math.inf, "12", "x", "²"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from([*TIMES, *NUMBERS, "t3", "t1", "t3_abc", "/r/x/1", "replied_to", "١٢", "²"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


deep = st.builds(_nest, st.integers(1, 400))


@st.composite
def near(draw: st.DrawFn, valid: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """``valid`` with one to four fields (at any depth) replaced, removed or added."""
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 4))):
        target = doc
        path = draw(st.sampled_from(fields)).split(".")
        for part in path[:-1]:
            nested = target.get(part)
            if not isinstance(nested, dict):
                nested = target[part] = {}
            target = nested
        if draw(st.integers(0, 5)) == 0:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = draw(st.one_of(scalars, json_values, deep))
    return doc


def _check_mention(mention: Mention) -> None:
    if mention.created_at.tzinfo is None or mention.created_at.utcoffset() != UTC.utcoffset(None):
        raise Crash("created_at is not UTC", repr(mention.created_at))
    for name in ("source", "external_id", "brand", "text", "author", "url"):
        if not isinstance(getattr(mention, name), str):
            raise Crash(f"{name} is not a str", repr(getattr(mention, name)))
    for name in ("author_reach", "engagement"):
        value = getattr(mention, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Crash(f"{name} is not an int", repr(value))


# --- replay lines ---

REPLAY = {
    "id": "1790",
    "text": "Lost my bag again @AuroraAir",
    "created_at": "2026-11-20T10:00:00Z",
    "author": "kasia_k",
    "source": "twitter",
    "brand": "Aurora Air",
    "url": "https://x.com/kasia_k/status/1790",
    "lang": "pl",
    "author_reach": 1200,
    "engagement": 4,
    "in_reply_to": None,
}
REPLAY_FIELDS = [*REPLAY, "extra"]


def _mutate_bytes(data: bytes, rnd: random.Random) -> bytes:
    chars = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        at = rnd.randint(0, len(chars))
        if rnd.random() < 0.6:
            chars[at:at] = rnd.choice([b"{", b"}", b'"', b"\\", b"\xff", b"\x00", b"[", b",", b"9"])
        elif chars:
            del chars[min(at, len(chars) - 1)]
    return bytes(chars)


replay_lines = st.one_of(
    near(REPLAY, REPLAY_FIELDS).map(
        lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
    st.builds(
        lambda d, seed: _mutate_bytes(json.dumps(d).encode(), random.Random(seed)),
        near(REPLAY, REPLAY_FIELDS),
        st.integers(),
    ),
    st.binary(max_size=60),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 100_000)),
    st.builds(lambda n: b'{"id": 1, "engagement": ' + b"9" * n + b"}", st.integers(1, 6000)),
)


def check_replay_line(line: bytes) -> str:
    try:
        mention = parse_line(line, default_brand="Aurora Air")
    except PayloadError as exc:
        one_line_naming(str(exc), *REPLAY, "JSON", "UTF-8", "line", "number", "nested")
        return "rejected (PayloadError)"
    _check_mention(mention)
    return "accepted"


def test_fuzz_replay_line_parser() -> None:
    fuzz("replay line parser", replay_lines, check_replay_line)


# --- X API v2 pages and tweets ---

TWEET = {
    "id": "1790000000000000001",
    "text": "Lost my bag again @AuroraAir &amp; nobody answers",
    "created_at": "2026-11-20T10:00:00.000Z",
    "author_id": "42",
    "lang": "pl",
    "edit_history_tweet_ids": ["1790000000000000001"],
    "public_metrics": {"like_count": 3, "retweet_count": 1, "reply_count": 0, "quote_count": 0},
    "referenced_tweets": [{"type": "replied_to", "id": "1789"}],
}
USER = {"id": "42", "username": "kasia_k", "public_metrics": {"followers_count": 1200}}
TWEET_FIELDS = [
    *TWEET,
    "author",
    "author.username",
    "author.public_metrics",
    "public_metrics.like_count",
    "public_metrics.quote_count",
]


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    tweets = draw(st.lists(near(TWEET, TWEET_FIELDS) | json_values, max_size=4))
    users = draw(st.lists(near(USER, [*USER, "public_metrics.followers_count"]), max_size=2))
    page: dict[str, Any] = {"data": tweets, "includes": {"users": users}}
    page = draw(st.just(page) | near(page, ["data", "includes", "includes.users", "meta"]))
    return page


def check_page(page: dict[str, Any]) -> str:
    try:
        mentions, quarantined, ids = parse_page(page, "Aurora Air", 1)
    except MalformedPage as exc:
        one_line_naming(str(exc), "data", "includes", "users", "meta", "next_token")
        return "malformed pages (MalformedPage)"
    for mention in mentions:
        _check_mention(mention)
    for item in quarantined:
        one_line_naming(item.reason, *TWEET, "tweet", "JSON object")
    if not all(isinstance(i, int) for i in ids):
        raise Crash("an id is not an int", repr(ids))
    return f"pages with {'quarantined items' if quarantined else 'no quarantined item'}"


def test_fuzz_x_page_parser() -> None:
    fuzz("X page parser", pages(), check_page)


def check_tweet(example: tuple[Any, dict[str, Any]]) -> str:
    item, users = example
    try:
        mention = tweet_mention(item, users, "Aurora Air")
    except PayloadError as exc:
        one_line_naming(str(exc), *TWEET, "tweet", "JSON object")
        return "rejected (PayloadError)"
    _check_mention(mention)
    return "accepted"


def test_fuzz_x_tweet_parser() -> None:
    users = st.dictionaries(st.sampled_from(["42", "None"]), near(USER, [*USER]), max_size=2)
    fuzz("X tweet parser", st.tuples(near(TWEET, TWEET_FIELDS) | json_values, users), check_tweet)


# --- Reddit things ---

SUBMISSION = {
    "kind": "t3",
    "data": {
        "id": "abc",
        "name": "t3_abc",
        "title": "Aurora Air lost my bag",
        "selftext": "Third time this year.",
        "author": "kasia_k",
        "created_utc": 1795000000.0,
        "permalink": "/r/travel/comments/abc/aurora_air/",
        "score": 12,
        "num_comments": 3,
        "author_karma": 1200,
    },
}
COMMENT = {
    "kind": "t1",
    "data": {
        "id": "def",
        "name": "t1_def",
        "body": "Same here with Aurora Air",
        "author": "lucy",
        "created_utc": 1795000100,
        "permalink": "/r/travel/comments/abc/aurora_air/def/",
        "score": 2,
        "parent_id": "t3_abc",
    },
}
THING_FIELDS = ["kind", "data", *(f"data.{k}" for k in {**SUBMISSION["data"], **COMMENT["data"]})]


def check_thing(thing: Any) -> str:
    try:
        mention = thing_mention(thing, "Aurora Air")
    except PayloadError as exc:
        names = [f.removeprefix("data.") for f in THING_FIELDS]
        one_line_naming(str(exc), *names, "fullname", "listing child", "kind")
        return "rejected (PayloadError)"
    _check_mention(mention)
    return "accepted"


def test_fuzz_reddit_thing_parser() -> None:
    things = near(SUBMISSION, THING_FIELDS) | near(COMMENT, THING_FIELDS) | json_values
    fuzz("Reddit thing parser", things, check_thing)
