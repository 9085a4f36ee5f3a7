"""Take the README's dashboard screenshot from demo-like data.

Seeds a SQLite database through the real store (mentions, scores, alerts, first responses; the
rollups are kept by the store's own writes) with 30 days of three airlines in five languages,
where a lost-luggage complaint rises over the last three days, serves ``listener dashboard``'s
app on a free port and photographs it in headless Chromium (Debian's /usr/bin/chromium).

Usage: .venv/bin/python scripts/screenshot_dashboard.py [--output docs/dashboard.png]
       [--workdir DIR] [--keep] (keep the database and print how to open it)
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.dashboard.build import TrendsData
from listener.dashboard.data import BrandInfo
from listener.dashboard.serve import in_thread
from listener.dashboard.web import create_app
from listener.domain import Batch, BrandQuery, Mention, NewAlert, Score, Sentiment
from listener.store.db import connect, upgrade
from listener.store.labels import SqlLabels
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore
from listener.store.trends import SqlTrendsReader

BRANDS = {"Aurora Air": 120, "Boreal Airways": 85, "Polar Jet": 45}
"""Brand -> mentions per day."""
LANGS = ["en", "en", "en", "de", "pl", "es", "fr"]
BASE = {  # label -> language -> texts ({b}: the brand)
    "negative": {
        "en": [
            "{b} delayed us 4 hours and nobody at the gate said a word",
            "Refund from {b} still not here after 6 weeks. Ridiculous.",
            "{b} customer service hung up on me twice today",
            "Paid for extra legroom on {b}, got a broken seat",
        ],
        "de": [
            "{b} Flug schon wieder verspätet, keine Info am Gate",
            "{b} Kundenservice ist eine Katastrophe",
        ],
        "pl": ["{b} znowu opóźnienie, zero informacji", "Zwrot od {b} nadal nie przyszedł"],
        "es": ["{b} canceló mi vuelo sin avisar", "El servicio al cliente de {b} no contesta"],
        "fr": ["Vol {b} encore en retard, aucune info", "Remboursement {b} toujours pas reçu"],
    },
    "neutral": {
        "en": ["Flying {b} to Riga tomorrow, any tips?", "Does {b} allow two cabin bags?"],
        "de": ["Fliegt {b} im Winter nach Tromsø?"],
        "pl": ["Czy {b} lata do Gdańska zimą?"],
        "es": ["¿{b} vuela a Oslo en diciembre?"],
        "fr": ["{b} propose-t-il des vols vers Bergen ?"],
    },
    "positive": {
        "en": [
            "{b} crew were lovely, smooth flight",
            "Changed my {b} booking in the app in a minute",
        ],
        "de": ["{b} pünktlich und freundlich, gerne wieder"],
        "pl": ["Polecam {b}! Zmiana rezerwacji bez opłat"],
        "es": ["Vuelo con {b} perfecto y puntual"],
        "fr": ["Équipage {b} adorable, vol parfait"],
    },
}
STORM = {  # the complaint that rises: lost luggage at the new baggage system
    "en": [
        "{b} lost my luggage AGAIN. Third time this year. Never again.",
        "Still no luggage 3 days after my {b} flight, the baggage tracker shows nothing",
        "{b} lost luggage desk has a 2 hour queue, absolute joke",
        "My bag never made it to Oslo. {b}, where is my luggage??",
        "Lost luggage claim with {b} closed without an answer. Furious.",
        "{b} new baggage system: everyone on our flight lost their luggage",
    ],
    "de": ["{b} hat mein Gepäck verloren und niemand hilft"],
    "pl": ["{b} zgubiło mój bagaż, infolinia milczy od dwóch dni"],
    "es": ["{b} perdió mi equipaje y nadie responde"],
    "fr": ["{b} a perdu mes bagages, personne ne répond"],
}
TAILS = [
    "",
    "",
    "",
    " 😡",
    " #fail",
    " Day 2.",
    " @support?",
    " 🙄",
    " (flight from Oslo)",
    " Seriously.",
]
AUTHORS = [
    "mileage_runner",
    "baltic_backpacker",
    "ilze.m",
    "ravi_k",
    "nomad_nadia",
    "j.kowalski",
    "sky_sofia",
    "thefrequentflyer",
    "marta_travels",
    "oslo_olav",
    "pierre_voyage",
    "carla.vuela",
    "hannes_unterwegs",
    "tiny_trips",
    "gatehouse_gus",
    "redeye_rachel",
]


def _label(rng: random.Random, brand: str, storm: bool) -> str:
    negative = {"Aurora Air": 0.26, "Boreal Airways": 0.22, "Polar Jet": 0.3}[brand]
    if storm:
        negative = 0.58
    roll = rng.random()
    if roll < negative:
        return "negative"
    return "neutral" if roll < negative + (1 - negative) * 0.42 else "positive"


def seed(url: str, now: datetime, *, days: int = 60, rng_seed: int = 7) -> int:
    """Write the demo-like data; returns the number of mentions."""
    rng = random.Random(rng_seed)
    engine = connect(url)
    upgrade(engine)
    store, outbox = SqlStore(engine), SqlOutbox(engine)
    storm_from = now - timedelta(days=3)
    total = 0
    alerts: list[tuple[NewAlert, datetime]] = []  # raised a minute after the post
    for brand, per_day in BRANDS.items():
        query = BrandQuery(brand=brand, query=brand.split()[0].lower())
        rows: list[tuple[Mention, str, float]] = []
        for i in range(days * per_day):
            # more in the daytime and on weekdays, and more for the brand in a storm
            at = now - timedelta(seconds=rng.random() * days * 86400)
            if rng.random() < 0.35 * abs(at.hour - 14) / 14 or (
                at.weekday() > 4 and rng.random() < 0.2
            ):
                continue
            storm = brand == "Aurora Air" and at >= storm_from and rng.random() < 0.6
            label = "negative" if storm else _label(rng, brand, False)
            lang = rng.choice(LANGS)
            pool = STORM if storm else BASE[label]
            text = rng.choice(pool.get(lang) or pool["en"]).format(b=brand) + rng.choice(TAILS)
            source = "twitter" if rng.random() < 0.68 else "reddit"
            author = rng.choice(AUTHORS)
            ext = f"{brand[:2].lower()}{i}"
            url_ = (
                f"https://x.com/{author}/status/19{i:08d}"
                if source == "twitter"
                else f"https://www.reddit.com/r/travel/comments/{ext}/"
            )
            anger = min(1.0, rng.betavariate(5, 2)) if storm else rng.betavariate(2, 5)
            mention = Mention(
                source=source,
                external_id=ext,
                brand=brand,
                text=text,
                author=author,
                created_at=at,
                url=url_,
                lang=lang,
                author_reach=int(rng.lognormvariate(6.5, 1.6)),
                raw={"id": ext},
            )
            rows.append((mention, label, anger if label == "negative" else anger / 4))
        for source in ("twitter", "reddit"):
            batch = [m for m, _, _ in rows if m.source == source]
            for start in range(0, len(batch), 2000):
                store.add_batch(source, query, Batch(mentions=batch[start : start + 2000]))
        scores: list[Score] = []
        for mention, label, anger in rows:
            stored = store.find_mention(mention.source, mention.external_id)
            assert stored is not None
            probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
            probs[label] = 0.8
            sentiment = Sentiment(
                label=label,  # type: ignore[arg-type]
                probabilities=probs,
                anger=anger,
                lang=mention.lang,
            )
            scores.append(
                Score(
                    mention_id=stored.id,
                    model="listener-sentiment-ml@2.0",
                    sentiment=sentiment,
                    scored_at=mention.created_at,
                )
            )
            if label == "negative" and anger >= 0.8 and mention.author_reach >= 1500:
                reason = f"anger {anger:.2f} ≥ 0.60, negative 0.80 ≥ 0.60"
                alert = NewAlert(
                    kind="mention",
                    brand=brand,
                    dedupe_key=f"mention:{stored.id}",
                    reason=f"{reason}, reach {mention.author_reach:,}",
                    mention_id=stored.id,
                )
                alerts.append((alert, mention.created_at + timedelta(minutes=1)))
        for start in range(0, len(scores), 2000):
            store.add_scores(scores[start : start + 2000])
        total += len(rows)
    window_end = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    spike = NewAlert(
        kind="spike",
        brand="Aurora Air",
        dedupe_key="spike:aurora:1",
        reason="41 negative mentions vs 9.2 ± 3.1 usual (same hour, 7 days): 4.5× ≥ 2×, z 10.3",
        details={"metric": "negative_volume", "window_end": window_end.isoformat()},
    )
    alerts.append((spike, window_end + timedelta(minutes=2)))
    for alert, raised in sorted(alerts, key=lambda pair: pair[1]):  # ids in time order
        outbox.add_alerts([alert], now=raised)
    for brand in BRANDS:
        _deliver_and_answer(outbox, store, rng, brand, now)
    engine.dispose()
    return total


def _deliver_and_answer(
    outbox: SqlOutbox, store: SqlStore, rng: random.Random, brand: str, now: datetime
) -> None:
    """Mark the brand's alerts sent; the team answers most of them within minutes to hours."""
    for alert in outbox.list(brand=brand):
        claim = outbox.claim(alert.id, now=now, lease=timedelta(minutes=1))
        if claim is not None:
            outbox.mark_sent(claim, alert.created_at + timedelta(seconds=3))
        if alert.kind != "mention" or alert.mention_id is None:
            continue
        posted = store.mentions([alert.mention_id])[0].mention.created_at
        answered = posted + timedelta(minutes=rng.choice([4, 7, 12, 18, 26, 41, 65, 130]))
        if answered < now - timedelta(minutes=30) and rng.random() < 0.85:
            outbox.ack(alert.id, by=rng.choice(["ana", "tomas", "lea"]), at=answered)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1900, help="clip the page at this height")
    parser.add_argument("--keep", action="store_true", help="keep the database, print its URL")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium not found: run scripts/setup (apt-get install chromium)", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="listener-dashboard-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "dashboard-demo.db"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    now = datetime.now(UTC)
    started = time.monotonic()
    count = seed(url, now)
    print(f"seeded {count} mentions in {time.monotonic() - started:.1f}s: {database}")

    from playwright.sync_api import sync_playwright

    engine = connect(url)
    brands = [
        BrandInfo(name="Aurora Air", competitors=("Boreal Airways", "Polar Jet")),
        BrandInfo(name="Boreal Airways", competitors=("Aurora Air", "Polar Jet")),
        BrandInfo(name="Polar Jet", competitors=("Aurora Air", "Boreal Airways")),
    ]
    data = TrendsData(reader=SqlTrendsReader(engine), labels=SqlLabels(engine), brands=brands)
    app = create_app(data, token="screenshot-token-not-a-secret")
    try:
        with in_thread(app) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            loaded = time.monotonic()
            page.goto(f"{base}/?brand=Aurora+Air&period=30d")
            print(f"main page loaded in {1000 * (time.monotonic() - loaded):.0f} ms")
            args.output.parent.mkdir(parents=True, exist_ok=True)
            clip = {"x": 0, "y": 0, "width": args.width, "height": args.height}
            page.screenshot(path=str(args.output), clip=clip)  # type: ignore[arg-type]
            browser.close()
    finally:
        engine.dispose()
    print(f"screenshot: {args.output}")
    if args.keep:
        print(f"database kept: {url}")
    else:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            database.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
