"""Reddit collector parts with no praw model in them: thing -> Mention, the cursor, the
transport, a listing to read and what a poll gathered from it, a malformed page (quarantined,
not an outage) and a gap that could not be closed.

The transport is a prawcore ``Requestor`` (praw's documented ``requestor_class`` seam) that:

- sends every request with our timeout and raises ``HttpFailure`` for any status >= 400 and for
  connection errors, so prawcore never retries with its own sleeps (2-4 s) inside a job: the
  pipeline's persisted backoff owns retries;
- takes the ``x-ratelimit-*`` headers for itself, so prawcore's limiter never sleeps until the
  window resets; when the budget is spent the next request raises ``HttpFailure(429)`` and the
  pipeline skips the source until the reset.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import prawcore.requestor
import requests

from listener.domain import Mention, Quarantined
from listener.errors import PayloadError, SourceUnavailable
from listener.query import Node, matches

RATE_HEADERS = ("x-ratelimit-used", "x-ratelimit-remaining", "x-ratelimit-reset")
PAYLOAD_KEPT = 65536
"""Characters of a malformed page kept in the quarantine."""


class HttpFailure(Exception):
    """A failed HTTP exchange: ``status`` 0 for connection errors and timeouts."""

    def __init__(self, status: int, detail: str, *, reset_seconds: float | None = None) -> None:
        super().__init__(f"{status or 'no response'}: {detail}")
        self.status = status
        self.detail = detail
        self.reset_seconds = reset_seconds


@dataclass
class RateBook:
    """What the last response said about the rate-limit budget (monotonic clock)."""

    remaining: float | None = None
    reset_at: float | None = None


@dataclass
class Transport:
    """Options handed to the requestor through ``requestor_kwargs``."""

    timeout: float
    book: RateBook = field(default_factory=RateBook)


class Requestor(prawcore.requestor.Requestor):
    """See the module docstring."""

    def __init__(self, *, transport: Transport, **kwargs: Any) -> None:
        super().__init__(timeout=transport.timeout, **kwargs)
        self._transport = transport

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        book = self._transport.book
        now = time.monotonic()
        if (
            book.remaining is not None
            and book.remaining <= 0
            and book.reset_at
            and now < book.reset_at
        ):
            raise HttpFailure(429, "rate-limit budget spent", reset_seconds=book.reset_at - now)
        try:
            kwargs["timeout"] = self._transport.timeout
            response = self._http.request(*args, **kwargs)
        except requests.RequestException as exc:
            raise HttpFailure(0, f"{type(exc).__name__}: {exc}") from None
        reset = self._take_rate_headers(response)
        if response.status_code >= 400:
            raise HttpFailure(response.status_code, response.reason or "", reset_seconds=reset)
        return response

    def _take_rate_headers(self, response: requests.Response) -> float | None:
        """Record and remove the rate-limit headers; returns the seconds to the reset."""
        headers = response.headers
        if "x-ratelimit-remaining" not in headers:
            return None
        remaining = _float(headers.get("x-ratelimit-remaining"))
        reset = _float(headers.get("x-ratelimit-reset"))
        book = self._transport.book
        book.remaining = remaining
        book.reset_at = time.monotonic() + reset if reset is not None else None
        for name in RATE_HEADERS:
            headers.pop(name, None)
        return reset


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def thing_mention(thing: Any, brand: str) -> Mention:
    """A Mention from one Reddit ``t3`` (submission) or ``t1`` (comment); raises PayloadError."""
    if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
        raise PayloadError("listing child is not a {kind, data} object")
    kind, data = thing.get("kind"), thing["data"]
    if kind not in ("t3", "t1"):
        raise PayloadError(f"unexpected thing kind {kind!r}")
    name = data.get("name") or (f"{kind}_{data['id']}" if isinstance(data.get("id"), str) else None)
    if not isinstance(name, str) or not name.startswith(f"{kind}_"):
        raise PayloadError(f"{kind} has no fullname/id")
    try:
        created_at = datetime.fromtimestamp(float(data["created_utc"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise PayloadError(
            f"{name} has no valid created_utc (got {data.get('created_utc')!r})"
        ) from None
    permalink = data.get("permalink")
    if not isinstance(permalink, str):
        raise PayloadError(f"{name} has no permalink")
    if kind == "t3":
        title, body = data.get("title"), data.get("selftext") or ""
        if not isinstance(title, str) or not isinstance(body, str):
            raise PayloadError(f"{name} has no title")
        text = f"{title}\n\n{body}" if body else title
        engagement = _int(data.get("score")) + _int(data.get("num_comments"))
        in_reply_to = None
    else:
        text = data.get("body")
        if not isinstance(text, str):
            raise PayloadError(f"{name} has no body")
        engagement = _int(data.get("score"))
        in_reply_to = data.get("parent_id") if isinstance(data.get("parent_id"), str) else None
    return Mention(
        source="reddit",
        external_id=name,
        brand=brand,
        text=text,
        author=str(data.get("author") or "[deleted]"),
        created_at=created_at,
        url="https://www.reddit.com" + permalink,
        lang=None,
        author_reach=_int(data.get("author_karma") or data.get("author_link_karma")),
        engagement=engagement,
        in_reply_to=in_reply_to,
        raw=thing,
    )


def searchable_text(thing: Mapping[str, Any]) -> str:
    """The text a brand query is evaluated on (title and body, or comment body)."""
    data = thing.get("data")
    if not isinstance(data, dict):
        return ""
    parts = [data.get("title"), data.get("selftext"), data.get("body")]
    return "\n".join(p for p in parts if isinstance(p, str))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass
class RedditCursor:
    """Per listing the newest ``created_utc`` read, and recently seen fullnames (praw#2090)."""

    high_water: dict[str, float] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, text: str | None) -> RedditCursor:
        if not text:
            return cls()
        try:
            state = json.loads(text)
            return cls(
                high_water={str(k): float(v) for k, v in state.get("high_water", {}).items()},
                seen=[str(s) for s in state.get("seen", [])],
            )
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            return cls()

    def dump(self, seen_max: int) -> str:
        return json.dumps(
            {"high_water": self.high_water, "seen": self.seen[-seen_max:]}, sort_keys=True
        )


