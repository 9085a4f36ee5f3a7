"""A store, an outbox and a dispatcher over any notifiers (webhook, e-mail, several at once),
with angry mentions stored the way the score job stores them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from listener.alerting import Alerting
from listener.dispatch import Dispatcher
from listener.domain import Alert, Batch, Score, StoredMention, utcnow
from listener.ports import Notifier
from listener.rules import BrandPolicy
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention
from tests.slack_world import BRAND, MODEL, angry_sentiment


@dataclass
class NotifyWorld:
    engine: Engine
    notifiers: dict[str, Notifier]
    policy: BrandPolicy
    lease: timedelta = timedelta(seconds=60)
    t0: datetime = field(default_factory=lambda: utcnow() + timedelta(minutes=1))

    def __post_init__(self) -> None:
        self.store = SqlStore(self.engine)
        self.outbox = SqlOutbox(self.engine)
        self.dispatcher = Dispatcher(
            store=self.store,
            outbox=self.outbox,
            notifiers=self.notifiers,
            policies={self.policy.brand: self.policy},
            command_prefix="listener --config listener.toml",
            lease=self.lease,
        )
        self.alerting = Alerting(store=self.store, outbox=self.outbox, dispatcher=self.dispatcher)

    def restart(self) -> NotifyWorld:
        """New objects over the same database and receivers: a process restart."""
        return NotifyWorld(self.engine, self.notifiers, self.policy, self.lease, self.t0)

    def dispatch(self, after: timedelta = timedelta(0)) -> dict[str, int]:
        return self.alerting.dispatch(self.t0 + after)

    def angry(self, n: int, *, text: str | None = None, author: str = "someone") -> StoredMention:
        fields = {"text": text} if text is not None else {}
        item = mention(
            n, brand=BRAND, author=author, author_reach=100, url=f"https://x.example/{n}", **fields
        )
        self.store.add_batch("replay", replace(QUERY, brand=BRAND), Batch(mentions=[item]))
        stored = self.store.find_mention("replay", str(n))
        assert stored is not None
        sentiment = angry_sentiment()
        alert = self.alerting.mention_alert(stored, sentiment)
        assert alert is not None
        score = Score(mention_id=stored.id, model=MODEL, sentiment=sentiment, scored_at=T0)
        self.store.add_scores([score], [alert])
        return stored

    def alerts(self) -> list[Alert]:
        return self.outbox.list()


def policy(**fields: object) -> BrandPolicy:
    return BrandPolicy(brand=BRAND, **fields)  # type: ignore[arg-type]
