"""Core commands: check-config, once, run, db upgrade, export, demo."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import click

from listener.cli.state import CliState
from listener.daemon import run_forever, run_once
from listener.domain import utcnow
from listener.durations import parse_duration
from listener.errors import ConfigError, ListenerError, SourceError
from listener.ports import ExportRow

EXPORT_COLUMNS = [
    "source",
    "external_id",
    "created_at",
    "author",
    "url",
    "text",
    "label",
    "negative",
    "neutral",
    "positive",
    "anger",
    "lang",
    "model",
    "model_label",
    "label_by",
]
"""``label`` is the effective label (an analyst's override or a label rule wins, ``label_by``
says whose); ``model_label`` is the model's own."""


def since_option(default: str | None = None) -> Any:
    def convert(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            return utcnow() - parse_duration(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        except OverflowError:
            raise click.BadParameter(f"{value!r} reaches back before the year 1") from None

    return click.option(
        "--since",
        default=default,
        callback=convert,
        metavar="DURATION",
        help="Only what is newer than this, e.g. 24h, 7d.",
    )


@click.command("check-config")
@click.pass_obj
def check_config(state: CliState) -> None:
    """Validate the config file, check that it has brands and sources and that its database
    answers, and say what it configures (exit 2: a config mistake, 1: the database)."""
    from listener.cli.checks import check_database, listening_problems

    s = state.settings()
    problems = listening_problems(s)
    if problems:
        raise ConfigError(f"{state.config_path}: " + "; ".join(problems))
    database = check_database(s)
    sources = ", ".join(s.sources())
    notifier = ", ".join(s.notifiers()) or "console"
    click.echo(
        f"{state.config_path}: ok ({len(s.brands)} brands; sources: {sources}; "
        f"alerts: {notifier}; model: {s.model.name}; database: {database})"
    )


@click.command()
@click.pass_obj
def once(state: CliState) -> None:
    """Run every job once (collect, score, detect spikes, dispatch alerts), then exit."""
    app = state.app()
    app.upgrade()
    totals = run_once(app)
    line = " ".join(f"{k}={v}" for k, v in sorted(totals.items()))
    click.echo(f"once: {line}")
    if totals.every_source_failed:  # exit 1: nothing could be collected
        raise SourceError("no source could be read: " + "; ".join(totals.failures))
    if totals["failed_jobs"]:
        raise ListenerError(f"{totals['failed_jobs']} jobs failed: " + "; ".join(totals.failures))


@click.command()
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve /metrics and /healthz on this port (overrides [ops] metrics_port).",
)
@click.option(
    "--role",
    type=click.Choice(["all", "scheduler"]),
    default="all",
    show_default=True,
    help="With [scale] engine = procrastinate: 'scheduler' collects (one leader at a time; "
    "start several, the others stand by) and leaves scoring to 'listener worker'; 'all' also "
    "runs a worker in this process.",
)
@click.pass_obj
def run(state: CliState, metrics_port: int | None, role: str) -> None:
    """Run the daemon until SIGTERM/SIGINT."""
    from listener.ops.serve import serving

    app = state.app()
    if role == "scheduler" and not app.scaled_out:
        raise ConfigError(
            f'{state.config_path}: --role scheduler needs [scale] engine = "procrastinate"'
        )
    app.upgrade()
    with serving(app, port=metrics_port) as monitor:  # /healthz says 503 while the model loads
        if app.scaled_out:
            from listener.scale.runner import run_scheduler

            run_scheduler(app, with_worker=role == "all", monitor=monitor)
            return
        app.scorer  # noqa: B018 -- load the model now: a broken one fails at start, not 1st poll
        run_forever(app, monitor=monitor)


@click.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(state: CliState) -> None:
    """Create or migrate the schema to the latest version."""
    from listener.store.db import current_revision

    app = state.app()
    app.upgrade()
    click.echo(f"database at revision {current_revision(app.engine)}")


def _flat(row: ExportRow) -> dict[str, Any]:
    m = row.mention.mention
    s = row.score.sentiment if row.score else None
    return {
        "source": m.source,
        "external_id": m.external_id,
        "created_at": m.created_at.isoformat(),
        "author": m.author,
        "url": m.url,
        "text": m.text,
        "label": row.label_override or (s.label if s else None),
        **{
            k: (round(s.probabilities[k], 4) if s else None)
            for k in ("negative", "neutral", "positive")
        },
        "anger": round(s.anger, 4) if s else None,
        "lang": (s.lang if s and s.lang else m.lang),
        "model": row.score.model if row.score else None,
        "model_label": s.label if s else None,
        "label_by": row.label_by,
    }


def write_export(rows: Iterator[ExportRow], fmt: str, out: TextIO) -> int:
    """Write rows as JSON lines (probabilities nested) or CSV; returns the row count."""
    count = 0
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for row in rows:
        flat = _flat(row)
        if writer:
            writer.writerow(flat)
        else:
            probs = {k: flat.pop(k) for k in ("negative", "neutral", "positive")}
            flat["probabilities"] = probs if flat["model_label"] else None
            out.write(json.dumps(flat, ensure_ascii=False) + "\n")
        count += 1
    return count


@click.command()
@click.option("--brand", required=True, help="Brand name as in the config.")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default=None,
    help="File to write (default: stdout).",
)
@since_option()
@click.pass_obj
def export(
    state: CliState, brand: str, fmt: str, output: TextIO | None, since: datetime | None
) -> None:
    """Export a brand's mentions with their latest scores."""
    app = state.app()
    app.upgrade()
    name = app.query(brand).brand
    count = write_export(app.store.export(brand=name, since=since), fmt, output or sys.stdout)
    click.echo(f"exported {count} mentions of {name}", err=True)


@click.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("listener-demo"),
    show_default=True,
    help="Where the demo writes its config and SQLite database.",
)
def demo(workdir: Path) -> None:
    """Run the whole pipeline on local emulators with the multilingual sample corpus."""
    from listener.demo import run_demo

    sys.exit(run_demo(workdir.resolve(), click.echo))