class MalformedPage(SourceUnavailable):
    """A 200 page that is not a JSON Listing: quarantined by the collector, never raised by it."""

    def __init__(self, message: str, *, payload: str) -> None:
        super().__init__(message)
        self.payload = payload

    def quarantined(self, brand: str, location: str) -> Quarantined:
        reason = str(self)
        if len(self.payload) > PAYLOAD_KEPT:
            reason += f"; first {PAYLOAD_KEPT} of {len(self.payload)} characters kept"
        return Quarantined(
            source="reddit",
            brand=brand,
            reason=reason,
            payload=self.payload[:PAYLOAD_KEPT].replace("\x00", "\\u0000"),  # PostgreSQL text
            location=location,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Gap:
    """A listing read back to ``oldest`` (created_utc) without reaching its mark."""

    path: str
    oldest: float
    mark: float
    read: int
    bounded: bool
    """True: stopped at ``max_items``; False: the listing has no older items."""

    def describe(self, max_items: int) -> str:
        why = (
            f"stopped at the bound of {max_items} items"
            if self.bounded
            else "the listing ends there, Reddit keeps about 1000 items per listing"
        )
        return (
            f"{self.path} reaches back to {_utc(self.oldest)} ({self.read} items read, kept),"
            f" the last item collected is from {_utc(self.mark)} ({why})"
        )


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing to read: its cursor key, path, parameters and local brand filter."""

    key: str
    path: str
    params: dict[str, str]
    local_filter: Node | None

    def keep(self, thing: dict[str, Any]) -> bool:
        return self.local_filter is None or matches(self.local_filter, searchable_text(thing))


@dataclass(slots=True)
class Gathered:
    """What one poll has gathered so far, over all listings."""

    brand: str
    seen: set[str]
    mentions: list[Mention] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def take(self, thing: Any, location: str) -> None:
        try:
            self.mentions.append(thing_mention(thing, self.brand))
        except PayloadError as exc:
            self.quarantined.append(
                Quarantined(
                    source="reddit",
                    brand=self.brand,
                    reason=str(exc),
                    payload=dump_json(thing),
                    location=location,
                )
            )


def created_utc(data: Any) -> float | None:
    """A thing's ``created_utc``, or None when it has none."""
    try:
        return float(data["created_utc"]) if isinstance(data, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def dump_json(thing: Any) -> str:
    return json.dumps(thing, ensure_ascii=False, default=str)
