"""Reads for ``listener status`` and the metrics, and the per-source outcome record.

The cursor row of each (source, brand) holds its backoff (``failures``, ``retry_at``, the current
``last_error``, all written with the batch or the failure; a rate limit keeps its reset in
``retry_at`` under a ``ports.RATE_LIMITED`` error); ``record_outcome`` adds when it last
succeeded and its last failure, which a later success does not clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from listener.ops.report import Backlog, OutboxStatus, SourceStatus
from listener.ports import RATE_LIMITED
from listener.store.queue import SqlScoreQueue
from listener.store.schema import alerts, cursors, mentions, scores

_PENDING = ("pending", "sending")


class SqlStatus:
    """Status reads and the outcome record over the ``cursors``, ``alerts`` and score tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record_outcome(self, source: str, brand: str, *, at: datetime, error: str | None) -> None:
        """Record a collect run that succeeded (``error`` None) or failed. The cursor row exists
        by then (the batch or the failure wrote it); without one nothing is recorded. A failure
        keeps the text the failure wrote as the current error (``error`` when there is none)."""
        values: dict[str, Any] = {"last_success_at": at}
        if error is not None:
            values = {
                "last_failure_at": at,
                "last_failure": func.coalesce(cursors.c.last_error, error),
            }
        stmt = update(cursors).where(cursors.c.source == source, cursors.c.brand == brand)
        with self._engine.begin() as conn:
            conn.execute(stmt.values(**values))

    def sources(self) -> list[SourceStatus]:
        """Every (source, brand) that has run at least once, by source then brand."""
        stmt = select(cursors).order_by(cursors.c.source, cursors.c.brand)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            SourceStatus(
                source=m["source"],
                brand=m["brand"],
                cursor=m["cursor"],
                failures=int(m["failures"] or 0),
                retry_at=m["retry_at"],
                error=m["last_error"],
                last_success_at=m["last_success_at"],
                last_failure_at=m["last_failure_at"],
                last_failure=m["last_failure"],
                rate_limited=(m["last_error"] or "").startswith(RATE_LIMITED),
            )
            for m in (r._mapping for r in rows)
        ]

    def outbox(self) -> OutboxStatus:
        """Counts of undelivered alerts and when the oldest pending one was raised."""
        stmt = (
            select(alerts.c.status, func.count(), func.min(alerts.c.created_at))
            .where(alerts.c.status.in_([*_PENDING, "failed"]))
            .group_by(alerts.c.status)
        )
        pending = failed = 0
        oldest: datetime | None = None
        with self._engine.connect() as conn:
            for status, count, first in conn.execute(stmt):
                if status == "failed":
                    failed += int(count)
                    continue
                pending += int(count)
                if first is not None and (oldest is None or first < oldest):
                    oldest = first
        return OutboxStatus(pending=pending, failed=failed, oldest_pending_at=oldest)

    def backlog(self, model: str | None) -> Backlog:
        """Mentions without a score by ``model``; None: the model of the latest score (what the
        daemon used last), or every mention when nothing was scored yet. With the queue's depth.

        No anti-join over the history: a score is unique per (mention, model) and goes with its
        mention, so the unscored are the mentions less ``model``'s scores, two counts on
        narrow indexes (the primary key, ``ix_scores_model_mention_id``)."""
        with self._engine.connect() as conn:
            if model is None:
                model = conn.execute(
                    select(scores.c.model).order_by(scores.c.id.desc()).limit(1)
                ).scalar_one_or_none()
            stored = int(conn.execute(select(func.count(mentions.c.id))).scalar_one())
            scored = 0
            if model is not None:
                stmt = select(func.count(scores.c.mention_id)).where(scores.c.model == model)
                scored = int(conn.execute(stmt).scalar_one())
        queued, oldest = SqlScoreQueue(self._engine).depth()
        return Backlog(
            model=model,
            unscored=max(0, stored - scored),
            queued=queued,
            oldest_queued_at=oldest,
        )
