"""``listener trends`` output: a terminal table with sparklines, CSV and JSON (pure)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from listener.domain import TrendPoint
from listener.trends.query import BrandTrend, ShareOfVoice

SPARKS = "▁▂▃▄▅▆▇█"
CSV_COLUMNS = [
    "brand",
    "bucket_start",
    "volume",
    "negative",
    "neutral",
    "positive",
    "net_sentiment",
    "negative_share",
    "angry",
    "mean_anger",
    "reach",
    "alerts",
    "responded",
    "mean_response_seconds",
]
TABLE_BUCKETS = 24
"""Buckets listed one per line in the table (the latest); CSV and JSON carry all of them."""


def sparkline(values: Sequence[float], *, width: int = 40) -> str:
    """Unicode blocks scaled from the series' minimum to its maximum; long series are
    averaged down to ``width`` characters."""
    if not values:
        return ""
    if len(values) > width:
        edges = [round(i * len(values) / width) for i in range(width + 1)]
        values = [sum(values[a:b]) / (b - a) for a, b in pairwise(edges) if b > a]
    low, high = min(values), max(values)
    if high == low:
        return SPARKS[0 if high == 0 else 3] * len(values)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1))] for v in values)


def duration_words(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def point_dict(p: TrendPoint) -> dict[str, Any]:
    return {
        "brand": p.brand,
        "bucket_start": p.bucket_start.isoformat(),
        "volume": p.volume,
        "negative": p.negative,
        "neutral": p.neutral,
        "positive": p.positive,
        "net_sentiment": round(p.net_sentiment, 2),
        "negative_share": round(p.negative_share, 2),
        "angry": p.angry,
        "mean_anger": round(p.mean_anger, 4),
        "reach": p.reach,
        "alerts": p.alerts,
        "responded": p.responded,
        "mean_response_seconds": (
            None if p.mean_response_seconds is None else round(p.mean_response_seconds, 1)
        ),
    }


def to_csv(trends: Sequence[BrandTrend]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for trend in trends:
        for p in trend.points:
            writer.writerow(point_dict(p))
    return out.getvalue()


def to_json(trends: Sequence[BrandTrend], share: ShareOfVoice, *, filters: dict[str, Any]) -> str:
    first = trends[0]
    doc = {
        "since": first.since.isoformat(),
        "until": first.until.isoformat(),
        "bucket": first.bucket,
        "filters": filters,
        "brands": [
            {
                "brand": t.brand,
                "share_of_voice": _share(share, t.brand),
                "total": point_dict(t.total),
                "points": [point_dict(p) for p in t.points],
            }
            for t in trends
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _share(share: ShareOfVoice, brand: str) -> float | None:
    voice = share.of(brand)
    return None if voice is None else round(voice.share, 2)


def to_table(trends: Sequence[BrandTrend], share: ShareOfVoice, *, filters: dict[str, Any]) -> str:
    first = trends[0]
    names = " vs ".join(t.brand for t in trends)
    shown = ", ".join(f"{k}: {', '.join(v) if v else 'all'}" for k, v in filters.items())
    lines = [
        f"{names} · {first.since:%Y-%m-%d %H:%M} → {first.until:%Y-%m-%d %H:%M} UTC "
        f"({first.bucket} buckets) · {shown}",
        "",
    ]
    width = max(12, *(len(t.brand) for t in trends))
    head = (
        f"{'brand':<{width}} {'volume':>8} {'share':>6} {'net':>5} {'neg%':>6} {'anger':>5} "
        f"{'angry':>6} {'alerts':>6} {'1st resp':>8}  volume / net sentiment"
    )
    lines += [head, "─" * len(head)]
    for t in trends:
        total = t.total
        voice = share.of(t.brand)
        lines.append(
            f"{t.brand:<{width}} {total.volume:>8,} {(voice.share if voice else 0):>5.1f}% "
            f"{total.net_sentiment:>+5.0f} {total.negative_share:>5.1f}% {total.mean_anger:>5.2f} "
            f"{total.angry:>6,} {total.alerts:>6,} {duration_words(total.mean_response_seconds):>8}"
            f"  {sparkline([p.volume for p in t.points])}"
        )
        nets = [p.net_sentiment for p in t.points if p.scored]
        lines.append(f"{'':<{width}} {'':>61}  {sparkline(nets)}")
    main = trends[0]
    recent = list(main.points)[-TABLE_BUCKETS:]
    fmt = "%Y-%m-%d %H:%M" if main.bucket == "hour" else "%Y-%m-%d"
    lines += [
        "",
        f"{main.brand}, the latest {len(recent)} of {len(main.points)} buckets "
        "(--format csv or json for every bucket):",
        f"{'bucket':<16} {'volume':>7} {'neg':>5} {'neu':>5} {'pos':>5} {'net':>5} "
        f"{'angry':>5} {'alerts':>6}",
    ]
    peak = max((p.volume for p in recent), default=0) or 1
    for p in recent:
        bar = "█" * round(20 * p.volume / peak)
        lines.append(
            f"{p.bucket_start.strftime(fmt):<16} {p.volume:>7,} {p.negative:>5} {p.neutral:>5} "
            f"{p.positive:>5} {p.net_sentiment:>+5.0f} {p.angry:>5} {p.alerts:>6} {bar}"
        )
    return "\n".join(lines) + "\n"
