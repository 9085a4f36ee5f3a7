"""Reddit collector parts with no praw model in them: thing -> Mention, the cursor, the
transport, a listing to read and what a poll gathered from it, and a gap that could not be
closed (a malformed page is ``listener.collectors._quarantine.MalformedPage``).

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
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import prawcore.requestor
import requests

from listener.collectors._cursor import PARTLY, CursorReader, entries, texts, wrong
from listener.domain import Mention, Quarantined
from listener.errors import PayloadError
from listener.query import Node, matches

FULLNAME = re.compile(r"t[13]_[0-9a-z]{1,16}")
"""A submission's or comment's fullname: its kind and its base-36 id."""
RATE_HEADERS = ("x-ratelimit-used", "x-ratelimit-remaining", "x-ratelimit-reset")
FUTURE_SKEW = 300.0
"""Seconds a ``created_utc`` may be ahead of this host's clock (clock skew); an item further
in the future is quarantined, and a cursor mark further ahead is dropped: either would hide
every real item older than it."""


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


def thing_mention(thing: Any, brand: str, *, latest: float | None = None) -> Mention:
    """A Mention from one Reddit ``t3`` (submission) or ``t1`` (comment); raises PayloadError
    naming the field that is missing or of the wrong type (a null optional one is absent), or a
    ``created_utc`` after ``latest`` (epoch seconds: now plus FUTURE_SKEW)."""
    if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
        raise PayloadError("listing child is not a {kind, data} object")
    kind, data = thing.get("kind"), thing["data"]
    if kind not in ("t3", "t1"):
        raise PayloadError(f"unexpected thing kind{_got(kind)}")
    name = data.get("name") or (f"{kind}_{data['id']}" if isinstance(data.get("id"), str) else None)
    if not isinstance(name, str) or not FULLNAME.fullmatch(name) or name[:3] != f"{kind}_":
        raise PayloadError(f"{kind} has no fullname/id{_got(name)}")
    created_at = _timestamp(data.get("created_utc"))
    if created_at is None:
        raise PayloadError(f"{name} has no valid created_utc{_got(data.get('created_utc'))}")
    if latest is not None and data["created_utc"] > latest:
        raise PayloadError(
            f"{name} has a created_utc in the future{_got(data['created_utc'])[:-1]},"
            f" {_utc(data['created_utc'])}; more than {FUTURE_SKEW:.0f} s ahead of this host's"
            f" clock)"
        )
    permalink = data.get("permalink")
    if not isinstance(permalink, str):
        raise PayloadError(f"{name} has no permalink")
    if kind == "t3":
        title, body = data.get("title"), data.get("selftext") or ""
        if not isinstance(title, str) or not isinstance(body, str):
            raise PayloadError(f"{name} has no title")
        text = f"{title}\n\n{body}" if body else title
        engagement = _whole(data, "score", name) + _whole(data, "num_comments", name)
        in_reply_to = None
    else:
        text = data.get("body")
        if not isinstance(text, str):
            raise PayloadError(f"{name} has no body")
        engagement = _whole(data, "score", name)
        in_reply_to = _text(data, "parent_id", name) or None
    return Mention(
        source="reddit",
        external_id=name,
        brand=brand,
        text=text,
        author=_text(data, "author", name) or "[deleted]",
        created_at=created_at,
        url="https://www.reddit.com" + permalink,
        lang=None,
        author_reach=_whole(data, "author_karma", name)
        or _whole(data, "author_link_karma", name)
        or _whole(data, "subreddit_subscribers", name),
        engagement=engagement,
        in_reply_to=in_reply_to,
        repost_of=_text(data, "crosspost_parent", name) or None,
        raw=thing,
    )


def searchable_text(thing: Mapping[str, Any]) -> str:
    """The text a brand query is evaluated on (title and body, or comment body)."""
    data = thing.get("data")
    if not isinstance(data, dict):
        return ""
    parts = [data.get("title"), data.get("selftext"), data.get("body")]
    return "\n".join(p for p in parts if isinstance(p, str))


def _whole(data: Mapping[str, Any], key: str, name: str) -> int:
    """``data[key]`` as a whole number (0 when absent or null); raises PayloadError naming it
    when it is anything else (a string, a bool, a fraction, NaN or infinity)."""
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError(f"{name} has {_article(key)} that is not a whole number{_got(value)}")
    return value


def _text(data: Mapping[str, Any], key: str, name: str) -> str:
    """``data[key]`` ("" when absent or null); raises PayloadError naming it when not a str."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{name} has {_article(key)} that is not a string{_got(value)}")
    return value


