"""The main page's figures, read from a DashboardData for one View (no HTTP, no HTML here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

from listener.dashboard.charts import SERIES, Marker, compare_chart, volume_chart
from listener.dashboard.data import (
    BUCKET_SECONDS,
    AlertRow,
    DashboardData,
    Driver,
    Facets,
    MentionRow,
    View,
)
from listener.domain import TrendPoint, as_utc

MENTIONS_SHOWN = 25
ALERTS_SHOWN = 25
DRIVERS_SHOWN = 8


@dataclass(frozen=True, kw_only=True, slots=True)
class Totals:
    """One brand's figures over the whole period."""

    brand: str
    volume: int
    negative: int
    neutral: int
    positive: int
    angry: int
    colour: str = SERIES[0]

    @property
    def scored(self) -> int:
        return self.negative + self.neutral + self.positive

    @property
    def net(self) -> float | None:
        """% positive - % negative; None when nothing is scored."""
        if not self.scored:
            return None
        return 100.0 * (self.positive - self.negative) / self.scored

    @property
    def negative_share(self) -> float | None:
        return 100.0 * self.negative / self.scored if self.scored else None


def totals(brand: str, points: Sequence[TrendPoint], colour: str = SERIES[0]) -> Totals:
    return Totals(
        brand=brand,
        volume=sum(p.volume for p in points),
        negative=sum(p.negative for p in points),
        neutral=sum(p.neutral for p in points),
        positive=sum(p.positive for p in points),
        angry=sum(p.angry for p in points),
        colour=colour,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class Share:
    totals: Totals
    share: float
    """% of the compared brands' volume (share of voice)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    view: View
    facets: Facets
    current: Totals
    previous: Totals
    shares: Sequence[Share]
    volume_svg: Markup
    compare_svg: Markup
    drivers: Sequence[Driver]
    mentions: Sequence[MentionRow]
    alerts: Sequence[AlertRow]

    @property
    def answered(self) -> list[float]:
        return [a.response_seconds for a in self.alerts if a.response_seconds is not None]

    @property
    def mean_response(self) -> timedelta | None:
        times = self.answered
        return timedelta(seconds=sum(times) / len(times)) if times else None


def _window_end(alert: AlertRow) -> datetime:
    """Where a spike belongs on the time axis: the end of the window it was found in (a storm
    found late is drawn where it happened), else when it was raised."""
    try:
        return as_utc(datetime.fromisoformat(str(alert.details.get("window_end"))))
    except ValueError:
        return alert.created_at


def build_page(
    data: DashboardData, view: View, competitors: Sequence[str], *, now: datetime | None = None
) -> Page:
    """Every figure of the main page for ``view``: the brand against ``competitors``; the
    bucket that holds ``now`` is drawn as not over yet."""
    names = [view.brand, *[c for c in competitors if c != view.brand]]
    trends = data.trend(names, view)
    before = View(
        brand=view.brand,
        since=view.since - view.period,
        until=view.since,
        bucket="day" if view.period > timedelta(days=2) else "hour",
        sources=view.sources,
        langs=view.langs,
    )
    previous = totals(view.brand, data.trend([view.brand], before).get(view.brand, []))
    all_totals = [
        totals(n, trends.get(n, []), SERIES[i % len(SERIES)]) for i, n in enumerate(names)
    ]
    everyone = sum(t.volume for t in all_totals)
    shares = [
        Share(totals=t, share=100.0 * t.volume / everyone if everyone else 0.0) for t in all_totals
    ]
    alerts = data.alerts(view, limit=ALERTS_SHOWN)
    seconds = BUCKET_SECONDS[view.bucket]
    markers = [Marker(at=_window_end(a), label=f"Spike: {a.reason}") for a in data.spikes(view)]
    return Page(
        view=view,
        facets=data.facets(view),
        current=all_totals[0],
        previous=previous,
        shares=shares,
        volume_svg=volume_chart(
            trends.get(view.brand, []),
            since=view.since,
            until=view.until,
            bucket_seconds=seconds,
            markers=markers,
            now=now,
        ),
        compare_svg=compare_chart(
            {n: trends.get(n, []) for n in names},
            since=view.since,
            until=view.until,
            bucket_seconds=seconds,
        ),
        drivers=data.drivers(view, limit=DRIVERS_SHOWN),
        mentions=data.negative_mentions(view, limit=MENTIONS_SHOWN),
        alerts=alerts,
    )
