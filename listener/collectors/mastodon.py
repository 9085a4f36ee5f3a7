"""Mastodon collector: status search, hashtag timelines and the brand account's mentions on one
instance, through ``Mastodon.py``.

Per brand, these listings: one ``/api/v2/search`` (``type=statuses``) per OR branch of its query
(``query.to_mastodon``; a status is kept when it ``matches`` the whole query), the timelines of
its ``hashtags`` and, with ``mentions = true``, the notifications of type ``mention`` of the
account whose token is used (``[brands.mastodon] access_token``, else ``[sources.mastodon]``'s).
Statuses become plain text (``html_to_text``; a content warning goes first), ``language`` is
the status's, reach the author's ``followers_count``; reblogs are left out (not new mentions).

Cursor (JSON): per listing the newest id read. A timeline (hashtag, mentions) is asked for
``min_id`` = that id, which Mastodon answers with the statuses immediately newer, and the
``Link`` header's ``rel="prev"`` is followed, so the mark only ever covers what was read: a poll
cut short (``max_pages``, ``X-RateLimit-Remaining`` 0, a failure) resumes where it stopped. A
search (no Link header) is paged down from the newest status with ``max_id`` to its mark; one
cut short keeps ``since:until:newest`` and the next polls fill the gap first. Nothing is
skipped. A first poll reads the newest ``max_pages`` pages back. Statuses are emitted once per
URI (``seen``).

Errors (raised when a poll's first request fails; later failures keep what was read)::

    429 -> RateLimited(retry_at = X-RateLimit-Reset)   401/403 -> AuthError
    404, 422, 5xx, timeouts, connection errors -> SourceUnavailable

A page that is not JSON is quarantined (its listing keeps its mark, no backoff); a status
without uri, content, account or created_at is quarantined with the reason.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, SecretStr

from listener.collectors._mastodon_statuses import (
    describe,
    dump,
    html_to_text,
    load_cursor,
    status_key,
    status_mention,
)
from listener.collectors._quarantine import MalformedPage, kept
from listener.config import Duration, HttpUrl, NonEmpty, Section
from listener.domain import Batch, BrandQuery, Mention, Quarantined, utcnow
from listener.errors import AuthError, ListenerError, RateLimited, SourceUnavailable
from listener.logs import guard, register_secrets, scrub
from listener.plugins import PluginContext, SourcePlugin
from listener.query import Node, matches, parse, to_mastodon, with_languages

log = logging.getLogger(__name__)
__all__ = ["MastodonBrandOptions", "MastodonCollector", "MastodonSettings", "html_to_text"]

API_VERSION = "4.3.0"
"""The Mastodon version Mastodon.py is told (no /api/v1/instance call to find out)."""


class MastodonSettings(Section):
    """``[sources.mastodon]`` (or ``[mastodon]``): one instance and an app's access token."""

    instance: HttpUrl
    access_token: SecretStr
    interval: Duration = timedelta(minutes=1)
    max_pages: int = Field(default=10, ge=1, le=100)
    page_size: int = Field(default=40, ge=1, le=40)
    timeout: Duration = timedelta(seconds=20)


class MastodonBrandOptions(Section):
    """``[brands.mastodon]``: the brand's hashtags and account."""

    hashtags: list[NonEmpty] = Field(default_factory=list)
    """Without '#'; each hashtag's timeline is read whole."""
    mentions: bool = False
    """Read the notifications (type mention) of the account of ``access_token``."""
    access_token: SecretStr | None = None
    """The brand's own account (for its mentions); unset: ``[sources.mastodon]``'s token."""
    search: bool = True
    """Search the instance with the brand query (off: hashtags and mentions only)."""


@dataclass(frozen=True, slots=True)
class _Listing:
    key: str
    kind: str
    """'search', 'tag' or 'mentions'."""
    arg: str
    node: Node | None


@dataclass(slots=True)
class _Found:
    brand: str
    seen: set[str]
    mentions: list[Mention] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    spent: bool = False