def _article(key: str) -> str:
    return f"an {key}" if key[0] in "aeiou" else f"a {key}"


def _got(value: Any, limit: int = 60) -> str:
    """`` (got <repr>)``, cut to ``limit`` characters (one line: repr escapes line breaks)."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for str()
        text = f"a {type(value).__name__} too long to show"
    return f" (got {text if len(text) <= limit else text[: limit - 3] + '...'})"


@dataclass
class RedditCursor:
    """Per listing the newest ``created_utc`` read, and recently seen fullnames (praw#2090)."""

    high_water: dict[str, float] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, text: str | None, *, brand: str, latest: float | None = None) -> RedditCursor:
        """The stored cursor; what cannot be read is dropped with one WARNING naming the problem
        (a listing without a mark is read as on a first poll). A mark after ``latest`` (left by
        a far-future item before such items were quarantined) is dropped the same way."""
        reader = CursorReader(source="reddit", brand=brand)
        state = reader.load(text, reset="reading every listing as on a first poll")
        problems: list[str] = []
        marks = state.get("high_water", {})
        if not isinstance(marks, dict):
            problems.append(wrong("high_water", "an object", marks))
            marks = {}
        high_water = {
            str(k): float(v)
            for k, v in marks.items()
            if _timestamp(v) is not None  # a mark no item could have: read afresh
        }
        if len(high_water) < len(marks):
            problems.append(entries("high_water", len(marks) - len(high_water), "a timestamp"))
        ahead = [k for k, v in high_water.items() if latest is not None and v > latest]
        if ahead:
            problems.append(
                f"{len(ahead)} {'entry' if len(ahead) == 1 else 'entries'} of 'high_water'"
                f" more than {FUTURE_SKEW:.0f} s in the future"
            )
            high_water = {k: v for k, v in high_water.items() if k not in ahead}
        names = texts(state, "seen", "a fullname", problems)
        reader.ignore(problems, reset=PARTLY)
        return cls(high_water=high_water, seen=names)

    def dump(self, seen_max: int) -> str:
        return json.dumps(
            {"high_water": self.high_water, "seen": self.seen[-seen_max:]}, sort_keys=True
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
    latest: float | None = None
    """The latest ``created_utc`` taken (now plus FUTURE_SKEW); None: no bound."""
    mentions: list[Mention] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def take(self, thing: Any, location: str) -> None:
        try:
            self.mentions.append(thing_mention(thing, self.brand, latest=self.latest))
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


def created_utc(data: Any, latest: float | None = None) -> float | None:
    """A thing's ``created_utc``, or None when it has none that ``thing_mention`` takes (so a
    quarantined item's bogus or far-future time never moves a listing's high-water mark)."""
    if not isinstance(data, dict) or _timestamp(data.get("created_utc")) is None:
        return None
    created = float(data["created_utc"])
    return None if latest is not None and created > latest else created


def _timestamp(value: Any) -> datetime | None:
    """``value`` (epoch seconds: a JSON number) as a UTC time, or None when it is not a number
    or not within the years 1-9999."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):  # NaN; infinity; past what the C library takes
        return None


def dump_json(thing: Any) -> str:
    return json.dumps(thing, ensure_ascii=False, default=str)
