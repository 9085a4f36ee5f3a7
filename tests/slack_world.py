"""Test support for the alerting tests: a store, an outbox, a Slack emulator reached through the
real slack-sdk, and helpers to store angry mentions the way the score job does."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine

from listener.alerting import Alerting
from listener.config import SlackSettings
from listener.dispatch import Dispatcher
from listener.domain import Batch, Score, Sentiment, StoredMention, utcnow
from listener.emulators.slack import SlackEmulator
from listener.notifiers import slack
from listener.ports import Notifier
from listener.rules import BrandPolicy
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention

TOKEN = "xoxb-test-token-123"
BRAND = "Aurora Air"
MODEL = "test-model@1"


def angry_sentiment(anger: float = 0.9) -> Sentiment:
    return Sentiment(
        label="negative",
        probabilities={"negative": 0.92, "neutral": 0.05, "positive": 0.03},
        anger=anger,
        lang="en",
    )


@dataclass
class World:
    engine: Engine
    slack: SlackEmulator
    store: SqlStore
    outbox: SqlOutbox
    alerting: Alerting
    policies: dict[str, BrandPolicy]
    t0: datetime = field(default_factory=lambda: utcnow() + timedelta(minutes=1))
    """The simulated clock's start: after every alert the test stores (rows carry real times)."""

    options: dict[str, Any] = field(default_factory=dict)
    """make_world's keyword arguments, for ``restart``."""

    def restart(self, **changes: Any) -> World:
        """New objects over the same database: what a process restart does."""
        options = {**self.options, "outbox": None, "notifier": None, **changes}
        world = make_world(self.engine, self.slack, policies=self.policies, **options)
        world.t0 = self.t0
        return world

    def angry(
        self, n: int, *, brand: str = BRAND, reach: int = 100, **fields: Any
    ) -> StoredMention:
        """Collect mention ``n`` and score it angry, storing its alert with the score."""
        query = replace(QUERY, brand=brand)
        item = mention(n, brand=brand, author_reach=reach, url=f"https://x.example/{n}", **fields)
        self.store.add_batch("replay", query, Batch(mentions=[item]))
        stored = self.store.find_mention("replay", str(n))
        assert stored is not None
        sentiment = angry_sentiment()
        alert = self.alerting.mention_alert(stored, sentiment)
        score = Score(mention_id=stored.id, model=MODEL, sentiment=sentiment, scored_at=T0)
        self.store.add_scores([score], [alert] if alert else [])
        return stored

    def angry_many(self, ns: range, *, brand: str = BRAND, source: str = "twitter") -> None:
        """Collect and score many angry mentions at once (one batch, one score transaction)."""
        query = replace(QUERY, brand=brand)
        items = [
            mention(
                n, brand=brand, source=source, author_reach=n % 5000, url=f"https://x.example/{n}"
            )
            for n in ns
        ]
        self.store.add_batch(source, query, Batch(mentions=items))
        wanted = {str(n) for n in ns}
        stored = [
            m
            for m in self.store.iter_mentions(brand=brand)
            if m.mention.source == source and m.mention.external_id in wanted
        ]
        sentiment = angry_sentiment()
        scores, new = [], []
        for m in stored:
            scores.append(Score(mention_id=m.id, model=MODEL, sentiment=sentiment, scored_at=T0))
            alert = self.alerting.mention_alert(m, sentiment)
            if alert is not None:
                new.append(alert)
        self.store.add_scores(scores, new)

    def posted(self) -> int:
        return len(self.slack.messages)


def make_world(
    engine: Engine,
    emulator: SlackEmulator,
    *,
    policies: dict[str, BrandPolicy] | None = None,
    timeout: timedelta = timedelta(seconds=3),
    lease: timedelta = timedelta(seconds=60),
    batch_size: int = 500,
    outbox: Any = None,
    notifier: Notifier | None = None,
    **overrides: Any,
) -> World:
    """A store, outbox and dispatcher over ``engine``, posting to ``emulator`` with slack-sdk
    (``outbox``: a wrapper of the SqlOutbox, e.g. one that fails like a full disk)."""
    settings = SlackSettings(
        token=SecretStr(TOKEN),
        channel="#alerts",
        api_base=emulator.api_url,
        timeout=timeout,
    )
    notifier = notifier or slack.build(settings)
    store = SqlStore(engine)
    outbox = outbox or SqlOutbox(engine)
    if policies is None:
        policies = {
            BRAND: BrandPolicy(
                brand=BRAND, channel="#alerts", handles=frozenset({"auroraair"}), **overrides
            )
        }
    dispatcher = Dispatcher(
        store=store,
        outbox=outbox,
        notifier=notifier,
        policies=policies,
        command_prefix="listener --config listener.toml",
        lease=lease,
        batch_size=batch_size,
    )
    alerting = Alerting(store=store, outbox=outbox, dispatcher=dispatcher)
    options = {"timeout": timeout, "lease": lease, "batch_size": batch_size, **overrides}
    return World(engine, emulator, store, outbox, alerting, policies, options=options)
