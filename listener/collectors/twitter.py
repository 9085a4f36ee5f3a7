"""Twitter/X collector: tweepy ``Client.search_recent_tweets`` (API v2) with since_id polling.

Cursor (JSON): ``{"since_id": S}`` in the steady state. Results come newest first, so a run that
stops before the last page (``max_pages`` reached, or a later page failed) cannot move since_id
to the newest id yet: it saves ``{"since_id": S, "until_id": U, "newest_id": N}`` and the next
runs fill the gap ``(S, U)`` before jumping to ``N``. Nothing is skipped; a tweet may be
delivered twice, which the store makes harmless.

Errors (raised only when the first page fails; a later failure returns what was read)::

    429 -> RateLimited(retry_at=x-rate-limit-reset)   401/403 -> AuthError
    5xx, 400, timeouts, connection errors -> SourceUnavailable

A 400 naming since_id/until_id means the cursor is older than recent search's 7 days: it is
moved into the window (one warning) and the poll goes on. A malformed page (not JSON, not an
object, an envelope not of X's shape: ``_tweets.py``) is a bad payload, not an outage: it is
quarantined, the pages before it are kept and the cursor stays before it, so the next poll asks
again, with no backoff. A tweet that lacks id, text or created_at, or has a field of the wrong
type, is quarantined with the reason; the rest goes on.
tweepy's ``wait_on_rate_limit`` is never used: it sleeps inside the job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr

from listener.collectors._cursor import PARTLY, CursorReader, wrong
from listener.collectors._quarantine import MalformedPage
from listener.collectors._tweets import parse_page
from listener.config import Duration, HttpUrl, Section
from listener.domain import Batch, BrandQuery, Mention, Quarantined, utcnow
from listener.errors import AuthError, ListenerError, RateLimited, SourceUnavailable
from listener.logs import guard, register_secrets, scrub
from listener.plugins import PluginContext, SourcePlugin
from listener.query import parse, to_twitter

if TYPE_CHECKING:
    import requests


log = logging.getLogger(__name__)

X_HOST = "https://api.twitter.com"
TWEET_FIELDS = [
    "created_at",
    "lang",
    "public_metrics",
    "conversation_id",
    "referenced_tweets",
    "author_id",
    "note_tweet",  # the whole text of a post longer than 280 characters
]
USER_FIELDS = ["username", "name", "public_metrics", "verified"]
CURSOR_IDS = ("since_id", "until_id")
SAVED_IDS = (*CURSOR_IDS, "newest_id")
MAX_ID_DIGITS = 19
"""X ids are 64-bit integers."""


class TwitterCollector:
    """Brand mentions from X recent search; see the module docstring for cursor and errors."""

    source = "twitter"

    def __init__(
        self,
        *,
        bearer_token: str,
        api_base: str = X_HOST,
        max_pages: int = 10,
        page_size: int = 100,
        timeout: float = 20.0,
    ) -> None:
        self._token = bearer_token
        self._api_base = api_base.rstrip("/")
        self._max_pages = max_pages
        self._page_size = page_size
        self._timeout = timeout
        self._client: Any = None
        register_secrets(bearer_token)
        guard("tweepy.client", "urllib3.connectionpool")

    def _tweepy(self) -> Any:
        if self._client is None:
            import tweepy

            client = tweepy.Client(
                bearer_token=self._token, return_type=dict, wait_on_rate_limit=False
            )
            client.session = _session(self._api_base, self._timeout)
            self._client = client  # only once complete: other brands' polls run at once
        return self._client

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        """One poll: follow ``next_token`` up to ``max_pages`` pages (Collector contract).

        A cursor X no longer accepts (its tweet is older than recent search's 7 days: HTTP 400
        naming since_id or until_id) is moved into the window with one warning, and the poll
        goes on from there.
        """
        x_query = to_twitter(
            parse(query.query, brand=query.brand), query.languages, brand=query.brand
        )
        saved = state = _read_cursor(cursor, brand=query.brand)
        while True:  # each round drops an id from the cursor: at most three rounds
            try:
                batch = self._pages(query.brand, x_query, state)
            except _StaleCursor as exc:
                moved = _into_window(state, exc.parameters)
                if moved == state:
                    raise
                state = moved
                continue
            if state != saved:
                log.warning(
                    "twitter %s: the saved position (%s) is older than X recent search's 7 days;"
                    " reading the newest 7 days instead (older mentions cannot be fetched)",
                    query.brand,
                    ", ".join(f"{k}={v}" for k, v in sorted(saved.items())),
                )
                if batch.cursor is None:  # nothing found: still replace the stale cursor
                    batch = replace(batch, cursor=json.dumps(state))
            return batch

    def _pages(self, brand: str, x_query: str, state: Mapping[str, str]) -> Batch:
        mentions: list[Mention] = []
        quarantined: list[Quarantined] = []
        ids: list[int] = []
        token: str | None = None
        for page_no in range(1, self._max_pages + 1):
            try:
                page = self._fetch(x_query, state, token)
                found, bad, page_ids = parse_page(page, brand, page_no)
            except MalformedPage as exc:
                # a bad payload, not an outage: kept aside, and the cursor stays before it, so
                # the next poll asks for the same page again (no backoff)
                log.warning("twitter %s: page %d quarantined: %s", brand, page_no, exc)
                quarantined.append(exc.quarantined(brand, f"page {page_no}"))
                return Batch(
                    mentions=mentions,
                    quarantined=quarantined,
                    cursor=_after(state, ids, complete=False),
                )
            except ListenerError as exc:
                if page_no == 1:
                    raise
                log.warning(
                    "twitter %s: page %d failed, keeping %d pages: %s",
                    brand,
                    page_no,
                    page_no - 1,
                    exc,
                )
                return Batch(
                    mentions=mentions,
                    quarantined=quarantined,
                    cursor=_after(state, ids, complete=False),
                )
            mentions += found
            quarantined += bad
            ids += page_ids
            token = (
                page.get("meta", {}).get("next_token")
                if isinstance(page.get("meta"), dict)
                else None
            )
            if not token:
                return Batch(
                    mentions=mentions,
                    quarantined=quarantined,
                    cursor=_after(state, ids, complete=True),
                )
        return Batch(
            mentions=mentions, quarantined=quarantined, cursor=_after(state, ids, complete=False)
        )

    def _fetch(self, x_query: str, state: Mapping[str, str], token: str | None) -> dict[str, Any]:
        import requests
        import tweepy

        params: dict[str, Any] = {
            "max_results": self._page_size,
            "tweet_fields": TWEET_FIELDS,
            "expansions": ["author_id"],
            "user_fields": USER_FIELDS,
        }
        if state.get("since_id"):
            params["since_id"] = state["since_id"]
        if state.get("until_id"):
            params["until_id"] = state["until_id"]
        if token:
            params["next_token"] = token
        try:
            page = self._tweepy().search_recent_tweets(x_query, **params)
        except tweepy.TooManyRequests as exc:
            reset = exc.response.headers.get("x-rate-limit-reset")
            retry_at = _epoch(reset) or utcnow() + timedelta(minutes=15)
            raise RateLimited(
                f"X API rate limit reached (429), retry at {retry_at:%H:%M:%S}Z", retry_at=retry_at
            ) from exc
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise AuthError(
                self._clean(f"X API rejected the bearer token: {_describe(exc)}")
            ) from exc
        except tweepy.BadRequest as exc:
            stale = _rejected_ids(exc)
            message = self._clean(f"X API error: {_describe(exc)}")
            if stale:
                raise _StaleCursor(message, parameters=stale) from exc
            raise SourceUnavailable(message) from exc
        except tweepy.HTTPException as exc:
            raise SourceUnavailable(self._clean(f"X API error: {_describe(exc)}")) from exc
        except requests.JSONDecodeError as exc:
            raise MalformedPage(
                f"X API sent a malformed JSON page ({exc.msg} at char {exc.pos} of {len(exc.doc)})",
                source="twitter",
                payload=exc.doc,
            ) from exc
        except requests.RequestException as exc:
            raise SourceUnavailable(
                self._clean(f"X API unreachable: {type(exc).__name__}: {exc}")
            ) from exc
        if not isinstance(page, dict):
            raise MalformedPage(
                f"X API sent a page that is not a JSON object but {type(page).__name__}",
                source="twitter",
                payload=json.dumps(page, ensure_ascii=False),
            )
        return page

    def _clean(self, text: str) -> str:
        return scrub(text)


class _StaleCursor(SourceUnavailable):
    """HTTP 400 naming since_id/until_id: the saved position is outside the search window."""

    def __init__(self, message: str, *, parameters: frozenset[str]) -> None:
        super().__init__(message)
        self.parameters = parameters


class TwitterSettings(Section):
    """``[sources.twitter]`` (or ``[twitter]``): the X API v2 recent search."""

    bearer_token: SecretStr
    api_base: HttpUrl = "https://api.twitter.com"
    interval: Duration = timedelta(minutes=1)
    max_pages: int = Field(default=10, ge=1, le=100)
    timeout: Duration = timedelta(seconds=20)


def check_query(query: str, languages: Sequence[str], brand: str, _options: Any) -> None:
    """ConfigError when X cannot search ``query`` (too long, unsupported operators)."""
    to_twitter(parse(query), languages, brand=brand)


def build(settings: TwitterSettings, context: PluginContext | None = None) -> TwitterCollector:
    """The collector for a ``[sources.twitter]`` config section."""
    return TwitterCollector(
        bearer_token=settings.bearer_token.get_secret_value(),
        api_base=settings.api_base,
        max_pages=settings.max_pages,
        timeout=settings.timeout.total_seconds(),
    )


PLUGIN = SourcePlugin(
    kind="twitter",
    settings=TwitterSettings,
    build=build,
    check_query=check_query,
    summary="X (Twitter) API v2 recent search, through tweepy",
)


def _session(api_base: str, timeout: float) -> requests.Session:
    """A requests session sending tweepy's api.twitter.com calls to ``api_base``, with a timeout."""
    import requests

    class _Session(requests.Session):
        def request(
            self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
        ) -> requests.Response:
            url = url.decode() if isinstance(url, bytes) else url
            if url.startswith(X_HOST):
                url = api_base + url[len(X_HOST) :]
            kwargs.setdefault("timeout", timeout)
            return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]

    return _Session()


