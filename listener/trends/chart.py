"""The trend chart as a PNG (matplotlib, Agg: no display needed).

Top: the brand's volume per bucket as bars split by label (negative, neutral, positive), the
competitors' volumes as lines, alerts raised as dots along the top. Bottom: net sentiment of
each brand as a line (buckets with at least ``NET_MIN_SCORED`` scored mentions), spikes as red
markers at the end of their window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from listener.trends.query import BUCKET_SECONDS, AlertRow, BrandTrend

WIDTH_PX, HEIGHT_PX, DPI = 1400, 800, 100
COLOURS = {"negative": "#d1495b", "neutral": "#c9c9c9", "positive": "#2e9e6b"}
EVERY = {"hour": "hourly", "day": "daily"}
NET_MIN_SCORED = 3
"""Buckets with fewer scored mentions get no net-sentiment point (one post is ±100)."""
LINES = ["#1f3b73", "#edae49", "#00798c", "#8d6a9f", "#6c757d"]


def render_png(
    trends: Sequence[BrandTrend],
    path: Path,
    *,
    spikes: Sequence[AlertRow] = (),
    title: str | None = None,
    size: tuple[int, int] = (WIDTH_PX, HEIGHT_PX),
) -> Path:
    """Write the chart of ``trends`` (the first is the brand, the rest its competitors) to
    ``path``, exactly ``size`` pixels; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    main = trends[0]
    width = timedelta(seconds=BUCKET_SECONDS[main.bucket])
    starts = [p.bucket_start for p in main.points]
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(size[0] / DPI, size[1] / DPI),
        dpi=DPI,
        sharex=True,
        gridspec_kw={"height_ratios": [3, 2]},
    )
    try:
        bar_width = width.total_seconds() / 86400 * 0.85
        below = [0] * len(starts)
        for label in ("negative", "neutral", "positive"):
            values = [getattr(p, label) for p in main.points]
            top.bar(
                starts,
                values,
                width=bar_width,
                bottom=below,
                color=COLOURS[label],
                label=f"{main.brand}: {label}",
                align="edge",
            )
            below = [b + v for b, v in zip(below, values, strict=True)]
        unscored = [p.volume - p.scored for p in main.points]
        if any(unscored):
            top.bar(
                starts,
                unscored,
                width=bar_width,
                bottom=below,
                color="#eeeeee",
                label=f"{main.brand}: not scored yet",
                align="edge",
            )
        centre = width / 2
        for colour, other in zip(LINES[1:], trends[1:], strict=False):
            top.plot(
                [p.bucket_start + centre for p in other.points],
                [p.volume for p in other.points],
                color=colour,
                linewidth=1.6,
                label=f"{other.brand}: volume",
            )
        alerted = [(p.bucket_start + centre, p.alerts) for p in main.points if p.alerts]
        if alerted:
            peak = max(max((p.volume for t in trends for p in t.points), default=1), 1)
            top.scatter(
                [t for t, _ in alerted],
                [peak * 1.12] * len(alerted),
                s=[min(30 + 12 * n, 200) for _, n in alerted],
                color="#f28f3b",
                marker="o",
                zorder=5,
                label="alerts raised",
            )
        highest = max((p.volume for t in trends for p in t.points), default=0)
        top.set_ylim(0, max(highest, 1) * 1.3)  # room for the legend and the alert dots
        top.set_ylabel("mentions")
        top.legend(loc="upper left", fontsize=8, ncol=4, frameon=False, markerscale=0.5)
        top.grid(axis="y", alpha=0.3)

        for colour, trend in zip(LINES, trends, strict=False):
            points = [p for p in trend.points if p.scored >= NET_MIN_SCORED]
            bottom.plot(
                [p.bucket_start + centre for p in points],
                [p.net_sentiment for p in points],
                color=colour,
                linewidth=2 if trend is main else 1.4,
                marker="o" if len(points) < 60 else None,
                markersize=3,
                label=f"{trend.brand}: net sentiment",
            )
        ends = [end for end in (_end(s) for s in spikes) if end is not None]
        if ends:
            bottom.scatter(
                ends,
                [-95] * len(ends),
                marker="^",
                color="#c1121f",
                s=80,
                zorder=6,
                label="spike alert",
            )
            for end in ends:
                top.axvline(end, color="#c1121f", alpha=0.35, linestyle="--")  # type: ignore[arg-type]
        bottom.axhline(0, color="#999999", linewidth=0.8)
        bottom.set_ylim(-100, 100)
        bottom.set_ylabel("net sentiment (% pos − % neg)")
        bottom.legend(loc="lower left", fontsize=8, ncol=3, frameon=False)
        bottom.grid(axis="y", alpha=0.3)
        bottom.xaxis.set_major_formatter(
            mdates.DateFormatter("%m-%d %H:%M" if main.bucket == "hour" else "%Y-%m-%d")
        )
        fig.autofmt_xdate()
        names = " vs ".join(t.brand for t in trends)
        fig.suptitle(
            title
            or f"{names}: {main.since:%Y-%m-%d} → {main.until:%Y-%m-%d} UTC, {EVERY[main.bucket]}",
            fontsize=12,
        )
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    return path


def _end(spike: AlertRow) -> datetime | None:
    try:
        return datetime.fromisoformat(str(spike.details.get("window_end")))
    except ValueError:
        return None
