"""Trend and term rollups, kept current inside the writers' transactions, and rebuilt.

A mention contributes to ``trend_rollups`` once per brand it belongs to, in the (brand, UTC
hour of its creation, source, language) row: volume and reach always; once it has an effective
label (an analyst's override, else a label rule's, else the latest model score) its label
count, anger and whether it is angry. A negative one also counts its terms in
``term_rollups`` per (brand, UTC day). A mention or spike alert counts in its brand's row of
the hour it was raised (source and language of its mention; '' for a spike) and, once
handled, its first-response time; unless it was withdrawn before it went out.

``brand_hours`` sums trend_rollups over sources and languages (the unfiltered trends), and
each ``mention_brands`` row repeats the mention's effective label, anger and language.

Every write that changes any of that (new mentions or brand links, scores, overrides, rules,
alerts, acks, withdrawals) runs ``Tracker``: it reads the contributions of the touched rows
before and after the change, in the same transaction, and adds the difference. So the rollups
always equal a recomputation from scratch (``rebuild``; a property test checks it). ``lock``
is taken first by those writers: they are serialised, so two of them never compute a
difference from the same stale "before" (PostgreSQL row lock; SQLite's write lock taken at
once).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Float,
    String,
    bindparam,
    cast,
    column,
    delete,
    func,
    select,
    update,
    values,
)

from listener.domain import as_utc, utcnow
from listener.store.dialect import insert_for
from listener.store.schema import (
    alerts,
    brand_hours,
    label_overrides,
    mention_brands,
    mentions,
    scores,
    term_rollups,
    trend_rollups,
    watermarks,
)
from listener.trends.terms import brand_words, terms

log = logging.getLogger(__name__)

ANGRY_AT = 0.5
"""A negative mention with at least this anger counts as angry."""
COUNTED_ALERTS = ("mention", "spike")
"""Alert kinds counted as raised (a digest folds mention alerts counted already)."""
UNCOUNTED_STATUS = "withdrawn"
"""An alert withdrawn before it went out (its mention relabelled) does not count as raised."""
MEASURES = (
    "volume",
    "negative",
    "neutral",
    "positive",
    "angry",
    "anger_sum",
    "reach",
    "alerts",
    "responded",
    "response_seconds",
)
CHUNK = 500
_FLOATS = ("anger_sum", "response_seconds")
VOLUME, ANGRY, ANGER_SUM, REACH, ALERTS, RESPONDED, RESPONSE_SECONDS = (
    MEASURES.index(name)
    for name in ("volume", "angry", "anger_sum", "reach", "alerts", "responded", "response_seconds")
)
LABEL_INDEX = {label: MEASURES.index(label) for label in ("negative", "neutral", "positive")}

Key = tuple[str, int, str, str]
"""(brand, hour since the epoch, source, lang)."""
TermKey = tuple[str, int, str]
"""(brand, day since the epoch, term)."""


def hour_of(at: datetime) -> int:
    return int(as_utc(at).timestamp() // 3600)


def day_of(at: datetime) -> int:
    return int(as_utc(at).timestamp() // 86400)


@dataclass(kw_only=True, slots=True)
class Contributions:
    """What some rows add to the rollups."""

    rows: dict[Key, list[float]] = field(default_factory=dict)
    """key -> its measures, in ``MEASURES`` order."""
    terms: Counter[TermKey] = field(default_factory=Counter)
    labels: dict[int, tuple[str | None, float | None, str | None]] = field(default_factory=dict)
    """mention id -> its effective (label, anger, lang), written to mention_brands."""

    def add(self, key: Key, values: dict[int, float]) -> None:
        """Add ``values`` (measure index -> amount) to the row of ``key``."""
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = [0.0] * len(MEASURES)
        for index, amount in values.items():
            row[index] += amount

    def minus(self, other: Contributions) -> Contributions:
        out = Contributions(terms=Counter(self.terms), labels=dict(self.labels))
        out.terms.subtract(other.terms)
        zero = [0.0] * len(MEASURES)
        for key in set(self.rows) | set(other.rows):
            mine, theirs = self.rows.get(key, zero), other.rows.get(key, zero)
            out.rows[key] = [a - b for a, b in zip(mine, theirs, strict=True)]
        return out

    def merge(self, other: Contributions) -> None:
        self.terms.update(other.terms)
        self.labels.update(other.labels)
        for key, row in other.rows.items():
            mine = self.rows.get(key)
            if mine is None:
                self.rows[key] = list(row)
            else:
                for i, amount in enumerate(row):
                    mine[i] += amount


def lock(conn: Connection) -> None:
    """Serialise rollup writers (see the module docstring); first statement of their txn."""
    stmt = insert_for(conn, watermarks).values(name="rollups", value="ok")
    # an upsert: takes the row's lock, and makes the row if a reset emptied the table
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["name"], set_={"name": stmt.excluded.name})
    )


def _latest_scores(
    conn: Connection, ids: Sequence[int], *, among: Callable[[Any], Any] | None = None
) -> dict[int, Any]:
    found: dict[int, Any] = {}
    where = among(scores.c.mention_id) if among is not None else scores.c.mention_id.in_(ids)
    rows = conn.execute(
        select(scores.c.mention_id, scores.c.label, scores.c.anger, scores.c.lang)
        .where(where)
        .order_by(scores.c.mention_id, scores.c.id.desc())
    )
    for row in rows:
        found.setdefault(row.mention_id, row)
    return found


def mention_contributions(
    conn: Connection,
    ids: Iterable[int],
    *,
    brand: str | None = None,
    id_range: tuple[int, int] | None = None,
) -> Contributions:
    """The contributions of the mentions ``ids`` (only to ``brand`` when given), or of every
    mention whose id is in ``id_range`` (first, last), which rebuilds read in order."""
    out = Contributions()
    skip_words: dict[str, frozenset[str]] = {}
    chunks: Iterable[Sequence[int]] = (
        [list(id_range)] if id_range is not None else _chunks(sorted(set(ids)))
    )
    for chunk in chunks:

        def among(column: Any, chunk: Sequence[int] = chunk) -> Any:
            if id_range is not None:
                return column.between(chunk[0], chunk[-1])
            return column.in_(chunk)

        stmt = (
            select(
                mention_brands.c.brand,
                mentions.c.id,
                mentions.c.source,
                mentions.c.lang,
                mentions.c.created_at,
                mentions.c.author_reach,
                mentions.c.text,
            )
            .join(mentions, mentions.c.id == mention_brands.c.mention_id)
            .where(among(mention_brands.c.mention_id))
        )
        if brand is not None:
            stmt = stmt.where(mention_brands.c.brand == brand)
        rows = conn.execute(stmt).all()
        if not rows:
            continue
        latest = _latest_scores(conn, chunk, among=among)
        overrides = dict(
            conn.execute(
                select(label_overrides.c.mention_id, label_overrides.c.label).where(
                    among(label_overrides.c.mention_id)
                )
            ).all()
        )
        for row in rows:
            score = latest.get(row.id)
            label = overrides.get(row.id) or (score.label if score is not None else None)
            lang = (score.lang if score is not None else None) or row.lang or ""
            key = (row.brand, hour_of(row.created_at), row.source, lang)
            measures = {VOLUME: 1.0, REACH: float(row.author_reach or 0)}
            out.labels[row.id] = (
                label,
                float(score.anger) if score is not None else None,
                lang or None,
            )
            if label is not None:
                anger = float(score.anger) if score is not None else 0.0
                measures[LABEL_INDEX[label]] = 1.0
                measures[ANGER_SUM] = anger
                if label == "negative" and anger >= ANGRY_AT:
                    measures[ANGRY] = 1.0
            out.add(key, measures)
            if label == "negative":
                skip = skip_words.get(row.brand)
                if skip is None:
                    skip = skip_words[row.brand] = brand_words(row.brand)
                day = day_of(row.created_at)
                for term in terms(row.text, lang or None, skip=skip):
                    out.terms[(row.brand, day, term)] += 1
    return out


def alert_contributions(conn: Connection, ids: Iterable[int]) -> Contributions:
    """The contributions of the alerts ``ids`` (mention and spike alerts only)."""
    out = Contributions()
    for chunk in _chunks(sorted(set(ids))):
        rows = conn.execute(
            select(
                alerts.c.brand,
                alerts.c.created_at,
                alerts.c.acked_at,
                mentions.c.source,
                mentions.c.lang,
                mentions.c.created_at.label("posted_at"),
            )
            .select_from(alerts.outerjoin(mentions, mentions.c.id == alerts.c.mention_id))
            .where(
                alerts.c.id.in_(chunk),
                alerts.c.kind.in_(COUNTED_ALERTS),
                alerts.c.status != UNCOUNTED_STATUS,
            )
        )
        for row in rows:
            key = (row.brand, hour_of(row.created_at), row.source or "", row.lang or "")
            measures = {ALERTS: 1.0}
            if row.acked_at is not None:
                started = row.posted_at if row.posted_at is not None else row.created_at
                seconds = (as_utc(row.acked_at) - as_utc(started)).total_seconds()
                measures[RESPONDED] = 1.0
                measures[RESPONSE_SECONDS] = max(seconds, 0.0)
            out.add(key, measures)
    return out


def apply(conn: Connection, delta: Contributions) -> None:
    """Add ``delta`` to the rollup tables (upserts in key order: no deadlocks)."""
    rows = []
    for key in sorted(delta.rows):
        values = delta.rows[key]
        if not any(values):
            continue
        brand, hour, source, lang = key
        row: dict[str, Any] = {"brand": brand, "hour": hour, "source": source, "lang": lang}
        for name, value in zip(MEASURES, values, strict=True):
            row[name] = float(value) if name in _FLOATS else round(value)
        rows.append(row)
    _upsert(conn, trend_rollups, ["brand", "hour", "source", "lang"], rows)
    hours: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        total = hours.setdefault(
            (row["brand"], row["hour"]),
            {"brand": row["brand"], "hour": row["hour"], **dict.fromkeys(MEASURES, 0)},
        )
        for name in MEASURES:
            total[name] += row[name]
    _upsert(conn, brand_hours, ["brand", "hour"], [hours[k] for k in sorted(hours)])
    if delta.labels:
        _write_labels(conn, delta.labels)
    term_rows = [
        {"brand": b, "day": d, "term": t, "mentions": n}
        for (b, d, t), n in sorted(delta.terms.items())
        if n
    ]
    for chunk in _chunks(term_rows, 5000):
        stmt = insert_for(conn, term_rollups)
        stmt = stmt.on_conflict_do_update(
            index_elements=["brand", "day", "term"],
            set_={"mentions": term_rollups.c.mentions + stmt.excluded.mentions},
        )
        conn.execute(stmt.returning(term_rollups.c.brand), list(chunk)).close()


def _upsert(conn: Connection, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows, 5000):
        stmt = insert_for(conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys,
            set_={name: table.c[name] + stmt.excluded[name] for name in MEASURES},
        )
        # RETURNING makes SQLAlchemy send many rows per statement ("insertmanyvalues") on
        # both databases instead of one statement per row
        conn.execute(stmt.returning(table.c[keys[0]]), list(chunk)).close()


def _write_labels(
    conn: Connection, labels: dict[int, tuple[str | None, float | None, str | None]]
) -> None:
    rows = [(m, lab, anger, lang) for m, (lab, anger, lang) in sorted(labels.items())]
    if conn.dialect.name == "postgresql":  # one UPDATE ... FROM (VALUES ...) per chunk
        for chunk in _chunks(rows, 2000):
            data = values(
                column("mid", BigInteger),
                column("l", String),
                column("a", Float),
                column("g", String),
                name="v",
            ).data(list(chunk))
            conn.execute(
                update(mention_brands)
                .where(mention_brands.c.mention_id == data.c.mid)
                .values(label=data.c.l, anger=cast(data.c.a, Float), lang=data.c.g)
            )
        return
    stmt = (
        update(mention_brands)
        .where(mention_brands.c.mention_id == bindparam("mid"))
        .values(label=bindparam("l"), anger=bindparam("a"), lang=bindparam("g"))
    )
    for chunk in _chunks(rows, 2000):
        conn.execute(stmt, [{"mid": m, "l": lab, "a": a, "g": g} for m, lab, a, g in chunk])


class Tracker:
    """``before = Tracker(conn, mention_ids=..., alert_ids=...)``; change the rows; then
    ``before.finish(mention_ids=..., alert_ids=...)`` adds the difference to the rollups."""

    def __init__(
        self, conn: Connection, *, mention_ids: Iterable[int] = (), alert_ids: Iterable[int] = ()
    ) -> None:
        self.conn = conn
        self.mention_ids = set(mention_ids)
        self.alert_ids = set(alert_ids)
        self.before = mention_contributions(conn, self.mention_ids)
        self.before.merge(alert_contributions(conn, self.alert_ids))

    def finish(self, *, mention_ids: Iterable[int] = (), alert_ids: Iterable[int] = ()) -> None:
        after = mention_contributions(self.conn, self.mention_ids | set(mention_ids))
        after.merge(alert_contributions(self.conn, self.alert_ids | set(alert_ids)))
        apply(self.conn, after.minus(self.before))


def tracked(conn: Connection, change: Callable[[], Any], *, mention_ids: Iterable[int]) -> Any:
    """Run ``change`` with the rollups of ``mention_ids`` kept current; returns its result."""
    lock(conn)
    tracker = Tracker(conn, mention_ids=mention_ids)
    result = change()
    tracker.finish()
    return result


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rebuild(
    engine: Engine, *, progress: Callable[[int], None] | None = None, chunk: int = 2000
) -> dict[str, int]:
    """Recompute both rollup tables from scratch in one transaction; returns row counts."""
    with engine.begin() as conn:
        lock(conn)
        conn.execute(delete(trend_rollups))
        conn.execute(delete(brand_hours))
        conn.execute(delete(term_rollups))
        total = Contributions()
        last = 0
        while True:
            ids = list(
                conn.execute(
                    select(mentions.c.id)
                    .where(mentions.c.id > last)
                    .order_by(mentions.c.id)
                    .limit(chunk)
                ).scalars()
            )
            if not ids:
                break
            found = mention_contributions(conn, (), id_range=(ids[0], ids[-1]))
            _write_labels(conn, found.labels)
            found.labels = {}
            total.merge(found)
            last = ids[-1]
            if progress is not None:
                progress(len(ids))
        alert_ids = conn.execute(select(alerts.c.id)).scalars().all()
        total.merge(alert_contributions(conn, alert_ids))
        apply(conn, total)
        mark_built(conn)
        return {
            "trend_rows": int(
                conn.execute(select(func.count()).select_from(trend_rollups)).scalar_one()
            ),
            "term_rows": int(
                conn.execute(select(func.count()).select_from(term_rollups)).scalar_one()
            ),
        }


def mark_built(conn: Connection) -> None:
    conn.execute(
        update(watermarks).where(watermarks.c.name == "rollups").values(value="ok", at=utcnow())
    )


def stale(engine: Engine) -> bool:
    """True when the rollups must be rebuilt (right after the migration that added them)."""
    with engine.connect() as conn:
        value = conn.execute(
            select(watermarks.c.value).where(watermarks.c.name == "rollups")
        ).scalar_one_or_none()
    return value == "stale"


def ensure_built(engine: Engine) -> None:
    """Rebuild the rollups once after the migration that introduced them."""
    if stale(engine):
        log.info("building trend rollups from the stored mentions (once, after an upgrade)")
        counts = rebuild(engine)
        log.info("rollups built: %s", counts)
