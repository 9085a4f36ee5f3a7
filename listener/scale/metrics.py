"""Queue gauges for ``/metrics``, read from the database at scrape time:

* ``listener_score_queue_mentions``: mentions waiting for a score (both engines)
* ``listener_score_queue_oldest_age_seconds``: how long the oldest of them has waited (0: none)
* ``listener_queue_jobs{queue,status}``: procrastinate jobs to do / being done, per queue
* ``listener_queue_oldest_job_age_seconds{queue,status}``: age of the oldest such job (since it
  was deferred)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

from listener.domain import utcnow
from listener.scale.tasks import QUEUES
from listener.store.queue import SqlScoreQueue

log = logging.getLogger(__name__)

JOBS_SQL = """
SELECT j.queue_name, j.status::text, count(*), min(e.at)
  FROM procrastinate_jobs j
  LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
 WHERE j.status IN ('todo', 'doing')
 GROUP BY j.queue_name, j.status
"""


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueStatus:
    mentions: int
    oldest_mention_at: datetime | None
    jobs: dict[tuple[str, str], tuple[int, datetime | None]] = field(default_factory=dict)
    """(queue, status) -> (jobs, when the oldest was deferred)."""


def read_status(engine: Engine, *, jobs: bool) -> QueueStatus:
    """The score queue, and procrastinate's jobs when ``jobs``."""
    mentions, oldest = SqlScoreQueue(engine).depth()
    found: dict[tuple[str, str], tuple[int, datetime | None]] = {}
    if jobs:
        with engine.connect() as conn:
            for queue, status, count, first in conn.execute(text(JOBS_SQL)):
                found[(queue, status)] = (int(count), first)
    return QueueStatus(mentions=mentions, oldest_mention_at=oldest, jobs=found)


class QueueCollector(Collector):
    """The gauges above; a failed read yields nothing (``listener_database_up`` says why)."""

    def __init__(self, engine: Engine, *, jobs: bool) -> None:
        self._engine = engine
        self._jobs = jobs

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time only: registering must not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            status = read_status(self._engine, jobs=self._jobs)
        except Exception as exc:  # a scrape must answer even when the database is down
            log.debug("metrics: cannot read the queues: %s", exc)
            return
        now = utcnow()
        yield GaugeMetricFamily(
            "listener_score_queue_mentions",
            "Mentions waiting for a score.",
            value=status.mentions,
        )
        yield GaugeMetricFamily(
            "listener_score_queue_oldest_age_seconds",
            "How long the oldest mention waiting for a score has waited (0 when none).",
            value=_age(now, status.oldest_mention_at),
        )
        if not self._jobs:
            return
        depth = GaugeMetricFamily(
            "listener_queue_jobs", "Queued jobs by queue and status.", labels=["queue", "status"]
        )
        age = GaugeMetricFamily(
            "listener_queue_oldest_job_age_seconds",
            "Age of the oldest job by queue and status, since it was deferred (0 when none).",
            labels=["queue", "status"],
        )
        for queue in QUEUES:
            for state in ("todo", "doing"):
                count, first = status.jobs.get((queue, state), (0, None))
                depth.add_metric([queue, state], count)
                age.add_metric([queue, state], _age(now, first))
        yield depth
        yield age


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0
