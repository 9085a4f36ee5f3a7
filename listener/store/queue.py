"""The scoring queue on SQLAlchemy Core: ``score_queue`` rows, claimed by primary key.

Rows are written with their mentions (``batches.write_batch``) and deleted with their scores
(``SqlStore.add_scores(done=...)``), so every read here walks the primary key from a given id:
its cost depends on the work waiting, never on the mentions stored and scored before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, exists, func, insert, select

from listener.domain import StoredMention
from listener.store.batches import chunks
from listener.store.rows import to_stored
from listener.store.schema import mentions, score_queue, scores


class SqlScoreQueue:
    """ports.ScoreQueue over a SQLAlchemy Engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def queued(self, *, after: int = 0, limit: int) -> list[StoredMention]:
        stmt = (
            select(mentions)
            .join(score_queue, score_queue.c.mention_id == mentions.c.id)
            .where(score_queue.c.mention_id > after)
            .order_by(score_queue.c.mention_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [to_stored(r) for r in conn.execute(stmt)]

    def queued_among(self, ids: Sequence[int]) -> list[StoredMention]:
        out: list[StoredMention] = []
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(ids))):
                stmt = (
                    select(mentions)
                    .join(score_queue, score_queue.c.mention_id == mentions.c.id)
                    .where(score_queue.c.mention_id.in_(chunk))
                    .order_by(mentions.c.id)
                )
                out.extend(to_stored(r) for r in conn.execute(stmt))
        return out

    def queued_ids(
        self, *, after: int = 0, limit: int, older_than: datetime | None = None
    ) -> list[int]:
        stmt = select(score_queue.c.mention_id).where(score_queue.c.mention_id > after)
        if older_than is not None:
            stmt = stmt.where(score_queue.c.queued_at < older_than)
        stmt = stmt.order_by(score_queue.c.mention_id).limit(limit)
        with self.engine.connect() as conn:
            return [int(i) for i in conn.execute(stmt).scalars()]

    def dequeue(self, ids: Sequence[int]) -> int:
        removed = 0
        with self.engine.begin() as conn:
            for chunk in chunks(sorted(set(ids))):
                stmt = delete(score_queue).where(score_queue.c.mention_id.in_(chunk))
                removed += conn.execute(stmt).rowcount or 0
        return removed

    def requeue_unscored(self, model: str, *, now: datetime) -> int:
        """Queue every mention without a score from ``model`` that is not queued yet: what a
        switch to a new model needs. One statement over the history: run it at start only, and
        only when ``model`` has no scores at all (``has_scores``)."""
        scored = exists().where(scores.c.mention_id == mentions.c.id, scores.c.model == model)
        waiting = exists().where(score_queue.c.mention_id == mentions.c.id)
        pick = select(mentions.c.id, func.coalesce(mentions.c.collected_at, now)).where(
            ~scored, ~waiting
        )
        with self.engine.begin() as conn:
            stmt = insert(score_queue).from_select(["mention_id", "queued_at"], pick)
            return len(conn.execute(stmt.returning(score_queue.c.mention_id)).all())

    def has_scores(self, model: str | None) -> bool:
        """Whether any mention has a score from ``model`` (None: any model); an index lookup."""
        stmt = select(scores.c.id).limit(1)
        if model is not None:
            stmt = stmt.where(scores.c.model == model)
        with self.engine.connect() as conn:
            return conn.execute(stmt).first() is not None

    def depth(self) -> tuple[int, datetime | None]:
        """(mentions waiting, when the oldest of them was queued)."""
        stmt: Any = select(func.count(), func.min(score_queue.c.queued_at))
        with self.engine.connect() as conn:
            count, oldest = conn.execute(stmt).one()
        if oldest is not None and oldest.tzinfo is None:
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        return int(count), oldest
