"""Jinja filters: how the page writes times, durations, counts and sentiment."""

from __future__ import annotations

from datetime import datetime, timedelta

from jinja2 import Environment


def when(value: datetime | None) -> str:
    """``29 Nov 13:40`` (UTC)."""
    return "" if value is None else value.strftime("%d %b %H:%M")


def duration(value: timedelta | None) -> str:
    """A response time as a person says it: ``45s``, ``4m 12s``, ``2h 05m``, ``3d 4h``."""
    if value is None:
        return "—"
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def count(value: int | float) -> str:
    """``12,345``."""
    return f"{value:,.0f}"


def signed(value: float | None) -> str:
    """Net sentiment: ``+12``, ``−8`` (a real minus sign), ``—`` when unknown."""
    if value is None:
        return "—"
    text = f"{value:+.0f}"
    return text.replace("-", "\u2212") if text != "+0" and text != "-0" else "0"


def tone(value: float | None) -> str:
    """The CSS class of a net-sentiment value: good, bad, mixed or none."""
    if value is None:
        return "none"
    if value >= 10:
        return "good"
    if value <= -10:
        return "bad"
    return "mixed"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def safe_url(value: str) -> str:
    """``value`` when it is an http(s) link, else '' (a ``javascript:`` URL is never a link)."""
    return value if value.startswith(("https://", "http://")) else ""


def register_filters(env: Environment) -> None:
    env.filters.update(
        when=when,
        duration=duration,
        count=count,
        seconds=seconds,
        signed=signed,
        tone=tone,
        percent=percent,
        safe_url=safe_url,
    )
