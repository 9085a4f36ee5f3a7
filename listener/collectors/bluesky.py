"""Bluesky collector: ``app.bsky.feed.searchPosts`` through the ``atproto`` client.

Per brand, one search per OR branch of its query (``query.to_bluesky``: Bluesky search has no
OR) plus the brand's own ``terms`` (``[brands.bluesky]``), each ``sort=latest``, paged with the
search's ``cursor``, and the brand's ``feeds`` (``app.bsky.feed.getFeed``, read from the top
down to the newest post read last time, less ``overlap``, as a feed need not be in time order;
its posts are kept when they match the brand query). Posts found by the query's searches are
kept when they ``matches`` the whole query (the search syntax cannot say everything, so a search
may find more); posts of ``terms`` are kept as found. Authors' follower counts
(``app.bsky.actor.getProfiles``, 25 per call, cached for ``profile_ttl``) are the reach.

Cursor (JSON): per search its ``since`` (the newest ``sortAt`` read; ``searchPosts`` treats it
as inclusive; asked ``overlap`` earlier, for posts indexed late) and the URIs emitted last
(``seen``), so a post is emitted once however often it is answered. A poll that stops before
the last page (``max_pages``, ``ratelimit-remaining`` 0, a later page failing) saves
``until``/``newest`` for that search and the next polls fill the gap before moving ``since``
on, as the X collector does: nothing is skipped. A first poll reads back ``backfill`` (a day).

Errors (raised when a poll's first request fails; later failures keep what was read)::

    429 RateLimitExceeded -> RateLimited(retry_at = ratelimit-reset)
    401 ExpiredToken/InvalidToken -> log in again once; AuthenticationRequired -> AuthError
    400 InvalidRequest, 5xx, timeouts, connection errors -> SourceUnavailable

A page that is not JSON or not a searchPosts answer is quarantined (its search keeps its place
and is asked again next poll, no backoff); a post without uri, text, author or a readable
createdAt, or whose sortAt is more than ``FUTURE_SKEW`` ahead of this host's clock (it would
move its search's mark past every real post), is quarantined with the reason; the rest goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, SecretStr, field_validator

from listener.collectors._bluesky_posts import (
    FUTURE_SKEW,
    iso,
    load_cursor,
    mark_after,
    parse_time,
    post_mention,
    with_reach,
    xrpc_error,
)
from listener.collectors._quarantine import MalformedPage, kept
from listener.config import Duration, HttpUrl, NonEmpty, Section
from listener.domain import Batch, BrandQuery, Mention, Quarantined, utcnow
from listener.errors import AuthError, ListenerError, RateLimited, SourceUnavailable
from listener.logs import guard, register_secrets, scrub
from listener.plugins import PluginContext, SourcePlugin
from listener.query import Node, matches, parse, to_bluesky, with_languages

log = logging.getLogger(__name__)

PROFILES_PER_CALL = 25
PROFILES_KEPT = 50_000
"""Follower counts cached at most (stale ones are dropped past this)."""


class BlueskySettings(Section):
    """``[sources.bluesky]`` (or ``[bluesky]``): an account on a PDS (an app password)."""

    handle: NonEmpty
    app_password: SecretStr
    api_base: HttpUrl = "https://bsky.social"
    interval: Duration = timedelta(minutes=1)
    max_pages: int = Field(default=10, ge=1, le=100)
    page_size: int = Field(default=100, ge=1, le=100)
    backfill: Duration = timedelta(days=1)
    timeout: Duration = timedelta(seconds=20)


class BlueskyBrandOptions(Section):
    """``[brands.bluesky]``: more searches for the brand, and custom feeds to read."""

    terms: list[NonEmpty] = Field(default_factory=list)
    """Searches in Bluesky's own syntax; what they find is kept as found."""
    feeds: list[NonEmpty] = Field(default_factory=list)
    """Feed generators (``at://did/app.bsky.feed.generator/rkey``); their posts that match the
    brand query are kept."""

    @field_validator("feeds")
    @classmethod
    def _feed_uris(cls, value: list[str]) -> list[str]:
        bad = [
            f for f in value if not f.startswith("at://") or "/app.bsky.feed.generator/" not in f
        ]
        if bad:
            raise ValueError(
                f"expected feed generator URIs such as 'at://did:plc:.../app.bsky.feed.generator/"
                f"name', got {bad[0][:80]!r}"
            )
        return value


