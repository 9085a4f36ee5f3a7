"""``listener dashboard``: the web dashboard for analysts."""

from __future__ import annotations

import click

from listener.cli.state import CliState
from listener.config import is_loopback
from listener.errors import ConfigError


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [dashboard] host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: [dashboard] port, 8050).",
)
@click.pass_obj
def dashboard(state: CliState, host: str | None, port: int | None) -> None:
    """Serve the read-only web dashboard (label overrides need [dashboard] token)."""
    settings = state.settings().dashboard
    host = host or settings.host
    port = settings.port if port is None else port
    token = settings.token.get_secret_value() if settings.token is not None else None
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"--host {host}: the dashboard would be reachable from other machines without a "
            'token: set [dashboard] token = "${LISTENER_DASHBOARD_TOKEN}" or bind 127.0.0.1'
        )
    from listener.dashboard.build import build_data
    from listener.dashboard.serve import serve
    from listener.dashboard.web import LOOPBACK_NAMES, create_app

    app = state.app()
    app.upgrade()
    hosts = LOOPBACK_NAMES if is_loopback(host) else ("*",)  # beyond: the token and your proxy
    serve(create_app(build_data(app), token=token, allowed_hosts=hosts), host=host, port=port)
