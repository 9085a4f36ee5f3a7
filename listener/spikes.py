"""Spike detection: is a brand's last window far outside its recent baseline?

The baseline is the same window on each of the previous ``spike_baseline_days`` days (so a
normal daily rhythm, busy lunchtimes and quiet nights, is not a spike); when fewer than two such
days have data (a new brand) it falls back to the windows just before. Two metrics:

* negative volume: at least ``spike_min_volume`` negative mentions, ``spike_ratio`` × the
  baseline mean, and ``spike_z`` spreads above it; the spread is at least sqrt(mean) (counts
  vary that much by chance) and at least 1.
* net sentiment (% positive - % negative): at least ``spike_min_volume`` scored mentions and a
  drop of ``spike_net_drop`` points and ``spike_z`` spreads (spread at least 5 points).

``detect`` is pure; ``detect_brand_spikes`` reads trends and applies the cooldown: one alert per
(brand, metric) per cooldown, enforced by a dedupe key and by the recent spike alerts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean, pstdev
from typing import Any

from listener.domain import NewAlert, TrendPoint
from listener.ports import AlertDesk, TrendReader
from listener.rules import BrandPolicy

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


def _window(store: TrendReader, brand: str, end: datetime, width: timedelta) -> TrendPoint:
    start = end - width
    seconds = max(1, int(width.total_seconds()))
    points = store.trend(brand=brand, since=start, until=end, bucket_seconds=seconds)
    return merge(points, brand=brand, start=start)


def _trim_before_history(windows: list[TrendPoint]) -> list[TrendPoint]:
    """Drop the oldest empty windows (before the brand had any data), keep quiet ones after."""
    while windows and windows[-1].volume == 0:
        windows.pop()
    return windows


def baseline_windows(
    store: TrendReader, policy: BrandPolicy, now: datetime
) -> tuple[list[TrendPoint], str]:
    """The baseline windows for ``now`` (newest first) and words saying what they are."""
    day = timedelta(days=1)
    width = policy.spike_window
    same_hour = _trim_before_history(
        [
            _window(store, policy.brand, now - d * day, width)
            for d in range(1, policy.spike_baseline_days + 1)
        ]
    )
    if sum(1 for w in same_hour if w.volume) >= 2:
        return same_hour, f"same time, last {len(same_hour)} days"
    recent = _trim_before_history(
        [
            _window(store, policy.brand, now - k * width, width)
            for k in range(1, _FALLBACK_WINDOWS + 1)
        ]
    )
    return recent, f"previous {len(recent)} windows"


def detect_brand_spikes(
    store: TrendReader, outbox: AlertDesk, policy: BrandPolicy, now: datetime
) -> list[NewAlert]:
    """Spike alerts for ``policy.brand`` at ``now``, minus those still in their cooldown."""
    current = _window(store, policy.brand, now, policy.spike_window)
    if current.volume == 0:
        return []
    baseline, basis = baseline_windows(store, policy, now)
    spikes = detect(current, baseline, policy, basis=basis)
    if not spikes:
        return []
    recent = outbox.list(brand=policy.brand, since=now - policy.spike_cooldown)
    cooling = {str(a.details.get("metric")) for a in recent if a.kind == "spike"}
    slot = int(now.timestamp() // max(1, int(policy.spike_cooldown.total_seconds())))
    return [
        NewAlert(
            kind="spike",
            brand=policy.brand,
            dedupe_key=f"spike:{policy.brand}:{s.metric}:{slot}",
            reason=s.reason,
            details={
                **s.details,
                "metric": s.metric,
                "window_end": now.isoformat(),
                "window": int(policy.spike_window.total_seconds()),
            },
        )
        for s in spikes
        if s.metric not in cooling
    ]
