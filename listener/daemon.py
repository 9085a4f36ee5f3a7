"""The daemon: APScheduler 3 jobs over the App, graceful shutdown, and the run-once mode.

One collect job per (source, brand), plus score, spike-detection and alert-dispatch jobs. Jobs
never overlap themselves (``max_instances=1``) and missed runs coalesce. A job that raises is
logged with its name and duration and does not stop the others or the scheduler.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any

from listener.app import App
from listener.domain import utcnow
from listener.pipeline import StageResult

if TYPE_CHECKING:
    from listener.ops.health import Monitor

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    id: str
    func: Callable[[], Any]
    interval: timedelta
    stage: str
    then: str | None = None
    """The job this one feeds: woken at once when the result's ``produced`` is above 0."""


def build_jobs(app: App) -> list[Job]:
    """The jobs of ``app``, in the order a run-once executes them."""
    jobs = [
        Job(
            id=f"collect:{kind}:{query.brand}",
            func=partial(app.collect, kind, query.brand),
            interval=section.interval,
            stage="collect",
            then="score",
        )
        for kind, section in app.settings.sources().items()
        for query in app.queries
    ]
    s = app.settings.jobs
    jobs += [
        Job(id="score", func=app.score, interval=s.score.interval, stage="score", then="dispatch"),
        Job(
            id="spikes",
            func=app.detect_spikes,
            interval=s.trends.interval,
            stage="spikes",
            then="dispatch",
        ),
        Job(
            id="reports",
            func=app.reports,
            interval=s.trends.interval,
            stage="reports",
            then="dispatch",
        ),
        Job(id="dispatch", func=app.dispatch, interval=s.dispatch.interval, stage="dispatch"),
    ]
    return jobs


def counts_of(result: Any) -> dict[str, int]:
    """The integer counters of a job result (dataclass or dict), for logs and summaries."""
    is_record = dataclasses.is_dataclass(result) and not isinstance(result, type)
    items = dataclasses.asdict(result) if is_record else (result or {})
    return {k: v for k, v in dict(items).items() if isinstance(v, int) and not isinstance(v, bool)}


