"""Domain types: frozen, keyword-only dataclasses with tz-aware UTC datetimes.

They carry no behaviour beyond small derived values, and import nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, ...] = ("negative", "neutral", "positive")

AlertKind = Literal["mention", "spike", "digest", "report"]
AlertStatus = Literal["pending", "sending", "sent", "failed", "digested", "withdrawn"]
"""Delivery state. 'sending': claimed by a dispatcher (lease in next_attempt_at). 'withdrawn': an
analyst's override or a label rule made the mention not negative before the alert went out; it is
never sent (``details['withdrawn']`` says who relabelled it). Handling (ack or the brand's reply)
is recorded apart, in acked_at/acked_by, whatever the delivery state."""


def utcnow() -> datetime:
    """The current time, tz-aware UTC (the one clock the code reads; tests patch this edge)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as tz-aware UTC; naive datetimes are taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class BrandQuery:
    """What one collector run looks for: a brand and its query in listener's query language."""

    brand: str
    query: str
    languages: tuple[str, ...] = ()
    subreddits: tuple[str, ...] = ()
    """Deprecated: Reddit reads its ``options`` (``[brands.reddit] subreddits``); kept so that
    code building a BrandQuery by hand keeps working."""
    handles: tuple[str, ...] = ()
    """The brand's own accounts (without @): their replies count as a first response."""
    options: Any = None
    """The brand's section for the collecting source (``[brands.KIND]``), as the source
    plugin's ``brand_options`` model validated it; None when the brand has none."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Mention:
    """One post or comment that mentions a brand, as collected.

    ``(source, external_id)`` identifies it; ``text`` is stored exactly as the platform sent it
    (HTML entities unescaped once). ``raw`` is the original payload item, kept for re-parsing.
    """

    source: str
    external_id: str
    brand: str
    text: str
    author: str
    created_at: datetime
    url: str = ""
    lang: str | None = None
    author_reach: int = 0
    engagement: int = 0
    in_reply_to: str | None = None
    """external_id of the mention this one answers, when the platform says so."""
    repost_of: str | None = None
    """external_id (same source) of the post this one repeats: a retweet, a crosspost, or an
    exact copy of an earlier mention's text. A repost never alerts; its reach counts toward
    the original's."""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Quarantined:
    """An input item that could not be parsed: kept aside with the reason, never dropped."""

    source: str
    brand: str
    reason: str
    payload: str
    location: str = ""
    """Where it came from: 'file.jsonl:12', 'page 2 item 7', ..."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Batch:
    """What one ``Collector.collect`` call returns.

    ``cursor`` is the position to resume from next time (None: keep the previous one). It is
    stored in the same transaction as ``mentions`` and ``quarantined``.
    """

    mentions: Sequence[Mention] = ()
    quarantined: Sequence[Quarantined] = ()
    cursor: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Sentiment:
    """A model's verdict on one text."""

    label: Label
    probabilities: Mapping[str, float]
    """Keys: negative, neutral, positive; values sum to 1."""
    anger: float
    """In [0, 1]: how angry (not merely disappointed) the author is."""
    lang: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredMention:
    """A mention as the store returns it, with its row id."""

    id: int
    mention: Mention
    collected_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Score:
    """A model's verdict on a stored mention. Re-scoring adds rows; history is never destroyed."""

    mention_id: int
    model: str
    """'name@version' of the model that produced it."""
    sentiment: Sentiment
    scored_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class NewAlert:
    """An alert decided by a rule, to be written to the outbox (unique on ``dedupe_key``)."""

    kind: AlertKind
    brand: str
    dedupe_key: str
    reason: str
    """Why it fired, in words a person reads: the thresholds crossed."""
    mention_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Alert:
    """A row of the alert outbox."""

    id: int
    kind: AlertKind
    brand: str
    dedupe_key: str
    status: AlertStatus
    reason: str
    created_at: datetime
    mention_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    digest_id: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendPoint:
    """Aggregates for one brand over one time bucket."""

    brand: str
    bucket_start: datetime
    volume: int
    negative: int
    neutral: int
    positive: int
    angry: int = 0
    anger_sum: float = 0.0
    """Sum of the model's anger over the scored mentions (mean = anger_sum / scored)."""
    reach: int = 0
    """Reach-weighted volume: the authors' followers summed over the mentions."""
    alerts: int = 0
    """Mention and spike alerts raised in the bucket."""
    responded: int = 0
    """Alerts of the bucket that got a first response (ack or the brand's reply)."""
    response_seconds: float = 0.0
    """Sum of those first-response times (mean = response_seconds / responded)."""

    @property
    def scored(self) -> int:
        return self.negative + self.neutral + self.positive

    @property
    def mean_anger(self) -> float:
        return self.anger_sum / self.scored if self.scored else 0.0

    @property
    def negative_share(self) -> float:
        """% of the scored mentions that are negative; 0 when none."""
        return 100.0 * self.negative / self.scored if self.scored else 0.0

    @property
    def mean_response_seconds(self) -> float | None:
        return self.response_seconds / self.responded if self.responded else None

    @property
    def net_sentiment(self) -> float:
        """% positive - % negative of the scored mentions, in [-100, 100]; 0 when none."""
        if self.scored == 0:
            return 0.0
        return 100.0 * (self.positive - self.negative) / self.scored
