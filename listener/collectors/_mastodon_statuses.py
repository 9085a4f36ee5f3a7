"""Mastodon Statuses as Mentions: HTML to plain text, fields, the cursor (the Mastodon
collector's parts; see ``listener.collectors.mastodon``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

from listener.collectors._cursor import PARTLY, CursorReader, entries, texts, wrong
from listener.domain import Mention


def describe(exc: Any) -> str:
    args = [str(a) for a in exc.args[1:] if a is not None]
    return " ".join(args) or type(exc).__name__


class _Text(HTMLParser):
    """Visible text of a status's HTML: paragraphs and line breaks kept, tags dropped, entities
    decoded once, Mastodon's hidden URL parts (``class="invisible"``) left out."""

    VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "wbr", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        hide = tag in ("script", "style", "template") or "invisible" in classes
        self.hidden.append(hide or (bool(self.hidden) and self.hidden[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.hidden:
            self.hidden.pop()

    def handle_data(self, data: str) -> None:
        if not (self.hidden and self.hidden[-1]):
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of a Mastodon status's HTML ``content`` (never markup, never re-escaped)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()


def status_mention(status: Any, brand: str) -> Mention:
    """A Mention from one Status; ValueError naming what is wrong."""
    if not isinstance(status, dict):
        raise ValueError(f"status is not a JSON object: {type(status).__name__}")
    uri, content, account = status.get("uri"), status.get("content"), status.get("account")
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"status {status.get('id')!r} has no uri")
    if not isinstance(content, str):
        raise ValueError(f"status {uri} has no content")
    if not isinstance(account, dict) or not isinstance(account.get("acct"), str):
        raise ValueError(f"status {uri} has no account acct")
    created = parse_time(status.get("created_at"))
    if created is None:
        raise ValueError(f"status {uri} has no readable created_at")
    text = html_to_text(content)
    warning = status.get("spoiler_text")
    if isinstance(warning, str) and warning.strip():
        text = f"{warning.strip()}\n\n{text}"
    lang = status.get("language")
    counts = [status.get(k) for k in ("reblogs_count", "favourites_count", "replies_count")]
    followers = account.get("followers_count")
    url = status.get("url")
    return Mention(
        source="mastodon",
        external_id=uri,
        brand=brand,
        text=text,
        author=account["acct"],
        created_at=created,
        url=url if isinstance(url, str) else uri,
        lang=lang if isinstance(lang, str) and lang else None,
        author_reach=followers if isinstance(followers, int) and followers > 0 else 0,
        engagement=sum(c for c in counts if isinstance(c, int) and c > 0),
        raw=json.loads(dump(status)),
    )


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dump(value: Any) -> str:
    """JSON of a Mastodon.py object (its datetimes back to ISO 8601)."""

    def default(item: Any) -> Any:
        if isinstance(item, datetime | date):
            return item.isoformat()
        return str(item)

    return json.dumps(value, ensure_ascii=False, default=default)


def status_key(value: str) -> tuple[int, str]:
    """Mastodon ids sort by length, then as text (they are opaque strings)."""
    return (len(value), value)


def load_cursor(cursor: str | None, *, brand: str) -> tuple[dict[str, str], list[str]]:
    """Per listing its mark (a status id), and the ids seen lately; what cannot be read is dropped
    with one WARNING naming the problem (a listing without a mark is read as on a first poll)."""
    reader = CursorReader(source="mastodon", brand=brand)
    state = reader.load(cursor, reset="reading every listing as on a first poll")
    problems: list[str] = []
    marks = state.get("marks", {})
    if not isinstance(marks, dict):
        problems.append(wrong("marks", "an object", marks))
        marks = {}
    kept = {
        str(k): str(v)
        for k, v in marks.items()
        if isinstance(v, str | int) and not isinstance(v, bool)
    }
    if len(kept) < len(marks):
        problems.append(entries("marks", len(marks) - len(kept), "a status id"))
    ids = texts(state, "seen", "a status id", problems)
    reader.ignore(problems, reset=PARTLY)
    return kept, ids
