"""The composition root: the only module that picks concrete classes.

``App`` builds every component from the Settings once, lazily (so ``check-config`` or
``export`` never load the model), and exposes one method per job for the daemon and the CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from listener import plugins
from listener.config import Settings
from listener.domain import BrandQuery, NewAlert, Sentiment, StoredMention, utcnow
from listener.errors import ConfigError
from listener.pipeline import CollectResult, ReportResult, SpikeResult, collect_once
from listener.plugins import PluginContext
from listener.ports import Collector, Notifier, Scorer
from listener.rules import BrandPolicy, mention_alert, policies_from_settings
from listener.stages.score import ScoreResult, ScoreStage

if TYPE_CHECKING:
    import procrastinate
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
        self.stopping = threading.Event()
        """Set when the process is shutting down: long stages stop between batches."""
        self._model_checked = False

    @cached_property
    def engine(self) -> Engine:
        from listener.store.db import connect

        return connect(self.settings.storage.url)

    def upgrade(self) -> None:
        """Create or migrate the schema (idempotent; one process at a time on PostgreSQL),
        with the job queue's tables when ``[scale] engine = "procrastinate"``."""
        from listener.scale.schema import ensure_queue_schema, one_at_a_time
        from listener.store.db import ensure_schema
        from listener.store.rollups import ensure_built

        with one_at_a_time(self.engine):
            ensure_schema(self.engine)
            ensure_built(self.engine)  # once, after the migration that added the rollups
            if self.scaled_out:
                ensure_queue_schema(self.engine, self.procrastinate.schema_manager.get_schema)

    @property
    def scaled_out(self) -> bool:
        """Whether scoring and dispatch run as procrastinate jobs (``[scale] engine``)."""
        return self.settings.scale.engine == "procrastinate"

    @cached_property
    def procrastinate(self) -> procrastinate.App:
        """The job queue (``[scale] engine = "procrastinate"``); its tasks run on this App."""
        from listener.scale.tasks import build

        return build(lambda: self, url=self.settings.storage.url)

    @cached_property
    def store(self) -> SqlStore:
        from listener.store.sql import SqlStore

        if not self.scaled_out:
            return SqlStore(self.engine)
        from listener.scale.tasks import Enqueuer

        # jobs are deferred in the transactions that store their mentions and alerts
        scale = self.settings.scale
        jobs = Enqueuer(url=self.settings.storage.url, batch_size=scale.batch_size)
        return SqlStore(self.engine, on_queued=jobs.score, on_alerts=jobs.dispatch)

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
        from listener.scale.metrics import QueueCollector

        metrics.registry.register(QueueCollector(self.engine, jobs=self.scaled_out))
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

    def _context(self, name: str) -> PluginContext:
        folder = self.settings.source_path.parent if self.settings.source_path else None
        return PluginContext(name=name, config_dir=folder)

    @cached_property
    def notifiers(self) -> dict[str, Notifier]:
        """The configured notifiers by name; the console when none is configured."""
        configured = self.settings.notifiers()
        if not configured:
            console = plugins.notifier("console")
            assert console is not None  # shipped in listener/notifiers/
            return {"console": console.build(console.settings(), self._context("console"))}
        built: dict[str, Notifier] = {}
        for name, section in configured.items():
            plugin = plugins.notifier(section.kind)
            if plugin is None:
                raise ConfigError(f"{section.where}: no notifier plugin {section.kind!r}")
            built[name] = plugin.build(section.settings, self._context(name))
        return built

    @property
    def notifier(self) -> Notifier:
        """The first configured notifier (kept for callers from before routing)."""
        return next(iter(self.notifiers.values()))

    @cached_property
    def policies(self) -> dict[str, BrandPolicy]:
        """Each brand's alert policy, built once from the config."""
        return policies_from_settings(self.settings)

    @cached_property
    def default_policy(self) -> BrandPolicy:
        return BrandPolicy.from_settings(self.settings.alerts)

    @cached_property
    def alerting(self) -> Alerting:
        from listener.alerting import Alerting
        from listener.store.watermarks import SqlWatermarks

        return Alerting.from_settings(
            self.settings,
            store=self.store,
            outbox=self.outbox,
            notifiers=self.notifiers,
            policies=self.policies,
            trends=self.trends,
            watermarks=SqlWatermarks(self.engine),
        )

    @cached_property
    def collectors(self) -> dict[str, Collector]:
        """One collector per configured source section, built by its kind's plugin."""
        built: dict[str, Collector] = {}
        for kind, section in self.settings.source_sections.items():
            plugin = plugins.source(kind)
            if plugin is None:
                raise ConfigError(f"{section.where}: no source plugin {kind!r}")
            built[kind] = plugin.build(section.settings, self._context(kind))
        return built

    @cached_property
    def queries(self) -> list[BrandQuery]:
        """Every brand's query, without any source's options."""
        return [
            BrandQuery(
                brand=b.name,
                query=b.query,
                languages=tuple(b.languages),
                handles=tuple(b.handles),
            )
            for b in self.settings.brands
        ]

    def query(self, brand: str, kind: str | None = None) -> BrandQuery:
        """The configured brand named ``brand`` (case-insensitive), with its options for
        source ``kind`` (``[brands.KIND]``)."""
        for query, settings in zip(self.queries, self.settings.brands, strict=True):
            if query.brand.casefold() == brand.casefold():
                if kind is None:
                    return query
                return replace(query, options=settings.option(kind))
        raise ConfigError(f"no brand named {brand!r} in the config")

    def collect(self, kind: str, brand: str) -> CollectResult:
        now = utcnow()
        result = collect_once(
            collector=self.collectors[kind],
            store=self.store,
            outbox=self.outbox,
            query=self.query(brand, kind),
            now=now,
        )
        # neither a backoff skip nor a rate limit (a pause the source asked for, not a failure)
        called = result.error is not None or result.skipped_until is None
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

    def score_stage(self, tally: Counter[tuple[str, str]]) -> ScoreStage:
        """The score stage over this App's store and model; ``tally`` counts the mentions
        scored per (source, brand), for the metrics."""

        def rule(mention: StoredMention, sentiment: Sentiment) -> NewAlert | None:
            tally[(mention.mention.source, mention.mention.brand)] += 1
            brand = mention.mention.brand
            return mention_alert(
                mention, sentiment, self.policies.get(brand) or self.default_policy
            )

        return ScoreStage(
            store=self.store,
            queue=self.store,
            outbox=self.outbox,
            scorer=lambda: self.scorer,
            rule=rule,
            handles={q.brand: q.handles for q in self.queries},
            batch_size=self.settings.jobs.score.batch_size,
        )

    def score(self) -> ScoreResult:
        """Score every queued mention (until the queue is empty or ``stopping`` is set); the
        model loads only when something is queued."""
        self._queue_for_new_model()
        tally: Counter[tuple[str, str]] = Counter()
        result = self.score_stage(tally).drain(should_stop=self.stopping.is_set)
        self.metrics.on_score(tally, alerts=result.alerts)
        return result

    def score_ids(self, ids: list[int]) -> ScoreResult:
        """Score the mentions of ``ids`` still queued (a scoring task's batch)."""
        tally: Counter[tuple[str, str]] = Counter()
        result = self.score_stage(tally).score_ids(ids)
        self.metrics.on_score(tally, alerts=result.alerts)
        return result

    def _queue_for_new_model(self) -> None:
        """Once per App: when the configured model has no score yet but another model has,
        queue the mentions it has not scored (a model switch re-scores the history, as the
        store did before it had a queue). A hub model's id is unknown before it loads: skipped."""
        if self._model_checked:
            return
        self._model_checked = True
        model = self.model_id_without_loading()
        if model is None or self.store.has_scores(model) or not self.store.has_scores(None):
            return
        queued = self.store.requeue_unscored(model, now=utcnow())
        if queued:
            log.info("model %s has not scored %d stored mentions: queued them", model, queued)

    def dispatch(self, ids: list[int] | None = None) -> dict[str, int]:
        """Send the due alerts (those of ``ids`` only: a dispatch task's batch)."""
        counts = self.alerting.dispatch(utcnow(), ids=ids)
        self.metrics.on_dispatch(counts)
        return counts

    def detect_spikes(self) -> SpikeResult:
        counts = self.alerting.detect_spikes(utcnow())
        self.metrics.on_spikes(counts.get("spikes", 0))
        return SpikeResult(
            checked=counts.get("checked", 0),
            windows=counts.get("windows", 0),
            spikes=counts.get("spikes", 0),
        )

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

    def reports(self) -> ReportResult:
        """Queue each brand's due daily/weekly report in the outbox (once per period)."""
        from listener.store.watermarks import SqlWatermarks
        from listener.trends.report import queue_reports

        counts = queue_reports(
            self.trends,
            self.outbox,
            self.report_plans,
            now=utcnow(),
            marks=SqlWatermarks(self.engine),
        )
        return ReportResult(due=counts.get("due", 0), queued=counts.get("queued", 0))

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
