"""Small builders of domain objects for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from listener.domain import BrandQuery, Mention, Sentiment

# Recent (alert rules ignore mentions that were old when collected) and on the hour (trend buckets).
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
QUERY = BrandQuery(brand="Aurora Air", query='"aurora air"', handles=("AuroraAir",))


def mention(n: int, **overrides: Any) -> Mention:
    values: dict[str, Any] = {
        "source": "replay",
        "external_id": str(n),
        "brand": "Aurora Air",
        "text": f"mention {n} of aurora air",
        "author": f"user{n}",
        "created_at": T0 + timedelta(minutes=n),
        "raw": {"id": str(n)},
    }
    values.update(overrides)
    return Mention(**values)


def sentiment(label: str = "negative", anger: float = 0.1) -> Sentiment:
    probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
    probs[label] = 0.8
    return Sentiment(label=label, probabilities=probs, anger=anger, lang="en")  # type: ignore[arg-type]
