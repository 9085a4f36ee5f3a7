"""The composition root: the only module that picks concrete classes.

``App`` builds every component from the Settings once, lazily (so ``check-config`` or
``export`` never load the model), and exposes one method per job for the daemon and the CLI.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from listener.config import Settings
from listener.domain import BrandQuery, NewAlert, Sentiment, StoredMention, utcnow
from listener.errors import ConfigError
from listener.pipeline import CollectResult, ScoreResult, collect_once, score_pending
from listener.ports import Collector, Notifier, Scorer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from listener.alerting import Alerting
    from listener.store.outbox import SqlOutbox
    from listener.store.sql import SqlStore

log = logging.getLogger(__name__)


class App:
    """Every component of a running listener, built from one Settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def engine(self) -> Engine:
        from listener.store.db import connect

        return connect(self.settings.storage.url)

    def upgrade(self) -> None:
        """Create or migrate the schema (idempotent)."""
        from listener.store.db import ensure_schema

        ensure_schema(self.engine)

    @cached_property
    def store(self) -> SqlStore:
        from listener.store.sql import SqlStore

        return SqlStore(self.engine)

    @cached_property
    def outbox(self) -> SqlOutbox:
        from listener.store.outbox import SqlOutbox

        return SqlOutbox(self.engine)

    @cached_property
    def scorer(self) -> Scorer:
        from listener.scoring.factory import scorer_for

        return scorer_for(self.settings.model)

    @cached_property
    def notifier(self) -> Notifier:
        if self.settings.slack is not None:
            from listener.notifiers import slack

            return slack.build(self.settings.slack)
        from listener.notifiers import console

        return console.build()

    @cached_property
    def alerting(self) -> Alerting:
        from listener.alerting import Alerting

        return Alerting.from_settings(
            self.settings, store=self.store, outbox=self.outbox, notifier=self.notifier
        )

    @cached_property
    def collectors(self) -> dict[str, Collector]:
        """One collector per configured source section; the section name is the module name."""
        built: dict[str, Collector] = {}
        for kind, section in self.settings.sources().items():
            module = importlib.import_module(f"listener.collectors.{kind}")
            built[kind] = module.build(section)
        return built

    @cached_property
    def queries(self) -> list[BrandQuery]:
        return [
            BrandQuery(
                brand=b.name,
                query=b.query,
                languages=tuple(b.languages),
                subreddits=tuple(b.subreddits),
                handles=tuple(b.handles),
            )
            for b in self.settings.brands
        ]

    def query(self, brand: str) -> BrandQuery:
        """The configured brand named ``brand`` (case-insensitive)."""
        for query in self.queries:
            if query.brand.casefold() == brand.casefold():
                return query
        raise ConfigError(f"no brand named {brand!r} in the config")

    def collect(self, kind: str, brand: str) -> CollectResult:
        return collect_once(
            collector=self.collectors[kind],
            store=self.store,
            outbox=self.outbox,
            query=self.query(brand),
            now=utcnow(),
        )

    def score(self, *, max_batches: int = 20) -> ScoreResult:
        rule: Callable[[StoredMention, Sentiment], NewAlert | None] = self.alerting.mention_alert
        return score_pending(
            store=self.store,
            outbox=self.outbox,
            scorer=self.scorer,
            rule=rule,
            handles={q.brand: q.handles for q in self.queries},
            batch_size=self.settings.jobs.score.batch_size,
            max_batches=max_batches,
            now=utcnow(),
        )

    def dispatch(self) -> dict[str, int]:
        return self.alerting.dispatch(utcnow())

    def detect_spikes(self) -> dict[str, int]:
        return self.alerting.detect_spikes(utcnow())

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
