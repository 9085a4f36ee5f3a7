"""Server-rendered SVG charts: no JavaScript library, no CDN, readable without a network.

``volume_chart`` draws one brand's volume as stacked bars (negative, neutral, positive) with its
net sentiment as a line on a second axis, and markers for spike alerts; ``compare_chart`` draws
the net sentiment of a brand and its competitors. Every bucket carries its figures as ``data-``
attributes and a ``<title>`` (the browser's tooltip), so the numbers stay readable and testable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from listener.domain import TrendPoint

WIDTH, HEIGHT = 960, 300
COMPARE_WIDTH = 620
"""The comparison sits in a narrower column: a narrower drawing keeps its text the same size."""
LEFT, RIGHT, TOP, BOTTOM = 52, 52, 18, 34
COLOURS = {"negative": "#d9485f", "neutral": "#aab4c3", "positive": "#2b9a66"}
NET_COLOUR = "#3451b2"
SERIES = ("#3451b2", "#e8590c", "#0c8599", "#9c36b5", "#5c940d", "#c2255c", "#495057")
"""Line colours of the compared brands, the brand itself first."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Marker:
    """A moment to flag on the time axis (a spike alert)."""

    at: datetime
    label: str


def buckets(since: datetime, until: datetime, seconds: int) -> list[datetime]:
    """The starts of the buckets of ``seconds`` that cover [since, until), aligned to the epoch
    as the trend queries align them."""
    first = math.floor(since.timestamp() / seconds) * seconds
    start = datetime.fromtimestamp(first, tz=since.tzinfo)
    step = timedelta(seconds=seconds)
    out = []
    while start < until:
        out.append(start)
        start += step
    return out


def axis_ticks(value: float) -> list[float]:
    """Round tick values from 0 to at or above ``value`` (a count): 4 or 5 steps of 1, 2 or 5
    times a power of ten, never a fraction."""
    raw = max(1.0, value / 4)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [step * i for i in range(max(1, math.ceil(value / step)) + 1)]


def _fmt_count(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value:g}"


def _tick_format(seconds: int, span: timedelta) -> str:
    if seconds < 86400 and span <= timedelta(days=2):
        return "%H:%M"
    if seconds < 86400:
        return "%d %b %H:%M"
    return "%d %b"


def _x_ticks(starts: Sequence[datetime], x: Sequence[float], fmt: str, slot: float) -> list[str]:
    if not starts:
        return []
    every = max(1, math.ceil(len(starts) / 8))
    out = []
    for i in range(0, len(starts), every):
        cx = x[i] + slot / 2
        out.append(
            f'<text class="tick" x="{cx:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
            f"{escape(starts[i].strftime(fmt))}</text>"
        )
    return out


def volume_chart(
    points: Sequence[TrendPoint],
    *,
    since: datetime,
    until: datetime,
    bucket_seconds: int,
    markers: Sequence[Marker] = (),
    now: datetime | None = None,
) -> Markup:
    """Stacked volume bars by label and the net-sentiment line of one brand, as inline SVG.
    A bucket that ends after ``now`` is drawn lighter: it is not over yet."""
    starts = buckets(since, until, bucket_seconds)
    by_start = {p.bucket_start.timestamp(): p for p in points}
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(starts))
    gap = min(2.0, slot * 0.2)
    ticks = axis_ticks(max((p.volume for p in points), default=0))
    top = ticks[-1]
    x = [LEFT + i * slot for i in range(len(starts))]

    def y_count(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    def y_net(value: float) -> float:
        return TOP + plot_h / 2 - plot_h / 2 * value / 100

    parts = [
        f'<svg class="chart volume" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Volume and net sentiment" data-buckets="{len(starts)}" '
        f'data-total="{sum(p.volume for p in points)}">'
    ]
    for tick in ticks:
        gy = y_count(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 8}" y="{gy + 4:.1f}" text-anchor="end">'
            f"{_fmt_count(tick)}</text>"
        )
    for net in (-100, -50, 0, 50, 100):
        parts.append(
            f'<text class="tick net" x="{WIDTH - RIGHT + 8}" y="{y_net(net) + 4:.1f}">'
            f"{net:+d}</text>".replace("+0<", "0<")
        )
    fmt = _tick_format(bucket_seconds, until - since)
    line: list[str] = []
    for i, start in enumerate(starts):
        point = by_start.get(start.timestamp())
        if point is None or point.volume == 0:
            continue
        unscored = point.volume - point.scored
        partial = now is not None and start + timedelta(seconds=bucket_seconds) > now
        title = (
            f"{start.strftime(fmt)}{' (so far)' if partial else ''}: {point.volume} mentions, "
            f"{point.negative} negative, {point.neutral} neutral, {point.positive} positive, "
            f"{point.angry} angry; net sentiment {point.net_sentiment:+.0f}"
        )
        css = "bucket partial" if partial else "bucket"
        parts.append(
            f'<g class="{css}" data-start="{start.isoformat()}" data-volume="{point.volume}" '
            f'data-negative="{point.negative}" data-positive="{point.positive}" '
            f'data-net="{point.net_sentiment:.1f}"><title>{escape(title)}</title>'
        )
        stacked = 0  # negative at the bottom, then neutral (and not yet scored), positive
        for label, count in (
            ("negative", point.negative),
            ("neutral", point.neutral + max(0, unscored)),
            ("positive", point.positive),
        ):
            if count <= 0:
                continue
            y0, y1 = y_count(stacked + count), y_count(stacked)
            parts.append(
                f'<rect class="bar {label}" x="{x[i] + gap / 2:.1f}" y="{y0:.1f}" '
                f'width="{max(0.6, slot - gap):.1f}" height="{max(0.5, y1 - y0):.1f}" '
                f'fill="{COLOURS[label]}"/>'
            )
            stacked += count
        parts.append("</g>")
        if point.scored:
            cx, cy = x[i] + slot / 2, y_net(point.net_sentiment)
            line.append(f"{'L' if line else 'M'}{cx:.1f},{cy:.1f}")
    if line:  # a white halo under the line keeps it readable over the bars
        d = " ".join(line)
        parts.append(
            f'<path d="{d}" fill="none" stroke="#fff" stroke-width="5" '
            f'stroke-linejoin="round" opacity="0.85"/>'
        )
        parts.append(
            f'<path class="net-line" d="{d}" fill="none" stroke="{NET_COLOUR}" '
            f'stroke-width="2.2" stroke-linejoin="round"/>'
        )
    parts.extend(_markers(markers, starts, x, slot))
    parts.extend(_x_ticks(starts, x, fmt, slot))
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
        f'y2="{TOP + plot_h}"/></svg>'
    )
    return Markup("".join(parts))


