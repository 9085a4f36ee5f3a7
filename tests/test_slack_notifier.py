"""The Slack notifier's error mapping, its webhook mode, and the console notifier."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import SecretStr

from listener.config import SlackSettings
from listener.domain import Alert, StoredMention
from listener.emulators.base import Fault
from listener.emulators.slack import SlackEmulator
from listener.errors import NotifyPermanent, NotifyRetryable, NotifyUncertain
from listener.notifiers import console, slack
from listener.notifiers.blocks import clip, escape, render, safe_link
from listener.ports import AlertMessage
from tests.factories import T0, mention
from tests.slack_world import TOKEN, angry_sentiment


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts"]).start()
    yield emu
    emu.stop()


def _message(text: str = "worst service <!here>", channel: str | None = None) -> AlertMessage:
    alert = Alert(
        id=3,
        kind="mention",
        brand="Aurora Air",
        dedupe_key="k",
        status="sending",
        reason="negative 0.92 ≥ 0.60",
        created_at=T0,
        mention_id=1,
    )
    stored = StoredMention(
        id=1,
        mention=mention(1, text=text, url="https://x.example/1", author_reach=42),
        collected_at=T0,
    )
    return AlertMessage(alert=alert, mention=stored, sentiment=angry_sentiment(), channel=channel)


def _webhook(url: str) -> slack.Notifier:
    return slack.build(SlackSettings(webhook_url=SecretStr(url), timeout=timedelta(seconds=2)))


def test_webhook_delivers_the_same_escaped_blocks(emulator: SlackEmulator) -> None:
    _webhook(emulator.webhook_url).send(_message())
    (msg,) = emulator.messages
    assert msg.via == "webhook" and "&lt;!here&gt;" in json.dumps(msg.blocks)


def test_webhook_errors_are_mapped(emulator: SlackEmulator) -> None:
    with pytest.raises(NotifyPermanent, match="no_service") as info:
        _webhook(emulator.base_url + "/services/T1/B1/wrong").send(_message())
    assert "wrong" not in str(info.value), "the webhook URL is a secret"
    emulator.rate_limit(12)
    with pytest.raises(NotifyRetryable) as retry:
        _webhook(emulator.webhook_url).send(_message())
    assert retry.value.retry_after == 12.0
    emulator.inject(Fault(drop=True))
    with pytest.raises(NotifyUncertain, match="closed the connection before answering"):
        _webhook(emulator.webhook_url).send(_message())


def test_bot_errors_are_mapped(emulator: SlackEmulator) -> None:
    bot = slack.build(
        SlackSettings(token=SecretStr(TOKEN), channel="#alerts", api_base=emulator.api_url)
    )
    emulator.inject(Fault(status=500, body=b"oops"))
    with pytest.raises(NotifyRetryable, match="HTTP 500"):
        bot.send(_message())
    emulator.slow(2.0)  # Slack records it, then answers after the client gave up
    quick = slack.build(
        SlackSettings(
            token=SecretStr(TOKEN),
            channel="#alerts",
            api_base=emulator.api_url,
            timeout=timedelta(seconds=1),
        )
    )
    with pytest.raises(NotifyUncertain, match="did not answer in time"):
        quick.send(_message())
    with pytest.raises(NotifyPermanent, match="channel_not_found"):
        bot.send(_message(channel="#gone"))
    bot.send(_message())
    assert len(emulator.messages) == 2, "the unanswered post is in Slack too"


def test_escaping_and_clipping_are_safe() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    cut = clip("<" * 4000, 3000)
    assert len(cut) <= 3000 and "truncated" in cut and "&lt" not in cut.replace("&lt;", "")
    assert safe_link("javascript:alert(1)", "x") == "javascript:alert(1)"
    assert safe_link("https://e.example/a|b>c", "Open") == "<https://e.example/a%7Cb&gt;c|Open>"
    rendered = render(_message(text="x" * 10_000))
    assert all(len(b["text"]["text"]) <= 3000 for b in rendered.blocks if b["type"] == "section")
    assert len(rendered.text) <= 3000


def test_console_prints_one_readable_line() -> None:
    out = io.StringIO()
    console.build(stream=out).send(_message(text="bad\nflight"))
    line = out.getvalue()
    assert line.count("\n") == 1
    assert line.startswith(
        "[ALERT mention #3] Aurora Air: @user1 (42 followers, replay) 'bad flight'"
    )


def test_the_ack_command_shown_is_the_teams_own() -> None:
    message = replace(_message(), command_prefix="listener --config /etc/listener/prod.toml")
    rendered = render(message)
    shown = json.dumps(rendered.blocks, ensure_ascii=False)
    assert "`listener --config /etc/listener/prod.toml alerts ack 3`" in shown
