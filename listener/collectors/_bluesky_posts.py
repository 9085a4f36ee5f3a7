"""PostViews of Bluesky searches as Mentions, and the per-search marks of the cursor (the
Bluesky collector's parts; see ``listener.collectors.bluesky``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.collectors._cursor import PARTLY, CursorReader, entries, texts, wrong
from listener.domain import Mention

FUTURE_SKEW = timedelta(minutes=5)
"""How far a post's sortAt may be ahead of this host's clock (clock skew); a post further in the
future is quarantined, as it would move its search's mark past every real post."""


def xrpc_error(exc: Any) -> str:
    content = getattr(getattr(exc, "response", None), "content", None)
    return str(getattr(content, "error", "") or "")


def post_mention(
    post: Any, brand: str, *, latest: datetime | None = None
) -> tuple[Mention, datetime]:
    """A Mention from one PostView and its sortAt; ValueError naming what is wrong (a sortAt
    after ``latest``, now plus FUTURE_SKEW, included)."""
    if not isinstance(post, dict):
        raise ValueError(f"post is not a JSON object: {type(post).__name__}")
    uri, record, author = post.get("uri"), post.get("record"), post.get("author")
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise ValueError(f"post has no at:// uri (got {str(uri)[:80]!r})")
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise ValueError(f"post {uri} has no record.text")
    if not isinstance(author, dict) or not all(
        isinstance(author.get(k), str) for k in ("did", "handle")
    ):
        raise ValueError(f"post {uri} has no author did and handle")
    created = parse_time(record.get("createdAt"))
    indexed = parse_time(post.get("indexedAt"))
    if created is None:
        raise ValueError(f"post {uri} has no readable record.createdAt")
    at = min(created, indexed) if indexed else created
    if latest is not None and at > latest:
        created_text, indexed_text = str(record["createdAt"]), str(post.get("indexedAt"))
        raise ValueError(
            f"post {uri} is dated in the future (record.createdAt {created_text[:40]!r},"
            f" indexedAt {indexed_text[:40]!r};"
            f" more than {FUTURE_SKEW.total_seconds():.0f} s ahead of this host's clock)"
        )
    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    reply = record.get("reply")
    parent = reply.get("parent") if isinstance(reply, dict) else None
    in_reply_to = parent.get("uri") if isinstance(parent, dict) else None
    counts = [post.get(k) for k in ("likeCount", "repostCount", "replyCount", "quoteCount")]
    mention = Mention(
        source="bluesky",
        external_id=uri,
        brand=brand,
        text=record["text"],
        author=author["handle"],
        created_at=created,
        lang=lang,
        url=f"https://bsky.app/profile/{author['handle']}/post/{uri.rsplit('/', 1)[-1]}",
        engagement=sum(c for c in counts if isinstance(c, int) and c > 0),
        in_reply_to=in_reply_to if isinstance(in_reply_to, str) else None,
        raw=post,
    )
    return mention, at


def with_reach(mention: Mention, reach: int) -> Mention:
    return replace(mention, author_reach=reach)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mark_after(
    mark: dict[str, str], newest: datetime | None, oldest: datetime | None, *, complete: bool
) -> dict[str, str]:
    """A search's mark after reading posts from ``newest`` down to ``oldest``."""
    since = parse_time(mark.get("since"))
    if since is not None and oldest is not None and oldest <= since:
        complete = True  # read back past the mark: only the overlap was left unread
    if complete:
        top = max((t for t in (since, newest) if t is not None), default=None)
        return {"since": iso(top)} if top else {}
    if oldest is None:
        return mark
    gap = {"until": iso(oldest + timedelta(milliseconds=1))}  # the oldest second again: the
    if newest is not None:  # seen URIs drop what was read
        gap["newest"] = iso(newest)
    if since is not None:
        gap["since"] = iso(since)
    return gap


MARKS = ("since", "until", "newest")
"""The times a search's mark holds, as ISO 8601 text."""


def load_cursor(cursor: str | None, *, brand: str) -> dict[str, Any]:
    """Per search its marks, and the URIs seen lately; what cannot be read is dropped with one
    WARNING naming the problem (a search without marks is read as on a first poll)."""
    reader = CursorReader(source="bluesky", brand=brand)
    state = reader.load(cursor, reset="reading every search as on a first poll")
    problems: list[str] = []
    searches = state.get("searches", {})
    if not isinstance(searches, dict):
        problems.append(wrong("searches", "an object", searches))
        searches = {}
    marks = {
        str(k): {n: v[n] for n in MARKS if isinstance(v.get(n), str)}
        for k, v in searches.items()
        if isinstance(v, dict)
    }
    bad = sum(
        not isinstance(v, dict) or any(not isinstance(v.get(n), str | None) for n in MARKS)
        for v in searches.values()
    )
    if bad:
        problems.append(entries("searches", bad, "an object of times (text)"))
    uris = texts(state, "seen", "a URI", problems)
    reader.ignore(problems, reset=PARTLY)
    return {"searches": marks, "seen": uris}
