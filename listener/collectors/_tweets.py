"""X API v2 tweet objects -> Mentions (no tweepy here); bad items and pages are quarantined.

Shapes are checked here, at the parse boundary. A page whose envelope is not X's shape (``data``
not a list, ``includes`` or ``meta`` not an object, ``includes.users`` not a list,
``meta.next_token`` not a string) is a MalformedPage. A tweet is quarantined with one line naming
its bad field: no ``id`` of ASCII digits below 2**63, no ``text``, no ``created_at`` inside the
years 1-9999 in UTC, a count that is not a whole number >= 0, a field of the wrong type. A
missing or null optional field is taken as absent (no metrics: counts of 0).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from listener.collectors._quarantine import MalformedPage
from listener.domain import Mention, Quarantined, as_utc
from listener.errors import PayloadError

MAX_ID = 2**63 - 1
"""X ids are 64-bit snowflakes (and since_id must be one)."""
COUNTS = ("like_count", "retweet_count", "reply_count", "quote_count")


def parse_page(
    page: Any, brand: str, page_no: int
) -> tuple[list[Mention], list[Quarantined], list[int]]:
    """The mentions, quarantined items and ids (for the cursor) of one page; raises
    MalformedPage when the page's envelope is not X's shape."""
    data = _envelope(page, page, "data", list)
    includes = _envelope(page, page, "includes", dict)
    users = {
        u["id"]: u
        for u in _envelope(page, includes, "users", list, within="includes.")
        if isinstance(u, dict) and isinstance(u.get("id"), str)
    }
    meta = _envelope(page, page, "meta", dict)
    if meta.get("next_token") is not None and not isinstance(meta["next_token"], str):
        raise _malformed(page, "meta.next_token is not a string", meta["next_token"])
    mentions: list[Mention] = []
    quarantined: list[Quarantined] = []
    ids: list[int] = []
    for index, item in enumerate(data):
        tid = tweet_id(item.get("id")) if isinstance(item, dict) else None
        if tid is not None:
            ids.append(int(tid))
        try:
            mentions.append(tweet_mention(item, users, brand))
        except PayloadError as exc:
            payload = json.dumps(item, ensure_ascii=False, default=str)
            quarantined.append(
                Quarantined(
                    source="twitter",
                    brand=brand,
                    reason=str(exc),
                    payload=payload,
                    location=f"page {page_no} item {index}",
                )
            )
    return mentions, quarantined, ids


def tweet_mention(item: Any, users: Mapping[str, Mapping[str, Any]], brand: str) -> Mention:
    """A Mention from one v2 tweet object and the expanded users; raises PayloadError."""
    if not isinstance(item, dict):
        raise PayloadError(f"tweet is not a JSON object: {type(item).__name__}")
    raw_id, text, created = item.get("id"), item.get("text"), item.get("created_at")
    if not isinstance(raw_id, str):
        raise PayloadError(f"tweet has no string id (got {_shown(raw_id)})")
    tid = tweet_id(raw_id)
    if tid is None:
        raise PayloadError(f"tweet id is not a 64-bit decimal number (got {_shown(raw_id)})")
    if not isinstance(text, str):
        raise PayloadError(f"tweet {tid} has no text")
    field = _Fields(tid)
    note = field.object(item, "note_tweet", "a note_tweet")
    text = field.text(note, "text", "a note_tweet text") or text  # a long post, whole
    created_at = field.time(created)
    author_id = field.text(item, "author_id", "an author_id")
    expanded = users.get(author_id) if author_id else None
    author = field.object(item, "author", "an author") if expanded is None else expanded
    username = field.text(author, "username", "an author username")
    metrics = field.object(item, "public_metrics", "public_metrics")
    reach = field.count(
        field.object(author, "public_metrics", "author public_metrics"),
        "followers_count",
        "author public_metrics.",
    )
    return Mention(
        source="twitter",
        external_id=tid,
        brand=brand,
        text=html.unescape(text),
        author=username or author_id,
        created_at=created_at,
        url=f"https://x.com/{username}/status/{tid}"
        if username
        else f"https://x.com/i/web/status/{tid}",
        lang=field.text(item, "lang", "a lang") or None,
        author_reach=reach,
        engagement=sum(field.count(metrics, k, "public_metrics.") for k in COUNTS),
        in_reply_to=field.replied_to(item.get("referenced_tweets")),
        repost_of=field.replied_to(item.get("referenced_tweets"), kind="retweeted"),
        raw={**item, "author": dict(author)} if author else dict(item),
    )


def tweet_id(value: Any) -> str | None:
    """``value`` when it is an X id (ASCII digits, 64-bit), else None."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        return None
    return value if len(value) <= 19 and int(value) <= MAX_ID else None


class _Fields:
    """Typed reads of one tweet's fields: each raises PayloadError naming the field."""

    def __init__(self, tid: str) -> None:
        self.tid = tid

    def fail(self, what: str, value: Any) -> PayloadError:
        return PayloadError(f"tweet {self.tid} has {what} (got {_shown(value)})")

    def time(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise self.fail("no valid created_at", value)
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            raise self.fail("no valid created_at", value) from None
        except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is past the year 9999 in UTC
            raise self.fail("a created_at outside the years 1-9999 in UTC", value) from None

    def text(self, parent: Mapping[str, Any], key: str, what: str) -> str:
        value = parent.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(f"{what} that is not a string", value)
        return value

    def object(self, parent: Mapping[str, Any], key: str, what: str) -> dict[str, Any]:
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{what} that is not a JSON object", value)
        return value

    def count(self, parent: Mapping[str, Any], key: str, prefix: str) -> int:
        value = parent.get(key)
        if value is None:
            return 0
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 12.0: a JSON encoder's way of writing 12
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(f"{prefix}{key} that is not a count", value)
        return value

    def replied_to(self, references: Any, *, kind: str = "replied_to") -> str | None:
        """The id of the tweet this one replies to (``kind`` 'retweeted': retweets), from
        ``referenced_tweets``."""
        if references is None:
            return None
        if not isinstance(references, list):
            raise self.fail("referenced_tweets that is not a list", references)
        replied: list[str] = []
        for reference in references:
            if not isinstance(reference, dict):
                raise self.fail("a referenced_tweets item that is not a JSON object", reference)
            if reference.get("type") == kind:
                target = tweet_id(reference.get("id"))
                if target is None:
                    raise self.fail(f"a {kind} reference with no valid id", reference.get("id"))
                replied.append(target)
        return replied[0] if replied else None


def _envelope(page: Any, parent: Any, key: str, kind: type, *, within: str = "") -> Any:
    """``parent[key]`` when it is a ``kind`` (an empty one when absent or null); raises
    MalformedPage otherwise."""
    if not isinstance(parent, dict):
        raise _malformed(page, "is not a JSON object", parent, whole=True)
    value = parent.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        expected = "a list" if kind is list else "a JSON object"
        raise _malformed(page, f"{within}{key} is not {expected}", value)
    return value


def _malformed(page: Any, problem: str, value: Any, *, whole: bool = False) -> MalformedPage:
    subject = "a page that" if whole else "a page whose"
    return MalformedPage(
        f"X API sent {subject} {problem} but {type(value).__name__}",
        source="twitter",
        payload=json.dumps(page, ensure_ascii=False, default=str),
    )


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (one line: repr escapes line breaks)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for str()
        return f"a {type(value).__name__} too long to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."
