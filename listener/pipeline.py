"""Orchestration of the collect and score stages, over the ports only.

Each function is one idempotent step over the database: run it from a scheduler job today or a
queue task tomorrow. Nothing here imports tweepy, praw, torch, sqlalchemy or slack_sdk.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from listener.domain import BrandQuery, Mention, NewAlert, Score, Sentiment, StoredMention
from listener.errors import AuthError, RateLimited, SourceUnavailable
from listener.ports import Collector, Outbox, Scorer, Store

log = logging.getLogger(__name__)

MentionRule = Callable[[StoredMention, Sentiment], NewAlert | None]
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)


@dataclass(frozen=True, kw_only=True, slots=True)
class CollectResult:
    source: str
    brand: str
    fetched: int = 0
    added: int = 0
    quarantined: int = 0
    replies: int = 0
    skipped_until: datetime | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreResult:
    scored: int = 0
    alerts: int = 0


def backoff(failures: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to base * 2**failures, capped."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(failures, 16)))
    return ceiling * (0.5 + (rng or random).random() / 2)


def collect_once(
    *, collector: Collector, store: Store, outbox: Outbox, query: BrandQuery, now: datetime
) -> CollectResult:
    """Collect one (source, brand) and store the batch with its cursor in one transaction.

    A source in backoff is skipped until its retry time; source errors are recorded (not raised)
    so the scheduler goes on with the other sources.
    """
    source, brand = collector.source, query.brand
    state = store.source_state(source, brand)
    if state.retry_at is not None and now < state.retry_at:
        return CollectResult(source=source, brand=brand, skipped_until=state.retry_at)
    try:
        batch = collector.collect(query, state.cursor)
    except RateLimited as exc:
        store.record_failure(source, brand, retry_at=exc.retry_at, error=f"rate limited: {exc}")
        log.warning("%s/%s rate limited until %s", source, brand, exc.retry_at.isoformat())
        return CollectResult(source=source, brand=brand, skipped_until=exc.retry_at, error=str(exc))
    except AuthError as exc:
        error = f"auth: {exc}"
        if state.last_error != error:  # logged once per distinct failure, not every run
            log.error("%s/%s credentials rejected: %s", source, brand, exc)
        store.record_failure(source, brand, retry_at=now, error=error)
        return CollectResult(source=source, brand=brand, error=error)
    except SourceUnavailable as exc:
        retry_at = now + backoff(state.failures)
        store.record_failure(source, brand, retry_at=retry_at, error=f"unavailable: {exc}")
        log.warning(
            "%s/%s unavailable (%s); retry after %s", source, brand, exc, retry_at.isoformat()
        )
        return CollectResult(source=source, brand=brand, skipped_until=retry_at, error=str(exc))
    added = store.add_batch(source, query, batch)
    replies = _record_brand_replies(outbox, query, batch.mentions)
    return CollectResult(
        source=source,
        brand=brand,
        fetched=len(batch.mentions),
        added=added,
        quarantined=len(batch.quarantined),
        replies=replies,
    )


def _record_brand_replies(outbox: Outbox, query: BrandQuery, mentions: Sequence[Mention]) -> int:
    handles = {h.lstrip("@").casefold() for h in query.handles}
    count = 0
    for mention in mentions:
        if mention.in_reply_to and mention.author.lstrip("@").casefold() in handles:
            count += outbox.record_reply(
                mention.source,
                mention.in_reply_to,
                by=f"@{mention.author.lstrip('@')}",
                at=mention.created_at,
            )
    return count


def score_pending(
    *,
    store: Store,
    scorer: Scorer,
    rule: MentionRule,
    batch_size: int,
    max_batches: int,
    now: datetime,
) -> ScoreResult:
    """Score up to ``max_batches`` batches of unscored mentions; each batch's scores and the
    alerts they cause are stored in one transaction."""
    scored = alerts = 0
    for _ in range(max_batches):
        pending = store.unscored(scorer.model_id, batch_size)
        if not pending:
            break
        sentiments = scorer.score([p.mention.text for p in pending])
        scores = [
            Score(mention_id=p.id, model=scorer.model_id, sentiment=s, scored_at=now)
            for p, s in zip(pending, sentiments, strict=True)
        ]
        new_alerts = [a for p, s in zip(pending, sentiments, strict=True) if (a := rule(p, s))]
        scored += store.add_scores(scores, new_alerts)
        alerts += len(new_alerts)
        if len(pending) < batch_size:
            break
    return ScoreResult(scored=scored, alerts=alerts)
