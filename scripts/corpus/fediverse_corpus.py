"""The Bluesky and Mastodon halves of the sample corpus.

``python scripts/corpus/fediverse_corpus.py`` writes listener/emulators/data/bluesky.jsonl and
mastodon.jsonl from the X half (twitter.jsonl, made by make_corpus.py), deterministically: every
third tweet becomes a Bluesky PostView, the next one a Mastodon Status, in the platforms' own
shapes (Bluesky: handles that are domains; Mastodon: HTML content with hashtag links and h-card
mentions, ``acct`` user@instance).
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from listener.emulators.corpus import parse_x_time, read_jsonl, write_jsonl
from listener.emulators.mastodon import status_id

DATA = Path(__file__).resolve().parents[2] / "listener" / "emulators" / "data"
INSTANCE = "social.example"
"""The emulated instance; the brands' accounts live on it."""
OTHERS = ("mastodon.social", "mstdn.io", "fosstodon.org", "social.vivaldi.net")
BRANDS = ("AuroraAir", "NordlysMobile")
_B32 = "234567abcdefghijklmnopqrstuvwxyz"
_TAG = re.compile(r"(?<![\w/])#(\w+)")
_AT = re.compile(r"(?<![\w/])@(\w+)")


def tid(micros: int, clock: int) -> str:
    """A Bluesky record key (TID): 13 base32-sortable characters of time and a clock id."""
    value = (micros << 10) | (clock & 0x3FF)
    return "".join(_B32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def bsky_handle(username: str) -> str:
    return username.lower().replace("_", "-").replace(".", "-") + ".bsky.social"


def bluesky_post(tweet: dict[str, Any], index: int, parents: dict[str, str]) -> dict[str, Any]:
    user = tweet["author"]
    handle = bsky_handle(user["username"])
    did = "did:plc:" + format(int(user["id"]) * 7919 % 36**12, "x").rjust(24, "a")[:24]
    at = parse_x_time(tweet["created_at"])
    uri = f"at://{did}/app.bsky.feed.post/{tid(int(at.timestamp() * 1e6), index)}"
    parents[tweet["id"]] = uri
    text = _AT.sub(lambda m: "@" + bsky_handle(m.group(1)), html.unescape(tweet["text"]))
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": tweet["created_at"],
        "langs": [tweet["lang"]],
    }
    replied = [r["id"] for r in tweet.get("referenced_tweets", []) if r["type"] == "replied_to"]
    if replied and replied[0] in parents:
        ref = {"uri": parents[replied[0]], "cid": "bafyrei" + replied[0][-20:]}
        record["reply"] = {"root": ref, "parent": ref}
    metrics = tweet["public_metrics"]
    return {
        "uri": uri,
        "cid": "bafyrei" + tweet["id"][-20:].rjust(20, "q"),
        "author": {
            "did": did,
            "handle": handle,
            "displayName": user["name"],
            "followersCount": user["public_metrics"]["followers_count"],
            "followsCount": user["public_metrics"]["following_count"],
            "postsCount": user["public_metrics"]["tweet_count"],
        },
        "record": record,
        "indexedAt": tweet["created_at"],
        "likeCount": metrics["like_count"],
        "repostCount": metrics["retweet_count"],
        "replyCount": metrics["reply_count"],
        "quoteCount": metrics["quote_count"],
        "labels": [],
    }


def acct(username: str) -> str:
    name = username.replace(".", "_")
    if username in BRANDS:
        return name
    return f"{name}@{OTHERS[sum(map(ord, username)) % len(OTHERS)]}"


def mastodon_html(text: str) -> str:
    """Mastodon's HTML of a plain text: escaped, paragraphs, hashtag links and h-cards."""
    escaped = html.escape(text, quote=False)
    escaped = _TAG.sub(
        lambda m: (
            f'<a href="https://{INSTANCE}/tags/{m.group(1)}" class="mention hashtag"'
            f' rel="tag">#<span>{m.group(1)}</span></a>'
        ),
        escaped,
    )
    escaped = _AT.sub(
        lambda m: (
            f'<span class="h-card" translate="no"><a href="https://{INSTANCE}/@'
            f'{m.group(1)}" class="u-url mention">@<span>{m.group(1)}</span></a></span>'
        ),
        escaped,
    )
    return "".join(f"<p>{part}</p>" for part in escaped.split("\n\n"))


def mastodon_status(tweet: dict[str, Any], index: int, parents: dict[str, str]) -> dict[str, Any]:
    user = tweet["author"]
    at = parse_x_time(tweet["created_at"])
    sid = status_id(at, index)
    name = user["username"].replace(".", "_")
    home = INSTANCE if user["username"] in BRANDS else acct(user["username"]).split("@")[1]
    uri = f"https://{home}/users/{name}/statuses/{sid}"
    parents[tweet["id"]] = sid
    text = html.unescape(tweet["text"])
    replied = [r["id"] for r in tweet.get("referenced_tweets", []) if r["type"] == "replied_to"]
    metrics = tweet["public_metrics"]
    return {
        "id": sid,
        "uri": uri,
        "url": f"https://{home}/@{name}/{sid}",
        "created_at": tweet["created_at"],
        "in_reply_to_id": parents.get(replied[0]) if replied else None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": tweet["lang"],
        "replies_count": metrics["reply_count"],
        "reblogs_count": metrics["retweet_count"],
        "favourites_count": metrics["like_count"],
        "content": mastodon_html(text),
        "reblog": None,
        "account": {
            "id": str(user["id"]),
            "username": name,
            "acct": acct(user["username"]),
            "display_name": user["name"],
            "url": f"https://{home}/@{name}",
            "followers_count": user["public_metrics"]["followers_count"],
            "following_count": user["public_metrics"]["following_count"],
            "statuses_count": user["public_metrics"]["tweet_count"],
            "bot": False,
            "locked": False,
        },
        "media_attachments": [],
        "mentions": [
            {"id": str(9000 + i), "username": m, "acct": acct(m), "url": f"https://{INSTANCE}/@{m}"}
            for i, m in enumerate(dict.fromkeys(_AT.findall(text)))
        ],
        "tags": [
            {"name": t, "url": f"https://{INSTANCE}/tags/{t}"}
            for t in dict.fromkeys(_TAG.findall(text))
        ],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def main() -> None:
    tweets = sorted(read_jsonl(DATA / "twitter.jsonl"), key=lambda t: int(t["id"]))
    sky_parents: dict[str, str] = {}
    masto_parents: dict[str, str] = {}
    posts = [bluesky_post(t, i, sky_parents) for i, t in enumerate(tweets) if i % 3 == 0]
    statuses = [mastodon_status(t, i, masto_parents) for i, t in enumerate(tweets) if i % 3 == 1]
    posts.reverse()  # newest first, as the platforms list them
    statuses.reverse()
    write_jsonl(DATA / "bluesky.jsonl", posts)
    write_jsonl(DATA / "mastodon.jsonl", statuses)
    print(f"{len(posts)} Bluesky posts, {len(statuses)} Mastodon statuses -> {DATA}")


if __name__ == "__main__":
    main()
