"""Rows of ``mentions`` as domain objects (shared by the store's readers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from listener.domain import Mention, StoredMention


def to_stored(row: Row[Any]) -> StoredMention:
    """A ``mentions`` row as a StoredMention (``raw`` empty when the row has no raw column)."""
    m = row._mapping
    mention = Mention(
        source=m["source"],
        external_id=m["external_id"],
        brand=m["brand"],
        text=m["text"],
        author=m["author"],
        created_at=m["created_at"],
        url=m["url"],
        lang=m["lang"],
        author_reach=m["author_reach"],
        engagement=m["engagement"],
        in_reply_to=m["in_reply_to"],
        repost_of=m.get("repost_of"),
        raw=m.get("raw", {}),
    )
    return StoredMention(id=m["id"], mention=mention, collected_at=m["collected_at"])
