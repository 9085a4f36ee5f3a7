"""``listener worker``: procrastinate workers for the score and dispatch queues."""

from __future__ import annotations

import click

from listener.cli.state import CliState
from listener.errors import ConfigError
from listener.scale.tasks import QUEUES


@click.command()
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice(QUEUES),
    help="Queues to take jobs from (repeatable; default: all).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=None,
    help="Jobs run at a time (overrides [scale] concurrency).",
)
@click.pass_obj
def worker(state: CliState, queues: tuple[str, ...], concurrency: int | None) -> None:
    """Run scoring and alert-dispatch jobs until SIGTERM/SIGINT (needs [scale] engine =
    "procrastinate"; run as many as you have cores, on any machine reaching the database)."""
    app = state.app()
    if not app.scaled_out:
        raise ConfigError(
            f'{state.config_path}: "listener worker" needs [scale] engine = "procrastinate"'
        )
    from listener.scale.runner import run_worker

    app.upgrade()
    run_worker(app, queues=queues or QUEUES, concurrency=concurrency)
