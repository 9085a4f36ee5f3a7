"""Emulator of the X API v2 recent search (``GET /2/tweets/search/recent``).

Speaks the wire format: string ids, ``data``/``includes.users``/``meta`` with ``newest_id``,
``oldest_id``, ``result_count`` and an opaque ``next_token``; only the requested ``tweet.fields``
and ``user.fields``; ``x-rate-limit-limit/remaining/reset`` headers; problem-JSON errors; a 401
with ``www-authenticate`` for a wrong bearer token. Queries are evaluated with
``listener.query.matches``. Recent search sees the last ``window`` (7 days) only: older tweets
are not found, and a ``since_id``/``until_id`` of a tweet older than that is a 400 naming the
parameter, as X answers it. A post longer than 280 characters comes as X sends long posts:
``text`` cut to 280 characters (ending in an ellipsis), the whole text in ``note_tweet.text`` only
when ``tweet.fields`` asks for ``note_tweet``. ``malformed_pages(n)`` cuts the next n answers in
half. Usage::

    emu = TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token="t").start()
    ... point the client at emu.base_url ...; emu.inject(Fault(status=503)); emu.stop()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.domain import utcnow
from listener.emulators.base import Emulator, Fault, Request, Response
from listener.emulators.corpus import format_x_time, read_jsonl, shift_tweets
from listener.errors import ConfigError
from listener.query import matches, parse

SEARCH_PATH = "/2/tweets/search/recent"
LONG_POST = 280
"""Characters of a post's ``text``; the rest of a longer one is in ``note_tweet``."""
_DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
_DEFAULT_USER_FIELDS = ("id", "name", "username")
_TOKEN_PREFIX = "b26v89c19zqg8o3f"
_EPOCH_MS = 1288834974657
RECENT_WINDOW = timedelta(days=7)


def _problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    kind = "https://api.twitter.com/2/problems/" + title.lower().replace(" ", "-")
    return {"title": title, "detail": detail, "type": kind, "status": status, **extra}


class _Invalid(ValueError):
    """A 400 answer; ``parameters`` names the offending request parameters, as X does."""

    def __init__(self, message: str, **parameters: str) -> None:
        super().__init__(message)
        self.parameters = {name: [value] for name, value in parameters.items()}


