"""Spike detection: is a brand's last window far outside its recent baseline?

The baseline is the same window on each of the previous ``spike_baseline_days`` days (so a
normal daily rhythm, busy lunchtimes and quiet nights, is not a spike); when fewer than two such
days have data (a new brand) it falls back to the windows just before. Two metrics:

* negative volume: at least ``spike_min_volume`` negative mentions, ``spike_ratio`` × the
  baseline mean, and ``spike_z`` spreads above it; the spread is at least sqrt(mean) (counts
  vary that much by chance) and at least 1.
* net sentiment (% positive - % negative): at least ``spike_min_volume`` scored mentions and a
  drop of ``spike_net_drop`` points and ``spike_z`` spreads (spread at least 5 points).

``detect`` is pure; ``detect_brand_spikes`` reads the hourly rollups through the TrendsReader
and examines EVERY window that ended since the job's last run (an old storm is still a spike,
and a daemon that was down catches up), windows being whole UTC hours (``spike_window`` is
rounded up to hours). The cooldown allows one alert per (brand, metric) per cooldown, by window
end, enforced by a dedupe key and by the brand's earlier spike alerts. Each alert says what
drove it: the rising terms of its negative mentions, examples, top sources and languages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

from listener.domain import NewAlert, TrendPoint
from listener.ports import Outbox
from listener.rules import BrandPolicy
from listener.trends.query import BrandTrend

_FALLBACK_WINDOWS = 24


@dataclass(frozen=True, kw_only=True, slots=True)
class Spike:
    """A metric of the current window far outside its baseline, with the reason in words."""

    metric: str
    """'negative_volume' or 'net_sentiment'."""
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def merge(points: Sequence[TrendPoint], *, brand: str, start: datetime) -> TrendPoint:
    """The sum of ``points`` as one TrendPoint starting at ``start``."""
    return TrendPoint(
        brand=brand,
        bucket_start=start,
        volume=sum(p.volume for p in points),
        negative=sum(p.negative for p in points),
        neutral=sum(p.neutral for p in points),
        positive=sum(p.positive for p in points),
        angry=sum(p.angry for p in points),
    )


def pstdev(values: Sequence[float]) -> float:
    """Population standard deviation in floats (``statistics.pstdev`` is exact but slow: the
    spike job computes thousands of them when it catches up)."""
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


def detect(
    current: TrendPoint, baseline: Sequence[TrendPoint], policy: BrandPolicy, *, basis: str = ""
) -> list[Spike]:
    """The spikes of ``current`` against ``baseline`` windows (empty list: normal)."""
    found: list[Spike] = []
    usable = [b for b in baseline if b.volume > 0]
    if len(usable) < 2:
        return found
    basis = basis or f"{len(usable)} baseline windows"
    negatives = [float(b.negative) for b in usable]
    mean, std = fmean(negatives), pstdev(negatives)
    spread = max(std, math.sqrt(mean), 1.0)
    now_neg = current.negative
    z = (now_neg - mean) / spread
    ratio = now_neg / max(mean, 1.0)
    if now_neg >= policy.spike_min_volume and z >= policy.spike_z and ratio >= policy.spike_ratio:
        found.append(
            Spike(
                metric="negative_volume",
                reason=(
                    f"{now_neg} negative mentions vs {mean:.1f} ± {std:.1f} usual ({basis}): "
                    f"{ratio:.1f}× ≥ {policy.spike_ratio:g}×, z {z:.1f} ≥ {policy.spike_z:g}, "
                    f"volume ≥ {policy.spike_min_volume}"
                ),
                details={
                    "current": now_neg,
                    "mean": round(mean, 2),
                    "std": round(std, 2),
                    "z": round(z, 2),
                    "ratio": round(ratio, 2),
                },
            )
        )
    min_scored = max(5, policy.spike_min_volume // 4)
    nets = [b.net_sentiment for b in usable if b.scored >= min_scored]
    if current.scored >= policy.spike_min_volume and len(nets) >= 2:
        net_mean, net_std = fmean(nets), pstdev(nets)
        drop = net_mean - current.net_sentiment
        net_z = drop / max(net_std, 5.0)
        if drop >= policy.spike_net_drop and net_z >= policy.spike_z:
            found.append(
                Spike(
                    metric="net_sentiment",
                    reason=(
                        f"net sentiment {current.net_sentiment:+.0f} vs {net_mean:+.0f} ± "
                        f"{net_std:.0f} usual ({basis}): down {drop:.0f} points ≥ "
                        f"{policy.spike_net_drop:g}, z {net_z:.1f} ≥ {policy.spike_z:g}, "
                        f"{current.scored} scored ≥ {policy.spike_min_volume}"
                    ),
                    details={
                        "current": round(current.net_sentiment, 1),
                        "mean": round(net_mean, 1),
                        "std": round(net_std, 1),
                        "z": round(net_z, 2),
                        "drop": round(drop, 1),
                    },
                )
            )
    return found


HOUR = timedelta(hours=1)
MAX_CATCH_UP = timedelta(days=7)
"""At most this far back is examined in one run (a daemon down for a month)."""
FIRST_LOOKBACK = timedelta(hours=24)
"""What the very first run examines."""


def _hours(width: timedelta) -> int:
    return max(1, -int(-width.total_seconds() // 3600))


def _sum(series: dict[int, TrendPoint], brand: str, last: int, width: int) -> TrendPoint:
    points = [series[h] for h in range(last - width + 1, last + 1) if h in series]
    return merge(points, brand=brand, start=datetime.fromtimestamp((last - width + 1) * 3600, UTC))


def _trim_before_history(windows: list[TrendPoint]) -> list[TrendPoint]:
    """Drop the oldest empty windows (before the brand had any data), keep quiet ones after."""
    while windows and windows[-1].volume == 0:
        windows.pop()
    return windows


def baseline_windows(
    series: dict[int, TrendPoint], policy: BrandPolicy, last: int
) -> tuple[list[TrendPoint], str]:
    """The baseline windows of the window whose last hour is ``last`` (newest first), and
    words saying what they are: the same hours on previous days, else the windows before."""
    width = _hours(policy.spike_window)
    same_hour = _trim_before_history(
        [
            _sum(series, policy.brand, last - 24 * d, width)
            for d in range(1, policy.spike_baseline_days + 1)
        ]
    )
    if sum(1 for w in same_hour if w.volume) >= 2:
        return same_hour, f"same time, last {len(same_hour)} days"
    recent = _trim_before_history(
        [
            _sum(series, policy.brand, last - k * width, width)
            for k in range(1, _FALLBACK_WINDOWS + 1)
        ]
    )
    return recent, f"previous {len(recent)} windows"


def scan(
    series: dict[int, TrendPoint], policy: BrandPolicy, *, first: int, last: int
) -> list[tuple[int, Spike]]:
    """(last hour of the window, spike) for every window ending at hours first..last."""
    width = _hours(policy.spike_window)
    found = []
    for hour in range(first, last + 1):
        current = _sum(series, policy.brand, hour, width)
        if current.volume == 0:
            continue
        baseline, basis = baseline_windows(series, policy, hour)
        found += [(hour, s) for s in detect(current, baseline, policy, basis=basis)]
    return found


Explain = Callable[[str, datetime, datetime], dict[str, Any]]
"""(brand, window start, window end) -> what drove it, for the alert's details."""


