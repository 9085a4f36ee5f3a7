"""``listener alerts list|ack|stats|test``: the alert outbox for the people who act on it."""

from __future__ import annotations

import getpass
import json
import math
from datetime import datetime
from typing import Any

import click

from listener.app import App
from listener.cli.core import since_option
from listener.cli.state import CliState
from listener.domain import Alert, AlertKind, AlertStatus, Mention, Sentiment, StoredMention, utcnow
from listener.errors import NotifyError
from listener.ports import AlertMessage

STATUSES = ["pending", "sending", "sent", "failed", "digested", "withdrawn"]
ALERT_ID = click.IntRange(1, 2**63 - 1)
"""An alert id: a positive 64-bit integer (larger ones would fail in the database)."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _app(state: CliState) -> App:
    """The App with its schema up to date (alert commands read and write the outbox)."""
    app = state.app()
    app.upgrade()
    return app


def alert_record(alert: Alert, mention: StoredMention | None) -> dict[str, Any]:
    """The JSON object of one alert (``alerts list --format jsonl``)."""
    m = mention.mention if mention is not None else None
    return {
        "id": alert.id,
        "kind": alert.kind,
        "status": alert.status,
        "brand": alert.brand,
        "source": m.source if m else None,
        "external_id": m.external_id if m else None,
        "author": m.author if m else None,
        "url": m.url if m else None,
        "created_at": _iso(alert.created_at),
        "sent_at": _iso(alert.sent_at),
        "acked_at": _iso(alert.acked_at),
        "acked_by": alert.acked_by,
        "reason": alert.reason,
        "attempts": alert.attempts,
        "next_attempt_at": _iso(alert.next_attempt_at) if alert.status == "pending" else None,
        "last_error": alert.last_error,
        "digest_id": alert.digest_id,
        "withdrawn": _withdrawn(alert),
        "delivered_to": list(alert.details.get("delivered_to", [])) or None,
        "not_delivered": dict(alert.details.get("not_delivered", {})) or None,
    }


def _withdrawn(alert: Alert) -> dict[str, Any] | None:
    """Who relabelled the mention of a withdrawn alert, and to what (None otherwise)."""
    note = alert.details.get("withdrawn")
    if alert.status != "withdrawn" or not isinstance(note, dict):
        return None
    return {k: note.get(k) for k in ("label", "by", "at")}


@click.group()
def alerts() -> None:
    """Alerts: list them, acknowledge them, response-time stats, a Slack test message."""


@alerts.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Only these statuses (repeatable).",
)
@click.option("--kind", type=click.Choice(["mention", "spike", "digest", "report"]))
@click.option("--brand")
@click.option("--digest", "digest_id", type=ALERT_ID, help="The alerts folded into this digest.")
@since_option()
@click.option(
    "--limit",
    type=click.IntRange(1, 2**63 - 1),
    default=None,
    help="At most this many (newest first).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True
)
@click.pass_obj
def list_alerts(
    state: CliState,
    statuses: tuple[AlertStatus, ...],  # click.Choice keeps them to these values
    kind: AlertKind | None,
    brand: str | None,
    digest_id: int | None,
    since: datetime | None,
    limit: int | None,
    fmt: str,
) -> None:
    """Alerts, newest first (mention alerts folded into a digest included)."""
    app = _app(state)
    rows: list[Alert] = app.outbox.list(
        status=list(statuses) or None,
        brand=brand,
        since=since,
        kind=kind,
        digest_id=digest_id,
        limit=limit,
    )
    ids = sorted({a.mention_id for a in rows if a.mention_id is not None})
    mentions = {m.id: m for m in app.store.mentions(ids)} if ids else {}
    records = [alert_record(a, mentions.get(a.mention_id or -1)) for a in rows]
    if fmt == "jsonl":
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(
        f"{'ID':>6} {'KIND':<7} {'STATUS':<9} {'BRAND':<16} {'CREATED':<16} {'ACKED BY':<12} WHAT"
    )
    for r in records:
        what = f"{r['source']}:{r['external_id']} @{r['author']}" if r["source"] else r["reason"]
        if r["last_error"] and (r["status"] in ("failed", "pending") or r["not_delivered"]):
            what += f"  [{r['last_error']}]"  # a partly sent alert: which notifiers refused
        if r["withdrawn"]:
            w = r["withdrawn"]
            what += f"  [relabelled {w.get('label')} by {w.get('by')}]"
        click.echo(
            f"{r['id']:>6} {r['kind']:<7} {r['status']:<9} {r['brand'][:16]:<16} "
            f"{r['created_at'][:16]:<16} {(r['acked_by'] or '-')[:12]:<12} {what[:90]}"
        )
    click.echo(f"{len(records)} alerts")


@alerts.command()
@click.argument("alert_id", type=ALERT_ID)
@click.option("--by", default=None, help="Who handled it (default: your user name).")
@click.pass_obj
def ack(state: CliState, alert_id: int, by: str | None) -> None:
    """Record that alert ALERT_ID was handled (its first response), by whom and when."""
    app = _app(state)
    alert: Alert = app.outbox.ack(alert_id, by=by or getpass.getuser(), at=utcnow())
    assert alert.acked_at is not None
    took = _duration((alert.acked_at - alert.created_at).total_seconds())
    click.echo(
        f"alert {alert.id} handled by {alert.acked_by} at {alert.acked_at:%Y-%m-%d %H:%M:%S}"
        f" UTC ({took} after it was raised)"
    )


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@alerts.command()
@since_option(default="30d")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_obj
def stats(state: CliState, since: datetime, fmt: str) -> None:
    """Per brand: alerts by kind and status, average and p90 time to first response (from the
    alert to its ack or the brand account's reply)."""
    app = _app(state)
    report: dict[str, dict[str, Any]] = {}
    for brand, entry in sorted(app.outbox.stats(since=since).items()):
        times: list[float] = entry.pop("response_seconds")
        entry["responded"] = len(times)
        entry["avg_response_s"] = round(sum(times) / len(times), 1) if times else None
        entry["p90_response_s"] = round(percentile(times, 90), 1) if times else None
        report[brand] = entry
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    if not report:
        click.echo(f"no alerts since {since:%Y-%m-%d %H:%M} UTC")
    for brand, e in report.items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(e["by_kind"].items()))
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(e["by_status"].items()))
        avg, p90 = e["avg_response_s"], e["p90_response_s"]
        response = (
            f"first response avg {_duration(avg)}, p90 {_duration(p90)} "
            f"({e['responded']} of {e['total']} responded)"
            if avg is not None
            else "no responses recorded"
        )
        click.echo(f"{brand}: {e['total']} alerts ({kinds}); {statuses}; {response}")