@dataclass(frozen=True, slots=True)
class _Search:
    key: str
    q: str
    node: Node | None
    """The brand query a found post must match; None: keep what the search finds."""
    feed: bool = False
    """``q`` is a feed generator's URI, read with app.bsky.feed.getFeed."""


@dataclass(slots=True)
class _Found:
    brand: str
    seen: set[str]
    mentions: list[Mention] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    new_seen: list[str] = field(default_factory=list)


class _Spent(Exception):
    """ratelimit-remaining reached 0: stop this poll where it is."""


class BlueskyCollector:
    """Brand mentions from Bluesky post search; see the module docstring."""

    source = "bluesky"

    def __init__(
        self,
        *,
        handle: str,
        app_password: str,
        api_base: str = "https://bsky.social",
        max_pages: int = 10,
        page_size: int = 100,
        backfill: timedelta = timedelta(days=1),
        timeout: float = 20.0,
        seen_max: int = 2000,
        overlap: timedelta = timedelta(minutes=5),
        profile_ttl: float = 3600.0,
    ) -> None:
        self._handle = handle
        self._password = app_password
        self._api_base = api_base.rstrip("/")
        self._max_pages = max_pages
        self._page_size = page_size
        self._backfill = backfill
        self._timeout = timeout
        self._seen_max = seen_max
        self._overlap = overlap
        self._profile_ttl = profile_ttl
        self._client: Any = None
        self._lock = threading.Lock()
        self._profiles: dict[str, tuple[int, float]] = {}
        register_secrets(app_password)
        guard("httpx", "httpcore", "atproto_client")
        chatty = logging.getLogger("httpx")  # an INFO line per request otherwise
        if chatty.level == logging.NOTSET:
            chatty.setLevel(logging.WARNING)

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        """One poll of the brand's searches (Collector contract)."""
        node = parse(query.query, brand=query.brand)
        searches = [
            _Search(f"q:{q}", q, with_languages(node, query.languages))
            for q in to_bluesky(node, query.languages, brand=query.brand)
        ]
        options = query.options if isinstance(query.options, BlueskyBrandOptions) else None
        searches += [_Search(f"t:{t}", t, None) for t in (options.terms if options else ())]
        searches += [
            _Search(f"f:{f}", f, with_languages(node, query.languages), feed=True)
            for f in (options.feeds if options else ())
        ]
        state = load_cursor(cursor, brand=query.brand)
        marks: dict[str, dict[str, str]] = state["searches"]
        found = _Found(brand=query.brand, seen=set(state["seen"]))
        for index, search in enumerate(searches):
            try:
                read = self._feed if search.feed else self._search
                marks[search.key] = read(search, marks.get(search.key), found)
            except _Spent as spent:
                marks[search.key] = spent.args[0]
                log.info("bluesky %s: rate-limit budget spent, the rest waits", query.brand)
                break
            except ListenerError as exc:
                if index == 0 and not found.mentions:
                    raise
                log.warning(
                    "bluesky %s: search %r failed, keeping the rest: %s", query.brand, search.q, exc
                )
                if isinstance(exc, RateLimited):
                    break  # the budget is the account's: the other searches wait too
        self._add_reach(found)
        seen = (state["seen"] + found.new_seen)[-self._seen_max :]
        keys = {s.key for s in searches}
        kept = {k: v for k, v in marks.items() if k in keys}
        return Batch(
            mentions=found.mentions,
            quarantined=found.quarantined,
            cursor=json.dumps({"searches": kept, "seen": seen}, sort_keys=True),
        )

    def _search(
        self, search: _Search, mark: dict[str, str] | None, found: _Found
    ) -> dict[str, str]:
        """Page one search back to its mark; returns the search's new mark."""
        mark = dict(mark or {"since": iso(utcnow() - self._backfill)})
        newest: datetime | None = parse_time(mark.get("newest"))
        oldest: datetime | None = None
        page_cursor: str | None = None
        complete = False
        for page_no in range(1, self._max_pages + 1):
            try:
                page, spent = self._page(search.q, mark, page_cursor)
            except MalformedPage as exc:
                found.quarantined.append(
                    exc.quarantined(found.brand, f"{search.q!r} page {page_no}")
                )
                break
            except ListenerError:
                if page_no == 1:
                    raise
                break
            for at in self._take(page["posts"], search, found, page_no):
                newest = at if newest is None or at > newest else newest
                oldest = at if oldest is None or at < oldest else oldest
            page_cursor = page.get("cursor") if isinstance(page.get("cursor"), str) else None
            if not page_cursor or not page["posts"]:
                complete = True
                break
            if spent:
                raise _Spent(mark_after(mark, newest, oldest, complete=False))
        return mark_after(mark, newest, oldest, complete=complete)

    def _feed(self, search: _Search, mark: dict[str, str] | None, found: _Found) -> dict[str, str]:
        """Read a feed from its top down to its mark (the newest sortAt read, less ``overlap``:
        a feed need not be in time order), at most ``max_pages`` pages; returns the new mark."""
        since = parse_time((mark or {}).get("since"))
        floor = since - self._overlap if since else utcnow() - self._backfill
        newest = since
        page_cursor: str | None = None
        for page_no in range(1, self._max_pages + 1):
            try:
                page, spent = self._feed_page(search.q, page_cursor)
            except MalformedPage as exc:
                found.quarantined.append(exc.quarantined(found.brand, f"feed page {page_no}"))
                break
            except ListenerError:
                if page_no == 1:
                    raise
                break
            posts = [item.get("post") if isinstance(item, dict) else item for item in page["feed"]]
            times = list(self._take(posts, search, found, page_no, floor=floor))
            newest = max([t for t in (newest, *times) if t is not None], default=None)
            page_cursor = page.get("cursor") if isinstance(page.get("cursor"), str) else None
            if spent:
                raise _Spent({"since": iso(newest)} if newest else dict(mark or {}))
            if not page_cursor or not posts or (times and max(times) < floor):
                break
        return {"since": iso(newest)} if newest else dict(mark or {})

    def _take(
        self,
        posts: list[Any],
        search: _Search,
        found: _Found,
        page_no: int,
        *,
        floor: datetime | None = None,
    ) -> Iterator[datetime]:
        """Parse posts into ``found`` (those at or after ``floor``); yields the sortAt of every
        readable post."""
        latest = utcnow() + FUTURE_SKEW
        for index, post in enumerate(posts):
            try:
                mention, at = post_mention(post, found.brand, latest=latest)
            except ValueError as exc:
                found.quarantined.append(
                    Quarantined(
                        source="bluesky",
                        brand=found.brand,
                        reason=str(exc),
                        payload=kept(json.dumps(post, ensure_ascii=False, default=str)),
                        location=f"{search.q!r} page {page_no} item {index}",
                    )
                )
                continue
            yield at
            if mention.external_id in found.seen or (floor is not None and at < floor):
                continue
            if search.node is None or matches(search.node, mention.text, mention.lang):
                found.seen.add(mention.external_id)
                found.new_seen.append(mention.external_id)
                found.mentions.append(mention)

    def _page(
        self, q: str, mark: dict[str, str], cursor: str | None
    ) -> tuple[dict[str, Any], bool]:
        from atproto import models

        since = parse_time(mark.get("since"))
        params = models.AppBskyFeedSearchPosts.Params(
            q=q,
            sort="latest",
            limit=self._page_size,
            cursor=cursor,
            until=mark.get("until"),
            since=iso(since - self._overlap) if since else None,
        )
        response = self._call("app.bsky.feed.searchPosts", params)
        page = response.content
        if not isinstance(page, dict) or not isinstance(page.get("posts"), list):
            raise MalformedPage(
                "Bluesky sent a searchPosts answer without a posts list",
                source="bluesky",
                payload=json.dumps(page, ensure_ascii=False, default=str)
                if not isinstance(page, bytes)
                else page.decode("utf-8", "replace"),
            )
        return page, str(response.headers.get("ratelimit-remaining", "")) == "0"

    def _feed_page(self, feed: str, cursor: str | None) -> tuple[dict[str, Any], bool]:
        from atproto import models

        params = models.AppBskyFeedGetFeed.Params(feed=feed, limit=self._page_size, cursor=cursor)
        response = self._call("app.bsky.feed.getFeed", params)
        page = response.content
        if not isinstance(page, dict) or not isinstance(page.get("feed"), list):
            raise MalformedPage(
                "Bluesky sent a getFeed answer without a feed list",
                source="bluesky",
                payload=json.dumps(page, ensure_ascii=False, default=str)
                if not isinstance(page, bytes)
                else page.decode("utf-8", "replace"),
            )
        return page, str(response.headers.get("ratelimit-remaining", "")) == "0"

    def _add_reach(self, found: _Found) -> None:
        """Authors' follower counts (cached); left at 0 when Bluesky cannot say now."""
        from atproto import models

        now = time.monotonic()
        if len(self._profiles) > PROFILES_KEPT:
            fresh = {k: v for k, v in self._profiles.items() if now - v[1] <= self._profile_ttl}
            self._profiles = fresh
        dids = {m.raw["author"]["did"] for m in found.mentions}
        wanted = sorted(
            d for d in dids if now - self._profiles.get(d, (0, -1e18))[1] > self._profile_ttl
        )
        try:
            for start in range(0, len(wanted), PROFILES_PER_CALL):
                chunk = wanted[start : start + PROFILES_PER_CALL]
                params = models.AppBskyActorGetProfiles.Params(actors=chunk)
                answer = self._call("app.bsky.actor.getProfiles", params).content
                for profile in answer.get("profiles", []) if isinstance(answer, dict) else []:
                    count = profile.get("followersCount") if isinstance(profile, dict) else None
                    if isinstance(count, int) and isinstance(profile.get("did"), str):
                        self._profiles[profile["did"]] = (max(count, 0), now)
        except (ListenerError, ValueError) as exc:
            log.warning(
                "bluesky %s: follower counts unavailable, reach left at 0: %s", found.brand, exc
            )
        found.mentions[:] = [
            with_reach(m, self._profiles.get(m.raw["author"]["did"], (0, 0))[0])
            for m in found.mentions
        ]

    # -- the client

    def _atproto(self) -> Any:
        with self._lock:
            if self._client is None:
                from atproto import Client
                from atproto_client.request import Request

                client = Client(base_url=self._api_base, request=Request(timeout=self._timeout))
                self._guarded(lambda: client.login(self._handle, self._password))
                self._client = client  # published only once logged in
            return self._client

    def _call(self, nsid: str, params: Any) -> Any:
        client = self._atproto()
        try:
            return self._guarded(lambda: client.invoke_query(nsid, params=params))
        except _Expired:
            with self._lock:
                if self._client is client:
                    self._client = None  # log in again, once
            client = self._atproto()
            return self._guarded(lambda: client.invoke_query(nsid, params=params))

    def _guarded(self, call: Any) -> Any:
        """``call()`` with atproto's errors translated into ours."""
        import httpx
        from atproto import exceptions as ex

        try:
            return call()
        except ex.RateLimitExceededError as exc:
            retry_at = exc.reset_at or utcnow() + timedelta(seconds=exc.retry_after or 60)
            raise RateLimited(
                f"Bluesky rate limit reached (429), retry at {retry_at:%H:%M:%S}Z",
                retry_at=retry_at,
            ) from exc
        except (ex.UnauthorizedError, ex.BadRequestError) as exc:
            error = xrpc_error(exc)
            if error in ("ExpiredToken", "InvalidToken"):
                raise _Expired(error) from exc
            message = scrub(f"Bluesky rejected {self._handle!r}: {exc}")
            if isinstance(exc, ex.UnauthorizedError):
                raise AuthError(message) from exc
            raise SourceUnavailable(scrub(f"Bluesky refused the request: {exc}")) from exc
        except ValueError as exc:  # pydantic_core.from_json on a body that is not JSON
            raise MalformedPage(
                f"Bluesky sent a page that is not JSON ({exc})", source="bluesky", payload=""
            ) from exc
        except (ex.AtProtocolError, httpx.HTTPError) as exc:
            raise SourceUnavailable(
                scrub(f"Bluesky unavailable: {type(exc).__name__}: {exc}")
            ) from exc


class _Expired(SourceUnavailable):
    """The access token expired or was revoked: log in again."""


def check_query(query: str, languages: Sequence[str], brand: str, _options: Any) -> None:
    """ConfigError when Bluesky search cannot look for ``query``."""
    to_bluesky(parse(query, brand=brand), languages, brand=brand)


def build(settings: BlueskySettings, context: PluginContext | None = None) -> BlueskyCollector:
    """The collector for a ``[sources.bluesky]`` config section."""
    return BlueskyCollector(
        handle=settings.handle,
        app_password=settings.app_password.get_secret_value(),
        api_base=settings.api_base,
        max_pages=settings.max_pages,
        page_size=settings.page_size,
        backfill=settings.backfill,
        timeout=settings.timeout.total_seconds(),
    )


PLUGIN = SourcePlugin(
    kind="bluesky",
    settings=BlueskySettings,
    build=build,
    brand_options=BlueskyBrandOptions,
    check_query=check_query,
    summary="Bluesky post search (app.bsky.feed.searchPosts) through atproto",
)
