"""Start the ops endpoint for a daemon run: ``with serving(app, port=...) as monitor``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from listener.ops.health import Health, Monitor
from listener.ops.server import OpsServer

if TYPE_CHECKING:
    from listener.app import App


@contextmanager
def serving(app: App, *, port: int | None = None) -> Iterator[Monitor | None]:
    """Serve ``/metrics`` and ``/healthz`` while the block runs; yields the Monitor to hand to
    the scheduler. ``port`` overrides ``[ops] metrics_port``; with neither, nothing is served
    and None is yielded."""
    ops = app.settings.ops
    port = ops.metrics_port if port is None else port
    if port is None:
        yield None
        return
    health = Health(stale_after=ops.unhealthy_after)
    server = OpsServer(
        registry=app.metrics.registry, health=health, host=ops.metrics_host, port=port
    ).start()
    try:
        yield Monitor(metrics=app.metrics, health=health)
    finally:
        server.close()
