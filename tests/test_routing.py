"""Per-brand routing to several notifiers: each alert reaches each of its notifiers once; one
that is down does not hold back the others and gets the alert when it is back."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import Engine

from listener.notifiers.webhook import IDEMPOTENCY_HEADER, WebhookSettings, build
from listener.plugins import PluginContext
from tests.notify_world import NotifyWorld, policy
from tests.receivers import WebhookReceiver, free_port

SECRET = "routing-secret-0123456789"


def _hook(receiver: WebhookReceiver, name: str) -> object:
    settings = WebhookSettings(url=SecretStr(receiver.url), secret=SecretStr(SECRET))
    return build(settings, PluginContext(name=name))


def test_a_notifier_that_is_down_gets_the_alert_later_and_the_other_only_once(
    engine: Engine,
) -> None:
    up, down = WebhookReceiver().start(), WebhookReceiver(port=free_port())
    try:
        notifiers = {"ops": _hook(up, "ops"), "crm": _hook(down, "crm")}
        world = NotifyWorld(engine, notifiers, policy())  # type: ignore[arg-type]
        world.angry(1)
        world.angry(2)
        first = world.dispatch()
        assert len(up.received) == 2, "the notifier that is up is not held back"
        assert first["retried"] == 2 and first["sent"] == 0
        assert all(a.details["delivered_to"] == ["ops"] for a in world.alerts())
        assert world.dispatch(timedelta(seconds=1))["sent"] == 0  # crm is known to be down
        down.start()
        assert world.restart().dispatch(timedelta(minutes=10))["sent"] == 2
        assert world.dispatch(timedelta(minutes=20))["sent"] == 0
    finally:
        up.stop()
        down.stop()
    assert len(up.received) == 2 and len(down.received) == 2
    keys = {r.headers[IDEMPOTENCY_HEADER] for r in up.received + down.received}
    assert len(keys) == 2


def test_a_brand_goes_only_to_the_notifiers_it_names(engine: Engine) -> None:
    a, b = WebhookReceiver().start(), WebhookReceiver().start()
    try:
        notifiers = {"a": _hook(a, "a"), "b": _hook(b, "b")}
        world = NotifyWorld(engine, notifiers, policy(notify=("b",)))  # type: ignore[arg-type]
        world.angry(1)
        assert world.dispatch()["sent"] == 1
    finally:
        a.stop()
        b.stop()
    assert len(a.received) == 0 and len(b.received) == 1
    assert "delivered_to" not in world.alerts()[0].details  # one notifier: nothing to track
