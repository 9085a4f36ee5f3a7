"""Emulator of a Mastodon instance's reading API, for ``Mastodon.py``.

Serves ``GET /api/v1/timelines/tag/:name``, ``GET /api/v1/notifications`` (type ``mention``:
statuses naming the token's account in ``mentions``), ``GET /api/v2/search`` (``type=statuses``)
and ``GET /api/v1/instance``. Status and Notification JSON as Mastodon sends it (HTML
``content``, ``language``, ``account`` with ``followers_count``). Ids are decimal strings that
grow with time; pagination as Mastodon's: ``max_id`` (older than), ``since_id`` (newer than,
newest first), ``min_id`` (the ``limit`` statuses immediately newer, returned newest first),
``limit`` up to 40, and a ``Link`` header with ``rel="next"`` (max_id) and ``rel="prev"``
(min_id) on timelines and notifications. Rate limits: ``X-RateLimit-Limit/Remaining/Reset``
(ISO 8601) on every answer, 429 ``{"error": "Too many requests"}`` past the budget; a wrong
token is 401 ``{"error": "The access token is invalid"}``; a bad parameter 422. Search
evaluates its ``q`` with ``listener.query.matches`` (``language:xx`` as ``lang:xx``) on the
statuses' text. Faults: ``inject`` (base) and ``malformed_pages``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from listener.domain import utcnow
from listener.emulators.base import Emulator, Fault, Request, Response
from listener.emulators.corpus import read_jsonl, shift_posts
from listener.errors import ConfigError
from listener.query import matches, parse

TAG_PATH = "/api/v1/timelines/tag/"
NOTIFICATIONS_PATH = "/api/v1/notifications"
SEARCH_PATH = "/api/v2/search"
WINDOW = 300


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class MastodonEmulator(Emulator):
    """A Mastodon instance over an in-memory list of statuses; ``tokens`` maps each access
    token to the username of its account (whose mentions ``/api/v1/notifications`` lists)."""

    def __init__(
        self,
        statuses: Iterable[dict[str, Any]] = (),
        *,
        tokens: Mapping[str, str] | None = None,
        rate_limit: int = 300,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.tokens = dict(tokens or {"emulator-access-token": "listener"})
        self.rate_limit = rate_limit
        self._statuses: list[dict[str, Any]] = []
        self._data_lock = threading.Lock()
        self._window_start = time.time()
        self._used = 0
        self.add(statuses)
        self.route("GET", TAG_PATH + "*", self._api(self._tag))
        self.route("GET", NOTIFICATIONS_PATH, self._api(self._notifications))
        self.route("GET", SEARCH_PATH, self._api(self._search))
        self.route("GET", "/api/v1/instance", self._api(self._instance, auth=False))
        self.route("GET", "/api/v2/instance*", self._api(self._instance, auth=False))

    @classmethod
    def from_jsonl(
        cls, path: Path | str, *, shift_to_now: bool = True, **kwargs: Any
    ) -> MastodonEmulator:
        """An emulator seeded from a JSONL file (format: ``listener.emulators.corpus``)."""
        statuses = list(read_jsonl(path))
        if shift_to_now:
            statuses = shift_posts(statuses, utcnow(), ("created_at",))
        return cls(statuses, **kwargs)

    def add(self, statuses: Iterable[dict[str, Any]]) -> None:
        """Publish more statuses (visible to the next request)."""
        with self._data_lock:
            self._statuses.extend(statuses)
            self._statuses.sort(key=_id_key, reverse=True)

    @property
    def login_hint(self) -> str:
        """The made-up access tokens, for a config pointing at this emulator."""
        return "access tokens: " + ", ".join(f"{t!r} (@{u})" for t, u in self.tokens.items())

    @property
    def statuses(self) -> list[dict[str, Any]]:
        with self._data_lock:
            return list(self._statuses)

    def malformed_pages(
        self, path_prefix: str = "/api/", times: int = 1, *, after: int = 0
    ) -> None:
        """Cut the next ``times`` answers under ``path_prefix`` in half: a 200 that is not JSON."""
        self.inject(Fault(path_prefix=path_prefix, truncate=True, times=times, after=after))

    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        with self._data_lock:
            if now - self._window_start >= WINDOW:
                self._window_start, self._used = now, 0
            self._used += 1
            used, start = self._used, self._window_start
        reset = datetime.fromtimestamp(start + WINDOW, UTC)
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_limit - used, 0)),
            "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }

    def _api(
        self, handler: Callable[[Request, str | None], tuple[Any, str]], *, auth: bool = True
    ) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            rate = self._rate_headers()
            if rate["X-RateLimit-Remaining"] == "0" and self._used > self.rate_limit:
                return Response.json({"error": "Too many requests"}, status=429, headers=rate)
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            user = self.tokens.get(token) if scheme == "Bearer" else None
            if auth and user is None:
                body = {"error": "The access token is invalid"}
                return Response.json(body, status=401, headers=rate)
            try:
                payload, link = handler(request, user)
            except _ApiError as exc:
                return Response.json({"error": str(exc)}, status=exc.status, headers=rate)
            headers = {**rate, "Link": link} if link else rate
            return Response.json(payload, headers=headers)

        return serve

    def _instance(self, _request: Request, _user: str | None) -> tuple[Any, str]:
        info = {"uri": "127.0.0.1", "domain": "127.0.0.1", "title": "listener emulator"}
        return {**info, "version": "4.3.0", "api_versions": {"mastodon": 2}}, ""

    def _tag(self, request: Request, _user: str | None) -> tuple[Any, str]:
        name = request.path[len(TAG_PATH) :].casefold()
        picked = [s for s in self.statuses if name in _tags(s)]
        return self._page(request, picked)

    def _notifications(self, request: Request, user: str | None) -> tuple[Any, str]:
        types = request.query.get("types[]") or request.query.get("types") or []
        if types and "mention" not in types:
            return [], ""
        me = (user or "").casefold()
        mentioned = [s for s in self.statuses if me in _mentioned(s)]
        page, link = self._page(request, mentioned)
        return [_notification(s) for s in page], link

    def _search(self, request: Request, _user: str | None) -> tuple[Any, str]:
        q = request.param("q")
        if not q:
            raise _ApiError(400, "Validation failed: q is missing")
        kind = request.param("type")
        if kind not in (None, "statuses", "accounts", "hashtags"):
            raise _ApiError(422, f"Validation failed: type {kind!r} is not valid")
        try:
            node = parse(q.replace("language:", "lang:"))
        except ConfigError as exc:
            raise _ApiError(422, f"Validation failed: {exc}") from None
        from listener.collectors.mastodon import html_to_text

        hits = [
            s
            for s in self.statuses
            if s.get("reblog") is None
            and matches(node, html_to_text(str(s.get("content", ""))), s.get("language"))
        ]
        offset = _number(request, "offset", 0, 0, 10**6)
        statuses, _link = self._page(request, hits, offset=offset)
        if kind not in (None, "statuses"):
            statuses = []
        return {"accounts": [], "statuses": statuses, "hashtags": []}, ""

    def _page(
        self, request: Request, newest_first: list[dict[str, Any]], *, offset: int = 0
    ) -> tuple[list[dict[str, Any]], str]:
        limit = _number(request, "limit", 20, 1, 10**6)
        limit = min(limit, 40)
        max_id, since_id, min_id = (_id_param(request, n) for n in ("max_id", "since_id", "min_id"))
        rows = [s for s in newest_first if max_id is None or _id_key(s) < max_id]
        if since_id is not None:
            rows = [s for s in rows if _id_key(s) > since_id]
        if min_id is not None:
            newer = [s for s in rows if _id_key(s) > min_id]
            rows = list(reversed(list(reversed(newer))[offset : offset + limit]))
        else:
            rows = rows[offset : offset + limit]
        if not rows:
            return [], ""
        base = f"http://{request.headers.get('host', '127.0.0.1')}{request.path}"
        keep = {
            k: v[0] for k, v in request.query.items() if k not in ("max_id", "min_id", "since_id")
        }
        newest, oldest = str(rows[0]["id"]), str(rows[-1]["id"])
        link = (
            f'<{base}?{urlencode({**keep, "max_id": oldest})}>; rel="next", '
            f'<{base}?{urlencode({**keep, "min_id": newest})}>; rel="prev"'
        )
        return rows, link


def _tags(status: dict[str, Any]) -> set[str]:
    tags = _as_list(status.get("tags"))
    return {str(t.get("name", "")).casefold() for t in tags if isinstance(t, dict)}


def _mentioned(status: dict[str, Any]) -> set[str]:
    mentions = _as_list(status.get("mentions"))
    names = set()
    for m in mentions:
        if isinstance(m, dict):
            names |= {str(m.get("acct", "")).casefold(), str(m.get("username", "")).casefold()}
    return names


def _notification(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(status.get("id")),
        "type": "mention",
        "created_at": status.get("created_at"),
        "account": status.get("account"),
        "status": status,
    }


def _id_key(status: dict[str, Any]) -> int:
    try:
        return int(str(status.get("id")))
    except ValueError:
        return 0


def _id_param(request: Request, name: str) -> int | None:
    value = request.param(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise _ApiError(422, f"Validation failed: {name} must be a status id")
    return int(value)


def _number(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.param(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise _ApiError(422, f"Validation failed: {name} must be a number from {low}")
    return int(value)


def status_id(at: datetime, sequence: int = 0) -> str:
    """A Mastodon-style id for a status created ``at`` (milliseconds << 16, as Mastodon's)."""
    return str((int(at.timestamp() * 1000) << 16) | (sequence & 0xFFFF))


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
