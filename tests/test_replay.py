"""The replay collector: JSONL in, mentions and quarantine out, resumable by cursor."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from listener.collectors.replay import ReplayCollector
from listener.domain import Batch, BrandQuery
from listener.pipeline import CollectResult, collect_once
from listener.store.outbox import SqlOutbox
from listener.store.schema import quarantine
from listener.store.sql import SqlStore
from tests.factories import T0

QUERY = BrandQuery(brand="Aurora Air", query="aurora")


def _line(n: int, **extra: object) -> str:
    item = {
        "id": str(n),
        "text": f"aurora air post {n}",
        "created_at": "2026-11-20T10:00:00Z",
        "author": "kasia",
        "brand": "Aurora Air",
        **extra,
    }
    return json.dumps(item, ensure_ascii=False)


def _contains(query: BrandQuery, text: str, _lang: str | None) -> bool:
    return query.query in text.casefold()


def test_malformed_lines_are_quarantined_with_line_numbers(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        _line(1),
        "{not json",
        json.dumps({"text": "no id", "created_at": "2026-11-20T10:00:00Z"}),
        _line(4, created_at="yesterday"),
        "[1, 2]",
        "",
        _line(7, text="שלום aurora air ✈️"),
    ]
    path.write_bytes(
        ("\n".join(lines) + "\n").encode() + b"\xff\xfe broken utf8\n" + _line(9).encode() + b"\n"
    )
    batch = ReplayCollector(patterns=[str(path)]).collect(QUERY, None)
    assert [m.external_id for m in batch.mentions] == ["1", "7", "9"]
    reasons = {q.location.rsplit(":", 1)[1]: q.reason for q in batch.quarantined}
    assert reasons == {
        "2": "not valid JSON: Expecting property name enclosed in double quotes at column 2",
        "3": "missing required field 'id'",
        "4": "field 'created_at' is not an ISO 8601 time: 'yesterday'",
        "5": "expected a JSON object, got list",
        "8": "not valid UTF-8 at byte 0",
    }
    store = SqlStore(engine)
    assert store.add_batch("replay", QUERY, batch) == 3
    with engine.connect() as conn:
        assert len(conn.execute(select(quarantine)).all()) == 5


def test_cursor_resumes_after_appended_lines_and_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(_line(1) + "\n" + _line(2) + "\n", encoding="utf-8")
    collector = ReplayCollector(patterns=[str(tmp_path / "*.jsonl")], max_lines=1)
    first = collector.collect(QUERY, None)
    second = collector.collect(QUERY, first.cursor)
    assert [m.external_id for m in first.mentions + second.mentions] == ["1", "2"]
    with path.open("a", encoding="utf-8") as handle:
        handle.write(_line(3) + "\n" + _line(4)[:20])  # the writer is mid-line
    third = collector.collect(QUERY, second.cursor)
    assert [m.external_id for m in third.mentions] == ["3"]
    assert collector.collect(QUERY, third.cursor).mentions == []


def test_lines_without_brand_are_matched_by_query(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    rows = [
        {"id": "1", "text": "Aurora borealis tonight", "created_at": "2026-11-20T10:00:00"},
        {"id": "2", "text": "nothing here", "created_at": "2026-11-20T10:00:00"},
        {"id": "3", "text": "x", "brand": "Other Brand", "created_at": "2026-11-20T10:00:00"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    batch = ReplayCollector(patterns=[str(path)], matcher=_contains).collect(QUERY, None)
    assert [(m.external_id, m.brand, m.source) for m in batch.mentions] == [
        ("1", "Aurora Air", "replay")
    ]
    assert batch.mentions[0].created_at.tzinfo is not None


def _raw(**fields: str) -> str:
    """A replay line written by hand (values are JSON text), for what json.dumps will not write."""
    values = {
        "id": '"h"',
        "text": '"aurora air"',
        "created_at": '"2026-11-20T10:00:00Z"',
        "brand": '"Aurora Air"',
        **fields,
    }
    return "{" + ", ".join(f'"{key}": {value}' for key, value in values.items()) + "}"


def _nested(depth: int) -> str:
    return _raw(deep="[" * depth + "]" * depth)


# (name, line, what the quarantine reason says): each passes JSON parsing but the store
# cannot hold it as is; among 100 good lines it must cost only itself.
HOSTILE = [
    (
        "year 9999 with an offset",
        _line(0, id="h", created_at="9999-12-31T23:00:00-05:00"),
        "field 'created_at' is out of range: '9999-12-31T23:00:00-05:00'",
    ),
    (
        "year 9999 at the very end",
        _line(0, id="h", created_at="9999-12-31T23:30:00Z"),
        "field 'created_at' is out of range: 9999-12-31T23:30:00+00:00",
    ),
    (
        "year 1 with an offset",
        _line(0, id="h", created_at="0001-01-01T00:30:00+05:00"),
        "field 'created_at' is out of range",
    ),
    ("an integer over 4,300 digits", _raw(n="9" * 4400), "a number has more than 4,300 digits"),
    ("JSON nested 990 deep", _nested(990), "the line is nested more than 100 levels deep"),
    ("JSON nested 101 deep", _nested(101), "the line is nested more than 100 levels deep"),
    ("JSON nested 100,000 deep", _nested(100_000), "the line is nested more than 100 levels"),
    (
        "reach of 10^19",
        _line(0, id="h", author_reach=10**19),
        "field 'author_reach' is out of range: 10000000000000000000",
    ),
    (
        "engagement of 2^63",
        _line(0, id="h", engagement=2**63),
        "field 'engagement' is out of range",
    ),
    (
        "lang of 17 characters",
        _line(0, id="h", lang="x" * 17),
        "field 'lang' is 17 characters, more than the 16 allowed",
    ),
    (
        "source of 33 characters",
        _line(0, id="h", source="s" * 33),
        "field 'source' is 33 characters, more than the 32 allowed",
    ),
    (
        "author of 201 characters",
        _line(0, id="h", author="a" * 201),
        "field 'author' is 201 characters, more than the 200 allowed",
    ),
    (
        "id of 129 characters",
        _line(0, id="i" * 129),
        "field 'id' is 129 characters, more than the 128 allowed",
    ),
    (
        "in_reply_to of 129 characters",
        _line(0, id="h", in_reply_to="r" * 129),
        "field 'in_reply_to' is 129 characters",
    ),
    ("NaN", _raw(score="NaN"), "not valid JSON: NaN is not a number"),
    ("-Infinity", _raw(score="-Infinity"), "not valid JSON: -Infinity is not a number"),
    ("1e999", _raw(score="1e999"), "the number 1e999 is out of range"),
    ("NUL in text", _line(0, id="h", text="aurora air \x00"), "field 'text' contains a NUL"),
    ("NUL in lang", _line(0, id="h", lang="en\x00"), "field 'lang' contains a NUL character"),
    ("NUL in source", _line(0, id="h", source="x\x00"), "field 'source' contains a NUL"),
    ("NUL in in_reply_to", _line(0, id="h", in_reply_to="1\x00"), "field 'in_reply_to' contains"),
    ("NUL in a key", _raw(**{"k\\u0000": "1"}), "the line has a key 'k\\x00' that contains a NUL"),
    ("NUL deep in a value", _raw(x='{"y": ["\\u0000"]}'), "the line has a value '\\x00' that"),
    ("a raw NUL byte", '{"id": "h", "text": "aurora air \x00"}', "not valid JSON: Invalid control"),
    ("a lone surrogate", _raw(text='"aurora air \\ud800"'), "field 'text' is not valid Unicode"),
]


@pytest.mark.parametrize(("line", "reason"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_line_the_store_cannot_hold_is_quarantined_and_the_rest_stored(
    tmp_path: Path, engine: Engine, line: str, reason: str
) -> None:
    path = tmp_path / "in.jsonl"
    good = [_line(n) for n in range(1, 101)]
    path.write_text("\n".join([*good[:50], line, *good[50:]]) + "\n", encoding="utf-8")
    collector = ReplayCollector(patterns=[str(path)])
    store, outbox = SqlStore(engine), SqlOutbox(engine)

    def run() -> CollectResult:
        return collect_once(collector=collector, store=store, outbox=outbox, query=QUERY, now=T0)

    result = run()
    assert (result.fetched, result.added, result.quarantined, result.error) == (100, 100, 1, None)
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine)).all()
    assert [(r.location, r.source) for r in rows] == [(f"{path.resolve()}:51", "replay")]
    assert rows[0].reason.startswith(reason), rows[0].reason
    assert len(list(store.iter_mentions(brand="Aurora Air"))) == 100
    assert len(store.unscored("m@1", 1000)) == 100  # and every stored row reads back
    again = run()  # the cursor moved on: nothing is read twice, nothing fails
    assert (again.fetched, again.added, again.quarantined) == (0, 0, 0)


# (name, the stored cursor given the file's path, what the WARNING says is wrong)
CORRUPT_CURSORS = [
    ("not JSON", lambda _: '{"/data/in.jsonl": 2', "not valid JSON: Expecting ',' delimiter"),
    ("not an object", lambda _: "[2]", "expected a JSON object of file: line count, got list"),
    ("a count that is text", lambda p: json.dumps({p: "2"}), "no line count"),
    ("a negative count", lambda p: json.dumps({p: -1}), "no line count"),
]


@pytest.mark.parametrize(
    ("cursor", "problem"), [c[1:] for c in CORRUPT_CURSORS], ids=[c[0] for c in CORRUPT_CURSORS]
)
def test_a_corrupt_cursor_is_logged_and_the_files_read_again_without_duplicates(
    tmp_path: Path,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    cursor: Callable[[str], str],
    problem: str,
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(_line(1) + "\n" + _line(2) + "\n", encoding="utf-8")
    collector = ReplayCollector(patterns=[str(path)])
    store, outbox = SqlStore(engine), SqlOutbox(engine)

    def run() -> CollectResult:
        return collect_once(collector=collector, store=store, outbox=outbox, query=QUERY, now=T0)

    assert run().added == 2
    store.add_batch("replay", QUERY, Batch(cursor=cursor(str(path.resolve()))))
    with path.open("a", encoding="utf-8") as handle:
        handle.write(_line(3) + "\n")
    with caplog.at_level(logging.WARNING, logger="listener.collectors.replay"):
        result = run()
    assert (result.error, result.fetched, result.added) == (None, 3, 1)  # read again, stored once
    stored = sorted(s.mention.external_id for s in store.iter_mentions(brand="Aurora Air"))
    assert stored == ["1", "2", "3"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "replay/Aurora Air: ignoring unreadable cursor" in warnings[0]
    assert problem in warnings[0], warnings[0]
    again = run()  # the cursor is whole again: nothing is read twice
    assert (again.fetched, again.added, again.error) == (0, 0, None)


def test_the_readable_entries_of_a_damaged_cursor_are_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    done, damaged = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    done.write_text(_line(1) + "\n", encoding="utf-8")
    damaged.write_text(_line(2) + "\n", encoding="utf-8")
    cursor = json.dumps({str(done.resolve()): 1, str(damaged.resolve()): True})
    with caplog.at_level(logging.WARNING, logger="listener.collectors.replay"):
        batch = ReplayCollector(patterns=[str(tmp_path / "*.jsonl")]).collect(QUERY, cursor)
    assert [m.external_id for m in batch.mentions] == ["2"]
    assert f"no line count (a non-negative integer) for {str(damaged.resolve())!r}" in caplog.text
