"""Withdraw the queued alerts of mentions that analysts relabelled: a correction stops an alert
that has not gone out yet.

When an override or a label rule makes a mention's label something other than negative, its
mention alerts that are still ``pending`` and that no notifier has delivered turn
``withdrawn``: the dispatcher never claims them again, and they stay in the log (``listener
alerts list``, the dashboard) with who relabelled them. Alerts that went out (``sent``, being
sent or in doubt as ``sending``, delivered to some of their route), failed, or were folded into
a digest are left as they are: a message cannot be recalled.

A withdrawal is final. Labelling the mention negative again does not bring the alert back: the
moment it was raised for has passed (one alert per mention, ever), a rule removed or re-applied
would otherwise release a burst of stale alerts, and the analyst who set it back is looking at
the mention already.

A withdrawn alert no longer counts as raised in the rollups (``rollups.alert_contributions``),
as an alert the relabelling prevented from being raised at all; ``withdraw_relabelled`` keeps
them current inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select, update

from listener.store.rollups import CHUNK, Tracker
from listener.store.schema import alerts, label_overrides

WITHDRAWN = "withdrawn"


def withdraw_relabelled(conn: Connection, mention_ids: Iterable[int], *, at: datetime) -> list[int]:
    """Inside the caller's transaction (after ``rollups.lock``, the labels of ``mention_ids``
    already changed): withdraw the pending, undelivered mention alerts of those of
    ``mention_ids`` whose override or rule label is not negative. Returns the alert ids."""
    ids = sorted(set(mention_ids))
    found: list[tuple[int, dict[str, object]]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = conn.execute(
            select(alerts.c.id, alerts.c.details, label_overrides.c.label, label_overrides.c.by)
            .join(label_overrides, label_overrides.c.mention_id == alerts.c.mention_id)
            .where(
                alerts.c.mention_id.in_(chunk),
                alerts.c.kind == "mention",
                alerts.c.status == "pending",
                label_overrides.c.label != "negative",
            )
            .with_for_update(of=alerts)
        )
        for alert_id, details, label, by in rows:
            before = dict(details or {})
            if before.get("delivered_to"):
                continue  # it went out on part of its route: it cannot be recalled
            note = {"label": label, "by": by, "at": at.isoformat()}
            found.append((int(alert_id), {**before, WITHDRAWN: note}))
    if not found:
        return []
    tracker = Tracker(conn, alert_ids=[alert_id for alert_id, _ in found])
    withdrawn = []
    for alert_id, details in found:
        # conditional, as every outbox transition: a row a dispatcher claimed meanwhile is left
        done = conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id, alerts.c.status == "pending")
            .values(status=WITHDRAWN, next_attempt_at=None, details=details)
        ).rowcount
        if done == 1:
            withdrawn.append(alert_id)
    tracker.finish()
    return withdrawn


__all__ = ["WITHDRAWN", "withdraw_relabelled"]
