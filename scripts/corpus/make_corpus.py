# ruff: noqa: E501  (corpus data: long texts are the point)
"""Regenerate the sample corpus: ``python scripts/corpus/make_corpus.py`` writes
listener/emulators/data/{twitter,reddit}.jsonl (deterministic; texts in scripts/corpus/corpus_text.py).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from corpus_text import AIR, STORM, TEL

from listener.emulators.corpus import format_x_time, write_jsonl
from listener.emulators.twitter import snowflake

NEWEST = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STORM_START = NEWEST - timedelta(hours=6)
DATA = Path(__file__).resolve().parents[2] / "listener" / "emulators" / "data"
rng = random.Random(7)

FORMS = {
    "air": ["@AuroraAir", "#AuroraAir", "Aurora Air"],
    "tel": ["@NordlysMobile", "#NordlysMobile", "Nordlys Mobile"],
}
DETAILS = {
    "air": ["AU1207", "AU311 WAW–RIX", "AU88 VNO–TLV", "AU540 LJU–RIX", "AU19 RIX–LHR", "AU702"],
    "tel": ["plan Nordic 20GB", "#eSIM", "prepaid 9.99€", "5G Max plan", "family plan"],
}
NAMES = {
    "en": [
        "sarah_travels",
        "mike_r",
        "jess.codes",
        "tom_on_tour",
        "dan_the_dev",
        "lucy_h",
        "ravi_k",
    ],
    "pl": ["kasia_k", "marek_wawa", "ola_podroze", "piotrek88", "zosia_z"],
    "lv": ["janis_b", "liga_riga", "arturs_k", "ilze.m", "kristaps_lv"],
    "lt": ["ruta_vln", "tomas_k", "egle_m", "mindaugas88", "jurate_lt"],
    "sl": ["ana_lj", "matej_n", "spela_k", "luka_bled", "nina_mb"],
    "he": ["noa_tlv", "yossi_k", "shira_b", "avi_travels", "maya_l"],
}
HIGH_REACH = [
    ("aviation_daily", "Aviation Daily", 512_000, True),
    ("baltic_news", "Baltic News Network", 231_000, True),
    ("ynet_travel", "ynet travel", 410_000, True),
    ("techradar_lt", "TechRadar LT", 88_000, False),
]
BRAND_USERS = {
    "air": ("AuroraAir", "Aurora Air", 145_000),
    "tel": ("NordlysMobile", "Nordlys Mobile", 62_000),
}
REPLIES = {
    "en": "@{u} We're so sorry about this. Please DM us your booking or account number and we'll sort it today. – {brand} Care",
    "pl": "@{u} Bardzo przepraszamy. Prosimy o wiadomość prywatną z numerem rezerwacji, pomożemy jeszcze dziś. – {brand} Care",
    "lv": "@{u} Atvainojamies par sagādātajām neērtībām! Lūdzu, raksti mums privāti, palīdzēsim. – {brand} Care",
    "lt": "@{u} Labai atsiprašome. Parašykite mums asmeniškai, padėsime šiandien. – {brand} Care",
    "sl": "@{u} Iskreno se opravičujemo. Pišite nam v zasebno sporočilo, pomagali bomo. – {brand} Care",
    "he": "@{u} אנחנו מצטערים מאוד. שלחו לנו הודעה פרטית ונטפל בזה היום. – {brand} Care",
}
STORM_LANGS = {
    8: "he",
    9: "he",
    10: "he",
    11: "lv",
    12: "lv",
    13: "lv",
    14: "pl",
    15: "lt",
    16: "sl",
}
NO_MATCH = [
    ("en", "Aurora borealis over Jūrmala tonight, the air was so crisp 🌌"),
    ("en", "The Aurora Air purifier 300 is on sale &amp; my allergies are thankful"),
    ("en", "Nordlys festival in Tromsø was magical, northern lights every night"),
    ("lv", "Ziemeļblāzma (aurora) virs Rīgas! Gaiss bija ledains ❄️"),
    ("pl", "Zorza polarna nad Bałtykiem, aurora jak z bajki 😍"),
    ("he", "ראיתי אורורה בצפון נורבגיה, חוויה של פעם בחיים"),
    ("sl", "Nordlys festival letos res ni bil slab"),
    ("en", "Named my cat Aurora. She hates air travel."),
]
_users: dict[str, dict[str, Any]] = {}


def user(
    username: str, name: str | None = None, followers: int | None = None, verified: bool = False
) -> dict[str, Any]:
    if username not in _users:
        _users[username] = {
            "id": str(10_000_000 + len(_users) * 7919),
            "username": username,
            "name": name or username.replace("_", " ").title(),
            "verified": verified,
            "public_metrics": {
                "followers_count": followers if followers is not None else rng.randint(12, 4800),
                "following_count": rng.randint(20, 900),
                "tweet_count": rng.randint(50, 20_000),
                "listed_count": rng.randint(0, 40),
            },
        }
    return _users[username]


def tweet(
    text: str,
    at: datetime,
    lang: str,
    author: dict[str, Any],
    reply_to: dict[str, Any] | None = None,
) -> dict[str, Any]:
    tid = snowflake(at, rng.randint(0, 4000))
    metrics = {
        "retweet_count": rng.randint(0, 30),
        "reply_count": rng.randint(0, 12),
        "like_count": rng.randint(0, 120),
        "quote_count": rng.randint(0, 5),
        "bookmark_count": rng.randint(0, 3),
        "impression_count": rng.randint(50, 20_000),
    }
    item: dict[str, Any] = {
        "id": tid,
        "text": text,
        "created_at": format_x_time(at),
        "author_id": author["id"],
        "lang": lang,
        "conversation_id": reply_to["conversation_id"] if reply_to else tid,
        "public_metrics": metrics,
        "edit_history_tweet_ids": [tid],
    }
    if reply_to:
        item["referenced_tweets"] = [{"type": "replied_to", "id": reply_to["id"]}]
        item["in_reply_to_user_id"] = reply_to["author_id"]
    item["author"] = author
    return item


def when(days: float = 3.0) -> datetime:
    return NEWEST - timedelta(seconds=rng.uniform(300, days * 86400))


def fill(template: str, brand: str) -> str:
    return template.format(b=rng.choice(FORMS[brand]), f=rng.choice(DETAILS[brand]))


def make_tweets() -> list[dict[str, Any]]:
    tweets: list[dict[str, Any]] = []
    negatives: list[tuple[dict[str, Any], str, str]] = []
    for brand, texts in (("air", AIR), ("tel", TEL)):
        for lang, by_sentiment in texts.items():
            for sentiment, templates in by_sentiment.items():
                for template in templates * 2:
                    reach = rng.random() < 0.06
                    author = (
                        user(*rng.choice(HIGH_REACH)) if reach else user(rng.choice(NAMES[lang]))
                    )
                    item = tweet(fill(template, brand), when(), lang, author)
                    tweets.append(item)
                    if sentiment == "neg":
                        negatives.append((item, brand, lang))
    for index in range(46):  # the storm: AU1207 RIX–TLV cancelled, 46 furious posts in 30 minutes
        text = STORM[index % len(STORM)].format(
            b=rng.choice(FORMS["air"]), f="AU1207" if index % 3 else "AU1207 RIX–TLV"
        )
        lang = STORM_LANGS.get(index % len(STORM), "en")
        pool = NAMES[lang] + [f"{n}{index}" for n in NAMES[lang]]
        author = user(*HIGH_REACH[0]) if index == 17 else user(rng.choice(pool))
        at = STORM_START + timedelta(seconds=index * 39 + rng.randint(0, 30))
        item = tweet(text, at, lang, author)
        tweets.append(item)
        negatives.append((item, "air", lang))
    for item, brand, lang in rng.sample(negatives, 22):  # the brand's own replies: first response
        handle, name, followers = BRAND_USERS[brand]
        at = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")) + timedelta(
            minutes=rng.randint(4, 55)
        )
        text = REPLIES[lang].format(u=item["author"]["username"], brand=name)
        tweets.append(
            tweet(text, min(at, NEWEST), lang, user(handle, name, followers, True), reply_to=item)
        )
    edge = [
        (
            "en",
            "air",
            (
                "Flew @AuroraAir today. "
                "Honestly the best crew I've had in years, they handled a medical emergency calmly, kept everyone informed, and still served hot meals on a 3h flight. Window seat, clear skies, Alps below. Ten out of ten, would fly again, already booked my return trip for July!!! ✈️🏔"
            )[:278]
            + " ✈",
        ),
        ("en", "air", "Family trip with #AuroraAir 👨‍👩‍👧‍👦 went great, kids got wings pins 🧑🏽‍✈️"),
        (
            "en",
            "tel",
            "Nordlys\u200bMobile? No: @NordlysMobile\u200d with a zero\u2060width joiner test \u200c here",
        ),
        (
            "en",
            "tel",
            "@NordlysMobile price &lt;10€ &amp; unlimited data &gt; everyone else. AT&amp;T could never",
        ),
        (
            "he",
            "air",
            "טסתי עם Aurora Air מ-TLV ל-RIX בשעה 07:45, טיסה AU88 – הכל היה מושלם! 5/5 ⭐",
        ),
        ("lv", "tel", "Ķēķis, ģimene, ļoti ņipri: #NordlysMobile čempions ūdens žāvētājs šķīvis"),
    ]
    for lang, _brand, text in edge:
        tweets.append(tweet(text, when(), lang, user(rng.choice(NAMES[lang]))))
    for lang, text in NO_MATCH:
        tweets.append(tweet(text, when(), lang, user(rng.choice(NAMES[lang]))))
    assert len(edge[0][2]) == 280, len(edge[0][2])
    tweets.sort(key=lambda t: int(t["id"]))
    return tweets


if __name__ == "__main__":
    from reddit_corpus import make_things

    tweets = make_tweets()
    things = make_things(rng, NEWEST)
    write_jsonl(DATA / "twitter.jsonl", tweets)
    write_jsonl(DATA / "reddit.jsonl", things)
    print(f"{len(tweets)} tweets, {len(things)} reddit things -> {DATA}")
