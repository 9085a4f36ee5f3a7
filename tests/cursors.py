"""A collection over a corrupt stored cursor: the part every collector's cursor test shares."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine

from listener.domain import Batch, BrandQuery
from listener.pipeline import CollectResult, collect_once
from listener.ports import Collector
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore
from tests.factories import T0

NOT_AN_OBJECT = ("not an object", "[1]", "expected a JSON object, got list")
"""(case, cursor, the problem the WARNING names), alike for every collector."""


def not_json(cursor: str) -> tuple[str, str, str]:
    """A cursor cut short, so not valid JSON."""
    return ("not JSON", cursor, "not valid JSON: ")


def collect_over(
    cursor: str,
    *,
    engine: Engine,
    collector: Collector,
    query: BrandQuery,
    caplog: pytest.LogCaptureFixture,
) -> tuple[CollectResult, list[str]]:
    """Store ``cursor`` through the store the pipeline uses, collect once: the result and the
    WARNINGs (and worse) logged meanwhile."""
    store, outbox = SqlStore(engine), SqlOutbox(engine)
    store.add_batch(collector.source, query, Batch(cursor=cursor))
    assert store.source_state(collector.source, query.brand).cursor == cursor
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        result = collect_once(collector=collector, store=store, outbox=outbox, query=query, now=T0)
    return result, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def assert_one_warning(
    warnings: list[str], *, source: str, brand: str, problem: str, cursor: str
) -> None:
    """Exactly one line, naming the source, the brand and the problem, without the cursor."""
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{source}/{brand}: ignoring unreadable cursor ("), warnings[0]
    assert problem in warnings[0], warnings[0]
    assert cursor not in warnings[0]
