"""Builders of Bluesky PostViews and Mastodon Statuses for the emulators, in the wire shapes."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from listener.emulators.corpus import format_x_time
from listener.emulators.mastodon import status_id


def bsky_post(
    i: int,
    at: datetime,
    text: str = "Flight {i} with Aurora Air",
    *,
    lang: str = "en",
    author: int | None = None,
    followers: int | None = None,
    indexed: datetime | None = None,
) -> dict[str, Any]:
    """PostView number ``i`` created ``at`` by author ``author`` (default ``i % 5``)."""
    who = i % 5 if author is None else author
    did = f"did:plc:author{who:04d}"
    return {
        "uri": f"at://{did}/app.bsky.feed.post/3k{i:011d}",
        "cid": f"bafyreipost{i}",
        "author": {
            "did": did,
            "handle": f"user{who}.bsky.social",
            "displayName": f"User {who}",
            "followersCount": 1000 + who if followers is None else followers,
        },
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text.format(i=i),
            "createdAt": format_x_time(at),
            "langs": [lang],
        },
        "indexedAt": format_x_time(indexed or at),
        "likeCount": 3,
        "repostCount": 2,
        "replyCount": 1,
        "quoteCount": 0,
    }


def masto_status(
    i: int,
    at: datetime,
    text: str = "Flight {i} with Aurora Air",
    *,
    lang: str | None = "en",
    tags: tuple[str, ...] = (),
    mentions: tuple[str, ...] = (),
    content: str | None = None,
    followers: int = 500,
) -> dict[str, Any]:
    """Status number ``i`` created ``at``; ``content`` (HTML) defaults to ``text`` in a <p>."""
    sid = status_id(at, i)
    user = f"user{i % 5}"
    return {
        "id": sid,
        "uri": f"https://other.example/users/{user}/statuses/{sid}",
        "url": f"https://other.example/@{user}/{sid}",
        "created_at": format_x_time(at),
        "content": content if content is not None else f"<p>{html.escape(text.format(i=i))}</p>",
        "spoiler_text": "",
        "language": lang,
        "visibility": "public",
        "reblog": None,
        "in_reply_to_id": None,
        "reblogs_count": 1,
        "favourites_count": 2,
        "replies_count": 0,
        "account": {
            "id": str(100 + i % 5),
            "username": user,
            "acct": f"{user}@other.example",
            "display_name": user.title(),
            "followers_count": followers + i % 5,
        },
        "tags": [{"name": t, "url": f"https://other.example/tags/{t}"} for t in tags],
        "mentions": [{"id": "1", "username": m, "acct": m, "url": ""} for m in mentions],
    }
