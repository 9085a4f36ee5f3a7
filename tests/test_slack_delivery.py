"""Delivery through the real slack-sdk to the Slack emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from listener.emulators.base import Fault
from listener.emulators.slack import SlackEmulator
from listener.rules import BrandPolicy
from tests.slack_world import BRAND, TOKEN, World, make_world


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts", "#other"]).start()
    yield emu
    emu.stop()


@pytest.fixture
def world(engine: Engine, emulator: SlackEmulator) -> World:
    return make_world(engine, emulator)


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)
    elif isinstance(node, str):
        yield node


def test_angry_mention_is_posted_once_with_the_blocks_to_act_on(world: World) -> None:
    stored = world.angry(1, reach=25_000, text="Lost my bag AGAIN, worst airline ever")
    assert world.alerting.dispatch(world.t0) == {
        "sent": 1,
        "partial": 0,
        "retried": 0,
        "unanswered": 0,
        "recovered": 0,
        "failed": 0,
        "digested": 0,
        "deferred": 0,
    }
    (msg,) = world.slack.messages
    assert msg.channel == "#alerts" and msg.via == "api"
    kinds = [b["type"] for b in msg.blocks]
    assert kinds[0] == "header" and "Angry mention of Aurora Air" in msg.blocks[0]["text"]["text"]
    body = "\n".join(_texts(msg.blocks))
    assert "Lost my bag AGAIN, worst airline ever" in body
    assert "*user1* · 25,000 followers · replay · <https://x.example/1|Open on replay>" in body
    assert "negative" in body and "anger *0.90*" in body and "0.92" in body
    assert "high-reach author" in body and "Why it fired" in body
    assert "Lost my bag" in msg.text, "plain-text fallback carries the post"
    assert msg.params.get("unfurl_links") in (False, "0", "false")
    # rerun, restart, and a re-score of the same mention: still one message
    assert world.alerting.dispatch(world.t0 + timedelta(minutes=1))["sent"] == 0
    restarted = world.restart()
    restarted.angry(1, reach=25_000, text="Lost my bag AGAIN, worst airline ever")
    assert restarted.alerting.dispatch(world.t0 + timedelta(minutes=2))["sent"] == 0
    assert world.posted() == 1
    (row,) = restarted.outbox.list()
    assert (row.status, row.mention_id, row.sent_at) == ("sent", stored.id, world.t0)


def test_brand_own_posts_and_mild_complaints_do_not_alert(world: World) -> None:
    world.angry(1, author="AuroraAir")
    stored = world.angry(2)
    assert world.alerting.mention_alert(stored, _mild()) is None
    assert [a.mention_id for a in world.outbox.list()] == [stored.id]


def _mild() -> Any:
    from listener.domain import Sentiment

    return Sentiment(
        label="negative",
        probabilities={"negative": 0.7, "neutral": 0.2, "positive": 0.1},
        anger=0.2,
    )


def test_429_retry_after_is_honoured(world: World) -> None:
    world.angry(1)
    world.slack.rate_limit(30)
    assert world.alerting.dispatch(world.t0)["retried"] == 1
    (row,) = world.outbox.list()
    assert row.status == "pending" and row.next_attempt_at == world.t0 + timedelta(seconds=30)
    assert "ratelimited" in (row.last_error or "")
    assert world.alerting.dispatch(world.t0 + timedelta(seconds=29))["sent"] == 0
    assert world.restart().alerting.dispatch(world.t0 + timedelta(seconds=29))["sent"] == 0
    assert world.posted() == 0
    assert world.alerting.dispatch(world.t0 + timedelta(seconds=30))["sent"] == 1
    assert world.posted() == 1
    assert len(world.slack.received("/api/chat.postMessage")) == 2


def test_ten_minute_outage_delays_but_never_loses_or_repeats(world: World) -> None:
    for n in range(1, 6):
        world.angry(n)
    world.slack.stop()
    now = world.t0
    while now < world.t0 + timedelta(minutes=10):
        counts = world.alerting.dispatch(now)
        assert counts["sent"] == 0 and counts["failed"] == 0
        now += timedelta(seconds=20)
    assert {a.status for a in world.outbox.list()} == {"pending"}
    assert all("unreachable" in (a.last_error or "") for a in world.outbox.list() if a.attempts)
    world.slack.restart()
    while now < world.t0 + timedelta(minutes=25):
        world.alerting.dispatch(now)
        now += timedelta(seconds=20)
    assert sorted(m.text.split(": ", 1)[1] for m in world.slack.messages) == sorted(
        f"mention {n} of aurora air" for n in range(1, 6)
    )
    assert {a.status for a in world.outbox.list()} == {"sent"}


def test_server_errors_are_retried_with_backoff(world: World) -> None:
    world.angry(1)
    world.slack.inject(Fault(path_prefix="/api/", status=503, body=b"<html>down</html>", times=2))
    assert world.alerting.dispatch(world.t0)["retried"] == 1
    assert world.outbox.list()[0].next_attempt_at == world.t0 + timedelta(seconds=5)
    assert world.alerting.dispatch(world.t0 + timedelta(seconds=5))["retried"] == 1
    assert world.outbox.list()[0].next_attempt_at == world.t0 + timedelta(seconds=15)
    assert world.alerting.dispatch(world.t0 + timedelta(seconds=15))["sent"] == 1
    assert world.posted() == 1


def test_channel_not_found_fails_that_alert_and_the_others_go_on(
    engine: Engine, emulator: SlackEmulator
) -> None:
    policies = {
        BRAND: BrandPolicy(brand=BRAND, channel="#alerts"),
        "Nimbus": BrandPolicy(brand="Nimbus", channel="#does-not-exist"),
    }
    world = make_world(engine, emulator, policies=policies)
    world.angry(1, brand="Nimbus")
    world.angry(2)
    counts = world.alerting.dispatch(world.t0)
    assert (counts["sent"], counts["failed"]) == (1, 1)
    (failed,) = world.outbox.list(status="failed")
    assert failed.brand == "Nimbus" and "channel_not_found" in (failed.last_error or "")
    assert world.alerting.dispatch(world.t0 + timedelta(hours=1))["sent"] == 0
    assert [m.channel for m in world.slack.messages] == ["#alerts"]


def test_invalid_token_fails_with_the_reason_and_no_secret(
    engine: Engine, emulator: SlackEmulator
) -> None:
    emulator.token = "xoxb-another"
    world = make_world(engine, emulator)
    world.angry(1)
    assert world.alerting.dispatch(world.t0)["failed"] == 1
    (row,) = world.outbox.list()
    assert "invalid_auth" in (row.last_error or "") and TOKEN not in (row.last_error or "")


INJECTIONS = "<!channel> <!here> <!everyone> <@U123> <#C999> <http://evil.example|click> &amp;"


def test_injection_strings_ping_nobody_and_link_nowhere(world: World) -> None:
    world.angry(1, text=f"you suck {INJECTIONS}", author="<@U999>")
    world.alerting.dispatch(world.t0)
    (msg,) = world.slack.messages
    for text in [msg.text, *_texts(msg.blocks)]:
        assert not re.search(r"<[!@#]", text), text
        assert "<http://evil" not in text and "|click>" not in text
    body = "\n".join(_texts(msg.blocks))
    assert "&lt;!channel&gt; &lt;!here&gt;" in body and "&lt;@U123&gt;" in body
    assert "&lt;http://evil.example|click&gt;" in body and "&amp;amp;" in body


def test_long_texts_are_cut_visibly_within_block_kit_limits(world: World) -> None:
    world.angry(1, text="&" * 5000)
    world.alerting.dispatch(world.t0)
    (msg,) = world.slack.messages
    sections = [b["text"]["text"] for b in msg.blocks if b["type"] == "section"]
    assert all(len(s) <= 3000 for s in sections)
    assert "truncated" in sections[0] and "more chars" in sections[0]
    assert not re.search(r"&(?!amp;)", sections[0].split("…")[0].replace("> ", ""))


def test_a_burst_of_200_angry_mentions_becomes_one_digest(world: World) -> None:
    for n in range(1, 201):
        world.angry(n, reach=n * 10)
    counts = world.alerting.dispatch(world.t0)
    assert (counts["sent"], counts["digested"]) == (1, 200)
    (msg,) = world.slack.messages
    body = "\n".join(_texts(msg.blocks))
    assert "200 angry mentions of Aurora Air" in msg.blocks[0]["text"]["text"]
    digest = world.outbox.list(kind="digest")[0]
    assert f"listener --config listener.toml alerts list --digest {digest.id}" in body
    assert "mention 200 of aurora air" in body, "top example by reach × anger"
    folded = world.outbox.list(status="digested")
    assert len(folded) == 200 and {a.digest_id for a in folded} == {digest.id}
    assert world.alerting.dispatch(world.t0 + timedelta(hours=1))["sent"] == 0
    assert world.posted() == 1


def test_a_trickle_sends_the_first_alerts_then_digests_at_most_every_interval(world: World) -> None:
    for n in range(1, 11):
        world.angry(n)
    assert world.alerting.dispatch(world.t0)["sent"] == 10
    world.angry(11)
    assert world.alerting.dispatch(world.t0 + timedelta(seconds=10))["digested"] == 1
    world.angry(12)
    world.angry(13)
    assert world.alerting.dispatch(world.t0 + timedelta(seconds=20))["deferred"] == 2
    assert world.posted() == 11
    counts = world.alerting.dispatch(world.t0 + timedelta(minutes=3))
    assert (counts["digested"], counts["sent"]) == (2, 1)
    assert world.posted() == 12


def test_a_send_interrupted_by_a_crash_is_retried_after_its_lease(world: World) -> None:
    world.angry(1)
    (row,) = world.outbox.due(world.t0, 10)
    assert world.outbox.claim(row.id, now=world.t0, lease=timedelta(seconds=60))  # then "crash"
    assert world.restart().alerting.dispatch(world.t0 + timedelta(seconds=30))["sent"] == 0
    assert world.restart().alerting.dispatch(world.t0 + timedelta(seconds=60))["sent"] == 1
    assert world.posted() == 1
