"""The Store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

Every write method is one transaction; inserts that may repeat (re-delivered mentions, a score
for a (mention, model) pair that exists, an alert whose dedupe key exists) are no-ops through
``ON CONFLICT DO NOTHING``, so a crash at any point is resumed by simply running again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, case, exists, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row

from listener.domain import (
    Batch,
    BrandQuery,
    NewAlert,
    Score,
    Sentiment,
    StoredMention,
    TrendPoint,
    utcnow,
)
from listener.ports import RATE_LIMITED, ExportRow, SourceState
from listener.store.batches import CHUNK, OnQueued, chunks, write_batch
from listener.store.dialect import insert_for
from listener.store.labels import SqlLabels, apply_rules_in, effective_overrides
from listener.store.outbox import insert_alert_ids
from listener.store.queue import SqlScoreQueue
from listener.store.rollups import Tracker, lock
from listener.store.rows import to_stored
from listener.store.schema import alerts, cursors, mentions, quarantine, score_queue, scores
from listener.store.withdrawals import withdraw_relabelled


def _to_score(row: Row[Any]) -> Score:
    m = row._mapping
    sentiment = Sentiment(
        label=m["label"],
        probabilities={k: m[k] for k in ("negative", "neutral", "positive")},
        anger=m["anger"],
        lang=m["lang"],
    )
    return Score(
        mention_id=m["mention_id"], model=m["model"], sentiment=sentiment, scored_at=m["scored_at"]
    )


def _not_relabelled(conn: Connection, new: Sequence[NewAlert]) -> list[NewAlert]:
    """``new`` without the mention alerts of mentions an override or rule labels otherwise
    than negative (the analysts' label wins over the model's for alerts too)."""
    ids = [a.mention_id for a in new if a.kind == "mention" and a.mention_id is not None]
    labels = effective_overrides(conn, ids) if ids else {}
    return [a for a in new if labels.get(a.mention_id or -1, "negative") == "negative"]


class SqlStore(SqlScoreQueue):
    """ports.Store (with its ScoreQueue) over a SQLAlchemy Engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_queued: OnQueued | None = None,
        on_alerts: OnQueued | None = None,
    ) -> None:
        """``on_queued``/``on_alerts``: called inside the transaction that stores new mentions
        (queued for scoring) or new alerts, with their ids (scale-out enqueues their jobs)."""
        self.engine = engine
        self._on_queued = on_queued
        self._on_alerts = on_alerts

    def add_batch(self, source: str, query: BrandQuery, batch: Batch) -> int:
        return write_batch(self.engine, source, query, batch, on_queued=self._on_queued)

    def source_state(self, source: str, brand: str) -> SourceState:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(cursors).where(cursors.c.source == source, cursors.c.brand == brand)
            ).first()
        if row is None:
            return SourceState()
        m = row._mapping
        return SourceState(
            cursor=m["cursor"],
            failures=m["failures"],
            retry_at=m["retry_at"],
            last_error=m["last_error"],
        )

    def copies_of(
        self, source: str, brand: str, texts: Collection[str], *, since: datetime
    ) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(texts))):
                rows = conn.execute(
                    select(mentions.c.text, mentions.c.external_id)
                    .where(
                        mentions.c.brand == brand,
                        mentions.c.created_at >= since,
                        mentions.c.source == source,
                        mentions.c.repost_of.is_(None),
                        mentions.c.text.in_(chunk),
                    )
                    .order_by(mentions.c.created_at, mentions.c.id)
                )
                for text, external_id in rows:
                    found.setdefault(text, external_id)
        return found

    def repost_reach(self, originals: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        by_source: dict[str, list[str]] = {}
        for source, external_id in originals:
            by_source.setdefault(source, []).append(external_id)
        with self.engine.connect() as conn:
            for source, ids in by_source.items():
                for chunk in chunks(sorted(set(ids))):
                    rows = conn.execute(
                        select(mentions.c.repost_of, func.sum(mentions.c.author_reach))
                        .where(mentions.c.source == source, mentions.c.repost_of.in_(chunk))
                        .group_by(mentions.c.repost_of)
                    )
                    for original, reach in rows:
                        if reach:
                            found[(source, str(original))] = int(reach)
        return found

    def record_failure(self, source: str, brand: str, *, retry_at: datetime, error: str) -> None:
        self._pause(source, brand, retry_at=retry_at, error=error, failures=cursors.c.failures + 1)

    def record_rate_limit(self, source: str, brand: str, *, until: datetime, detail: str) -> None:
        self._pause(source, brand, retry_at=until, error=RATE_LIMITED + detail, failures=None)

    def _pause(
        self,
        source: str,
        brand: str,
        *,
        retry_at: datetime,
        error: str,
        failures: ColumnElement[int] | None,
    ) -> None:
        """Hold a source's polls until ``retry_at`` with ``error`` recorded; ``failures`` is the
        outage count's new value (None: unchanged, a new row starts at 0)."""
        now = utcnow()
        changes: dict[str, Any] = {"retry_at": retry_at, "last_error": error, "updated_at": now}
        if failures is not None:
            changes["failures"] = failures
        with self.engine.begin() as conn:
            stmt = insert_for(conn, cursors).values(
                source=source,
                brand=brand,
                query="",
                failures=0 if failures is None else 1,
                retry_at=retry_at,
                last_error=error,
                updated_at=now,
            )
            conn.execute(
                stmt.on_conflict_do_update(index_elements=["source", "brand"], set_=changes)
            )

    def unscored(self, model: str, limit: int) -> list[StoredMention]:
        scored = exists().where(scores.c.mention_id == mentions.c.id, scores.c.model == model)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(mentions).where(~scored).order_by(mentions.c.id).limit(limit)
            )
            return [to_stored(r) for r in rows]

    def add_scores(
        self,
        new_scores: Sequence[Score],
        new_alerts: Sequence[NewAlert] = (),
        *,
        done: Sequence[int] = (),
    ) -> int:
        now = utcnow()
        score_rows = [
            {
                "mention_id": s.mention_id,
                "model": s.model,
                "label": s.sentiment.label,
                "anger": s.sentiment.anger,
                "lang": s.sentiment.lang,
                "scored_at": s.scored_at,
                **{
                    k: float(s.sentiment.probabilities[k])
                    for k in ("negative", "neutral", "positive")
                },
            }
            for s in new_scores
        ]
        scored_ids = [s.mention_id for s in new_scores]
        with self.engine.begin() as conn:
            lock(conn)  # rollups: kept current in this transaction (listener.store.rollups)
            tracker = Tracker(conn, mention_ids=scored_ids)
            added = 0
            for chunk in chunks(score_rows):
                stmt = insert_for(conn, scores).on_conflict_do_nothing(
                    index_elements=["mention_id", "model"]
                )
                added += len(conn.execute(stmt.returning(scores.c.id), list(chunk)).all())
            apply_rules_in(conn, scored_ids, at=now)
            tracker.finish()
            withdraw_relabelled(conn, scored_ids, at=now)  # a rule relabelled a re-scored one
            if new_alerts:
                kept = _not_relabelled(conn, new_alerts)
                alert_ids = insert_alert_ids(conn, kept, now=now) if kept else []
                if alert_ids and self._on_alerts is not None:
                    self._on_alerts(conn, alert_ids)
            for ids in chunks(sorted(set(done))):
                conn.execute(score_queue.delete().where(score_queue.c.mention_id.in_(ids)))
        return added

    def latest_scores(self, mention_ids: Sequence[int]) -> dict[int, Score]:
        found: dict[int, Score] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(mention_ids)):
                rows = conn.execute(
                    select(scores)
                    .where(scores.c.mention_id.in_(chunk))
                    .order_by(scores.c.mention_id, scores.c.id.desc())
                )
                for row in rows:
                    found.setdefault(row.mention_id, _to_score(row))
        return found

    def mentions(self, ids: Sequence[int]) -> list[StoredMention]:
        out: list[StoredMention] = []
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(ids))):
                rows = conn.execute(
                    select(mentions).where(mentions.c.id.in_(chunk)).order_by(mentions.c.id)
                )
                out.extend(to_stored(r) for r in rows)
        return out

    def find_mention(self, source: str, external_id: str) -> StoredMention | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(mentions).where(
                    mentions.c.source == source, mentions.c.external_id == external_id
                )
            ).first()
        return None if row is None else to_stored(row)

    def first_reply(
        self, source: str, external_id: str, *, authors: Collection[str]
    ) -> StoredMention | None:
        names = sorted({a.lower() for a in authors})
        if not names:
            return None
        stmt = (
            select(mentions)
            .where(
                mentions.c.source == source,
                mentions.c.in_reply_to == external_id,
                func.lower(mentions.c.author).in_(names),
            )
            .order_by(mentions.c.created_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else to_stored(row)

    def iter_mentions(
        self, *, brand: str | None = None, since: datetime | None = None, raw: bool = True
    ) -> Iterator[StoredMention]:
        columns = mentions.c if raw else [c for c in mentions.c if c.name != "raw"]
        stmt = select(*columns).order_by(mentions.c.created_at, mentions.c.id)
        if brand is not None:
            stmt = stmt.where(mentions.c.brand == brand)
        if since is not None:
            stmt = stmt.where(mentions.c.created_at >= since)
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=CHUNK).execute(stmt):
                yield to_stored(row)

    def export(self, *, brand: str, since: datetime | None = None) -> Iterator[ExportRow]:
        page: list[StoredMention] = []
        # the raw payloads are never written out: not reading (and decoding) them is most of
        # the export's time on a large database
        for stored in self.iter_mentions(brand=brand, since=since, raw=False):
            page.append(stored)
            if len(page) == CHUNK:
                yield from self._with_scores(page)
                page = []
        yield from self._with_scores(page)

    def _with_scores(self, page: list[StoredMention]) -> Iterator[ExportRow]:
        latest = self.latest_scores([s.id for s in page]) if page else {}
        overrides = SqlLabels(self.engine).overrides_of([s.id for s in page]) if page else {}
        for stored in page:
            label, by = overrides.get(stored.id, (None, None))
            yield ExportRow(
                mention=stored, score=latest.get(stored.id), label_override=label, label_by=by
            )

    def trend(
        self, *, brand: str, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TrendPoint]:
        with self.engine.connect() as conn:
            epoch = (
                func.extract("epoch", mentions.c.created_at)
                if conn.dialect.name == "postgresql"
                else func.strftime("%s", mentions.c.created_at)
            )
            bucket = func.floor(
                func.cast(epoch, postgresql.DOUBLE_PRECISION) / bucket_seconds
            ).label("bucket")
            newer = scores.alias("newer")
            latest = (
                select(func.max(newer.c.id))
                .where(newer.c.mention_id == mentions.c.id)
                .correlate(mentions)
                .scalar_subquery()
            )

            def count(label: str) -> Any:
                return func.sum(case((scores.c.label == label, 1), else_=0))

            angry = func.sum(
                case((and_(scores.c.label == "negative", scores.c.anger >= 0.5), 1), else_=0)
            )
            stmt = (
                select(
                    bucket,
                    func.count(mentions.c.id),
                    count("negative"),
                    count("neutral"),
                    count("positive"),
                    angry,
                )
                .select_from(mentions.outerjoin(scores, scores.c.id == latest))
                .where(
                    mentions.c.brand == brand,
                    mentions.c.created_at >= since,
                    mentions.c.created_at < until,
                )
                .group_by(bucket)
                .order_by(bucket)
            )
            rows = conn.execute(stmt).all()
        return [
            TrendPoint(
                brand=brand,
                bucket_start=datetime.fromtimestamp(int(b) * bucket_seconds, tz=since.tzinfo),
                volume=int(v),
                negative=int(n or 0),
                neutral=int(u or 0),
                positive=int(p or 0),
                angry=int(a or 0),
            )
            for b, v, n, u, p, a in rows
        ]

    def counts(self) -> dict[str, int]:
        tables = {
            "mentions": mentions,
            "scores": scores,
            "quarantined": quarantine,
            "alerts": alerts,
        }
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for name, t in tables.items()
            }
