"""The composition root: the only module that picks concrete classes.

``App`` builds every component from the Settings once, lazily (so ``check-config`` or
``export`` never load the model), and exposes one method per job for the daemon and the CLI.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING, Any

from listener.config import Settings
from listener.domain import BrandQuery, NewAlert, Sentiment, StoredMention, utcnow
from listener.errors import ConfigError
from listener.pipeline import CollectResult, collect_once
from listener.ports import Collector, Notifier, Scorer
from listener.stages.score import ScoreResult, ScoreStage

if TYPE_CHECKING:
    import procrastinate
    from sqlalchemy import Engine

    from listener.alerting import Alerting
    from listener.ops.metrics import Metrics
    from listener.store.outbox import SqlOutbox
    from listener.store.sql import SqlStore
    from listener.store.status import SqlStatus

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

        with one_at_a_time(self.engine):
            ensure_schema(self.engine)
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

    def score_stage(self, tally: Counter[tuple[str, str]]) -> ScoreStage:
        """The score stage over this App's store and model; ``tally`` counts the mentions
        scored per (source, brand), for the metrics."""

        def rule(mention: StoredMention, sentiment: Sentiment) -> NewAlert | None:
            tally[(mention.mention.source, mention.mention.brand)] += 1
            return self.alerting.mention_alert(mention, sentiment)

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

    def detect_spikes(self) -> dict[str, int]:
        counts = self.alerting.detect_spikes(utcnow())
        self.metrics.on_spikes(counts.get("spikes", 0))
        return counts

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
