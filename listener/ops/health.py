"""Health of a running daemon: is the scheduler running, and has every job succeeded recently?

``Monitor.wrap`` times each job run, classifies it (ok, error, skipped) and feeds both the
metrics and ``Health``. A job is overdue when it has not succeeded for ``stale_after`` or three
of its intervals, whichever is longer (counted from the start for a job that never succeeded).
A collect run skipped because its source is still backing off, or paused by a rate limit, is
neither: a source that stays down turns the daemon unhealthy once its last success is overdue,
with the source's error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from listener.domain import utcnow
from listener.logs import scrub
from listener.ops.metrics import Metrics


@dataclass(kw_only=True, slots=True)
class _JobHealth:
    allowance: timedelta
    since: datetime
    """Last success, or when tracking began."""
    succeeded: bool = False
    error: str | None = None


class Health:
    """What ``/healthz`` answers. Thread-safe: jobs record from the scheduler's threads."""

    def __init__(self, *, stale_after: timedelta, clock: Callable[[], datetime] = utcnow) -> None:
        self._stale_after = stale_after
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, _JobHealth] = {}
        self._running: Callable[[], bool] = lambda: False

    def attach(self, running: Callable[[], bool]) -> None:
        """Ask ``running`` whether the scheduler runs (until then: not running)."""
        self._running = running

    def track(self, job: str, interval: timedelta) -> None:
        allowance = max(self._stale_after, 3 * interval)
        with self._lock:
            self._jobs[job] = _JobHealth(allowance=allowance, since=self._clock())

    def record(self, job: str, *, outcome: str, error: str | None = None) -> None:
        with self._lock:
            state = self._jobs.get(job)
            if state is None:
                return
            if outcome == "ok":
                state.since, state.succeeded, state.error = self._clock(), True, None
            elif outcome == "error":
                state.error = error

    def check(self) -> tuple[bool, list[str]]:
        """(healthy, reasons): every reason is one line naming the job and its last error."""
        if not self._running():
            return False, ["scheduler not running"]
        now = self._clock()
        reasons: list[str] = []
        with self._lock:
            for job, state in sorted(self._jobs.items()):
                idle = now - state.since
                if idle <= state.allowance:
                    continue
                what = "no success for" if state.succeeded else "no success since start,"
                reason = f"job {job}: {what} {_ago(idle)} (allowed {_ago(state.allowance)})"
                if state.error:
                    reason += f"; last error: {state.error}"
                reasons.append(scrub(reason))
        return not reasons, reasons


class Monitor:
    """Times and classifies job runs for the metrics and the health check."""

    def __init__(self, *, metrics: Metrics, health: Health) -> None:
        self.metrics = metrics
        self.health = health

    def wrap(self, job: str, interval: timedelta, func: Callable[[], Any]) -> Callable[[], Any]:
        """``func`` with its runs observed; exceptions pass through unchanged."""
        self.health.track(job, interval)

        def observed() -> Any:
            started = time.monotonic()
            try:
                result = func()
            except Exception as exc:
                self._done(job, started, "error", f"{type(exc).__name__}: {exc}")
                raise
            error = getattr(result, "error", None)
            if error:
                self._done(job, started, "error", str(error))
            elif getattr(result, "skipped_until", None) is not None:
                self._done(job, started, "skipped", None)
            else:
                self._done(job, started, "ok", None)
            return result

        return observed

    def _done(self, job: str, started: float, outcome: str, error: str | None) -> None:
        self.metrics.on_job(job, seconds=time.monotonic() - started, outcome=outcome)
        self.health.record(job, outcome=outcome, error=error)


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
