"""The SQL outbox on SQLite and PostgreSQL: dedupe, claiming, transitions, folding, acks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from listener.domain import Batch, NewAlert
from listener.errors import ListenerError
from listener.ports import Claim, Storm
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


def _claim(outbox: SqlOutbox, alert_id: int, at: datetime = T0) -> Claim:
    claim = outbox.claim(alert_id, now=at, lease=LEASE)
    assert claim is not None
    return claim


def test_due_claim_and_sent_is_never_due_again(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1), _alert(2)], now=T0)
    first, second = outbox.due(T0, 10)
    assert (first.id, second.id) == (min(first.id, second.id), max(first.id, second.id))
    claim = _claim(outbox, first.id)
    assert not claim.in_doubt and claim.until == T0 + LEASE
    assert outbox.claim(first.id, now=T0, lease=LEASE) is None, "a claimed row is not claimed twice"
    assert [a.id for a in outbox.due(T0, 10)] == [second.id]
    assert outbox.mark_sent(claim, T0)
    later = T0 + timedelta(days=1)
    assert first.id not in [a.id for a in outbox.due(later, 10)]
    assert outbox.claim(first.id, now=later, lease=LEASE) is None
    got = outbox.get(first.id)
    assert got is not None and got.status == "sent" and got.sent_at == T0


def test_expired_lease_makes_a_crashed_send_due_again_in_doubt(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1)], now=T0)
    (row,) = outbox.due(T0, 10)
    first = _claim(outbox, row.id)  # then "crash": no mark_*
    assert outbox.due(T0 + timedelta(seconds=59), 10) == []
    (again,) = outbox.due(T0 + LEASE, 10)
    assert again.status == "sending"
    second = _claim(outbox, again.id, T0 + LEASE)
    assert second.in_doubt, "the first attempt may have posted it"
    assert not outbox.mark_sent(first, T0), "the stale attempt no longer owns the row"
    assert outbox.mark_retry(second, next_attempt_at=T0 + LEASE, error="HTTP 503")
    assert not outbox.mark_failed(first, error="late"), "nor can it fail the row"
    third = _claim(outbox, row.id, T0 + LEASE)
    assert not third.in_doubt, "a retry after a definite refusal is not in doubt"


def test_an_unanswered_attempt_stays_in_doubt_until_its_time(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1)], now=T0)
    (row,) = outbox.due(T0, 10)
    claim = _claim(outbox, row.id)
    assert outbox.mark_uncertain(
        claim, next_attempt_at=T0 + timedelta(seconds=90), error="timed out"
    )
    got = outbox.get(row.id)
    assert got is not None and (got.status, got.attempts, got.last_error) == (
        "sending",
        1,
        "timed out",
    )
    assert outbox.due(T0 + timedelta(seconds=89), 10) == []
    assert outbox.storm_pending(T0 + timedelta(hours=1)) == {}, "in doubt: never folded"
    assert _claim(outbox, row.id, T0 + timedelta(seconds=90)).in_doubt


def test_retry_waits_and_failed_is_final(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1), _alert(2)], now=T0)
    a, b = outbox.due(T0, 10)
    outbox.mark_retry(
        _claim(outbox, a.id), next_attempt_at=T0 + timedelta(seconds=30), error="HTTP 429"
    )
    outbox.mark_failed(_claim(outbox, b.id), error="channel_not_found")
    assert outbox.due(T0 + timedelta(seconds=29), 10) == []
    (retry,) = outbox.due(T0 + timedelta(seconds=30), 10)
    assert (retry.id, retry.attempts, retry.last_error) == (a.id, 1, "HTTP 429")
    failed = outbox.get(b.id)
    assert failed is not None and (failed.status, failed.last_error) == (
        "failed",
        "channel_not_found",
    )
    assert [x.id for x in outbox.list(status="failed")] == [b.id]


def _digest(storm: Storm) -> NewAlert:
    return NewAlert(
        kind="digest",
        brand=storm.brand,
        dedupe_key=f"digest:x:{storm.first_id}",
        reason="storm",
        details={"count": storm.count, "examples": list(storm.examples)},
    )


def test_fold_storm_marks_every_pending_row_digested_once(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(n) for n in range(1, 6)], now=T0)
    ids = [a.id for a in outbox.due(T0, 10)]
    digest = outbox.fold_storm("Aurora Air", now=T0, examples=3, digest=_digest)
    assert digest is not None and digest.kind == "digest" and digest.details["count"] == 5
    folded = outbox.list(status="digested")
    assert sorted(a.id for a in folded) == ids and {a.digest_id for a in folded} == {digest.id}
    assert [a.id for a in outbox.due(T0, 10)] == [digest.id]
    assert outbox.fold_storm("Aurora Air", now=T0, examples=3, digest=_digest) is None, (
        "nothing left to fold: no empty digest"
    )
    assert len(outbox.list(kind="digest")) == 1


def test_fold_storm_sums_up_thousands_in_one_transaction(engine: Engine, outbox: SqlOutbox) -> None:
    store = SqlStore(engine)
    n = 4000
    sources = ["twitter" if i % 4 else "reddit" for i in range(n)]
    store.add_batch(
        "replay",
        QUERY,
        Batch(mentions=[mention(i, source=sources[i]) for i in range(n)]),
    )
    ids = {m.mention.external_id: m.id for m in store.iter_mentions()}
    alerts_ = [
        NewAlert(
            kind="mention",
            brand="Aurora Air",
            dedupe_key=f"mention:{i}",
            reason="angry",
            mention_id=ids[str(i)],
            details={"reach": i % 1000, "anger": 0.5 + (i % 7) / 20},
        )
        for i in range(n)
    ]
    outbox.add_alerts(alerts_, now=T0)
    outbox.add_alerts([_alert(1, kind="spike")], now=T0)
    assert outbox.storm_pending(T0) == {"Aurora Air": n}
    seen: list[Storm] = []

    def build(storm: Storm) -> NewAlert:
        seen.append(storm)
        return _digest(storm)

    digest = outbox.fold_storm("Aurora Air", now=T0, examples=3, digest=build)
    assert digest is not None and digest.details["count"] == n
    (storm,) = seen
    assert storm.by_source == {"twitter": 3000, "reddit": 1000}
    weights = sorted(range(n), key=lambda i: (-(i % 1000 + 1.0) * (0.5 + (i % 7) / 20), i))
    assert storm.examples == [ids[str(i)] for i in weights[:3]], "by (reach + 1) × anger"
    assert len(outbox.list(status="digested")) == n
    assert outbox.storm_pending(T0) == {}
    assert [a.kind for a in outbox.due(T0, 10)] == ["spike", "digest"]


def test_defer_storm_holds_only_the_brands_due_pending_mentions(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(n) for n in range(1, 4)], now=T0)
    outbox.add_alerts([_alert(9, kind="spike")], now=T0)
    until = T0 + timedelta(minutes=2)
    assert outbox.defer_storm("Aurora Air", now=T0, until=until) == 3
    assert [a.kind for a in outbox.due(T0, 10)] == ["spike"]
    assert outbox.defer_storm("Aurora Air", now=T0, until=until) == 0, "no longer due"
    assert outbox.storm_pending(until) == {"Aurora Air": 3}


def test_ack_keeps_the_first_response_and_covers_a_digest(outbox: SqlOutbox) -> None:
    outbox.add_alerts([_alert(1), _alert(2)], now=T0)
    digest = outbox.fold_storm("Aurora Air", now=T0, examples=1, digest=_digest)
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
    outbox.mark_sent(_claim(outbox, a.id), T0)
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
        outbox.mark_sent(_claim(outbox, alert_id), T0)
    assert outbox.storm_state("Aurora Air", since=T0 - timedelta(minutes=10)) == (2, None)
    assert outbox.storm_state("Aurora Air", since=T0 + timedelta(seconds=1))[0] == 0
    assert outbox.storm_pending(T0) == {"Aurora Air": 1}
