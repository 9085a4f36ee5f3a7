"""A seeded multilingual world for the trends tests: two brands over five weeks of mentions,
scored, in which one complaint (lost luggage, in Polish, English and Hebrew) rises in the last
days."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from listener.domain import Batch, BrandQuery, Mention, Score, Sentiment
from listener.store.sql import SqlStore

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
AURORA, NORDLYS = "Aurora Air", "Nordlys Mobile"

USUAL_COMPLAINTS = [
    ("en", "Aurora Air flight delayed again, the crew was rude"),
    ("en", "the Aurora Air app keeps crashing when I check in"),
    ("pl", "Aurora Air znowu opóźniony lot, obsługa niemiła"),
    ("lv", "Aurora Air lidojums kavējās, apkalpe nebija laipna"),
    ("lt", "Aurora Air skrydis vėlavo dvi valandas"),
    ("sl", "Aurora Air let je zamujal, osebje neprijazno"),
    ("he", "הטיסה של Aurora Air התעכבה שוב, הצוות היה גס"),
]
RISING = [
    ("pl", "Aurora Air zgubiła mój bagaż, zgubiony bagaż trzeci raz!"),
    ("en", "Aurora Air lost my luggage, lost luggage again and nobody answers"),
    ("he", "Aurora Air איבדו את המזוודה שלי, מזוודה אבודה שוב"),
    ("pl", "gdzie jest mój bagaż? zgubiony bagaż na lotnisku, Aurora Air"),
]
PRAISE = [
    ("en", "great flight with Aurora Air, thanks crew"),
    ("pl", "Aurora Air super lot, dziękuję"),
    ("lv", "Aurora Air paldies, lielisks lidojums"),
]
NORDLYS_TEXTS = [
    ("en", "Nordlys Mobile coverage is fine"),
    ("pl", "Nordlys Mobile brak zasięgu znowu"),
]


def _sentiment(label: str, anger: float, lang: str) -> Sentiment:
    probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
    probs[label] = 0.8
    return Sentiment(label=label, probabilities=probs, anger=anger, lang=lang)  # type: ignore[arg-type]


def seed(engine: Engine, *, days: int = 35, rising_days: int = 3, seed_: int = 7) -> SqlStore:
    """Store and score the world; returns the store."""
    rng = random.Random(seed_)
    store = SqlStore(engine)
    rows: dict[str, list[tuple[Mention, Sentiment]]] = {AURORA: [], NORDLYS: []}
    n = 0
    for day in range(days, 0, -1):
        for hour in range(0, 24, 2):
            at = NOW - timedelta(days=day) + timedelta(hours=hour, minutes=rng.randrange(60))
            if at >= NOW:
                continue
            n += 1
            if day <= rising_days and rng.random() < 0.6:
                lang, text, label = (*rng.choice(RISING), "negative")
            elif rng.random() < 0.5:
                lang, text, label = (*rng.choice(USUAL_COMPLAINTS), "negative")
            else:
                lang, text, label = (*rng.choice(PRAISE), "positive")
            source = "twitter" if n % 3 else "reddit"
            mention = Mention(
                source=source,
                external_id=f"a{n}",
                brand=AURORA,
                text=f"{text} #{n}",
                author=f"user{n % 50}",
                created_at=at,
                lang=lang,
                author_reach=100 * (n % 7),
                url=f"https://example.test/{n}",
            )
            anger = 0.8 if label == "negative" and n % 2 else 0.2
            rows[AURORA].append((mention, _sentiment(label, anger, lang)))
            if n % 2 == 0:
                lang, text = rng.choice(NORDLYS_TEXTS)
                other = Mention(
                    source="twitter",
                    external_id=f"n{n}",
                    brand=NORDLYS,
                    text=text,
                    author=f"user{n % 40}",
                    created_at=at,
                    lang=lang,
                )
                label = "negative" if "brak" in text else "neutral"
                rows[NORDLYS].append((other, _sentiment(label, 0.3, lang)))
    for brand, items in rows.items():
        by_source: dict[str, list[Mention]] = {}
        for m, _ in items:
            by_source.setdefault(m.source, []).append(m)
        for source, mentions in by_source.items():
            store.add_batch(source, BrandQuery(brand=brand, query="x"), Batch(mentions=mentions))
    verdicts = {(m.source, m.external_id): s for items in rows.values() for m, s in items}
    pending = store.unscored("seed@1", 100_000)
    store.add_scores(
        [
            Score(
                mention_id=p.id,
                model="seed@1",
                sentiment=verdicts[(p.mention.source, p.mention.external_id)],
                scored_at=NOW,
            )
            for p in pending
        ]
    )
    return store
