"""An in-memory DashboardData: the web layer's tests run against it (the real one reads the
rollups through the trends API and is exercised by the browser test)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from listener.dashboard.data import (
    BUCKET_SECONDS,
    AlertRow,
    BrandInfo,
    Driver,
    Example,
    Facets,
    MentionRow,
    View,
)
from listener.domain import Label, TrendPoint
from listener.errors import ListenerError


@dataclass
class FakeMention:
    id: int
    brand: str
    source: str
    lang: str
    text: str
    created_at: datetime
    label: Label
    anger: float = 0.0
    author: str = "someone"
    url: str = ""
    reach: int = 0
    override: Label | None = None
    by: str | None = None

    @property
    def effective(self) -> Label:
        return self.override or self.label


@dataclass
class MemoryData:
    brand_list: list[BrandInfo]
    mention_list: list[FakeMention] = field(default_factory=list)
    alert_list: list[AlertRow] = field(default_factory=list)

    def _of(self, view: View, brand: str | None = None) -> list[FakeMention]:
        return [
            m
            for m in self.mention_list
            if m.brand == (brand or view.brand)
            and view.since <= m.created_at < view.until
            and (not view.sources or m.source in view.sources)
            and (not view.langs or m.lang in view.langs)
        ]

    def brands(self) -> list[BrandInfo]:
        return list(self.brand_list)

    def trend(self, brands: Sequence[str], view: View) -> dict[str, list[TrendPoint]]:
        seconds = BUCKET_SECONDS[view.bucket]
        out: dict[str, list[TrendPoint]] = {}
        for brand in brands:
            groups: dict[int, list[FakeMention]] = {}
            for m in self._of(view, brand):
                groups.setdefault(math.floor(m.created_at.timestamp() / seconds), []).append(m)
            out[brand] = [
                TrendPoint(
                    brand=brand,
                    bucket_start=datetime.fromtimestamp(key * seconds, tz=UTC),
                    volume=len(ms),
                    negative=sum(m.effective == "negative" for m in ms),
                    neutral=sum(m.effective == "neutral" for m in ms),
                    positive=sum(m.effective == "positive" for m in ms),
                    angry=sum(m.effective == "negative" and m.anger >= 0.5 for m in ms),
                )
                for key, ms in sorted(groups.items())
            ]
        return out

    def drivers(self, view: View, *, limit: int) -> list[Driver]:
        negative = [m for m in self._of(view) if m.effective == "negative"]
        counts = Counter(w for m in negative for w in set(re.findall(r"\w{4,}", m.text.lower())))
        return [
            Driver(
                term=term,
                score=float(n),
                count=n,
                baseline_count=0,
                examples=[_example(m) for m in negative if term in m.text.lower()][:3],
            )
            for term, n in counts.most_common(limit)
        ]

    def negative_mentions(self, view: View, *, limit: int) -> list[MentionRow]:
        rows = sorted(
            (m for m in self._of(view) if m.effective == "negative"),
            key=lambda m: m.created_at,
            reverse=True,
        )
        alerts = {a.mention_id: a for a in self.alert_list if a.mention_id is not None}
        return [_row(m, alerts.get(m.id)) for m in rows[:limit]]

    def alerts(self, view: View, *, limit: int) -> list[AlertRow]:
        rows = [
            a
            for a in self.alert_list
            if a.brand == view.brand and view.since <= a.created_at < view.until
        ]
        return sorted(rows, key=lambda a: a.created_at, reverse=True)[:limit]

    def spikes(self, view: View) -> list[AlertRow]:
        return [a for a in self.alerts(view, limit=1000) if a.kind == "spike"]

    def facets(self, view: View) -> Facets:
        mine = self._of(replace(view, sources=(), langs=()))
        return Facets(
            sources=sorted({m.source for m in mine}), langs=sorted({m.lang for m in mine})
        )

    def override(self, mention_id: int, label: Label, *, by: str) -> None:
        for m in self.mention_list:
            if m.id == mention_id:
                m.override, m.by = label, by
                if label != "negative":  # its queued alert is withdrawn, as in the SQL store
                    self.alert_list = [
                        replace(
                            a, status="withdrawn", details={"withdrawn": {"label": label, "by": by}}
                        )
                        if a.mention_id == mention_id
                        and a.kind == "mention"
                        and a.status == "pending"
                        else a
                        for a in self.alert_list
                    ]
                return
        raise ListenerError(f"no mention with id {mention_id}")


def _example(m: FakeMention) -> Example:
    return Example(
        mention_id=m.id,
        source=m.source,
        author=m.author,
        text=m.text,
        url=m.url,
        lang=m.lang,
        created_at=m.created_at,
    )


def _row(m: FakeMention, alert: AlertRow | None) -> MentionRow:
    return MentionRow(
        mention_id=m.id,
        brands=(m.brand,),
        source=m.source,
        author=m.author,
        text=m.text,
        url=m.url,
        lang=m.lang,
        created_at=m.created_at,
        reach=m.reach,
        label=m.effective,
        model_label=m.label,
        anger=m.anger,
        overridden_by=m.by,
        alert_id=alert.id if alert else None,
        alert_status=alert.status if alert else None,
        acked_at=alert.acked_at if alert else None,
    )
