"""Mastodon collector: status search, hashtag timelines and the brand account's mentions on one
instance, through ``Mastodon.py``.

Per brand, these listings: one ``/api/v2/search`` (``type=statuses``) per OR branch of its query
(``query.to_mastodon``; a status is kept when it ``matches`` the whole query), the timelines of
its ``hashtags`` and, with ``mentions = true``, the notifications of type ``mention`` of the
account whose token is used (``[brands.mastodon] access_token``, else ``[sources.mastodon]``'s).
Statuses become plain text (``html_to_text``; a content warning goes first), ``language`` is
the status's, reach the author's ``followers_count``; reblogs are left out (not new mentions).

Cursor (JSON): per listing the newest id read. A poll asks for ``min_id`` = that id, which
Mastodon answers with the statuses immediately newer, and follows the ``Link`` header's
``rel="prev"`` (search, which sends none, is asked again with the newest id read), so the mark
only ever covers what was read: a poll cut short (``max_pages``, ``X-RateLimit-Remaining`` 0, a
failure) resumes where it stopped, nothing skipped. A first poll reads the newest
``max_pages`` pages back (``rel="next"``). Statuses are emitted once per URI (``seen``).

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
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from pydantic import Field, SecretStr

from listener.config import Duration, HttpUrl, NonEmpty, Section
from listener.domain import Batch, BrandQuery, Mention, Quarantined, utcnow
from listener.errors import AuthError, ListenerError, RateLimited, SourceUnavailable
from listener.logs import guard, register_secrets, scrub
from listener.plugins import PluginContext, SourcePlugin
from listener.query import Node, matches, parse, to_mastodon, with_languages

log = logging.getLogger(__name__)

PAYLOAD_KEPT = 20_000
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
        marks, seen = _load(cursor)
        found = _Found(brand=query.brand, seen=set(seen))
        client = self._client(token)
        for index, listing in enumerate(listings):
            try:
                mark = self._read(client, listing, marks.get(listing.key), found)
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
                page = self._page(client, listing, mark, newest, page, page_no)
            except _Malformed as exc:
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
                if item_id.isdigit() and (newest is None or _id(item_id) > _id(newest)):
                    newest = item_id
                self._take(status, listing, found, f"{listing.key} page {page_no} item {index}")
            found.spent = client.ratelimit_remaining <= 0
            if found.spent or len(page) < self._page_size:
                return newest
        return newest

    def _page(
        self,
        client: Any,
        listing: _Listing,
        mark: str | None,
        newest: str | None,
        previous: Any,
        page_no: int,
    ) -> Any:
        """The next page: forward from ``newest`` (a mark), or back from the top (first poll)."""
        limit = self._page_size
        if listing.kind == "search":
            bound = (
                {"min_id": newest}  # forward from the mark
                if mark is not None
                else {"max_id": str(previous[-1]["id"]) if previous else None}
            )
            answer = self._guarded(
                client,
                lambda: client.search_v2(
                    listing.arg, resolve=False, result_type="statuses", limit=limit, **bound
                ),
            )
            statuses = answer.get("statuses") if isinstance(answer, dict) else None
            if not isinstance(statuses, list):
                raise _Malformed(
                    "Mastodon sent a search answer without statuses", payload=_dump(answer)
                )
            return statuses
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
            mention = _mention(status, found.brand)
        except ValueError as exc:
            found.quarantined.append(
                Quarantined(
                    source="mastodon",
                    brand=found.brand,
                    reason=str(exc),
                    payload=_dump(status)[:PAYLOAD_KEPT],
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
            raise AuthError(scrub(f"Mastodon rejected the access token: {_describe(exc)}")) from exc
        except m.MastodonNetworkError as exc:
            raise SourceUnavailable(scrub(f"Mastodon unreachable: {exc}")) from exc
        except m.MastodonAPIError as exc:
            text = str(exc.args[0]) if exc.args else ""
            if text.startswith("Could not parse response as JSON"):
                raise _Malformed("Mastodon sent a page that is not JSON", payload=text) from exc
            status = exc.args[1] if len(exc.args) > 1 else None
            if status == 403:
                raise AuthError(scrub(f"Mastodon refused: {_describe(exc)}")) from exc
            raise SourceUnavailable(scrub(f"Mastodon error: {_describe(exc)}")) from exc
        except m.MastodonError as exc:
            raise SourceUnavailable(scrub(f"Mastodon error: {type(exc).__name__}: {exc}")) from exc


class _Malformed(SourceUnavailable):
    def __init__(self, message: str, *, payload: str) -> None:
        super().__init__(message)
        self.payload = payload

    def quarantined(self, brand: str, location: str) -> Quarantined:
        return Quarantined(
            source="mastodon",
            brand=brand,
            reason=str(self),
            payload=self.payload[:PAYLOAD_KEPT].replace("\x00", "\\u0000"),
            location=location,
        )


def _describe(exc: Any) -> str:
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


def _mention(status: Any, brand: str) -> Mention:
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
    created = _time(status.get("created_at"))
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
        raw=json.loads(_dump(status)),
    )


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _dump(value: Any) -> str:
    """JSON of a Mastodon.py object (its datetimes back to ISO 8601)."""

    def default(item: Any) -> Any:
        if isinstance(item, datetime | date):
            return item.isoformat()
        return str(item)

    return json.dumps(value, ensure_ascii=False, default=default)


def _id(value: str) -> tuple[int, str]:
    """Mastodon ids sort by length, then as text (they are opaque strings)."""
    return (len(value), value)


def _load(cursor: str | None) -> tuple[dict[str, str], list[str]]:
    if not cursor:
        return {}, []
    try:
        state = json.loads(cursor)
    except json.JSONDecodeError:
        log.warning("mastodon: ignoring unreadable cursor %r", cursor[:100])
        return {}, []
    if not isinstance(state, dict):
        return {}, []
    marks = _as_dict(state.get("marks"))
    seen = _as_list(state.get("seen"))
    return (
        {str(k): str(v) for k, v in marks.items() if isinstance(v, str | int)},
        [s for s in seen if isinstance(s, str)],
    )


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


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
