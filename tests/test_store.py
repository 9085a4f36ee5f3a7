"""The Store contract, run on SQLite and PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from listener.domain import Batch, NewAlert, Quarantined, Score
from listener.store.schema import alerts
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention, sentiment

TEXTS = [
    "שירות גרוע! Aurora Air איבדה לי את המזוודה 😡",
    "Aurora Air — lidojums kavējās, bet apkalpe bija jauka",
    "Aurora Air vėlavo dvi valandas, ačiū už nieką",
    "Zelo zadovoljen z Aurora Air, hvala! 👍🏽",
    "Aurora Air znowu zgubiła bagaż, żenada",
    "zero\u200bwidth\u200djoiner and RTL \u202emark aurora air",
]


def test_batch_is_stored_once_and_text_round_trips(engine: Engine) -> None:
    store = SqlStore(engine)
    batch = Batch(mentions=[mention(i, text=t) for i, t in enumerate(TEXTS)], cursor="c1")
    assert store.add_batch("replay", QUERY, batch) == len(TEXTS)
    assert store.add_batch("replay", QUERY, batch) == 0
    stored = list(store.iter_mentions(brand="Aurora Air"))
    assert [s.mention.text for s in stored] == TEXTS
    assert stored[0].mention.created_at == T0
    assert stored[0].mention.created_at.tzinfo is not None
    assert store.source_state("replay", "Aurora Air").cursor == "c1"
    assert store.counts()["mentions"] == len(TEXTS)


def test_cursor_moves_with_the_mentions_and_survives_an_empty_batch(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1)], cursor="a"))
    store.add_batch("replay", QUERY, Batch(mentions=[], cursor=None))
    assert store.source_state("replay", "Aurora Air").cursor == "a"


def test_unstorable_mentions_are_quarantined_and_the_rest_stored(engine: Engine) -> None:
    store = SqlStore(engine)
    bad_nul = mention(1, text="nul \x00 byte")
    bad_surrogate = mention(2, text="lone \ud800 surrogate")
    batch = Batch(
        mentions=[bad_nul, mention(3), bad_surrogate],
        quarantined=[Quarantined(source="replay", brand="Aurora Air", reason="bad", payload="{")],
    )
    assert store.add_batch("replay", QUERY, batch) == 1
    assert store.counts()["quarantined"] == 3


def test_failures_accumulate_and_success_clears_them(engine: Engine) -> None:
    store = SqlStore(engine)
    store.record_failure("twitter", "Aurora Air", retry_at=T0, error="unavailable: 503")
    store.record_failure("twitter", "Aurora Air", retry_at=T0 + timedelta(minutes=1), error="x")
    state = store.source_state("twitter", "Aurora Air")
    assert (state.failures, state.retry_at, state.last_error) == (2, T0 + timedelta(minutes=1), "x")
    store.add_batch("twitter", QUERY, Batch(mentions=[mention(1)], cursor="9"))
    state = store.source_state("twitter", "Aurora Air")
    assert (state.failures, state.retry_at, state.cursor) == (0, None, "9")


def test_scores_are_added_once_per_model_and_history_is_kept(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1), mention(2)]))
    pending = store.unscored("m@1", 10)
    assert [p.mention.external_id for p in pending] == ["1", "2"]
    first = [
        Score(mention_id=p.id, model="m@1", sentiment=sentiment("negative"), scored_at=T0)
        for p in pending
    ]
    assert store.add_scores(first) == 2
    assert store.add_scores(first) == 0
    assert store.unscored("m@1", 10) == []
    assert len(store.unscored("m@2", 10)) == 2
    second = Score(
        mention_id=pending[0].id, model="m@2", sentiment=sentiment("positive"), scored_at=T0
    )
    store.add_scores([second])
    latest = store.latest_scores([p.id for p in pending])
    assert latest[pending[0].id].model == "m@2"
    assert latest[pending[1].id].sentiment.label == "negative"
    assert store.counts()["scores"] == 3


def test_alerts_written_with_scores_are_deduplicated(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1)]))
    (p,) = store.unscored("m@1", 1)
    alert = NewAlert(
        kind="mention",
        brand="Aurora Air",
        dedupe_key=f"mention:{p.id}",
        reason="anger 0.9 >= 0.6",
        mention_id=p.id,
    )
    score = Score(mention_id=p.id, model="m@1", sentiment=sentiment(anger=0.9), scored_at=T0)
    store.add_scores([score], [alert])
    store.add_scores([], [alert])
    with engine.connect() as conn:
        rows = conn.execute(select(alerts.c.dedupe_key, alerts.c.status)).all()
    assert [tuple(r) for r in rows] == [(f"mention:{p.id}", "pending")]


def test_trend_buckets_count_latest_labels(engine: Engine) -> None:
    store = SqlStore(engine)
    items = [mention(i, created_at=T0 + timedelta(minutes=20 * i)) for i in range(6)]
    store.add_batch("replay", QUERY, Batch(mentions=items))
    stored = list(store.iter_mentions())
    labels = ["negative", "negative", "positive", "neutral", "positive", "positive"]
    store.add_scores(
        [
            Score(mention_id=s.id, model="m", sentiment=sentiment(lab, anger=0.9), scored_at=T0)
            for s, lab in zip(stored, labels, strict=True)
        ]
    )
    points = store.trend(
        brand="Aurora Air", since=T0, until=T0 + timedelta(hours=3), bucket_seconds=3600
    )
    assert [(p.bucket_start, p.volume, p.negative, p.neutral, p.positive) for p in points] == [
        (T0, 3, 2, 0, 1),
        (T0 + timedelta(hours=1), 3, 0, 1, 2),
    ]
    assert points[0].angry == 2
    assert points[1].net_sentiment == 100 * (2 - 0) / 3


def test_export_joins_latest_score(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1), mention(2)]))
    first = store.unscored("m", 1)[0]
    store.add_scores([Score(mention_id=first.id, model="m", sentiment=sentiment(), scored_at=T0)])
    rows = list(store.export(brand="Aurora Air", since=T0))
    assert [(r.mention.mention.external_id, r.score is not None) for r in rows] == [
        ("1", True),
        ("2", False),
    ]
    assert list(store.export(brand="Other")) == []
