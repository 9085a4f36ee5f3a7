"""Parse human durations such as ``30s``, ``5m``, ``1h30m``, ``7d`` (or plain seconds)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FORMS = "expected a duration such as '30s', '5m', '1h', '7d'"
LONGEST = timedelta(days=999_999)
"""No duration is longer than this (about 2,700 years), whatever ``maximum`` says."""


def format_duration(value: timedelta) -> str:
    """``value`` in the largest unit that divides it: ``3650d``, ``90m``, ``45s``."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m", "s"):
        if seconds >= _UNIT_SECONDS[unit] and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // _UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:g}s"


def parse_duration(value: str | int | float, *, maximum: timedelta = LONGEST) -> timedelta:
    """Return ``value`` as a timedelta; raises ValueError (and nothing else) naming the
    accepted forms, or the limit when it is longer than ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(_FORMS)
    if isinstance(value, int | float):
        huge = isinstance(value, int) and abs(value) > 1e300  # float() would overflow
        seconds = math.inf if huge else float(value)
    else:
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _PART.findall(text)
            if not parts or _PART.sub("", text).strip():
                raise ValueError(_FORMS)
            seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    if math.isnan(seconds) or seconds <= 0:
        raise ValueError(f"expected a positive duration, got {_show(value)}")
    limit = min(maximum, LONGEST)
    if seconds > limit.total_seconds():
        raise ValueError(f"expected at most {format_duration(limit)}, got {_show(value)}")
    return timedelta(seconds=seconds)


def _show(value: str | int | float) -> str:
    if isinstance(value, int) and abs(value) > 10**30:
        return "a number of more than 30 digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
