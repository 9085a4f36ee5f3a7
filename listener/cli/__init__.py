"""The ``listener`` command line: ``listener --config FILE once|run|check-config|export|db ...``.

Errors of ours end the command with a one-line message on stderr: exit 2 for configuration
mistakes (before anything starts), 1 for everything else; usage errors are click's (exit 2).
Any other exception is a bug, reported in one line too (``listener.cli.boundary``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from listener.cli.boundary import one_line, unexpected
from listener.cli.state import CliState
from listener.errors import ConfigError, ListenerError
from listener.logs import configure, scrub


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"config error: {scrub(one_line(str(exc)))}", err=True)
            sys.exit(2)
        except ListenerError as exc:
            click.echo(f"error: {scrub(one_line(str(exc)))}", err=True)
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors (exit 2) and --help: click prints them
        except Exception as exc:
            click.echo(f"error: {scrub(unexpected(exc))}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="LISTENER_CONFIG",
    help="TOML config file (env: LISTENER_CONFIG).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format", default="text", show_default=True, type=click.Choice(["text", "json"])
)
@click.version_option(package_name="listener")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, log_level: str, log_format: str) -> None:
    """listener: collect brand mentions, score sentiment and anger, alert Slack."""
    configure(log_level, log_format)
    ctx.obj = CliState(config_path)


def _register() -> None:
    from listener.cli.alerts import alerts
    from listener.cli.core import check_config, db, demo, export, once, run
    from listener.cli.dashboard import dashboard
    from listener.cli.model import model, rescore, score
    from listener.cli.scale import worker
    from listener.cli.status import db_current, status

    db.add_command(db_current)
    for command in (check_config, once, run, db, export, demo, alerts, score, model, rescore):
        main.add_command(command)
    main.add_command(status)
    main.add_command(dashboard)
    from listener.cli.trends import COMMANDS as ANALYSTS

    for command in ANALYSTS:
        main.add_command(command)
    main.add_command(worker)


_register()
