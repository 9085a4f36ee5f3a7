"""The scoring queue and the score stage over it, on SQLite and PostgreSQL: work is claimed
from the queue (not found by scanning history), drained to the end, idempotent, and the model is
only asked for when something is queued."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select

from listener.app import App
from listener.config import load_settings
from listener.daemon import run_once
from listener.domain import Batch, NewAlert, Score, Sentiment, StoredMention
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator
from listener.ports import Scorer
from listener.stages.score import ScoreStage
from listener.store.db import connect, upgrade
from listener.store.outbox import SqlOutbox
from listener.store.schema import mentions, score_queue, scores
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention, sentiment


class CountingScorer:
    """A scorer that labels by keyword and counts the texts it was given."""

    model_id = "kw@1"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        self.texts += texts
        return [sentiment("negative" if "bad" in t else "positive", anger=0.9) for t in texts]


def _stage(engine: Engine, scorer: Scorer | None, *, batch_size: int = 3) -> ScoreStage:
    store = SqlStore(engine)

    def model() -> Scorer:
        assert scorer is not None, "the model was asked for with nothing to score"
        return scorer

    def rule(m: StoredMention, s: Sentiment) -> NewAlert | None:
        if s.label != "negative":
            return None
        return NewAlert(
            kind="mention", brand=m.mention.brand, dedupe_key=f"m:{m.id}", reason="bad",
            mention_id=m.id,
        )  # fmt: skip

    return ScoreStage(
        store=store,
        queue=store,
        outbox=SqlOutbox(engine),
        scorer=model,
        rule=rule,
        handles={},
        batch_size=batch_size,
    )


def _queued(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(score_queue)).scalar_one())


def test_new_mentions_are_queued_with_their_batch_and_only_once(engine: Engine) -> None:
    store = SqlStore(engine)
    batch = Batch(mentions=[mention(n) for n in range(5)])
    assert store.add_batch("replay", QUERY, batch) == 5
    assert store.add_batch("replay", QUERY, batch) == 0  # re-delivered: not queued again
    queued = store.queued(limit=10)
    assert [q.mention.external_id for q in queued] == ["0", "1", "2", "3", "4"]
    assert [q.id for q in store.queued(after=queued[1].id, limit=2)] == [
        queued[2].id,
        queued[3].id,
    ]


def test_drain_scores_every_queued_mention_once_with_alerts(engine: Engine) -> None:
    store = SqlStore(engine)
    texts = [("bad" if n % 4 == 0 else "fine") + f" {n}" for n in range(50)]
    store.add_batch(
        "replay", QUERY, Batch(mentions=[mention(n, text=t) for n, t in enumerate(texts)])
    )
    scorer = CountingScorer()
    result = _stage(engine, scorer).drain()  # 17 batches of 3: no cap on batches per run
    assert (result.scored, result.alerts, result.batches) == (50, 13, 17)
    assert sorted(scorer.texts) == sorted(texts)
    assert _queued(engine) == 0
    assert store.counts()["scores"] == 50 and store.counts()["alerts"] == 13
    assert _stage(engine, None).drain().scored == 0  # nothing queued: no model asked for


def test_a_batch_scored_twice_adds_nothing_and_is_not_rescored(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(n, text="bad") for n in range(4)]))
    ids = [q.id for q in store.queued(limit=10)]
    scorer = CountingScorer()
    first = _stage(engine, scorer).score_ids(ids[:3])
    assert (first.scored, first.alerts) == (3, 3)
    again = _stage(engine, scorer).score_ids(ids)  # a retried job over a wider batch
    assert (again.scored, again.alerts) == (1, 1)
    assert len(scorer.texts) == 4
    assert _stage(engine, None).score_ids(ids).scored == 0
    assert store.counts()["scores"] == 4 and store.counts()["alerts"] == 4


def test_drain_stops_between_batches_when_asked(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(n) for n in range(9)]))
    scorer = CountingScorer()
    result = _stage(engine, scorer).drain(should_stop=lambda: len(scorer.texts) >= 3)
    assert result.scored == 3
    assert _queued(engine) == 6


def test_a_new_model_requeues_what_it_has_not_scored(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(n) for n in range(3)]))
    ids = [q.id for q in store.queued(limit=10)]
    old = [Score(mention_id=i, model="old@1", sentiment=sentiment(), scored_at=T0) for i in ids]
    store.add_scores(old, done=ids)
    assert _queued(engine) == 0
    assert store.has_scores(None) and not store.has_scores("new@2")
    assert store.requeue_unscored("new@2", now=T0) == 3
    assert store.requeue_unscored("new@2", now=T0) == 0  # already queued


def test_migration_queues_the_mentions_left_unscored(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    rows = [
        {
            "source": "replay", "external_id": str(n), "brand": "Aurora Air", "text": "t",
            "author": "a", "author_reach": 0, "engagement": 0, "url": "", "raw": {},
            "created_at": T0, "collected_at": T0 + timedelta(minutes=n),
        }
        for n in range(4)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(mentions), rows)
        first = conn.execute(select(mentions.c.id).order_by(mentions.c.id)).scalars().first()
        conn.execute(
            insert(scores),
            [{"mention_id": first, "model": "m@1", "label": "neutral", "negative": 0.1,
              "neutral": 0.8, "positive": 0.1, "anger": 0.0, "lang": "en", "scored_at": T0}],
        )  # fmt: skip
    upgrade(engine)
    store = SqlStore(engine)
    assert store.counts()["mentions"] == 4  # data kept
    assert [q.mention.external_id for q in store.queued(limit=10)] == ["1", "2", "3"]
    engine.dispose()


def test_once_with_nothing_to_score_does_not_load_the_model(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "db.sqlite"}"
[model]
name = "{tmp_path / "no-such-model"}"
[replay]
paths = ["{tmp_path / "empty.jsonl"}"]
[[brands]]
name = "Aurora Air"
query = "aurora"
""",
        encoding="utf-8",
    )
    with App(load_settings(config)) as app:
        app.upgrade()
        totals = run_once(app)
        assert totals["failed_jobs"] == 0, totals.failures
        assert "scorer" not in app.__dict__  # the (missing) model was never loaded


def test_export_reads_no_raw_payloads(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1, raw={"big": "x" * 1000})]))
    (row,) = store.export(brand="Aurora Air")
    assert row.mention.mention.text == "mention 1 of aurora air"
    assert row.mention.mention.raw == {}
    assert next(store.iter_mentions()).mention.raw == {"big": "x" * 1000}


def test_emulator_answers_in_one_segment() -> None:
    """Headers and body leave together: written apart, a kept-alive client waited ~40 ms for
    each body (Nagle's algorithm against the client's delayed ACK)."""
    with (
        TwitterEmulator(bearer_token="t") as x,
        socket.create_connection(("127.0.0.1", x.port)) as sock,
    ):
        for _ in range(3):  # kept alive: each answer arrives whole in the first read
            request = f"GET {SEARCH_PATH}?query=aurora HTTP/1.1\r\nHost: x\r\n"
            sock.sendall(request.encode() + b"Authorization: Bearer t\r\n\r\n")
            data = sock.recv(1 << 20)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )  # fmt: skip
            assert length > 0 and len(body) == length
