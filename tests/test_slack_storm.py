"""A storm is summed up at once, however large: one digest covers every pending angry mention
of the brand (counts, sources, the top examples), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from listener.emulators.slack import SlackEmulator
from tests.slack_world import BRAND, TOKEN, World, make_world

STORM = 3464
"""The storm measured on main: 1,409 of these were still pending after 10 minutes."""


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts"]).start()
    yield emu
    emu.stop()


@pytest.fixture
def world(engine: Engine, emulator: SlackEmulator) -> World:
    return make_world(engine, emulator, batch_size=256)  # jobs.dispatch.batch_size's default


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)
    elif isinstance(node, str):
        yield node


def test_thousands_of_angry_mentions_become_one_digest_at_once(world: World) -> None:
    world.angry_many(range(1, STORM - 463), source="twitter")
    world.angry_many(range(STORM - 463, STORM + 1), source="reddit")
    assert len(world.outbox.list(status="pending")) == STORM
    counts = world.alerting.dispatch(world.t0)
    assert (counts["digested"], counts["sent"]) == (STORM, 1)
    assert world.outbox.list(status="pending") == []
    (msg,) = world.slack.messages
    body = "\n".join(_texts(msg.blocks))
    assert msg.blocks[0]["text"]["text"] == f"🚨 3,464 angry mentions of {BRAND}"
    assert "*By source:* twitter 3,000 · reddit 464" in body
    (digest,) = world.outbox.list(kind="digest")
    assert digest.details["count"] == STORM and len(digest.details["examples"]) == 5
    assert f"alerts list --digest {digest.id}" in body
    assert "mention 3464 of aurora air" in body, "the top example by reach × anger"
    assert len(world.outbox.list(digest_id=digest.id)) == STORM
    assert world.alerting.dispatch(world.t0 + timedelta(minutes=10))["sent"] == 0
    assert world.posted() == 1


def test_a_storm_that_goes_on_gets_one_digest_per_interval_covering_all(world: World) -> None:
    world.angry_many(range(1, 1001))
    assert world.alerting.dispatch(world.t0)["digested"] == 1000
    world.angry_many(range(1001, 2501))
    counts = world.alerting.dispatch(world.t0 + timedelta(seconds=30))
    assert (counts["deferred"], counts["sent"]) == (1500, 0), "one digest per 2 minutes"
    counts = world.alerting.dispatch(world.t0 + timedelta(minutes=2))
    assert (counts["digested"], counts["sent"]) == (1500, 1)
    assert world.outbox.list(status="pending") == []
    assert [d.details["count"] for d in world.outbox.list(kind="digest")] == [1500, 1000]
    assert world.posted() == 2
