"""Reddit collector: praw (read-only, client credentials) against ``api_base``/``auth_base``.

Per brand, three listings, newest first: the brand's search (``sort=new``, lucene syntax) across
its subreddits (or r/all), and the new submissions and comments of those subreddits, filtered
locally with the brand query. Submissions become "title + body" mentions, comments their body.

Listings are read as JSON through praw's authenticated session (``Reddit.request``) and paged
with ``after``: praw's model objects would fetch missing attributes lazily (one request per
odd item) and keep no raw payload to quarantine or store.

Cursor (JSON): per listing the newest ``created_utc`` read, and the last ``seen_max`` fullnames.
A listing is read back page by page to ``high_water - overlap`` (however many items arrived
since the last poll, up to ``max_items``), so late arrivals are picked up, and an item already
seen is never emitted again (Reddit re-sends old items as new, praw#2090). A first poll reads
the newest ``limit`` items. When a listing no longer reaches back to its mark (Reddit lists
about 1000 items; or ``max_items`` was read), what was found is kept and one warning per poll
names the brand, the listings and how far back they reached.

Reach: Reddit sends no follower count, so a mention's ``author_reach`` is the number of
subscribers of the subreddit it was posted in (``subreddit_subscribers``, which Reddit sends
with every submission). Comments do not carry it: a comment gets the count last seen on a
submission of its subreddit (this process remembers it for a day), else 0; no extra request is
made for it. A payload that carries the author's karma (``author_karma``: imports, test
generators) uses that instead.

Errors: 429 (or a spent x-ratelimit budget) -> RateLimited; 401/403 -> AuthError (a new token
is fetched next time); 5xx, timeouts -> SourceUnavailable. A malformed page is a bad payload,
not an outage: it is quarantined and its listing keeps its mark (read again next poll). An item
dated more than ``FUTURE_SKEW`` ahead of this host's clock is quarantined and moves no mark (it
would hide every later item older than it); a stored mark that far ahead is dropped. When a
later page or listing fails, what was read is returned and the failed listing keeps its mark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr

from listener.collectors._quarantine import MalformedPage
from listener.collectors._reddit_parts import (
    FUTURE_SKEW,
    Gap,
    Gathered,
    HttpFailure,
    Listing,
    RedditCursor,
    Transport,
    created_utc,
    dump_json,
)
from listener.config import Duration, HttpUrl, NonEmpty, Section
from listener.domain import Batch, BrandQuery, Mention, utcnow
from listener.errors import AuthError, ListenerError, RateLimited, SourceUnavailable
from listener.logs import guard, register_secrets, scrub
from listener.plugins import PluginContext, SourcePlugin
from listener.query import parse, to_reddit

log = logging.getLogger(__name__)
SUBSCRIBERS_KEPT = 86400.0
"""Seconds a subreddit's subscriber count is used for its comments."""
CLOSED_RECHECK = 3600.0
"""Seconds before a subreddit found closed is tried again."""


