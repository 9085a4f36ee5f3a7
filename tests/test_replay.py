"""The replay collector: JSONL in, mentions and quarantine out, resumable by cursor."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select

from listener.collectors.replay import ReplayCollector
from listener.domain import BrandQuery
from listener.store.schema import quarantine
from listener.store.sql import SqlStore

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
