"""The page's query string (brand, period, bucket, source, lang) read into a View.

Every bad value is refused with a message that names the parameter and what it accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlencode

from listener.dashboard.data import BUCKET_SECONDS, BrandInfo, Bucket, View

PERIODS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DEFAULT_PERIOD = "7d"
MAX_BUCKETS = 800
"""Hourly buckets over 90 days would be 2,160 bars: too many to read (or to draw quickly)."""
_VALUE = re.compile(r"[A-Za-z0-9_.:-]{1,32}")


class BadParameter(ValueError):
    """A query-string value the dashboard cannot use; the message names it."""


def default_bucket(period: timedelta) -> Bucket:
    return "hour" if period <= timedelta(days=2) else "day"


def buckets_allowed(period: timedelta) -> list[Bucket]:
    return [b for b in ("hour", "day") if period.total_seconds() / BUCKET_SECONDS[b] <= MAX_BUCKETS]


def parse_view(
    params: Mapping[str, str], brands: Sequence[BrandInfo], *, now: datetime
) -> tuple[View, str]:
    """The View the query string asks for, and its period's name (``7d``...)."""
    if not brands:
        raise BadParameter("no brands are configured: add [[brands]] to the config")
    name = params.get("brand") or brands[0].name
    found = next((b for b in brands if b.name.casefold() == name.casefold()), None)
    if found is None:
        known = ", ".join(b.name for b in brands)
        raise BadParameter(f"brand: no brand named {name[:80]!r} (configured: {known})")
    period_name = params.get("period") or DEFAULT_PERIOD
    if period_name not in PERIODS:
        raise BadParameter(
            f"period: expected one of {', '.join(PERIODS)}, got {period_name[:20]!r}"
        )
    period = PERIODS[period_name]
    bucket_name = params.get("bucket") or default_bucket(period)
    if bucket_name not in BUCKET_SECONDS:
        raise BadParameter(f"bucket: expected hour or day, got {bucket_name[:20]!r}")
    bucket: Bucket = "hour" if bucket_name == "hour" else "day"
    if bucket not in buckets_allowed(period):
        bucket = "day"  # the period grew past what hours can show: the menu offers days only
    until = _period_end(now, bucket)
    return (
        View(
            brand=found.name,
            since=until - period,
            until=until,
            bucket=bucket,
            sources=_one("source", params),
            langs=_one("lang", params),
        ),
        period_name,
    )


def _one(key: str, params: Mapping[str, str]) -> tuple[str, ...]:
    value = params.get(key) or ""
    if not value:
        return ()
    if not _VALUE.fullmatch(value):
        raise BadParameter(f"{key}: expected a name such as 'twitter' or 'en', got {value[:40]!r}")
    return (value,)


def _period_end(now: datetime, bucket: Bucket) -> datetime:
    """The end of the current hour (or UTC day): every bucket of the period is whole, so the
    totals are the sums of the bars, and pages within one hour ask the same question."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if bucket == "day":
        end = end.replace(hour=0) + timedelta(days=1) if end.hour else end
    return end


def query_string(view: View, period: str, **changes: str) -> str:
    """The page's query string for ``view`` with some parameters changed ('' removes one)."""
    values = {
        "brand": view.brand,
        "period": period,
        "bucket": view.bucket,
        "source": view.sources[0] if view.sources else "",
        "lang": view.langs[0] if view.langs else "",
    }
    values.update(changes)
    return urlencode({k: v for k, v in values.items() if v})
