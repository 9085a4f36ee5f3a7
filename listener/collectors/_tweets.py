"""X API v2 tweet objects -> Mentions (no tweepy here); bad items and pages are quarantined."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from listener.domain import Mention, Quarantined
from listener.errors import PayloadError, SourceUnavailable

PAYLOAD_KEPT = 65536
"""Characters of a malformed page kept in the quarantine."""


def parse_page(
    page: Mapping[str, Any], brand: str, page_no: int
) -> tuple[list[Mention], list[Quarantined], list[int]]:
    data = page.get("data") or []
    includes = page.get("includes") if isinstance(page.get("includes"), dict) else {}
    users = {str(u.get("id")): u for u in (includes or {}).get("users", []) if isinstance(u, dict)}
    if not isinstance(data, list):
        data = [data]
    mentions: list[Mention] = []
    quarantined: list[Quarantined] = []
    ids: list[int] = []
    for index, item in enumerate(data):
        tid = str(item.get("id", "")) if isinstance(item, dict) else ""
        if tid.isdigit():
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
    tid, text, created = item.get("id"), item.get("text"), item.get("created_at")
    if not isinstance(tid, str) or not tid.isdigit():
        raise PayloadError(f"tweet has no string id (got {tid!r})")
    if not isinstance(text, str):
        raise PayloadError(f"tweet {tid} has no text")
    try:
        created_at = datetime.fromisoformat(str(created).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise PayloadError(f"tweet {tid} has no valid created_at (got {created!r})") from None
    author = _dict(users.get(str(item.get("author_id")), item.get("author")))
    username = str(author.get("username") or "")
    metrics = _dict(item.get("public_metrics"))
    user_metrics = _dict(author.get("public_metrics"))
    replied = [
        r.get("id")
        for r in item.get("referenced_tweets") or []
        if isinstance(r, dict) and r.get("type") == "replied_to"
    ]
    engagement = sum(
        _int(metrics.get(k)) for k in ("like_count", "retweet_count", "reply_count", "quote_count")
    )
    return Mention(
        source="twitter",
        external_id=tid,
        brand=brand,
        text=html.unescape(text),
        author=username or str(item.get("author_id") or ""),
        created_at=created_at,
        url=f"https://x.com/{username}/status/{tid}"
        if username
        else f"https://x.com/i/web/status/{tid}",
        lang=item.get("lang") if isinstance(item.get("lang"), str) else None,
        author_reach=_int(user_metrics.get("followers_count")),
        engagement=engagement,
        in_reply_to=str(replied[0]) if replied else None,
        raw={**item, "author": dict(author)} if author else dict(item),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class MalformedPage(SourceUnavailable):
    """A 200 page that is not a JSON object: the collector quarantines it, never raises it."""

    def __init__(self, message: str, *, payload: str) -> None:
        super().__init__(message)
        self.payload = payload

    def quarantined(self, brand: str, location: str) -> Quarantined:
        payload = self.payload[:PAYLOAD_KEPT].replace("\x00", "\\u0000")  # PostgreSQL text
        reason = str(self)
        if len(self.payload) > PAYLOAD_KEPT:
            reason += f"; first {PAYLOAD_KEPT} of {len(self.payload)} characters kept"
        return Quarantined(
            source="twitter", brand=brand, reason=reason, payload=payload, location=location
        )
