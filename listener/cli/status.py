"""``listener status`` (sources, outbox, scoring backlog) and ``listener db current``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from listener.app import App
from listener.cli.state import CliState
from listener.domain import utcnow
from listener.errors import ListenerError
from listener.ops.report import Backlog, OutboxStatus, SourceStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _state(s: SourceStatus, now: datetime) -> str:
    if s.rate_limited_until(now) is not None:
        return "rate limited"
    if s.backing_off(now):
        return "backing off"
    if s.failures:
        return "failing"
    if s.last_success_at is None and s.cursor is None:
        return "never run"
    return "ok"


def _sources(app: App) -> list[SourceStatus]:
    """Every configured (source, brand), and any other the database knows (a source since
    removed from the config), in that order."""
    known = {(s.source, s.brand): s for s in app.status.sources()}
    out: list[SourceStatus] = []
    for kind in app.settings.sources():
        for query in app.queries:
            found = known.pop((kind, query.brand), None)
            out.append(found if found is not None else _never(kind, query.brand))
    return out + list(known.values())


def _never(source: str, brand: str) -> SourceStatus:
    return SourceStatus(
        source=source,
        brand=brand,
        cursor=None,
        failures=0,
        retry_at=None,
        error=None,
        last_success_at=None,
        last_failure_at=None,
        last_failure=None,
    )


def source_record(s: SourceStatus, now: datetime) -> dict[str, Any]:
    backoff = (s.retry_at - now).total_seconds() if s.backing_off(now) and s.retry_at else 0.0
    return {
        "source": s.source,
        "brand": s.brand,
        "state": _state(s, now),
        "cursor": s.cursor,
        "last_success_at": _iso(s.last_success_at),
        "failures": s.failures,
        "retry_at": _iso(s.retry_at) if s.backing_off(now) else None,
        "rate_limited_until": _iso(s.rate_limited_until(now)),
        "backoff_seconds": round(backoff, 1),
        "error": s.error,
        "last_failure_at": _iso(s.last_failure_at),
        "last_failure": s.last_failure,
    }


def status_report(app: App, now: datetime) -> dict[str, Any]:
    """The whole ``status --format json`` object."""
    outbox: OutboxStatus = app.status.outbox()
    try:
        model = app.model_id_without_loading()
    except ListenerError:  # an artefact missing: count against the model used last
        model = None
    backlog: Backlog = app.status.backlog(model)
    return {
        "generated_at": now.isoformat(),
        "sources": [source_record(s, now) for s in _sources(app)],
        "outbox": {
            "pending": outbox.pending,
            "failed": outbox.failed,
            "oldest_pending_at": _iso(outbox.oldest_pending_at),
            "oldest_pending_age_seconds": round(outbox.oldest_pending_age(now), 1),
        },
        "scoring": {
            "model": backlog.model,
            "unscored": backlog.unscored,
            "queued": backlog.queued,
            "oldest_queued_at": _iso(backlog.oldest_queued_at),
            "oldest_queued_age_seconds": round(backlog.oldest_queued_age(now), 1),
        },
    }


def _when(value: str | None, now: datetime) -> str:
    if value is None:
        return "-"
    at = datetime.fromisoformat(value)
    seconds = (now - at).total_seconds()
    word = "ago" if seconds >= 0 else "from now"
    return f"{at:%Y-%m-%d %H:%M:%S} ({_span(abs(seconds))} {word})"


def _span(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "-").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(report: dict[str, Any], now: datetime) -> list[str]:
    header = ["SOURCE", "BRAND", "STATE", "LAST SUCCESS", "BACKOFF UNTIL", "CURSOR", "LAST ERROR"]
    rows = [header]
    for r in report["sources"]:
        error = r["error"] or r["last_failure"]
        if error and r["last_failure_at"]:
            error = f"{error} (at {r['last_failure_at'][:19].replace('T', ' ')})"
        if r["failures"] and not r.get("rate_limited_until"):
            error = f"[{r['failures']} in a row] {error}"
        rows.append(
            [
                r["source"],
                _clip(r["brand"], 24),
                r["state"],
                _when(r["last_success_at"], now),
                _when(r["retry_at"], now),
                _clip(r["cursor"], 24),
                _clip(error, 120),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [f"listener status at {now:%Y-%m-%d %H:%M:%S} UTC", ""]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    o = report["outbox"]
    oldest = "none pending"
    if o["oldest_pending_at"]:
        oldest = f"oldest pending raised {_span(o['oldest_pending_age_seconds'])} ago"
    lines += ["", f"outbox: {o['pending']} pending, {o['failed']} failed ({oldest})"]
    s = report["scoring"]
    against = f"by {s['model']}" if s["model"] else "(nothing scored yet)"
    queued = f"{s['queued']} queued for the score job"
    if s["oldest_queued_at"]:
        queued += f" (oldest queued {_span(s['oldest_queued_age_seconds'])} ago)"
    lines.append(f"scoring backlog: {s['unscored']} mentions not scored {against}; {queued}")
    return lines


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def status(state: CliState, fmt: str) -> None:
    """Each source's cursor, last success, backoff and last error; the alert outbox; the
    scoring backlog. Reads the database only (the daemon need not run)."""
    app = state.app()
    app.upgrade()
    now = utcnow()
    report = status_report(app, now)
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for line in render_table(report, now):
        click.echo(line)


@click.command("current")
@click.option(
    "--check", is_flag=True, help="Exit 1 when the database is not at the latest revision."
)
@click.pass_obj
def db_current(state: CliState, check: bool) -> None:
    """Show the database's schema revision and the latest one (changes nothing)."""
    from alembic.script import ScriptDirectory

    from listener.store.db import MIGRATIONS, current_revision

    app = state.app()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    current = current_revision(app.engine)
    if current == head:
        click.echo(f"database at revision {current} (latest)")
        return
    where = f"at revision {current}" if current else "empty (no schema yet)"
    click.echo(f"database {where}; latest is {head}: run `listener db upgrade`")
    if check:
        raise SystemExit(1)
