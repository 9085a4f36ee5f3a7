"""What the dashboard reads and writes: one Protocol, ``DashboardData``, and its view types.

The web layer (``listener.dashboard.web``) depends on this module only; the implementation over
the trends API and the store is chosen by the CLI. Every read takes a ``View`` (brand, period and
filters) and must stay fast on millions of mentions: implementations read rollups and indexed,
limited queries, never a scan of the mentions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from listener.domain import Label, TrendPoint

Bucket = Literal["hour", "day"]
BUCKET_SECONDS: dict[Bucket, int] = {"hour": 3600, "day": 86400}


@dataclass(frozen=True, kw_only=True, slots=True)
class View:
    """One page's question: a brand over [since, until), optionally narrowed to some sources
    and languages (empty: all)."""

    brand: str
    since: datetime
    until: datetime
    bucket: Bucket = "day"
    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()

    @property
    def period(self) -> timedelta:
        return self.until - self.since


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    """A mention quoted as an example of a complaint driver."""

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
    """A term that rises in the brand's negative mentions of the period against its baseline."""

    term: str
    score: float
    """How characteristic of the period it is (higher: more)."""
    count: int
    """Negative mentions of the period that contain it."""
    baseline_count: int
    """Negative mentions of the baseline (the weeks before) that contain it."""
    examples: Sequence[Example] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class MentionRow:
    """A mention as an analyst sees it: the label that counts, the model's own, alert state."""

    mention_id: int
    source: str
    author: str
    text: str
    url: str
    lang: str | None
    created_at: datetime
    reach: int
    label: Label | None
    """The label that counts: an analyst's override or a rule when any, else the model's."""
    model_label: Label | None
    anger: float | None
    overridden_by: str | None = None
    """Who set ``label`` (an analyst's name or 'rule:NAME'), None when it is the model's."""
    alert_id: int | None = None
    alert_status: str | None = None
    acked_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertRow:
    """One row of a brand's alert log, with its first-response time."""

    id: int
    kind: str
    brand: str
    status: str
    reason: str
    created_at: datetime
    mention_id: int | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    response_seconds: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Facets:
    """The values the filter menus offer for a brand."""

    sources: Sequence[str] = ()
    langs: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class BrandInfo:
    name: str
    competitors: Sequence[str] = field(default_factory=tuple)


class DashboardData(Protocol):
    """The dashboard's reads and its one write."""

    def brands(self) -> list[BrandInfo]:
        """The configured brands, in config order, each with the competitors it names."""
        ...

    def trend(self, brands: Sequence[str], view: View) -> dict[str, list[TrendPoint]]:
        """For each of ``brands``: one point per bucket of ``view.bucket`` in the view's period
        that has mentions (sources and languages filtered as the view says), oldest first.
        Labels are the ones that count (overrides win)."""
        ...

    def drivers(self, view: View, *, limit: int) -> list[Driver]:
        """Up to ``limit`` complaint drivers of the view's brand and period, strongest first,
        each with a few example mentions."""
        ...

    def negative_mentions(self, view: View, *, limit: int) -> list[MentionRow]:
        """The latest negative (or angry) mentions of the view, newest first."""
        ...

    def alerts(self, view: View, *, limit: int) -> list[AlertRow]:
        """The brand's alerts created in the view's period, newest first."""
        ...

    def spikes(self, view: View) -> list[AlertRow]:
        """The brand's spike alerts of the period (markers on the chart)."""
        ...

    def facets(self, view: View) -> Facets:
        """The sources and languages the brand has mentions in over the view's period (all
        of them, whatever the view's own source and language filters)."""
        ...

    def override(self, mention_id: int, label: Label, *, by: str) -> None:
        """Set an analyst's label on a mention; every later read shows it (the trend too).
        Raises ListenerError naming the id when there is no such mention."""
        ...
