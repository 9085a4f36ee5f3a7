"""Emulator of the Reddit API parts listener reads, for praw/prawcore.

- ``POST /api/v1/access_token``: client-credentials grant with HTTP basic auth (the app id and
  secret); answers a bearer token, or 401 ``{"message": "Unauthorized", "error": 401}``.
- ``GET /r/{subs}/search`` (``q`` in lucene syntax, ``sort=new``, ``restrict_sr``),
  ``/r/{subs}/new`` (submissions) and ``/r/{subs}/comments`` (comments); ``subs`` may be
  ``a+b`` or ``all``.
  Listings page with ``limit`` (max 100) and ``after`` (older) or ``before`` (newer), newest
  first, and reach back at most ``listing_cap`` items (Reddit keeps about 1000 per listing).

Wire details: ``Listing``/``t3``/``t1`` things, fullnames, ``x-ratelimit-used/remaining/reset``
headers, a 401 with ``www-authenticate`` for a missing or wrong token, ``&<>`` escaped as
entities unless ``raw_json=1``. ``resurface(fullname)`` reproduces praw#2090: an old item shows
up again at the top of ``/new``. Usage::

    emu = RedditEmulator.from_jsonl(sample_path("reddit.jsonl")).start()
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from listener.domain import utcnow
from listener.emulators.base import Emulator, Request, Response
from listener.emulators.corpus import read_jsonl, shift_things
from listener.errors import ConfigError
from listener.query import matches, parse

TOKEN_PATH = "/api/v1/access_token"
_ESCAPED = ("title", "selftext", "body", "link_title")


class RedditEmulator(Emulator):
    """Reddit listings and search over an in-memory list of things (``{"kind", "data"}``)."""

    def __init__(
        self,
        things: Iterable[dict[str, Any]] = (),
        *,
        client_id: str = "emulator-client",
        client_secret: str = "emulator-secret",
        rate_limit: int = 100_000,
        window: int = 600,
        closed: Iterable[str] = (),
        listing_cap: int = 1000,
        subscribers: dict[str, int] | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.rate_limit = rate_limit
        self.window = window
        self.closed = {s.casefold() for s in closed}
        """Private or banned subreddits: any listing that names one answers 403, as Reddit does."""
        self.listing_cap = listing_cap
        self.subscribers = {k.casefold(): v for k, v in (subscribers or {}).items()}
        """Subscribers per subreddit: sent as ``subreddit_subscribers`` with every submission,
        as Reddit does (0 for a subreddit not listed here)."""
        """A listing shows only its newest ``listing_cap`` items, as Reddit's do (~1000)."""
        self.tokens: set[str] = set()
        self._things: list[dict[str, Any]] = []
        self._resurfaced: list[str] = []
        self._data_lock = threading.Lock()
        self._window_start = time.time()
        self._used = 0
        self.add(things)
        self.route("POST", TOKEN_PATH, self._token)
        self.route("GET", "/r/*", self._listing)

    @classmethod
    def from_jsonl(
        cls, path: Path | str, *, shift_to_now: bool = True, **kwargs: Any
    ) -> RedditEmulator:
        """An emulator seeded from a JSONL file (format: ``listener.emulators.corpus``)."""
        things = list(read_jsonl(path))
        if shift_to_now:
            things = shift_things(things, utcnow())
        return cls(things, **kwargs)

    def add(self, things: Iterable[dict[str, Any]]) -> None:
        """Publish more submissions/comments."""
        with self._data_lock:
            self._things.extend(things)
            self._things.sort(
                key=lambda t: float(t.get("data", {}).get("created_utc", 0)), reverse=True
            )

    def resurface(self, fullname: str) -> None:
        """Show an existing item again at the top of its ``/new`` or ``/comments`` listing."""
        with self._data_lock:
            self._resurfaced.insert(0, fullname)

    @property
    def things(self) -> list[dict[str, Any]]:
        with self._data_lock:
            return list(self._things)

    def _token(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Response.json({"message": "Unauthorized", "error": 401}, status=401)
        if request.param("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type"})
        token = "emu-" + secrets.token_urlsafe(16)
        with self._data_lock:
            self.tokens.add(token)
        return Response.json(
            {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"}
        )

    def _rate_headers(self) -> dict[str, str]:
        with self._data_lock:
            now = time.time()
            if now - self._window_start >= self.window:
                self._window_start, self._used = now, 0
            self._used += 1
            remaining = max(self.rate_limit - self._used, 0)
            reset = max(int(self._window_start + self.window - now), 0)
        return {
            "x-ratelimit-used": str(self._used),
            "x-ratelimit-remaining": f"{remaining:.1f}",
            "x-ratelimit-reset": str(reset),
        }

    def _listing(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or auth[7:] not in self.tokens:
            headers = {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'}
            return Response.json(
                {"message": "Unauthorized", "error": 401}, status=401, headers=headers
            )
        rate = self._rate_headers()
        if self._used > self.rate_limit:
            return Response.json(
                {"message": "Too Many Requests", "error": 429}, status=429, headers=rate
            )
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[2] not in ("search", "new", "comments"):
            return Response.json({"message": "Not Found", "error": 404}, status=404, headers=rate)
        subs = {s.casefold() for s in parts[1].split("+")}
        if subs & self.closed:
            return Response.json(
                {"message": "Forbidden", "error": 403, "reason": "private"},
                status=403,
                headers=rate,
            )
        try:
            items = self._select(parts[2], subs, request)
        except ValueError as exc:
            return Response.json(
                {"message": "Bad Request", "error": 400, "reason": str(exc)},
                status=400,
                headers=rate,
            )
        items = items[: self.listing_cap]
        limit = min(max(int(request.param("limit") or 25), 1), 100)
        after, before = request.param("after"), request.param("before")
        names = [t["data"].get("name") for t in items]
        newer_left = False
        if after:
            items = items[names.index(after) + 1 :] if after in names else []
        elif before:  # the ``limit`` items just newer than ``before``, still newest first
            newer = items[: names.index(before)] if before in names else []
            items, newer_left = newer[-limit:], len(newer) > limit
        page = items[:limit]
        more = len(items) > limit or bool(before and page)  # a before-page has older items
        raw = request.param("raw_json") == "1"
        children = [self._with_subscribers(thing if raw else _escaped(thing)) for thing in page]
        data = {
            "after": page[-1]["data"].get("name") if more and page else None,
            "dist": len(children),
            "modhash": None,
            "geo_filter": "",
            "children": children,
            "before": page[0]["data"].get("name") if page and (after or newer_left) else None,
        }
        return Response.json({"kind": "Listing", "data": data}, headers=rate)

    def _with_subscribers(self, thing: dict[str, Any]) -> dict[str, Any]:
        data = thing.get("data")
        if (
            thing.get("kind") != "t3"
            or not isinstance(data, dict)
            or "subreddit_subscribers" in data
        ):
            return thing
        sub = str(data.get("subreddit", "")).casefold()
        return {**thing, "data": {**data, "subreddit_subscribers": self.subscribers.get(sub, 0)}}

    def _select(self, what: str, subs: set[str], request: Request) -> list[dict[str, Any]]:
        kind = "t1" if what == "comments" else "t3"
        things = [t for t in self.things if t.get("kind") == kind]
        if "all" not in subs:
            things = [t for t in things if str(t["data"].get("subreddit", "")).casefold() in subs]
        if what == "search":
            try:
                query = parse(request.param("q") or "")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
            text = lambda t: f"{t['data'].get('title', '')}\n{t['data'].get('selftext', '')}"  # noqa: E731
            things = [t for t in things if matches(query, text(t))]
            return things
        with self._data_lock:
            resurfaced = list(self._resurfaced)
        on_top = [t for name in resurfaced for t in things if t["data"].get("name") == name]
        return on_top + [t for t in things if t not in on_top]


def _escaped(thing: dict[str, Any]) -> dict[str, Any]:
    data = dict(thing["data"])
    for key in _ESCAPED:
        if isinstance(data.get(key), str):
            data[key] = html.escape(data[key], quote=False)
    return {**thing, "data": data}
