"""The alert outbox on SQLAlchemy Core over the ``alerts`` table (SQLite and PostgreSQL).

Delivery guarantee
------------------
A row moves ``pending -> sending -> sent | pending (retry) | failed``; mention rows folded into a
digest move ``pending -> digested``. Every transition is one conditional UPDATE (``WHERE status
IN ...``), so it is idempotent and two dispatchers never both own a row:

* ``claim`` turns a due row into ``sending`` with a lease (``next_attempt_at`` = lease end) and
  only one caller gets ``rowcount == 1``. The dispatcher calls Slack only for rows it claimed.
* ``mark_sent`` commits right after Slack accepts; a ``sent`` row is never due again, across
  reruns and restarts.
* A crash between ``claim`` and ``mark_*`` leaves the row ``sending``; when its lease expires it is
  due again. This is the one window where a message can be repeated: if the crash happened after
  Slack accepted the message but before ``mark_sent`` committed. Slack's ``chat.postMessage``
  has no idempotency key, so we chose at-least-once over losing an alert there; since a
  dispatcher holds one row in flight at a time, a crash repeats at most one message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, and_, func, or_, select, update

from listener.domain import Alert, AlertKind, AlertStatus, NewAlert, as_utc, utcnow
from listener.errors import ListenerError
from listener.store.dialect import insert_for
from listener.store.schema import alerts, mentions

_OPEN = ("pending", "sending")


def insert_alerts(conn: Connection, new: Sequence[NewAlert], *, now: datetime) -> int:
    """Insert ``new`` inside the caller's transaction; an existing dedupe_key is a no-op.

    The Store's ``add_scores`` calls this so alerts commit with the scores that caused them.
    Returns the number of rows inserted.
    """
    if not new:
        return 0
    rows = [
        {
            "kind": a.kind,
            "brand": a.brand,
            "dedupe_key": a.dedupe_key,
            "status": "pending",
            "reason": a.reason,
            "mention_id": a.mention_id,
            "details": dict(a.details),
            "attempts": 0,
            "created_at": now,
        }
        for a in new
    ]
    stmt = insert_for(conn, alerts).on_conflict_do_nothing(index_elements=["dedupe_key"])
    # RETURNING counts what was inserted on both databases (rowcount is unreliable here)
    return len(conn.execute(stmt.returning(alerts.c.id), rows).all())


def _alert(row: Row[Any]) -> Alert:
    m = row._mapping
    return Alert(
        id=int(m["id"]),
        kind=cast(AlertKind, m["kind"]),
        brand=m["brand"],
        dedupe_key=m["dedupe_key"],
        status=cast(AlertStatus, m["status"]),
        reason=m["reason"],
        created_at=m["created_at"],
        mention_id=m["mention_id"],
        details=dict(m["details"] or {}),
        attempts=int(m["attempts"]),
        next_attempt_at=m["next_attempt_at"],
        sent_at=m["sent_at"],
        last_error=m["last_error"],
        acked_at=m["acked_at"],
        acked_by=m["acked_by"],
        digest_id=m["digest_id"],
    )


class SqlOutbox:
    """``ports.Outbox`` over the ``alerts`` table, plus claiming, storm and stats queries."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- writes -------------------------------------------------------------------------------

    def add_alerts(self, alerts_: Sequence[NewAlert], *, now: datetime | None = None) -> int:
        """Insert alerts; an existing dedupe_key is a no-op. Returns the number inserted."""
        with self._engine.begin() as conn:
            return insert_alerts(conn, alerts_, now=now or utcnow())

    def claim(self, alert_id: int, *, now: datetime, lease: timedelta) -> bool:
        """Take a due row for delivery (status 'sending' until ``now + lease``).

        True only for the one caller that got it; False if it was sent, failed, folded, not due
        or claimed by someone else whose lease still runs.
        """
        stmt = (
            update(alerts)
            .where(alerts.c.id == alert_id, self._due_clause(now))
            .values(status="sending", next_attempt_at=now + lease)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def mark_sent(self, alert_id: int, at: datetime) -> None:
        """Record delivery; the alert is never sent again."""
        self._transition(alert_id, status="sent", sent_at=at, next_attempt_at=None, last_error=None)

    def mark_retry(self, alert_id: int, *, next_attempt_at: datetime, error: str) -> None:
        """attempts += 1; try again at ``next_attempt_at``."""
        self._transition(
            alert_id,
            status="pending",
            attempts=alerts.c.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )

    def mark_failed(self, alert_id: int, *, error: str) -> None:
        """attempts += 1; status failed with the reason; never tried again."""
        self._transition(
            alert_id,
            status="failed",
            attempts=alerts.c.attempts + 1,
            next_attempt_at=None,
            last_error=error,
        )

    def defer(self, alert_ids: Iterable[int], *, until: datetime) -> int:
        """Postpone pending rows (storm control holding them for the next digest); no attempt."""
        ids = list(alert_ids)
        if not ids:
            return 0
        stmt = (
            update(alerts)
            .where(alerts.c.id.in_(ids), alerts.c.status == "pending")
            .values(next_attempt_at=until)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def fold(self, alert_ids: Sequence[int], digest: NewAlert, *, now: datetime) -> Alert | None:
        """In ONE transaction: insert the ``digest`` alert (pending) and mark the still-pending
        rows of ``alert_ids`` 'digested' with its id. Returns the digest, or None when none of
        the rows was still pending (another dispatcher folded or sent them)."""
        with self._engine.connect() as conn, conn.begin() as txn:
            inserted = insert_alerts(conn, [digest], now=now)
            digest_row = conn.execute(
                select(alerts).where(alerts.c.dedupe_key == digest.dedupe_key)
            ).one()
            folded = conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(alert_ids)), alerts.c.status == "pending")
                .values(status="digested", digest_id=digest_row.id, next_attempt_at=None)
            ).rowcount
            if inserted and not folded:
                txn.rollback()
                return None
            if inserted:
                details = {**dict(digest_row.details or {}), "count": folded}
                conn.execute(
                    update(alerts).where(alerts.c.id == digest_row.id).values(details=details)
                )
            return _alert(conn.execute(select(alerts).where(alerts.c.id == digest_row.id)).one())

    def ack(self, alert_id: int, *, by: str, at: datetime) -> Alert:
        """Record who handled the alert and when (first response; a later ack keeps the first).
        Acking a digest acks the alerts folded into it. Raises ListenerError if unknown."""
        with self._engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one_or_none()
            if row is None:
                raise ListenerError(f"no alert with id {alert_id} (see: listener alerts list)")
            targets = or_(alerts.c.id == alert_id, alerts.c.digest_id == alert_id)
            conn.execute(
                update(alerts)
                .where(targets, alerts.c.acked_at.is_(None))
                .values(acked_at=at, acked_by=by)
            )
            return _alert(conn.execute(select(alerts).where(alerts.c.id == alert_id)).one())

    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        """The brand's own account replied to mention (source, external_id): record it as the
        first response on its alerts that have none yet. Returns alerts updated."""
        mention_ids = select(mentions.c.id).where(
            mentions.c.source == source, mentions.c.external_id == external_id
        )
        stmt = (
            update(alerts)
            .where(alerts.c.mention_id.in_(mention_ids), alerts.c.acked_at.is_(None))
            .values(acked_at=at, acked_by=by)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount

    # -- reads --------------------------------------------------------------------------------

    def due(self, now: datetime, limit: int) -> list[Alert]:
        """Pending alerts whose next attempt is due at ``now`` (and 'sending' rows whose lease
        expired: a dispatcher died holding them), oldest first."""
        stmt = select(alerts).where(self._due_clause(now)).order_by(alerts.c.id).limit(limit)
        with self._engine.connect() as conn:
            return [_alert(r) for r in conn.execute(stmt)]

    def get(self, alert_id: int) -> Alert | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one_or_none()
        return None if row is None else _alert(row)

    def list(
        self,
        *,
        status: AlertStatus | Sequence[AlertStatus] | None = None,
        brand: str | None = None,
        since: datetime | None = None,
        kind: AlertKind | None = None,
        digest_id: int | None = None,
        limit: int | None = None,
    ) -> list[Alert]:
        """Alerts, newest first, filtered (``status`` may be one value or several)."""
        stmt = select(alerts).order_by(alerts.c.id.desc())
        if isinstance(status, str):
            stmt = stmt.where(alerts.c.status == status)
        elif status:
            stmt = stmt.where(alerts.c.status.in_(list(status)))
        if brand is not None:
            stmt = stmt.where(alerts.c.brand == brand)
        if since is not None:
            stmt = stmt.where(alerts.c.created_at >= since)
        if kind is not None:
            stmt = stmt.where(alerts.c.kind == kind)
        if digest_id is not None:
            stmt = stmt.where(alerts.c.digest_id == digest_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._engine.connect() as conn:
            return [_alert(r) for r in conn.execute(stmt)]

    def storm_state(self, brand: str, *, since: datetime) -> tuple[int, datetime | None]:
        """For storm control: mention alerts of ``brand`` created since ``since`` that were sent,
        are being sent or were digested; and when the brand's latest digest was created."""
        recent = select(func.count()).where(
            alerts.c.brand == brand,
            alerts.c.kind == "mention",
            alerts.c.created_at >= since,
            alerts.c.status.in_(["sent", "sending", "digested"]),
        )
        last = select(func.max(alerts.c.created_at)).where(
            alerts.c.brand == brand, alerts.c.kind == "digest"
        )
        with self._engine.connect() as conn:
            count = int(conn.execute(recent).scalar_one())
            latest = conn.execute(last).scalar_one_or_none()
        return count, None if latest is None else as_utc(latest)

    def stats(self, *, since: datetime) -> dict[str, dict[str, Any]]:
        """Per brand: counts by kind and by status, and first-response times in seconds as a
        list, for alerts created since ``since``. A mention alert's response time runs from the
        customer's post (the CX metric); a spike's or digest's from the alert's creation."""
        counts = (
            select(alerts.c.brand, alerts.c.kind, alerts.c.status, func.count())
            .where(alerts.c.created_at >= since)
            .group_by(alerts.c.brand, alerts.c.kind, alerts.c.status)
        )
        started = func.coalesce(mentions.c.created_at, alerts.c.created_at)
        acked = (
            select(alerts.c.brand, started, alerts.c.acked_at)
            .select_from(alerts.outerjoin(mentions, mentions.c.id == alerts.c.mention_id))
            .where(alerts.c.created_at >= since, alerts.c.acked_at.is_not(None))
        )
        out: dict[str, dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for brand, kind, status, n in conn.execute(counts):
                entry = out.setdefault(brand, _empty_stats())
                entry["by_kind"][kind] = entry["by_kind"].get(kind, 0) + int(n)
                entry["by_status"][status] = entry["by_status"].get(status, 0) + int(n)
                entry["total"] += int(n)
            for brand, created, acked_at in conn.execute(acked):
                seconds = (as_utc(acked_at) - as_utc(created)).total_seconds()
                out.setdefault(brand, _empty_stats())["response_seconds"].append(max(seconds, 0.0))
        return out

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _due_clause(now: datetime) -> Any:
        return or_(
            and_(
                alerts.c.status == "pending",
                or_(alerts.c.next_attempt_at.is_(None), alerts.c.next_attempt_at <= now),
            ),
            and_(alerts.c.status == "sending", alerts.c.next_attempt_at <= now),
        )

    def _transition(self, alert_id: int, **values: Any) -> None:
        stmt = (
            update(alerts)
            .where(alerts.c.id == alert_id, alerts.c.status.in_(_OPEN))
            .values(**values)
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)


def _empty_stats() -> dict[str, Any]:
    return {"total": 0, "by_kind": {}, "by_status": {}, "response_seconds": []}
