"""A route of several notifiers where one refuses for good (Slack channel_not_found, a webhook's
4xx, an SMTP 5xx): the others deliver once, the refusing one is never tried again, the alert
ends 'sent' with the refusal and its reason recorded; transient failures are retried for that
notifier only. Real clients (slack-sdk, urllib, smtplib) against the local receivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from listener.cli.alerts import alert_record
from listener.config import SlackSettings
from listener.emulators.slack import SlackEmulator
from listener.notifiers import email, slack, webhook
from listener.plugins import PluginContext
from listener.ports import Notifier
from tests.notify_world import NotifyWorld, policy
from tests.receivers import SmtpReceiver, WebhookReceiver, self_signed

TOKEN = "xoxb-route-token-456"
SECRET = "route-secret-0123456789"
PASSWORD = "smtp-route-pa55word"


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts"]).start()
    yield emu
    emu.stop()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def _slack(emu: SlackEmulator) -> Notifier:
    settings = SlackSettings(token=SecretStr(TOKEN), channel="#alerts", api_base=emu.api_url)
    return slack.build(settings)


def _hook(receiver: WebhookReceiver) -> Notifier:
    settings = webhook.WebhookSettings(url=SecretStr(receiver.url), secret=SecretStr(SECRET))
    return webhook.build(settings, PluginContext(name="crm"))


def _world(
    engine: Engine, emu: SlackEmulator, receiver: WebhookReceiver, **fields: object
) -> NotifyWorld:
    notifiers = {"slack": _slack(emu), "crm": _hook(receiver)}
    return NotifyWorld(engine, notifiers, policy(notify=("slack", "crm"), **fields))


def _no_secret(text: str, *secrets: str) -> None:
    for secret in (TOKEN, SECRET, PASSWORD, *secrets):
        assert secret not in text


def test_a_webhook_refusing_for_good_does_not_fail_what_slack_delivered(
    engine: Engine, emulator: SlackEmulator, hook: WebhookReceiver
) -> None:
    hook.answers = [(404, {})] * 5
    world = _world(engine, emulator, hook)
    world.angry(1)
    counts = world.dispatch()
    assert (counts["partial"], counts["failed"], counts["retried"]) == (1, 0, 0)
    for later in (timedelta(minutes=10), timedelta(hours=2), timedelta(days=2)):
        world.restart().dispatch(later)
    assert len(emulator.messages) == 1, "Slack got it once"
    assert len(hook.received) == 1, "the refusing webhook is not asked again"
    [alert] = world.alerts()
    assert alert.status == "sent" and alert.sent_at is not None
    assert alert.details["delivered_to"] == ["slack"]
    assert alert.details["not_delivered"] == {"crm": "webhook crm refused the alert: HTTP 404"}
    assert alert.last_error == "not delivered to crm: webhook crm refused the alert: HTTP 404"
    record = alert_record(alert, None)
    assert record["not_delivered"] == {"crm": "webhook crm refused the alert: HTTP 404"}
    _no_secret(repr(record), hook.url)


def test_slack_refusing_for_good_leaves_the_webhook_its_alert(
    engine: Engine, emulator: SlackEmulator, hook: WebhookReceiver
) -> None:
    world = _world(engine, emulator, hook, channel="#gone")  # not a channel: channel_not_found
    world.angry(1)
    assert world.dispatch()["partial"] == 1
    assert world.dispatch(timedelta(hours=1))["sent"] == 0
    assert len(hook.received) == 1 and emulator.messages == []
    [alert] = world.alerts()
    assert alert.status == "sent" and alert.details["delivered_to"] == ["crm"]
    assert "channel_not_found" in alert.details["not_delivered"]["slack"]
    _no_secret(alert.last_error or "", hook.url)


def test_a_transient_webhook_failure_is_retried_for_the_webhook_only(
    engine: Engine, emulator: SlackEmulator, hook: WebhookReceiver
) -> None:
    hook.answers = [(503, {}), (429, {"Retry-After": "30"})]
    world = _world(engine, emulator, hook)
    world.angry(1)
    assert world.dispatch()["retried"] == 1
    [alert] = world.alerts()
    assert alert.status == "pending" and alert.details["delivered_to"] == ["slack"]
    assert world.dispatch(timedelta(minutes=1))["retried"] == 1  # 429, Retry-After: 30
    assert world.dispatch(timedelta(minutes=1, seconds=10))["retried"] == 0  # paused
    assert world.dispatch(timedelta(minutes=2))["sent"] == 1
    assert world.dispatch(timedelta(hours=2))["sent"] == 0
    assert len(emulator.messages) == 1, "Slack got it once, not on every webhook retry"
    assert len(hook.received) == 3 and hook.received[-1].json()["id"] == alert.id
    assert len({r.headers[webhook.IDEMPOTENCY_HEADER] for r in hook.received}) == 1
    [alert] = world.alerts()
    assert alert.status == "sent" and alert.last_error is None
    assert "not_delivered" not in alert.details
    assert "delivered_to" not in hook.received[-1].json()["details"]


def test_a_refusal_while_slack_is_down_waits_for_slack(
    engine: Engine, emulator: SlackEmulator, hook: WebhookReceiver
) -> None:
    hook.answers = [(400, {})]
    emulator.server_error(503)
    world = _world(engine, emulator, hook)
    world.angry(1)
    assert world.dispatch()["retried"] == 1, "Slack is still owed the alert"
    [alert] = world.alerts()
    assert alert.status == "pending" and "crm" in alert.details["not_delivered"]
    assert world.restart().dispatch(timedelta(minutes=10))["partial"] == 1
    assert world.dispatch(timedelta(hours=2))["sent"] == 0
    assert len(emulator.messages) == 1 and len(hook.received) == 1
    assert world.alerts()[0].status == "sent"


def test_every_notifier_refusing_fails_the_alert(
    engine: Engine, emulator: SlackEmulator, hook: WebhookReceiver
) -> None:
    hook.answers = [(410, {})]
    world = _world(engine, emulator, hook, channel="#gone")
    world.angry(1)
    assert world.dispatch()["failed"] == 1
    assert world.dispatch(timedelta(hours=1))["failed"] == 0
    [alert] = world.alerts()
    assert alert.status == "failed" and alert.sent_at is None
    assert set(alert.details["not_delivered"]) == {"slack", "crm"}
    assert "slack: " in (alert.last_error or "") and "crm: " in (alert.last_error or "")


def test_a_notifier_down_past_give_up_is_given_up_the_delivered_one_stands(
    engine: Engine, emulator: SlackEmulator, hook: WebhookReceiver
) -> None:
    hook.answers = [(503, {})] * 10
    world = _world(engine, emulator, hook, give_up_after=timedelta(hours=1))
    world.angry(1)
    assert world.dispatch()["retried"] == 1
    assert world.dispatch(timedelta(hours=2))["partial"] == 1
    assert world.dispatch(timedelta(hours=3))["sent"] == 0
    [alert] = world.alerts()
    assert alert.status == "sent" and len(emulator.messages) == 1 and len(hook.received) == 2
    assert alert.details["not_delivered"] == {
        "crm": "gave up after retrying: webhook crm answered HTTP 503"
    }


def test_an_smtp_refusal_does_not_hold_back_the_webhook(
    engine: Engine, hook: WebhookReceiver, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    smtp = SmtpReceiver(cert=cert, key=key, password=PASSWORD).start()
    try:
        smtp.reply = "554 rejected as spam"
        settings = email.EmailSettings.model_validate(
            {
                "host": "127.0.0.1",
                "port": smtp.port,
                "ca_file": str(cert),
                "username": "alerts",
                "password": SecretStr(PASSWORD),
                "sender": "listener@example.com",
                "to": ["cx-team@example.com"],
                "timeout": timedelta(seconds=5),
            }
        )
        mail = email.build(settings, PluginContext(name="mail"))
        world = NotifyWorld(engine, {"mail": mail, "crm": _hook(hook)}, policy())
        world.angry(1)
        assert world.dispatch()["partial"] == 1
        assert world.dispatch(timedelta(hours=1))["sent"] == 0
    finally:
        smtp.stop()
    assert len(hook.received) == 1 and smtp.mails == []
    [alert] = world.alerts()
    assert alert.status == "sent" and alert.details["delivered_to"] == ["crm"]
    assert "554" in alert.details["not_delivered"]["mail"]
    _no_secret(alert.last_error or "", hook.url)
