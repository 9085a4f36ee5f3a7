"""One alert, one Slack message: an attempt is recorded before the post, an unanswered post is
looked for in Slack (by the alert key in its metadata) before it is posted again, and one slow
alert does not hold the others. Real slack-sdk, the Slack emulator, SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from listener.config import SlackSettings
from listener.emulators.base import Fault
from listener.emulators.slack import SlackEmulator
from listener.errors import StoreError
from listener.notifiers import slack
from listener.ports import Claim
from listener.store.outbox import SqlOutbox
from tests.slack_world import TOKEN, World, make_world

LEASE = timedelta(seconds=60)


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts", "#other"]).start()
    yield emu
    emu.stop()


@pytest.fixture
def world(engine: Engine, emulator: SlackEmulator) -> World:
    return make_world(engine, emulator, timeout=timedelta(seconds=1), lease=LEASE)


def _posts(world: World) -> list[int]:
    """How many Slack messages each stored mention got, by mention number."""
    numbers = sorted(int(m.mention.external_id) for m in world.store.iter_mentions())
    texts = [m.text for m in world.slack.messages]
    return [sum(t.endswith(f": mention {n} of aurora air") for t in texts) for n in numbers]


def _every(world: World, seconds: int, until: timedelta) -> None:
    """The dispatch job every ``seconds`` of simulated time from t0 to t0 + ``until``."""
    now = world.t0
    while now <= world.t0 + until:
        world.alerting.dispatch(now)
        now += timedelta(seconds=seconds)


def test_slow_slack_gets_the_alert_once_and_the_others_go_out_meanwhile(world: World) -> None:
    """Measured on main: Slack slower than slack.timeout -> the same alert posted 6 times in
    30 s, every other alert waiting behind it."""
    for n in (1, 2, 3):
        world.angry(n)
    world.slack.slow(2.5)  # Slack records the first post, then answers after the client gave up
    counts = world.alerting.dispatch(world.t0)
    assert _posts(world) == [1, 1, 1], "the others did not wait behind the slow one"
    assert (counts.get("unanswered"), counts["sent"]) == (1, 2)
    slow = min(a.id for a in world.outbox.list())
    row = world.outbox.get(slow)
    assert (
        row is not None and row.status == "sending" and "did not answer" in (row.last_error or "")
    )
    _every(world, 5, timedelta(minutes=3))
    assert _posts(world) == [1, 1, 1]
    done = world.outbox.get(slow)
    assert done is not None and (done.status, done.attempts) == ("sent", 1)
    assert len(world.slack.received("/api/chat.postMessage")) == 3


def test_slack_slow_for_everyone_ends_the_run_and_still_posts_each_alert_once(
    world: World,
) -> None:
    for n in range(1, 5):
        world.angry(n)
    world.slack.slow(1.5, times=3)
    counts = world.alerting.dispatch(world.t0)
    assert _posts(world) == [1, 1, 0, 0]
    assert (counts.get("unanswered"), counts["sent"]) == (2, 0), "two unanswered in a row: stop"
    _every(world, 10, timedelta(minutes=4))
    assert _posts(world) == [1, 1, 1, 1]
    assert {a.status for a in world.outbox.list()} == {"sent"}


class _Crash(BaseException):
    """The process dies here (what SIGKILL does to the code after it)."""


class CrashingOutbox(SqlOutbox):
    """The real outbox, except that recording a delivery fails once, like a process killed
    or a disk full right after Slack accepted the message."""

    def __init__(self, engine: Engine, error: BaseException) -> None:
        super().__init__(engine)
        self.error: BaseException | None = error

    def mark_sent(self, claim: Claim, at: Any, *, error: str | None = None) -> bool:
        if self.error is not None:
            crash, self.error = self.error, None
            raise crash
        return super().mark_sent(claim, at, error=error)


def test_a_crash_after_the_post_does_not_post_it_again_after_restart(
    engine: Engine, emulator: SlackEmulator
) -> None:
    world = make_world(engine, emulator, outbox=CrashingOutbox(engine, _Crash()), lease=LEASE)
    world.angry(1)
    with pytest.raises(_Crash):
        world.alerting.dispatch(world.t0)
    assert world.posted() == 1
    restarted = world.restart()
    assert restarted.alerting.dispatch(world.t0 + timedelta(seconds=30))["sent"] == 0
    counts = restarted.alerting.dispatch(world.t0 + LEASE)
    assert world.posted() == 1
    assert (counts.get("recovered"), counts["sent"]) == (1, 0)
    (row,) = restarted.outbox.list()
    assert row.status == "sent"


def test_a_full_disk_after_the_post_does_not_post_it_again(
    engine: Engine, emulator: SlackEmulator
) -> None:
    full = StoreError("database full at sqlite:///x.db: database or disk is full")
    world = make_world(engine, emulator, outbox=CrashingOutbox(engine, full), lease=LEASE)
    world.angry(1)
    with pytest.raises(StoreError):
        world.alerting.dispatch(world.t0)
    _every(world, 10, timedelta(minutes=3))  # the same process goes on once the disk has room
    assert world.posted() == 1
    assert [a.status for a in world.outbox.list()] == ["sent"]


def test_a_failed_check_keeps_the_alert_in_doubt_until_slack_can_be_asked(world: World) -> None:
    world.angry(1)
    world.slack.slow(2.5)
    assert world.alerting.dispatch(world.t0).get("unanswered") == 1
    world.slack.proxy_page(path_prefix="/api/conversations.history")
    counts = world.alerting.dispatch(world.t0 + LEASE)
    assert (counts["retried"], counts["sent"], counts.get("recovered")) == (1, 0, 0)
    (row,) = world.outbox.list()
    assert row.status == "sending", "still in doubt: never posted blind"
    _every(world, 10, timedelta(minutes=5))
    assert world.posted() == 1
    assert [a.status for a in world.outbox.list()] == ["sent"]


def test_a_crash_before_the_post_posts_it_after_checking(world: World) -> None:
    world.angry(1)
    (row,) = world.outbox.due(world.t0, 10)
    assert world.outbox.claim(row.id, now=world.t0, lease=LEASE)  # then "crash"
    counts = world.restart().alerting.dispatch(world.t0 + LEASE)
    assert (counts["sent"], counts.get("recovered")) == (1, 0)
    assert len(world.slack.received("/api/conversations.history")) == 1
    assert world.posted() == 1


def test_without_the_history_scope_an_unanswered_alert_is_posted_again(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The documented limit: a bot that cannot read the channel back is at-least-once."""
    world.slack.read_scopes = False
    world.angry(1)
    world.slack.slow(2.5)
    world.alerting.dispatch(world.t0)
    with caplog.at_level(logging.WARNING):
        assert world.alerting.dispatch(world.t0 + LEASE)["sent"] == 1
    assert world.posted() == 2
    assert "missing_scope" in caplog.text and "channels:history" in caplog.text
    assert TOKEN not in caplog.text