def run_job(job: Job) -> Any:
    """Run one job: one log line with its counts; an exception is logged, never raised."""
    started = time.monotonic()
    try:
        result = job.func()
    except Exception as exc:  # a failing job must not stop the scheduler
        log.error(
            "job %s failed after %.2fs: %s: %s",
            job.id,
            time.monotonic() - started,
            type(exc).__name__,
            exc,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return None
    counts = " ".join(f"{k}={v}" for k, v in counts_of(result).items())
    error = getattr(result, "error", None)
    log.info(
        "job %s done in %.2fs %s%s",
        job.id,
        time.monotonic() - started,
        counts,
        f" error={error!r}" if error else "",
    )
    return result


class OnceTotals(Counter[str]):
    """What a run-once did: ``stage.count`` totals (``failed_jobs``: jobs that raised;
    ``collect.errors``: sources that answered with an error; ``collect.skipped``: sources still
    backing off after an earlier failure, or paused by a rate limit), and each of those as
    ``job id: what happened``."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[str] = []
        self.collect_jobs = 0
        self.collected = 0
        """Collect jobs that reached their source and stored what it returned."""

    @property
    def every_source_failed(self) -> bool:
        """True when there were sources to collect and not one of them could be read."""
        return self.collect_jobs > 0 and self.collected == 0


def run_once(app: App) -> OnceTotals:
    """Every job once, in pipeline order; the score job drains the backlog. Returns totals."""
    totals = OnceTotals()
    for job in build_jobs(app):
        result = run_job(job)
        error, skipped = getattr(result, "error", None), getattr(result, "skipped_until", None)
        if result is None:
            totals["failed_jobs"] += 1
            totals.failures.append(f"{job.id}: the job raised an error (logged above)")
        elif error:
            totals[f"{job.stage}.errors"] += 1
            totals.failures.append(f"{job.id}: {error}")
        elif skipped is not None:
            totals[f"{job.stage}.skipped"] += 1
            why = "rate limited" if getattr(result, "rate_limited", False) else "backing off"
            totals.failures.append(f"{job.id}: {why} until {skipped:%Y-%m-%d %H:%M:%S} UTC")
        elif job.stage == "collect":
            totals.collected += 1
        totals.collect_jobs += job.stage == "collect"
        for key, value in counts_of(result).items():
            totals[f"{job.stage}.{key}"] += value
    return totals


class Chain:
    """Runs jobs for the scheduler and wakes the job a stage feeds (``Job.then``) when its
    typed result says it produced work (``StageResult.produced``), so an angry mention reaches
    the team seconds after the poll that stored it instead of waiting for the next intervals.

    A follow-up that is running when woken is woken again when it ends, so work committed
    while it ran is never left for its next interval. After ``close`` nothing is woken.
    """

    def __init__(self, wake: Callable[[str], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._closed = False

    def __call__(self, job: Job) -> Any:
        with self._lock:
            self._running.add(job.id)
        try:
            result = run_job(job)
        finally:
            with self._lock:
                self._running.discard(job.id)
                again = job.id in self._again
                self._again.discard(job.id)
        if job.then is not None and isinstance(result, StageResult) and result.produced > 0:
            self.wake(job.then)
        if again:
            self.wake(job.id)
        return result

    def wake(self, job_id: str) -> None:
        with self._lock:  # held while waking, so ``close`` waits for a wake-up under way
            if self._closed:
                return
            if job_id in self._running:
                self._again.add(job_id)
                return
            self._wake(job_id)

    def close(self) -> None:
        """Wake nothing from now on: the scheduler is shutting down (APScheduler's shutdown
        holds its job-store lock while it waits for the running jobs, so a job that woke
        another then would wait for that lock forever)."""
        with self._lock:
            self._closed = True


class _NoSkipNotices(logging.Filter):
    """Drops APScheduler's warning that a job's interval came while it still ran: the score
    job drains a backlog for longer than its interval on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def run_forever(
    app: App,
    *,
    max_workers: int = 4,
    monitor: Monitor | None = None,
    jobs: list[Job] | None = None,
) -> None:
    """Run the scheduler until SIGTERM or SIGINT; the running jobs finish first. A ``monitor``
    observes every job run (metrics, health) and is told whether the scheduler runs. ``jobs``:
    these instead of ``build_jobs(app)`` (a scale-out scheduler runs only some)."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers import SchedulerNotRunningError
    from apscheduler.schedulers.blocking import BlockingScheduler

    skip_notices = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _NoSkipNotices) for f in skip_notices.filters):
        skip_notices.addFilter(_NoSkipNotices())
    scheduler = BlockingScheduler(
        timezone="UTC",
        executors={"default": ThreadPoolExecutor(max_workers=max_workers)},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
    )
    jobs = build_jobs(app) if jobs is None else jobs
    scheduled = {j.id for j in jobs}

    def wake(job_id: str) -> None:
        if job_id in scheduled:  # a scale-out scheduler has no score or dispatch job
            scheduler.modify_job(job_id, next_run_time=utcnow())

    chain = Chain(wake)
    now = utcnow()
    if monitor is not None:
        jobs = [dataclasses.replace(j, func=monitor.wrap(j.id, j.interval, j.func)) for j in jobs]
        monitor.health.attach(lambda: scheduler.running)
    for job in jobs:
        scheduler.add_job(
            chain,
            "interval",
            args=[job],
            id=job.id,
            name=job.id,
            seconds=job.interval.total_seconds(),
            next_run_time=now,
        )

    def shutdown() -> None:
        app.stopping.set()  # a score job draining a backlog stops after its current batch
        chain.close()
        with suppress(SchedulerNotRunningError):  # a second signal: already stopping
            scheduler.shutdown(wait=True)  # the jobs already running complete first

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing running jobs, then exiting", signal.Signals(signum).name)
        # not in the handler: it may run while the main loop holds the job-store lock that a
        # job's wake-up is waiting for
        threading.Thread(target=shutdown, name="listener-shutdown").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("listener running %d jobs", len(scheduler.get_jobs()))
    scheduler.start()
    log.info("listener stopped")
