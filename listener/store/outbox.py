"""The alert outbox on SQLAlchemy Core over the ``alerts`` table (SQLite and PostgreSQL).

Delivery guarantee
------------------
A row moves ``pending -> sending -> sent | pending (retry) | failed``; mention rows folded into a
digest move ``pending -> digested``. Every transition is one conditional UPDATE, so it is
idempotent and two dispatchers never both own a row:

* ``claim`` records the attempt BEFORE the post: the row turns ``sending`` with a lease
  (``next_attempt_at`` = lease end) and only one caller gets the ``Claim``. The lease end is the
  attempt's id: a later claim of the row always ends later, and every ``mark_*`` applies only
  while the row still carries its claim's lease end, so a dispatcher that lost its row (its lease
  ran out) cannot overwrite what the next attempt recorded.
* ``mark_sent`` commits right after Slack accepts; a ``sent`` row is never due again. With several
  notifiers each one's outcome is noted on the row as it comes (``mark_delivered``,
  ``mark_not_delivered``), so a retry goes only to those still owed the alert.
* An attempt whose outcome is unknown stays ``sending``: the client timed out after the request
  went out (``mark_uncertain``), or the process died (SIGKILL, a full disk) between the post and
  ``mark_sent``. When its lease is over the row is due again and its next claim is ``in_doubt``:
  the dispatcher first asks Slack whether the message is there (it carries the alert's key in its
  metadata) and posts only if it is not. So a message is repeated only when Slack cannot be asked
  (a webhook, a bot without the history scope) or takes longer than the lease to record it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, and_, func, or_, select, update

from listener.domain import Alert, AlertKind, AlertStatus, NewAlert, as_utc, utcnow
from listener.errors import ListenerError
from listener.ports import Claim, Storm
from listener.store.dialect import insert_for
from listener.store.rollups import Tracker, alert_contributions, apply, lock
from listener.store.schema import alerts, mentions
from listener.store.storm import pending_due, storm_rows, summarize_storm


def insert_alerts(conn: Connection, new: Sequence[NewAlert], *, now: datetime) -> int:
    """Insert ``new`` inside the caller's transaction; an existing dedupe_key is a no-op.

    The Store's ``add_scores`` calls this so alerts commit with the scores that caused them.
    Returns the number of rows inserted.
    """
    return len(insert_alert_ids(conn, new, now=now))


def insert_alert_ids(conn: Connection, new: Sequence[NewAlert], *, now: datetime) -> list[int]:
    """As ``insert_alerts``; returns the ids of the rows inserted."""
    if not new:
        return []
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
    lock(conn)  # the alert rollups (listener.store.rollups) follow in this transaction
    stmt = insert_for(conn, alerts).on_conflict_do_nothing(index_elements=["dedupe_key"])
    # RETURNING tells what was inserted on both databases (rowcount is unreliable here)
    ids = [int(r[0]) for r in conn.execute(stmt.returning(alerts.c.id), rows)]
    apply(conn, alert_contributions(conn, ids))
    return ids


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

    def claim(self, alert_id: int, *, now: datetime, lease: timedelta) -> Claim | None:
        """Take a due row for one delivery attempt (status 'sending' until ``now + lease``).

        The Claim only for the one caller that got it; None if it was sent, failed, folded, not
        due or claimed by someone else whose lease still runs. A row that was left 'sending' (a
        crash, ``mark_uncertain``) is claimed ``in_doubt``: the message may be out already.
        """
        until = now + lease
        with self._engine.begin() as conn:
            seen = conn.execute(
                select(alerts.c.status, alerts.c.next_attempt_at).where(
                    alerts.c.id == alert_id, self._due_clause(now)
                )
            ).one_or_none()
            if seen is None:
                return None
            # compare-and-set on what was read: of two racing callers only one matches
            won = conn.execute(
                update(alerts)
                .where(
                    alerts.c.id == alert_id,
                    alerts.c.status == seen.status,
                    alerts.c.next_attempt_at.is_not_distinct_from(seen.next_attempt_at),
                )
                .values(status="sending", next_attempt_at=until)
            ).rowcount
        if won != 1:
            return None
        return Claim(alert_id=alert_id, until=until, in_doubt=seen.status == "sending")

    def mark_sent(self, claim: Claim, at: datetime, *, error: str | None = None) -> bool:
        """Record delivery; the alert is never sent again (``error``: why part of its route
        did not get it)."""
        return self._transition(
            claim, status="sent", sent_at=at, next_attempt_at=None, last_error=error
        )

    def mark_delivered(self, claim: Claim, notifier: str) -> bool:
        """One notifier of the alert's route delivered it: recorded in ``details``
        (``delivered_to``), so a retry goes to the other notifiers only."""

        def add(details: dict[str, Any]) -> None:
            done = [str(n) for n in details.get("delivered_to", [])]
            if notifier not in done:
                details["delivered_to"] = [*done, notifier]

        return self._note(claim, add)

    def mark_not_delivered(self, claim: Claim, notifier: str, *, error: str) -> bool:
        """One notifier of the route refused the alert for good (or was given up on): recorded
        in ``details`` (``not_delivered``: notifier -> why), so a retry skips it."""

        def add(details: dict[str, Any]) -> None:
            details["not_delivered"] = {**dict(details.get("not_delivered") or {}), notifier: error}

        return self._note(claim, add)

    def mark_retry(self, claim: Claim, *, next_attempt_at: datetime, error: str) -> bool:
        """Not delivered: attempts += 1; pending again, try at ``next_attempt_at``."""
        return self._transition(
            claim,
            status="pending",
            attempts=alerts.c.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )

    def mark_uncertain(self, claim: Claim, *, next_attempt_at: datetime, error: str) -> bool:
        """Outcome unknown: attempts += 1; stays 'sending' (in doubt) until ``next_attempt_at``."""
        return self._transition(
            claim,
            status="sending",
            attempts=alerts.c.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )

    def mark_failed(self, claim: Claim, *, error: str) -> bool:
        """attempts += 1; status failed with the reason; never tried again."""
        return self._transition(
            claim,
            status="failed",
            attempts=alerts.c.attempts + 1,
            next_attempt_at=None,
            last_error=error,
        )

    def defer_storm(self, brand: str, *, now: datetime, until: datetime) -> int:
        """Postpone the brand's due pending mention alerts to ``until`` (storm control holds
        them for the next digest); no attempt counted. Returns the number postponed."""
        stmt = (
            update(alerts).where(storm_rows(brand), pending_due(now)).values(next_attempt_at=until)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def fold_storm(
        self, brand: str, *, now: datetime, examples: int, digest: Callable[[Storm], NewAlert]
    ) -> Alert | None:
        """In ONE transaction: sum up EVERY pending mention alert of ``brand`` (count, sources,
        time span, the top ``examples`` by reach × anger), insert the digest alert ``digest``
        builds from that summary, and mark those rows 'digested' with its id. Returns the
        digest, or None when none was pending (another dispatcher folded or sent them)."""
        with self._engine.connect() as conn, conn.begin() as txn:
            storm, last_id = summarize_storm(conn, brand, examples=examples)
            if storm is None:
                return None
            new = digest(storm)
            inserted = insert_alerts(conn, [new], now=now)
            digest_row = conn.execute(
                select(alerts).where(alerts.c.dedupe_key == new.dedupe_key)
            ).one()
            folded = conn.execute(
                update(alerts)
                .where(storm_rows(brand), alerts.c.id <= last_id)
                .values(status="digested", digest_id=digest_row.id, next_attempt_at=None)
            ).rowcount
            if inserted and not folded:
                txn.rollback()
                return None
            if inserted and folded != storm.count:  # some were taken meanwhile
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
            _track_acks(conn, and_(targets, alerts.c.acked_at.is_(None)), at=at, by=by)
            return _alert(conn.execute(select(alerts).where(alerts.c.id == alert_id)).one())

    def record_reply(self, source: str, external_id: str, *, by: str, at: datetime) -> int:
        """The brand's own account replied to mention (source, external_id): record it as the
        first response on its alerts that have none yet. Returns alerts updated."""
        mention_ids = select(mentions.c.id).where(
            mentions.c.source == source, mentions.c.external_id == external_id
        )
        where = and_(alerts.c.mention_id.in_(mention_ids), alerts.c.acked_at.is_(None))
        with self._engine.begin() as conn:
            return _track_acks(conn, where, at=at, by=by)

    # -- reads --------------------------------------------------------------------------------

    def due(self, now: datetime, limit: int, *, ids: Sequence[int] | None = None) -> list[Alert]:
        """Pending alerts whose next attempt is due at ``now`` (and 'sending' rows whose lease
        expired: a dispatcher died holding them), oldest first; only those of ``ids`` if given."""
        stmt = select(alerts).where(self._due_clause(now))
        if ids is not None:
            stmt = stmt.where(alerts.c.id.in_(sorted(set(ids))[:limit]))
        stmt = stmt.order_by(alerts.c.id).limit(limit)
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

    def storm_pending(self, now: datetime) -> dict[str, int]:
        """Per brand: pending mention alerts due at ``now`` (storm control's input)."""
        stmt = (
            select(alerts.c.brand, func.count())
            .where(alerts.c.kind == "mention", pending_due(now))
            .group_by(alerts.c.brand)
        )
        with self._engine.connect() as conn:
            return {str(brand): int(n) for brand, n in conn.execute(stmt)}

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
            pending_due(now),
            and_(alerts.c.status == "sending", alerts.c.next_attempt_at <= now),
        )

    def _note(self, claim: Claim, change: Callable[[dict[str, Any]], None]) -> bool:
        """Apply ``change`` to the row's details while ``claim`` is its latest attempt."""
        guard = (
            alerts.c.id == claim.alert_id,
            alerts.c.status == "sending",
            alerts.c.next_attempt_at == claim.until,
        )
        with self._engine.begin() as conn:
            row = conn.execute(select(alerts.c.details).where(*guard).with_for_update()).first()
            if row is None:
                return False
            details = dict(row.details or {})
            change(details)
            return conn.execute(update(alerts).where(*guard).values(details=details)).rowcount == 1

    def _transition(self, claim: Claim, **values: Any) -> bool:
        stmt = (
            update(alerts)
            .where(
                alerts.c.id == claim.alert_id,
                alerts.c.status == "sending",
                alerts.c.next_attempt_at == claim.until,
            )
            .values(**values)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1


def _track_acks(conn: Connection, where: Any, *, at: datetime, by: str) -> int:
    """Record a first response on the alerts ``where`` selects, response-time rollups too."""
    lock(conn)
    ids = list(conn.execute(select(alerts.c.id).where(where)).scalars())
    if not ids:
        return 0
    tracker = Tracker(conn, alert_ids=ids)
    conn.execute(
        update(alerts)
        .where(alerts.c.id.in_(ids), alerts.c.acked_at.is_(None))
        .values(acked_at=at, acked_by=by)
    )
    tracker.finish()
    return len(ids)


def _empty_stats() -> dict[str, Any]:
    return {"total": 0, "by_kind": {}, "by_status": {}, "response_seconds": []}
