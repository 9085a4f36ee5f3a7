"""What ``listener status`` and the metrics report: plain, frozen records (no database types)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceStatus:
    """One (source, brand) collector as its cursor row stands."""

    source: str
    brand: str
    cursor: str | None
    failures: int
    """Consecutive outages (0 once a run succeeds; a rate limit leaves it as it was)."""
    retry_at: datetime | None
    """Backoff: no call before this (rate limit or outage); None when not backing off."""
    error: str | None
    """The current error; None once the source recovered."""
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure: str | None
    """The most recent error, kept after recovery."""
    rate_limited: bool = False
    """``retry_at`` is a rate limit's reset (the source asked to wait), not an outage's backoff."""

    def backing_off(self, now: datetime) -> bool:
        return self.retry_at is not None and self.retry_at > now

    def rate_limited_until(self, now: datetime) -> datetime | None:
        """The reset of a rate limit still in force at ``now``; None otherwise."""
        return self.retry_at if self.rate_limited and self.backing_off(now) else None


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxStatus:
    """Undelivered alerts: pending (including in-flight 'sending'), failed for good."""

    pending: int
    failed: int
    oldest_pending_at: datetime | None

    def oldest_pending_age(self, now: datetime) -> float:
        """Seconds since the oldest undelivered alert was raised (0 when none)."""
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending_at).total_seconds())


@dataclass(frozen=True, kw_only=True, slots=True)
class Backlog:
    """Stored mentions the configured model has not scored yet, and the scoring queue.

    The two differ after a model change: every stored mention is unscored by the new model,
    but only new mentions are queued until the score job's next start queues the history
    (or ``listener rescore`` scores it); a partial rescore (``--since``, ``--brand``) leaves
    the rest unscored and unqueued for good."""

    model: str | None
    """The model id counted against (None: no model known yet, so every stored mention)."""
    unscored: int
    queued: int
    """Mentions in ``score_queue``: what the score job works through next."""
    oldest_queued_at: datetime | None

    def oldest_queued_age(self, now: datetime) -> float:
        """Seconds since the oldest queued mention was queued (0 when none)."""
        if self.oldest_queued_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_queued_at).total_seconds())
