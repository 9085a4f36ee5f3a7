# ruff: noqa: E501  (corpus data: long texts are the point)
"""The Reddit half of the sample corpus (used by scripts/make_corpus.py)."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from typing import Any

from corpus_text import AIR, STORM, TEL

SUBS = {
    "en": ("travel", "telecom"),
    "pl": ("Polska", "Polska"),
    "lv": ("Latvia", "Latvia"),
    "lt": ("lithuania", "lithuania"),
    "sl": ("Slovenia", "Slovenia"),
    "he": ("Israel", "Israel"),
}
AUTHORS = [
    "throwaway_4471",
    "baltic_backpacker",
    "RigaRat",
    "vilnius_dev",
    "ljubljana_lad",
    "telaviv_tal",
    "krakow_kid",
    "[deleted]",
    "mileage_runner",
    "eSIM_enjoyer",
    "data_hoarder_pl",
    "avgeek_lt",
]
FORMS = {
    "air": ["Aurora Air", "AuroraAir", "#AuroraAir"],
    "tel": ["Nordlys Mobile", "NordlysMobile", "Nordlys"],
}
DETAILS = {
    "air": ["AU1207", "AU311", "AU88", "AU540"],
    "tel": ["5G Max", "eSIM", "prepaid", "family plan"],
}
BODIES = [
    "Anyone else had this? Curious if it's just me.",
    "Edit: customer support finally replied after 3 days.",
    "Tom & Jerry's travel agency recommended them, so I gave it a shot.\n\n* pros: price\n* cons: everything else",
    "",
    "Posting here because their Facebook page deletes complaints.",
    "**Update:** refund arrived. Took 6 weeks > but it arrived.",
]
NO_MATCH = [
    (
        "en",
        "travel",
        "Saw the aurora borealis from the plane window!",
        "The air up there was clear, photos below.",
    ),
    ("lv", "Latvia", "Ziemeļblāzma virs Siguldas šonakt", "Aurora bija redzama arī Rīgā."),
    (
        "en",
        "telecom",
        "Nordlys festival line-up announced",
        "Not a carrier, the Tromsø music festival 🎶",
    ),
    ("he", "Israel", "אורורה בצפון, מישהו ראה?", "צילמתי מהמטוס"),
]
LONG_PARAGRAPH = (
    "Day {n}: Called Aurora Air again. The agent said the claim was 'in progress' and that EU261 "
    "compensation takes up to 90 days. I sent the boarding passes, the cancellation email, the hotel "
    "receipt (€184.50) and the taxi receipt (€32). They asked for the same documents again. "
)


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


class _Maker:
    def __init__(self, rng: random.Random, newest: datetime) -> None:
        self.rng, self.newest, self.counter = rng, newest, 0
        self.posts: dict[str, list[dict[str, Any]]] = {}

    def next_id(self) -> str:
        self.counter += 1
        return _b36(2_160_000_000 + self.counter * 37)

    def when(self) -> float:
        return (self.newest - timedelta(seconds=self.rng.uniform(600, 3 * 86400))).timestamp()

    def post(self, sub: str, title: str, body: str, at: float | None = None) -> dict[str, Any]:
        pid = self.next_id()
        slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "post"
        data = {
            "id": pid,
            "name": f"t3_{pid}",
            "title": title,
            "selftext": body,
            "subreddit": sub,
            "subreddit_name_prefixed": f"r/{sub}",
            "author": self.rng.choice(AUTHORS),
            "created_utc": at or self.when(),
            "permalink": f"/r/{sub}/comments/{pid}/{slug}/",
            "url": f"https://www.reddit.com/r/{sub}/comments/{pid}/{slug}/",
            "score": self.rng.randint(0, 900),
            "num_comments": self.rng.randint(0, 140),
            "upvote_ratio": round(self.rng.uniform(0.5, 1), 2),
            "is_self": True,
            "over_18": False,
        }
        data["created"] = data["created_utc"]
        thing = {"kind": "t3", "data": data}
        self.posts.setdefault(sub, []).append(thing)
        return thing

    def comment(
        self, sub: str, body: str, at: float | None = None, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        cid = self.next_id()
        link = parent or self.rng.choice(self.posts[sub])
        created = max(at or self.when(), link["data"]["created_utc"] + 60)
        data = {
            "id": cid,
            "name": f"t1_{cid}",
            "body": body,
            "subreddit": sub,
            "author": self.rng.choice(AUTHORS),
            "created_utc": created,
            "link_id": link["data"]["name"],
            "parent_id": link["data"]["name"],
            "link_title": link["data"]["title"],
            "permalink": link["data"]["permalink"] + f"{cid}/",
            "score": self.rng.randint(-20, 300),
            "controversiality": 0,
        }
        data["created"] = data["created_utc"]
        return {"kind": "t1", "data": data}


def make_things(rng: random.Random, newest: datetime) -> list[dict[str, Any]]:
    maker = _Maker(rng, newest)
    things: list[dict[str, Any]] = []
    for lang, (air_sub, tel_sub) in SUBS.items():  # some brand-free posts to hang comments on
        for sub in dict.fromkeys((air_sub, tel_sub)):  # ordered: the corpus is deterministic
            things.append(
                maker.post(
                    sub, f"Weekly discussion thread ({lang})", "General chat, anything goes."
                )
            )
    for brand, texts, index in (("air", AIR, 0), ("tel", TEL, 1)):
        for lang, by_sentiment in texts.items():
            sub = SUBS[lang][index]
            for templates in by_sentiment.values():
                for number, template in enumerate(templates):
                    text = (
                        template.format(b=rng.choice(FORMS[brand]), f=rng.choice(DETAILS[brand]))
                        .replace("&gt;", ">")
                        .replace("&amp;", "&")
                    )
                    if number % 2 == 0:
                        things.append(maker.post(sub, text, rng.choice(BODIES)))
                    else:
                        things.append(maker.comment(sub, text))
    storm_at = (newest - timedelta(hours=5, minutes=50)).timestamp()
    thread = maker.post(
        "travel",
        "Aurora Air AU1207 RIX-TLV cancelled, anyone else stuck at Riga airport?",
        "We've been here since 6am. No staff, no vouchers.",
        storm_at,
    )
    things.append(thread)
    for index, template in enumerate(STORM[:14]):
        text = template.format(b=rng.choice(FORMS["air"]), f="AU1207")
        things.append(maker.comment("travel", text, storm_at + 60 + index * 110, parent=thread))
    long_body = (
        "TL;DR: Aurora Air cancelled my flight, this is the full timeline.\n\n"
        + "\n\n".join(LONG_PARAGRAPH.format(n=n) for n in range(1, 25))
        + "\n\nשלום from Tel Aviv, paldies from Riga 🙏"
    )
    things.append(
        maker.post(
            "travel", "[Long] My complete Aurora Air EU261 claim saga, with timeline", long_body
        )
    )
    things.append(
        maker.comment(
            "telecom",
            'Nordlys Mobile support told me to "turn it off & on" 🙃 &lt;- literally typed like that',
        )
    )
    for lang, sub, title, body in NO_MATCH:
        things.append(maker.post(sub, title, body))
        things.append(maker.comment(sub, f"{lang}: {title}"))
    things.sort(key=lambda t: t["data"]["created_utc"])
    return things
