"""What drove a spike or a storm: the rising terms of its negative mentions with examples, and
its top sources and languages, as plain values for an alert's details (and its message)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from listener.trends.query import TrendsReader

BASELINE = timedelta(days=7)


def explain(
    reader: TrendsReader,
    brand: str,
    start: datetime,
    end: datetime,
    *,
    terms: int = 5,
    examples: int = 3,
) -> dict[str, Any]:
    """``drivers`` (term, count, baseline_count), ``examples`` (mention ids, the drivers'
    first), ``top_sources`` and ``top_languages`` (key -> volume) of [start, end)."""
    drivers = reader.drivers(
        brand, since=start, until=end, baseline_since=start - BASELINE, limit=terms, examples=1
    )
    ids: list[int] = []
    for driver in drivers:
        for example in driver.examples:
            if example.mention_id not in ids:
                ids.append(example.mention_id)
    if len(ids) < examples:
        for row in reader.mentions(brand, since=start, until=end, label="negative", limit=examples):
            if row.mention_id not in ids:
                ids.append(row.mention_id)
    by_source = reader.breakdown(brand, by="source", since=start, until=end, limit=3)
    by_lang = reader.breakdown(brand, by="lang", since=start, until=end, limit=3)
    return {
        "drivers": [
            {"term": d.term, "count": d.count, "baseline_count": d.baseline_count} for d in drivers
        ],
        "examples": ids[:examples],
        "top_sources": {b.key: b.volume for b in by_source},
        "top_languages": {(b.key or "unknown"): b.volume for b in by_lang},
    }


def explained(details: Any) -> list[str]:
    """Lines saying what drove an alert, from its details ([] when it says nothing)."""
    lines = []
    drivers = details.get("drivers") if hasattr(details, "get") else None
    if drivers:
        terms = ", ".join(
            f"“{d['term']}” {d['count']} (usually {d['baseline_count']})" for d in drivers
        )
        lines.append(f"Driven by: {terms}")
    for key, title in (("top_sources", "Top sources"), ("top_languages", "Top languages")):
        value = details.get(key) if hasattr(details, "get") else None
        if value:
            lines.append(f"{title}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
    return lines
