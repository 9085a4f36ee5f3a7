"""``TrendsReader`` over the rollup tables (SQLite and PostgreSQL).

Measures come from ``brand_hours`` (one row per brand and hour; ``trend_rollups``, per source
and language too, when filtered) and driver counts from ``term_rollups`` (per brand, day,
term): a 30-day hourly trend of three brands reads 2,160 pre-summed rows, never the mentions.
Mention lists and examples are one scan of ``mention_brands (brand, created_at)``, whose rows
carry the effective label, anger and language.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, func, or_, select

from listener.domain import AlertKind, Label, TrendPoint, as_utc
from listener.store.rollups import MEASURES, _latest_scores, day_of
from listener.store.schema import (
    alerts,
    brand_hours,
    label_overrides,
    mention_brands,
    mentions,
    term_rollups,
    trend_rollups,
)
from listener.trends.drivers import MIN_COUNT, rising
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
SAMPLE = 1500
"""Negative mentions tokenised, at most, for drivers under filters or in a short period."""
BASELINE = timedelta(days=28)
CANDIDATES = 400
"""Terms of the period compared with the baseline, at most (the most frequent ones)."""
EXAMPLE_SAMPLE = 120
"""Newest negative mentions of the period searched for examples."""


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


def _values_point(brand: str, start: datetime, v: Sequence[float]) -> TrendPoint:
    """A TrendPoint from values in ``MEASURES`` order."""
    return TrendPoint(
        brand=brand,
        bucket_start=start,
        volume=int(v[0]),
        negative=int(v[1]),
        neutral=int(v[2]),
        positive=int(v[3]),
        angry=int(v[4]),
        anger_sum=float(v[5]),
        reach=int(v[6]),
        alerts=int(v[7]),
        responded=int(v[8]),
        response_seconds=float(v[9]),
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
    out: dict[int, tuple[Any, Any, Any]] = {}
    for i in ids:
        label, by = overrides.get(i, (None, None))
        out[i] = (latest.get(i), label, by)
    return out


def mention_rows(conn: Connection, ids: Sequence[int]) -> list[MentionRow]:
    """MentionRows of ``ids`` (missing ids skipped), in the order of ``ids``."""
    if not ids:
        return []
    c = mentions.c
    wanted = (
        c.id,
        c.brand,
        c.source,
        c.author,
        c.text,
        c.url,
        c.lang,
        c.created_at,
        c.author_reach,
    )
    rows = {r.id: r for r in conn.execute(select(*wanted).where(c.id.in_(list(ids))))}
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
        if sources or languages:
            table = trend_rollups
            columns: list[Any] = [func.sum(trend_rollups.c[m]) for m in MEASURES]
        else:
            table = brand_hours  # summed over sources and languages already
            columns = [brand_hours.c[m] for m in MEASURES]
        stmt = select(table.c.brand, table.c.hour, *columns).where(
            table.c.brand.in_(list(brands)),
            table.c.hour >= first * per_hour,
            table.c.hour < end * per_hour,
        )
        if table is trend_rollups:
            stmt = _filtered(stmt, sources, languages).group_by(table.c.brand, table.c.hour)
        width_of = len(MEASURES)
        buckets: dict[str, dict[int, list[float]]] = {b: {} for b in brands}
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                slots = buckets[row[0]]
                key = int(row[1]) // per_hour
                values = slots.get(key)
                if values is None:
                    slots[key] = [v or 0 for v in row[2:]]
                else:
                    for i in range(width_of):
                        values[i] += row[2 + i] or 0
        out = []
        zero = [0] * width_of
        for brand in brands:
            slots = buckets[brand]
            points = [
                _values_point(brand, datetime.fromtimestamp(k * width, UTC), slots.get(k, zero))
                for k in range(first, end)
            ]
            total = [sum(v[i] for v in slots.values()) for i in range(width_of)]
            start = datetime.fromtimestamp(first * width, UTC)
            out.append(
                BrandTrend(
                    brand=brand,
                    bucket=bucket,
                    since=start,
                    until=datetime.fromtimestamp(end * width, UTC),
                    points=points,
                    total=_values_point(brand, start, total),
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
        table = trend_rollups if sources or languages else brand_hours
        sums = [func.sum(table.c[m]) for m in MEASURES]
        stmt = (
            select(table.c.brand, *sums)
            .where(
                table.c.brand.in_(list(brands)),
                table.c.hour >= _floor(since, 3600),
                table.c.hour < _ceil(until, 3600),
            )
            .group_by(table.c.brand)
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

    def _latest(
        self,
        brand: str,
        *,
        since: datetime,
        until: datetime,
        label: Label | None,
        min_anger: float | None,
        sources: Sequence[str],
        languages: Sequence[str],
        limit: int,
        columns: Sequence[Any] = (),
    ) -> Any:
        """The brand's newest mention links matching, as one index scan of mention_brands."""
        mb = mention_brands.c
        stmt = select(mb.mention_id, *columns).where(
            mb.brand == brand, mb.created_at >= since, mb.created_at < until
        )
        if columns:
            stmt = stmt.join(mentions, mentions.c.id == mb.mention_id)
        if label is not None:
            stmt = stmt.where(mb.label == label)
        if min_anger is not None:
            stmt = stmt.where(mb.anger >= min_anger)
        if sources:
            stmt = stmt.where(mb.source.in_(list(sources)))
        if languages:
            known = [code for code in languages if code]
            clause = mb.lang.in_(known)
            stmt = stmt.where(or_(clause, mb.lang.is_(None)) if "" in languages else clause)
        return stmt.order_by(mb.created_at.desc(), mb.mention_id.desc()).limit(limit)

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
        stmt = self._latest(
            brand,
            since=since,
            until=until,
            label=label,
            min_anger=min_anger,
            sources=sources,
            languages=languages,
            limit=limit,
        )
        with self.engine.connect() as conn:
            ids = [row.mention_id for row in conn.execute(stmt)]
            return mention_rows(conn, ids)

    def _negative_examples(
        self,
        brand: str,
        since: datetime,
        until: datetime,
        sources: Sequence[str],
        languages: Sequence[str],
        limit: int,
    ) -> list[Example]:
        """The newest negative mentions of the brand, light (text and where it came from)."""
        m, mb = mentions.c, mention_brands.c
        stmt = self._latest(
            brand,
            since=since,
            until=until,
            label="negative",
            min_anger=None,
            sources=sources,
            languages=languages,
            limit=limit,
            columns=(mb.source, m.author, m.text, m.url, mb.lang, mb.created_at, m.author_reach),
        )
        with self.engine.connect() as conn:
            return [
                Example(
                    mention_id=r.mention_id,
                    source=r.source,
                    author=r.author,
                    text=r.text,
                    url=r.url,
                    lang=r.lang,
                    created_at=as_utc(r.created_at),
                    reach=int(r.author_reach or 0),
                )
                for r in conn.execute(stmt)
            ]

    # -- drivers ------------------------------------------------------------------------------

    def _term_counts(
        self,
        conn: Connection,
        brand: str,
        first_day: int,
        end_day: int,
        *,
        terms: Sequence[str] | None = None,
    ) -> Counter[str]:
        """Negative mentions per term over days [first_day, end_day): the ``CANDIDATES``
        most frequent terms, or the given ``terms``."""
        total = func.sum(term_rollups.c.mentions)
        stmt = (
            select(term_rollups.c.term, total)
            .where(
                term_rollups.c.brand == brand,
                term_rollups.c.day >= first_day,
                term_rollups.c.day < end_day,
            )
            .group_by(term_rollups.c.term)
        )
        if terms is None:
            stmt = stmt.having(total >= MIN_COUNT).order_by(total.desc()).limit(CANDIDATES)
        else:
            if not terms:
                return Counter()
            stmt = stmt.where(term_rollups.c.term.in_(list(terms)))
        return Counter({t: int(n) for t, n in conn.execute(stmt) if n})

    def _negatives(self, conn: Connection, brand: str, first_hour: int, end_hour: int) -> int:
        stmt = select(func.sum(brand_hours.c.negative)).where(
            brand_hours.c.brand == brand,
            brand_hours.c.hour >= first_hour,
            brand_hours.c.hour < end_hour,
        )
        return int(conn.execute(stmt).scalar() or 0)

    def _sampled_terms(
        self,
        brand: str,
        since: datetime,
        until: datetime,
        sources: Sequence[str],
        languages: Sequence[str],
        skip: frozenset[str],
    ) -> tuple[Counter[str], int, list[Example]]:
        sample = self._negative_examples(brand, since, until, sources, languages, SAMPLE)
        counts: Counter[str] = Counter()
        for row in sample:
            counts.update(terms(row.text, row.lang, skip=skip))
        return counts, len(sample), sample

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
        """From ``term_rollups`` (whole UTC days) when unfiltered over two days or more; else
        from the newest ``SAMPLE`` negative mentions of the period (and of the baseline when
        filtered): a bounded cost either way."""
        base_from = baseline_since if baseline_since is not None else since - BASELINE
        skip = brand_words(brand)
        filtered = bool(sources or languages)
        sample: list[Example] | None = None
        with self.engine.connect() as conn:
            if filtered or until - since < timedelta(days=2):
                period, docs, sample = self._sampled_terms(
                    brand, since, until, sources, languages, skip
                )
            else:
                first, end = day_of(since), _ceil(until, 86400)
                period = self._term_counts(conn, brand, first, end)
                docs = self._negatives(conn, brand, first * 24, end * 24)
            if filtered:
                baseline, base_docs, _ = self._sampled_terms(
                    brand, base_from, since, sources, languages, skip
                )
            else:
                first, end = day_of(base_from), day_of(since)
                baseline = self._term_counts(conn, brand, first, end, terms=list(period))
                base_docs = self._negatives(conn, brand, first * 24, end * 24)
        ranked = rising(period, baseline, documents=docs, baseline_documents=base_docs, limit=limit)
        if not ranked:
            return []
        if sample is None:
            sample = self._negative_examples(brand, since, until, (), (), EXAMPLE_SAMPLE)
        wanted = {r.term for r in ranked}
        found: dict[str, list[Example]] = {t: [] for t in wanted}
        missing = set(wanted)
        for row in sample:
            if not missing:
                break
            for term in terms(row.text, row.lang, skip=skip) & missing:
                found[term].append(row)
                if len(found[term]) >= examples:
                    missing.discard(term)
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
