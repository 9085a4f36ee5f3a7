#!/usr/bin/env python3
"""Trends benchmark: 1,000,000 scored mentions, p50/p95 of the analysts' queries.

Bulk-loads synthetic mentions (5 brands over 60 days, 8 languages, X and Reddit, labels and
anger, 1 % of them about two brands, alerts with first responses) into SQLite and PostgreSQL,
builds the rollups with ``listener.store.rollups.rebuild`` (the code ``listener rollups
rebuild`` runs), then times 20 runs of each query through the same TrendsReader calls the CLI,
the spike job and the dashboard make:

* trend: a 30-day hourly trend of one brand with two competitors (``trends``);
* drivers: the 7-day complaint drivers of one brand (``drivers``, 8 terms, 2 examples each);
* spike job: ``App.detect_spikes`` over all brands, each catching up the last 24 hours;
* dashboard: the main page's reads (7-day daily trend of the brand and its competitors,
  drivers, latest negative mentions, alert log, spike markers, source and language facets).

Target: p95 < 100 ms for each, on both databases. Usage:
    scripts/bench_trends.py [--mentions 1000000] [--runs 20] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, insert, text
from tqdm import tqdm

from listener.app import App
from listener.config import parse_settings
from listener.store.db import connect, upgrade
from listener.store.rollups import rebuild
from listener.store.schema import alerts, mention_brands, mentions, scores
from listener.store.watermarks import SqlWatermarks

BRANDS = ["Aurora Air", "Nordlys Mobile", "Borealis Bank", "Fjord Foods", "Kestrel Cars"]
LANGS = {
    "en": 0.35,
    "pl": 0.15,
    "lv": 0.08,
    "lt": 0.08,
    "sl": 0.07,
    "he": 0.09,
    "de": 0.1,
    "es": 0.08,
}
TOPICS = {
    "en": [
        "lost my luggage",
        "flight delayed again",
        "app keeps crashing",
        "refund never came",
        "rude support agent",
        "hidden fees",
        "no signal at home",
        "card got blocked",
        "late delivery",
        "billing error",
    ],
    "pl": [
        "zgubiony bagaż",
        "opóźniony lot",
        "aplikacja się zawiesza",
        "brak zwrotu pieniędzy",
        "niemiła obsługa",
        "ukryte opłaty",
        "brak zasięgu",
        "zablokowana karta",
    ],
    "lv": ["pazaudēta bagāža", "reiss kavējās", "lietotne avarē", "nav atmaksas", "slikts serviss"],
    "lt": ["pamestas bagažas", "skrydis vėlavo", "programa stringa", "negrąžino pinigų"],
    "sl": ["izgubljena prtljaga", "let je zamujal", "aplikacija se sesuje", "ni vračila"],
    "he": ["מזוודה אבודה", "הטיסה התעכבה", "האפליקציה קורסת", "לא קיבלתי החזר"],
    "de": ["Gepäck verloren", "Flug verspätet", "App stürzt ab", "keine Erstattung"],
    "es": ["equipaje perdido", "vuelo retrasado", "la app se cae", "sin reembolso"],
}
PRAISE = {
    "en": ["great service", "friendly crew", "fast refund", "love the app"],
    "pl": ["świetna obsługa", "miła załoga", "super aplikacja"],
    "lv": ["lielisks serviss", "paldies komandai"],
    "lt": ["puikus aptarnavimas", "ačiū komandai"],
    "sl": ["odlična storitev", "hvala ekipi"],
    "he": ["שירות מעולה", "צוות נחמד"],
    "de": ["toller Service", "nette Crew"],
    "es": ["servicio excelente", "tripulación amable"],
}
FILLER = [
    "today",
    "yesterday",
    "again",
    "morning",
    "evening",
    "weekend",
    "airport",
    "station",
    "online",
    "store",
    "phone",
    "office",
    "city",
    "train",
    "bus",
    "ticket",
    "seat",
    "gate",
    "counter",
    "chat",
    "email",
    "account",
]


def _texts(rng: random.Random) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for lang in LANGS:
        for label, pool in (
            ("negative", TOPICS[lang]),
            ("positive", PRAISE[lang]),
            ("neutral", PRAISE[lang][:1] + TOPICS[lang][:1]),
        ):
            variants = []
            for _ in range(60):
                words = [rng.choice(pool), rng.choice(FILLER), rng.choice(FILLER)]
                if label == "neutral":
                    words = ["question about", *words[1:]]
                variants.append(" ".join(words))
            out[(lang, label)] = variants
    return out


def generate(
    n: int, *, now: datetime, days: int, seed: int = 12
) -> Iterator[tuple[dict[str, Any], dict[str, Any], list[str]]]:
    """(mention row, score row, brands) for ``n`` mentions spread over ``days`` with a daily
    rhythm; ids 1..n."""
    rng = random.Random(seed)
    texts = _texts(rng)
    langs, weights = list(LANGS), list(LANGS.values())
    start = now - timedelta(days=days)
    span = days * 86400
    for i in range(1, n + 1):
        brand = BRANDS[i % len(BRANDS)]
        at = start + timedelta(seconds=rng.random() * span)
        lang = rng.choices(langs, weights)[0]
        roll = rng.random()
        label = "negative" if roll < 0.3 else "neutral" if roll < 0.6 else "positive"
        anger = rng.random() * (0.9 if label == "negative" else 0.3)
        body = rng.choice(texts[(lang, label)])
        brands = [brand] + ([BRANDS[(i + 1) % len(BRANDS)]] if i % 100 == 0 else [])
        mention = {
            "id": i,
            "source": "twitter" if i % 10 < 7 else "reddit",
            "external_id": str(i),
            "brand": brand,
            "text": f"{brand} {body}",
            "author": f"user{i % 50_000}",
            "author_reach": int(rng.paretovariate(1.2) * 50),
            "engagement": 0,
            "url": f"https://example.test/{i}",
            "lang": lang,
            "in_reply_to": None,
            "created_at": at,
            "collected_at": at,
            "raw": {},
        }
        probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1, label: 0.8}
        score = {
            "mention_id": i,
            "model": "bench@1",
            "label": label,
            "anger": anger,
            "lang": lang,
            "scored_at": at,
            **probs,
        }
        yield mention, score, brands


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite (naive UTC text datetimes, JSON text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def bulk_insert(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    """Rows straight to the driver: executemany on SQLite, COPY on PostgreSQL."""
    if not rows:
        return
    names = list(rows[0])
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            from psycopg.types.json import Jsonb

            cols = ", ".join(names)
            with cursor.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row([Jsonb(v) if isinstance(v, dict) else v for v in row.values()])
        else:
            marks = ", ".join("?" for _ in names)
            cursor.executemany(
                f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
                [[_sqlite_value(v) for v in row.values()] for row in rows],
            )
        raw.commit()
    finally:
        raw.close()


def load(engine: Engine, n: int, *, now: datetime, days: int) -> None:
    chunk = 20_000
    batch_m: list[dict[str, Any]] = []
    batch_s: list[dict[str, Any]] = []
    batch_b: list[dict[str, Any]] = []
    alert_rows: list[dict[str, Any]] = []

    def flush() -> None:
        bulk_insert(engine, mentions, batch_m)
        bulk_insert(engine, scores, batch_s)
        bulk_insert(engine, mention_brands, batch_b)
        batch_m.clear()
        batch_s.clear()
        batch_b.clear()

    with tqdm(
        total=n, unit="mention", desc=f"loading {engine.dialect.name}", file=sys.stderr
    ) as bar:
        for mention, score, brands in generate(n, now=now, days=days):
            batch_m.append(mention)
            batch_s.append(score)
            batch_b += [
                {
                    "mention_id": mention["id"],
                    "brand": b,
                    "created_at": mention["created_at"],
                    "source": mention["source"],
                    "lang": mention["lang"],
                }
                for b in brands
            ]
            if score["label"] == "negative" and score["anger"] > 0.85 and len(alert_rows) < 20_000:
                created = mention["created_at"] + timedelta(seconds=30)
                alert_rows.append(
                    {
                        "kind": "mention",
                        "brand": mention["brand"],
                        "dedupe_key": f"m{mention['id']}",
                        "status": "sent",
                        "reason": "bench",
                        "mention_id": mention["id"],
                        "details": {},
                        "attempts": 1,
                        "created_at": created,
                        "sent_at": created,
                        "acked_at": created + timedelta(minutes=mention["id"] % 90),
                        "acked_by": "bench",
                    }
                )
            if len(batch_m) >= chunk:
                flush()
                bar.update(chunk)
        if batch_m:
            bar.update(len(batch_m))
            flush()
    with engine.begin() as conn:
        for start in range(0, len(alert_rows), chunk):
            conn.execute(insert(alerts), alert_rows[start : start + chunk])
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('mentions', 'id'), "
                    "(SELECT max(id) FROM mentions))"
                )
            )
    with engine.begin() as conn:  # planner statistics after the bulk load, before reading it
        conn.execute(text("ANALYZE"))
    with tqdm(total=n, unit="mention", desc="rebuilding rollups", file=sys.stderr) as bar:
        counts = rebuild(engine, progress=bar.update)
    print(
        f"  rollups: {counts['trend_rows']:,} trend rows, {counts['term_rows']:,} term rows",
        flush=True,
    )
    with engine.begin() as conn:  # planner statistics, as after any bulk load
        conn.execute(text("ANALYZE"))


def timed(
    fn: Callable[[], Any], runs: int, setup: Callable[[], Any] | None = None
) -> tuple[float, float]:
    if setup is not None:
        setup()
    fn()  # warm the caches (a dashboard or a daemon is a long-lived process)
    samples = []
    for _ in range(runs):
        if setup is not None:
            setup()
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    return statistics.median(samples), p95


def config_text(url: str) -> str:
    brands = "".join(
        f'\n[[brands]]\nname = "{b}"\nquery = \'"{b}"\'\n'
        + (f'competitors = ["{BRANDS[1]}", "{BRANDS[2]}"]\n' if i == 0 else "")
        for i, b in enumerate(BRANDS)
    )
    return f'[storage]\nurl = "{url}"\n{brands}'


def bench(name: str, url: str, args: argparse.Namespace) -> list[tuple[str, str, float, float]]:
    now = datetime.now(UTC).replace(microsecond=0)
    engine = connect(url)
    upgrade(engine)
    started = time.perf_counter()
    load(engine, args.mentions, now=now, days=args.days)
    print(
        f"  {name}: loaded {args.mentions:,} mentions in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    engine.dispose()
    app = App(parse_settings(config_text(url)))
    reader = app.trends
    brand, rivals = BRANDS[0], BRANDS[1:3]
    week = now - timedelta(days=7)
    marks = SqlWatermarks(app.engine)

    def trend() -> Any:
        return reader.trends(
            [brand, *rivals], since=now - timedelta(days=30), until=now, bucket="hour"
        )

    def drivers() -> Any:
        return reader.drivers(brand, since=week, until=now, limit=8, examples=2)

    def rewind() -> None:  # the spike job last ran a day ago: 24 windows per brand to examine
        marks.set_many({f"spikes:{b}": now - timedelta(hours=24) for b in BRANDS})

    def spikes() -> Any:
        return app.detect_spikes()

    def dashboard() -> Any:
        return (
            reader.trends([brand, *rivals], since=week, until=now, bucket="day"),
            reader.drivers(brand, since=week, until=now, limit=8, examples=2),
            reader.mentions(brand, since=week, until=now, label="negative", limit=25),
            reader.alert_log(brand, since=week, until=now, limit=25),
            reader.spikes(brand, since=week, until=now),
            reader.breakdown(brand, by="source", since=week, until=now, limit=50),
            reader.breakdown(brand, by="lang", since=week, until=now, limit=50),
        )

    found = drivers()
    print(f"  {name}: top drivers {[d.term for d in found[:4]]}", flush=True)
    results = []
    for label, fn in (
        ("30-day hourly trend, 1 brand + 2 competitors", trend),
        ("7-day complaint drivers", drivers),
        ("spike job, all 5 brands (24 h catch-up)", spikes),
        ("dashboard main page (7 reads)", dashboard),
    ):
        p50, p95 = timed(fn, args.runs, rewind if fn is spikes else None)
        results.append((name, label, p50, p95))
        print(f"  {name:<10} {label:<48} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms", flush=True)
    app.close()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get(
            "LISTENER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = ap.parse_args()
    if args.mentions < 1 or args.runs < 1 or args.days < 1:
        ap.error("--mentions, --runs and --days must be at least 1")
    results = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results += bench("SQLite", f"sqlite:///{tmp}/bench.db", args)
    if args.db in ("postgresql", "both"):
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        db = f"listener_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db}"'))
        try:
            url = admin.url.set(database=db).render_as_string(hide_password=False)
            results += bench("PostgreSQL", url, args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            admin.dispose()
    print(
        f"\ntrends benchmark: {args.mentions:,} mentions, {len(BRANDS)} brands, "
        f"{args.days} days, {args.runs} runs each (target p95 < 100 ms)"
    )
    for name, label, p50, p95 in results:
        verdict = "ok" if p95 < 100 else "OVER TARGET"
        print(f"{name:<10} {label:<48} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
