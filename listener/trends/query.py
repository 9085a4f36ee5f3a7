"""The analysts' query API: typed results and the ``TrendsReader`` seam.

The CLI (``trends``, ``report``), the scheduled Slack summary, the spike job and the web
dashboard all read through this protocol; ``listener.trends.sql.SqlTrendsReader`` implements it
over the rollup tables (SQLite and PostgreSQL). Every call takes a half-open period
``[since, until)`` of tz-aware UTC datetimes and the same optional filters: ``sources`` (e.g.
``("twitter",)``) and ``languages`` (e.g. ``("pl", "en")``); an empty tuple means all. Labels
are the effective ones everywhere: an analyst's override or a label rule wins over the model.

/work/coord/TRENDS_API.md is the prose version of this file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from listener.domain import AlertKind, Label, TrendPoint

Bucket = Literal["hour", "day"]
BUCKET_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}

__all__ = [
    "BUCKET_SECONDS",
    "AlertRow",
    "BrandSummary",
    "BrandTrend",
    "Breakdown",
    "Bucket",
    "Driver",
    "Example",
    "LabelWriter",
    "MentionRow",
    "ShareOfVoice",
    "TrendPoint",
    "TrendsReader",
    "VoiceShare",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class BrandTrend:
    """One brand over a period: a point per bucket (empty buckets included, volume 0) and the
    period's total as one TrendPoint whose ``bucket_start`` is ``since``."""

    brand: str
    bucket: Bucket
    since: datetime
    until: datetime
    points: Sequence[TrendPoint]
    total: TrendPoint


@dataclass(frozen=True, kw_only=True, slots=True)
class VoiceShare:
    brand: str
    volume: int
    share: float
    """% of the compared brands' summed volume, in [0, 100]."""
    net_sentiment: float
    negative_share: float
    reach: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ShareOfVoice:
    """A brand and its competitors side by side over one period, in the order asked."""

    since: datetime
    until: datetime
    brands: Sequence[VoiceShare]

    def of(self, brand: str) -> VoiceShare | None:
        return next((b for b in self.brands if b.brand == brand), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    """A mention shown as an example (of a driver, a spike, the latest negative ones)."""

    mention_id: int
    source: str
    author: str
    text: str
    url: str
    lang: str | None
    created_at: datetime
    reach: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Driver:
    """A term or two-word phrase that rises in a brand's negative mentions of the period
    against its baseline (weighted log-odds with an informative Dirichlet prior)."""

    term: str
    score: float
    """The z-score of the log-odds difference; higher: more characteristic of the period."""
    count: int
    """Negative mentions of the period that contain it."""
    baseline_count: int
    """Negative mentions of the baseline that contain it."""
    examples: Sequence[Example] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Breakdown:
    """Volume by one dimension (a source, a language) over a period, biggest first."""

    key: str
    volume: int
    negative: int
    net_sentiment: float


@dataclass(frozen=True, kw_only=True, slots=True)
class MentionRow:
    """One mention as an analyst sees it: the effective label and the model's own."""

    mention_id: int
    brands: Sequence[str]
    source: str
    author: str
    text: str
    url: str
    lang: str | None
    created_at: datetime
    reach: int
    label: Label | None
    """The effective label (override > rule > model); None when not scored yet."""
    model_label: Label | None
    anger: float | None
    overridden_by: str | None = None
    """Who set the label ('rule:NAME' for a label rule); None when it is the model's."""
    alert_id: int | None = None
    alert_status: str | None = None
    acked_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertRow:
    """One alert of the log, with its first-response time."""

    id: int
    kind: AlertKind
    brand: str
    status: str
    reason: str
    created_at: datetime
    mention_id: int | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    response_seconds: float | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class BrandSummary:
    """What the daily/weekly report says about one brand (``listener report``)."""

    brand: str
    since: datetime
    until: datetime
    total: TrendPoint
    previous: TrendPoint
    """The same measures over the period just before, for the change."""
    share_of_voice: ShareOfVoice
    drivers: Sequence[Driver]
    alerts: int
    spikes: int
    mean_response_seconds: float | None
    top_sources: Sequence[Breakdown]
    top_languages: Sequence[Breakdown]

    @property
    def net_change(self) -> float:
        return self.total.net_sentiment - self.previous.net_sentiment


class TrendsReader(Protocol):
    """Read-only queries over stored, scored mentions (fast on millions: rollups)."""

    def trend(
        self,
        brand: str,
        *,
        since: datetime,
        until: datetime,
        bucket: Bucket = "day",
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
    ) -> BrandTrend:
        """The brand's measures per bucket over [since, until). ``since`` is floored to the
        bucket (UTC hours, UTC days); every bucket is present, empty ones with zeros."""
        ...

    def trends(
        self,
        brands: Sequence[str],
        *,
        since: datetime,
        until: datetime,
        bucket: Bucket = "day",
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
    ) -> list[BrandTrend]:
        """``trend`` for several brands (a brand and its competitors) in one query, in order."""
        ...

    def share_of_voice(
        self,
        brands: Sequence[str],
        *,
        since: datetime,
        until: datetime,
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
    ) -> ShareOfVoice:
        """Each brand's volume as a share of the brands' total, with net sentiment."""
        ...

    def drivers(
        self,
        brand: str,
        *,
        since: datetime,
        until: datetime,
        baseline_since: datetime | None = None,
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
        limit: int = 10,
        examples: int = 3,
    ) -> list[Driver]:
        """Terms rising in the brand's negative mentions of [since, until) against the
        baseline [baseline_since, since) (default: the 28 days before ``since``), best first,
        each with up to ``examples`` example mentions of the period."""
        ...

    def breakdown(
        self,
        brand: str,
        *,
        by: Literal["source", "lang"],
        since: datetime,
        until: datetime,
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
        limit: int = 10,
    ) -> list[Breakdown]:
        """The brand's volume per source or per language (unknown language: ''), biggest first."""
        ...

    def mentions(
        self,
        brand: str,
        *,
        since: datetime,
        until: datetime,
        label: Label | None = None,
        min_anger: float | None = None,
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
        limit: int = 20,
    ) -> list[MentionRow]:
        """The brand's latest mentions (newest first), optionally only one effective label
        and at least ``min_anger``, with their alert state."""
        ...

    def alert_log(
        self, brand: str | None, *, since: datetime, until: datetime, limit: int = 50
    ) -> list[AlertRow]:
        """Alerts (newest first) with first-response times; ``brand`` None: every brand."""
        ...

    def spikes(self, brand: str, *, since: datetime, until: datetime) -> list[AlertRow]:
        """The brand's spike alerts whose window ended in [since, until) (chart markers)."""
        ...

    def summary(
        self,
        brand: str,
        *,
        competitors: Sequence[str] = (),
        since: datetime,
        until: datetime,
        drivers: int = 5,
    ) -> BrandSummary:
        """The report of one brand over [since, until), compared with the period before."""
        ...

    def brands(self) -> list[str]:
        """Every brand that has mentions, sorted."""
        ...


class LabelWriter(Protocol):
    """The analysts' one write: correct a mention's label (it wins over every model score)."""

    def override(self, mention_id: int, label: Label, *, by: str, at: datetime) -> MentionRow:
        """Set the mention's effective label (rollups updated in the same transaction) and
        return it; a label other than negative withdraws the mention's alert if it is still
        queued (never one that went out). Raises ListenerError naming the id when no such
        mention is stored."""
        ...

    def clear_override(self, mention_id: int) -> MentionRow:
        """Drop the analyst's override: the label is the rule's or the model's again."""
        ...
