"""``listener worker`` and ``listener run --role scheduler|all`` with ``[scale] engine =
"procrastinate"``.

A worker runs procrastinate jobs of the score and dispatch queues on this process's App. A
scheduler first becomes the leader (``leader.py``; standbys wait), then runs the collectors,
spike detection and the queue's upkeep with the daemon's scheduler; it stops at once when it
can no longer be sure it leads. ``--role all`` also runs a worker in the same process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from listener.daemon import Job, build_jobs, run_forever
from listener.errors import ListenerError
from listener.scale.leader import Leadership
from listener.scale.tasks import QUEUES, conninfo
from listener.scale.upkeep import upkeeper

if TYPE_CHECKING:
    from listener.app import App
    from listener.ops.health import Monitor

log = logging.getLogger(__name__)

SCHEDULER_STAGES = ("collect", "spikes")
LEADER_CHECK = timedelta(seconds=1)


def worker_options(app: App, *, queues: tuple[str, ...], concurrency: int | None) -> dict[str, Any]:
    scale = app.settings.scale
    stalled = scale.stalled_after.total_seconds()
    return {
        "queues": list(queues),
        "concurrency": concurrency or scale.concurrency,
        "name": f"listener-{os.getpid()}",
        # a heartbeat several times per stalled_after: a live worker is never taken for dead
        "update_heartbeat_interval": max(0.5, stalled / 4),
        "stalled_worker_timeout": stalled,
    }


def run_worker(
    app: App, *, queues: tuple[str, ...] = QUEUES, concurrency: int | None = None
) -> None:
    """Run jobs until SIGTERM/SIGINT (procrastinate finishes the running jobs first)."""
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise ListenerError(f"unknown queue(s) {unknown}: the queues are {list(QUEUES)}")
    if "score" in queues:
        app.scorer  # noqa: B018 -- load the model now: a broken one fails at start
    log.info("worker for queues %s", ", ".join(queues))
    app.procrastinate.run_worker(**worker_options(app, queues=queues, concurrency=concurrency))


def scheduler_jobs(app: App) -> list[Job]:
    """The leader's jobs: collectors and spikes (as the daemon has them) and the upkeep."""
    scale = app.settings.scale
    jobs = [j for j in build_jobs(app) if j.stage in SCHEDULER_STAGES]
    jobs.append(
        Job(
            id="upkeep",
            func=upkeeper(app),
            interval=scale.upkeep_interval,
            stage="upkeep",
        )
    )
    return jobs


def watch_leadership(leadership: Leadership, lost: threading.Event, done: threading.Event) -> None:
    """Until ``done``: check every second that the lock is still ours; if not, set ``lost``
    and stop this process's scheduler gracefully (SIGTERM), so no standby and this process
    collect at once for longer than a check."""
    while not done.wait(LEADER_CHECK.total_seconds()):
        if not leadership.held():
            log.error("lost the scheduler lock (database connection gone): stopping")
            lost.set()
            os.kill(os.getpid(), signal.SIGTERM)
            return


def run_scheduler(app: App, *, with_worker: bool, monitor: Monitor | None = None) -> None:
    """Stand by until this process leads, then schedule until SIGTERM/SIGINT."""
    leadership = Leadership(conninfo(app.settings.storage.url), poll=app.settings.scale.leader_poll)
    stop = threading.Event()

    def standby_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s while standing by: exiting", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, standby_stop)
    signal.signal(signal.SIGINT, standby_stop)
    worker = _WorkerThread(app) if with_worker else None
    if worker is not None:
        worker.start()
    try:
        if not leadership.acquire(stop):
            return
        log.info("this scheduler is the leader")
        lost, done = threading.Event(), threading.Event()
        watch = threading.Thread(
            target=watch_leadership, args=(leadership, lost, done), name="listener-leader"
        )
        watch.start()
        try:
            run_forever(app, jobs=scheduler_jobs(app), monitor=monitor)
        finally:
            done.set()
            watch.join()
        if lost.is_set():
            raise ListenerError("the scheduler lost its leadership (database connection lost)")
    finally:
        leadership.release()
        if worker is not None:
            worker.stop()


class _WorkerThread:
    """A procrastinate worker in a thread of this process (``--role all``)."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="listener-worker", daemon=True)

    def start(self) -> None:
        self._app.scorer  # noqa: B018 -- load the model now: a broken one fails at start
        self._thread.start()

    def _run(self) -> None:
        options = worker_options(self._app, queues=QUEUES, concurrency=None)
        options["install_signal_handlers"] = False
        queue = self._app.procrastinate

        async def work() -> None:
            async with queue.open_async():
                await queue.run_worker_async(**options)

        self._task = self._loop.create_task(work())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def stop(self) -> None:
        """Stop taking jobs; the running ones finish first."""
        if self._task is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=60)
