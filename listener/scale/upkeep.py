"""The queue's upkeep, run by the leader every ``[scale] upkeep_interval``.

- Jobs of workers that stopped sending heartbeats (SIGKILL, lost machine) for ``stalled_after``
  go back to the queue; their workers' rows are pruned.
- Finished jobs older than ``keep_finished`` are deleted.
- Work without a job is enqueued: mentions still in ``score_queue`` while the score queue has
  no job left (queued before the switch to procrastinate, or by a model change), and alerts
  due again (a retry after Retry-After) while no dispatch job waits. Both are harmless when
  doubled: the stages skip what is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from listener.domain import utcnow
from listener.scale.tasks import (
    DISPATCH_QUEUE,
    DISPATCH_TASK,
    QUEUES,
    SCORE_QUEUE,
    SCORE_TASK,
    build,
)

if TYPE_CHECKING:
    import procrastinate

    from listener.app import App

log = logging.getLogger(__name__)

ORPHANS_PER_PASS = 100_000


@dataclass(frozen=True, kw_only=True, slots=True)
class UpkeepResult:
    retried: int = 0
    pruned_workers: int = 0
    enqueued: int = 0
    dispatches: int = 0


def upkeeper(app: App) -> Callable[[], UpkeepResult]:
    """The upkeep pass of ``app`` (see the module docstring), on a procrastinate App of its own,
    opened for each pass on an event loop of its own (the App's may serve a worker on another)."""
    queue = build(lambda: app, url=app.settings.storage.url)
    return lambda: asyncio.run(_upkeep(app, queue))


async def _upkeep(app: App, queue: procrastinate.App) -> UpkeepResult:
    scale = app.settings.scale
    stalled = scale.stalled_after.total_seconds()
    async with queue.open_async():
        manager = queue.job_manager
        retried = 0
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled):
            await manager.retry_job(job)
            retried += 1
            log.warning("job %s (%s) of a dead worker: queued again", job.id, job.task_name)
        pruned = await manager.prune_stalled_workers(seconds_since_heartbeat=stalled)
        hours = int(scale.keep_finished / timedelta(hours=1))
        for name in QUEUES:
            await manager.delete_old_jobs(nb_hours=hours, queue=name, include_failed=False)
        waiting = {q["name"]: q["todo"] + q["doing"] for q in await manager.list_queues_async()}
        enqueued = dispatches = 0
        if not waiting.get(SCORE_QUEUE):
            enqueued = await _enqueue_orphans(app, queue)
        if not waiting.get(DISPATCH_QUEUE) and app.outbox.due(utcnow(), 1):
            await queue.configure_task(DISPATCH_TASK).defer_async(alert_ids=None)
            dispatches = 1
    return UpkeepResult(
        retried=retried, pruned_workers=len(pruned), enqueued=enqueued, dispatches=dispatches
    )


async def _enqueue_orphans(app: App, queue: procrastinate.App) -> int:
    ids = app.store.queued_ids(limit=ORPHANS_PER_PASS)
    if not ids:
        return 0
    size = app.settings.scale.batch_size
    batches: list[dict[str, Any]] = [
        {"mention_ids": ids[i : i + size]} for i in range(0, len(ids), size)
    ]
    await queue.configure_task(SCORE_TASK).batch_defer_async(*batches)
    log.info("enqueued %d queued mentions that had no scoring job", len(ids))
    return len(ids)
