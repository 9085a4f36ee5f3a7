"""Seed files of the emulators: JSONL in the platforms' own payload shapes.

``twitter.jsonl``: one X API v2 tweet object per line, as recent search returns it with
``tweet.fields=created_at,lang,public_metrics,conversation_id,referenced_tweets,author_id``, plus
the expanded author under ``"author"`` (a v2 user object: id, username, name, verified,
public_metrics). ``text`` is as X sends it: ``&``, ``<`` and ``>`` escaped as HTML entities.

``reddit.jsonl``: one Reddit thing per line, ``{"kind": "t3" | "t1", "data": {...}}``, as the API
sends it with ``raw_json=1`` (text unescaped); ``created_utc`` in epoch seconds.

``bluesky.jsonl``: one ``app.bsky.feed.defs#postView`` per line (uri, cid, author, record with
text/createdAt/langs, indexedAt, like/repost/reply/quote counts), the author carrying its
profile's ``followersCount``/``followsCount``/``postsCount`` too (served by getProfiles).

``mastodon.jsonl``: one Mastodon Status per line (HTML ``content``, ``language``, ``account``
with ``acct`` and ``followers_count``, ``tags``, ``mentions``). Both are made from the X half by
scripts/corpus/fediverse_corpus.py.

Timestamps are absolute. Recent search only covers 7 days, so the emulators shift every
timestamp by one offset that makes the newest item ``now - 1 minute`` (``shift_to_now``); the
order of items is unchanged. X ids are snowflakes that encode their tweet's creation time (and
X refuses a ``since_id`` older than 7 days), so ``shift_tweets`` moves them, and the tweet ids
they refer to, by the same offset: each still encodes its own ``created_at``. Lines starting
with ``//`` are comments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

_X_TIME = "%Y-%m-%dT%H:%M:%S.000Z"
_SNOWFLAKE_SEQUENCE_BITS = 22
"""An X id is its creation time in milliseconds shifted left by these bits, plus a sequence."""


def sample_path(name: str) -> Path:
    """Path of a shipped sample corpus: ``twitter.jsonl``, ``reddit.jsonl``, ``bluesky.jsonl``
    or ``mastodon.jsonl``."""
    return Path(str(resources.files("listener.emulators").joinpath("data", name)))


def read_jsonl(path: Path | str) -> Iterator[dict[str, Any]]:
    """The JSON objects of a seed file; raises ValueError naming file and line when one is bad."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("//"):
                continue
            try:
                item = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(item, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            yield item


def write_jsonl(path: Path | str, items: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")


def parse_x_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def format_x_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_X_TIME)


def shift_tweets(tweets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Copies of ``tweets`` with ``created_at`` moved by whole seconds so the newest is
    ``now - 1 minute``, and their ids (``id``, ``conversation_id``, ``edit_history_tweet_ids``,
    ``referenced_tweets``) moved by the same time: unique, in the same order, each encoding its
    tweet's new ``created_at`` as X's do, so a since_id from them is inside the search window."""
    times = [parse_x_time(t["created_at"]) for t in tweets if isinstance(t.get("created_at"), str)]
    if not times:
        return [dict(t) for t in tweets]
    # whole seconds: created_at has none below them, so it stays the floor of its id's time
    delta = timedelta(seconds=((now - timedelta(minutes=1)) - max(times)) // timedelta(seconds=1))
    offset = (delta // timedelta(milliseconds=1)) << _SNOWFLAKE_SEQUENCE_BITS

    def moved(tweet_id: Any) -> Any:
        if isinstance(tweet_id, str) and tweet_id.isascii() and tweet_id.isdigit():
            return str(int(tweet_id) + offset)
        return tweet_id

    shifted = []
    for tweet in tweets:
        copy = dict(tweet)
        if isinstance(copy.get("created_at"), str):
            copy["created_at"] = format_x_time(parse_x_time(copy["created_at"]) + delta)
        for key in ("id", "conversation_id"):
            if key in copy:
                copy[key] = moved(copy[key])
        if isinstance(copy.get("edit_history_tweet_ids"), list):
            copy["edit_history_tweet_ids"] = [moved(i) for i in copy["edit_history_tweet_ids"]]
        if isinstance(copy.get("referenced_tweets"), list):
            copy["referenced_tweets"] = [
                {**ref, "id": moved(ref.get("id"))}
                if isinstance(ref, dict) and "id" in ref
                else ref
                for ref in copy["referenced_tweets"]
            ]
        shifted.append(copy)
    return shifted


def shift_things(things: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Copies of Reddit ``things``, ``created_utc`` moved so the newest is ``now - 1 minute``."""
    times = [float(t["data"]["created_utc"]) for t in things if "created_utc" in t.get("data", {})]
    if not times:
        return [dict(t) for t in things]
    delta = (now - timedelta(minutes=1)).timestamp() - max(times)
    shifted = []
    for thing in things:
        data = dict(thing.get("data", {}))
        if "created_utc" in data:
            data["created_utc"] = round(float(data["created_utc"]) + delta)
            data["created"] = data["created_utc"]
        shifted.append({**thing, "data": data})
    return shifted


def shift_posts(
    posts: list[dict[str, Any]], now: datetime, fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Copies of ``posts`` with the ISO 8601 times at ``fields`` (dotted paths such as
    ``record.createdAt``) moved by one offset that makes the newest ``now - 1 minute``."""

    def get(post: dict[str, Any], path: str) -> Any:
        node: Any = post
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        return node

    times = [parse_x_time(v) for p in posts for f in fields if isinstance(v := get(p, f), str)]
    if not times:
        return [dict(p) for p in posts]
    delta = (now - timedelta(minutes=1)) - max(times)
    shifted = []
    for post in posts:
        copy = json.loads(json.dumps(post))
        for path in fields:
            *parents, last = path.split(".")
            node = copy
            for key in parents:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and isinstance(node.get(last), str):
                node[last] = format_x_time(parse_x_time(node[last]) + delta)
        shifted.append(copy)
    return shifted
