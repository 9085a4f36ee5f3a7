"""Orchestration of the collect and score stages, over the ports only.

Each function is one idempotent step over the database: run it from a scheduler job today or a
queue task tomorrow. Nothing here imports tweepy, praw, torch, sqlalchemy or slack_sdk.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from listener.domain import BrandQuery, Mention
from listener.errors import AuthError, RateLimited, SourceUnavailable
from listener.ports import Collector, CollectStore, ReplyRecorder, Scorer, ScoreStore
from listener.reposts import mark_copies
from listener.rules import normalize_handle
from listener.stages.score import MentionRule, ScoreResult, ScoreStage

__all__ = [
    "RATE_LIMIT_MARGIN",
    "CollectResult",
    "MentionRule",
    "ScoreResult",
    "backoff",
    "collect_once",
    "score_pending",
]

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
RATE_LIMIT_MARGIN = timedelta(seconds=5)
"""Waited past a rate limit's reset: clocks differ, and a call at the reset may still be refused."""


@runtime_checkable
class StageResult(Protocol):
    """What a stage's job returns: ``produced`` is the work it left for the stage it feeds
    (the daemon wakes that one at once when it is above 0; see ``daemon.Job.then``)."""

    @property
    def produced(self) -> int: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class CollectResult:
    """One (source, brand) collection: what was fetched and stored, or why not."""

    source: str
    brand: str
    fetched: int = 0
    added: int = 0
    quarantined: int = 0
    replies: int = 0
    skipped_until: datetime | None = None
    error: str | None = None
    rate_limited: bool = False
    """The source refused with a rate limit: paused until ``skipped_until``, not an error."""

    @property
    def produced(self) -> int:
        """New mentions for the score stage."""
        return self.added


@dataclass(frozen=True, kw_only=True, slots=True)
class SpikeResult:
    """One spike run: brands checked, windows examined and the spike alerts raised."""

    checked: int = 0
    windows: int = 0
    spikes: int = 0

    @property
    def produced(self) -> int:
        """New alerts for the dispatch stage."""
        return self.spikes

    def __getitem__(self, key: str) -> int:
        """Read as the dict it used to be (``result["spikes"]``)."""
        return int(getattr(self, key))


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportResult:
    """One report run: brands whose report was due, reports queued in the outbox."""

    due: int = 0
    queued: int = 0

    @property
    def produced(self) -> int:
        """New report alerts for the dispatch stage."""
        return self.queued

    def __getitem__(self, key: str) -> int:
        """Read as the dict it used to be (``result["queued"]``)."""
        return int(getattr(self, key))


def backoff(failures: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to base * 2**failures, capped."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(failures, 16)))
    return ceiling * (0.5 + (rng or random).random() / 2)


def collect_once(
    *,
    collector: Collector,
    store: CollectStore,
    outbox: ReplyRecorder,
    query: BrandQuery,
    now: datetime,
) -> CollectResult:
    """Collect one (source, brand) and store the batch with its cursor in one transaction.

    A source in backoff is skipped until its retry time; source errors are recorded (not raised)
    so the scheduler goes on with the other sources. An outage (SourceUnavailable) backs off
    exponentially on the consecutive outages; a rate limit pauses the source until its reset
    (plus ``RATE_LIMIT_MARGIN``) and is no failure: the outage count stays as it was.
    """
    source, brand = collector.source, query.brand
    state = store.source_state(source, brand)
    if state.retry_at is not None and now < state.retry_at:
        return CollectResult(source=source, brand=brand, skipped_until=state.retry_at)
    try:
        batch = collector.collect(query, state.cursor)
    except RateLimited as exc:
        until = max(exc.retry_at, now) + RATE_LIMIT_MARGIN
        store.record_rate_limit(source, brand, until=until, detail=str(exc))
        log.warning("%s/%s rate limited until %s", source, brand, until.isoformat())
        return CollectResult(source=source, brand=brand, skipped_until=until, rate_limited=True)
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
    batch = mark_copies(store, source, brand, batch, now)
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


def _record_brand_replies(
    outbox: ReplyRecorder, query: BrandQuery, mentions: Sequence[Mention]
) -> int:
    handles = {normalize_handle(h) for h in query.handles}
    count = 0
    for mention in mentions:
        if mention.in_reply_to and normalize_handle(mention.author) in handles:
            count += _record_reply(outbox, mention.in_reply_to, mention)
    return count


def _record_reply(outbox: ReplyRecorder, replied_to: str, reply: Mention) -> int:
    by = f"@{reply.author.removeprefix('@')}"
    return outbox.record_reply(reply.source, replied_to, by=by, at=reply.created_at)


def score_pending(
    *,
    store: ScoreStore,
    outbox: ReplyRecorder,
    scorer: Scorer,
    rule: MentionRule,
    handles: Mapping[str, Collection[str]],
    batch_size: int,
    max_batches: int,
    now: datetime,
) -> ScoreResult:
    """Score up to ``max_batches`` batches of queued mentions, scored at ``now``; each batch's
    scores and alerts are stored in one transaction (``stages.score``, without its overlap)."""
    stage = ScoreStage(
        store=store,
        queue=store,
        outbox=outbox,
        scorer=lambda: scorer,
        rule=rule,
        handles=handles,
        batch_size=batch_size,
        clock=lambda: now,
    )
    total = ScoreResult()
    for _ in range(max_batches):
        pending = store.queued(limit=batch_size)
        if not pending:
            break
        sentiments = scorer.score([p.mention.text for p in pending])
        total += stage.save(pending, sentiments, done=[p.id for p in pending])
        if len(pending) < batch_size:
            break
    return total
