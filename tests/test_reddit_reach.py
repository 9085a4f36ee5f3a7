"""Reddit reach: a mention's reach is its subreddit's subscriber count, which Reddit sends with
every submission (``subreddit_subscribers``); a comment gets the count seen on a submission of
its subreddit; options come from the brand's [brands.reddit] section."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from listener.collectors.reddit import RedditBrandOptions
from listener.domain import BrandQuery
from listener.emulators.reddit import RedditEmulator
from tests.test_reddit_collector import SECRET, collector, things

QUERY = BrandQuery(
    brand="Nordlys Mobile", query="Nordlys", options=RedditBrandOptions(subreddits=["telco"])
)


@pytest.fixture
def emulator() -> Iterator[RedditEmulator]:
    emu = RedditEmulator(client_secret=SECRET, subscribers={"Telco": 48_210}).start()
    yield emu
    emu.stop()


def test_posts_and_comments_carry_the_subreddit_subscribers(emulator: RedditEmulator) -> None:
    emulator.add(things(4, time.time() - 600))
    batch = collector(emulator).collect(QUERY, None)
    posts = [m for m in batch.mentions if m.external_id.startswith("t3_")]
    comments = [m for m in batch.mentions if m.external_id.startswith("t1_")]
    assert len(posts) == 4 and len(comments) == 2
    assert {m.author_reach for m in posts + comments} == {48_210}
    assert all(m.raw["data"]["subreddit_subscribers"] == 48_210 for m in posts)
    paths = {r.path for r in emulator.received("/r/")}
    assert paths == {"/r/telco/search", "/r/telco/new", "/r/telco/comments"}  # no extra call


def test_a_comment_whose_subreddit_was_never_seen_has_no_reach(emulator: RedditEmulator) -> None:
    comments = [t for t in things(2, time.time() - 600) if t["kind"] == "t1"]
    emulator.add(comments)
    batch = collector(emulator).collect(QUERY, None)
    assert [m.author_reach for m in batch.mentions] == [0]


def test_the_brand_options_pick_the_subreddits(emulator: RedditEmulator) -> None:
    emulator.add(things(2, time.time() - 600))
    collector(emulator).collect(QUERY, None)
    assert emulator.received("/r/telco/new")
    everywhere = BrandQuery(brand="Nordlys Mobile", query="Nordlys")
    collector(emulator).collect(everywhere, None)
    assert emulator.received("/r/all/search")
