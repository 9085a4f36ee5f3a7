"""Storm queries of the alert outbox: a brand's pending mention alerts, summed up in SQL so a
digest covers all of them however many there are (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from listener.domain import as_utc
from listener.ports import Storm
from listener.store.schema import alerts, mentions


def pending_due(now: datetime) -> Any:
    """Pending rows whose next attempt is due at ``now``."""
    return and_(
        alerts.c.status == "pending",
        or_(alerts.c.next_attempt_at.is_(None), alerts.c.next_attempt_at <= now),
    )


def storm_rows(brand: str) -> Any:
    """The brand's pending mention alerts (due or held for the next digest)."""
    return and_(alerts.c.brand == brand, alerts.c.kind == "mention", alerts.c.status == "pending")


def summarize_storm(conn: Connection, brand: str, *, examples: int) -> tuple[Storm | None, int]:
    """The brand's pending mention alerts summed up in SQL (any number of rows), and the
    highest id summed up; (None, 0) when there are none."""
    rows = storm_rows(brand)
    head = conn.execute(
        select(
            func.count(),
            func.min(alerts.c.id),
            func.max(alerts.c.id),
            func.min(alerts.c.created_at),
            func.max(alerts.c.created_at),
        ).where(rows)
    ).one()
    count, first_id, last_id, first_at, last_at = head
    if not count:
        return None, 0
    reach = func.coalesce(alerts.c.details["reach"].as_float(), 0.0)
    anger = func.coalesce(alerts.c.details["anger"].as_float(), 0.0)
    top = conn.execute(
        select(alerts.c.mention_id)
        .where(rows, alerts.c.id <= last_id, alerts.c.mention_id.is_not(None))
        .order_by(((reach + 1.0) * anger).desc(), alerts.c.id)
        .limit(examples)
    ).scalars()
    by_source = conn.execute(
        select(mentions.c.source, func.count())
        .select_from(alerts.join(mentions, mentions.c.id == alerts.c.mention_id))
        .where(rows, alerts.c.id <= last_id)
        .group_by(mentions.c.source)
        .order_by(func.count().desc(), mentions.c.source)
    )
    storm = Storm(
        brand=brand,
        count=int(count),
        first_id=int(first_id),
        first_at=as_utc(first_at),
        last_at=as_utc(last_at),
        examples=[int(m) for m in top],
        by_source={str(source): int(n) for source, n in by_source},
    )
    return storm, int(last_id)