def reach_back(policy: BrandPolicy) -> int:
    """Hours of history before the first window that its baseline needs."""
    width = _hours(policy.spike_window)
    return max(policy.spike_baseline_days * 24, _FALLBACK_WINDOWS * width) + width


def window_hours(now: datetime, since: datetime) -> tuple[int, int]:
    """(first, last) hour of the windows to examine: those ending after ``since`` (at most
    ``MAX_CATCH_UP`` back) up to the current one."""
    last = int(now.timestamp() // 3600)
    first = max(int(since.timestamp() // 3600), int((now - MAX_CATCH_UP).timestamp() // 3600))
    return first, last


def detect_brand_spikes(
    trend: BrandTrend,
    outbox: Outbox,
    policy: BrandPolicy,
    *,
    now: datetime,
    since: datetime,
    explain: Explain | None = None,
) -> list[NewAlert]:
    """Spike alerts of ``policy.brand`` for every window ending after ``since`` up to ``now``
    (the current, partial hour included), minus those in their cooldown. ``trend`` is the
    brand's hourly trend from ``reach_back`` hours before the first window up to now."""
    width = _hours(policy.spike_window)
    first, last = window_hours(now, since)
    series = {int(p.bucket_start.timestamp() // 3600): p for p in trend.points if p.volume}
    spikes = scan(series, policy, first=first, last=last)
    if not spikes:
        return []
    cooldown = policy.spike_cooldown
    earliest = datetime.fromtimestamp((first + 1) * 3600, UTC) - cooldown
    fired: dict[str, list[datetime]] = {}
    for alert in outbox.list(brand=policy.brand, since=earliest):
        if alert.kind == "spike":
            fired.setdefault(str(alert.details.get("metric")), []).append(_end_of(alert.details))
    out = []
    for hour, spike in spikes:
        end = datetime.fromtimestamp((hour + 1) * 3600, UTC)
        if any(abs(end - t) < cooldown for t in fired.get(spike.metric, [])):
            continue
        fired.setdefault(spike.metric, []).append(end)
        start = end - width * HOUR
        details: dict[str, Any] = {
            **spike.details,
            "metric": spike.metric,
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
            "window": width * 3600,
        }
        if explain is not None:
            details.update(explain(policy.brand, start, min(end, now)))
        out.append(
            NewAlert(
                kind="spike",
                brand=policy.brand,
                dedupe_key=f"spike:{policy.brand}:{spike.metric}:{end:%Y-%m-%dT%H}",
                reason=spike.reason + f" (window {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC)",
                details=details,
            )
        )
    return out


def _end_of(details: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(details.get("window_end")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