class RedditCollector:
    """Brand mentions from Reddit search and subreddit listings; see the module docstring."""

    source = "reddit"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        user_agent: str,
        api_base: str = "https://oauth.reddit.com",
        auth_base: str = "https://www.reddit.com",
        limit: int = 100,
        timeout: float = 20.0,
        overlap: timedelta = timedelta(minutes=15),
        seen_max: int = 5000,
        max_items: int = 1000,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._user_agent = user_agent
        self._api_base = api_base.rstrip("/")
        self._auth_base = auth_base.rstrip("/")
        self._limit = limit
        self._max_items = max(max_items, limit)
        self._overlap = overlap.total_seconds()
        self._seen_max = seen_max
        self._transport = Transport(timeout=timeout)
        self._reddit: Any = None
        self._closed: dict[str, float] = {}
        self._subscribers: dict[str, tuple[int, float]] = {}
        """Subreddit (casefolded) -> (subscribers, when seen; monotonic), from submissions."""
        """Subreddits found private, banned or missing (casefolded) -> when (monotonic)."""
        register_secrets(client_secret)
        guard("prawcore", "praw", "urllib3.connectionpool")

    def _praw(self) -> Any:
        if self._reddit is None:
            import praw

            self._reddit = praw.Reddit(
                client_id=self._client_id,
                client_secret=self._client_secret,
                user_agent=self._user_agent,
                oauth_url=self._api_base,
                reddit_url=self._auth_base,
                check_for_updates=False,
                check_for_async=False,
                requestor_class=_requestor_class(),
                requestor_kwargs={"transport": self._transport},
            )
        return self._reddit

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        """One poll of the brand's three listings (Collector contract).

        Reddit answers a combined ``/r/a+b/...`` listing with 403/404 when one of the
        subreddits is private, banned or gone: then each is probed, the closed ones are left
        out (logged, rechecked after an hour) and the poll goes on with the others.
        """
        subreddits = self._open(query)
        try:
            return self._collect(query, subreddits, cursor)
        except (AuthError, SourceUnavailable):
            closed = self._probe(subreddits) if len(subreddits) > 1 else []
            if not closed:
                raise
            log.warning(
                "reddit %s: leaving out closed subreddits %s (private, banned or missing)",
                query.brand,
                ", ".join(f"r/{s}" for s in closed),
            )
            return self._collect(query, self._open(query), cursor)

    def _open(self, query: BrandQuery) -> list[str]:
        now = time.monotonic()
        self._closed = {s: t for s, t in self._closed.items() if now - t < CLOSED_RECHECK}
        wanted = subreddits_of(query)
        subreddits = [s for s in wanted if s.casefold() not in self._closed]
        if wanted and not subreddits:
            raise SourceUnavailable(
                f"every subreddit of {query.brand!r} is private, banned or missing: "
                + ", ".join(f"r/{s}" for s in wanted)
            )
        return subreddits

    def _probe(self, subreddits: list[str]) -> list[str]:
        """The subreddits that answer 403/404 on their own (marked closed)."""
        closed = []
        for sub in subreddits:
            try:
                self._praw().request(method="GET", path=f"/r/{sub}/new", params={"limit": "1"})
            except HttpFailure as exc:
                if exc.status in (403, 404):
                    closed.append(sub)
                    self._closed[sub.casefold()] = time.monotonic()
            except Exception:  # the probe only looks for closed subreddits: other errors
                continue  # are the original failure's business, raised by the caller
        return closed

    def _collect(self, query: BrandQuery, subreddits: list[str], cursor: str | None) -> Batch:
        ast = parse(query.query, brand=query.brand)
        subs = "+".join(subreddits) or "all"
        search = {
            "q": to_reddit(ast),
            "sort": "new",
            "syntax": "lucene",
            "t": "all",  # "week" would hide the last item collected of a quiet brand: a false gap
            "type": "link",
        }
        if subreddits:
            search["restrict_sr"] = "on"
        listings = [Listing("search", f"/r/{subs}/search", search, None)]
        if subreddits:
            listings += [
                Listing("new", f"/r/{subs}/new", {}, ast),
                Listing("comments", f"/r/{subs}/comments", {}, ast),
            ]
        latest = utcnow().timestamp() + FUTURE_SKEW
        state = RedditCursor.load(cursor, brand=query.brand, latest=latest)
        out = Gathered(brand=query.brand, seen=set(state.seen), latest=latest)
        for index, listing in enumerate(listings):
            try:
                newest = self._read(listing, state, out)
            except ListenerError as exc:
                if index == 0:
                    raise
                log.warning(
                    "reddit %s: listing %s failed, keeping the others: %s",
                    query.brand,
                    listing.key,
                    exc,
                )
                continue
            if newest is not None:
                state.high_water[listing.key] = max(newest, state.high_water.get(listing.key, 0.0))
        if out.gaps:
            log.warning(
                "reddit %s: cannot read back to the last item collected, what was posted in"
                " between is lost: %s",
                query.brand,
                "; ".join(gap.describe(self._max_items) for gap in out.gaps),
            )
        return Batch(
            mentions=self._with_reach(out.mentions),
            quarantined=out.quarantined,
            cursor=state.dump(self._seen_max),
        )

    def _with_reach(self, mentions: list[Mention]) -> list[Mention]:
        """Comments get their subreddit's subscribers, as last seen on a submission."""
        now = time.monotonic()
        for m in mentions:
            data = m.raw.get("data") if isinstance(m.raw, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("subreddit"), str):
                continue
            count = data.get("subreddit_subscribers")
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                self._subscribers[data["subreddit"].casefold()] = (count, now)
        self._subscribers = {
            k: v for k, v in self._subscribers.items() if now - v[1] < SUBSCRIBERS_KEPT
        }
        out = []
        for m in mentions:
            data = m.raw.get("data") if isinstance(m.raw, dict) else None
            sub = data.get("subreddit") if isinstance(data, dict) else None
            known = self._subscribers.get(sub.casefold()) if isinstance(sub, str) else None
            if m.author_reach == 0 and known is not None and known[0] > 0:
                m = replace(m, author_reach=known[0])
            out.append(m)
        return out

    def _read(self, listing: Listing, state: RedditCursor, out: Gathered) -> float | None:
        """Page back through one listing to its high-water mark, at most ``max_items`` items (on
        a first poll, ``limit``); returns the newest created_utc read, or None when the listing
        could not be read to the end (its mark stays, so the next poll reads it again)."""
        mark = state.high_water.get(listing.key)
        floor = mark - self._overlap if mark is not None else None
        budget = self._max_items if mark is not None else self._limit
        newest: float | None = None
        oldest: float | None = None  # created_utc at the bottom of the last page read
        reached = mark is None
        after: str | None = None
        read = 0
        page_no = 0
        while True:
            page_no += 1
            params = {**listing.params, "limit": str(min(100, budget - read))}
            try:
                children, after = self._page(listing.path, params, after)
            except MalformedPage as exc:  # a bad payload, not an outage: no backoff
                log.warning(
                    "reddit %s: %s page %d quarantined: %s", out.brand, listing.path, page_no, exc
                )
                out.quarantined.append(exc.quarantined(out.brand, f"{listing.path} page {page_no}"))
                return None
            except ListenerError as exc:
                if page_no == 1:
                    raise
                log.warning(
                    "reddit %s: %s page %d failed, keeping the %d items read: %s",
                    out.brand,
                    listing.path,
                    page_no,
                    read,
                    exc,
                )
                return None
            oldest_on_page: float | None = None
            for position, thing in enumerate(children):
                read += 1
                data = thing.get("data") if isinstance(thing, dict) else None
                created = created_utc(data, out.latest)
                if created is not None:
                    oldest_on_page = created
                    if floor is not None and created < floor:
                        continue  # an old item shown again (praw#2090); newer ones may follow
                    newest = created if newest is None else max(newest, created)
                name = data.get("name") if isinstance(data, dict) else None
                if isinstance(name, str) and name in out.seen:
                    continue
                if listing.keep(thing):
                    out.take(thing, f"{listing.path} page {page_no} item {position}")
                if isinstance(name, str):
                    out.seen.add(name)
                    state.seen.append(name)
            if oldest_on_page is not None:
                oldest = oldest_on_page
                reached = reached or (mark is not None and oldest_on_page <= mark)
            if floor is not None and oldest_on_page is not None and oldest_on_page < floor:
                break  # read past the mark and its overlap
            if not after or not children or read >= budget:
                break
        if not reached and mark is not None and oldest is not None:
            out.gaps.append(
                Gap(path=listing.path, oldest=oldest, mark=mark, read=read, bounded=bool(after))
            )
        return newest

    def _page(
        self, path: str, params: dict[str, str], after: str | None
    ) -> tuple[list[Any], str | None]:
        import prawcore

        if after:
            params = {**params, "after": after}
        try:
            listing = self._praw().request(method="GET", path=path, params=params)
        except HttpFailure as exc:
            raise self._map(exc) from exc
        except prawcore.BadJSON as exc:
            raise MalformedPage(
                f"Reddit sent a page that is not JSON for {path}",
                source="reddit",
                payload=exc.response.content.decode("utf-8", "replace"),
            ) from exc
        except prawcore.OAuthException as exc:
            self._reddit = None
            raise AuthError(
                self._clean(f"Reddit rejected the app credentials: {exc.error}")
            ) from exc
        except prawcore.PrawcoreException as exc:
            raise SourceUnavailable(
                self._clean(f"Reddit error for {path}: {type(exc).__name__}: {exc}")
            ) from exc
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("children"), list):
            raise MalformedPage(
                f"Reddit sent a page that is not a Listing for {path}",
                source="reddit",
                payload=dump_json(listing),
            )
        after_name = data.get("after")
        return data["children"], after_name if isinstance(after_name, str) and after_name else None

    def _map(self, exc: HttpFailure) -> ListenerError:
        if exc.status == 429:
            seconds = exc.reset_seconds if exc.reset_seconds is not None else 60.0
            retry_at = utcnow() + timedelta(seconds=max(seconds, 1.0))
            return RateLimited(
                f"Reddit rate limit reached (429), retry at {retry_at:%H:%M:%S}Z", retry_at=retry_at
            )
        if exc.status in (401, 403):
            self._reddit = None  # the next run fetches a fresh token
            return AuthError(self._clean(f"Reddit rejected the credentials or token: {exc}"))
        return SourceUnavailable(self._clean(f"Reddit unavailable: {exc}"))

    def _clean(self, text: str) -> str:
        return scrub(text)


