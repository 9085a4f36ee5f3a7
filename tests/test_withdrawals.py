"""A correction stops an alert that has not gone out: an override or a label rule that makes a
mention not negative withdraws its queued alert (SQLite and PostgreSQL, real Slack client
against the emulator); a delivered alert stays delivered; rollups equal a rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from listener.domain import Alert, Score
from listener.emulators.slack import SlackEmulator
from listener.store.labels import SqlLabels
from listener.store.rollups import rebuild
from listener.store.schema import brand_hours
from tests.factories import T0
from tests.slack_world import TOKEN, World, angry_sentiment, make_world

LEASE = timedelta(seconds=60)


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts"]).start()
    yield emu
    emu.stop()


@pytest.fixture
def world(engine: Engine, emulator: SlackEmulator) -> World:
    return make_world(engine, emulator)


@pytest.fixture
def labels(engine: Engine) -> SqlLabels:
    return SqlLabels(engine)


def _alert_of(world: World, mention_id: int) -> Alert:
    (alert,) = [a for a in world.outbox.list() if a.mention_id == mention_id]
    return alert


def _counted_alerts(engine: Engine) -> int:
    """Alerts the rollups count as raised, and the same after a rebuild from scratch."""
    with engine.connect() as conn:
        kept = int(conn.execute(select(func.sum(brand_hours.c.alerts))).scalar_one() or 0)
    rebuild(engine)
    with engine.connect() as conn:
        rebuilt = int(conn.execute(select(func.sum(brand_hours.c.alerts))).scalar_one() or 0)
    assert kept == rebuilt, "the kept rollups equal a rebuild"
    return kept


def _posted_ids(world: World) -> set[str]:
    """External ids of the mentions whose alert reached Slack."""
    return {
        ext
        for msg in world.slack.messages
        for ext in ("1", "2", "3")
        if f"https://x.example/{ext}" in str(msg.blocks)
    }


def test_override_before_delivery_withdraws_the_alert(
    world: World, labels: SqlLabels, engine: Engine
) -> None:
    first, second = world.angry(1), world.angry(2)
    assert _counted_alerts(engine) == 2
    row = labels.override(first.id, "positive", by="ana", at=T0)
    assert (row.alert_status, row.label) == ("withdrawn", "positive")
    withdrawn = _alert_of(world, first.id)
    assert withdrawn.status == "withdrawn" and withdrawn.next_attempt_at is None
    assert withdrawn.details["withdrawn"] == {
        "label": "positive",
        "by": "ana",
        "at": T0.isoformat(),
    }
    assert world.alerting.dispatch(world.t0)["sent"] == 1
    assert world.alerting.dispatch(world.t0 + timedelta(days=1))["sent"] == 0
    assert _posted_ids(world) == {"2"}, "only the alert nobody corrected went out"
    assert _alert_of(world, second.id).status == "sent"
    assert [a.id for a in world.outbox.list(status="withdrawn")] == [withdrawn.id]
    assert _counted_alerts(engine) == 1, "a withdrawn alert does not count as raised"


def test_override_after_delivery_leaves_the_alert_sent(
    world: World, labels: SqlLabels, engine: Engine
) -> None:
    stored = world.angry(1)
    world.alerting.dispatch(world.t0)
    labels.override(stored.id, "neutral", by="ana", at=T0)
    alert = _alert_of(world, stored.id)
    assert alert.status == "sent" and "withdrawn" not in alert.details
    assert world.posted() == 1
    assert _counted_alerts(engine) == 1


def test_a_negative_override_or_clearing_it_keeps_the_alert_queued(
    world: World, labels: SqlLabels
) -> None:
    stored = world.angry(1)
    labels.override(stored.id, "negative", by="ana", at=T0)
    assert _alert_of(world, stored.id).status == "pending"
    labels.clear_override(stored.id)
    assert _alert_of(world, stored.id).status == "pending"
    world.alerting.dispatch(world.t0)
    assert world.posted() == 1


def test_relabelling_negative_again_does_not_resurrect_a_withdrawn_alert(
    world: World, labels: SqlLabels, engine: Engine
) -> None:
    stored = world.angry(1)
    labels.override(stored.id, "positive", by="ana", at=T0)
    labels.override(stored.id, "negative", by="ana", at=T0)
    assert _alert_of(world, stored.id).status == "withdrawn"
    labels.clear_override(stored.id)  # the model said negative
    assert _alert_of(world, stored.id).status == "withdrawn"
    world.alerting.dispatch(world.t0 + timedelta(hours=1))
    assert world.posted() == 0
    assert _counted_alerts(engine) == 0


def test_a_rule_applied_to_stored_mentions_withdraws_and_removing_it_does_not_resurrect(
    world: World, labels: SqlLabels, engine: Engine
) -> None:
    promo = world.angry(1, text="this killer deal on Aurora Air flights is insane")
    other = world.angry(2, text="Aurora Air lost my luggage")
    labels.add_rule(name="promo", query="killer deal", label="positive", brand=None, by="t", at=T0)
    assert _alert_of(world, promo.id).status == "pending", "a rule waits for apply"
    assert labels.apply_rules() == 1
    alert = _alert_of(world, promo.id)
    assert alert.status == "withdrawn" and alert.details["withdrawn"]["by"] == "rule:promo"
    labels.remove_rule("promo")
    assert _alert_of(world, promo.id).status == "withdrawn"
    world.alerting.dispatch(world.t0)
    assert _posted_ids(world) == {"2"} and _alert_of(world, other.id).status == "sent"
    assert _counted_alerts(engine) == 1


def test_a_rule_met_when_a_mention_is_scored_again_withdraws_its_queued_alert(
    world: World, labels: SqlLabels
) -> None:
    stored = world.angry(1, text="this killer deal on Aurora Air flights is insane")
    labels.add_rule(name="promo", query="killer deal", label="neutral", brand=None, by="t", at=T0)
    rescore = Score(mention_id=stored.id, model="m@2", sentiment=angry_sentiment(), scored_at=T0)
    world.store.add_scores([rescore])
    assert _alert_of(world, stored.id).status == "withdrawn"
    world.alerting.dispatch(world.t0)
    assert world.posted() == 0


def test_an_alert_being_sent_or_partly_delivered_is_not_withdrawn(
    world: World, labels: SqlLabels
) -> None:
    sending, partly = world.angry(1), world.angry(2)
    claim = world.outbox.claim(_alert_of(world, sending.id).id, now=world.t0, lease=LEASE)
    assert claim is not None
    other = world.outbox.claim(_alert_of(world, partly.id).id, now=world.t0, lease=LEASE)
    assert other is not None
    assert world.outbox.mark_delivered(other, "webhook")
    assert world.outbox.mark_retry(other, next_attempt_at=world.t0, error="e-mail: 451")
    labels.override(sending.id, "positive", by="ana", at=T0)
    labels.override(partly.id, "positive", by="ana", at=T0)
    assert _alert_of(world, sending.id).status == "sending", "it may be out already"
    assert _alert_of(world, partly.id).status == "pending", "it went out on part of its route"
    assert world.outbox.mark_sent(claim, world.t0)
