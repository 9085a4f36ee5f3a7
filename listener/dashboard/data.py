"""What the dashboard reads and writes: one Protocol, ``DashboardData``, and its view types.

The web layer (``listener.dashboard.web``) depends on this module only; ``TrendsData`` in
``listener.dashboard.build`` implements it over the trends API (``listener.trends.query``, whose
result types it shows as they are). Every read takes a ``View`` (brand, period and
filters) and must stay fast on millions of mentions: implementations read rollups and indexed,
limited queries, never a scan of the mentions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from listener.domain import Label, TrendPoint
from listener.trends.query import BUCKET_SECONDS, AlertRow, Bucket, Driver, Example, MentionRow

__all__ = [
    "BUCKET_SECONDS",
    "AlertRow",
    "BrandInfo",
    "Bucket",
    "DashboardData",
    "Driver",
    "Example",
    "Facets",
    "MentionRow",
    "View",
]


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
        """Set an analyst's label on a mention; every later read shows it (the trend too). A
        label other than negative withdraws the mention's alert while it is still queued.
        Raises ListenerError naming the id when there is no such mention."""
        ...
