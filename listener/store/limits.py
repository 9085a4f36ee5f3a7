"""What the store can hold, as plain checks: collectors call them at their parse boundary (so a
bad line is quarantined with its ``file:line``) and the store calls them again for every batch.

No SQLAlchemy here; a test checks these lengths against the columns in ``schema.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from listener.domain import Mention

MAX_LENGTHS: Mapping[str, int] = {
    "source": 32,
    "external_id": 128,
    "brand": 200,
    "author": 200,
    "lang": 16,
    "in_reply_to": 128,
    "repost_of": 128,
}
"""Mention attribute -> the most characters its column holds (VARCHAR on PostgreSQL)."""

MIN_INT, MAX_INT = -(2**63), 2**63 - 1
"""BIGINT on PostgreSQL, INTEGER on SQLite."""

MIN_TIME = datetime(1, 1, 2, tzinfo=UTC)
MAX_TIME = datetime(9999, 12, 30, tzinfo=UTC)
"""A day inside Python's datetime range, so a value read back in any session time zone fits."""

MAX_DEPTH = 100
"""Nesting of the raw payload: far above any API's, far below the JSON encoders' recursion."""

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_TEXT_FIELDS = (
    "source",
    "external_id",
    "brand",
    "text",
    "author",
    "url",
    "lang",
    "in_reply_to",
    "repost_of",
)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (NUL, lone surrogates), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode text: {exc.reason} at position {exc.start}"
    return None


def unstorable(mention: Mention, *, names: Mapping[str, str] | None = None) -> str | None:
    """Why ``mention`` cannot be stored as is, or None. ``names`` renames attributes in the
    message to the input's field names (replay: ``external_id`` -> ``id``, ``raw`` -> the line)."""
    names = names or {}

    def field(attr: str) -> str:
        return f"field {names.get(attr, attr)!r}"

    for attr in _TEXT_FIELDS:
        value: str | None = getattr(mention, attr)
        if value is None:
            continue
        problem = text_problem(value)
        if problem is not None:
            return f"{field(attr)} {problem}"
        limit = MAX_LENGTHS.get(attr)
        if limit is not None and len(value) > limit:
            return f"{field(attr)} is {len(value)} characters, more than the {limit} allowed"
    for attr in ("author_reach", "engagement"):
        number: int = getattr(mention, attr)
        if not MIN_INT <= number <= MAX_INT:
            return f"{field(attr)} is out of range: {_short(number)} (at most {MAX_INT})"
    created = mention.created_at
    if created.tzinfo is None:
        return f"{field('created_at')} has no time zone"
    if not MIN_TIME <= created <= MAX_TIME:
        return (
            f"{field('created_at')} is out of range: {created.isoformat()} "
            f"(must be between {MIN_TIME.date()} and {MAX_TIME.date()} UTC)"
        )
    problem = json_problem(mention.raw)
    return None if problem is None else f"{names.get('raw', 'raw payload')} {problem}"


def json_problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored as JSON on both databases, or None: too deep, NaN or
    infinity (PostgreSQL's JSONB refuses them), NUL characters, huge integers, non-JSON types."""
    try:  # the common case, at C speed: it encodes, and has no NUL, surrogate or deep nesting
        encoded = _ENCODER.encode(value)
        if "\\u0000" not in encoded and encoded.count("[") + encoded.count("{") <= MAX_DEPTH:
            encoded.encode("utf-8")
            return None
    except (ValueError, TypeError, RecursionError):
        pass
    return _json_walk(value)


def _json_walk(value: Any) -> str | None:
    """The exact reason, walking ``value`` without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"is nested more than {MAX_DEPTH} levels deep"
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str | int | float | bool | None):
                    return f"has a key that is not JSON: {type(key).__name__}"
                problem = text_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    return f"has a key {str(key)[:40]!r} that {problem}"
                stack.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return f"has a value {item[:40]!r} that {problem}"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            try:
                str(item)
            except ValueError:  # what json.dumps and json.loads refuse
                return f"has an integer of {item.bit_length()} bits, more than 4,300 digits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"has a number that is not finite: {item!r}"
        else:
            return f"has a value that is not JSON: {type(item).__name__}"
    return None


def _short(number: int) -> str:
    return str(number) if number.bit_length() < 200 else f"a {number.bit_length()}-bit number"