class RedditSettings(Section):
    """``[sources.reddit]`` (or ``[reddit]``): Reddit's OAuth API through praw."""

    client_id: SecretStr
    client_secret: SecretStr
    user_agent: NonEmpty
    api_base: HttpUrl = "https://oauth.reddit.com"
    auth_base: HttpUrl = "https://www.reddit.com"
    interval: Duration = timedelta(minutes=2)
    limit: int = Field(default=100, ge=1, le=1000)
    timeout: Duration = timedelta(seconds=20)


class RedditBrandOptions(Section):
    """``[brands.reddit]``: where to look for the brand (old key: ``[[brands]] subreddits``)."""

    subreddits: list[NonEmpty] = Field(default_factory=list)
    """Subreddits whose new posts and comments are read too; empty: site-wide search only."""


def subreddits_of(query: BrandQuery) -> tuple[str, ...]:
    """The brand's subreddits: its ``[brands.reddit]`` options, else the old field."""
    if isinstance(query.options, RedditBrandOptions) and query.options.subreddits:
        return tuple(query.options.subreddits)
    return query.subreddits


def check_query(query: str, _languages: Sequence[str], brand: str, _options: Any) -> None:
    """ConfigError when Reddit's search cannot express ``query``."""
    to_reddit(parse(query, brand=brand))


def build(settings: RedditSettings, context: PluginContext | None = None) -> RedditCollector:
    """The collector for a ``[sources.reddit]`` config section."""
    return RedditCollector(
        client_id=settings.client_id.get_secret_value(),
        client_secret=settings.client_secret.get_secret_value(),
        user_agent=settings.user_agent,
        api_base=settings.api_base,
        auth_base=settings.auth_base,
        limit=settings.limit,
        timeout=settings.timeout.total_seconds(),
    )


PLUGIN = SourcePlugin(
    kind="reddit",
    settings=RedditSettings,
    build=build,
    brand_options=RedditBrandOptions,
    brand_aliases={"subreddits": "subreddits"},
    check_query=check_query,
    summary="Reddit search, new posts and comments, through praw",
)


def _requestor_class() -> type:
    from listener.collectors._reddit_parts import Requestor

    return Requestor