@alerts.command("test")
@click.option("--brand", default=None, help="Send to this brand's channel (default: the first).")
@click.pass_obj
def test_alert(state: CliState, brand: str | None) -> None:
    """Send one sample alert now, to check the Slack set-up (nothing is stored)."""
    app = state.app()
    brands = [b.name for b in app.settings.brands]
    name = brand or (brands[0] if brands else "listener")
    now = utcnow()
    sample = StoredMention(
        id=0,
        collected_at=now,
        mention=Mention(
            source="test",
            external_id="0",
            brand=name,
            author="listener",
            author_reach=1234,
            text="This is a test alert from listener: if you can read this, alerts reach Slack.",
            created_at=now,
            url="https://github.com/",
        ),
    )
    alert = Alert(
        id=0,
        kind="mention",
        brand=name,
        dedupe_key="test",
        status="pending",
        reason="test message (listener alerts test)",
        created_at=now,
        mention_id=0,
    )
    sentiment = Sentiment(
        label="negative",
        anger=0.9,
        probabilities={"negative": 0.9, "neutral": 0.07, "positive": 0.03},
    )
    dispatcher = app.alerting.dispatcher
    policy = dispatcher.policy(name)
    sections = app.settings.notifiers()
    places = []
    for route in dispatcher.route(alert):
        options = policy.options.get(route)
        message = AlertMessage(
            alert=alert,
            mention=sample,
            sentiment=sentiment,
            channel=policy.channel,
            options=options,
        )
        try:
            app.notifiers[route].send(message)
        except NotifyError as exc:
            raise NotifyError(f"the test alert was not delivered by {route}: {exc}") from exc
        configured = sections[route].settings if route in sections else None
        where = (
            getattr(options, "channel", None)
            or policy.channel
            or getattr(configured, "channel", None)
            or route
        )
        places.append(str(where))
    click.echo(f"test alert sent ({'; '.join(places)})")
