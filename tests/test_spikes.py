"""Spike detection on synthetic series: a real spike fires, the daily rhythm does not."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from listener.domain import Alert, NewAlert, TrendPoint
from listener.rules import BrandPolicy
from listener.spikes import detect, detect_brand_spikes, reach_back, window_hours
from listener.trends.query import BrandTrend

BRAND = "Aurora Air"
POLICY = BrandPolicy(brand=BRAND)
NOW = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


def _hourly(
    hour: int,
    *,
    day: int = 0,
    negative_share: float = 0.2,
    extra_negative: int = 0,
    extra_positive_drop: float = 0.0,
) -> TrendPoint:
    """A brand's usual hour: volume follows the time of day (quiet at night, busy at lunch),
    with a little deterministic day-to-day noise."""
    volume = round(60 + 50 * math.sin((hour - 7) / 24 * 2 * math.pi) + 6 * math.sin(day * 1.7))
    negative = round(volume * negative_share) + extra_negative
    positive = max(0, round(volume * (0.45 - extra_positive_drop)))
    neutral = max(0, volume - round(volume * negative_share) - positive)
    return TrendPoint(
        brand=BRAND,
        bucket_start=NOW,
        volume=negative + neutral + positive,
        negative=negative,
        neutral=neutral,
        positive=positive,
    )


def _baseline(hour: int) -> list[TrendPoint]:
    return [_hourly(hour, day=d) for d in range(1, 8)]


def test_the_daily_rhythm_is_not_a_spike() -> None:
    for hour in range(24):
        for day in (0, 3):
            assert detect(_hourly(hour, day=day), _baseline(hour), POLICY) == [], hour
    busy, quiet = _hourly(13), _hourly(1)
    assert busy.negative > 2 * quiet.negative, "lunch is much busier than the night"


def test_a_negative_volume_spike_fires_and_explains_itself() -> None:
    spikes = detect(_hourly(13, extra_negative=60), _baseline(13), POLICY, basis="same hour")
    assert [s.metric for s in spikes] == ["negative_volume", "net_sentiment"]
    reason = spikes[0].reason
    assert "negative mentions vs" in reason and "same hour" in reason and "z " in reason
    assert spikes[0].details["current"] > 2 * spikes[0].details["mean"]


def test_a_net_sentiment_collapse_fires_without_more_volume() -> None:
    current = _hourly(13, negative_share=0.5, extra_positive_drop=0.3)
    spikes = detect(current, _baseline(13), POLICY)
    assert "net_sentiment" in [s.metric for s in spikes]


def test_a_small_brand_needs_the_minimum_volume() -> None:
    tiny = [
        TrendPoint(brand=BRAND, bucket_start=NOW, volume=3, negative=1, neutral=1, positive=1)
        for _ in range(7)
    ]
    burst = TrendPoint(brand=BRAND, bucket_start=NOW, volume=12, negative=10, neutral=1, positive=1)
    assert detect(burst, tiny, POLICY) == []
    assert detect(burst, tiny, BrandPolicy(brand=BRAND, spike_min_volume=5)) != []


def test_without_history_nothing_fires() -> None:
    assert detect(_hourly(13, extra_negative=500), [], POLICY) == []


class FakeTrends:
    """A TrendsReader's hourly ``trend`` over a series (hours before NOW -> point)."""

    def __init__(self, points: dict[int, TrendPoint]) -> None:
        self.points = points

    def trend(self, brand: str, *, since: datetime, until: datetime, bucket: str) -> BrandTrend:
        assert bucket == "hour"
        hours = range(int(since.timestamp()) // 3600, int(until.timestamp()) // 3600)
        now_hour = int(NOW.timestamp()) // 3600
        points = [
            replace(self.points[now_hour - h], bucket_start=datetime.fromtimestamp(h * 3600, UTC))
            for h in hours
            if now_hour - h in self.points
        ]
        total = TrendPoint(
            brand=brand, bucket_start=since, volume=0, negative=0, neutral=0, positive=0
        )
        return BrandTrend(
            brand=brand, bucket="hour", since=since, until=until, points=points, total=total
        )


class FakeOutbox:
    def __init__(self) -> None:
        self.rows: list[Alert] = []

    def list(
        self, *, brand: str | None = None, since: datetime | None = None, status: object = None
    ) -> list[Alert]:
        return [a for a in self.rows if since is None or a.created_at >= since]

    def add(self, alerts: Sequence[NewAlert], at: datetime) -> None:
        for n, a in enumerate(alerts):
            self.rows.append(
                Alert(
                    id=n,
                    kind=a.kind,
                    brand=a.brand,
                    dedupe_key=a.dedupe_key,
                    status="pending",
                    reason=a.reason,
                    created_at=at,
                    details=a.details,
                )
            )


def _spikes(
    trends: FakeTrends, outbox: FakeOutbox, now: datetime, since: datetime
) -> list[NewAlert]:
    first, _ = window_hours(now, since)
    trend = trends.trend(
        BRAND,
        since=datetime.fromtimestamp((first - reach_back(POLICY)) * 3600, UTC),
        until=now + timedelta(hours=1),
        bucket="hour",
    )
    return detect_brand_spikes(trend, outbox, POLICY, now=now, since=since)  # type: ignore[arg-type]


def test_rollup_reading_uses_the_same_hour_on_previous_days_and_cools_down() -> None:
    series = {24 * d: _hourly(13, day=d) for d in range(1, 8)}
    series |= {h: _hourly(13 - h % 24) for h in range(1, 24)}  # the hours just before
    trends = FakeTrends({0: _hourly(13, extra_negative=60), **series})
    outbox = FakeOutbox()
    now = NOW + timedelta(minutes=30)
    alerts = _spikes(trends, outbox, now, now - timedelta(minutes=5))
    assert {a.details["metric"] for a in alerts} == {"negative_volume", "net_sentiment"}
    assert all(a.kind == "spike" and a.mention_id is None for a in alerts)
    assert "same time, last 7 days" in alerts[0].reason
    outbox.add(alerts, now)
    later = _spikes(trends, outbox, now + timedelta(minutes=5), now)
    assert later == [], "cooldown"
    normal = FakeTrends({0: _hourly(13), **series})
    assert _spikes(normal, FakeOutbox(), now, now - timedelta(minutes=5)) == []


def test_every_window_since_the_last_run_is_examined() -> None:
    storm_hour = 5  # hours before NOW: the job did not run while it happened
    series = {h: _hourly((13 - h) % 24, day=h // 24) for h in range(1, 24 * 8)}
    series[storm_hour] = _hourly((13 - storm_hour) % 24, extra_negative=80)
    trends = FakeTrends(series)
    now = NOW + timedelta(minutes=10)
    assert _spikes(trends, FakeOutbox(), now, now - timedelta(hours=1)) == [], "only the last"
    found = _spikes(trends, FakeOutbox(), now, now - timedelta(hours=8))
    assert found and {a.details["window_end"] for a in found} == {
        (NOW - timedelta(hours=storm_hour - 1)).isoformat()
    }
