"""A collector's stored cursor read back as a JSON object, with one WARNING for what is unreadable.

``CursorReader.load`` parses the text a collector stored (``Batch.cursor``). What cannot be read
(not JSON, a number past 4,300 digits, nesting too deep, not a JSON object) is logged once and
read as ``{}``: the collector starts afresh, as on a first poll. The collector then checks its
own fields and hands every problem it found to ``ignore``, which logs them in one line. Each line
names the source, the brand and the problem, never the cursor text (it may be anything, of any
length), and goes to the collector's own logger (``listener.collectors.<source>``)::

    twitter/Aurora Air: ignoring unreadable cursor (expected a JSON object, got list); reading ...
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PARTLY = "going on without them"
"""What a collector does with the fields it drops, when it keeps the rest of its cursor."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CursorReader:
    """Reads the cursor of one source for one brand."""

    source: str
    """The collector's kind (``twitter``): the first word of the line and its logger's name."""
    brand: str

    def load(
        self, cursor: str | None, *, reset: str, expected: str = "a JSON object"
    ) -> dict[str, Any]:
        """The stored object; ``{}`` when there is none, or, after one WARNING, when it cannot be
        read. ``reset`` says what the collector does then; ``expected`` describes the object."""
        if not cursor:
            return {}
        try:
            state = json.loads(cursor)
        except json.JSONDecodeError as exc:
            self.ignore([f"not valid JSON: {exc.msg} at column {exc.colno}"], reset=reset)
            return {}
        except (ValueError, RecursionError):  # a number past 4,300 digits, absurdly deep nesting
            self.ignore(["not valid JSON: a number too long or nesting too deep"], reset=reset)
            return {}
        if not isinstance(state, dict):
            self.ignore([f"expected {expected}, got {type(state).__name__}"], reset=reset)
            return {}
        return state

    def ignore(self, problems: Sequence[str], *, reset: str) -> None:
        """One WARNING naming ``problems`` (none: no line) and what the collector does instead."""
        if not problems:
            return
        logging.getLogger(f"listener.collectors.{self.source}").warning(
            "%s/%s: ignoring unreadable cursor (%s); %s",
            self.source,
            self.brand,
            "; ".join(problems),
            reset,
        )


def wrong(field: str, expected: str, value: Any) -> str:
    """The problem of a field that is not what the collector stores there."""
    return f"{field!r} must be {expected}, got {type(value).__name__}"


def entries(field: str, bad: int, expected: str) -> str:
    """The problem of ``bad`` entries of a field that are not what the collector stores there."""
    return f"{bad} {'entry' if bad == 1 else 'entries'} of {field!r} not {expected}"


def texts(state: Mapping[str, Any], field: str, expected: str, problems: list[str]) -> list[str]:
    """``state[field]`` as a list of text (absent: empty); a value that is no list, and entries
    that are not text, are dropped and noted in ``problems`` (``expected`` names one entry)."""
    value = state.get(field, [])
    if not isinstance(value, list):
        problems.append(wrong(field, "a list", value))
        return []
    kept = [s for s in value if isinstance(s, str)]
    if len(kept) < len(value):
        problems.append(entries(field, len(value) - len(kept), expected))
    return kept
