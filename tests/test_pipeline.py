"""collect_once / score_pending over a real store and fake sources (fakes, not mocks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from listener.domain import Batch, BrandQuery, NewAlert, Sentiment, StoredMention
from listener.errors import AuthError, RateLimited, SourceError, SourceUnavailable
from listener.pipeline import (
    RATE_LIMIT_MARGIN,
    ScoreResult,
    backoff,
    collect_once,
    score_pending,
)
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention, sentiment


class ScriptedCollector:
    """Returns or raises, in turn, what it was given; records the cursors it was called with."""

    source = "fake"

    def __init__(self, *steps: Batch | SourceError) -> None:
        self.steps = list(steps)
        self.cursors: list[str | None] = []

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        self.cursors.append(cursor)
        step = self.steps.pop(0)
        if isinstance(step, SourceError):
            raise step
        return step


class RecordingOutbox:
    def __init__(self) -> None:
        self.replies: list[tuple[str, str, str]] = []

    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        self.replies.append((source, external_id, by))
        return 1


class KeywordScorer:
    model_id = "keyword@1"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return [
            sentiment("negative", anger=0.9) if "angry" in t else sentiment("positive")
            for t in texts
        ]


def _collect(collector: ScriptedCollector, store: SqlStore, now: datetime = T0) -> object:
    return collect_once(
        collector=collector,
        store=store,
        outbox=RecordingOutbox(),  # type: ignore[arg-type]
        query=QUERY,
        now=now,
    )


def test_rate_limit_skips_the_source_until_reset(engine: Engine) -> None:
    store = SqlStore(engine)
    reset = T0 + timedelta(minutes=15)
    collector = ScriptedCollector(
        RateLimited("429", retry_at=reset), Batch(mentions=[mention(1)], cursor="1")
    )
    until = reset + RATE_LIMIT_MARGIN
    assert _collect(collector, store).skipped_until == until  # type: ignore[attr-defined]
    assert _collect(collector, store, T0 + timedelta(minutes=5)).skipped_until == until  # type: ignore[attr-defined]
    assert _collect(collector, store, reset).skipped_until == until  # type: ignore[attr-defined]
    assert len(collector.cursors) == 1  # the skipped runs did not call the API
    assert store.source_state("fake", "Aurora Air").failures == 0  # a pause, not a failure
    assert _collect(collector, store, until).added == 1  # type: ignore[attr-defined]


def test_unavailable_backs_off_exponentially_and_recovers(engine: Engine) -> None:
    store = SqlStore(engine)
    collector = ScriptedCollector(
        SourceUnavailable("503"), SourceUnavailable("503"), Batch(mentions=[mention(1)], cursor="c")
    )
    first = _collect(collector, store).skipped_until  # type: ignore[attr-defined]
    second = _collect(collector, store, first).skipped_until  # type: ignore[attr-defined]
    assert timedelta(seconds=15) <= first - T0 <= timedelta(seconds=30)
    assert timedelta(seconds=30) <= second - first <= timedelta(seconds=60)
    assert _collect(collector, store, second).added == 1  # type: ignore[attr-defined]
    assert store.source_state("fake", "Aurora Air").failures == 0


def test_auth_error_is_logged_once_and_the_job_keeps_trying(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore(engine)
    collector = ScriptedCollector(
        AuthError("401 Unauthorized"), AuthError("401 Unauthorized"), Batch(mentions=[mention(1)])
    )
    for minute in range(3):
        _collect(collector, store, T0 + timedelta(minutes=minute))
    assert len(collector.cursors) == 3
    assert sum("credentials rejected" in r.message for r in caplog.records) == 1


def test_cursor_is_passed_back_and_brand_replies_recorded(engine: Engine) -> None:
    store = SqlStore(engine)
    reply = mention(2, author="AuroraAir", in_reply_to="1")
    collector = ScriptedCollector(
        Batch(mentions=[mention(1)], cursor="A"), Batch(mentions=[reply], cursor="B")
    )
    outbox = RecordingOutbox()
    for _ in range(2):
        collect_once(collector=collector, store=store, outbox=outbox, query=QUERY, now=T0)  # type: ignore[arg-type]
    assert collector.cursors == [None, "A"]
    assert outbox.replies == [("replay", "1", "@AuroraAir")]


def test_score_pending_scores_everything_once_and_writes_alerts(engine: Engine) -> None:
    store = SqlStore(engine)
    store.add_batch(
        "replay",
        QUERY,
        Batch(mentions=[mention(i, text="angry" if i % 2 else "happy") for i in range(7)]),
    )

    def rule(m: StoredMention, s: Sentiment) -> NewAlert | None:
        if s.anger < 0.5:
            return None
        return NewAlert(
            kind="mention",
            brand=m.mention.brand,
            dedupe_key=f"m:{m.id}",
            reason="angry",
            mention_id=m.id,
        )

    outbox = SqlOutbox(engine)
    # the brand answered complaint 1 in the same poll, before any alert existed
    reply = mention(
        100,
        text="so sorry, DM us",
        author="auroraAir",
        in_reply_to="1",
        created_at=T0 + timedelta(minutes=9),
    )
    store.add_batch("replay", QUERY, Batch(mentions=[reply]))

    def run() -> ScoreResult:
        return score_pending(
            store=store,
            outbox=outbox,
            scorer=KeywordScorer(),
            rule=rule,
            handles={"Aurora Air": ("AuroraAir",)},
            batch_size=3,
            max_batches=10,
            now=T0,
        )

    assert (run().scored, store.counts()["alerts"]) == (8, 3)
    assert run().scored == 0
    assert store.counts()["alerts"] == 3
    acked = {(a.mention_id, a.acked_by, a.acked_at) for a in outbox.list() if a.acked_at}
    first = store.find_mention("replay", "1")
    assert first is not None
    assert acked == {(first.id, "@auroraAir", T0 + timedelta(minutes=9))}


def test_backoff_is_capped() -> None:
    assert backoff(50) <= timedelta(minutes=30)
