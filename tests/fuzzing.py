"""What the fuzz tests (tests/test_fuzz_*.py) share: Hypothesis profiles, a tally, TOML text.

Profiles: ``ci`` (the default, 300 inputs per parser) and ``long`` (10,000 inputs per parser):
``HYPOTHESIS_PROFILE=long scripts/fuzz`` (or ``HYPOTHESIS_PROFILE=long pytest tests/test_fuzz_*.py
-s``). Each fuzz test prints one line with its figures, e.g. ``fuzz query compiler: 10000 inputs,
6211 accepted, 3789 rejected (ConfigError), 0 crashes``.

A crash is anything but one of our own ListenerError subclasses whose message names the field,
key or line: a test fails on the first one (Hypothesis then shrinks it to a minimal input).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,  # no .hypothesis/ folder in the working tree
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=300, **_COMMON)
settings.register_profile("long", max_examples=10_000, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


_OWN = ("inputs", "crashes")


class Tally:
    """Counts the outcomes of one fuzz test and prints them as one line."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: Counter[str] = Counter()

    def add(self, outcome: str) -> None:
        self.counts["inputs"] += 1
        self.counts[outcome] += 1

    def line(self) -> str:
        parts = [f"{self.counts['inputs']} inputs"]
        parts += [f"{n} {k}" for k, n in sorted(self.counts.items()) if k not in _OWN]
        parts.append(f"{self.counts['crashes']} crashes")
        return f"fuzz {self.name} [{PROFILE}]: " + ", ".join(parts)

    def report(self) -> None:
        print(self.line())  # read by scripts/fuzz (pytest -s)


class Crash(Exception):
    """Raised by a check: our own error, but not a good one (e.g. it names no field)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def fuzz(name: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], str]) -> None:
    """Run ``check`` on the profile's number of examples; it returns the outcome's name
    ("accepted", "rejected (PayloadError)") or raises. Anything it raises is a crash: all of
    them are counted (not only the first), printed in one line, and the shortest input of each
    kind of crash is shown when the test fails."""
    tally = Tally(name)
    crashes: dict[str, tuple[str, str]] = {}

    @given(strategy)
    def run(example: Any) -> None:
        try:
            outcome = check(example)
        except Exception as exc:
            kind = exc.kind if isinstance(exc, Crash) else type(exc).__name__
            text = repr(example)
            if kind not in crashes or len(text) < len(crashes[kind][1]):
                crashes[kind] = (f"{type(exc).__name__}: {str(exc)[:300]}", text)
            outcome = "crashes"
        tally.add(outcome)

    run()
    tally.report()
    detail = "\n".join(f"{what}\n  input: {text[:600]}" for what, text in crashes.values())
    assert not crashes, f"{tally.line()}\n{detail}"


def one_line_naming(message: str, *names: str) -> None:
    """Raise Crash unless ``message`` is one line that names one of ``names``."""
    if "\n" in message:
        raise Crash("message is not one line", repr(message[:300]))
    if names and not any(n in message for n in names):
        raise Crash("message names none of " + ", ".join(names), repr(message[:300]))


def _toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _toml_string(key)


class Nested:
    """``depth`` nested arrays (or inline tables) around ``leaf``, kept short in reprs."""

    def __init__(self, depth: int, leaf: Any, *, tables: bool = False) -> None:
        self.depth, self.leaf, self.tables = depth, leaf, tables

    def __repr__(self) -> str:
        return f"Nested({self.depth}, {self.leaf!r}, tables={self.tables})"

    def toml(self) -> str:
        open_, close = ("{a = ", "}") if self.tables else ("[", "]")
        return open_ * self.depth + toml_value(self.leaf) + close * self.depth


def toml_value(value: Any) -> str:
    """``value`` as an inline TOML value (tables inline too)."""
    if isinstance(value, Nested):
        return value.toml()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value).__name__)


def toml_document(doc: dict[str, Any]) -> str:
    """A TOML document: scalars first, then ``[section]`` tables and ``[[array]]`` tables."""
    lines = [f"{_toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not _table(v)]
    for key, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{_toml_key(key)}]")
            lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()]
        elif _table(value):
            for item in value:
                lines.append(f"[[{_toml_key(key)}]]")
                lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _table(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )
