"""A batch with rows the store cannot hold or the database refuses: only those rows are
quarantined, with their reason; the rest is stored with the cursor (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text

from listener.domain import Batch, Quarantined
from listener.errors import StoreError
from listener.store.limits import MAX_LENGTHS
from listener.store.schema import mentions, quarantine
from listener.store.sql import SqlStore
from tests.factories import QUERY, mention


def _deep(depth: int) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _quarantined(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(quarantine.c.location, quarantine.c.reason)).all()
    return {location: reason for location, reason in rows}


def test_mentions_the_store_cannot_hold_are_quarantined_whatever_the_collector(
    engine: Engine,
) -> None:
    bad = {
        "1": mention(1, lang="x" * 17),
        "2": mention(2, source="s" * 33),
        "3": mention(3, author="a" * 201),
        "4": mention(4, in_reply_to="\x00"),
        "5": mention(5, author_reach=10**19),
        "5b": mention(5, external_id="5b", engagement=10**5000),
        "6": mention(6, created_at=datetime(9999, 12, 31, 23, tzinfo=UTC)),
        "7": mention(7, raw={"score": math.nan}),
        "8": mention(8, raw={"deep": _deep(150)}),
        "9": mention(9, raw={"big": 10**5000}),
    }
    good = [mention(n) for n in range(10, 110)]
    odd = Quarantined(
        source="replay", brand="Aurora Air", reason="bad \x00", payload="{\x00", location="\udcff:1"
    )
    batch = Batch(mentions=[*good[:50], *bad.values(), *good[50:]], quarantined=[odd], cursor="c")
    store = SqlStore(engine)
    assert store.add_batch("replay", QUERY, batch) == 100
    assert store.source_state("replay", "Aurora Air").cursor == "c"
    reasons = _quarantined(engine)
    assert reasons.pop("\\udcff:1") == "bad \\x00"
    assert reasons == {
        "id '1'": "field 'lang' is 17 characters, more than the 16 allowed",
        "id '2'": "field 'source' is 33 characters, more than the 32 allowed",
        "id '3'": "field 'author' is 201 characters, more than the 200 allowed",
        "id '4'": "field 'in_reply_to' contains a NUL character",
        "id '5'": "field 'author_reach' is out of range: 10000000000000000000 "
        "(at most 9223372036854775807)",
        "id '5b'": "field 'engagement' is out of range: a 16610-bit number "
        "(at most 9223372036854775807)",
        "id '6'": "field 'created_at' is out of range: 9999-12-31T23:00:00+00:00 "
        "(must be between 0001-01-02 and 9999-12-30 UTC)",
        "id '7'": "raw payload has a number that is not finite: nan",
        "id '8'": "raw payload is nested more than 100 levels deep",
        "id '9'": "raw payload has an integer of 16610 bits, more than 4,300 digits",
    }
    assert len(store.unscored("m@1", 1000)) == 100


@pytest.fixture
def refusing(engine: Engine) -> Iterator[Engine]:
    """The database refuses mentions whose text says 'poison' (a trigger: a rule of the
    database that the store knows nothing about)."""
    if engine.dialect.name == "sqlite":
        create = [
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON mentions "
            "WHEN NEW.text LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
        ]
        drop = ["DROP TRIGGER refuse_poison"]
    else:
        create = [
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.text LIKE '%poison%' THEN RAISE EXCEPTION 'poison refused' "
            "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON mentions "
            "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
        ]
        drop = ["DROP TRIGGER refuse_poison ON mentions", "DROP FUNCTION refuse_poison()"]
    with engine.begin() as conn:
        for statement in create:
            conn.execute(text(statement))
    yield engine
    with engine.begin() as conn:
        for statement in drop:
            conn.execute(text(statement))


def test_rows_the_database_refuses_are_quarantined_and_the_rest_stored(
    refusing: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlStore(refusing)
    store.record_failure("replay", "Aurora Air", retry_at=datetime.now(UTC), error="earlier")
    items = [mention(n, text="poison" if n in (3, 77) else f"fine {n}") for n in range(100)]
    caplog.set_level(logging.WARNING)
    assert store.add_batch("replay", QUERY, Batch(mentions=items, cursor="after-100")) == 98
    reasons = _quarantined(refusing)
    assert sorted(reasons) == ["id '3'", "id '77'"]
    assert all(r.startswith("the database refused it: ") for r in reasons.values())
    assert all("poison refused" in r for r in reasons.values())
    state = store.source_state("replay", "Aurora Air")
    assert (state.cursor, state.failures, state.last_error) == ("after-100", 0, None)
    with refusing.connect() as conn:
        stored = conn.execute(select(mentions.c.external_id)).scalars().all()
    assert sorted(stored, key=int) == [str(n) for n in range(100) if n not in (3, 77)]
    logged = [r.getMessage() for r in caplog.records]
    assert any("storing it row by row" in m for m in logged)
    assert any("quarantined id '77': the database refused it" in m for m in logged)
    # the same batch again: nothing new, the refused rows quarantined again, no failure
    assert store.add_batch("replay", QUERY, Batch(mentions=items, cursor="after-100")) == 0


def test_limits_match_the_schema() -> None:
    for name, length in MAX_LENGTHS.items():
        assert mentions.c[name].type.length == length, name  # type: ignore[attr-defined]


def test_a_broken_schema_is_an_error_not_a_batch_of_bad_rows(engine: Engine) -> None:
    store = SqlStore(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE mentions RENAME COLUMN lang TO lang_gone"))
    try:
        with pytest.raises(StoreError) as caught:
            store.add_batch("replay", QUERY, Batch(mentions=[mention(1), mention(2)], cursor="c"))
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE mentions RENAME COLUMN lang_gone TO lang"))
    assert str(caught.value).startswith("could not store replay batch for 'Aurora Air': ")
    assert "lang" in str(caught.value) and "\n" not in str(caught.value)
    assert _quarantined(engine) == {}
    assert store.source_state("replay", "Aurora Air").cursor is None