_KILLED_DISPATCHER = """
import sys
from datetime import datetime, timedelta
from pydantic import SecretStr
from listener.config import SlackSettings
from listener.dispatch import Dispatcher
from listener.notifiers import slack
from listener.rules import BrandPolicy
from listener.store.db import connect
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore

url, api, now = sys.argv[1:4]
engine = connect(url)
settings = SlackSettings(
    token=SecretStr("{token}"), channel="#alerts", api_base=api, timeout=timedelta(seconds=30)
)
Dispatcher(
    store=SqlStore(engine),
    outbox=SqlOutbox(engine),
    notifier=slack.build(settings),
    policies={{"Aurora Air": BrandPolicy(brand="Aurora Air", channel="#alerts")}},
    lease=timedelta(seconds=60),
).run(datetime.fromisoformat(now))
"""


def test_sigkill_while_slack_answers_does_not_repeat_the_alert(world: World) -> None:
    """Measured on main: 1 duplicate post in 10 SIGKILLs of a dispatching process."""
    world.angry(1)
    world.slack.slow(4)
    url = world.engine.url.render_as_string(hide_password=False)
    script = textwrap.dedent(_KILLED_DISPATCHER).format(token=TOKEN)
    child = subprocess.Popen(
        [sys.executable, "-c", script, url, world.slack.api_url, world.t0.isoformat()],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        deadline = time.monotonic() + 30
        while not world.slack.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert world.posted() == 1, "Slack has the message; its answer is not back yet"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    (row,) = world.outbox.list()
    assert row.status == "sending"
    counts = world.restart().alerting.dispatch(world.t0 + LEASE)
    assert world.posted() == 1
    assert (counts.get("recovered"), counts["sent"]) == (1, 0)


def test_the_check_finds_the_alert_by_its_key_across_history_pages(
    emulator: SlackEmulator,
) -> None:
    """A channel given by name is looked up once (conversations.list); history is read by ID,
    page after page, newest first, until the alert's key turns up."""
    from slack_sdk import WebClient

    from tests.test_slack_notifier import _message

    bot = slack.build(
        SlackSettings(token=SecretStr(TOKEN), channel="#alerts", api_base=emulator.api_url)
    )
    assert isinstance(bot, slack.SlackBotNotifier)
    message = _message(channel="#alerts")
    assert bot.delivered(message) is False
    bot.send(message)
    other = WebClient(token=TOKEN, base_url=emulator.api_url + "/")
    for n in range(450):  # the channel goes on: the alert is now on page 3 of 200
        other.chat_postMessage(channel="#alerts", text=f"chatter {n}")
    fresh = slack.build(
        SlackSettings(token=SecretStr(TOKEN), channel="#alerts", api_base=emulator.api_url)
    )
    assert isinstance(fresh, slack.SlackBotNotifier)
    assert fresh.delivered(message) is True  # a new process: looks the channel up once
    assert len(emulator.received("/api/conversations.list")) == 2
    assert len(emulator.received("/api/conversations.history")) == 1 + 3
    another = replace(message, alert=replace(message.alert, id=4, dedupe_key="k2"))
    assert fresh.delivered(another) is False
    assert len(emulator.received("/api/conversations.list")) == 2, "the channel ID is kept"


def test_a_webhook_cannot_be_asked_so_an_unanswered_alert_is_posted_again(
    engine: Engine, emulator: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The documented limit of incoming webhooks: at least once after an unknown outcome, but
    never before the lease is over, and the other alerts go on meanwhile."""
    hook = slack.build(
        SlackSettings(webhook_url=SecretStr(emulator.webhook_url), timeout=timedelta(seconds=1))
    )
    world = make_world(engine, emulator, notifier=hook, lease=LEASE)
    world.angry(1)
    world.angry(2)
    emulator.inject(Fault(path_prefix="/services/", delay=2.0))
    counts = world.alerting.dispatch(world.t0)
    assert (counts["unanswered"], counts["sent"]) == (1, 1)
    time.sleep(1.5)  # the webhook records the slow post
    assert world.alerting.dispatch(world.t0 + timedelta(seconds=59))["sent"] == 0
    with caplog.at_level(logging.WARNING):
        assert world.alerting.dispatch(world.t0 + LEASE)["sent"] == 1
    assert _posts(world) == [2, 1] and "cannot check" in caplog.text
    assert "emulatorsecret" not in caplog.text
