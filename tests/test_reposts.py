"""Retweets, crossposts and exact copies count toward the original's reach, not as new alerts:
through the X and Reddit collectors against their emulators, the collect stage and the score
stage, on the in-memory store, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from listener.domain import Batch, BrandQuery, Mention, NewAlert, Sentiment, StoredMention
from listener.emulators.twitter import TwitterEmulator
from listener.pipeline import collect_once, score_pending
from listener.ports import Store
from listener.rules import BrandPolicy, mention_alert
from listener.store.memory import memory_pair
from tests.factories import T0, mention, sentiment
from tests.test_twitter_collector import AURORA, NOW, TOKEN, collector, make_tweets

COMPLAINT = "Aurora Air cancelled my flight and nobody answers the phone, third time this month"
POLICY = BrandPolicy(brand="Aurora Air", high_reach=1_000)


class Scripted:
    source = "replay"

    def __init__(self, mentions: Sequence[Mention]) -> None:
        self._mentions = list(mentions)

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        return Batch(mentions=self._mentions, cursor="end")


class Angry:
    model_id = "angry@1"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return [sentiment("negative", anger=0.9) for _ in texts]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, object]]:
    if request.param == "memory":
        yield memory_pair()
        return
    from listener.store.db import connect, upgrade
    from listener.store.outbox import SqlOutbox
    from listener.store.sql import SqlStore
    from tests.conftest import _reset

    url = (
        f"sqlite:///{tmp_path / 'l.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = connect(url)
    upgrade(engine)
    _reset(engine)
    yield SqlStore(engine), SqlOutbox(engine)
    engine.dispose()


def _run(store: Store, outbox: object, mentions: Sequence[Mention]) -> list[NewAlert]:
    query = BrandQuery(brand="Aurora Air", query="aurora")
    collect_once(
        collector=Scripted(mentions),
        store=store,
        outbox=outbox,
        query=query,
        now=T0,  # type: ignore[arg-type]
    )
    fired: list[NewAlert] = []

    def rule(m: StoredMention, s: Sentiment) -> NewAlert | None:
        alert = mention_alert(m, s, POLICY)
        if alert is not None:
            fired.append(alert)
        return alert

    score_pending(
        store=store,
        outbox=outbox,
        scorer=Angry(),
        rule=rule,
        handles={},  # type: ignore[arg-type]
        batch_size=100,
        max_batches=10,
        now=T0,
    )
    return fired


def test_copies_and_retweets_never_alert_and_add_their_reach(
    stores: tuple[Store, object],
) -> None:
    store, outbox = stores
    original = mention(1, text=COMPLAINT, author="kasia", author_reach=300)
    copy = mention(2, text=COMPLAINT, author="tom", author_reach=500)
    retweet = mention(
        3, text=f"RT @kasia: {COMPLAINT[:50]}", author="ana", author_reach=400, repost_of="1"
    )
    fired = _run(store, outbox, [copy, original, retweet])
    assert [a.mention_id for a in fired] == [store.find_mention("replay", "1").id]  # type: ignore[union-attr]
    details = fired[0].details
    assert details["reach"] == 300 + 500 + 400 and details["high_reach"] is True
    stored = {m.mention.external_id: m.mention for m in store.iter_mentions()}
    assert stored["2"].repost_of == "1" and stored["3"].repost_of == "1"
    assert stored["1"].repost_of is None and stored["1"].author_reach == 300
    later = mention(4, text=COMPLAINT, author="zoe", created_at=T0 + timedelta(hours=2))
    assert _run(store, outbox, [later]) == []  # a copy in a later poll: still the original's
    assert {m.mention.external_id: m.mention.repost_of for m in store.iter_mentions()}["4"] == "1"


def test_short_texts_are_not_copies(stores: tuple[Store, object]) -> None:
    store, outbox = stores
    short = [mention(i, text="@AuroraAir ???", author=f"u{i}") for i in (1, 2)]
    fired = _run(store, outbox, short)
    assert len(fired) == 2


def test_a_retweet_from_x_names_its_original() -> None:
    emulator = TwitterEmulator(bearer_token=TOKEN).start()
    try:
        [tweet, rt] = make_tweets(2, NOW, text="@AuroraAir lost my bag {i}")
        rt["text"] = "RT @user0: @AuroraAir lost my bag 0"
        rt["referenced_tweets"] = [{"type": "retweeted", "id": tweet["id"]}]
        emulator.add([tweet, rt])
        batch = collector(emulator).collect(AURORA, None)
    finally:
        emulator.stop()
    by_id = {m.external_id: m for m in batch.mentions}
    assert by_id[rt["id"]].repost_of == tweet["id"] and by_id[tweet["id"]].repost_of is None
    assert by_id[rt["id"]].in_reply_to is None


def test_a_reddit_crosspost_names_its_original() -> None:
    from listener.collectors._reddit_parts import thing_mention

    thing = {
        "kind": "t3",
        "data": {
            "id": "x2",
            "name": "t3_x2",
            "title": "Aurora Air lost my bag",
            "created_utc": 1795000000.0,
            "permalink": "/r/flights/comments/x2/",
            "crosspost_parent": "t3_x1",
            "subreddit_subscribers": 1200,
        },
    }
    m = thing_mention(thing, "Aurora Air")
    assert m.repost_of == "t3_x1" and m.author_reach == 1200
    assert (
        mention_alert(
            StoredMention(id=1, mention=replace(m, created_at=T0), collected_at=T0),
            sentiment("negative", anger=0.9),
            POLICY,
        )
        is None
    )
