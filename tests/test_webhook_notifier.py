"""The signed JSON webhook against a real local HTTP receiver: signed, delivered once, retried
through the outbox while the receiver is down or busy, never leaking the URL or the secret."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine

from listener.notifiers.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSettings,
    build,
)
from listener.plugins import PluginContext
from tests.notify_world import NotifyWorld, policy
from tests.receivers import WebhookReceiver, free_port, running

SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    yield from running(WebhookReceiver())


def _world(engine: Engine, url: str, timeout: float = 3.0) -> NotifyWorld:
    settings = WebhookSettings(
        url=SecretStr(url), secret=SecretStr(SECRET), timeout=timedelta(seconds=timeout)
    )
    return NotifyWorld(engine, {"hook": build(settings, PluginContext(name="hook"))}, policy())


def _verify(headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers[TIMESTAMP_HEADER]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers[SIGNATURE_HEADER], "sha256=" + mac.hexdigest())


def test_an_alert_is_posted_once_signed_with_what_fired_it(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    world = _world(engine, receiver.url)
    stored = world.angry(1, text='Worst airline <!channel> "never again" & <script>x</script>')
    assert world.dispatch()["sent"] == 1
    assert world.dispatch(timedelta(minutes=5))["sent"] == 0
    assert world.restart().dispatch(timedelta(minutes=10))["sent"] == 0
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert _verify(got.headers, got.body)
    doc = got.json()
    alert = world.alerts()[0]
    assert doc["id"] == alert.id and doc["kind"] == "mention" and doc["brand"] == "Aurora Air"
    assert doc["mention"]["text"] == stored.mention.text  # JSON carries the text as written
    assert (
        doc["sentiment"]["anger"] == 0.9 and doc["sentiment"]["probabilities"]["negative"] == 0.92
    )
    assert got.headers[IDEMPOTENCY_HEADER] == doc["key"] and doc["key"].startswith(f"{alert.id}-")
    assert alert.status == "sent"


def test_a_tampered_body_does_not_verify(engine: Engine, receiver: WebhookReceiver) -> None:
    world = _world(engine, receiver.url)
    world.angry(1)
    world.dispatch()
    got = receiver.received[0]
    assert not _verify(got.headers, got.body.replace(b"Aurora", b"Aur0ra"))


def test_receiver_down_then_up_delivers_exactly_once(engine: Engine) -> None:
    receiver = WebhookReceiver(port=free_port())  # nothing listens yet: connection refused
    world = _world(engine, receiver.url)
    world.angry(1)
    world.angry(2)
    first = world.dispatch()
    assert first["retried"] == 1 and first["sent"] == 0  # the run stops at the first refusal
    assert world.alerts()[-1].last_error == "webhook hook unreachable (ConnectionRefusedError)"
    receiver.start()
    try:
        assert world.restart().dispatch(timedelta(minutes=10))["sent"] == 2
        assert world.dispatch(timedelta(minutes=20))["sent"] == 0
    finally:
        receiver.stop()
    keys = [r.headers[IDEMPOTENCY_HEADER] for r in receiver.received]
    assert len(keys) == 2 and len(set(keys)) == 2


def test_503_with_retry_after_pauses_then_delivers(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    receiver.answers.append((503, {"Retry-After": "30"}))
    world = _world(engine, receiver.url)
    world.angry(1)
    assert world.dispatch()["retried"] == 1
    assert world.dispatch(timedelta(seconds=10)).get("paused") == 1
    assert world.dispatch(timedelta(seconds=31))["sent"] == 1
    assert len(receiver.received) == 2  # the refused attempt, then the delivery


def test_a_4xx_refusal_fails_for_good(engine: Engine, receiver: WebhookReceiver) -> None:
    receiver.answers.append((410, {}))
    world = _world(engine, receiver.url)
    world.angry(1)
    assert world.dispatch()["failed"] == 1
    assert world.dispatch(timedelta(hours=1))["sent"] == 0
    assert world.alerts()[0].last_error == "webhook hook refused the alert: HTTP 410"


def test_no_answer_is_retried_with_the_same_idempotency_key(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    receiver.delay = 1.5
    world = _world(engine, receiver.url, timeout=0.5)
    world.angry(1)
    assert world.dispatch()["unanswered"] == 1
    receiver.delay = 0
    assert world.dispatch(timedelta(seconds=61))["sent"] == 1
    keys = {r.headers[IDEMPOTENCY_HEADER] for r in receiver.received}
    assert len(receiver.received) == 2 and len(keys) == 1  # the receiver drops the copy by key


def test_url_and_secret_never_reach_errors_or_logs(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/tok-3f9a8b7c6d5e"
    world = _world(engine, url)
    world.angry(1)
    with caplog.at_level(logging.DEBUG):
        world.dispatch()
    error = world.alerts()[0].last_error or ""
    for text in (error, caplog.text):
        assert "tok-3f9a8b7c6d5e" not in text and SECRET not in text


def test_settings_need_an_http_url_and_a_long_secret() -> None:
    with pytest.raises(ValidationError, match="http"):
        WebhookSettings(url=SecretStr("ftp://x"), secret=SecretStr(SECRET))
    with pytest.raises(ValidationError, match="at least 16"):
        WebhookSettings(url=SecretStr("https://example.com/h"), secret=SecretStr("short"))
