"""The composition root: the only module that picks concrete classes.

``App`` builds every component from the Settings once, lazily (so ``check-config`` or
``export`` never load the model), and exposes one method per job for the daemon and the CLI.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections import Counter
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
    from listener.ops.metrics import Metrics
    from listener.store.labels import SqlLabels
    from listener.store.outbox import SqlOutbox
    from listener.store.sql import SqlStore
    from listener.store.status import SqlStatus
    from listener.store.trends import SqlTrendsReader
    from listener.trends.report import ReportPlan

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
        from listener.store.rollups import ensure_built

        ensure_schema(self.engine)
        ensure_built(self.engine)  # once, after the migration that added the rollups

    @cached_property
    def store(self) -> SqlStore:
        from listener.store.sql import SqlStore

        return SqlStore(self.engine)

    @cached_property
    def trends(self) -> SqlTrendsReader:
        """The analysts' query API (``listener.trends.query.TrendsReader``)."""
        from listener.store.trends import SqlTrendsReader

        return SqlTrendsReader(self.engine)

    @cached_property
    def labels(self) -> SqlLabels:
        """Label overrides and rules (``listener.trends.query.LabelWriter``)."""
        from listener.store.labels import SqlLabels

        return SqlLabels(self.engine)

    @cached_property
    def outbox(self) -> SqlOutbox:
        from listener.store.outbox import SqlOutbox

        return SqlOutbox(self.engine)

    @cached_property
    def status(self) -> SqlStatus:
        """What ``listener status`` reads; also records each collect run's outcome."""
        from listener.store.status import SqlStatus

        return SqlStatus(self.engine)

    @cached_property
    def metrics(self) -> Metrics:
        """This App's Prometheus metrics, in a registry of their own."""
        from listener.ops.metrics import Metrics

        metrics = Metrics()
        metrics.declare((kind, q.brand) for kind in self.settings.sources() for q in self.queries)
        metrics.watch_outbox(lambda: self.status.outbox())
        return metrics

    @cached_property
    def scorer(self) -> Scorer:
        from listener.scoring.factory import scorer_for

        started = time.monotonic()
        scorer = scorer_for(self.settings.model)
        self.metrics.on_model_loaded(time.monotonic() - started)
        return scorer

    def model_id_without_loading(self) -> str | None:
        """The configured model's id as score rows record it, when known without loading it
        (a bundled model or a local directory); None for a hub id."""
        from listener.scoring.bundled import bundled_model_id
        from listener.scoring.factory import model_id_for
        from listener.scoring.names import BUNDLED_NAMES

        name = self.settings.model.name
        if name in BUNDLED_NAMES:
            return bundled_model_id(name)
        return model_id_for(name, name)

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
        from listener.store.watermarks import SqlWatermarks

        return Alerting.from_settings(
            self.settings,
            store=self.store,
            outbox=self.outbox,
            notifier=self.notifier,
            trends=self.trends,
            watermarks=SqlWatermarks(self.engine),
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
        now = utcnow()
        result = collect_once(
            collector=self.collectors[kind],
            store=self.store,
            outbox=self.outbox,
            query=self.query(brand),
            now=now,
        )
        called = result.error is not None or result.skipped_until is None  # not a backoff skip
        if called:
            self.status.record_outcome(result.source, result.brand, at=now, error=result.error)
        self.metrics.on_collect(
            source=result.source,
            brand=result.brand,
            added=result.added,
            quarantined=result.quarantined,
            ok=called and result.error is None,
        )
        return result

    def score(self, *, max_batches: int = 20) -> ScoreResult:
        scored: Counter[tuple[str, str]] = Counter()

        def rule(mention: StoredMention, sentiment: Sentiment) -> NewAlert | None:
            # called once per scored mention: tallies them per (source, brand) for the metrics
            scored[(mention.mention.source, mention.mention.brand)] += 1
            return self.alerting.mention_alert(mention, sentiment)

        result = score_pending(
            store=self.store,
            outbox=self.outbox,
            scorer=self.scorer,
            rule=rule,
            handles={q.brand: q.handles for q in self.queries},
            batch_size=self.settings.jobs.score.batch_size,
            max_batches=max_batches,
            now=utcnow(),
        )
        self.metrics.on_score(scored, alerts=result.alerts)
        return result

    def dispatch(self) -> dict[str, int]:
        counts = self.alerting.dispatch(utcnow())
        self.metrics.on_dispatch(counts)
        return counts

    def detect_spikes(self) -> dict[str, int]:
        counts = self.alerting.detect_spikes(utcnow())
        self.metrics.on_spikes(counts.get("spikes", 0))
        return counts

    @cached_property
    def report_plans(self) -> list[ReportPlan]:
        """The scheduled report of each brand whose ``report.every`` is not 'off'."""
        from listener.trends.report import ReportPlan

        names = {b.name.casefold(): b.name for b in self.settings.brands}
        plans = []
        for brand in self.settings.brands:
            report = self.settings.report_for(brand)
            if report.every == "off":
                continue
            plans.append(
                ReportPlan(
                    brand=brand.name,
                    every=report.every,
                    hour=report.hour,
                    weekday=report.weekday,
                    channel=report.channel,
                    competitors=tuple(names[c.casefold()] for c in brand.competitors),
                    drivers=report.drivers,
                )
            )
        return plans

    def competitors(self, brand: str) -> list[str]:
        """The configured competitors of ``brand`` (configured names)."""
        names = {b.name.casefold(): b.name for b in self.settings.brands}
        for b in self.settings.brands:
            if b.name.casefold() == brand.casefold():
                return [names[c.casefold()] for c in b.competitors]
        return []

    def reports(self) -> dict[str, int]:
        """Queue each brand's due daily/weekly report in the outbox (once per period)."""
        from listener.store.watermarks import SqlWatermarks
        from listener.trends.report import queue_reports

        return queue_reports(
            self.trends,
            self.outbox,
            self.report_plans,
            now=utcnow(),
            marks=SqlWatermarks(self.engine),
        )

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