class MastodonCollector:
    """Brand mentions from one Mastodon instance; see the module docstring."""

    source = "mastodon"

    def __init__(
        self,
        *,
        instance: str,
        access_token: str,
        max_pages: int = 10,
        page_size: int = 40,
        timeout: float = 20.0,
        seen_max: int = 2000,
    ) -> None:
        self._instance = instance.rstrip("/")
        self._token = access_token
        self._max_pages = max_pages
        self._page_size = page_size
        self._timeout = timeout
        self._seen_max = seen_max
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        register_secrets(access_token)
        guard("urllib3.connectionpool", "requests")

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        """One poll of the brand's listings (Collector contract)."""
        options = query.options if isinstance(query.options, MastodonBrandOptions) else None
        options = options or MastodonBrandOptions()
        token = options.access_token.get_secret_value() if options.access_token else self._token
        register_secrets(token)
        node = parse(query.query, brand=query.brand)
        wanted = with_languages(node, query.languages)
        listings: list[_Listing] = []
        if options.search:
            listings += [
                _Listing(f"search:{q}", "search", q, wanted)
                for q in to_mastodon(node, query.languages, brand=query.brand)
            ]
        listings += [
            _Listing(f"tag:{t.lstrip('#').casefold()}", "tag", t.lstrip("#"), None)
            for t in options.hashtags
        ]
        if options.mentions:
            listings.append(_Listing("mentions", "mentions", "", None))
        marks, seen = load_cursor(cursor, brand=query.brand)
        found = _Found(brand=query.brand, seen=set(seen))
        client = self._client(token)
        for index, listing in enumerate(listings):
            try:
                read = self._read_search if listing.kind == "search" else self._read
                mark = read(client, listing, marks.get(listing.key), found)
            except ListenerError as exc:
                if index == 0:
                    raise
                log.warning(
                    "mastodon %s: %s failed, keeping the rest: %s", query.brand, listing.key, exc
                )
                if isinstance(exc, RateLimited):
                    break  # the budget is the token's: the other listings wait too
                continue
            if mark:
                marks[listing.key] = mark
            if found.spent:
                log.info("mastodon %s: rate-limit budget spent, the rest waits", query.brand)
                break
        new_seen = [m.external_id for m in found.mentions]
        keys = {item.key for item in listings}
        state = {
            "marks": {k: v for k, v in marks.items() if k in keys},
            "seen": (seen + new_seen)[-self._seen_max :],
        }
        return Batch(
            mentions=found.mentions,
            quarantined=found.quarantined,
            cursor=json.dumps(state, sort_keys=True),
        )

    def _read(self, client: Any, listing: _Listing, mark: str | None, found: _Found) -> str | None:
        """Read one listing past ``mark``; returns its new mark (the newest id read)."""
        newest = mark
        page: Any = None
        for page_no in range(1, self._max_pages + 1):
            try:
                page = self._page(client, listing, mark, page, page_no)
            except MalformedPage as exc:
                found.quarantined.append(
                    exc.quarantined(found.brand, f"{listing.key} page {page_no}")
                )
                return newest
            except ListenerError:
                if page_no == 1:
                    raise
                return newest
            if not page:
                return newest
            for index, item in enumerate(page):
                status = item.get("status") if listing.kind == "mentions" else item
                item_id = str(item.get("id", "")) if isinstance(item, dict) else ""
                if item_id.isdigit() and (
                    newest is None or status_key(item_id) > status_key(newest)
                ):
                    newest = item_id
                self._take(status, listing, found, f"{listing.key} page {page_no} item {index}")
            found.spent = client.ratelimit_remaining <= 0
            if found.spent or len(page) < self._page_size:
                return newest
        return newest

    def _read_search(
        self, client: Any, listing: _Listing, mark: str | None, found: _Found
    ) -> str | None:
        """Page one search down from the newest status to the mark (``since``), with ``max_id``
        only: the mark is checked here, so it does not matter whether the instance answers a
        ``min_id`` with the newest statuses or those right after it. A search cut short keeps
        ``since:until:newest`` and the next polls read the gap first, as the X collector."""
        since, until, newest = [*mark.split(":"), "", ""][:3] if mark else ["", "", ""]
        max_id = until or None
        for page_no in range(1, self._max_pages + 1):
            try:
                statuses = self._search_page(client, listing.arg, max_id)
            except MalformedPage as exc:
                found.quarantined.append(
                    exc.quarantined(found.brand, f"{listing.key} page {page_no}")
                )
                break
            except ListenerError:
                if page_no == 1:
                    raise
                break
            reached = False
            for index, status in enumerate(statuses):
                sid = str(status.get("id", "")) if isinstance(status, dict) else ""
                if not sid.isdigit():
                    continue
                if since and status_key(sid) <= status_key(since):
                    reached = True  # at or below the mark: read before
                    continue
                if not newest or status_key(sid) > status_key(newest):
                    newest = sid
                if max_id is None or status_key(sid) < status_key(max_id):
                    max_id = sid
                location = f"{listing.key} page {page_no} item {index}"
                self._take(status, listing, found, location)
            found.spent = client.ratelimit_remaining <= 0
            if reached or len(statuses) < self._page_size:
                return max((newest, since), key=status_key) or None  # read down to the mark
            if found.spent:
                break
        if not since:  # a first poll reads back max_pages pages, no further
            return newest or None
        return f"{since}:{max_id or until}:{max((newest, since), key=status_key)}"

    def _search_page(self, client: Any, q: str, max_id: str | None) -> list[Any]:
        answer = self._guarded(
            client,
            lambda: client.search_v2(
                q, resolve=False, result_type="statuses", limit=self._page_size, max_id=max_id
            ),
        )
        statuses = answer.get("statuses") if isinstance(answer, dict) else None
        if not isinstance(statuses, list):
            raise MalformedPage(
                "Mastodon sent a search answer without statuses",
                source="mastodon",
                payload=dump(answer),
            )
        return statuses

    def _page(
        self, client: Any, listing: _Listing, mark: str | None, previous: Any, page_no: int
    ) -> Any:
        """A timeline's next page: forward from the mark (``min_id``, then the Link header's
        ``rel="prev"``), or back from the top on a first poll (``rel="next"``)."""
        limit = self._page_size
        if page_no > 1:
            follow = client.fetch_previous if mark is not None else client.fetch_next
            return self._guarded(client, lambda: follow(previous))
        since = {"min_id": mark} if mark is not None else {}
        if listing.kind == "tag":
            return self._guarded(
                client, lambda: client.timeline_hashtag(listing.arg, limit=limit, **since)
            )
        return self._guarded(
            client, lambda: client.notifications(types=["mention"], limit=limit, **since)
        )

    def _take(self, status: Any, listing: _Listing, found: _Found, location: str) -> None:
        if isinstance(status, dict) and status.get("reblog"):
            return  # a boost: not a new mention
        try:
            mention = status_mention(status, found.brand)
        except ValueError as exc:
            found.quarantined.append(
                Quarantined(
                    source="mastodon",
                    brand=found.brand,
                    reason=str(exc),
                    payload=kept(dump(status)),
                    location=location,
                )
            )
            return
        if mention.external_id in found.seen:
            return
        if listing.node is None or matches(listing.node, mention.text, mention.lang):
            found.seen.add(mention.external_id)
            found.mentions.append(mention)

    def _client(self, token: str) -> Any:
        with self._lock:
            if token not in self._clients:
                from mastodon import Mastodon

                self._clients[token] = Mastodon(
                    access_token=token,
                    api_base_url=self._instance,
                    ratelimit_method="throw",
                    request_timeout=self._timeout,
                    mastodon_version=API_VERSION,
                    version_check_mode="created",
                    user_agent="listener",
                )
            return self._clients[token]

    def _guarded(self, client: Any, call: Callable[[], Any]) -> Any:
        """``call()`` with Mastodon.py's errors translated into ours."""
        import mastodon as m

        try:
            return call()
        except m.MastodonRatelimitError as exc:
            reset = client.ratelimit_reset  # from X-RateLimit-Reset; None when not in the future
            retry_at = (
                datetime.fromtimestamp(float(reset), UTC)
                if reset
                else utcnow() + timedelta(seconds=30)  # no reset ahead of us: a short wait
            )
            raise RateLimited(
                f"Mastodon rate limit reached (429), retry at {retry_at:%H:%M:%S}Z",
                retry_at=retry_at,
            ) from exc
        except m.MastodonUnauthorizedError as exc:
            raise AuthError(scrub(f"Mastodon rejected the access token: {describe(exc)}")) from exc
        except m.MastodonNetworkError as exc:
            raise SourceUnavailable(scrub(f"Mastodon unreachable: {exc}")) from exc
        except m.MastodonAPIError as exc:
            text = str(exc.args[0]) if exc.args else ""
            if text.startswith("Could not parse response as JSON"):
                raise MalformedPage(
                    "Mastodon sent a page that is not JSON", source="mastodon", payload=text
                ) from exc
            status = exc.args[1] if len(exc.args) > 1 else None
            if status == 403:
                raise AuthError(scrub(f"Mastodon refused: {describe(exc)}")) from exc
            raise SourceUnavailable(scrub(f"Mastodon error: {describe(exc)}")) from exc
        except m.MastodonError as exc:
            raise SourceUnavailable(scrub(f"Mastodon error: {type(exc).__name__}: {exc}")) from exc


def check_query(query: str, languages: Sequence[str], brand: str, _options: Any) -> None:
    """ConfigError when Mastodon search cannot look for ``query``."""
    to_mastodon(parse(query, brand=brand), languages, brand=brand)


def build(settings: MastodonSettings, context: PluginContext | None = None) -> MastodonCollector:
    """The collector for a ``[sources.mastodon]`` config section."""
    return MastodonCollector(
        instance=settings.instance,
        access_token=settings.access_token.get_secret_value(),
        max_pages=settings.max_pages,
        page_size=settings.page_size,
        timeout=settings.timeout.total_seconds(),
    )


PLUGIN = SourcePlugin(
    kind="mastodon",
    settings=MastodonSettings,
    build=build,
    brand_options=MastodonBrandOptions,
    check_query=check_query,
    summary="Mastodon status search, hashtag timelines and mentions through Mastodon.py",
)
