"""The SQL outbox on SQLite and PostgreSQL: dedupe, claiming, transitions, folding, acks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from listener.domain import Batch, NewAlert
from listener.errors import ListenerError
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention

LEASE = timedelta(seconds=60)


def _alert(n: int, mention_id: int | None = None, kind: str = "mention") -> NewAlert:
    return NewAlert(
        kind=kind,  # type: ignore[arg-type]
        brand="Aurora Air",
        dedupe_key=f"{kind}:replay:{n}",
        reason="negative 0.90 ≥ 0.60; anger 0.80 ≥ 0.60",
        mention_id=mention_id,
        details={"reach": n, "anger": 0.8},
    )


@pytest.fixture
def outbox(engine: Engine) -> SqlOutbox:
    return SqlOutbox(engine)


def test_dedupe_key_makes_a_second_insert_a_no_op(outbox: SqlOutbox) -> None:
    assert outbox.add_alerts([_alert(1), _alert(2), _alert(1)], now=T0) == 2
    assert outbox.add_alerts([_alert(1)], now=T0) == 0
    assert len(outbox.list()) == 2


def test_due_claim_and_sent_is_never_due_again(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1), _alert(2)], now=T0)
    first, second = outbox.due(T0, 10)
    assert (first.id, second.id) == (min(first.id, second.id), max(first.id, second.id))
    assert outbox.claim(first.id, now=T0, lease=LEASE)
    assert not outbox.claim(first.id, now=T0, lease=LEASE), "a claimed row is not claimed twice"
    assert [a.id for a in outbox.due(T0, 10)] == [second.id]
    outbox.mark_sent(first.id, T0)
    later = T0 + timedelta(days=1)
    assert first.id not in [a.id for a in outbox.due(later, 10)]
    assert not outbox.claim(first.id, now=later, lease=LEASE)
    got = outbox.get(first.id)
    assert got is not None and got.status == "sent" and got.sent_at == T0


def test_expired_lease_makes_a_crashed_send_due_again(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1)], now=T0)
    (row,) = outbox.due(T0, 10)
    assert outbox.claim(row.id, now=T0, lease=LEASE)
    assert outbox.due(T0 + timedelta(seconds=59), 10) == []
    (again,) = outbox.due(T0 + LEASE, 10)
    assert again.status == "sending"
    assert outbox.claim(again.id, now=T0 + LEASE, lease=LEASE)


def test_retry_waits_and_failed_is_final(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1), _alert(2)], now=T0)
    a, b = outbox.due(T0, 10)
    outbox.claim(a.id, now=T0, lease=LEASE)
    outbox.mark_retry(a.id, next_attempt_at=T0 + timedelta(seconds=30), error="HTTP 429")
    outbox.claim(b.id, now=T0, lease=LEASE)
    outbox.mark_failed(b.id, error="channel_not_found")
    assert outbox.due(T0 + timedelta(seconds=29), 10) == []
    (retry,) = outbox.due(T0 + timedelta(seconds=30), 10)
    assert (retry.id, retry.attempts, retry.last_error) == (a.id, 1, "HTTP 429")
    failed = outbox.get(b.id)
    assert failed is not None and (failed.status, failed.last_error) == (
        "failed",
        "channel_not_found",
    )
    assert [x.id for x in outbox.list(status="failed")] == [b.id]


def test_fold_marks_rows_digested_once(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(n) for n in range(1, 6)], now=T0)
    ids = [a.id for a in outbox.due(T0, 10)]
    digest_alert = NewAlert(
        kind="digest",
        brand="Aurora Air",
        dedupe_key=f"digest:x:{ids[0]}",
        reason="storm",
        details={"count": 5},
    )
    digest = outbox.fold(ids, digest_alert, now=T0)
    assert digest is not None and digest.kind == "digest" and digest.details["count"] == 5
    folded = outbox.list(status="digested")
    assert sorted(a.id for a in folded) == ids and {a.digest_id for a in folded} == {digest.id}
    assert [a.id for a in outbox.due(T0, 10)] == [digest.id]
    again = NewAlert(kind="digest", brand="Aurora Air", dedupe_key="digest:x:other", reason="storm")
    assert outbox.fold(ids, again, now=T0) is None, "nothing left to fold: no empty digest"
    assert len(outbox.list(kind="digest")) == 1


def test_ack_keeps_the_first_response_and_covers_a_digest(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1), _alert(2)], now=T0)
    ids = [a.id for a in outbox.due(T0, 10)]
    digest = outbox.fold(
        ids, NewAlert(kind="digest", brand="Aurora Air", dedupe_key="d", reason="storm"), now=T0
    )
    assert digest is not None
    acked = outbox.ack(digest.id, by="maria", at=T0 + timedelta(minutes=3))
    assert (acked.acked_by, acked.acked_at) == ("maria", T0 + timedelta(minutes=3))
    outbox.ack(digest.id, by="late", at=T0 + timedelta(hours=1))
    assert {(a.acked_by, a.acked_at) for a in outbox.list()} == {
        ("maria", T0 + timedelta(minutes=3))
    }
    with pytest.raises(ListenerError, match="no alert with id 999"):
        outbox.ack(999, by="x", at=T0)


def test_record_reply_acks_the_alerts_of_that_mention(engine: Engine, outbox: SqlOutbox) -> None:
    store = SqlStore(engine)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1), mention(2)]))
    (m1,) = [m for m in store.iter_mentions() if m.mention.external_id == "1"]
    outbox.add_alerts([_alert(1, mention_id=m1.id)], now=T0)
    assert outbox.record_reply("replay", "2", by="AuroraAir", at=T0) == 0
    assert outbox.record_reply("replay", "1", by="AuroraAir", at=T0 + timedelta(minutes=7)) == 1
    assert outbox.record_reply("replay", "1", by="AuroraAir", at=T0 + timedelta(hours=1)) == 0
    (row,) = outbox.list()
    assert (row.acked_by, row.acked_at) == ("AuroraAir", T0 + timedelta(minutes=7))


def test_stats_counts_and_response_times(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1), _alert(2), _alert(3, kind="spike")], now=T0)
    a, _, c = outbox.due(T0, 10)
    outbox.claim(a.id, now=T0, lease=LEASE)
    outbox.mark_sent(a.id, T0)
    outbox.ack(a.id, by="x", at=T0 + timedelta(minutes=4))
    outbox.ack(c.id, by="x", at=T0 + timedelta(minutes=10))
    stats = outbox.stats(since=T0 - timedelta(days=1))["Aurora Air"]
    assert stats["total"] == 3
    assert stats["by_kind"] == {"mention": 2, "spike": 1}
    assert stats["by_status"] == {"sent": 1, "pending": 2}
    assert sorted(stats["response_seconds"]) == [240.0, 600.0]
    assert outbox.stats(since=T0 + timedelta(days=1)) == {}


def test_mention_response_time_runs_from_the_customers_post(
    engine: Engine, outbox: SqlOutbox
) -> None:
    store = SqlStore(engine)
    posted = T0 - timedelta(minutes=30)
    store.add_batch("replay", QUERY, Batch(mentions=[mention(1, created_at=posted)]))
    (m1,) = store.iter_mentions()
    outbox.add_alerts([_alert(1, mention_id=m1.id)], now=T0)
    outbox.record_reply("replay", "1", by="@AuroraAir", at=T0 + timedelta(minutes=5))
    stats = outbox.stats(since=T0 - timedelta(days=1))["Aurora Air"]
    assert stats["response_seconds"] == [35 * 60.0]


def test_storm_state_counts_recent_mention_alerts(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(n) for n in range(1, 4)], now=T0)
    ids = [a.id for a in outbox.due(T0, 10)]
    for alert_id in ids[:2]:
        outbox.claim(alert_id, now=T0, lease=LEASE)
        outbox.mark_sent(alert_id, T0)
    assert outbox.storm_state("Aurora Air", since=T0 - timedelta(minutes=10)) == (2, None)
    assert outbox.storm_state("Aurora Air", since=T0 + timedelta(seconds=1))[0] == 0
    assert outbox.defer(ids[2:], until=T0 + timedelta(minutes=1)) == 1
    assert outbox.due(T0, 10) == []
