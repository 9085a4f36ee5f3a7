"""ONE contract suite for the storage ports, run over the in-memory fake, SQLite and PostgreSQL:
what every implementation of MentionStore/ScoreStore/..., and of the Outbox, must do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from listener.domain import Batch, NewAlert, Quarantined, Score, utcnow
from listener.errors import ListenerError
from listener.ports import Outbox, Store, Storm
from listener.store.memory import memory_pair
from tests.factories import QUERY, T0, mention, sentiment

LEASE = timedelta(seconds=60)


@dataclass
class Ports:
    store: Store
    outbox: Outbox


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def ports(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ports]:
    if request.param == "memory":
        store, outbox = memory_pair()
        yield Ports(store, outbox)
        return
    from listener.store.db import connect, upgrade
    from listener.store.outbox import SqlOutbox
    from listener.store.sql import SqlStore
    from tests.conftest import _reset

    url = (
        f"sqlite:///{tmp_path / 'listener.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = connect(url)
    upgrade(engine)
    _reset(engine)
    yield Ports(SqlStore(engine), SqlOutbox(engine))
    engine.dispose()


def _stored(ports: Ports, *ns: int, **fields: object) -> list[int]:
    ports.store.add_batch("replay", QUERY, Batch(mentions=[mention(n, **fields) for n in ns]))
    ids = []
    for n in ns:
        found = ports.store.find_mention("replay", str(n))
        assert found is not None
        ids.append(found.id)
    return ids


def _alert(n: int, mention_id: int | None = None, **fields: object) -> NewAlert:
    values: dict[str, object] = {
        "kind": "mention",
        "brand": "Aurora Air",
        "dedupe_key": f"mention:replay:{n}",
        "reason": "angry",
        "mention_id": mention_id,
        "details": {"reach": n, "anger": 0.9},
    }
    values.update(fields)
    return NewAlert(**values)  # type: ignore[arg-type]


# -- mentions and cursors (collect) ----------------------------------------------------------


def test_a_batch_is_stored_once_with_its_cursor(ports: Ports) -> None:
    store = ports.store
    batch = Batch(
        mentions=[mention(1), mention(2)],
        quarantined=[Quarantined(source="replay", brand="Aurora Air", reason="bad", payload="{")],
        cursor="c1",
    )
    assert store.add_batch("replay", QUERY, batch) == 2
    assert store.add_batch("replay", QUERY, replace(batch, cursor="c2")) == 0  # re-delivered
    assert store.source_state("replay", "Aurora Air").cursor == "c2"
    assert store.add_batch("replay", QUERY, Batch()) == 0
    assert store.source_state("replay", "Aurora Air").cursor == "c2", "None keeps the cursor"
    counts = store.counts()
    assert counts["mentions"] == 2 and counts["quarantined"] == 2


def test_failures_back_off_and_a_stored_batch_clears_them(ports: Ports) -> None:
    store = ports.store
    assert store.source_state("replay", "Aurora Air") == type(store.source_state("x", "y"))()
    store.record_failure("replay", "Aurora Air", retry_at=T0, error="down")
    store.record_failure("replay", "Aurora Air", retry_at=T0 + timedelta(minutes=1), error="down")
    state = store.source_state("replay", "Aurora Air")
    assert state.failures == 2 and state.retry_at == T0 + timedelta(minutes=1)
    assert state.last_error == "down"
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1)], cursor="c"))
    state = store.source_state("replay", "Aurora Air")
    assert state.failures == 0 and state.retry_at is None and state.cursor == "c"


def test_a_rate_limit_pauses_without_counting_as_a_failure(ports: Ports) -> None:
    store = ports.store
    store.record_rate_limit("replay", "Aurora Air", until=T0, detail="429")  # a new row
    state = store.source_state("replay", "Aurora Air")
    assert state.failures == 0 and state.retry_at == T0 and state.rate_limited
    assert state.last_error == "rate limited: 429"
    store.record_failure("replay", "Aurora Air", retry_at=T0, error="down")
    later = T0 + timedelta(minutes=15)
    store.record_rate_limit("replay", "Aurora Air", until=later, detail="429")
    state = store.source_state("replay", "Aurora Air")
    assert state.failures == 1 and state.retry_at == later and state.rate_limited
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1)], cursor="c"))
    state = store.source_state("replay", "Aurora Air")
    assert state.failures == 0 and state.retry_at is None and not state.rate_limited


def test_mentions_are_read_by_id_identity_brand_and_time(ports: Ports) -> None:
    ids = _stored(ports, 1, 2, 3)
    store = ports.store
    assert [m.id for m in store.mentions([ids[2], ids[0], 999_999])] == [ids[0], ids[2]]
    assert store.find_mention("replay", "2") is not None
    assert store.find_mention("replay", "nope") is None
    since = T0 + timedelta(minutes=2)
    assert [
        m.mention.external_id for m in store.iter_mentions(brand="Aurora Air", since=since)
    ] == [
        "2",
        "3",
    ]
    assert list(store.iter_mentions(brand="Nimbus")) == []


def test_the_first_reply_of_a_brand_account_is_found(ports: Ports) -> None:
    _stored(ports, 1)
    _stored(ports, 2, author="AuroraAir", in_reply_to="1")
    _stored(ports, 3, author="someone", in_reply_to="1")
    reply = ports.store.first_reply("replay", "1", authors={"auroraair"})
    assert reply is not None and reply.mention.external_id == "2"
    assert ports.store.first_reply("replay", "1", authors=set()) is None


# -- scores (score) ----------------------------------------------------------------------------


def test_new_mentions_are_queued_and_scoring_takes_them_off(ports: Ports) -> None:
    ids = _stored(ports, 1, 2, 3)
    store = ports.store
    assert [m.id for m in store.queued(limit=10)] == ids
    assert [m.id for m in store.queued(after=ids[0], limit=1)] == [ids[1]]
    score = Score(mention_id=ids[0], model="m@1", sentiment=sentiment(), scored_at=T0)
    store.add_scores([score], done=[ids[0]])
    assert [m.id for m in store.queued_among([ids[0], ids[2]])] == [ids[2]]
    assert store.dequeue([ids[1], ids[1], 999_999]) == 1
    assert [m.id for m in store.queued(limit=10)] == [ids[2]]
    _stored(ports, 1)  # re-delivered: not queued again
    assert len(store.queued(limit=10)) == 1


def test_scores_and_their_alerts_are_stored_once(ports: Ports) -> None:
    ids = _stored(ports, 1, 2)
    store = ports.store
    assert [m.id for m in store.unscored("m@1", 10)] == ids
    score = Score(mention_id=ids[0], model="m@1", sentiment=sentiment(), scored_at=T0)
    assert store.add_scores([score], [_alert(1, ids[0])]) == 1
    assert store.add_scores([score], [_alert(1, ids[0])]) == 0
    assert [m.id for m in store.unscored("m@1", 10)] == [ids[1]]
    assert [m.id for m in store.unscored("m@2", 1)] == [ids[0]]
    assert len(ports.outbox.list()) == 1
    later = Score(mention_id=ids[0], model="m@2", sentiment=sentiment("positive"), scored_at=T0)
    store.add_scores([later])
    latest = store.latest_scores([ids[0], ids[1]])
    assert list(latest) == [ids[0]] and latest[ids[0]].sentiment.label == "positive"
    rows = list(store.export(brand="Aurora Air"))
    assert [r.score is not None for r in rows] == [True, False]


def test_trend_counts_the_latest_label_per_bucket(ports: Ports) -> None:
    ids = _stored(ports, 1, 2, 70)
    for i, label in zip(ids, ["negative", "positive", "neutral"], strict=True):
        s = sentiment(label, anger=0.9)
        ports.store.add_scores([Score(mention_id=i, model="m", sentiment=s, scored_at=T0)])
    points = ports.store.trend(
        brand="Aurora Air", since=T0, until=T0 + timedelta(hours=3), bucket_seconds=3600
    )
    assert sum(p.volume for p in points) == 3 and sum(p.negative for p in points) == 1
    assert sum(p.angry for p in points) == 1 and sum(p.positive for p in points) == 1


# -- the outbox (dispatch) ---------------------------------------------------------------------


def test_an_alert_is_added_once_and_claimed_by_one_caller(ports: Ports) -> None:
    outbox = ports.outbox
    now = utcnow()
    assert outbox.add_alerts([_alert(1), _alert(1)]) == 1
    [due] = outbox.due(now, 10)
    assert outbox.due(now, 10, ids=[due.id + 1]) == [] and outbox.due(now, 10, ids=[due.id])
    claim = outbox.claim(due.id, now=now, lease=LEASE)
    assert claim is not None and not claim.in_doubt
    assert outbox.claim(due.id, now=now, lease=LEASE) is None
    assert outbox.due(now, 10) == []
    assert outbox.mark_sent(claim, now)
    assert not outbox.mark_sent(claim, now), "a claim applies once"
    assert outbox.list(status="sent")[0].sent_at == now


def test_a_lost_lease_is_claimed_in_doubt_and_the_old_claim_is_stale(ports: Ports) -> None:
    outbox = ports.outbox
    now = utcnow()
    outbox.add_alerts([_alert(1)])
    alert_id = outbox.list()[0].id
    first = outbox.claim(alert_id, now=now, lease=LEASE)
    assert first is not None
    second = outbox.claim(alert_id, now=now + LEASE, lease=LEASE)
    assert second is not None and second.in_doubt
    assert not outbox.mark_failed(first, error="late"), "the lost claim changes nothing"
    assert outbox.mark_uncertain(second, next_attempt_at=now + 3 * LEASE, error="no answer")
    [row] = outbox.list()
    assert row.status == "sending" and row.attempts == 1 and row.last_error == "no answer"
    third = outbox.claim(alert_id, now=now + 3 * LEASE, lease=LEASE)
    assert third is not None and third.in_doubt
    assert outbox.mark_retry(third, next_attempt_at=now + 5 * LEASE, error="503")
    assert outbox.due(now + 4 * LEASE, 10) == [] and len(outbox.due(now + 5 * LEASE, 10)) == 1
    fourth = outbox.claim(alert_id, now=now + 5 * LEASE, lease=LEASE)
    assert fourth is not None and not fourth.in_doubt
    assert outbox.mark_delivered(fourth, "slack") and outbox.mark_delivered(fourth, "slack")
    assert outbox.mark_not_delivered(fourth, "crm", error="HTTP 404")
    assert outbox.mark_not_delivered(fourth, "mail", error="554")
    assert not outbox.mark_not_delivered(third, "mail", error="late"), "a stale claim: no-op"
    assert outbox.mark_failed(fourth, error="gone")
    [row] = outbox.list()
    assert row.status == "failed" and row.attempts == 3 and row.details["delivered_to"] == ["slack"]
    assert row.details["not_delivered"] == {"crm": "HTTP 404", "mail": "554"}


def test_a_storm_folds_into_one_digest(ports: Ports) -> None:
    ids = _stored(ports, 1, 2, 3)
    outbox = ports.outbox
    now = utcnow()
    outbox.add_alerts([_alert(n, i) for n, i in zip((1, 2, 3), ids, strict=True)])
    assert outbox.storm_pending(now) == {"Aurora Air": 3}
    assert outbox.defer_storm("Aurora Air", now=now, until=now + LEASE) == 3
    assert outbox.storm_pending(now) == {}

    def digest(storm: Storm) -> NewAlert:
        assert storm.count == 3 and storm.by_source == {"replay": 3}
        assert list(storm.examples) == [ids[2], ids[1]]  # by reach x anger
        return NewAlert(
            kind="digest",
            brand=storm.brand,
            dedupe_key=f"digest:{storm.first_id}",
            reason="storm",
            details={"count": storm.count},
        )

    folded = outbox.fold_storm("Aurora Air", now=now, examples=2, digest=digest)
    assert folded is not None and folded.kind == "digest" and folded.status == "pending"
    assert outbox.fold_storm("Aurora Air", now=now, examples=2, digest=digest) is None
    digested = outbox.list(status="digested")
    assert len(digested) == 3 and {a.digest_id for a in digested} == {folded.id}
    recent, last = outbox.storm_state("Aurora Air", since=now - timedelta(hours=1))
    assert recent == 3 and last is not None
    acked = outbox.ack(folded.id, by="ana", at=now)
    assert acked.acked_by == "ana" and all(a.acked_by == "ana" for a in outbox.list())
    with pytest.raises(ListenerError, match="no alert with id"):
        outbox.ack(999_999, by="x", at=now)


def test_a_brand_reply_is_the_first_response(ports: Ports) -> None:
    [mid] = _stored(ports, 1)
    ports.outbox.add_alerts([_alert(1, mid)])
    assert ports.outbox.record_reply("replay", "1", by="@AuroraAir", at=T0) == 1
    assert ports.outbox.record_reply("replay", "1", by="@AuroraAir", at=T0) == 0
    assert ports.outbox.list()[0].acked_by == "@AuroraAir"
    stats = ports.outbox.stats(since=T0 - timedelta(days=1))
    entry = stats["Aurora Air"]
    assert entry["total"] == 1 and entry["by_kind"] == {"mention": 1}
    assert entry["by_status"] == {"pending": 1} and len(entry["response_seconds"]) == 1
