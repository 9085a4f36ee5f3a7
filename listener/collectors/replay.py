"""Replay collector: reads mentions from JSONL files (recorded payloads, historic exports).

One JSON object per line::

    {"id": "1790", "text": "Lost my bag again @AuroraAir", "created_at": "2026-11-20T10:00:00Z",
     "author": "kasia_k", "source": "twitter", "brand": "Aurora Air", "url": "https://...",
     "lang": "pl", "author_reach": 1200, "engagement": 4, "in_reply_to": null}

Required: ``id`` (string or integer), ``text``, ``created_at`` (ISO 8601; no offset means UTC).
``source`` defaults to ``replay`` (set it to ``twitter``/``reddit`` when importing exports so
they dedupe against live collection). A line with ``brand`` belongs to that brand; a line
without one belongs to every brand whose query matches its text. The cursor records how many
lines of each file were consumed, so appended lines are picked up by the next run. A cursor that
cannot be read (not JSON, not an object of file: line count) is logged once and its files are
read again from their first line: nothing is skipped, and mentions already stored are no-ops
(unique on (source, id)); a malformed line among them is quarantined again. Malformed lines are
quarantined with ``file:line`` and the reason; the rest of the file is stored. So are lines the
store cannot hold (``listener.store.limits``): a field longer than its column, a number out of
range, NaN, a NUL character, a time outside years 1-9999 in UTC, JSON nested too deep.
"""

from __future__ import annotations

import glob
import json
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from listener.collectors._cursor import CursorReader
from listener.config import Duration, NonEmpty, Section
from listener.domain import Batch, BrandQuery, Mention, Quarantined, as_utc
from listener.errors import PayloadError, SourceUnavailable
from listener.plugins import PluginContext, SourcePlugin
from listener.store.limits import MAX_DEPTH, MAX_TIME, MIN_TIME, unstorable

if TYPE_CHECKING:
    from listener.query import Node

MAX_LINE_BYTES = 1_000_000
FIELD_NAMES = {"external_id": "id", "raw": "the line"}
"""How store limits name a Mention's attributes in a replay line."""
Matcher = Callable[[BrandQuery, str, str | None], bool]


def _text_field(item: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = item.get(key)
    if value is None:
        if required:
            raise PayloadError(f"missing required field {key!r}")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(f"field {key!r} must be a string, got {type(value).__name__}")
    return str(value)


def _int_field(item: dict[str, Any], key: str) -> int:
    value = item.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"field {key!r} must be a non-negative integer, got {value!r}")
    return value


def parse_line(line: bytes, *, default_brand: str) -> Mention:
    """Parse one JSONL line into a Mention; raises PayloadError naming what is wrong."""
    if len(line) > MAX_LINE_BYTES:
        raise PayloadError(f"line is {len(line)} bytes, more than the {MAX_LINE_BYTES} allowed")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not valid UTF-8 at byte {exc.start}") from None
    item = _json(text)
    if not isinstance(item, dict):
        raise PayloadError(f"expected a JSON object, got {type(item).__name__}")
    external_id = _text_field(item, "id", required=True)
    if not external_id.strip():
        raise PayloadError("field 'id' must not be empty")
    created_raw = _text_field(item, "created_at", required=True)
    try:
        created_at = as_utc(datetime.fromisoformat(created_raw.replace("Z", "+00:00")))
    except ValueError:
        raise PayloadError(f"field 'created_at' is not an ISO 8601 time: {created_raw!r}") from None
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past the year 9999 in UTC
        raise PayloadError(
            f"field 'created_at' is out of range: {created_raw!r} (must be between "
            f"{MIN_TIME.date()} and {MAX_TIME.date()} UTC)"
        ) from None
    in_reply_to = _text_field(item, "in_reply_to") or None
    mention = Mention(
        source=_text_field(item, "source") or "replay",
        external_id=external_id,
        brand=_text_field(item, "brand") or default_brand,
        text=_text_field(item, "text", required=True),
        author=_text_field(item, "author"),
        created_at=created_at,
        url=_text_field(item, "url"),
        lang=_text_field(item, "lang") or None,
        author_reach=_int_field(item, "author_reach"),
        engagement=_int_field(item, "engagement"),
        in_reply_to=in_reply_to,
        raw=item,
    )
    problem = unstorable(mention, names=FIELD_NAMES)
    if problem is not None:
        raise PayloadError(problem)
    return mention


