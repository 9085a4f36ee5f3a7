"""Storing one collector batch: mentions, quarantine and cursor in ONE transaction.

A mention the store cannot hold (``limits.unstorable``) is quarantined before the insert. When
the database still refuses the batch because of a row (a value it will not take), the batch is
written again row by row, each row under a SAVEPOINT: the rows it refuses are quarantined with
the database's reason and the rest is stored, with the cursor, in the same transaction. A
failure of the database itself (full, read-only, unreachable: ``failures.py``) or of the schema
is a StoreError at once: retrying row by row could not help, and must not quarantine good rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    SQLAlchemyError,
    StatementError,
)

from listener.domain import Batch, BrandQuery, Mention, Quarantined, utcnow
from listener.errors import StoreError
from listener.store.dialect import insert_for
from listener.store.failures import detail
from listener.store.limits import MAX_INT, MAX_LENGTHS, MIN_INT, unstorable
from listener.store.rollups import apply, lock, mention_contributions
from listener.store.schema import cursors, mention_brands, mentions, quarantine, score_queue

log = logging.getLogger(__name__)

CHUNK = 500
OnQueued = Callable[[Connection, list[int]], None]
"""Called inside a batch's transaction with the ids of its new mentions, once they are queued
for scoring (scale-out: the scoring jobs are enqueued in that same transaction)."""
_CAUGHT = (SQLAlchemyError, ValueError, TypeError, OverflowError)


def row_error(exc: BaseException) -> bool:
    """Whether ``exc`` is about the rows at hand (a value, a constraint) rather than the
    database or the schema: only such an error makes the batch go row by row."""
    if isinstance(exc, IntegrityError | DataError | ValueError | TypeError | OverflowError):
        return True  # sqlite3 raises a bare OverflowError for an integer over 64 bits
    # a value the driver could not even bind (a JSON serialiser error, ...)
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_batch(
    engine: Engine,
    source: str,
    query: BrandQuery,
    batch: Batch,
    *,
    on_queued: OnQueued | None = None,
) -> int:
    """Store ``batch`` (see the module docstring) and queue its new mentions for scoring, in
    one transaction; returns the number of new mentions."""
    now = utcnow()
    rows: list[tuple[Mention, dict[str, Any]]] = []
    bad = list(batch.quarantined)
    for mention in batch.mentions:
        problem = unstorable(mention)
        if problem is None:
            rows.append((mention, _mention_row(mention, now)))
        else:
            bad.append(_refused(source, query, mention, problem, now))
    writer = _Writer(source=source, query=query, cursor=batch.cursor, now=now, on_queued=on_queued)
    try:
        with engine.begin() as conn:
            return writer.all_at_once(conn, rows, bad)
    except _CAUGHT as exc:
        if not row_error(exc):
            raise _failed(engine, source, query, exc) from exc
        log.warning(
            "%s/%s: the database refused the batch (%s); storing it row by row",
            source,
            query.brand,
            detail(exc, password=engine.url.password),
        )
    try:
        with engine.begin() as conn:
            added, refused = writer.row_by_row(conn, rows, bad, password=engine.url.password)
    except _CAUGHT as exc:
        raise _failed(engine, source, query, exc) from exc
    for item in refused:
        log.warning("%s/%s: quarantined %s: %s", source, query.brand, item.location, item.reason)
    return added


def link_brand(conn: Connection, source: str, brand: str, external_ids: Sequence[str]) -> int:
    """Record that the stored mentions (source, external_ids) belong to ``brand`` (a mention
    found by two brands' queries belongs to both) and count the new links in the rollups.
    Returns the number of new links."""
    linked = 0
    for chunk in chunks(sorted(set(external_ids))):
        found = conn.execute(
            select(mentions.c.id, mentions.c.created_at, mentions.c.lang).where(
                mentions.c.source == source, mentions.c.external_id.in_(chunk)
            )
        ).all()
        if not found:
            continue
        stmt = insert_for(conn, mention_brands).on_conflict_do_nothing(
            index_elements=["mention_id", "brand"]
        )
        rows = [
            {"mention_id": i, "brand": brand, "created_at": at, "source": source, "lang": lang}
            for i, at, lang in found
        ]
        new = [
            r.mention_id for r in conn.execute(stmt.returning(mention_brands.c.mention_id), rows)
        ]
        if new:
            apply(conn, mention_contributions(conn, new, brand=brand))
        linked += len(new)
    return linked


def _failed(engine: Engine, source: str, query: BrandQuery, exc: BaseException) -> StoreError:
    why = detail(exc, password=engine.url.password)
    return StoreError(f"could not store {source} batch for {query.brand!r}: {why}")


class _Writer:
    def __init__(
        self,
        *,
        source: str,
        query: BrandQuery,
        cursor: str | None,
        now: datetime,
        on_queued: OnQueued | None,
    ):
        self.source, self.query, self.cursor, self.now = source, query, cursor, now
        self.on_queued = on_queued

    def all_at_once(
        self, conn: Connection, rows: Sequence[tuple[Mention, dict[str, Any]]], bad: list[Any]
    ) -> int:
        lock(conn)  # rollups: the new mentions' volume is counted in this transaction
        ids: list[int] = []
        for chunk in chunks([row for _, row in rows]):
            ids += [r[0] for r in conn.execute(self._insert(conn), list(chunk))]
        self._finish(conn, bad, ids)
        link_brand(conn, self.source, self.query.brand, [m.external_id for m, _ in rows])
        return len(ids)

    def row_by_row(
        self,
        conn: Connection,
        rows: Sequence[tuple[Mention, dict[str, Any]]],
        bad: list[Quarantined],
        *,
        password: str | None,
    ) -> tuple[int, list[Quarantined]]:
        # A write first, so that SQLite's transaction is open before the first SAVEPOINT
        # (pysqlite begins it lazily, and a SAVEPOINT outside one would commit on release).
        self._save_cursor(conn)
        lock(conn)
        ids: list[int] = []
        refused = []
        for mention, row in rows:
            try:
                with conn.begin_nested():
                    ids += [r[0] for r in conn.execute(self._insert(conn), row)]
            except _CAUGHT as exc:
                if not row_error(exc):
                    raise
                reason = f"the database refused it: {detail(exc, password=password)}"
                refused.append(_refused(self.source, self.query, mention, reason, self.now))
        self._finish(conn, bad + refused, ids)
        link_brand(conn, self.source, self.query.brand, [m.external_id for m, _ in rows])
        return len(ids), refused

    def _insert(self, conn: Connection) -> Any:
        stmt = insert_for(conn, mentions).on_conflict_do_nothing(
            index_elements=["source", "external_id"]
        )
        return stmt.returning(mentions.c.id)

    def _finish(self, conn: Connection, bad: Sequence[Quarantined], ids: list[int]) -> None:
        if ids:
            queued = [{"mention_id": i, "queued_at": self.now} for i in ids]
            for chunk in chunks(queued):
                conn.execute(score_queue.insert(), list(chunk))
            if self.on_queued is not None:
                self.on_queued(conn, ids)
        if bad:
            conn.execute(quarantine.insert(), [_quarantine_row(q, self.now) for q in bad])
        self._save_cursor(conn)

    def _save_cursor(self, conn: Connection) -> None:
        values: dict[str, Any] = {
            "query": self.query.query,
            "failures": 0,
            "retry_at": None,
            "last_error": None,
            "updated_at": self.now,
        }
        if self.cursor is not None:
            values["cursor"] = self.cursor
        upsert = insert_for(conn, cursors).values(
            source=self.source, brand=self.query.brand, **values
        )
        conn.execute(upsert.on_conflict_do_update(index_elements=["source", "brand"], set_=values))


def _mention_row(mention: Mention, collected_at: datetime) -> dict[str, Any]:
    return {
        "source": mention.source,
        "external_id": mention.external_id,
        "brand": mention.brand,
        "text": mention.text,
        "author": mention.author,
        "author_reach": mention.author_reach,
        "engagement": mention.engagement,
        "url": mention.url,
        "lang": mention.lang,
        "in_reply_to": mention.in_reply_to,
        "repost_of": mention.repost_of,
        "created_at": mention.created_at,
        "collected_at": collected_at,
        "raw": dict(mention.raw),
    }


def _refused(
    source: str, query: BrandQuery, mention: Mention, reason: str, now: datetime
) -> Quarantined:
    row = _mention_row(mention, now)
    try:
        payload = json.dumps(row, default=str, ensure_ascii=True)
    except (ValueError, TypeError, RecursionError):  # the raw payload or a huge integer
        shown = {k: _shown(v) for k, v in row.items() if k != "raw"}
        payload = json.dumps(shown, default=str, ensure_ascii=True)
    return Quarantined(
        source=source,
        brand=query.brand,
        reason=reason,
        payload=payload,
        location=f"id {mention.external_id[:200]!r}",
    )


def _shown(value: Any) -> Any:
    if isinstance(value, int) and not MIN_INT <= value <= MAX_INT:
        return f"<a {value.bit_length()}-bit integer>"
    return value


def _text(value: str) -> str:
    """``value`` as any database takes it: NUL and lone surrogates written as escapes."""
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _quarantine_row(item: Quarantined, now: datetime) -> dict[str, Any]:
    return {
        "source": _text(item.source)[: MAX_LENGTHS["source"]],
        "brand": _text(item.brand)[: MAX_LENGTHS["brand"]],
        "location": _text(item.location),
        "reason": _text(item.reason),
        "payload": _text(item.payload),
        "created_at": now,
    }
