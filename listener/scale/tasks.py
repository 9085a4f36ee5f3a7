"""The procrastinate App of a listener: the score and dispatch tasks, and their enqueuing.

A task carries explicit inputs only (a batch of mention ids, a batch of alert ids) and runs the
same stage function as the single-process daemon (``App.score_ids``, ``App.dispatch``), whose
effects are idempotent in the database: a job run twice (its worker died after the commit, a
stalled job retried while it still ran) adds nothing the first run did not.

Jobs are deferred inside the transaction that stored their input (``Enqueuer``): the mentions
and their scoring jobs commit together, and so do the scores, their alerts and the dispatch job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import procrastinate
    from sqlalchemy import Connection

    from listener.app import App

log = logging.getLogger(__name__)

SCORE_QUEUE = "score"
DISPATCH_QUEUE = "dispatch"
SCORE_TASK = "listener.score"
DISPATCH_TASK = "listener.dispatch"
QUEUES = (SCORE_QUEUE, DISPATCH_QUEUE)


def conninfo(url: str) -> str:
    """A libpq connection string for the SQLAlchemy ``storage.url``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def build(listener: Callable[[], App], *, url: str) -> procrastinate.App:
    """The procrastinate App over the database at ``url``; its tasks run on ``listener()``
    (the worker process's App, built once)."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(conninfo=conninfo(url))
    app = procrastinate.App(connector=connector)
    # a task that raised (database restarting, Slack answer lost...) is retried with backoff;
    # its effects are idempotent, so a retry can only finish what the failed run left undone
    retry = procrastinate.RetryStrategy(max_attempts=20, wait=1, exponential_wait=2)

    @app.task(name=SCORE_TASK, queue=SCORE_QUEUE, retry=retry)
    def score(mention_ids: list[int]) -> dict[str, int]:
        result = listener().score_ids(mention_ids)
        log.info(
            "scored %d of %d mentions, %d alerts", result.scored, len(mention_ids), result.alerts
        )
        return {"scored": result.scored, "alerts": result.alerts}

    @app.task(name=DISPATCH_TASK, queue=DISPATCH_QUEUE, retry=retry)
    def dispatch(alert_ids: list[int] | None = None) -> dict[str, int]:
        return listener().dispatch(alert_ids)

    return app


class Enqueuer:
    """Defers scoring and dispatch jobs on the caller's database connection, so they commit
    (or roll back) with the rows they are about. Scoring jobs get ``batch_size`` mention ids
    each: batching happens here, where a whole collected batch is known."""

    def __init__(self, *, url: str, batch_size: int) -> None:
        import procrastinate

        # a connector of its own, never opened: it only runs the deferring statement on the
        # connection it is handed (a worker's App has an async pool, which cannot)
        self._app = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(url))
        )
        self._batch_size = batch_size

    def score(self, conn: Connection, mention_ids: list[int]) -> None:
        size = self._batch_size
        batches = [mention_ids[i : i + size] for i in range(0, len(mention_ids), size)]
        self._defer(conn, SCORE_TASK, SCORE_QUEUE, [{"mention_ids": b} for b in batches])

    def dispatch(self, conn: Connection, alert_ids: list[int]) -> None:
        self._defer(conn, DISPATCH_TASK, DISPATCH_QUEUE, [{"alert_ids": alert_ids}])

    def _defer(self, conn: Connection, task: str, queue: str, kwargs: list[dict[str, Any]]) -> None:
        driver = conn.connection.driver_connection  # the psycopg connection of this transaction
        if kwargs:  # the task is not registered on this App: its queue is named here
            deferrer = self._app.configure_task(task, queue=queue, connection=driver)
            deferrer.batch_defer(*kwargs)
