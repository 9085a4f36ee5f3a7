"""The brand report: ``listener report`` in the terminal and the scheduled Slack summary.

The scheduled one is an outbox row of kind 'report' whose dedupe key names the brand and the
period, so each period's report is delivered exactly once through the same outbox and notifier
as the alerts (retries, Slack outages and restarts included).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from listener.domain import NewAlert
from listener.trends.query import BrandSummary, TrendsReader
from listener.trends.render import duration_words

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportPlan:
    """When and where one brand's report goes (from ``[reports]`` and the brand's overrides)."""

    brand: str
    every: str
    """'daily' or 'weekly' ('off' plans are not made)."""
    hour: int = 8
    weekday: str = "mon"
    channel: str | None = None
    competitors: Sequence[str] = ()
    drivers: int = 5


class AlertSink(Protocol):
    def add_alerts(self, alerts: Sequence[NewAlert]) -> int: ...


def due_period(plan: ReportPlan, now: datetime) -> tuple[datetime, datetime]:
    """The latest complete period of ``plan`` at ``now``: [until - 1 day or week, until)."""
    until = now.replace(hour=plan.hour, minute=0, second=0, microsecond=0)
    if plan.every == "weekly":
        until -= timedelta(days=(until.weekday() - WEEKDAYS.index(plan.weekday)) % 7)
        if until > now:
            until -= timedelta(days=7)
        return until - timedelta(days=7), until
    if until > now:
        until -= timedelta(days=1)
    return until - timedelta(days=1), until


def _change(now: int, before: int) -> str:
    if before == 0:
        return "new" if now else "±0%"
    return f"{100 * (now - before) / before:+.0f}%"


def summary_lines(summary: BrandSummary) -> list[str]:
    """The report as lines of plain text (the terminal and the Slack message say the same)."""
    t, prev = summary.total, summary.previous
    arrow = "▲" if summary.net_change > 0 else "▼" if summary.net_change < 0 else "="
    lines = [
        f"{summary.brand}: {summary.since:%Y-%m-%d %H:%M} → {summary.until:%Y-%m-%d %H:%M} UTC",
        f"Volume {t.volume:,} ({_change(t.volume, prev.volume)} vs the period before) · "
        f"net sentiment {t.net_sentiment:+.0f} ({arrow} {abs(summary.net_change):.0f} pts "
        f"from {prev.net_sentiment:+.0f}) · negative {t.negative_share:.0f}% · "
        f"angry {t.angry:,}",
    ]
    if len(summary.share_of_voice.brands) > 1:
        lines.append(
            "Share of voice: "
            + " · ".join(
                f"{v.brand} {v.share:.0f}% (net {v.net_sentiment:+.0f})"
                for v in summary.share_of_voice.brands
            )
        )
    if summary.drivers:
        lines.append(
            "Top complaint drivers: "
            + ", ".join(
                f"“{d.term}” {d.count} (usually {d.baseline_count})" for d in summary.drivers
            )
        )
        for d in summary.drivers[:3]:
            for e in d.examples[:1]:
                text = " ".join(e.text.split())
                lines.append(f"  “{d.term}”: {e.source}/@{e.author}: {text[:140]}")
    else:
        lines.append("Top complaint drivers: none rising against the baseline")
    lines.append(
        f"Alerts: {summary.alerts:,} raised, {summary.spikes} spikes · average first response "
        f"{duration_words(summary.mean_response_seconds)}"
    )
    parts = []
    if summary.top_sources:
        parts.append(
            "Top sources: " + ", ".join(f"{b.key} {b.volume:,}" for b in summary.top_sources)
        )
    if summary.top_languages:
        parts.append(
            "Top languages: "
            + ", ".join(f"{b.key or 'unknown'} {b.volume:,}" for b in summary.top_languages)
        )
    if parts:
        lines.append(" · ".join(parts))
    return lines


def report_alert(plan: ReportPlan, summary: BrandSummary) -> NewAlert:
    """The outbox row of one scheduled report (unique per brand, cadence and period)."""
    details: dict[str, Any] = {
        "every": plan.every,
        "since": summary.since.isoformat(),
        "until": summary.until.isoformat(),
        "lines": summary_lines(summary),
        "volume": summary.total.volume,
        "net_sentiment": round(summary.total.net_sentiment, 1),
        "net_change": round(summary.net_change, 1),
    }
    if plan.channel:
        details["channel"] = plan.channel
    return NewAlert(
        kind="report",
        brand=plan.brand,
        dedupe_key=f"report:{plan.brand}:{plan.every}:{summary.until:%Y-%m-%dT%H}",
        reason=f"{plan.every} report",
        details=details,
    )


class Marks(Protocol):
    def get(self, name: str) -> datetime | None: ...

    def set(self, name: str, at: datetime) -> None: ...


def queue_reports(
    reader: TrendsReader,
    outbox: AlertSink,
    plans: Sequence[ReportPlan],
    *,
    now: datetime,
    marks: Marks | None = None,
) -> dict[str, int]:
    """Queue the due report of each plan. A period's report is queued once (its dedupe key;
    ``marks`` only saves recomputing it). Counts: due (plans), queued (new outbox rows)."""
    queued = 0
    for plan in plans:
        since, until = due_period(plan, now)
        name = f"report:{plan.brand}:{plan.every}"
        if marks is not None and marks.get(name) == until:
            continue
        summary = reader.summary(
            plan.brand, competitors=plan.competitors, since=since, until=until, drivers=plan.drivers
        )
        queued += outbox.add_alerts([report_alert(plan, summary)])
        if marks is not None:
            marks.set(name, until)
    if queued:
        log.info("reports: %d queued", queued)
    return {"due": len(plans), "queued": queued}
