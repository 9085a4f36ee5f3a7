"""In-memory fakes of the storage ports: a complete, real implementation kept in dicts, for
tests and for trying a stage without a database (as dramatiq's stub broker or httpx's mock
transport). ``MemoryStore`` and ``MemoryOutbox`` share one ``MemoryDb`` (mentions, scores,
alerts, cursors), as ``SqlStore`` and ``SqlOutbox`` share one database; the same contract suite
(tests/test_store_contract.py) runs over these, SQLite and PostgreSQL.

Thread-safe (one lock); every method is atomic, as every SQL method is one transaction.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from listener.domain import (
    LABELS,
    Alert,
    AlertStatus,
    Batch,
    BrandQuery,
    NewAlert,
    Score,
    StoredMention,
    TrendPoint,
    utcnow,
)
from listener.errors import ListenerError
from listener.ports import RATE_LIMITED, Claim, ExportRow, SourceState, Storm


@dataclass
class MemoryDb:
    """The shared state: what the tables hold."""

    mentions: dict[int, StoredMention] = field(default_factory=dict)
    identities: dict[tuple[str, str], int] = field(default_factory=dict)
    scores: dict[tuple[int, str], tuple[int, Score]] = field(default_factory=dict)
    """(mention id, model) -> (row id, score): the row id orders scores as the SQL ids do."""
    quarantined: list[Any] = field(default_factory=list)
    cursors: dict[tuple[str, str], SourceState] = field(default_factory=dict)
    queue: dict[int, datetime] = field(default_factory=dict)
    """Mention id -> when queued for scoring (the score_queue table)."""
    alerts: dict[int, Alert] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: Counter[str] = field(default_factory=Counter)

    def next_id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def insert_alerts(self, new: Sequence[NewAlert], now: datetime) -> int:
        added = 0
        for a in new:
            if a.dedupe_key in self.keys:
                continue
            row = Alert(
                id=self.next_id("alerts"),
                kind=a.kind,
                brand=a.brand,
                dedupe_key=a.dedupe_key,
                status="pending",
                reason=a.reason,
                created_at=now,
                mention_id=a.mention_id,
                details=dict(a.details),
            )
            self.alerts[row.id] = row
            self.keys[a.dedupe_key] = row.id
            added += 1
        return added


class MemoryStore:
    """``ports.Store`` in memory."""

    def __init__(self, db: MemoryDb | None = None) -> None:
        self.db = db or MemoryDb()

    def add_batch(self, source: str, query: BrandQuery, batch: Batch) -> int:
        now = utcnow()
        with self.db.lock:
            added = 0
            for m in batch.mentions:
                key = (m.source, m.external_id)
                if key in self.db.identities:
                    continue
                row = StoredMention(id=self.db.next_id("mentions"), mention=m, collected_at=now)
                self.db.mentions[row.id] = row
                self.db.identities[key] = row.id
                self.db.queue[row.id] = now
                added += 1
            self.db.quarantined.extend(batch.quarantined)
            old = self.db.cursors.get((source, query.brand), SourceState())
            self.db.cursors[(source, query.brand)] = SourceState(
                cursor=batch.cursor if batch.cursor is not None else old.cursor
            )
            return added

    def source_state(self, source: str, brand: str) -> SourceState:
        with self.db.lock:
            return self.db.cursors.get((source, brand), SourceState())

    def copies_of(
        self, source: str, brand: str, texts: Collection[str], *, since: datetime
    ) -> dict[str, str]:
        wanted = set(texts)
        found: dict[str, str] = {}
        with self.db.lock:
            rows = sorted(self.db.mentions.values(), key=lambda s: (s.mention.created_at, s.id))
            for s in rows:
                m = s.mention
                if (
                    m.source == source
                    and m.brand == brand
                    and m.created_at >= since
                    and m.repost_of is None
                    and m.text in wanted
                ):
                    found.setdefault(m.text, m.external_id)
        return found

    def repost_reach(self, originals: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        wanted = set(originals)
        found: Counter[tuple[str, str]] = Counter()
        with self.db.lock:
            for s in self.db.mentions.values():
                key = (s.mention.source, s.mention.repost_of or "")
                if s.mention.repost_of is not None and key in wanted:
                    found[key] += s.mention.author_reach
        return {k: v for k, v in found.items() if v}

    def record_failure(self, source: str, brand: str, *, retry_at: datetime, error: str) -> None:
        with self.db.lock:
            old = self.db.cursors.get((source, brand), SourceState())
            self.db.cursors[(source, brand)] = replace(
                old, failures=old.failures + 1, retry_at=retry_at, last_error=error
            )

    def record_rate_limit(self, source: str, brand: str, *, until: datetime, detail: str) -> None:
        with self.db.lock:
            old = self.db.cursors.get((source, brand), SourceState())
            self.db.cursors[(source, brand)] = replace(
                old, retry_at=until, last_error=RATE_LIMITED + detail
            )

    def unscored(self, model: str, limit: int) -> list[StoredMention]:
        with self.db.lock:
            ids = sorted(i for i in self.db.mentions if (i, model) not in self.db.scores)
            return [self.db.mentions[i] for i in ids[:limit]]

    def add_scores(
        self, scores: Sequence[Score], alerts: Sequence[NewAlert] = (), *, done: Sequence[int] = ()
    ) -> int:
        now = utcnow()
        with self.db.lock:
            for mention_id in done:
                self.db.queue.pop(mention_id, None)
            added = 0
            for s in scores:
                key = (s.mention_id, s.model)
                if key in self.db.scores or s.mention_id not in self.db.mentions:
                    continue
                self.db.scores[key] = (self.db.next_id("scores"), s)
                added += 1
            self.db.insert_alerts(alerts, now)
            return added

    def queued(self, *, after: int = 0, limit: int) -> list[StoredMention]:
        with self.db.lock:
            ids = sorted(i for i in self.db.queue if i > after)[:limit]
            return [self.db.mentions[i] for i in ids]

    def queued_among(self, ids: Sequence[int]) -> list[StoredMention]:
        with self.db.lock:
            return [self.db.mentions[i] for i in sorted(set(ids)) if i in self.db.queue]

    def dequeue(self, ids: Sequence[int]) -> int:
        with self.db.lock:
            return sum(self.db.queue.pop(i, None) is not None for i in set(ids))

    def latest_scores(self, mention_ids: Sequence[int]) -> dict[int, Score]:
        wanted = set(mention_ids)
        with self.db.lock:
            best: dict[int, tuple[int, Score]] = {}
            for (mid, _), (row, score) in self.db.scores.items():
                if mid in wanted and (mid not in best or row > best[mid][0]):
                    best[mid] = (row, score)
            return {mid: score for mid, (_, score) in best.items()}

    def mentions(self, ids: Sequence[int]) -> list[StoredMention]:
        with self.db.lock:
            return [self.db.mentions[i] for i in sorted(set(ids)) if i in self.db.mentions]

    def find_mention(self, source: str, external_id: str) -> StoredMention | None:
        with self.db.lock:
            found = self.db.identities.get((source, external_id))
            return self.db.mentions[found] if found is not None else None

    def first_reply(
        self, source: str, external_id: str, *, authors: Collection[str]
    ) -> StoredMention | None:
        names = {a.lower() for a in authors}
        with self.db.lock:
            replies = [
                s
                for s in self.db.mentions.values()
                if s.mention.source == source
                and s.mention.in_reply_to == external_id
                and s.mention.author.lower() in names
            ]
        return min(replies, key=lambda s: s.mention.created_at, default=None)

    def iter_mentions(
        self, *, brand: str | None = None, since: datetime | None = None
    ) -> Iterator[StoredMention]:
        with self.db.lock:
            rows = [
                s
                for s in self.db.mentions.values()
                if (brand is None or s.mention.brand == brand)
                and (since is None or s.mention.created_at >= since)
            ]
        yield from sorted(rows, key=lambda s: (s.mention.created_at, s.id))

    def export(self, *, brand: str, since: datetime | None = None) -> Iterator[ExportRow]:
        rows = list(self.iter_mentions(brand=brand, since=since))
        latest = self.latest_scores([r.id for r in rows])
        for row in rows:
            yield ExportRow(mention=row, score=latest.get(row.id))

    def trend(
        self, *, brand: str, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[TrendPoint]:
        rows = [
            s for s in self.iter_mentions(brand=brand, since=since) if s.mention.created_at < until
        ]
        latest = self.latest_scores([r.id for r in rows])
        buckets: dict[int, Counter[str]] = {}
        for row in rows:
            bucket = int(row.mention.created_at.timestamp() // bucket_seconds)
            counts = buckets.setdefault(bucket, Counter())
            counts["volume"] += 1
            score = latest.get(row.id)
            if score is not None:
                counts[score.sentiment.label] += 1
                if score.sentiment.label == "negative" and score.sentiment.anger >= 0.5:
                    counts["angry"] += 1
        return [
            TrendPoint(
                brand=brand,
                bucket_start=datetime.fromtimestamp(b * bucket_seconds, tz=since.tzinfo),
                volume=c["volume"],
                angry=c["angry"],
                **{label: c[label] for label in LABELS},
            )
            for b, c in sorted(buckets.items())
        ]

    def counts(self) -> dict[str, int]:
        with self.db.lock:
            return {
                "mentions": len(self.db.mentions),
                "scores": len(self.db.scores),
                "quarantined": len(self.db.quarantined),
                "alerts": len(self.db.alerts),
            }


class MemoryOutbox:
    """``ports.Outbox`` in memory, over the same ``MemoryDb`` as a MemoryStore."""

    def __init__(self, db: MemoryDb) -> None:
        self.db = db

    def add_alerts(self, alerts: Sequence[NewAlert], *, now: datetime | None = None) -> int:
        with self.db.lock:
            return self.db.insert_alerts(alerts, now or utcnow())

    def _due(self, a: Alert, now: datetime) -> bool:
        if a.status == "pending":
            return a.next_attempt_at is None or a.next_attempt_at <= now
        return a.status == "sending" and a.next_attempt_at is not None and a.next_attempt_at <= now

    def due(self, now: datetime, limit: int, *, ids: Sequence[int] | None = None) -> list[Alert]:
        wanted = set(ids) if ids is not None else None
        with self.db.lock:
            rows = [
                a
                for key, a in sorted(self.db.alerts.items())
                if self._due(a, now) and (wanted is None or key in wanted)
            ]
            return rows[:limit]

    def claim(self, alert_id: int, *, now: datetime, lease: timedelta) -> Claim | None:
        with self.db.lock:
            row = self.db.alerts.get(alert_id)
            if row is None or not self._due(row, now):
                return None
            until = now + lease
            self.db.alerts[alert_id] = replace(row, status="sending", next_attempt_at=until)
            return Claim(alert_id=alert_id, until=until, in_doubt=row.status == "sending")

    def _transition(self, claim: Claim, **values: Any) -> bool:
        with self.db.lock:
            row = self.db.alerts.get(claim.alert_id)
            if row is None or row.status != "sending" or row.next_attempt_at != claim.until:
                return False
            if values.pop("attempt", False):
                values["attempts"] = row.attempts + 1
            self.db.alerts[claim.alert_id] = replace(row, **values)
            return True

    def mark_sent(self, claim: Claim, at: datetime, *, error: str | None = None) -> bool:
        return self._transition(
            claim, status="sent", sent_at=at, next_attempt_at=None, last_error=error
        )

    def mark_delivered(self, claim: Claim, notifier: str) -> bool:
        with self.db.lock:
            row = self.db.alerts.get(claim.alert_id)
            if row is None:
                return False
            done = [str(n) for n in row.details.get("delivered_to", [])]
            details = {**row.details, "delivered_to": [*done, notifier]}
            if notifier in done:
                details["delivered_to"] = done
            return self._transition(claim, details=details)

    def mark_not_delivered(self, claim: Claim, notifier: str, *, error: str) -> bool:
        with self.db.lock:
            row = self.db.alerts.get(claim.alert_id)
            if row is None:
                return False
            refused = {**dict(row.details.get("not_delivered") or {}), notifier: error}
            return self._transition(claim, details={**row.details, "not_delivered": refused})

    def mark_retry(self, claim: Claim, *, next_attempt_at: datetime, error: str) -> bool:
        return self._transition(
            claim, status="pending", attempt=True, next_attempt_at=next_attempt_at, last_error=error
        )

    def mark_uncertain(self, claim: Claim, *, next_attempt_at: datetime, error: str) -> bool:
        return self._transition(
            claim, status="sending", attempt=True, next_attempt_at=next_attempt_at, last_error=error
        )

    def mark_failed(self, claim: Claim, *, error: str) -> bool:
        return self._transition(
            claim, status="failed", attempt=True, next_attempt_at=None, last_error=error
        )

    def ack(self, alert_id: int, *, by: str, at: datetime) -> Alert:
        with self.db.lock:
            if alert_id not in self.db.alerts:
                raise ListenerError(f"no alert with id {alert_id} (see: listener alerts list)")
            for key, row in list(self.db.alerts.items()):
                if (key == alert_id or row.digest_id == alert_id) and row.acked_at is None:
                    self.db.alerts[key] = replace(row, acked_at=at, acked_by=by)
            return self.db.alerts[alert_id]

    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        with self.db.lock:
            mention = self.db.identities.get((source, external_id))
            updated = 0
            for key, row in list(self.db.alerts.items()):
                if mention is not None and row.mention_id == mention and row.acked_at is None:
                    self.db.alerts[key] = replace(row, acked_at=at, acked_by=by)
                    updated += 1
            return updated

    def _storm_rows(self, brand: str) -> list[Alert]:
        return [
            a
            for _, a in sorted(self.db.alerts.items())
            if a.brand == brand and a.kind == "mention" and a.status == "pending"
        ]

    def storm_pending(self, now: datetime) -> dict[str, int]:
        with self.db.lock:
            found: Counter[str] = Counter(
                a.brand
                for a in self.db.alerts.values()
                if a.kind == "mention" and a.status == "pending" and self._due(a, now)
            )
            return dict(found)

    def defer_storm(self, brand: str, *, now: datetime, until: datetime) -> int:
        with self.db.lock:
            rows = [a for a in self._storm_rows(brand) if self._due(a, now)]
            for a in rows:
                self.db.alerts[a.id] = replace(a, next_attempt_at=until)
            return len(rows)

    def fold_storm(
        self, brand: str, *, now: datetime, examples: int, digest: Callable[[Storm], NewAlert]
    ) -> Alert | None:
        with self.db.lock:
            rows = self._storm_rows(brand)
            if not rows:
                return None

            def weight(a: Alert) -> float:
                reach = float(a.details.get("reach") or 0.0)
                return (reach + 1.0) * float(a.details.get("anger") or 0.0)

            ranked = sorted(
                (a for a in rows if a.mention_id is not None), key=lambda a: (-weight(a), a.id)
            )
            sources = Counter(
                self.db.mentions[a.mention_id].mention.source
                for a in rows
                if a.mention_id is not None and a.mention_id in self.db.mentions
            )
            storm = Storm(
                brand=brand,
                count=len(rows),
                first_id=rows[0].id,
                first_at=min(a.created_at for a in rows),
                last_at=max(a.created_at for a in rows),
                examples=[a.mention_id for a in ranked[:examples] if a.mention_id is not None],
                by_source=dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
            )
            new = digest(storm)
            self.db.insert_alerts([new], now)
            digest_id = self.db.keys[new.dedupe_key]
            for a in rows:
                self.db.alerts[a.id] = replace(
                    a, status="digested", digest_id=digest_id, next_attempt_at=None
                )
            return self.db.alerts[digest_id]

    def storm_state(self, brand: str, *, since: datetime) -> tuple[int, datetime | None]:
        with self.db.lock:
            recent = sum(
                1
                for a in self.db.alerts.values()
                if a.brand == brand
                and a.kind == "mention"
                and a.created_at >= since
                and a.status in ("sent", "sending", "digested")
            )
            digests = [
                a.created_at
                for a in self.db.alerts.values()
                if a.brand == brand and a.kind == "digest"
            ]
            return recent, max(digests, default=None)

    def stats(self, *, since: datetime) -> dict[str, dict[str, Any]]:
        """As ``SqlOutbox.stats``: per brand, counts by kind and status and response times."""
        out: dict[str, dict[str, Any]] = {}
        with self.db.lock:
            rows = [a for _, a in sorted(self.db.alerts.items()) if a.created_at >= since]
            for a in rows:
                entry = out.setdefault(a.brand, _stats_entry())
                entry["by_kind"][a.kind] = entry["by_kind"].get(a.kind, 0) + 1
                entry["by_status"][a.status] = entry["by_status"].get(a.status, 0) + 1
                entry["total"] += 1
            for a in rows:
                if a.acked_at is None:
                    continue
                mention = self.db.mentions.get(a.mention_id) if a.mention_id else None
                started = mention.mention.created_at if mention else a.created_at
                seconds = max((a.acked_at - started).total_seconds(), 0.0)
                out[a.brand]["response_seconds"].append(seconds)
        return out

    def get(self, alert_id: int) -> Alert | None:
        with self.db.lock:
            return self.db.alerts.get(alert_id)

    def list(
        self,
        *,
        status: AlertStatus | Sequence[AlertStatus] | None = None,
        brand: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
        digest_id: int | None = None,
        limit: int | None = None,
    ) -> list[Alert]:
        statuses = {status} if isinstance(status, str) else set(status or ())
        with self.db.lock:
            rows = [
                a
                for _, a in sorted(self.db.alerts.items(), reverse=True)
                if (not statuses or a.status in statuses)
                and (brand is None or a.brand == brand)
                and (since is None or a.created_at >= since)
                and (kind is None or a.kind == kind)
                and (digest_id is None or a.digest_id == digest_id)
            ]
        return rows[:limit] if limit is not None else rows


def _stats_entry() -> dict[str, Any]:
    return {"total": 0, "by_kind": {}, "by_status": {}, "response_seconds": []}


def memory_pair() -> tuple[MemoryStore, MemoryOutbox]:
    """A MemoryStore and a MemoryOutbox over one shared MemoryDb."""
    db = MemoryDb()
    return MemoryStore(db), MemoryOutbox(db)
