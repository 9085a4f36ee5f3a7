"""Prometheus metrics of one App, in a registry of its own (no global registry).

The App records what each job did (``on_*``); the outbox gauges are read from the database at
scrape time through a callable, so they are right whichever process changed the rows. Names:

* ``listener_mentions_collected_total{source,brand}``: new mentions stored
* ``listener_mentions_quarantined_total{source,brand}``: items kept aside as malformed
* ``listener_mentions_scored_total{source,brand}``: mentions scored
* ``listener_alerts_raised_total{kind}``: alerts written to the outbox (mention, spike)
* ``listener_alerts_total{outcome}``: what dispatch did (sent, retried, failed, digested, ...)
* ``listener_outbox_alerts{status}``: undelivered alerts now (pending, failed)
* ``listener_outbox_oldest_pending_age_seconds``: age of the oldest pending alert (0: none)
* ``listener_database_up``: 1 when the last outbox read succeeded
* ``listener_job_duration_seconds{job}``, ``listener_job_runs_total{job,outcome}``,
  ``listener_job_last_success_timestamp_seconds{job}``: every scheduler job
* ``listener_source_last_success_timestamp_seconds{source,brand}``: last successful collect
* ``listener_model_load_seconds``: how long loading the sentiment model took
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from listener.domain import utcnow
from listener.ops.report import OutboxStatus

log = logging.getLogger(__name__)

JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    """Every metric of one App; ``registry`` is what ``/metrics`` exposes."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        pair = ["source", "brand"]
        self.collected = Counter(
            "listener_mentions_collected", "New mentions stored.", pair, registry=r
        )
        self.quarantined = Counter(
            "listener_mentions_quarantined", "Malformed items kept aside.", pair, registry=r
        )
        self.scored = Counter("listener_mentions_scored", "Mentions scored.", pair, registry=r)
        self.raised = Counter(
            "listener_alerts_raised", "Alerts written to the outbox.", ["kind"], registry=r
        )
        self.delivered = Counter(
            "listener_alerts",
            "Alert delivery outcomes of the dispatch job.",
            ["outcome"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "listener_job_duration_seconds",
            "Duration of each scheduler job run.",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.job_runs = Counter(
            "listener_job_runs",
            "Job runs by outcome (ok, error, skipped).",
            ["job", "outcome"],
            registry=r,
        )
        self.job_last_success = Gauge(
            "listener_job_last_success_timestamp_seconds",
            "Unix time of the job's last successful run.",
            ["job"],
            registry=r,
        )
        self.source_last_success = Gauge(
            "listener_source_last_success_timestamp_seconds",
            "Unix time of the last successful collect of a source for a brand.",
            pair,
            registry=r,
        )
        self.model_load = Gauge(
            "listener_model_load_seconds",
            "Seconds it took to load the sentiment model.",
            registry=r,
        )

    def declare(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Show the configured (source, brand) series at 0 before their first run."""
        for source, brand in pairs:
            for counter in (self.collected, self.quarantined, self.scored):
                counter.labels(source, brand)
        for kind in ("mention", "spike"):
            self.raised.labels(kind)

    def watch_outbox(self, read: Callable[[], OutboxStatus]) -> None:
        """Read the outbox gauges with ``read`` at every scrape."""
        self.registry.register(_OutboxCollector(read))

    # -- what the jobs did --------------------------------------------------------------------

    def on_collect(
        self, *, source: str, brand: str, added: int, quarantined: int, ok: bool
    ) -> None:
        self.collected.labels(source, brand).inc(added)
        self.quarantined.labels(source, brand).inc(quarantined)
        if ok:
            self.source_last_success.labels(source, brand).set(self._clock())

    def on_score(self, by_pair: Mapping[tuple[str, str], int], *, alerts: int) -> None:
        for (source, brand), count in by_pair.items():
            self.scored.labels(source, brand).inc(count)
        self.raised.labels("mention").inc(alerts)

    def on_spikes(self, spikes: int) -> None:
        self.raised.labels("spike").inc(spikes)

    def on_dispatch(self, counts: Mapping[str, Any]) -> None:
        for outcome, count in counts.items():
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                self.delivered.labels(outcome).inc(count)

    def on_model_loaded(self, seconds: float) -> None:
        self.model_load.set(seconds)

    def on_job(self, job: str, *, seconds: float, outcome: str) -> None:
        """``outcome``: ok, error, or skipped (a source in backoff or rate limited: no call)."""
        self.job_seconds.labels(job).observe(seconds)
        self.job_runs.labels(job, outcome).inc()
        if outcome == "ok":
            self.job_last_success.labels(job).set(self._clock())


class _OutboxCollector(Collector):
    def __init__(self, read: Callable[[], OutboxStatus]) -> None:
        self._read = read
        self._failing = False

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only: registering must not query the database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("listener_database_up", "1 when the last outbox read succeeded.")
        now: datetime = utcnow()
        try:
            status = self._read()
        except Exception as exc:  # a scrape must answer even when the database is down
            if not self._failing:
                log.warning("metrics: cannot read the outbox: %s: %s", type(exc).__name__, exc)
            self._failing = True
            up.add_metric([], 0)
            yield up
            return
        self._failing = False
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "listener_outbox_alerts", "Undelivered alerts by status.", labels=["status"]
        )
        depth.add_metric(["pending"], status.pending)
        depth.add_metric(["failed"], status.failed)
        yield depth
        yield GaugeMetricFamily(
            "listener_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending alert (0 when none).",
            value=status.oldest_pending_age(now),
        )