class TwitterEmulator(Emulator):
    """X API v2 recent search over an in-memory list of tweets (each with an ``author`` object)."""

    def __init__(
        self,
        tweets: Iterable[dict[str, Any]] = (),
        *,
        bearer_token: str = "emulator-bearer-token",
        rate_limit: int = 450,
        window: timedelta = RECENT_WINDOW,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.bearer_token = bearer_token
        self.rate_limit = rate_limit
        self.window = window
        self._tweets: list[dict[str, Any]] = []
        self._data_lock = threading.Lock()
        self._window_start = time.time()
        self._used = 0
        self.add(tweets)
        self.route("GET", SEARCH_PATH, self._search)

    @classmethod
    def from_jsonl(
        cls, path: Path | str, *, shift_to_now: bool = True, **kwargs: Any
    ) -> TwitterEmulator:
        """An emulator seeded from a JSONL file (format: ``listener.emulators.corpus``)."""
        tweets = list(read_jsonl(path))
        if shift_to_now:
            tweets = shift_tweets(tweets, utcnow())
        return cls(tweets, **kwargs)

    def add(self, tweets: Iterable[dict[str, Any]]) -> None:
        """Publish more tweets (they become visible to the next search)."""
        with self._data_lock:
            self._tweets.extend(tweets)
            self._tweets.sort(key=_id_key, reverse=True)

    def malformed_pages(self, times: int = 1, *, after: int = 0) -> None:
        """Cut the next ``times`` search answers in half (after letting ``after`` through): a
        200 with the real headers and a body that is not valid JSON."""
        self.inject(Fault(path_prefix=SEARCH_PATH, truncate=True, times=times, after=after))

    @property
    def tweets(self) -> list[dict[str, Any]]:
        with self._data_lock:
            return list(self._tweets)

    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        if now - self._window_start >= 900:
            self._window_start, self._used = now, 0
        self._used += 1
        remaining = max(self.rate_limit - self._used, 0)
        return {
            "x-rate-limit-limit": str(self.rate_limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(self._window_start + 900)),
        }

    def _search(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.bearer_token}":
            body = _problem(401, "Unauthorized", "Unauthorized")
            headers = {"www-authenticate": 'Bearer realm="api.twitter.com"'}
            return Response.json(body, status=401, headers=headers)
        rate = self._rate_headers()
        if rate["x-rate-limit-remaining"] == "0" and self._used > self.rate_limit:
            body = _problem(429, "Too Many Requests", "Too Many Requests")
            return Response.json(body, status=429, headers=rate)
        try:
            result = self._answer(request)
        except ValueError as exc:
            parameters = exc.parameters if isinstance(exc, _Invalid) else {}
            body = {
                "errors": [{"parameters": parameters, "message": str(exc)}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }
            return Response.json(body, status=400, headers=rate)
        return Response.json(result, headers=rate)

    def _answer(self, request: Request) -> dict[str, Any]:
        raw_query = request.param("query")
        if not raw_query:
            raise ValueError("The `query` query parameter can not be empty")
        if len(raw_query) > 512:
            raise ValueError(f"The `query` param is too long: {len(raw_query)} > 512")
        try:
            query = parse(raw_query)
        except ConfigError as exc:
            raise ValueError(f"There were errors processing your request: {exc}") from None
        max_results = int(request.param("max_results") or 10)
        if not 10 <= max_results <= 100:
            raise ValueError(
                f"The `max_results` query parameter value [{max_results}] is not between 10 and 100"
            )
        oldest = utcnow() - self.window
        since_id = _id_param(request, "since_id", oldest)
        until_id = _id_param(request, "until_id", oldest)
        token = request.param("next_token") or request.param("pagination_token")
        below = _decode_token(token) if token else None
        start = max(request.param("start_time") or "", format_x_time(oldest))
        end = request.param("end_time")
        picked: list[dict[str, Any]] = []
        more = False
        for tweet in self.tweets:
            tid = _id_key(tweet)
            if tid <= since_id or (until_id and tid >= until_id) or (below and tid >= below):
                continue
            created = str(tweet.get("created_at", ""))
            if (start and created < start) or (end and created >= end):
                continue
            if not matches(query, str(tweet.get("text", "")), tweet.get("lang")):
                continue
            if len(picked) == max_results:
                more = True
                break
            picked.append(tweet)
        return self._page(picked, more, request)

    def _page(self, picked: list[dict[str, Any]], more: bool, request: Request) -> dict[str, Any]:
        tweet_fields = set(_fields(request.param("tweet.fields"))) | set(_DEFAULT_TWEET_FIELDS)
        user_fields = set(_fields(request.param("user.fields"))) | set(_DEFAULT_USER_FIELDS)
        expand_authors = "author_id" in _fields(request.param("expansions"))
        data, users = [], {}
        for tweet in picked:
            item = {
                k: v for k, v in tweet.items() if k in tweet_fields or k not in _KNOWN_TWEET_FIELDS
            }
            item.pop("author", None)
            text = tweet.get("text")
            if isinstance(text, str) and len(text) > LONG_POST and "note_tweet" not in tweet:
                item["text"] = text[: LONG_POST - 1] + "…"
                if "note_tweet" in tweet_fields:
                    item["note_tweet"] = {"text": text}
            if "edit_history_tweet_ids" not in item and "id" in tweet:
                item["edit_history_tweet_ids"] = [tweet["id"]]
            if expand_authors:
                item["author_id"] = tweet.get("author_id")
                author = tweet.get("author")
                if isinstance(author, dict) and "id" in author:
                    users[author["id"]] = {k: v for k, v in author.items() if k in user_fields}
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta["newest_id"] = str(data[0].get("id"))
            meta["oldest_id"] = str(data[-1].get("id"))
        if more and data:
            meta["next_token"] = _encode_token(_id_key(picked[-1]))
        page: dict[str, Any] = {}
        if data:
            page["data"] = data
        if users:
            page["includes"] = {"users": list(users.values())}
        page["meta"] = meta
        return page


_KNOWN_TWEET_FIELDS = frozenset(
    [
        "id",
        "text",
        "edit_history_tweet_ids",
        "created_at",
        "lang",
        "public_metrics",
        "conversation_id",
        "referenced_tweets",
        "author_id",
        "entities",
        "in_reply_to_user_id",
        "possibly_sensitive",
        "source",
        "note_tweet",
    ]
)


def _fields(value: str | None) -> list[str]:
    return [f for f in (value or "").split(",") if f]


def _id_key(tweet: dict[str, Any]) -> int:
    try:
        return int(str(tweet.get("id")))
    except ValueError:
        return 0


def _encode_token(below_id: int) -> str:
    return _TOKEN_PREFIX + format(below_id, "x")


def _decode_token(token: str) -> int:
    if not token.startswith(_TOKEN_PREFIX):
        raise ValueError(f"The `next_token` query parameter value [{token}] is not valid")
    try:
        return int(token[len(_TOKEN_PREFIX) :], 16)
    except ValueError:
        raise ValueError(f"The `next_token` query parameter value [{token}] is not valid") from None


def _id_param(request: Request, name: str, oldest: datetime) -> int:
    """A since_id/until_id parameter; 400 when its tweet is older than the search window."""
    value = request.param(name)
    if not value:
        return 0
    if not value.isdigit():
        raise _Invalid(
            f"The `{name}` query parameter value [{value}] is not valid", **{name: value}
        )
    if snowflake_time(int(value)) < oldest:
        raise _Invalid(
            f"Invalid '{name}':'{value}'. '{name}' must be a tweet id created after"
            f" {oldest:%Y-%m-%dT%H:%MZ}. Please use a 'start_time' instead.",
            **{name: value},
        )
    return int(value)


def snowflake(at: datetime, sequence: int = 0) -> str:
    """A tweet id for a tweet created ``at`` (X ids grow with time: milliseconds << 22)."""
    millis = int(at.timestamp() * 1000) - _EPOCH_MS
    return str((millis << 22) | (sequence & 0x3FFFFF))


def snowflake_time(tweet_id: int) -> datetime:
    """When the tweet with this id was created (the inverse of ``snowflake``)."""
    return datetime.fromtimestamp(((tweet_id >> 22) + _EPOCH_MS) / 1000, UTC)