def _markers(
    markers: Sequence[Marker], starts: Sequence[datetime], x: Sequence[float], slot: float
) -> list[str]:
    out: list[str] = []
    if not starts:
        return out
    step = (starts[1] - starts[0]).total_seconds() if len(starts) > 1 else 1.0
    first, last, span = starts[0].timestamp(), starts[-1].timestamp() + step, slot * len(starts)
    for marker in markers:
        at = marker.at.timestamp()
        if not first <= at < last:
            continue
        cx = LEFT + span * (at - first) / (last - first)
        out.append(
            f'<g class="marker"><title>{escape(marker.label)}</title>'
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="#f59f00" stroke-dasharray="3 3"/>'
            f'<path d="M{cx - 6:.1f},{TOP - 8} L{cx + 6:.1f},{TOP - 8} L{cx:.1f},{TOP + 2} Z" '
            f'fill="#f59f00"/></g>'
        )
    return out


def compare_chart(
    series: Mapping[str, Sequence[TrendPoint]],
    *,
    since: datetime,
    until: datetime,
    bucket_seconds: int,
) -> Markup:
    """Net sentiment over time of each brand in ``series`` (the first is the brand itself)."""
    starts = buckets(since, until, bucket_seconds)
    plot_w, plot_h = COMPARE_WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(starts))
    x = [LEFT + i * slot for i in range(len(starts))]
    index = {s.timestamp(): i for i, s in enumerate(starts)}

    def y_net(value: float) -> float:
        return TOP + plot_h / 2 - plot_h / 2 * value / 100

    parts = [
        f'<svg class="chart compare" viewBox="0 0 {COMPARE_WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Net sentiment compared">'
    ]
    for net in (-100, -50, 0, 50, 100):
        gy = y_net(net)
        css = "grid zero" if net == 0 else "grid"
        parts.append(
            f'<line class="{css}" x1="{LEFT}" x2="{COMPARE_WIDTH - RIGHT}" y1="{gy:.1f}" '
            f'y2="{gy:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 8}" y="{gy + 4:.1f}" text-anchor="end">'
            f"{net:+d}</text>".replace("+0<", "0<")
        )
    for n, (brand, points) in enumerate(series.items()):
        colour = SERIES[n % len(SERIES)]
        path: list[str] = []
        for point in points:
            i = index.get(point.bucket_start.timestamp())
            if i is None or not point.scored:
                continue
            cx, cy = x[i] + slot / 2, y_net(point.net_sentiment)
            path.append(f"{'L' if path else 'M'}{cx:.1f},{cy:.1f}")
        if path:
            width = 2.5 if n == 0 else 1.8
            parts.append(
                f'<path class="series" data-brand="{escape(brand)}" d="{" ".join(path)}" '
                f'fill="none" stroke="{colour}" stroke-width="{width}" '
                f'stroke-linejoin="round"><title>{escape(brand)}</title></path>'
            )
    parts.extend(_x_ticks(starts, x, _tick_format(bucket_seconds, until - since), slot))
    parts.append("</svg>")
    return Markup("".join(parts))
