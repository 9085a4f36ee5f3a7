"""``TrendsData``: the dashboard's DashboardData over the trends API (rollup-backed reads) and
the label writer, and ``build_data`` to make one from an App."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from listener.dashboard.data import (
    AlertRow,
    BrandInfo,
    Driver,
    Facets,
    MentionRow,
    View,
)
from listener.domain import Label, TrendPoint, utcnow
from listener.trends.query import LabelWriter, TrendsReader

if TYPE_CHECKING:
    from listener.app import App

EXAMPLES_PER_DRIVER = 2


class TrendsData:
    """DashboardData over a TrendsReader and a LabelWriter."""

    def __init__(
        self,
        *,
        reader: TrendsReader,
        labels: LabelWriter,
        brands: Sequence[BrandInfo],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._reader = reader
        self._labels = labels
        self._brands = list(brands)
        self._clock = clock

    def brands(self) -> list[BrandInfo]:
        return list(self._brands)

    def trend(self, brands: Sequence[str], view: View) -> dict[str, list[TrendPoint]]:
        found = self._reader.trends(
            brands,
            since=view.since,
            until=view.until,
            bucket=view.bucket,
            sources=view.sources,
            languages=view.langs,
        )
        return {t.brand: list(t.points) for t in found}

    def drivers(self, view: View, *, limit: int) -> list[Driver]:
        return self._reader.drivers(
            view.brand,
            since=view.since,
            until=view.until,
            sources=view.sources,
            languages=view.langs,
            limit=limit,
            examples=EXAMPLES_PER_DRIVER,
        )

    def negative_mentions(self, view: View, *, limit: int) -> list[MentionRow]:
        return self._reader.mentions(
            view.brand,
            since=view.since,
            until=view.until,
            label="negative",
            sources=view.sources,
            languages=view.langs,
            limit=limit,
        )

    def alerts(self, view: View, *, limit: int) -> list[AlertRow]:
        return self._reader.alert_log(view.brand, since=view.since, until=view.until, limit=limit)

    def spikes(self, view: View) -> list[AlertRow]:
        return self._reader.spikes(view.brand, since=view.since, until=view.until)

    def facets(self, view: View) -> Facets:
        def keys(by: str) -> list[str]:
            rows = self._reader.breakdown(
                view.brand,
                by="source" if by == "source" else "lang",
                since=view.since,
                until=view.until,
                limit=50,
            )
            return sorted(r.key for r in rows if r.key)  # '' is 'language unknown'

        return Facets(sources=keys("source"), langs=keys("lang"))

    def override(self, mention_id: int, label: Label, *, by: str) -> None:
        self._labels.override(mention_id, label, by=by, at=self._clock())


def build_data(app: App) -> TrendsData:
    """The dashboard's data for ``app``: its brands (with the competitors each names), the
    rollup-backed trends reader and the label writer."""
    brands = [BrandInfo(name=b.name, competitors=tuple(b.competitors)) for b in app.settings.brands]
    return TrendsData(reader=app.trends, labels=app.labels, brands=brands)
