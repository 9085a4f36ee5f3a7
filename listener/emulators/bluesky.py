"""Emulator of a Bluesky PDS for listener's reads (XRPC under ``/xrpc/``).

Speaks the wire format the ``atproto`` client expects: ``com.atproto.server.createSession`` and
``refreshSession`` (JWTs whose payload carries ``exp``, no DID document, so the client stays on
this host), ``app.bsky.feed.searchPosts`` (PostViews newest first by ``sortAt`` = the earlier of
``record.createdAt`` and ``indexedAt``; ``since`` inclusive, ``until`` exclusive; ``lang``;
``sort``; a numeric-offset ``cursor`` as the AppView sends, so posts arriving between two pages
shift the next page), ``app.bsky.feed.getFeed`` (feeds set up with ``add_feed``; 400
UnknownFeed otherwise), ``app.bsky.actor.getProfile`` and ``getProfiles`` (at most 25 actors;
unknown ones left out). Every answer carries ``ratelimit-limit/remaining/reset/policy``; errors
are XRPC bodies ``{"error": ..., "message": ...}``: 400 InvalidRequest, 401
AuthenticationRequired / ExpiredToken, 429 RateLimitExceeded. Queries are evaluated with
``listener.query.matches`` on the post text. Faults: ``inject`` (base), ``malformed_pages``,
``expire_sessions``. Usage::

    emu = BlueskyEmulator.from_jsonl(sample_path("bluesky.jsonl")).start()
    client = atproto.Client(base_url=emu.base_url); client.login(emu.handle, emu.password)
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from listener.domain import utcnow
from listener.emulators.base import Emulator, Fault, Request, Response
from listener.emulators.corpus import read_jsonl, shift_posts
from listener.errors import ConfigError
from listener.query import Node, matches, parse

XRPC = "/xrpc/"
SEARCH_PATH = XRPC + "app.bsky.feed.searchPosts"
PROFILES_PATH = XRPC + "app.bsky.actor.getProfiles"
FEED_PATH = XRPC + "app.bsky.feed.getFeed"
SESSION_PATH = XRPC + "com.atproto.server.createSession"
WINDOW = 300
"""Seconds of one rate-limit window (the policy ``limit;w=300``)."""
_PROFILE_FIELDS = ("followersCount", "followsCount", "postsCount", "description")


class _XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class BlueskyEmulator(Emulator):
    """A PDS with one account (``handle``/``password``) over an in-memory list of PostViews,
    each with its author's full profile (followersCount, ...) inside ``author``."""

    def __init__(
        self,
        posts: Iterable[dict[str, Any]] = (),
        *,
        handle: str = "listener.bsky.social",
        password: str = "emulator-app-password",
        rate_limit: int = 3000,
        access_ttl: float = 7200.0,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.handle = handle
        self.password = password
        self.did = "did:plc:" + secrets.token_hex(12)
        self.rate_limit = rate_limit
        self.access_ttl = access_ttl
        self._posts: list[dict[str, Any]] = []
        self._feeds: dict[str, Node] = {}
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        self._data_lock = threading.Lock()
        self._window_start = time.time()
        self._used = 0
        self.add(posts)
        self.route("POST", SESSION_PATH, self._xrpc(self._create_session, auth=False))
        refresh = self._xrpc(self._refresh_session, auth=False)
        self.route("POST", XRPC + "com.atproto.server.refreshSession", refresh)
        self.route("GET", SEARCH_PATH, self._xrpc(self._search))
        self.route("GET", PROFILES_PATH, self._xrpc(self._profiles))
        self.route("GET", FEED_PATH, self._xrpc(self._feed))
        self.route("GET", XRPC + "app.bsky.actor.getProfile", self._xrpc(self._profile))

    @classmethod
    def from_jsonl(
        cls, path: Path | str, *, shift_to_now: bool = True, **kwargs: Any
    ) -> BlueskyEmulator:
        """An emulator seeded from a JSONL file (format: ``listener.emulators.corpus``)."""
        posts = list(read_jsonl(path))
        if shift_to_now:
            posts = shift_posts(posts, utcnow(), ("indexedAt", "record.createdAt"))
        return cls(posts, **kwargs)

    def add(self, posts: Iterable[dict[str, Any]]) -> None:
        """Publish more posts (visible to the next search)."""
        with self._data_lock:
            self._posts.extend(posts)
            self._posts.sort(key=lambda p: _parse_time(sort_at(p)), reverse=True)

    @property
    def login_hint(self) -> str:
        """The made-up account, for a config pointing at this emulator."""
        return f"log in as handle={self.handle!r} app_password={self.password!r}"

    @property
    def posts(self) -> list[dict[str, Any]]:
        with self._data_lock:
            return list(self._posts)

    def add_feed(self, uri: str, query: str) -> None:
        """Serve a custom feed at ``uri`` (a feed generator's at:// URI): the posts matching
        ``query`` (listener's query language), newest first."""
        self._feeds[uri] = parse(query)

    def malformed_pages(self, times: int = 1, *, after: int = 0) -> None:
        """Cut the next ``times`` search answers in half: a 200 that is not JSON."""
        self.inject(Fault(path_prefix=SEARCH_PATH, truncate=True, times=times, after=after))

    def expire_sessions(self) -> None:
        """Every access token issued so far is answered 401 ExpiredToken from now on."""
        with self._data_lock:
            self._access = {token: 0.0 for token in self._access}

    # -- plumbing

    def _rate_headers(self) -> dict[str, str]:
        now = time.time()
        with self._data_lock:
            if now - self._window_start >= WINDOW:
                self._window_start, self._used = now, 0
            self._used += 1
            used, start = self._used, self._window_start
        return {
            "ratelimit-limit": str(self.rate_limit),
            "ratelimit-remaining": str(max(self.rate_limit - used, 0)),
            "ratelimit-reset": str(int(start + WINDOW)),
            "ratelimit-policy": f"{self.rate_limit};w={WINDOW}",
        }

    def _xrpc(self, handler: Any, *, auth: bool = True) -> Any:
        def serve(request: Request) -> Response:
            rate = self._rate_headers()
            if int(rate["ratelimit-remaining"]) == 0 and self._used > self.rate_limit:
                body = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
                return Response.json(body, status=429, headers=rate)
            try:
                if auth:
                    self._check_access(request)
                return Response.json(handler(request), headers=rate)
            except _XrpcError as exc:
                body = {"error": exc.error, "message": exc.message}
                return Response.json(body, status=exc.status, headers=rate)

        return serve

    def _check_access(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            raise _XrpcError(401, "AuthenticationRequired", "Authentication Required")
        with self._data_lock:
            expires = self._access.get(token)
        if expires is None:
            raise _XrpcError(401, "InvalidToken", "Token could not be verified")
        if expires <= time.time():
            raise _XrpcError(401, "ExpiredToken", "Token has expired")

    def _tokens(self) -> dict[str, Any]:
        now = time.time()
        access = _jwt(
            {
                "scope": "com.atproto.appPass",
                "sub": self.did,
                "iat": int(now),
                "exp": int(now + self.access_ttl),
                "aud": "did:web:emulator",
            }
        )
        refresh = _jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": self.did,
                "iat": int(now),
                "exp": int(now + 90 * 86400),
                "jti": secrets.token_hex(8),
            }
        )
        with self._data_lock:
            self._access[access] = now + self.access_ttl
            self._refresh.add(refresh)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": self.handle,
            "did": self.did,
            "active": True,
        }

    def _create_session(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _XrpcError(400, "InvalidRequest", "Request body is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("identifier"), str):
            raise _XrpcError(400, "InvalidRequest", 'Input must have the property "identifier"')
        if body["identifier"] not in (self.handle, self.did) or body.get("password") != (
            self.password
        ):
            raise _XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._tokens()

    def _refresh_session(self, request: Request) -> dict[str, Any]:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._data_lock:
            known = token in self._refresh
            self._refresh.discard(token)
        if not known:
            raise _XrpcError(400, "ExpiredToken", "Token has been revoked")
        return self._tokens()

    # -- methods

    def _search(self, request: Request) -> dict[str, Any]:
        q = request.param("q")
        if not q:
            raise _XrpcError(400, "InvalidRequest", 'Error: Params must have the property "q"')
        try:
            node = parse(q)
        except ConfigError as exc:
            raise _XrpcError(400, "InvalidRequest", f"Error: bad query: {exc}") from None
        limit = _int_param(request, "limit", 25, 1, 100)
        offset = _int_param(request, "cursor", 0, 0, 10**9)
        since, until = _time_param(request, "since"), _time_param(request, "until")
        lang = request.param("lang")
        if request.param("sort", "latest") not in ("latest", "top"):
            raise _XrpcError(400, "InvalidRequest", 'Error: Params sort must be "top" or "latest"')
        hits = []
        for post in self.posts:
            at = _parse_time(sort_at(post))
            if (since and at < since) or (until and at >= until):
                continue
            record = _as_dict(post.get("record"))
            langs = _as_list(record.get("langs"))
            if lang and lang not in langs:
                continue
            text = record.get("text")
            if matches(node, text if isinstance(text, str) else "", langs[0] if langs else None):
                hits.append(post)
        page = hits[offset : offset + limit]
        answer: dict[str, Any] = {"posts": [_post_view(p) for p in page], "hitsTotal": len(hits)}
        if offset + limit < len(hits):
            answer["cursor"] = str(offset + limit)
        return answer

    def _feed(self, request: Request) -> dict[str, Any]:
        uri = request.param("feed") or ""
        if uri not in self._feeds:
            raise _XrpcError(400, "UnknownFeed", f"could not find feed: {uri}")
        limit = _int_param(request, "limit", 50, 1, 100)
        offset = _int_param(request, "cursor", 0, 0, 10**9)
        node = self._feeds[uri]
        hits = []
        for post in self.posts:
            record = _as_dict(post.get("record"))
            text, langs = record.get("text"), _as_list(record.get("langs"))
            if matches(node, text if isinstance(text, str) else "", langs[0] if langs else None):
                hits.append(post)
        answer: dict[str, Any] = {
            "feed": [{"post": _post_view(p)} for p in hits[offset : offset + limit]]
        }
        if offset + limit < len(hits):
            answer["cursor"] = str(offset + limit)
        return answer

    def _known_profiles(self) -> dict[str, dict[str, Any]]:
        profiles: dict[str, dict[str, Any]] = {}
        for post in self.posts:
            author = post.get("author")
            if isinstance(author, dict) and isinstance(author.get("did"), str):
                profiles.setdefault(author["did"], author)
                profiles.setdefault(str(author.get("handle")), author)
        return profiles

    def _profiles(self, request: Request) -> dict[str, Any]:
        actors = request.query.get("actors") or []
        if not actors:
            raise _XrpcError(400, "InvalidRequest", 'Error: Params must have the property "actors"')
        if len(actors) > 25:
            raise _XrpcError(400, "InvalidRequest", "Error: actors must not have more than 25")
        known = self._known_profiles()
        return {"profiles": [_profile_view(known[a]) for a in actors if a in known]}

    def _profile(self, request: Request) -> dict[str, Any]:
        actor = request.param("actor") or ""
        if actor in (self.handle, self.did):
            return {"did": self.did, "handle": self.handle, "followersCount": 0}
        known = self._known_profiles()
        if actor not in known:
            raise _XrpcError(400, "InvalidRequest", "Profile not found")
        return _profile_view(known[actor])


def sort_at(post: dict[str, Any]) -> str:
    """The post's ``sortAt`` as the AppView orders search: the earlier of createdAt and
    indexedAt (a backdated createdAt cannot jump the queue); '' when neither is readable."""
    record = _as_dict(post.get("record"))
    times = [t for t in (record.get("createdAt"), post.get("indexedAt")) if isinstance(t, str)]
    valid = [(at, t) for t in times if (at := _parse_time(t)).year > 1]
    return min(valid)[1] if valid else ""


def _post_view(post: dict[str, Any]) -> dict[str, Any]:
    view = dict(post)
    author = post.get("author")
    if isinstance(author, dict):
        view["author"] = {k: v for k, v in author.items() if k not in _PROFILE_FIELDS}
    return view


def _profile_view(author: dict[str, Any]) -> dict[str, Any]:
    return {**author, "indexedAt": author.get("indexedAt", "2024-01-01T00:00:00.000Z")}


def _jwt(payload: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(payload)}.{signature}"


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _time_param(request: Request, name: str) -> datetime | None:
    value = request.param(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _XrpcError(400, "InvalidRequest", f"Error: {name} must be a valid datetime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = request.param(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _XrpcError(400, "InvalidRequest", f"Error: {name} must be an integer") from None
    if not low <= number <= high:
        raise _XrpcError(
            400, "InvalidRequest", f"Error: {name} must be between {low} and {high}"
        ) from None
    return number


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
