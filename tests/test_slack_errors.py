"""The Slack error model, through the real slack-sdk against the emulator: an outage (5xx, an
HTML page, a timeout, a refused or dropped connection, 429) is transient and delays alerts; only
Slack's own refusal of the message is permanent."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from listener.config import SlackSettings
from listener.emulators.base import Fault
from listener.emulators.slack import SlackEmulator
from listener.errors import NotifyPermanent, NotifyRetryable, NotifyUncertain
from listener.notifiers import slack
from listener.ports import AlertMessage
from tests.slack_world import TOKEN, World, make_world
from tests.test_slack_notifier import _message


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts"]).start()
    yield emu
    emu.stop()


def _bot(emulator: SlackEmulator, timeout: float = 2) -> slack.Notifier:
    return slack.build(
        SlackSettings(
            token=SecretStr(TOKEN),
            channel="#alerts",
            api_base=emulator.api_url,
            timeout=timedelta(seconds=timeout),
        )
    )


def _webhook(emulator: SlackEmulator) -> slack.Notifier:
    return slack.build(
        SlackSettings(webhook_url=SecretStr(emulator.webhook_url), timeout=timedelta(seconds=1))
    )


def _refusal(code: str, status: int = 200) -> Fault:
    body = json.dumps({"ok": False, "error": code}).encode()
    return Fault(status=status, body=body, headers={"content-type": "application/json"})


def _raised(notifier: slack.Notifier, message: AlertMessage | None = None) -> Exception:
    with pytest.raises(Exception) as info:
        notifier.send(message or _message())
    return info.value


@pytest.mark.parametrize("status", [200, 403, 500, 503])
def test_an_html_page_instead_of_slacks_json_is_transient(
    emulator: SlackEmulator, status: int
) -> None:
    emulator.proxy_page(status=status)
    error = _raised(_bot(emulator))
    assert type(error) is NotifyRetryable, "not delivered: retry, never fail the alert"
    assert f"HTTP {status}" in str(error) and "text/html" in str(error)
    assert "<html" not in str(error).lower() and TOKEN not in str(error)
    _bot(emulator).send(_message())
    assert len(emulator.messages) == 1


def test_a_webhook_answering_an_html_page_is_not_a_delivery(emulator: SlackEmulator) -> None:
    emulator.proxy_page()
    error = _raised(_webhook(emulator))
    assert type(error) is NotifyRetryable and "HTTP 200" in str(error)
    assert "emulatorsecret" not in str(error), "the webhook URL is a secret"
    assert emulator.messages == []


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_that_gave_up_means_the_outcome_is_unknown(
    emulator: SlackEmulator, status: int
) -> None:
    emulator.server_error(status)
    error = _raised(_bot(emulator))
    assert isinstance(error, NotifyUncertain) and f"HTTP {status}" in str(error)


@pytest.mark.parametrize(
    "code", ["internal_error", "fatal_error", "service_unavailable", "request_timeout"]
)
def test_slacks_transient_codes_are_retried(emulator: SlackEmulator, code: str) -> None:
    emulator.inject(_refusal(code))
    error = _raised(_bot(emulator))
    assert type(error) is NotifyRetryable and code in str(error)


def test_rate_limits_carry_retry_after(emulator: SlackEmulator) -> None:
    emulator.rate_limit(17)
    error = _raised(_bot(emulator))
    assert isinstance(error, NotifyRetryable) and error.retry_after == 17.0


@pytest.mark.parametrize(
    "code", ["invalid_auth", "channel_not_found", "not_in_channel", "is_archived", "msg_too_long"]
)
def test_slacks_refusals_of_the_message_are_permanent(emulator: SlackEmulator, code: str) -> None:
    emulator.inject(_refusal(code))
    error = _raised(_bot(emulator))
    assert isinstance(error, NotifyPermanent) and code in str(error)


def test_timeouts_and_dropped_answers_are_uncertain(emulator: SlackEmulator) -> None:
    emulator.slow(2.5)
    error = _raised(_bot(emulator, timeout=1))
    assert isinstance(error, NotifyUncertain) and "did not answer in time" in str(error)
    emulator.inject(Fault(drop=True))
    error = _raised(_bot(emulator))
    assert isinstance(error, NotifyUncertain) and "closed the connection" in str(error)


def test_a_refused_connection_is_retryable_and_certain(emulator: SlackEmulator) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bot = slack.build(
        SlackSettings(
            token=SecretStr(TOKEN), channel="#alerts", api_base=f"http://127.0.0.1:{port}/api"
        )
    )
    error = _raised(bot)
    assert type(error) is NotifyRetryable and "unreachable" in str(error)


def test_metadata_refused_by_slack_does_not_stop_alerts(
    emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    bot = _bot(emulator)
    emulator.inject(_refusal("invalid_metadata_format"))
    with caplog.at_level(logging.WARNING):
        bot.send(_message())
    (msg,) = emulator.messages
    assert msg.metadata is None and "cannot check" in caplog.text
    assert isinstance(bot, slack.SlackBotNotifier) and bot.delivered(_message()) is None


def test_an_outage_page_delays_every_alert_and_drops_none(engine: Engine) -> None:
    """Measured on main: 5 alerts due, Slack answering an HTML 200 page -> 5 failed for good."""
    emulator = SlackEmulator(token=TOKEN, channels=["#alerts"]).start()
    try:
        world: World = make_world(engine, emulator)
        for n in range(1, 6):
            world.angry(n)
        emulator.proxy_page(times=1000)
        now = world.t0
        for _ in range(20):  # ten minutes of runs every 30 s
            counts = world.alerting.dispatch(now)
            assert counts["failed"] == 0 and counts["sent"] == 0
            now += timedelta(seconds=30)
        assert {a.status for a in world.outbox.list()} == {"pending"}
        assert all("not Slack's" in (a.last_error or "") for a in world.outbox.list() if a.attempts)
        emulator.clear_faults()
        for _ in range(20):
            world.alerting.dispatch(now)
            now += timedelta(seconds=30)
        assert {a.status for a in world.outbox.list()} == {"sent"}
        assert sorted(m.text.split(": ", 1)[1] for m in emulator.messages) == sorted(
            f"mention {n} of aurora air" for n in range(1, 6)
        )
    finally:
        emulator.stop()
