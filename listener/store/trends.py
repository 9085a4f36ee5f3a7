"""``TrendsReader`` over the rollup tables (SQLite and PostgreSQL).

Measures come from ``trend_rollups`` (one row per brand, hour, source, language) and driver
counts from ``term_rollups`` (per brand, day, term): a 30-day hourly trend of three brands reads
a few tens of thousands of pre-summed rows, never the mentions. Mention lists and examples read
the newest mentions of a brand through ``mention_brands (brand, created_at)`` a page at a time,
with a bound on how many are looked at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, func, select

from listener.domain import AlertKind, Label, TrendPoint, as_utc
from listener.store.rollups import MEASURES, _latest_scores, day_of
from listener.store.schema import (
    alerts,
    label_overrides,
    mention_brands,
    mentions,
    term_rollups,
    trend_rollups,
)
from listener.trends.drivers import rising
from listener.trends.query import (
    BUCKET_SECONDS,
    AlertRow,
    BrandSummary,
    BrandTrend,
    Breakdown,
    Bucket,
    Driver,
    Example,
    MentionRow,
    ShareOfVoice,
    VoiceShare,
)
from listener.trends.terms import brand_words, terms

PAGE = 500
SCAN_LIMIT = 5000
"""Mentions looked at, at most, for a list or the examples of a period."""
SAMPLE = 3000
"""Negative mentions tokenised, at most, for drivers under filters or in a short period."""
BASELINE = timedelta(days=28)


def _floor(at: datetime, seconds: int) -> int:
    return int(as_utc(at).timestamp() // seconds)


def _ceil(at: datetime, seconds: int) -> int:
    return -int(-as_utc(at).timestamp() // seconds)


def _point(brand: str, start: datetime, values: Counter[str] | None = None) -> TrendPoint:
    v = values or Counter()
    return TrendPoint(
        brand=brand,
        bucket_start=start,
        volume=int(v["volume"]),
        negative=int(v["negative"]),
        neutral=int(v["neutral"]),
        positive=int(v["positive"]),
        angry=int(v["angry"]),
        anger_sum=float(v["anger_sum"]),
        reach=int(v["reach"]),
        alerts=int(v["alerts"]),
        responded=int(v["responded"]),
        response_seconds=float(v["response_seconds"]),
    )


def _filtered(stmt: Any, sources: Sequence[str], languages: Sequence[str]) -> Any:
    if sources:
        stmt = stmt.where(trend_rollups.c.source.in_(list(sources)))
    if languages:
        stmt = stmt.where(trend_rollups.c.lang.in_(list(languages)))
    return stmt


def _effective(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[Any, Any, Any]]:
    """mention id -> (latest score row or None, override label or None, override by)."""
    latest = _latest_scores(conn, ids) if ids else {}
    overrides = {
        mid: (label, by)
        for mid, label, by in conn.execute(
            select(
                label_overrides.c.mention_id, label_overrides.c.label, label_overrides.c.by
            ).where(label_overrides.c.mention_id.in_(list(ids)))
        )
    }
    return {
        i: (latest.get(i), *(overrides.get(i) or (None, None)))  # type: ignore[misc]
        for i in ids
    }


def mention_rows(conn: Connection, ids: Sequence[int]) -> list[MentionRow]:
    """MentionRows of ``ids`` (missing ids skipped), in the order of ``ids``."""
    if not ids:
        return []
    rows = {r.id: r for r in conn.execute(select(mentions).where(mentions.c.id.in_(list(ids))))}
    brands: dict[int, list[str]] = {}
    for mid, brand in conn.execute(
        select(mention_brands.c.mention_id, mention_brands.c.brand)
        .where(mention_brands.c.mention_id.in_(list(ids)))
        .order_by(mention_brands.c.brand)
    ):
        brands.setdefault(mid, []).append(brand)
    state = _effective(conn, list(rows))
    alert_of: dict[int, Any] = {}
    for a in conn.execute(
        select(alerts.c.id, alerts.c.mention_id, alerts.c.status, alerts.c.acked_at)
        .where(alerts.c.mention_id.in_(list(ids)), alerts.c.kind == "mention")
        .order_by(alerts.c.id)
    ):
        alert_of.setdefault(a.mention_id, a)
    out = []
    for i in ids:
        m = rows.get(i)
        if m is None:
            continue
        score, label, by = state[i]
        alert = alert_of.get(i)
        out.append(
            MentionRow(
                mention_id=i,
                brands=tuple(brands.get(i, [m.brand])),
                source=m.source,
                author=m.author,
                text=m.text,
                url=m.url,
                lang=(score.lang if score is not None else None) or m.lang,
                created_at=m.created_at,
                reach=int(m.author_reach or 0),
                label=cast(Label, label or (score.label if score is not None else None)),
                model_label=score.label if score is not None else None,
                anger=float(score.anger) if score is not None else None,
                overridden_by=by,
                alert_id=alert.id if alert is not None else None,
                alert_status=alert.status if alert is not None else None,
                acked_at=alert.acked_at if alert is not None else None,
            )
        )
    return out


class SqlTrendsReader:
    """``listener.trends.query.TrendsReader`` over a SQLAlchemy Engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- measures -------------------------------------------------------------------------------

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
        width = BUCKET_SECONDS[bucket]
        first, end = _floor(since, width), _ceil(until, width)
        per_hour = width // 3600
        sums = [func.sum(trend_rollups.c[m]) for m in MEASURES]
        stmt = (
            select(trend_rollups.c.brand, trend_rollups.c.hour, *sums)
            .where(
                trend_rollups.c.brand.in_(list(brands)),
                trend_rollups.c.hour >= first * per_hour,
                trend_rollups.c.hour < end * per_hour,
            )
            .group_by(trend_rollups.c.brand, trend_rollups.c.hour)
        )
        buckets: dict[str, dict[int, Counter[str]]] = {b: {} for b in brands}
        with self.engine.connect() as conn:
            for row in conn.execute(_filtered(stmt, sources, languages)):
                slot = buckets[row[0]].setdefault(int(row[1]) // per_hour, Counter())
                slot.update({m: v for m, v in zip(MEASURES, row[2:], strict=True) if v})
        out = []
        for brand in brands:
            points = [
                _point(brand, datetime.fromtimestamp(k * width, UTC), buckets[brand].get(k))
                for k in range(first, end)
            ]
            total: Counter[str] = Counter()
            for values in buckets[brand].values():
                total.update(values)
            out.append(
                BrandTrend(
                    brand=brand,
                    bucket=bucket,
                    since=datetime.fromtimestamp(first * width, UTC),
                    until=datetime.fromtimestamp(end * width, UTC),
                    points=points,
                    total=_point(brand, datetime.fromtimestamp(first * width, UTC), total),
                )
            )
        return out

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
        return self.trends(
            [brand], since=since, until=until, bucket=bucket, sources=sources, languages=languages
        )[0]

    def _totals(
        self,
        brands: Sequence[str],
        since: datetime,
        until: datetime,
        sources: Sequence[str],
        languages: Sequence[str],
    ) -> dict[str, TrendPoint]:
        sums = [func.sum(trend_rollups.c[m]) for m in MEASURES]
        stmt = (
            select(trend_rollups.c.brand, *sums)
            .where(
                trend_rollups.c.brand.in_(list(brands)),
                trend_rollups.c.hour >= _floor(since, 3600),
                trend_rollups.c.hour < _ceil(until, 3600),
            )
            .group_by(trend_rollups.c.brand)
        )
        found: dict[str, Counter[str]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(_filtered(stmt, sources, languages)):
                found[row[0]] = Counter({m: v for m, v in zip(MEASURES, row[1:], strict=True) if v})
        return {b: _point(b, since, found.get(b)) for b in brands}

    def share_of_voice(
        self,
        brands: Sequence[str],
        *,
        since: datetime,
        until: datetime,
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
    ) -> ShareOfVoice:
        totals = self._totals(brands, since, until, sources, languages)
        whole = sum(t.volume for t in totals.values())
        return ShareOfVoice(
            since=since,
            until=until,
            brands=[
                VoiceShare(
                    brand=b,
                    volume=totals[b].volume,
                    share=100.0 * totals[b].volume / whole if whole else 0.0,
                    net_sentiment=totals[b].net_sentiment,
                    negative_share=totals[b].negative_share,
                    reach=totals[b].reach,
                )
                for b in brands
            ],
        )

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
        column = trend_rollups.c[by]
        c = trend_rollups.c
        stmt = (
            select(
                column,
                func.sum(c.volume),
                func.sum(c.negative),
                func.sum(c.neutral),
                func.sum(c.positive),
            )
            .where(
                c.brand == brand,
                c.hour >= _floor(since, 3600),
                c.hour < _ceil(until, 3600),
            )
            .group_by(column)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(_filtered(stmt, sources, languages)).all()
        out = [
            Breakdown(
                key=str(key),
                volume=int(v or 0),
                negative=int(n or 0),
                net_sentiment=_point(
                    brand, since, Counter(negative=n or 0, neutral=u or 0, positive=p or 0)
                ).net_sentiment,
            )
            for key, v, n, u, p in rows
            if v
        ]
        out.sort(key=lambda b: (-b.volume, b.key))
        return out[:limit]

    # -- mentions -----------------------------------------------------------------------------

    def _scan(
        self,
        conn: Connection,
        brand: str,
        since: datetime,
        until: datetime,
        *,
        sources: Sequence[str],
    ) -> Iterable[list[int]]:
        """Pages of the brand's mention ids in [since, until), newest first, bounded."""
        seen = 0
        before = until
        last_ids: set[int] = set()
        while seen < SCAN_LIMIT:
            stmt = (
                select(mention_brands.c.mention_id, mention_brands.c.created_at)
                .where(
                    mention_brands.c.brand == brand,
                    mention_brands.c.created_at >= since,
                    mention_brands.c.created_at <= before,
                )
                .order_by(mention_brands.c.created_at.desc(), mention_brands.c.mention_id.desc())
                .limit(PAGE + len(last_ids))
            )
            if sources:
                stmt = stmt.where(
                    mention_brands.c.mention_id.in_(
                        select(mentions.c.id).where(
                            mentions.c.id == mention_brands.c.mention_id,
                            mentions.c.source.in_(list(sources)),
                        )
                    )
                )
            rows = [
                r
                for r in conn.execute(stmt)
                if r.mention_id not in last_ids and as_utc(r.created_at) < as_utc(until)
            ]
            if not rows:
                return
            seen += len(rows)
            yield [r.mention_id for r in rows]
            before = rows[-1].created_at
            last_ids = {r.mention_id for r in rows if r.created_at == before}
            if len(rows) < PAGE:
                return

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
        out: list[MentionRow] = []
        with self.engine.connect() as conn:
            for ids in self._scan(conn, brand, since, until, sources=sources):
                for row in mention_rows(conn, ids):
                    if label is not None and row.label != label:
                        continue
                    if min_anger is not None and (row.anger or 0.0) < min_anger:
                        continue
                    if languages and (row.lang or "") not in languages:
                        continue
                    out.append(row)
                    if len(out) >= limit:
                        return out
        return out

    # -- drivers ------------------------------------------------------------------------------

    def _term_counts(
        self, conn: Connection, brand: str, first_day: int, end_day: int
    ) -> Counter[str]:
        stmt = (
            select(term_rollups.c.term, func.sum(term_rollups.c.mentions))
            .where(
                term_rollups.c.brand == brand,
                term_rollups.c.day >= first_day,
                term_rollups.c.day < end_day,
            )
            .group_by(term_rollups.c.term)
        )
        return Counter({t: int(n) for t, n in conn.execute(stmt) if n})

    def _sampled(
        self,
        brand: str,
        since: datetime,
        until: datetime,
        sources: Sequence[str],
        languages: Sequence[str],
        limit: int = SAMPLE,
    ) -> list[MentionRow]:
        return self.mentions(
            brand,
            since=since,
            until=until,
            label="negative",
            sources=sources,
            languages=languages,
            limit=limit,
        )

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
        base_from = baseline_since if baseline_since is not None else since - BASELINE
        skip = brand_words(brand)
        filtered = bool(sources or languages)
        sample: list[MentionRow] | None = None
        if filtered or until - since < timedelta(days=2):
            sample = self._sampled(brand, since, until, sources, languages)
            period: Counter[str] = Counter()
            for row in sample:
                period.update(terms(row.text, row.lang, skip=skip))
        else:
            with self.engine.connect() as conn:
                period = self._term_counts(conn, brand, day_of(since), _ceil(until, 86400))
        if filtered:
            baseline: Counter[str] = Counter()
            for row in self._sampled(brand, base_from, since, sources, languages):
                baseline.update(terms(row.text, row.lang, skip=skip))
        else:
            with self.engine.connect() as conn:
                baseline = self._term_counts(conn, brand, day_of(base_from), day_of(since))
        ranked = rising(period, baseline, limit=limit)
        if not ranked:
            return []
        if sample is None:
            sample = self._sampled(brand, since, until, sources, languages, limit=500)
        wanted = {r.term for r in ranked}
        found: dict[str, list[Example]] = {t: [] for t in wanted}
        for row in sample:
            for term in terms(row.text, row.lang, skip=skip) & wanted:
                if len(found[term]) < examples:
                    found[term].append(_example(row))
        return [
            Driver(
                term=r.term,
                score=round(r.z, 3),
                count=r.count,
                baseline_count=r.baseline_count,
                examples=tuple(found[r.term]),
            )
            for r in ranked
        ]

    # -- alerts -------------------------------------------------------------------------------

    def alert_log(
        self, brand: str | None, *, since: datetime, until: datetime, limit: int = 50
    ) -> list[AlertRow]:
        stmt = (
            select(alerts, mentions.c.created_at.label("posted_at"))
            .select_from(alerts.outerjoin(mentions, mentions.c.id == alerts.c.mention_id))
            .where(alerts.c.created_at >= since, alerts.c.created_at < until)
            .order_by(alerts.c.id.desc())
            .limit(limit)
        )
        if brand is not None:
            stmt = stmt.where(alerts.c.brand == brand)
        with self.engine.connect() as conn:
            return [_alert_row(r) for r in conn.execute(stmt)]

    def spikes(self, brand: str, *, since: datetime, until: datetime) -> list[AlertRow]:
        stmt = (
            select(alerts, mentions.c.created_at.label("posted_at"))
            .select_from(alerts.outerjoin(mentions, mentions.c.id == alerts.c.mention_id))
            .where(alerts.c.brand == brand, alerts.c.kind == "spike", alerts.c.created_at >= since)
            .order_by(alerts.c.id)
        )
        with self.engine.connect() as conn:
            rows = [_alert_row(r) for r in conn.execute(stmt)]
        return [r for r in rows if since <= _window_end(r) < until]

    # -- reports ------------------------------------------------------------------------------

    def summary(
        self,
        brand: str,
        *,
        competitors: Sequence[str] = (),
        since: datetime,
        until: datetime,
        drivers: int = 5,
    ) -> BrandSummary:
        span = until - since
        totals = self._totals([brand], since, until, (), ())[brand]
        previous = self._totals([brand], since - span, since, (), ())[brand]
        spikes = self.spikes(brand, since=since, until=until)
        return BrandSummary(
            brand=brand,
            since=since,
            until=until,
            total=totals,
            previous=previous,
            share_of_voice=self.share_of_voice(
                [brand, *[c for c in competitors if c != brand]], since=since, until=until
            ),
            drivers=self.drivers(brand, since=since, until=until, limit=drivers, examples=2),
            alerts=totals.alerts,
            spikes=len(spikes),
            mean_response_seconds=totals.mean_response_seconds,
            top_sources=self.breakdown(brand, by="source", since=since, until=until, limit=5),
            top_languages=self.breakdown(brand, by="lang", since=since, until=until, limit=5),
        )

    def brands(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(trend_rollups.c.brand).distinct().order_by("brand"))
            return [r[0] for r in rows]


def _example(row: MentionRow) -> Example:
    return Example(
        mention_id=row.mention_id,
        source=row.source,
        author=row.author,
        text=row.text,
        url=row.url,
        lang=row.lang,
        created_at=row.created_at,
        reach=row.reach,
    )


def _window_end(row: AlertRow) -> datetime:
    value = row.details.get("window_end")
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return row.created_at


def _alert_row(row: Any) -> AlertRow:
    m = row._mapping
    response = None
    if m["acked_at"] is not None:
        started = m["posted_at"] if m["posted_at"] is not None else m["created_at"]
        response = max((as_utc(m["acked_at"]) - as_utc(started)).total_seconds(), 0.0)
    return AlertRow(
        id=int(m["id"]),
        kind=cast(AlertKind, m["kind"]),
        brand=m["brand"],
        status=m["status"],
        reason=m["reason"],
        created_at=m["created_at"],
        mention_id=m["mention_id"],
        acked_at=m["acked_at"],
        acked_by=m["acked_by"],
        response_seconds=response,
        details=dict(m["details"] or {}),
    )