def _describe(exc: Any) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", "?")
    messages = "; ".join(str(m) for m in getattr(exc, "api_messages", []) if m)
    return f"{status} {getattr(response, 'reason', '')}".strip() + (
        f": {messages}" if messages else ""
    )


def _epoch(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def _rejected_ids(exc: Any) -> frozenset[str]:
    """The cursor parameters (since_id, until_id) a 400 answer names as invalid."""
    names: set[str] = set()
    for error in getattr(exc, "api_errors", []):
        if not isinstance(error, dict):
            continue
        parameters = error.get("parameters")
        names.update(parameters if isinstance(parameters, dict) else ())
        message = str(error.get("message") or "")
        names.update(n for n in CURSOR_IDS if f"'{n}' must be" in message)
    return frozenset(names & set(CURSOR_IDS))


def _into_window(state: Mapping[str, str], stale: frozenset[str]) -> dict[str, str]:
    """The cursor without the ids X rejected as older than its search window."""
    if "until_id" in stale:  # the unread gap below until_id is out of reach: go on after the
        newest = state.get("newest_id")  # newest tweet read
        return {"since_id": newest} if newest else {}
    return {k: v for k, v in state.items() if k not in stale}


def _read_cursor(cursor: str | None, *, brand: str) -> dict[str, str]:
    """The saved ids; what cannot be read is dropped with one WARNING naming the problem."""
    reader = CursorReader(source="twitter", brand=brand)
    if cursor and cursor.isascii() and cursor.isdigit():  # a plain since_id, as first stored
        state: dict[str, Any] = {"since_id": cursor}
    else:
        state = reader.load(cursor, reset="reading the newest posts, as on a first poll")
    kept: dict[str, str] = {}
    problems: list[str] = []
    for key in SAVED_IDS:
        value = state.get(key)
        if value is None or value == "":
            continue
        tweet_id = _tweet_id(value)
        if tweet_id is None:
            problems.append(wrong(key, f"a tweet id (up to {MAX_ID_DIGITS} digits)", value))
        else:
            kept[key] = tweet_id
    reader.ignore(problems, reset=PARTLY)
    return kept


def _tweet_id(value: Any) -> str | None:
    """``value`` (decimal digits, as text or a positive JSON number) as an id, or None."""
    text = str(value) if type(value) is int else value  # bool is no id
    if isinstance(text, str) and text.isascii() and text.isdigit():
        return text if len(text) <= MAX_ID_DIGITS else None
    return None


def _after(state: Mapping[str, str], ids: list[int], *, complete: bool) -> str | None:
    """The cursor after reading ``ids`` (all pages read when ``complete``)."""
    newest = max([int(state.get("newest_id") or 0), *ids])
    if complete:
        since = max(newest, int(state.get("since_id") or 0))
        return json.dumps({"since_id": str(since)}) if since else None
    if not ids:
        return json.dumps(dict(state)) if state else None
    gap: dict[str, str] = {"until_id": str(min(ids)), "newest_id": str(newest)}
    if state.get("since_id"):
        gap["since_id"] = state["since_id"]
    return json.dumps(gap, sort_keys=True)