def _json(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:  # the limit checked below, exceeded by far
        raise PayloadError(f"the line is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise PayloadError("a number has more than 4,300 digits") from None


def _no_constant(name: str) -> float:
    raise PayloadError(f"not valid JSON: {name} is not a number")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise PayloadError(f"the number {literal[:40]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def _query_matcher(query: BrandQuery, text: str, lang: str | None) -> bool:
    from listener.query import matches

    return matches(_parsed(query.query), text, lang)


@lru_cache(maxsize=256)
def _parsed(query: str) -> Node:
    from listener.query import parse

    return parse(query)  # once per query, not once per line


class ReplayCollector:
    """Collector over JSONL files; see the module docstring for the format."""

    source = "replay"

    def __init__(
        self, *, patterns: Sequence[str], max_lines: int = 10_000, matcher: Matcher = _query_matcher
    ) -> None:
        self._patterns = tuple(patterns)
        self._max_lines = max_lines
        self._matcher = matcher

    def files(self) -> list[Path]:
        """The files the patterns name now, in a stable order."""
        found: set[Path] = set()
        for pattern in self._patterns:
            found.update(Path(p) for p in glob.glob(pattern, recursive=True))
        return sorted(p.resolve() for p in found if p.is_file())

    def collect(self, query: BrandQuery, cursor: str | None) -> Batch:
        consumed = _read_cursor(cursor, brand=query.brand)
        mentions: list[Mention] = []
        quarantined: list[Quarantined] = []
        budget = self._max_lines
        for path in self.files():
            done = consumed.get(str(path), 0)
            for number, line, complete in self._lines(path, skip=done, limit=budget):
                if not line.strip():
                    done, budget = number, budget - 1
                    continue
                try:
                    mention = parse_line(line, default_brand=query.brand)
                except PayloadError as exc:
                    if not complete:
                        break  # a last line still being written: read it next run
                    done, budget = number, budget - 1
                    quarantined.append(
                        Quarantined(
                            source=self.source,
                            brand=query.brand,
                            reason=str(exc),
                            payload=line[:MAX_LINE_BYTES].decode("utf-8", "backslashreplace"),
                            location=f"{path}:{number}",
                        )
                    )
                    continue
                done, budget = number, budget - 1
                if self._belongs(mention, query):
                    mentions.append(mention)
            consumed[str(path)] = done
            if budget <= 0:
                break
        return Batch(mentions=mentions, quarantined=quarantined, cursor=json.dumps(consumed))

    def _belongs(self, mention: Mention, query: BrandQuery) -> bool:
        if "brand" in mention.raw:
            return mention.brand.casefold() == query.brand.casefold()
        return self._matcher(query, mention.text, mention.lang)

    @staticmethod
    def _lines(path: Path, *, skip: int, limit: int) -> Iterator[tuple[int, bytes, bool]]:
        """(1-based number, raw bytes, ends with newline) of the lines after the first ``skip``."""
        try:
            with path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if number <= skip:
                        continue
                    if limit <= 0:
                        return
                    limit -= 1
                    yield number, line.rstrip(b"\r\n"), line.endswith(b"\n")
        except OSError as exc:
            raise SourceUnavailable(f"cannot read replay file {path}: {exc.strerror}") from exc


def _read_cursor(cursor: str | None, *, brand: str) -> dict[str, int]:
    """The lines consumed per file. What cannot be read is dropped with one WARNING naming the
    problem, and its files are read again from the start: re-reading stores no mention twice
    (unique on (source, id)), whereas skipping to the end could lose unread lines."""
    reader = CursorReader(source="replay", brand=brand)
    state = reader.load(
        cursor,
        reset="reading every file again from the first line",
        expected="a JSON object of file: line count",
    )
    kept = {k: v for k, v in state.items() if type(v) is int and v >= 0}  # bool is no count
    bad = [repr(k[:100]) for k in state if k not in kept]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        problem = f"no line count (a non-negative integer) for {', '.join(bad[:3])}{more}"
        reader.ignore([problem], reset="reading those files again from the first line")
    return kept


class ReplaySettings(Section):
    """``[sources.replay]`` (or ``[replay]``): JSONL files read as a source."""

    paths: list[NonEmpty] = Field(min_length=1)
    """JSONL files or glob patterns, relative to the config file's folder."""
    interval: Duration = timedelta(minutes=1)
    max_lines: int = Field(default=10_000, ge=1, le=10_000_000)

    def resolve_paths(self, resolve: Callable[[str, str], str]) -> ReplaySettings:
        """These settings with the paths made relative to the config file's folder."""
        paths = [resolve(p, f"paths[{i}]") for i, p in enumerate(self.paths)]
        return self.model_copy(update={"paths": paths})


def build(settings: ReplaySettings, context: PluginContext | None = None) -> ReplayCollector:
    """A ReplayCollector from the ``[sources.replay]`` section (paths already resolved by the
    config loader)."""
    return ReplayCollector(patterns=settings.paths, max_lines=settings.max_lines)


PLUGIN = SourcePlugin(
    kind="replay",
    settings=ReplaySettings,
    build=build,
    summary="JSONL files (exports, fixtures, the demo)",
)
